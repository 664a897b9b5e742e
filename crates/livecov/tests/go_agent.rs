//! The Go agent (`agents/go/livecov_agent.go`) inside a real program.
//!
//! The fixture service under `tests/data/go_agent/` and the agent are copied into a temp
//! dir and built with the installed Go (`-cover -covermode=atomic`, `-covermode=set`,
//! and without `-cover`), then run on 127.0.0.1 and talked to over real sockets. What
//! the agent serves is decoded with livecov's own gocovdata decoder; what it flushes on
//! SIGTERM is read with `go tool covdata`. Without `go` the tests are skipped, or fail
//! when `CI` is set (`support/external.rs`). Nothing is downloaded: the fixture has no
//! dependencies and the builds run with `GOPROXY=off`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use livecov_formats::gocovdata::{decode_counter_file, decode_meta_file, CounterFile, MetaFile};

#[path = "support/external.rs"]
mod external;

const FIXTURE_PKG: &str = "example.com/goagentfixture";
const WAIT: Duration = Duration::from_secs(20);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `go` command that never downloads and ignores the caller's Go settings.
fn go_cmd() -> Command {
    let mut c = Command::new("go");
    c.env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .env_remove("GOCOVERDIR");
    c
}

fn go_available() -> bool {
    go_cmd()
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The fixture built three ways, once per test run.
struct Binaries {
    _dir: tempfile::TempDir,
    atomic: PathBuf,
    set: PathBuf,
    plain: PathBuf,
}

fn binaries() -> Option<&'static Binaries> {
    static BUILT: OnceLock<Option<Binaries>> = OnceLock::new();
    let found = go_available().then_some(());
    external::require("`go` on PATH", found)?;
    BUILT.get_or_init(|| Some(build_all())).as_ref()
}

fn build_all() -> Binaries {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let fixture = workspace_root().join("crates/livecov/tests/data/go_agent");
    for name in ["main.go", "go.mod"] {
        std::fs::copy(fixture.join(name), src.join(name)).unwrap();
    }
    std::fs::copy(
        workspace_root().join("agents/go/livecov_agent.go"),
        src.join("livecov_agent.go"),
    )
    .unwrap();
    let build = |name: &str, flags: &[&str]| {
        let out = dir.path().join(name);
        let mut cmd = go_cmd();
        cmd.arg("build").args(flags).arg("-o").arg(&out).arg(".");
        cmd.current_dir(&src);
        let output = cmd.output().expect("running go build");
        assert!(
            output.status.success(),
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    };
    Binaries {
        atomic: build("svc-atomic", &["-cover", "-covermode=atomic"]),
        set: build("svc-set", &["-cover", "-covermode=set"]),
        plain: build("svc-plain", &[]),
        _dir: dir,
    }
}

/// A running fixture: its service address, the agent's address (when it serves), and
/// its output so far.
struct Service {
    child: Child,
    addr: String,
    agent: Option<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Collects a pipe's lines and forwards each to `tx`.
fn collect_lines(
    pipe: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<String>>>,
) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            into.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    rx
}

fn wait_for_line(rx: &Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(_) => {}
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

/// Starts `bin` with `env`; waits for the service line and, when `agent` is true, for
/// the agent's "serving coverage on ADDR" line.
fn start(bin: &Path, env: &[(&str, &str)], agent: bool) -> Service {
    let port = free_port().to_string();
    let mut cmd = Command::new(bin);
    cmd.env("COVERAGE_PORT", &port)
        .env("LIVECOV_LISTEN_HOST", "127.0.0.1")
        .env_remove("GOCOVERDIR")
        .env_remove("LIVECOV_PUSH_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // A program starts with the signals its parent ignores ignored, and the agent leaves
    // an ignored signal alone (as it should for nohup). A test run in the background
    // (`cmd &` in a script ignores SIGINT and SIGQUIT) must not make the fixtures
    // immune: they start with the default dispositions, as from a terminal.
    // SAFETY: signal(2) only, between fork and exec; it allocates nothing.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT, libc::SIGHUP] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("starting the fixture");
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let out_rx = collect_lines(child.stdout.take().unwrap(), stdout.clone());
    let err_rx = collect_lines(child.stderr.take().unwrap(), stderr.clone());
    let line = wait_for_line(&out_rx, "the fixture's address", |l| {
        l.starts_with("fixture: listening on ")
    });
    let addr = line["fixture: listening on ".len()..].to_owned();
    // The agent binds in init(), before main prints anything.
    let agent = agent.then(|| {
        let line = wait_for_line(&err_rx, "the agent's address", |l| {
            l.contains("serving coverage on ")
        });
        let rest = &line[line.find("serving coverage on ").unwrap() + 20..];
        rest.split_whitespace().next().unwrap().to_owned()
    });
    Service {
        child,
        addr,
        agent,
        stdout,
        stderr,
    }
}

impl Service {
    fn agent(&self) -> &str {
        self.agent.as_deref().expect("the agent serves")
    }

    fn signal(&self, sig: i32) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on the child we started; no memory is shared.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill {pid} {sig}");
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(Instant::now() < deadline, "the fixture did not exit");
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.0 exchange (the server closes the connection, so the body ends at EOF).
fn http(addr: &str, method: &str, path: &str) -> Response {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of the response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response {
        status: status.parse().unwrap(),
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Standard base64 with padding, as Go's `base64.StdEncoding` writes it.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c:?}"),
        }
    };
    let bytes = text.as_bytes();
    assert_eq!(bytes.len() % 4, 0, "base64 length {}", bytes.len());
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        let n = chunk[..4 - pad]
            .iter()
            .fold(0u32, |n, &c| (n << 6) | value(c))
            << (6 * pad);
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A decoded `GET /coverage` body.
struct Snapshot {
    json: serde_json::Map<String, serde_json::Value>,
    meta: Option<MetaFile>,
    counters: CounterFile,
}

impl Snapshot {
    fn field(&self, name: &str) -> &str {
        self.json[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is not a string"))
    }
}

fn parse_snapshot(body: &[u8]) -> Snapshot {
    let value: serde_json::Value = serde_json::from_slice(body).expect("snapshot JSON");
    let json = value.as_object().expect("a JSON object").clone();
    let meta_data = json["meta_data"].as_str().unwrap();
    let meta = (!meta_data.is_empty()).then(|| {
        let (meta, warnings) = decode_meta_file(&base64_decode(meta_data)).expect("meta decodes");
        assert!(warnings.is_empty(), "meta warnings: {warnings:?}");
        meta
    });
    let (counters, warnings) =
        decode_counter_file(&base64_decode(json["counters_data"].as_str().unwrap()))
            .expect("counters decode");
    assert!(warnings.is_empty(), "counter warnings: {warnings:?}");
    Snapshot {
        json,
        meta,
        counters,
    }
}

/// The sum of a fixture function's counters in `counters` (0 when it has no record).
fn func_count(meta: &MetaFile, counters: &CounterFile, func: &str) -> u64 {
    let pkg = meta
        .packages
        .iter()
        .position(|p| p.path == FIXTURE_PKG)
        .expect("the fixture package in the meta");
    let f = meta.packages[pkg]
        .functions
        .iter()
        .position(|f| &*f.name == func)
        .unwrap_or_else(|| panic!("function {func} in the meta"));
    counters
        .records
        .iter()
        .filter(|r| r.pkg as usize == pkg && r.func as usize == f)
        .flat_map(|r| &r.counters)
        .map(|&c| u64::from(c))
        .sum()
}

fn covdata_percent(dir: &Path) -> String {
    let output = go_cmd()
        .args(["tool", "covdata", "percent"])
        .arg(format!("-i={}", dir.display()))
        .output()
        .expect("running go tool covdata");
    assert!(
        output.status.success(),
        "go tool covdata percent -i={} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The `covmeta.*` and `covcounters.*` names in `dir`, sorted.
fn cov_files(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let metas = names
        .iter()
        .filter(|n| n.starts_with("covmeta."))
        .cloned()
        .collect();
    let counters = names
        .into_iter()
        .filter(|n| n.starts_with("covcounters."))
        .collect();
    (metas, counters)
}

#[test]
fn serves_the_deployed_protocol_with_the_real_meta_hash() {
    let Some(bins) = binaries() else { return };
    let svc = start(
        &bins.atomic,
        &[
            ("SOURCE_GIT_COMMIT", "0123abcd"),
            ("SOURCE_GIT_URL", "https://example.com/svc.git"),
            ("__doozer_group", "openshift-4.99"),
            ("SOFTWARE_KEY", "svc-key"),
        ],
        true,
    );
    let agent = svc.agent();

    let health = http(agent, "GET", "/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.text(), "coverage server healthy");

    // Identity headers on every response, HEAD included.
    for (method, path) in [
        ("GET", "/health"),
        ("HEAD", "/health"),
        ("HEAD", "/coverage"),
    ] {
        let r = http(agent, method, path);
        assert_eq!(r.status, 200, "{method} {path}");
        assert_eq!(r.header("X-Art-Coverage-Server"), Some("1"));
        assert_eq!(
            r.header("X-Art-Coverage-Pid"),
            Some(svc.child.id().to_string().as_str())
        );
        assert_eq!(r.header("X-Art-Coverage-Binary"), Some("svc-atomic"));
        assert_eq!(r.header("X-Art-Coverage-Source-Commit"), Some("0123abcd"));
        assert_eq!(
            r.header("X-Art-Coverage-Source-Url"),
            Some("https://example.com/svc.git")
        );
        // SOFTWARE_GROUP unset: the doozer fallback.
        assert_eq!(
            r.header("X-Art-Coverage-Software-Group"),
            Some("openshift-4.99")
        );
        assert_eq!(r.header("X-Art-Coverage-Software-Key"), Some("svc-key"));
        assert_eq!(r.header("X-Livecov-Cover-Mode"), Some("atomic"));
    }
    let missing = http(agent, "GET", "/nothing-here");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("X-Art-Coverage-Server"), Some("1"));

    // GET /coverage: the five fields, both blobs decode, one hash everywhere.
    let r = http(agent, "GET", "/coverage");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let snap = parse_snapshot(&r.body);
    let keys: Vec<&str> = snap.json.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "counters_data",
            "counters_filename",
            "meta_data",
            "meta_filename",
            "timestamp"
        ]
    );
    let meta = snap.meta.as_ref().expect("a full snapshot has the meta");
    let hash = hex(&meta.hash);
    assert_eq!(meta.mode_name(), "atomic");
    assert_eq!(snap.field("meta_filename"), format!("covmeta.{hash}"));
    assert_eq!(hex(&snap.counters.meta_hash), hash);
    assert_eq!(r.header("X-Livecov-Meta-Hash"), Some(hash.as_str()));
    let timestamp = snap.json["timestamp"].as_i64().unwrap();
    assert_eq!(
        snap.field("counters_filename"),
        format!("covcounters.{hash}.{}.{timestamp}", svc.child.id())
    );
    assert!(meta.packages.iter().any(|p| p.path == FIXTURE_PKG));
    let before = func_count(meta, &snap.counters, "handleWork");

    // Exercise the fixture's handler: its counters grow, in a nometa snapshot.
    for n in [5, 50, 500] {
        let w = http(&svc.addr, "GET", &format!("/work?n={n}"));
        assert_eq!(w.status, 200, "{}", w.text());
    }
    let r = http(agent, "GET", "/coverage?nometa=1");
    assert_eq!(r.status, 200, "{}", r.text());
    let later = parse_snapshot(&r.body);
    assert!(later.meta.is_none());
    assert_eq!(later.field("meta_filename"), "");
    assert_eq!(later.field("meta_data"), "");
    assert!(
        later
            .field("counters_filename")
            .starts_with(&format!("covcounters.{hash}.")),
        "nometa still names the real hash: {}",
        later.field("counters_filename")
    );
    let after = func_count(meta, &later.counters, "handleWork");
    assert!(
        after > before,
        "handleWork counters grew: {before} -> {after}"
    );
    assert!(func_count(meta, &later.counters, "work") > 0);
    assert_eq!(func_count(meta, &later.counters, "neverCalled"), 0);

    // Reset zeroes every counter; only POST resets.
    assert_eq!(http(agent, "GET", "/coverage/reset").status, 405);
    let reset = http(agent, "POST", "/coverage/reset");
    assert_eq!(reset.status, 200, "{}", reset.text());
    let cleared = parse_snapshot(&http(agent, "GET", "/coverage").body);
    // The meta's base64 is cached after the first full snapshot: still the same bytes.
    assert_eq!(cleared.field("meta_data"), snap.field("meta_data"));
    assert_eq!(func_count(meta, &cleared.counters, "handleWork"), 0);
    assert_eq!(func_count(meta, &cleared.counters, "work"), 0);
    // And counting resumes afterwards.
    http(&svc.addr, "GET", "/work?n=3");
    let resumed = parse_snapshot(&http(agent, "GET", "/coverage?nometa=1").body);
    assert!(func_count(meta, &resumed.counters, "handleWork") > 0);
}

#[test]
fn set_mode_refuses_live_counters_and_reset_with_a_reason() {
    let Some(bins) = binaries() else { return };
    let mut svc = start(&bins.set, &[], true);
    let agent = svc.agent();
    assert_eq!(http(agent, "GET", "/health").status, 200);
    let reset = http(agent, "POST", "/coverage/reset");
    assert_eq!(reset.status, 409);
    assert!(
        reset.text().contains("-covermode=atomic") && reset.text().contains("-covermode=set"),
        "{}",
        reset.text()
    );
    // Live counters need atomic mode: the deployed protocol's 500 with the reason.
    let cov = http(agent, "GET", "/coverage");
    assert_eq!(cov.status, 500);
    assert!(cov.text().contains("atomic"), "{}", cov.text());
    // No signal watch in set mode (the flush could not read the counters): SIGTERM
    // still reaches the program's own handler alone.
    assert!(
        svc.stderr().contains("need -covermode=atomic"),
        "{}",
        svc.stderr()
    );
    svc.signal(libc::SIGTERM);
    assert_eq!(svc.wait().code(), Some(0));
    assert!(svc.stdout().contains("fixture: signals received 1"));
}

#[test]
fn sigterm_flushes_into_gocoverdir_and_the_programs_own_shutdown_runs() {
    let Some(bins) = binaries() else { return };
    let dir = tempfile::tempdir().unwrap();
    let gocoverdir = dir.path().to_str().unwrap();
    let mut svc = start(&bins.atomic, &[("GOCOVERDIR", gocoverdir)], true);
    let hash = http(svc.agent(), "HEAD", "/health")
        .header("X-Livecov-Meta-Hash")
        .unwrap()
        .to_owned();
    http(&svc.addr, "GET", "/work?n=10");
    svc.signal(libc::SIGTERM);
    let status = svc.wait();
    let stdout = svc.stdout();
    assert_eq!(status.code(), Some(0), "{stdout}\n{}", svc.stderr());
    assert!(
        stdout.contains("fixture: shutdown hook ran (terminated)"),
        "{stdout}"
    );
    // The agent did not send the program a second signal.
    assert!(stdout.contains("fixture: signals received 1"), "{stdout}");
    assert!(
        svc.stderr().contains("terminated: flushed coverage into"),
        "{}",
        svc.stderr()
    );
    let (metas, counters) = cov_files(dir.path());
    assert_eq!(metas, [format!("covmeta.{hash}")]);
    // The agent's flush and the runtime's own at the return from main.
    assert_eq!(counters.len(), 2, "{counters:?}");
    let meta_bytes = std::fs::read(dir.path().join(&metas[0])).unwrap();
    assert_eq!(hex(&decode_meta_file(&meta_bytes).unwrap().0.hash), hash);
    let percent = covdata_percent(dir.path());
    assert!(percent.contains(FIXTURE_PKG), "{percent}");
}

#[test]
fn a_signal_without_a_program_handler_still_terminates_after_the_flush() {
    let Some(bins) = binaries() else { return };
    for (sig, name) in [(libc::SIGTERM, "terminated"), (libc::SIGINT, "interrupt")] {
        let dir = tempfile::tempdir().unwrap();
        let mut svc = start(
            &bins.atomic,
            &[
                ("GOCOVERDIR", dir.path().to_str().unwrap()),
                ("FIXTURE_SIGNALS", "none"),
                ("LIVECOV_SIGNAL_GRACE", "100ms"),
            ],
            true,
        );
        http(&svc.addr, "GET", "/work?n=10");
        // A full snapshot first, so the agent holds the meta's base64 when it flushes.
        let served = parse_snapshot(&http(svc.agent(), "GET", "/coverage").body);
        svc.signal(sig);
        let status = svc.wait();
        // Killed by the signal, as without the agent.
        assert_eq!(status.signal(), Some(sig), "{status:?}\n{}", svc.stderr());
        assert!(
            svc.stderr()
                .contains(&format!("{name}: flushed coverage into")),
            "{}",
            svc.stderr()
        );
        // Only the agent wrote counters: the runtime writes none on a fatal signal.
        let (metas, counters) = cov_files(dir.path());
        assert_eq!(metas.len(), 1, "{metas:?}");
        assert_eq!(counters.len(), 1, "{counters:?}");
        let bytes = std::fs::read(dir.path().join(&counters[0])).unwrap();
        let (file, _) = decode_counter_file(&bytes).unwrap();
        let meta_bytes = std::fs::read(dir.path().join(&metas[0])).unwrap();
        assert_eq!(meta_bytes, base64_decode(served.field("meta_data")));
        let meta = decode_meta_file(&meta_bytes).unwrap().0;
        assert!(func_count(&meta, &file, "handleWork") > 0);
        let percent = covdata_percent(dir.path());
        assert!(percent.contains(FIXTURE_PKG), "{percent}");
    }
}

/// One request received by the test's push endpoint.
struct Pushed {
    request_line: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// A tiny HTTP endpoint: answers the first `fail_first` requests with 503, the rest
/// with 200, and hands each request over.
fn push_endpoint(fail_first: usize) -> (String, Receiver<Pushed>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let Some(req) = read_request(&stream) else {
                continue;
            };
            let reply = if i < fail_first {
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            };
            let _ = (&stream).write_all(reply.as_bytes());
            if tx.send(req).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

impl Pushed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

fn read_request(stream: &TcpStream) -> Option<Pushed> {
    stream.set_read_timeout(Some(WAIT)).ok()?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Pushed {
        request_line: request_line.trim_end().to_owned(),
        headers,
        body,
    })
}

#[test]
fn push_mode_posts_snapshots_with_the_token_retries_and_pushes_at_exit() {
    let Some(bins) = binaries() else { return };
    let (addr, rx) = push_endpoint(1);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let url = format!("http://{addr}/ingest");
    let coverage_port = free_port();
    let mut svc = start(
        &bins.atomic,
        &[
            ("LIVECOV_PUSH_URL", &url),
            ("LIVECOV_TOKEN_FILE", token_file.to_str().unwrap()),
            ("LIVECOV_PUSH_INTERVAL", "300ms"),
            ("LIVECOV_SERVE", "off"),
            ("COVERAGE_PORT", &coverage_port.to_string()),
        ],
        false,
    );
    // Push only: no inbound port.
    assert!(
        TcpStream::connect(("127.0.0.1", coverage_port)).is_err(),
        "LIVECOV_SERVE=off opens no port"
    );
    let next = || rx.recv_timeout(WAIT).expect("a push");
    let check = |p: &Pushed| -> Snapshot {
        assert_eq!(p.request_line, "POST /ingest HTTP/1.1");
        assert_eq!(p.header("authorization"), Some("Bearer s3cret-token"));
        assert_eq!(p.header("content-type"), Some("application/json"));
        assert_eq!(
            p.header("x-art-coverage-pid"),
            Some(svc.child.id().to_string().as_str())
        );
        let snap = parse_snapshot(&p.body);
        let meta = snap.meta.as_ref().expect("pushes carry the meta");
        assert_eq!(
            snap.field("meta_filename"),
            format!("covmeta.{}", hex(&meta.hash))
        );
        assert_eq!(snap.counters.meta_hash, meta.hash);
        snap
    };
    let first = next();
    check(&first);
    assert_eq!(first.header("x-livecov-push-reason"), Some("interval"));
    // The 503 is retried.
    let retry = next();
    check(&retry);
    assert_eq!(retry.header("x-livecov-push-reason"), Some("retry"));

    // Traffic shows up in a later push; SIGTERM sends a last one.
    for _ in 0..3 {
        http(&svc.addr, "GET", "/work?n=7");
    }
    svc.signal(libc::SIGTERM);
    let mut exit = None;
    while exit.is_none() {
        let p = next();
        let snap = check(&p);
        if p.header("x-livecov-push-reason") == Some("exit") {
            exit = Some(snap);
        }
    }
    let exit = exit.unwrap();
    let meta = exit.meta.as_ref().unwrap();
    assert!(func_count(meta, &exit.counters, "handleWork") >= 3);
    assert_eq!(svc.wait().code(), Some(0), "{}", svc.stderr());
    assert!(svc.stdout().contains("fixture: shutdown hook ran"));
}

#[test]
fn push_failures_never_crash_the_program() {
    let Some(bins) = binaries() else { return };
    // A port nobody listens on, and a token file that does not exist.
    let url = format!("http://127.0.0.1:{}/ingest", free_port());
    let svc = start(
        &bins.atomic,
        &[
            ("LIVECOV_PUSH_URL", &url),
            ("LIVECOV_TOKEN_FILE", "/nonexistent/livecov-token"),
            ("LIVECOV_PUSH_INTERVAL", "100ms"),
        ],
        true,
    );
    thread::sleep(Duration::from_millis(800));
    assert_eq!(http(&svc.addr, "GET", "/work?n=2").status, 200);
    assert_eq!(http(svc.agent(), "GET", "/health").status, 200);
    let stderr = svc.stderr();
    assert!(
        stderr.contains("push to") && stderr.contains("LIVECOV_TOKEN_FILE"),
        "{stderr}"
    );
}

#[test]
fn a_binary_built_without_cover_opens_no_port_and_keeps_its_signals() {
    let Some(bins) = binaries() else { return };
    let (push_addr, pushes) = push_endpoint(0);
    let coverage_port = free_port();
    let url = format!("http://{push_addr}/ingest");
    let mut svc = start(
        &bins.plain,
        &[
            ("COVERAGE_PORT", &coverage_port.to_string()),
            ("LIVECOV_PUSH_URL", &url),
            ("LIVECOV_PUSH_INTERVAL", "100ms"),
            ("FIXTURE_SIGNALS", "none"),
        ],
        false,
    );
    assert_eq!(http(&svc.addr, "GET", "/work?n=2").status, 200);
    assert!(
        TcpStream::connect(("127.0.0.1", coverage_port)).is_err(),
        "no coverage port in a binary without -cover"
    );
    assert!(
        pushes.recv_timeout(Duration::from_millis(600)).is_err(),
        "no push from a binary without -cover"
    );
    // No signal handler either: SIGTERM kills at once, with no flush.
    svc.signal(libc::SIGTERM);
    assert_eq!(svc.wait().signal(), Some(libc::SIGTERM));
    assert!(!svc.stderr().contains("livecov agent"), "{}", svc.stderr());
}

/// The agent's Go unit tests (`agents/go/livecov_agent_test.go`: the hand-written JSON
/// body, the meta cache, reset and flush with stand-ins for runtime/coverage), run here
/// so a suite run covers them too.
#[test]
fn the_agents_go_unit_tests_pass() {
    let found = go_available().then_some(());
    if external::require("`go` on PATH", found).is_none() {
        return;
    }
    for args in [&["vet", "."][..], &["test", "-count=1", "."][..]] {
        let mut cmd = go_cmd();
        cmd.args(args)
            .current_dir(workspace_root().join("agents/go"));
        let output = cmd.output().expect("running go");
        assert!(
            output.status.success(),
            "{cmd:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
