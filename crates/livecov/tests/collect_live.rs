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
