//! The HTML site in a real browser: headless Chromium driven through chromedriver
//! (WebDriver), on sites written by livecov itself.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test` installs them); set
//! `LIVECOV_CHROMEDRIVER` / `LIVECOV_CHROMIUM` to use other binaries. Without them the
//! tests are skipped, or fail when `CI` is set (`support/external.rs`). Screenshots of every
//! step are kept under `target/tmp/browser-artifacts/`. Timings (first paint of a
//! 1,000-owner index, a 10,000-file build page becoming interactive) are printed, not
//! asserted: run with `--nocapture` to see them.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use livecov_render::*;
use serde_json::{json, Value};

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/dashboard.rs"]
mod dashboard;
#[path = "support/external.rs"]
mod external;

/// A chromedriver on 127.0.0.1, stopped on drop, and the Chromium it is to drive.
struct Driver {
    child: Child,
    port: u16,
    chromium: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Stop the Chromium processes chromedriver started too (a test that failed never
        // closed its session): every descendant, found through /proc, by its own pid.
        let pids = descendants(self.child.id());
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg("--")
                .args(pids.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes below `root` (children, grandchildren…), from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may hold spaces, so read after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.retain(|&p| p != root && p > 1);
    found
}

/// `$var`, else the first of `candidates` that exists; `None` (the test skips, or fails
/// under CI) when there is none.
fn find_binary(var: &str, candidates: &[&str]) -> Option<PathBuf> {
    let found = std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| candidates.iter().map(PathBuf::from).find(|c| c.is_file()));
    let what = format!(
        "{} (looked at {candidates:?}; install Debian's chromium and chromium-driver with \
         .ci/install-chromium.sh, or set {var})",
        candidates[0]
    );
    external::require(&what, found)
}

/// Starts chromedriver, or returns `None` when it or Chromium is missing.
fn start_driver() -> Option<Driver> {
    let bin = find_binary(
        "LIVECOV_CHROMEDRIVER",
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
    )?;
    let chromium = find_binary(
        "LIVECOV_CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    )?;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Driver {
        child,
        port,
        chromium,
    })
}

async fn connect(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": driver.chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--allow-file-access-from-files"],
        }),
    );
    // chromedriver speaks plain HTTP on 127.0.0.1: no TLS connector needed.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("WebDriver session with headless Chromium")
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(artifacts().join(format!("{name}.png")), png);
    }
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Waits until `expr` (a JS expression) is truthy; panics with `what` after 15 s.
async fn until(c: &Client, expr: &str, what: &str) -> Value {
    let started = Instant::now();
    loop {
        let v = js(c, &format!("return ({expr}) || null;")).await;
        if !v.is_null() && v != json!(false) {
            return v;
        }
        if started.elapsed() > Duration::from_secs(15) {
            shot(c, &format!("timeout-{}", what.replace(' ', "-"))).await;
            panic!("timed out waiting for {what} ({expr})");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn press(c: &Client, key: char) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    c.perform_actions(keys).await.expect("key press");
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

async fn visible_rows(c: &Client, selector: &str) -> usize {
    js(
        c,
        &format!(
            "return Array.from(document.querySelectorAll('{selector}')).filter(r => r.offsetParent !== null).length;"
        ),
    )
    .await
    .as_u64()
    .unwrap() as usize
}

// ---------------------------------------------------------------------------------
// A synthetic collection, written through the real renderer: 1,000 owners, and one
// build with 10,000 files and 1,000,000 units.

struct Synthetic {
    id: String,
    files: usize,
    blocks_per_file: usize,
}

/// Source of a synthetic file: a function per block, every third one never run.
fn synthetic_text(blocks: usize) -> String {
    let mut s = String::from("package p\n\nimport \"fmt\"\n\n");
    for i in 0..blocks {
        s.push_str(&format!("func F{i}(x int) int {{\n\tif x > {i} {{ // \"c\"\n\t\treturn x\n\t}}\n\treturn 0\n}}\n\n"));
    }
    s
}

/// Blocks of a synthetic file: block i covers the body of function i (7 lines each,
/// starting on line 5); count 0 for every third.
fn synthetic_blocks(blocks: usize) -> Vec<Block> {
    (0..blocks)
        .map(|i| {
            let line = 5 + 7 * i as u32;
            // The body starts at the `{` of `func F<i>(x int) int {`.
            let brace = 19 + i.to_string().len() as u32;
            Block {
                start_line: line,
                start_col: brace,
                end_line: line + 5,
                end_col: 2,
                stmts: 3,
                count: if i % 3 == 1 { 0 } else { (i as u32 % 5) + 1 },
                scenarios: 0,
            }
        })
        .collect()
}

impl PageSource for Synthetic {
    fn build(&self) -> &str {
        &self.id
    }
    fn key(&self) -> String {
        format!("{}-{}", self.files, self.blocks_per_file)
    }
    fn page(&self) -> Result<BuildPage, String> {
        let text = synthetic_text(self.blocks_per_file);
        let blocks = synthetic_blocks(self.blocks_per_file);
        let files = (0..self.files)
            .map(|i| FileData {
                path: format!("example.com/big/pkg{:04}/file{}.go", i / 10, i % 10),
                text: Some(text.clone()),
                origin: "https://example.com/big@0123456789abcdef:pkg/file.go (module prefix)"
                    .into(),
                blocks: blocks.clone(),
                source: FileSource::Ok,
                note: String::new(),
            })
            .collect();
        Ok(BuildPage::new(
            BuildData {
                generator: "livecov test".into(),
                build: self.id.clone(),
                title: format!("bin-{}", &self.id[..4]),
                subtitle: "synthetic".into(),
                mode: "count".into(),
                ..BuildData::default()
            },
            files,
        ))
    }
}

fn synthetic_site(out: &Path) -> (IndexData, String) {
    let mut builds = BTreeMap::new();
    let mut sources = Vec::new();
    for b in 0..17usize {
        let id = format!("{b:02x}{}", "ab".repeat(15));
        let (files, per) = if b == 0 { (10_000, 100) } else { (20, 10) };
        builds.insert(
            id.clone(),
            IndexBuild {
                statements: (files * per * 3) as u64,
                covered: (files * per * 2) as u64,
                binary: format!("bin-{b}"),
                repo: format!("https://github.com/org/repo{}", b % 5),
                commit: format!("{b:02x}{}", "0".repeat(38)),
                source: SourceStatus::Ok,
                ..IndexBuild::default()
            },
        );
        sources.push(Synthetic {
            id,
            files,
            blocks_per_file: per,
        });
    }
    let ids: Vec<String> = builds.keys().cloned().collect();
    let types = [
        "Deployment",
        "DaemonSet",
        "StatefulSet",
        "Job",
        "Pod (No Owner)",
        "Host",
    ];
    let owners = (0..1000)
        .map(|i| {
            let ns = match i % 10 {
                0 => format!("e2e-test-{i}"),
                1 => format!("openshift-must-gather-{i}"),
                _ => format!("openshift-ns{}", i % 37),
            };
            let t = types[i % types.len()];
            IndexOwner {
                namespace: if t == "Host" { "host".into() } else { ns },
                owner_type: t.into(),
                owner: if t == "Host" || t == "Pod (No Owner)" {
                    String::new()
                } else {
                    format!("owner-{i:04}")
                },
                binary: format!("bin-{}", i % 17),
                containers: vec![format!("c{}", i % 3)],
                pods: vec![format!("pod-{i}-a"), format!("pod-{i}-b")],
                hosts: vec![format!("node-{}", i % 6)],
                images: vec![format!(
                    "quay.io/org/img{}@sha256:{}",
                    i % 17,
                    "e".repeat(64)
                )],
                build: ids[i % 17].clone(),
                statements: 1000,
                covered: (i as u64 * 37) % 1001,
                first_seen: format!("2026-11-{:02}T10:00:00Z", 1 + i % 20),
                last_seen: "2026-11-21T10:00:00Z".into(),
            }
        })
        .collect();
    let index = IndexData {
        generator: "livecov test".into(),
        title: "Coverage by owner".into(),
        collection: "synthetic".into(),
        hide_namespace_prefixes: vec!["e2e-".into(), "openshift-must-gather-".into()],
        levels: default_levels(),
        builds,
        owners,
        diagnostics: Vec::new(),
        incomplete: String::new(),
    };
    let refs: Vec<&dyn PageSource> = sources.iter().map(|s| s as &dyn PageSource).collect();
    render_site(
        &RenderOptions {
            out_dir: out.to_path_buf(),
            ..RenderOptions::default()
        },
        &index,
        &refs,
    )
    .unwrap();
    (index, sources[0].id.clone())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn index_filters_sorts_expands_and_links_to_build_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (index, big) = synthetic_site(dir.path());
    let Some(driver) = start_driver() else {
        return;
    };
    rt().block_on(async {
        let c = connect(&driver).await;
        c.goto(&url(&dir.path().join("index.html"))).await.unwrap();
        until(&c, "window.livecovReady", "index ready").await;
        let paint = js(
            &c,
            "const p = performance.getEntriesByName('first-contentful-paint')[0] || performance.getEntriesByType('paint')[0]; return p ? p.startTime : null;",
        )
        .await;
        let ready = js(&c, "return performance.getEntriesByName('livecov-ready')[0].startTime;").await;
        println!("figure: index with 1000 owners: first contentful paint {paint} ms; ready by {ready} ms");
        shot(&c, "index-loaded").await;

        // Default hides: e2e-* and openshift-must-gather-* (200 of 1,000 rows).
        let hidden_ns = index
            .owners
            .iter()
            .filter(|o| o.namespace.starts_with("e2e-") || o.namespace.starts_with("openshift-must-gather-"))
            .count();
        assert_eq!(visible_rows(&c, "tr.owner-row").await, 1000 - hidden_ns);
        let showing = c.find(Locator::Id("showing")).await.unwrap().text().await.unwrap();
        assert!(
            showing.replace(',', "").contains(&format!("{} of 1000", 1000 - hidden_ns)),
            "{showing}"
        );
        let stat = c.find(Locator::Id("stat-owners")).await.unwrap().text().await.unwrap();
        assert!(stat.contains(&(1000 - hidden_ns).to_string()), "{stat}");

        // Turning a default hide off shows those rows again.
        let e2e = index.owners.iter().filter(|o| o.namespace.starts_with("e2e-")).count();
        c.find(Locator::Id("hide-0")).await.unwrap().click().await.unwrap();
        until(&c, &format!("Array.from(document.querySelectorAll('tr.owner-row')).filter(r => r.offsetParent !== null).length === {}", 1000 - hidden_ns + e2e), "e2e rows shown").await;

        // Search narrows to one owner; the stat card follows.
        let search = c.find(Locator::Id("search")).await.unwrap();
        search.send_keys("owner-0042").await.unwrap();
        until(&c, "Array.from(document.querySelectorAll('tr.owner-row')).filter(r => r.offsetParent !== null).length === 1", "search to one row").await;
        let stat = c.find(Locator::Id("stat-owners")).await.unwrap().text().await.unwrap();
        assert!(stat.contains('1'), "{stat}");
        shot(&c, "index-search").await;
        search.clear().await.unwrap();
        search.send_keys(" ").await.unwrap();
        js(&c, "const s = document.getElementById('search'); s.value=''; s.dispatchEvent(new Event('input')); return 1;").await;
        until(&c, "Array.from(document.querySelectorAll('tr.owner-row')).filter(r => r.offsetParent !== null).length > 100", "search cleared").await;

        // Sort by coverage, descending after two clicks: the first visible row has the
        // highest percentage.
        let th = c.find(Locator::Css("th[data-sort=\"coverage\"]")).await.unwrap();
        th.click().await.unwrap();
        th.click().await.unwrap();
        let first_two = js(&c, "return Array.from(document.querySelectorAll('tr.owner-row')).filter(r => r.offsetParent !== null).slice(0, 2).map(r => r.querySelector('td.coverage, .pct, td:nth-child(4)').textContent);").await;
        let top: Vec<f64> = first_two
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().trim().trim_end_matches('%').split('%').next().unwrap().trim().parse::<f64>().unwrap_or(-1.0))
            .collect();
        let visible_max = index
            .owners
            .iter()
            .filter(|o| !o.namespace.starts_with("openshift-must-gather-"))
            .map(|o| 100.0 * o.covered as f64 / o.statements as f64)
            .fold(0.0, f64::max);
        assert!((top[0] - visible_max).abs() < 0.051, "sorted: {top:?}, max {visible_max}");
        assert!(top[0] >= top[1]);
        shot(&c, "index-sorted").await;

        // Expanding a row shows its pods and build.
        let row = c.find(Locator::Css("tr.owner-row")).await.unwrap();
        row.click().await.unwrap();
        until(&c, "Array.from(document.querySelectorAll('tr.details-row')).some(r => r.offsetParent !== null)", "details row").await;
        let details = js(&c, "return Array.from(document.querySelectorAll('tr.details-row')).find(r => r.offsetParent !== null).textContent;").await;
        assert!(details.as_str().unwrap().contains("pod-"), "{details}");
        shot(&c, "index-expanded").await;

        // Following a build link opens the build page.
        let link = c
            .find(Locator::Css(&format!("a[href=\"b/{big}/index.html\"]")))
            .await
            .unwrap();
        link.click().await.unwrap();
        until(&c, "window.livecovReady && document.querySelector('tr.file-row')", "build page").await;
        assert!(c.current_url().await.unwrap().as_str().ends_with(&format!("b/{big}/index.html")));
        c.close().await.unwrap();
    });
}

#[test]
fn build_page_deep_links_and_keys_land_on_the_right_line() {
    let dir = tempfile::tempdir().unwrap();
    let (_, big) = synthetic_site(dir.path());
    let page = dir.path().join("b").join(&big).join("index.html");
    let Some(driver) = start_driver() else {
        return;
    };
    rt().block_on(async {
        let c = connect(&driver).await;
        let started = Instant::now();
        c.goto(&url(&page)).await.unwrap();
        until(&c, "window.livecovReady", "build page ready").await;
        let interactive = js(&c, "return performance.getEntriesByName('livecov-ready')[0].startTime;").await;
        println!(
            "figure: build page with 10000 files / 1000000 units interactive at {interactive} ms (navigation to ready, {:?} wall)",
            started.elapsed()
        );
        shot(&c, "build-loaded").await;
        let showing = c.find(Locator::Id("files-showing")).await.unwrap().text().await.unwrap();
        assert!(showing.replace(',', "").contains("10000"), "{showing}");

        // The file search filters 10,000 rows to the 10 files of one package.
        let search = c.find(Locator::Id("file-search")).await.unwrap();
        let t = Instant::now();
        search.send_keys("pkg0420/").await.unwrap();
        until(&c, "/\\b10 of 10,?000\\b/.test(document.getElementById('files-showing').textContent)", "file search").await;
        println!("figure: file search over 10000 files answered in {:?}", t.elapsed());
        shot(&c, "build-search").await;

        // Deep link to a line: the file opens, the line is the target.
        let path = "example.com/big/pkg0420/file3.go";
        let target = format!("{}#{path}:L40", url(&page));
        c.goto(&target).await.unwrap();
        until(&c, "window.livecovFileReady !== undefined && window.livecovFileReady !== null", "file drawn").await;
        until(&c, "document.querySelector('tr.target')", "target line").await;
        let line = js(&c, "return document.querySelector('tr.target').id;").await;
        assert_eq!(line, json!("L40"));
        shot(&c, "build-deeplink").await;

        // `n`: next not-covered block. Blocks start at lines 5 + 7i and every third
        // (i = 1, 4, 7…) has count 0: after line 40 (block 5), the next is i = 7, line 54.
        press(&c, 'n').await;
        until(&c, "document.querySelector('tr.target') && document.querySelector('tr.target').id === 'L54'", "next uncovered block at L54").await;
        let hash = js(&c, "return decodeURIComponent(location.hash);").await;
        assert_eq!(hash, json!(format!("#{path}:L54")));
        press(&c, 'n').await;
        until(&c, "document.querySelector('tr.target').id === 'L75'", "then L75").await;
        press(&c, 'p').await;
        until(&c, "document.querySelector('tr.target').id === 'L54'", "back to L54").await;
        shot(&c, "build-next-uncovered").await;

        // Execution counts: the first block (count 1) spans lines 5..10; line 12 (block 1)
        // is not covered.
        let counts = js(&c, "return [document.querySelector('#L5 .exec, #L5 td:nth-child(2)').textContent.trim(), document.querySelector('#L12 .exec, #L12 td:nth-child(2)').textContent.trim(), document.querySelector('#L1 .exec, #L1 td:nth-child(2)').textContent.trim()];").await;
        assert_eq!(counts, json!(["1", "0", ""]));
        let spans = js(&c, "return [document.querySelectorAll('#L13 .cov-none').length > 0, document.querySelectorAll('#L6 .cov-hit').length > 0, document.querySelectorAll('#L1 .cov-hit, #L1 .cov-none').length];").await;
        assert_eq!(spans, json!([true, true, 0]));

        // `]` opens the next file in the table order.
        press(&c, ']').await;
        until(&c, "decodeURIComponent(location.hash).startsWith('#example.com/big/pkg0420/file4.go')", "next file").await;
        shot(&c, "build-next-file").await;

        // File scripts carry sources as template literals: Chromium reads back exactly
        // the bytes, whatever the text holds.
        let tricky = "a `raw` ${x} $y \\n \\` \r\n\ttab \u{0} \u{1f} </script> \u{2028} é 🎉\n";
        let mut script = Vec::new();
        livecov_render::site::file_script(
            7,
            &FileData {
                path: "x.go".into(),
                text: Some(tricky.into()),
                ..FileData::default()
            },
            &mut script,
        );
        let got = c
            .execute(
                "let got = null; const livecovFile = (n, d) => { got = [n, d.text]; }; eval(arguments[0]); return got;",
                vec![json!(String::from_utf8(script).unwrap())],
            )
            .await
            .unwrap();
        assert_eq!(got, json!([7, tricky]));

        // The link survives re-rendering: render again and open the same hash.
        c.goto(&format!("{}#{path}:L54", url(&page))).await.unwrap();
        until(&c, "document.querySelector('tr.target') && document.querySelector('tr.target').id === 'L54'", "deep link after reload").await;
        c.close().await.unwrap();
    });
}

#[test]
fn demo_site_shows_sources_fetched_at_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["demo", "--dir", demo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Some(driver) = start_driver() else {
        return;
    };
    rt().block_on(async {
        let c = connect(&driver).await;
        c.goto(&url(&demo.join("html/index.html"))).await.unwrap();
        until(&c, "window.livecovReady", "demo index").await;
        assert_eq!(visible_rows(&c, "tr.owner-row").await, 3);
        shot(&c, "demo-index").await;
        let link = c
            .find(Locator::Css("a[href=\"b/fb5d9fb229349f9b25b93ba370b3e169/index.html\"]"))
            .await
            .unwrap();
        link.click().await.unwrap();
        until(&c, "window.livecovReady && document.querySelector('tr.file-row')", "demo build page").await;
        // Open dep.go by deep link: its text comes from the commit, annotated.
        let page = demo.join("html/b/fb5d9fb229349f9b25b93ba370b3e169/index.html");
        c.goto(&format!("{}#example.com/prog/dep/dep.go:L5", url(&page)))
            .await
            .unwrap();
        until(&c, "document.querySelector('tr.target') && document.querySelector('tr.target').id === 'L5'", "dep.go line 5").await;
        let line4 = js(&c, "return document.getElementById('L4').textContent;").await;
        assert!(line4.as_str().unwrap().contains("func Dep1(x int) int {"), "{line4}");
        // Dep1's body ran; Never's loop body (27) did not.
        let spans = js(&c, "return [document.querySelectorAll('#L4 .cov-hit').length > 0, document.querySelectorAll('#L27 .cov-none').length > 0];").await;
        assert_eq!(spans, json!([true, true]));
        shot(&c, "demo-dep-go").await;
        c.close().await.unwrap();
    });
}

/// The dashboard (`livecov serve`) in the browser: the list of collections, a
/// collection's index and build page with sources, served over HTTP under its Content
/// Security Policy; and hostile metadata in another collection runs nothing.
#[test]
fn the_served_dashboard_works_and_hostile_metadata_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let demo = root.join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["demo", "--dir", demo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A collection whose metadata tries to run script wherever it is shown.
    let evil = root.join("evil");
    let pod = evil.join("coverage/pod");
    std::fs::create_dir_all(&pod).unwrap();
    for (f, bytes) in cluster::pod_files(1) {
        if f != "metadata.json" {
            std::fs::write(pod.join(f), bytes).unwrap();
        }
    }
    let payload = "<img src=x onerror=\"window.__pwned=1\">";
    std::fs::write(
        pod.join("metadata.json"),
        json!({
            "pod_name": format!("pod{payload}"),
            "namespace": format!("ns{payload}"),
            "container": {"name": format!("c{payload}"), "image": "img/x:1"},
            "binary_name": format!("bin{payload}"),
            "host_process": false,
        })
        .to_string(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["cluster", "compile", "--collection", evil.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Some(driver) = start_driver() else {
        return;
    };
    let served = dashboard::serve(&["--root", root.to_str().unwrap()]);
    let base = format!("http://{}", served.addr);
    rt().block_on(async {
        let c = connect(&driver).await;
        c.goto(&format!("{base}/")).await.unwrap();
        let rows = js(&c, "return Array.from(document.querySelectorAll('#collections tbody tr')).map(r => r.dataset.name);").await;
        assert_eq!(rows, json!(["evil", "demo"]), "newest compiled first");
        shot(&c, "served-collections").await;
        // Compare two collections through the form; then the history of the total.
        js(&c, "document.querySelector('select[name=a]').value = 'demo'; document.querySelector('select[name=b]').value = 'evil'; document.querySelector('form.filters').submit(); return 1;").await;
        until(&c, "document.querySelector('#compare-builds tbody tr')", "compare page").await;
        assert!(c.current_url().await.unwrap().as_str().contains("/compare?a=demo&b=evil"));
        let builds = js(&c, "return document.querySelectorAll('#compare-builds tbody tr').length;").await;
        assert!(builds.as_u64().unwrap() >= 1, "{builds}");
        shot(&c, "served-compare").await;
        c.goto(&format!("{base}/history")).await.unwrap();
        let dots = js(&c, "return document.querySelectorAll('#trend circle').length;").await;
        assert_eq!(dots, json!(2));
        shot(&c, "served-history").await;
        c.goto(&format!("{base}/")).await.unwrap();
        c.find(Locator::Css("a[href=\"/c/demo/\"]")).await.unwrap().click().await.unwrap();
        until(&c, "window.livecovReady", "served demo index").await;
        assert_eq!(visible_rows(&c, "tr.owner-row").await, 3);
        shot(&c, "served-demo-index").await;
        c.find(Locator::Css("a[href=\"b/fb5d9fb229349f9b25b93ba370b3e169/index.html\"]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until(&c, "window.livecovReady && document.querySelector('tr.file-row')", "served build page").await;
        c.goto(&format!(
            "{base}/c/demo/b/fb5d9fb229349f9b25b93ba370b3e169/index.html#example.com/prog/dep/dep.go:L5"
        ))
        .await
        .unwrap();
        until(&c, "document.querySelector('tr.target') && document.querySelector('tr.target').id === 'L5'", "served dep.go line 5").await;
        let line4 = js(&c, "return document.getElementById('L4').textContent;").await;
        assert!(line4.as_str().unwrap().contains("func Dep1(x int) int {"), "{line4}");
        let spans = js(&c, "return [document.querySelectorAll('#L4 .cov-hit').length > 0, document.querySelectorAll('#L27 .cov-none').length > 0];").await;
        assert_eq!(spans, json!([true, true]));
        shot(&c, "served-dep-go").await;

        // The hostile collection: its values are shown as text, and nothing runs.
        c.goto(&format!("{base}/c/evil/")).await.unwrap();
        until(&c, "window.livecovReady", "evil index").await;
        js(&c, "document.querySelectorAll('tr.owner-row').forEach(r => r.click()); return 1;").await;
        let text = js(&c, "return document.body.textContent;").await;
        assert!(text.as_str().unwrap().contains(&format!("ns{payload}")), "{text}");
        let link = js(&c, "return document.querySelector('a[href^=\"b/\"]').getAttribute('href');").await;
        c.goto(&format!("{base}/c/evil/{}", link.as_str().unwrap())).await.unwrap();
        until(&c, "window.livecovReady", "evil build page").await;
        let page = js(&c, "return document.body.textContent;").await;
        assert!(page.as_str().unwrap().contains(&format!("bin{payload}")), "{page}");
        let state = js(&c, "return [window.__pwned === undefined, document.querySelectorAll('img[src=\"x\"]').length];").await;
        assert_eq!(state, json!([true, 0]), "an injected element or handler");
        shot(&c, "served-evil").await;
        c.close().await.unwrap();
    });
}
