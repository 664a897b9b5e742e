//! `livecov collect --output URL` against a real S3-compatible server (moto) and a real
//! process: the fixture service of tests/data/go_agent/ built with `livecov go build`,
//! collected once into a collection and its bucket, once into a bucket alone. What
//! `cluster download` then `cluster compile` read back from each bucket must report the
//! same builds and totals as the collection compiled by collect itself.
//!
//! The service's agent listens on a port outside 53700-53799 (COVERAGE_PORT, named
//! explicitly as the target), so no scan of another test can meet it and no lock is
//! needed. Needs Go and moto_server (support/external.rs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/external.rs"]
mod external;

const WAIT: Duration = Duration::from_secs(30);
const BUCKET: &str = "livecov-output";

fn go_env(c: &mut Command) -> &mut Command {
    c.env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .env_remove("GOCOVERDIR")
}

fn livecov(args: &[&str]) -> Output {
    let out = go_env(&mut Command::new(env!("CARGO_BIN_EXE_livecov")))
        // Only the keys given on the command line reach moto.
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "livecov {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn find_moto() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LIVECOV_MOTO_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let venv = PathBuf::from("/var/tmp/livecov-ci-venv/bin/moto_server");
        venv.is_file().then_some(venv)
    })
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "{request}").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

fn build_service(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/go_agent");
    for f in ["go.mod", "main.go"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let bin = dir.join("svc");
    let out = go_env(&mut Command::new(env!("CARGO_BIN_EXE_livecov")))
        .args(["go", "build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "livecov go build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// The builds and owners of a collection's report, without times.
fn totals(collection: &Path) -> serde_json::Value {
    let out = livecov(&[
        "report",
        "--format",
        "json",
        "--collection",
        collection.to_str().unwrap(),
    ]);
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for o in v["owners"].as_array_mut().unwrap() {
        let o = o.as_object_mut().unwrap();
        o.remove("first_seen");
        o.remove("last_seen");
    }
    serde_json::json!({"builds": v["builds"], "owners": v["owners"]})
}

#[test]
fn output_to_s3_reads_back_through_cluster_download_and_compile_with_equal_totals() {
    let have_go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let Some(()) = external::require("go (Go 1.20+ on PATH)", have_go.then_some(())) else {
        return;
    };
    let Some(moto_bin) = external::require(
        "moto_server (LIVECOV_MOTO_SERVER, PATH, /var/tmp/livecov-ci-venv; run .ci/install-moto.sh)",
        find_moto(),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bin = build_service(tmp.path());

    let moto_port = free_port();
    let _moto = Killed(
        Command::new(&moto_bin)
            .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(moto_port, "moto_server");
    let moto = format!("127.0.0.1:{moto_port}");
    let created = http(
        &moto,
        &format!("PUT /{BUCKET} HTTP/1.1\r\nHost: {moto}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    );
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");

    // The service, its agent on a port of its own, with some traffic.
    let agent_port = free_port();
    let mut child = go_env(&mut Command::new(&bin))
        .env("COVERAGE_PORT", agent_port.to_string())
        .env("LIVECOV_LISTEN_HOST", "127.0.0.1")
        .env_remove("LIVECOV_PUSH_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _service = Killed(child);
    let addr = line
        .trim()
        .strip_prefix("fixture: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    wait_for(agent_port, "the agent");
    let work = http(
        &addr,
        &format!("GET /work?n=7 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert!(work.starts_with("HTTP/1.1 200"), "{work}");

    let endpoint = format!("http://{moto}");
    let target = format!("127.0.0.1:{agent_port}");
    let s3 = [
        "--endpoint",
        endpoint.as_str(),
        "--region",
        "us-east-1",
        "--store-option",
        "aws_access_key_id=test",
        "--store-option",
        "aws_secret_access_key=test",
    ];
    let direct = tmp.path().join("direct");
    let mut args = vec![
        "collect",
        "--collection",
        direct.to_str().unwrap(),
        "--output",
        "s3://livecov-output/coverage/cluster-a",
    ];
    args.extend(s3);
    args.push(&target);
    livecov(&args);
    // Without --collection: the bucket is the only output.
    let mut args = vec![
        "collect",
        "--output",
        "s3://livecov-output/coverage/cluster-b",
    ];
    args.extend(s3);
    args.push(&target);
    let alone = livecov(&args);
    let stderr = String::from_utf8_lossy(&alone.stderr);
    assert!(
        !stderr.contains("compiled"),
        "nothing is compiled without --collection: {stderr}"
    );

    let want = totals(&direct);
    let builds = want["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 1, "{want:#}");
    assert!(
        builds[0]["covered_statements"].as_u64().unwrap() > 0,
        "{want:#}"
    );
    for prefix in ["cluster-a", "cluster-b"] {
        let back = tmp.path().join(format!("back-{prefix}"));
        let url = format!("s3://{BUCKET}/coverage/{prefix}");
        let mut args = vec![
            "cluster",
            "download",
            "--collection",
            back.to_str().unwrap(),
            "--url",
            url.as_str(),
        ];
        args.extend(s3);
        let down = livecov(&args);
        let summary = String::from_utf8_lossy(&down.stdout);
        assert!(
            summary.contains("host entries:  1 (1 instance)"),
            "{summary}"
        );
        assert!(!summary.contains("skipped keys"), "{summary}");
        livecov(&["cluster", "compile", "--collection", back.to_str().unwrap()]);
        assert_eq!(totals(&back), want, "{url} read back differs");
    }
}
