//! `livecov collect` against real processes: the fixture service of tests/data/go_agent/
//! built with `livecov go build` (the real Go toolchain and the agent), sent traffic,
//! collected live on 127.0.0.1, then stopped with SIGTERM. What collect wrote must agree
//! with what `go tool covdata` reads from the data the process flushed at exit. Needs Go
//! (`scripts/test` makes sure of it; see support/external.rs).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[path = "support/external.rs"]
mod external;

const WAIT: Duration = Duration::from_secs(20);

fn go_env(c: &mut Command) -> &mut Command {
    c.env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .env_remove("GOCOVERDIR")
}

fn livecov(args: &[&str]) -> Output {
    go_env(&mut Command::new(env!("CARGO_BIN_EXE_livecov")))
        .args(args)
        .output()
        .unwrap()
}

/// The fixture, built once with `livecov go build`; `None` when Go is missing.
fn service() -> Option<&'static Path> {
    static BIN: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    BIN.get_or_init(|| {
        let found = Command::new("go")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        external::require("go (Go 1.20+ on PATH)", found.then_some(()))?;
        let tmp = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/go_agent");
        for f in ["go.mod", "main.go"] {
            fs::copy(src.join(f), tmp.path().join(f)).unwrap();
        }
        let bin = tmp.path().join("svc");
        let out = go_env(&mut Command::new(env!("CARGO_BIN_EXE_livecov")))
            .args(["go", "build", "-o"])
            .arg(&bin)
            .arg(".")
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some((tmp, bin))
    })
    .as_ref()
    .map(|(_, b)| b.as_path())
}

/// A free port in the range coverage servers use, so --scan finds it.
fn free_coverage_port(skip: &[u16]) -> u16 {
    (53700..53750)
        .find(|p| !skip.contains(p) && TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port in 53700-53749")
}

struct Service {
    child: Child,
    addr: String,
}

/// The tests pick ports in the coverage range and scan it: one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

impl Service {
    fn start(bin: &Path, port: u16, cover_dir: &Path) -> Service {
        let mut child = Command::new(bin)
            .env("COVERAGE_PORT", port.to_string())
            .env("LIVECOV_LISTEN_HOST", "127.0.0.1")
            .env("GOCOVERDIR", cover_dir)
            // No handler of its own: the agent's flush is the only counter file at exit
            // (with a handler, Go's runtime writes one more when main returns).
            .env("FIXTURE_SIGNALS", "none")
            .env("LIVECOV_SIGNAL_GRACE", "300ms")
            .env_remove("LIVECOV_PUSH_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("fixture: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let s = Service { child, addr };
        let deadline = Instant::now() + WAIT;
        while get(&format!("127.0.0.1:{port}"), "/health").is_none() {
            assert!(Instant::now() < deadline, "the agent never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn work(&self, n: u32) {
        let r = get(&self.addr, &format!("/work?n={n}")).unwrap();
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }

    fn stop(mut self, signal: i32) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on the child this test started.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let deadline = Instant::now() + WAIT;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the service did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(WAIT)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

/// The process directories of a collection.
fn series_dirs(collection: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<_> = fs::read_dir(collection.join("coverage"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// `go tool covdata textfmt` of `dir`, without the agent's own blocks (they run when
/// the agent serves, so they differ between a live snapshot and the exit flush).
fn covdata_textfmt(dir: &Path) -> String {
    let out_file = dir.with_extension("txt");
    let out = go_env(&mut Command::new("go"))
        .args(["tool", "covdata", "textfmt"])
        .arg(format!("-i={}", dir.display()))
        .arg(format!("-o={}", out_file.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(&out_file)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("/livecov_agent.go:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn collects_live_processes_and_agrees_with_what_they_flush_at_exit() {
    let Some(bin) = service() else { return };
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let p1 = free_coverage_port(&[]);
    let p2 = free_coverage_port(&[p1]);
    let exit1 = tmp.path().join("exit1");
    let exit2 = tmp.path().join("exit2");
    fs::create_dir_all(&exit1).unwrap();
    fs::create_dir_all(&exit2).unwrap();
    let a = Service::start(bin, p1, &exit1);
    let b = Service::start(bin, p2, &exit2);
    a.work(10);
    b.work(3);
    b.work(4);

    let collection = tmp.path().join("run");
    let c = collection.to_str().unwrap();
    // One target unreachable: reported, the others still collected, exit 2.
    let dead = format!("127.0.0.1:{}", free_coverage_port(&[p1, p2]));
    let out = livecov(&[
        "collect",
        "--collection",
        c,
        &format!("127.0.0.1:{p1}"),
        &format!("http://127.0.0.1:{p2}/"),
        &dead,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&dead),
        "the failure names the target: {stderr}"
    );
    assert!(
        stderr.contains("collected 2 snapshots from 3 targets"),
        "{stderr}"
    );
    let dirs = series_dirs(&collection);
    assert_eq!(dirs.len(), 2, "{dirs:?}");

    // The store is compiled: one build, both processes in it.
    let report = livecov(&["report", "--collection", c, "--format", "json"]);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(json["builds"].as_array().unwrap().len(), 1, "{json:#}");

    // No traffic between the snapshot and the exit flush: the service's own blocks agree.
    a.stop(libc::SIGTERM);
    b.stop(libc::SIGTERM);
    let dir_of = |port: u16| {
        dirs.iter()
            .find(|d| {
                fs::read_to_string(d.join("info.json"))
                    .unwrap()
                    .contains(&format!("127.0.0.1:{port}"))
            })
            .unwrap()
            .clone()
    };
    for (port, exit) in [(p1, &exit1), (p2, &exit2)] {
        let live = covdata_textfmt(&dir_of(port));
        assert!(live.contains("main.go"), "{live}");
        assert_eq!(
            live,
            covdata_textfmt(exit),
            "live snapshot vs exit flush, port {port}"
        );
    }
}

#[test]
fn scan_and_watch_follow_a_restarted_process_into_a_new_series() {
    let Some(bin) = service() else { return };
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_coverage_port(&[]);
    let exit = tmp.path().join("exit");
    fs::create_dir_all(&exit).unwrap();
    let first = Service::start(bin, port, &exit);
    first.work(5);
    let collection = tmp.path().join("run");
    let c = collection.to_str().unwrap();
    let out = livecov(&["collect", "--collection", c, "--scan", "127.0.0.1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Other programs on this machine may serve coverage too: count this one's series.
    let ours = |collection: &Path| -> Vec<PathBuf> {
        series_dirs(collection)
            .into_iter()
            .filter(|d| {
                fs::read_to_string(d.join("info.json"))
                    .is_ok_and(|t| t.contains(&format!("\"http://127.0.0.1:{port}\"")))
            })
            .collect()
    };
    assert_eq!(ours(&collection).len(), 1, "the scan found the service");
    // Collected again: the same process continues its series.
    let out = livecov(&["collect", "--collection", c, &format!("127.0.0.1:{port}")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dirs = ours(&collection);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let files: Vec<String> = fs::read_dir(&dirs[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("covcounters."))
        .collect();
    assert_eq!(files.len(), 2, "both toggles written: {files:?}");

    // Killed and restarted on the same port: a new series, the old one kept.
    first.stop(libc::SIGKILL);
    let second = Service::start(bin, port, &exit);
    second.work(2);
    let out = livecov(&[
        "collect",
        "--collection",
        c,
        "--watch",
        "100ms",
        "--rounds",
        "2",
        &format!("127.0.0.1:{port}"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("in 2 rounds"), "{stderr}");
    assert_eq!(
        ours(&collection).len(),
        2,
        "a new series for the new process"
    );
    second.stop(libc::SIGTERM);
}

#[test]
fn bad_targets_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    let out = livecov(&["collect", "--collection", c.to_str().unwrap(), "localhost"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no port; expected host:port"), "{stderr}");
    let out = livecov(&["collect", "--collection", c.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to collect from"));
}

/// Starts the fixture in push mode only (no port of its own), pushing to `url`.
fn start_pushing(bin: &Path, url: &str, token_file: &Path) -> Child {
    Command::new(bin)
        .env("LIVECOV_SERVE", "off")
        .env("LIVECOV_PUSH_URL", url)
        .env("LIVECOV_TOKEN_FILE", token_file)
        .env("LIVECOV_PUSH_INTERVAL", "300ms")
        .env("FIXTURE_SIGNALS", "none")
        .env_remove("GOCOVERDIR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn pushes_reach_collect_listen_with_the_right_token_only() {
    let Some(bin) = service() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let good = tmp.path().join("good-token");
    let bad = tmp.path().join("bad-token");
    fs::write(&good, "s3cret\n").unwrap();
    fs::write(&bad, "guess\n").unwrap();
    let collection = tmp.path().join("run");
    let c = collection.to_str().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let run = |agent_token: &Path| {
        let collect = go_env(&mut Command::new(env!("CARGO_BIN_EXE_livecov")))
            .args([
                "collect",
                "--collection",
                c,
                "--listen",
                &listen,
                "--token-file",
            ])
            .arg(&good)
            .args(["--watch", "500ms", "--rounds", "6"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut agent = start_pushing(bin, &url, agent_token);
        let out = collect.wait_with_output().unwrap();
        let _ = agent.kill();
        let _ = agent.wait();
        out
    };
    let refused = run(&bad);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("collected 0 snapshots"),
        "a wrong token lands nothing: {err}"
    );

    let accepted = run(&good);
    let err = String::from_utf8_lossy(&accepted.stderr);
    assert!(accepted.status.success(), "{err}");
    let dirs = series_dirs(&collection);
    assert_eq!(dirs.len(), 1, "one process, one series: {dirs:?}");
    let info = fs::read_to_string(dirs[0].join("info.json")).unwrap();
    assert!(info.contains("push://127.0.0.1"), "{info}");
    let report = livecov(&["report", "--collection", c, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(json["builds"].as_array().unwrap().len(), 1, "{json:#}");
}

/// A shell command that sends one request to `addr` (bash's /dev/tcp: no curl needed).
fn request_command(addr: &str, path: &str) -> Vec<String> {
    let (host, port) = addr.rsplit_once(':').unwrap();
    vec![
        "bash".into(),
        "-c".into(),
        format!(
            "exec 3<>/dev/tcp/{host}/{port} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3 >/dev/null"
        ),
    ]
}

/// Statements covered in a `go tool covdata textfmt` text (each block's NumStmt once when
/// its count is not zero).
fn covered_in(text: &str) -> u64 {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.rsplitn(3, ' ');
            let count: u64 = f.next()?.parse().ok()?;
            let stmts: u64 = f.next()?.parse().ok()?;
            Some(if count > 0 { stmts } else { 0 })
        })
        .sum()
}

/// The blocks of every file of the site's build pages: (path, first line, count, scenario
/// bits), read from the chunk scripts `f/<k>.js`.
fn page_blocks(site: &Path) -> Vec<(String, u64, u64, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![site.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.parent().unwrap().ends_with("f") && p.extension().is_some_and(|x| x == "js")
            {
                let js = fs::read_to_string(&p).unwrap();
                for call in js.split("livecovFile(").skip(1) {
                    let path_at = call.find("{\"path\":").unwrap() + 8;
                    let path: String = serde_json::Deserializer::from_str(&call[path_at..])
                        .into_iter::<String>()
                        .next()
                        .unwrap()
                        .unwrap();
                    let at = call.find("\"blocks\":").unwrap() + 9;
                    let blocks: Vec<Vec<u64>> = serde_json::Deserializer::from_str(&call[at..])
                        .into_iter()
                        .next()
                        .unwrap()
                        .unwrap();
                    for b in blocks {
                        out.push((path.clone(), b[0], b[5], b.get(6).copied().unwrap_or(0)));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn scenarios_bracketed_by_reset_are_deltas_and_pages_say_which_ran_each_line() {
    let Some(bin) = service() else { return };
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_coverage_port(&[]);
    let exit = tmp.path().join("exit");
    fs::create_dir_all(&exit).unwrap();
    let svc = Service::start(bin, port, &exit);
    let collection = tmp.path().join("run");
    let c = collection.to_str().unwrap();
    let target = format!("127.0.0.1:{port}");
    // Start-up work, before any scenario: in no scenario's figures.
    svc.work(2);

    // Two scenarios, each: reset, its requests, one snapshot labelled with its name.
    for (name, path) in [("errors", "/work?n=x"), ("loop", "/work?n=7")] {
        let mut args = vec![
            "collect".to_owned(),
            "--collection".into(),
            c.into(),
            "--scenario".into(),
            name.into(),
            "--reset".into(),
            target.clone(),
            "--".into(),
        ];
        args.extend(request_command(&svc.addr, path));
        let out = livecov(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            out.status.success(),
            "scenario {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A failing scenario command: reported (exit 2), its snapshot kept all the same.
    let out = livecov(&[
        "collect",
        "--collection",
        c,
        "--scenario",
        "broken",
        "--reset",
        &target,
        "--",
        "false",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("scenario command \"false\" failed"),
        "{stderr}"
    );

    // One series per scenario, each labelled; the oracle reads each one's delta.
    let dirs = series_dirs(&collection);
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    let mut covdata_covered = std::collections::BTreeMap::new();
    for d in &dirs {
        let meta: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(d.join("metadata.json")).unwrap()).unwrap();
        let name = meta["labels"]["scenario"].as_str().unwrap().to_owned();
        covdata_covered.insert(name, covered_in(&covdata_textfmt(d)));
    }
    assert_eq!(
        covdata_covered.keys().collect::<Vec<_>>(),
        ["broken", "errors", "loop"]
    );

    // report --scenario NAME: what that scenario's snapshot covered, equal to covdata's
    // reading of it; the collection's own report lists the scenarios.
    let all = livecov(&["report", "--collection", c, "--format", "json"]);
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(
        all["scenarios"],
        serde_json::json!(["broken", "errors", "loop"])
    );
    let total = all["builds"][0]["covered_statements"].as_u64().unwrap();
    for (name, want) in &covdata_covered {
        let out = livecov(&[
            "report",
            "--collection",
            c,
            "--format",
            "json",
            "--scenario",
            name,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["scenario"], name.as_str());
        let got = json["builds"][0]["covered_statements"].as_u64().unwrap();
        assert_eq!(got, *want, "scenario {name}: livecov vs go tool covdata");
        assert!(got < total, "scenario {name} covers less than all of them");
        assert_eq!(json["owners"].as_array().unwrap().len(), 1, "{json:#}");
    }
    assert!(covdata_covered["errors"] > 0 && covdata_covered["loop"] > covdata_covered["errors"]);
    let out = livecov(&["report", "--collection", c, "--scenario", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no scenario \"nope\" in this collection (it has: broken, errors, loop)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The build page: each block says which scenarios ran it.
    let site = tmp.path().join("site");
    let out = livecov(&[
        "render",
        "--collection",
        c,
        "--output-dir",
        site.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blocks = page_blocks(&site);
    let page = fs::read_dir(site.join("b"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("index.html");
    let html = fs::read_to_string(&page).unwrap();
    let data_at = html.find("application/json\">").unwrap() + 18;
    let data: serde_json::Value = serde_json::Deserializer::from_str(&html[data_at..])
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let names: Vec<&str> = data["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["broken", "errors", "loop"]);
    for (i, s) in data["scenarios"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            s["covered"].as_u64().unwrap(),
            covdata_covered[names[i]],
            "page total of scenario {}",
            names[i]
        );
    }
    let bit = |name: &str| 1u64 << names.iter().position(|n| *n == name).unwrap();
    let main_go: Vec<_> = blocks
        .iter()
        .filter(|b| b.0.ends_with("/main.go"))
        .collect();
    let line_of = |needle: &str| {
        let src = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/go_agent/main.go"),
        )
        .unwrap();
        1 + src.lines().position(|l| l.contains(needle)).unwrap() as u64
    };
    // A branch's block starts at its `{`, on the `if` line (handleWork's is the file's
    // first `if err != nil`).
    let error_line = line_of("if err != nil");
    let loop_line = line_of("if i%3 == 0");
    let at = |line: u64| {
        main_go
            .iter()
            .find(|b| b.1 == line)
            .unwrap_or_else(|| panic!("no block starts on line {line}: {main_go:?}"))
    };
    assert_eq!(
        at(error_line).3,
        bit("errors"),
        "only `errors` ran the error branch"
    );
    assert_eq!(
        at(loop_line).3,
        bit("loop"),
        "only `loop` ran the loop body"
    );
    assert!(at(loop_line).2 > 0, "the loop ran (all snapshots merged)");
    assert_eq!(
        main_go.iter().filter(|b| b.3 & bit("broken") != 0).count(),
        0,
        "`broken` sent no request: it ran no line of main.go"
    );
    // The index lists each scenario per build.
    let index = fs::read_to_string(site.join("index.html")).unwrap();
    assert!(index.contains("\"scenarios\":{\"broken\":"), "{index}");
    svc.stop(libc::SIGTERM);
}
