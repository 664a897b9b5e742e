//! `livecov serve`: the dashboard over compiled collections, as a user reaches it over
//! HTTP on 127.0.0.1.
//!
//! - the served site is byte for byte the site `cluster render` writes (index, every
//!   build page, every chunk script), and the JSON API gives the figures `report` gives;
//! - a compile shows without a restart; each page is assembled once however many of its
//!   files are asked for;
//! - the same from a PostgreSQL store holding several collections (a real PostgreSQL 15),
//!   ingest included;
//! - history across collections (total, a build) and the comparison of two, as pages
//!   and JSON, equal to `report` and `livecov compare`;
//! - every value from metadata is escaped (collection names, pod names, labels);
//! - ingest: refused without or with a wrong token, oversize bodies refused, files and
//!   pushed snapshots land once, a client that goes away mid-upload writes nothing, and
//!   what is ingested reports the same as the same files compiled by hand; a real Go
//!   program built by `livecov go build` pushes to it.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/dashboard.rs"]
mod dashboard;
#[path = "support/external.rs"]
mod external;
#[path = "support/postgres.rs"]
mod pgserver;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dashboard::{get, request, serve, Response, Served};
use serde_json::Value;

fn livecov() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_livecov"));
    c.env_remove("LIVECOV_STORE")
        .env_remove("LIVECOV_INGEST_TOKEN");
    c
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn compile(c: &Path) {
    ok(livecov()
        .args(["cluster", "compile", "--collection"])
        .arg(c)
        .output()
        .unwrap());
}

fn report(c: &Path) -> Value {
    let out = ok(livecov()
        .args(["report", "--format", "json", "--collection"])
        .arg(c)
        .output()
        .unwrap());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every file of a directory tree, by relative path.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// (statements, covered) of every build in a `report --format json`.
fn report_builds(r: &Value) -> BTreeMap<String, (u64, u64)> {
    r["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["build"].as_str().unwrap().to_owned(),
                (
                    b["statements"].as_u64().unwrap(),
                    b["covered_statements"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

fn api_builds(addr: &str, name: &str) -> BTreeMap<String, (u64, u64)> {
    let r = get(addr, &format!("/api/collections/{name}/builds"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["build"].as_str().unwrap().to_owned(),
                (
                    b["statements"].as_u64().unwrap(),
                    b["covered"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn the_served_site_is_the_rendered_site_and_the_api_gives_reports_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("collections");
    let a = cluster::collection(&root.join("run-a"), 0..6);
    let b = cluster::collection(&root.join("run-b"), 3..9);
    compile(&a);
    ok(livecov()
        .args([
            "cluster",
            "compile",
            "--label",
            "cluster=prod-1",
            "--label",
            "run=<n>",
        ])
        .arg("--collection")
        .arg(&b)
        .output()
        .unwrap());
    // Something that is not a collection is not listed.
    fs::create_dir_all(root.join("not-compiled/coverage")).unwrap();
    let served = serve(&["--root", root.to_str().unwrap()]);
    let addr = &served.addr;

    let list = get(addr, "/api/collections").json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    // Newest compiled first, with its time and labels.
    assert_eq!(names, ["run-b", "run-a"]);
    assert_eq!(
        list[0]["labels"],
        serde_json::json!({"cluster": "prod-1", "run": "<n>"})
    );
    assert!(list[0]["compiled_at"].as_str().unwrap() > list[1]["compiled_at"].as_str().unwrap());
    for (c, dir) in [("run-a", &a), ("run-b", &b)] {
        let want = report_builds(&report(dir));
        assert_eq!(api_builds(addr, c), want, "{c}");
        let listed = list
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == c)
            .unwrap();
        assert_eq!(
            listed["statements"].as_u64().unwrap(),
            want.values().map(|v| v.0).sum::<u64>()
        );
        assert_eq!(
            listed["covered"].as_u64().unwrap(),
            want.values().map(|v| v.1).sum::<u64>()
        );
    }
    assert!(a.join("livecov.db").exists());
    let home = get(addr, "/");
    assert_eq!(home.status, 200);
    assert!(
        home.text().contains("href=\"/c/run-a/\""),
        "{}",
        home.text()
    );
    assert!(home.text().contains("run=&lt;n&gt;"), "{}", home.text());
    assert!(!home.text().contains("not-compiled"));

    // Byte for byte what `cluster render` writes.
    let site = tmp.path().join("site-a");
    ok(livecov()
        .args(["cluster", "render", "--collection"])
        .arg(&a)
        .arg("--output-dir")
        .arg(&site)
        .output()
        .unwrap());
    let written = tree(&site);
    let mut pages = 0;
    for (rel, bytes) in &written {
        if rel.starts_with('.') {
            continue;
        }
        let r = get(addr, &format!("/c/run-a/{rel}"));
        assert_eq!(r.status, 200, "{rel}: {}", r.text());
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        assert!(
            &r.body == bytes,
            "{rel} served differs from the rendered file"
        );
        if rel.ends_with("/index.html") {
            pages += 1;
        }
    }
    assert_eq!(
        pages,
        report_builds(&report(&a)).len(),
        "one page per build"
    );
    assert!(get(addr, "/c/run-a/index.html").headers["content-type"].starts_with("text/html"));
    assert!(
        get(addr, "/c/run-a/assets/build.js").headers["content-type"]
            .starts_with("text/javascript")
    );

    // Files and lines of a build: the store's files, the LCOV export's lines.
    let build = cluster::LONE_BUILD;
    let files = get(
        addr,
        &format!("/api/collections/run-b/builds/{build}/files"),
    )
    .json();
    let files = files.as_array().unwrap();
    assert!(!files.is_empty());
    let want = report_builds(&report(&b))[build];
    let counted: u64 = files
        .iter()
        .filter(|f| f["excluded"] == false)
        .map(|f| f["statements"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, want.0);
    let file = files[0]["path"].as_str().unwrap();
    let lines = get(
        addr,
        &format!("/api/collections/run-b/builds/{build}/lines?file={file}"),
    )
    .json();
    let lcov = ok(livecov()
        .args([
            "export", "--format", "lcov", "--paths", "recorded", "--build", build,
        ])
        .arg("--collection")
        .arg(&b)
        .output()
        .unwrap());
    let lcov = String::from_utf8(lcov.stdout).unwrap();
    let section = lcov
        .split("end_of_record")
        .find(|s| s.contains(&format!("SF:{file}\n")))
        .unwrap();
    let want: Vec<[u64; 2]> = section
        .lines()
        .filter_map(|l| l.strip_prefix("DA:"))
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            [
                a.parse().unwrap(),
                b.split(',').next().unwrap().parse().unwrap(),
            ]
        })
        .collect();
    let got: Vec<[u64; 2]> = serde_json::from_value(lines["lines"].clone()).unwrap();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    let export = get(
        addr,
        &format!("/api/collections/run-b/export?format=lcov&build={build}"),
    );
    assert_eq!(export.status, 200);
    assert!(export.text().contains("end_of_record"));

    // What is not there is a 404 with a reason, never a file outside.
    for path in [
        "/c/nope/",
        "/c/run-a/b/00000000000000000000000000000000/index.html",
        "/c/..%2F..%2Fetc/index.html",
        "/c/run-a/b/x/f/../../../../livecov.db",
        "/c/run-a/assets/..%2Flivecov.db",
        "/api/collections/not-compiled/builds",
    ] {
        let r = get(addr, path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
    }
    assert_eq!(
        get(addr, "/api/collections/run-a/export?format=nope").status,
        400
    );
}

#[test]
fn a_compile_shows_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let c = cluster::collection(&tmp.path().join("run"), 0..4);
    compile(&c);
    let served = serve(&["--collection", c.to_str().unwrap()]);
    let addr = &served.addr;
    assert_eq!(api_builds(addr, "run"), report_builds(&report(&c)));
    let before = get(addr, "/c/run/index.html").body;
    cluster::collection(&c, 4..9);
    compile(&c);
    let want = report_builds(&report(&c));
    assert!(want.contains_key(cluster::LONE_BUILD));
    let deadline = Instant::now() + Duration::from_secs(10);
    while api_builds(addr, "run") != want {
        assert!(Instant::now() < deadline, "the compile never showed");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(get(addr, "/c/run/index.html").body, before);
    let page = get(
        addr,
        &format!("/c/run/b/{}/index.html", cluster::LONE_BUILD),
    );
    assert_eq!(page.status, 200);
}

#[test]
fn every_value_from_metadata_is_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let hostile = "x<img src=q onerror=alert(1)>&\"'y";
    let c = root.join(hostile);
    let d = c.join("coverage/pod");
    fs::create_dir_all(&d).unwrap();
    for (f, bytes) in cluster::pod_files(1) {
        if f != "metadata.json" {
            fs::write(d.join(f), bytes).unwrap();
        }
    }
    fs::write(
        d.join("metadata.json"),
        serde_json::json!({
            "pod_name": "<script>alert('pod')</script>",
            "namespace": "ns</script><script>alert(2)</script>",
            "container": {"name": "c\"><b>", "image": "img/<i>:1"},
            "binary_name": "<svg onload=alert(3)>",
            "labels": {"scenario": "<u>s</u>"},
            "host_process": false,
        })
        .to_string(),
    )
    .unwrap();
    compile(&c);
    let served = serve(&["--root", root.to_str().unwrap()]);
    let addr = &served.addr;
    let home = get(addr, "/").text();
    assert!(!home.contains("<img"), "{home}");
    assert!(home.contains("x&lt;img src=q onerror=alert(1)&gt;&amp;&quot;&#39;y"));
    let seg = "x%3Cimg%20src%3Dq%20onerror%3Dalert%281%29%3E%26%22%27y";
    assert!(home.contains(&format!("href=\"/c/{seg}/\"")), "{home}");
    let index = get(addr, &format!("/c/{seg}/index.html"));
    assert_eq!(index.status, 200, "{}", index.text());
    let text = index.text();
    for raw in ["<script>alert", "</script><script>", "<svg", "<img", "<u>s"] {
        assert!(!text.contains(raw), "{raw} is in the index unescaped");
    }
    assert!(text.contains("\\u003cscript\\u003ealert('pod')"));
    let builds = get(addr, &format!("/api/collections/{seg}/builds")).json();
    let build = builds[0]["build"].as_str().unwrap().to_owned();
    let page = get(addr, &format!("/c/{seg}/b/{build}/index.html")).text();
    for raw in ["<script>alert", "<svg", "<img", "c\"><b>"] {
        assert!(!page.contains(raw), "{raw} is in the build page unescaped");
    }
    // The JSON API holds the values as they are (JSON escapes what JSON needs).
    let owners = get(addr, &format!("/api/collections/{seg}/owners")).json();
    assert_eq!(
        owners[0]["namespace"],
        "ns</script><script>alert(2)</script>"
    );
}

const TOKEN: &str = "ingest-t0ken-for-tests";

fn auth() -> String {
    format!("Bearer {TOKEN}")
}

fn ingest_server(root: &Path, max: usize) -> Served {
    let token = root.parent().unwrap().join("token");
    fs::write(&token, format!("{TOKEN}\n")).unwrap();
    fs::create_dir_all(root).unwrap();
    serve(&[
        "--root",
        root.to_str().unwrap(),
        "--ingest-token-file",
        token.to_str().unwrap(),
        "--max-upload-bytes",
        &max.to_string(),
    ])
}

/// `POST /api/ingest/NAME/compile` with the tests' token.
fn compile_now(addr: &str, name: &str) -> Response {
    request(
        addr,
        "POST",
        &format!("/api/ingest/{name}/compile"),
        &[("Authorization", &auth())],
        b"",
    )
}

fn put_file(addr: &str, name: &str, rel: &str, body: &[u8], auth: &str) -> Response {
    request(
        addr,
        "PUT",
        &format!("/api/ingest/{name}/files/{rel}"),
        &[("Authorization", auth)],
        body,
    )
}

#[test]
fn ingest_takes_files_once_with_the_token_and_refuses_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let served = ingest_server(&root, 1 << 20);
    let addr = &served.addr;
    let meta = b"{}";

    // No token, a wrong one, a token of another length: 401, nothing written.
    for bad in ["", "Bearer nope", &format!("Bearer {TOKEN}x"), TOKEN] {
        let r = put_file(addr, "ci", "pod/metadata.json", meta, bad);
        assert_eq!(r.status, 401, "{bad:?}: {}", r.text());
    }
    assert!(!root.join("ci").exists());
    // Oversize: 413 before the body is read.
    let big = vec![b'x'; (1 << 20) + 1];
    assert_eq!(put_file(addr, "ci", "pod/big", &big, &auth()).status, 413);
    // Paths out of coverage/ and names that are not names.
    for (name, rel) in [
        ("ci", "../x/metadata.json"),
        ("ci", "pod/../../x"),
        ("ci", "metadata.json"),
        (".hidden", "pod/metadata.json"),
        ("a%2Fb", "pod/metadata.json"),
    ] {
        let r = put_file(addr, name, rel, meta, &auth());
        assert!(
            r.status == 400 || r.status == 404,
            "{name} {rel}: {} {}",
            r.status,
            r.text()
        );
    }
    assert!(!tmp.path().join("x").exists());

    // Seven pods uploaded file by file, then compiled.
    let mut sent = 0;
    for i in 0..7 {
        let (dir, _, _) = cluster::pod(i);
        for (f, bytes) in cluster::pod_files(i) {
            let r = put_file(addr, "ci", &format!("{dir}/{f}"), &bytes, &auth());
            assert_eq!(r.status, 201, "{}", r.text());
            sent += 1;
        }
    }
    // Again: held already, not written, no compile needed.
    let (dir, _, _) = cluster::pod(0);
    for (f, bytes) in cluster::pod_files(0) {
        let r = put_file(addr, "ci", &format!("{dir}/{f}"), &bytes, &auth());
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["stored"], false);
    }
    let r = compile_now(addr, "ci");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["failed"], 0);
    // The same files compiled by hand report the same.
    let by_hand = cluster::collection(&tmp.path().join("by-hand"), 0..7);
    compile(&by_hand);
    let want = report_builds(&report(&by_hand));
    assert_eq!(api_builds(addr, "ci"), want);
    assert!(sent > 7);
    // No temporary file is left anywhere.
    for rel in tree(&root.join("ci/coverage")).keys() {
        assert!(!rel.contains(".livecov-ingest-"), "{rel}");
    }
}

#[test]
fn a_client_gone_mid_upload_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let served = ingest_server(&root, 1 << 20);
    let addr = &served.addr;
    {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "PUT /api/ingest/cut/files/pod/covmeta.abc HTTP/1.1\r\nHost: x\r\n\
             Authorization: {}\r\nContent-Length: 100000\r\n\r\n",
            auth()
        )
        .unwrap();
        s.write_all(&[7u8; 5000]).unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        // Dropped: the connection closes with 95,000 bytes missing.
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !root.join("cut/coverage/pod/covmeta.abc").exists(),
        "half a body was written"
    );
    if root.join("cut/coverage/pod").exists() {
        assert!(tree(&root.join("cut/coverage/pod")).is_empty());
    }
    // And the server goes on.
    assert_eq!(get(addr, "/healthz").status, 200);
    let r = put_file(addr, "cut", "pod/metadata.json", b"{}", &auth());
    assert_eq!(r.status, 201, "{}", r.text());
}

fn go_available() -> bool {
    Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_go_program_built_by_livecov_pushes_to_the_dashboard() {
    if !go_available() {
        assert!(std::env::var_os("CI").is_none(), "go is needed under CI");
        eprintln!("skipped: no go");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("go.mod"), "module example.com/pushed\n\ngo 1.21\n").unwrap();
    fs::write(
        src.join("main.go"),
        r#"package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func work(n int) int {
	if n > 3 {
		return n * 2
	}
	return n + 1
}

func unused() { fmt.Println("never") }

func main() {
	total := 0
	for i := 0; i < 5; i++ {
		total += work(i)
	}
	fmt.Println("ready", total)
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
"#,
    )
    .unwrap();
    let bin = tmp.path().join("pushed");
    let out = livecov()
        .current_dir(&src)
        .env("GOPROXY", "off")
        .args(["go", "build", "-o"])
        .arg(&bin)
        .arg(".")
        .output()
        .unwrap();
    ok(out);
    let root = tmp.path().join("root");
    let served = ingest_server(&root, 16 << 20);
    let token = tmp.path().join("agent-token");
    fs::write(&token, TOKEN).unwrap();
    let mut prog = Command::new(&bin)
        .env(
            "LIVECOV_PUSH_URL",
            format!("http://{}/api/ingest/live", served.addr),
        )
        .env("LIVECOV_TOKEN_FILE", &token)
        .env("LIVECOV_PUSH_INTERVAL", "200ms")
        .env("LIVECOV_SERVE", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let live = loop {
        let r = get(&served.addr, "/api/collections/live/builds");
        if r.status == 200 {
            let builds = r.json();
            if builds.as_array().is_some_and(|b| !b.is_empty()) {
                break builds;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no push was ingested and compiled"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // SAFETY: a signal to the child this test started.
    unsafe {
        libc::kill(prog.id() as i32, libc::SIGTERM);
    }
    let status = prog.wait().unwrap();
    assert!(status.success(), "{status}");
    // What the dashboard shows is what `report` reads from the ingested collection, and
    // the program's own counts: work ran, unused did not.
    let want = report_builds(&report(&root.join("live")));
    let got: BTreeMap<String, (u64, u64)> = live
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["build"].as_str().unwrap().to_owned(),
                (
                    b["statements"].as_u64().unwrap(),
                    b["covered"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    let (statements, covered) = *want.values().next().unwrap();
    assert!(
        covered > 0 && covered < statements,
        "{covered}/{statements}"
    );
}

/// `livecov serve --store URL` taking ingest into `<tmp>/data` (returned) with the
/// tests' token.
fn serve_pg(url: &str, tmp: &Path) -> (Served, std::path::PathBuf) {
    let data = tmp.join("data");
    fs::create_dir_all(&data).unwrap();
    let token = tmp.join("token");
    fs::write(&token, TOKEN).unwrap();
    let served = serve(&[
        "--store",
        url,
        "--data-dir",
        data.to_str().unwrap(),
        "--ingest-token-file",
        token.to_str().unwrap(),
    ]);
    (served, data)
}

#[test]
fn a_postgresql_store_is_served_the_same_and_takes_ingest() {
    let Some(pg) = pgserver::Postgres::start() else {
        return;
    };
    let url = pg.create_database("served");
    let tmp = tempfile::tempdir().unwrap();
    let a = cluster::collection(&tmp.path().join("pg-a"), 0..5);
    let b = cluster::collection(&tmp.path().join("pg-b"), 2..9);
    for c in [&a, &b] {
        ok(livecov()
            .args(["cluster", "compile", "--store", &url, "--collection"])
            .arg(c)
            .output()
            .unwrap());
    }
    let (served, data) = serve_pg(&url, tmp.path());
    let addr = &served.addr;
    let list = get(addr, "/api/collections").json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pg-b", "pg-a"]);
    // The password is in no page or answer.
    assert!(!get(addr, "/").text().contains(pgserver::PASSWORD));
    for (name, dir) in [("pg-a", &a), ("pg-b", &b)] {
        let want = ok(livecov()
            .args([
                "report",
                "--format",
                "json",
                "--store",
                &url,
                "--collection",
            ])
            .arg(dir)
            .output()
            .unwrap());
        let want = report_builds(&serde_json::from_slice(&want.stdout).unwrap());
        assert_eq!(api_builds(addr, name), want, "{name}");
        for build in want.keys() {
            let page = get(addr, &format!("/c/{name}/b/{build}/index.html"));
            assert_eq!(page.status, 200, "{}", page.text());
            let chunk = get(addr, &format!("/c/{name}/b/{build}/f/0.js"));
            assert!(
                chunk.text().starts_with("livecovFile(0,"),
                "{}",
                chunk.text()
            );
        }
    }
    assert_eq!(get(addr, "/c/pg-none/").status, 404);

    // Ingest into the shared store: files land under --data-dir, the compile goes to
    // PostgreSQL, and the new collection is listed and served.
    for i in 0..3 {
        let (dir, _, _) = cluster::pod(i);
        for (f, bytes) in cluster::pod_files(i) {
            let r = put_file(addr, "pg-new", &format!("{dir}/{f}"), &bytes, &auth());
            assert_eq!(r.status, 201, "{}", r.text());
        }
    }
    let r = compile_now(addr, "pg-new");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(data.join("pg-new/coverage").is_dir());
    assert!(
        !data.join("pg-new/livecov.db").exists(),
        "compiled into PostgreSQL"
    );
    let by_hand = cluster::collection(&tmp.path().join("by-hand"), 0..3);
    compile(&by_hand);
    assert_eq!(api_builds(addr, "pg-new"), report_builds(&report(&by_hand)));
    let list = get(addr, "/api/collections").json();
    assert_eq!(list[0]["name"], "pg-new");
}

#[test]
fn history_and_compare_follow_report_and_compare() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let runs = [("n1", 0..3), ("n2", 0..6), ("n3", 3..9)];
    for (name, pods) in runs.clone() {
        let c = cluster::collection(&root.join(name), pods);
        ok(livecov()
            .args(["cluster", "compile", "--label", "suite=e2e", "--collection"])
            .arg(&c)
            .output()
            .unwrap());
    }
    let served = serve(&["--root", root.to_str().unwrap()]);
    let addr = &served.addr;
    let totals = |name: &str| {
        let b = report_builds(&report(&root.join(name)));
        (
            b.values().map(|v| v.0).sum::<u64>(),
            b.values().map(|v| v.1).sum::<u64>(),
        )
    };
    // The total, oldest first, as each collection's report sums it.
    let h = get(addr, "/api/history?label=suite=e2e").json();
    let got: Vec<(String, u64, u64)> = h["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["collection"].as_str().unwrap().to_owned(),
                p["statements"].as_u64().unwrap(),
                p["covered"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64, u64)> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| {
            let (s, c) = totals(n);
            (n.to_string(), s, c)
        })
        .collect();
    assert_eq!(got, want);
    assert!(get(addr, "/api/history?label=suite=other").json()["points"]
        .as_array()
        .unwrap()
        .is_empty());
    // One build: only the collection that has it.
    let h = get(addr, &format!("/api/history?build={}", cluster::LONE_BUILD)).json();
    let names: Vec<&str> = h["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["collection"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["n3"]);
    let page = get(addr, "/history");
    assert_eq!(page.status, 200);
    let text = page.text();
    assert_eq!(text.matches("<circle").count(), 3, "{text}");
    assert!(text.contains("data-collection=\"n2\""));
    assert_eq!(get(addr, "/api/history?build=a&file=b").status, 400);

    // Compare: the same builds and files as `livecov compare`.
    let cli = ok(livecov()
        .args(["compare", "--format", "json"])
        .arg(root.join("n1"))
        .arg(root.join("n3"))
        .output()
        .unwrap());
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    let api = get(addr, "/api/compare?a=n1&b=n3");
    assert_eq!(api.status, 200, "{}", api.text());
    let api = api.json();
    for key in ["builds", "owners", "files"] {
        assert_eq!(api[key], cli[key], "{key}");
    }
    assert!(
        api["builds"].as_array().unwrap().len() >= 3,
        "{}",
        api["builds"]
    );
    let page = get(addr, "/compare?a=n1&b=n3").text();
    assert!(
        page.contains(&format!("data-build=\"{}\"", cluster::LONE_BUILD)),
        "{page}"
    );
    assert_eq!(get(addr, "/compare?a=n2&b=nope").status, 404);
}

/// The PostgreSQL store restarted while the dashboard compiles an ingested collection:
/// the compile fails and says so, nothing of it is visible, the dashboard keeps serving
/// once the database is back, and the retried compile lands once (issue 12's fault).
#[test]
fn a_database_restarted_mid_ingest_shows_nothing_half_written_and_the_retry_lands_once() {
    let Some(pg) = pgserver::Postgres::start() else {
        return;
    };
    let url = pg.create_database("restarted");
    let tmp = tempfile::tempdir().unwrap();
    // The schema first: a compile of another collection.
    let warm = cluster::collection(&tmp.path().join("warm"), 0..1);
    ok(livecov()
        .args(["cluster", "compile", "--store", &url, "--collection"])
        .arg(&warm)
        .output()
        .unwrap());
    let (served, data) = serve_pg(&url, tmp.path());
    let addr = &served.addr;

    // A transaction of the test's own holds the layout row of the build only pod 7
    // runs, so every compile that meets pod 7 waits on it, inside its write.
    let held = pgserver::hold_layout(&url, cluster::LONE_BUILD);
    // Pod 7 first, so even the first debounced compile meets it.
    let pods: Vec<usize> = std::iter::once(7)
        .chain((0..12).filter(|&i| i != 7))
        .collect();
    for &i in &pods {
        let (dir, _, _) = cluster::pod(i);
        for (f, bytes) in cluster::pod_files(i) {
            let r = put_file(addr, "pg-fault", &format!("{dir}/{f}"), &bytes, &auth());
            assert_eq!(r.status, 201, "{}", r.text());
        }
    }
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'livecov' \
                   AND wait_event_type = 'Lock'";
    let deadline = Instant::now() + Duration::from_secs(60);
    while pg.psql("restarted", waiting) != "1" {
        assert!(
            Instant::now() < deadline,
            "no compile reached the held build\n{}",
            pg.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // While it waits, nothing of the collection is visible.
    let listed = get(addr, "/api/collections").json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "pg-fault" || c["builds"].as_u64() == Some(0)),
        "{listed}"
    );
    pg.restart();
    drop(held);
    // The waiting compile lost its database and says so.
    let failed = served
        .log_line("compiling pg-fault:", Duration::from_secs(60))
        .expect("the compile's failure is logged");
    assert!(
        failed.contains("postgres://livecov:***@127.0.0.1:")
            && !failed.contains(pgserver::PASSWORD),
        "{failed}"
    );

    // The dashboard serves again once the database is back, and still shows nothing
    // of the failed compile.
    let deadline = Instant::now() + Duration::from_secs(60);
    let listed = loop {
        let r = get(addr, "/api/collections");
        if r.status == 200 {
            break r.json();
        }
        assert!(Instant::now() < deadline, "{} {}", r.status, r.text());
        std::thread::sleep(Duration::from_millis(100));
    };
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"warm"), "{listed}");
    if names.contains(&"pg-fault") {
        let r = get(addr, "/api/collections/pg-fault/builds");
        assert!(
            r.status != 200 || r.json().as_array().unwrap().is_empty(),
            "a failed compile is visible: {}",
            r.text()
        );
    }

    // The retry lands once: the builds of the same pods compiled by hand, no duplicate.
    let r = compile_now(addr, "pg-fault");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(data.join("pg-fault/coverage").is_dir());
    let by_hand = tmp.path().join("by-hand");
    for &i in &pods {
        cluster::collection(&by_hand, i..i + 1);
    }
    compile(&by_hand);
    assert_eq!(
        api_builds(addr, "pg-fault"),
        report_builds(&report(&by_hand))
    );
    let duplicates = pg.psql(
        "restarted",
        "SELECT (SELECT count(*) FROM (SELECT input_id, build_id, pid FROM processes \
         GROUP BY 1, 2, 3 HAVING count(*) > 1) d) || ',' || \
         (SELECT count(*) FROM inputs i JOIN collections c ON c.id = i.collection_id \
         WHERE c.name = 'pg-fault')",
    );
    assert_eq!(duplicates, format!("0,{}", pods.len()));
    let page = get(
        addr,
        &format!("/c/pg-fault/b/{}/index.html", cluster::LONE_BUILD),
    );
    assert_eq!(page.status, 200, "{}", page.text());
}

/// Attack finding (serve review, 2026-12-04): one damaged `livecov.db` in the root made
/// the list of collections, the API's list and the history answer 500, hiding every
/// other collection. It is now listed as unreadable, and the rest is served.
#[test]
fn a_damaged_store_in_the_root_hides_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let good = cluster::collection(&root.join("good"), 0..2);
    compile(&good);
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("empty/livecov.db"), b"").unwrap();
    fs::create_dir_all(root.join("junk")).unwrap();
    fs::write(root.join("junk/livecov.db"), b"not a database, not at all").unwrap();
    let served = serve(&["--root", root.to_str().unwrap()]);
    let addr = &served.addr;
    let list = get(addr, "/api/collections");
    assert_eq!(list.status, 200, "{}", list.text());
    let list = list.json();
    let by_name: BTreeMap<&str, &Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c))
        .collect();
    assert_eq!(
        by_name.keys().copied().collect::<Vec<_>>(),
        ["empty", "good", "junk"]
    );
    assert!(by_name["good"].get("unreadable").is_none());
    assert!(by_name["good"]["builds"].as_u64().unwrap() > 0);
    for bad in ["empty", "junk"] {
        let why = by_name[bad]["unreadable"].as_str().unwrap();
        assert!(why.contains(&format!("{bad}/livecov.db")), "{why}");
        assert_eq!(by_name[bad]["builds"], 0);
    }
    let page = get(addr, "/");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("unreadable store"));
    assert!(page.text().contains("href=\"/c/good/\""));
    // The history has the one readable collection's point.
    let history = get(addr, "/api/history");
    assert_eq!(history.status, 200, "{}", history.text());
    assert_eq!(get(addr, "/history").status, 200);
    // `store list` says the same.
    let out = ok(livecov()
        .args(["store", "list", "--root"])
        .arg(&root)
        .args(["--format", "json"])
        .output()
        .unwrap());
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
}
