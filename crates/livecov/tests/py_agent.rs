//! The Python agent (`agents/python/livecov_sitecustomize/`) in a real Python service.
//!
//! The stdlib HTTP service of `tests/data/py_agent/` runs under the real coverage.py
//! (`.ci/install-coveragepy.sh`, or `LIVECOV_COVERAGEPY_PYTHON`) with the agent on
//! `PYTHONPATH`, is sent requests on 127.0.0.1, collected live with `livecov collect`,
//! reset, pushed to `livecov collect --listen`, and stopped with SIGTERM. What livecov
//! collected is read with livecov's own coverage.py reader and compared with what
//! coverage.py itself (`coverage json`, `coverage report`) says about the data file the
//! process saved at exit. Without coverage.py the tests are skipped, or fail when `CI` is
//! set (`support/external.rs`).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use livecov_formats::coveragepy::read_data_file;
use serde_json::Value;

#[path = "support/external.rs"]
mod external;

const WAIT: Duration = Duration::from_secs(30);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn agent_dir() -> PathBuf {
    workspace_root().join("agents/python/livecov_sitecustomize")
}

/// The Python of a venv holding coverage.py: `LIVECOV_COVERAGEPY_PYTHON`, or the venv
/// `.ci/install-coveragepy.sh` makes (as crates/livecov-formats/tests/coveragepy.rs).
fn python() -> Option<PathBuf> {
    let candidates = std::env::var_os("LIVECOV_COVERAGEPY_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/var/tmp/lc-venv-covpy/bin/python3")]);
    let found = candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import coverage"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    external::require(
        "coverage.py (run .ci/install-coveragepy.sh or set LIVECOV_COVERAGEPY_PYTHON)",
        found,
    )
}

fn livecov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .output()
        .unwrap()
}

fn assert_ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The tests that bind ports in the coverage range 53700-53799 and scan it: one at a
/// time (as in collect_live.rs; test binaries themselves run one after another).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fixture service under the agent.
struct Service {
    child: Child,
    /// The service's own address.
    addr: String,
    /// The agent's address, when it serves.
    agent: Option<String>,
    /// Where the process started: its copy of the fixture and its data files.
    dir: PathBuf,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Service {
    /// Copies the fixture into `dir` and starts it there with the agent on and `env`.
    fn start(python: &Path, dir: &Path, env: &[(&str, &str)]) -> Service {
        fs::create_dir_all(dir).unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/py_agent");
        for f in ["service.py", "child.py"] {
            fs::copy(fixture.join(f), dir.join(f)).unwrap();
        }
        let mut cmd = Command::new(python);
        cmd.arg("service.py")
            .current_dir(dir)
            .env("PYTHONPATH", agent_dir())
            .env("LIVECOV_PYTHON", "1")
            .env("LIVECOV_LISTEN_HOST", "127.0.0.1")
            .env("COVERAGE_FILE", dir.join(".coverage"))
            .env_remove("COVERAGE_PROCESS_START")
            .env_remove("COVERAGE_PORT")
            .env_remove("LIVECOV_PUSH_URL")
            .env_remove("LIVECOV_SERVE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting the fixture");
        // Both pipes are read to the end, so the program never writes into a closed pipe.
        let lines = |pipe: Box<dyn Read + Send>| {
            let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let (tx, rx) = std::sync::mpsc::channel();
            let kept = seen.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    kept.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
            (seen, rx)
        };
        let (stdout, out_rx) = lines(Box::new(child.stdout.take().unwrap()));
        let (stderr, rx) = lines(Box::new(child.stderr.take().unwrap()));
        let line = out_rx.recv_timeout(WAIT).unwrap_or_else(|e| {
            panic!(
                "no first line from the fixture ({e}); stderr: {:?}",
                stderr.lock().unwrap()
            )
        });
        let addr = line
            .trim()
            .strip_prefix("fixture: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let serves = !env.iter().any(|(k, v)| *k == "LIVECOV_SERVE" && *v == "0");
        // sitecustomize starts the agent before the program's first line runs.
        let agent = serves.then(|| loop {
            let line = rx
                .recv_timeout(WAIT)
                .expect("the agent's \"serving coverage on\" line");
            if let Some(rest) = line.split("serving coverage on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        });
        Service {
            child,
            addr,
            agent,
            dir: dir.to_path_buf(),
            stdout,
            stderr,
        }
    }

    fn agent(&self) -> &str {
        self.agent.as_deref().expect("the agent serves")
    }

    fn get(&self, path: &str) -> String {
        let (status, body) = http(&self.addr, "GET", path);
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    fn stop(&mut self, signal: i32) -> ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on the child this test started.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not stop; stderr: {:?}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The data files the process (and its children) saved, `.coverage.*`.
    fn saved_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".coverage.")
            })
            .collect();
        files.sort();
        files
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request; (status, body).
fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
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

/// Executed lines per file name (base name: the fixture's files are unique), as
/// livecov's reader gives them from a data file.
fn raw_lines(data_file: &Path) -> BTreeMap<String, Vec<u32>> {
    let read = read_data_file(data_file).unwrap_or_else(|e| panic!("{e}"));
    read.data
        .files()
        .map(|(path, _)| {
            let name = Path::new(path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, read.data.lines(path).unwrap_or_default())
        })
        .filter(|(_, lines)| !lines.is_empty())
        .collect()
}

/// `coverage json` of `data_file`, run by coverage.py in `dir` (the process's directory,
/// so the relative names are the process's).
fn coverage_json(python: &Path, dir: &Path, data_file: &Path) -> Value {
    let out = dir.join("oracle.json");
    let run = Command::new(python)
        .args(["-m", "coverage", "json", "--data-file"])
        .arg(data_file)
        .arg("-o")
        .arg(&out)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "coverage json --data-file {}: {}{}",
        data_file.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&fs::read(&out).unwrap()).unwrap()
}

/// The TOTAL line of `coverage report` on `data_file`, run in `dir`.
fn coverage_report_total(python: &Path, dir: &Path, data_file: &Path) -> String {
    let run = Command::new(python)
        .args(["-m", "coverage", "report", "--data-file"])
        .arg(data_file)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    text.lines()
        .find(|l| l.starts_with("TOTAL"))
        .unwrap_or_else(|| panic!("no TOTAL line in {text}"))
        .to_owned()
}

fn nums(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| u32::try_from(n.as_u64().unwrap()).unwrap())
        .collect()
}

/// `executed_lines` per base name from a `coverage json` report.
fn report_lines(report: &Value) -> BTreeMap<String, Vec<u32>> {
    report["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, f)| {
            let base = Path::new(name)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (base, nums(&f["executed_lines"]))
        })
        .filter(|(_, lines)| !lines.is_empty())
        .collect()
}

/// The statements of each file (executed and missing) in a report.
fn report_statements(report: &Value) -> BTreeMap<String, Vec<u32>> {
    report["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, f)| {
            let base = Path::new(name)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mut all = nums(&f["executed_lines"]);
            all.extend(nums(&f["missing_lines"]));
            all.sort_unstable();
            (base, all)
        })
        .collect()
}

/// Raw executed lines restricted to statements: coverage.py's data also records lines
/// that are not statements (a module docstring's line 1), which reports leave out.
fn statements_run(
    raw: &BTreeMap<String, Vec<u32>>,
    statements: &BTreeMap<String, Vec<u32>>,
) -> BTreeMap<String, Vec<u32>> {
    raw.iter()
        .map(|(name, lines)| {
            let keep = statements.get(name).cloned().unwrap_or_default();
            let lines: Vec<u32> = lines.iter().copied().filter(|l| keep.contains(l)).collect();
            (name.clone(), lines)
        })
        .filter(|(_, lines)| !lines.is_empty())
        .collect()
}

/// The newest `.coverage.livecov-N` of a series and the report written with it.
fn newest_python_pair(series: &Path) -> (PathBuf, PathBuf) {
    let newest = ["1", "2"]
        .iter()
        .filter_map(|n| {
            let data = series.join(format!(".coverage.livecov-{n}"));
            let modified = fs::metadata(&data).ok()?.modified().ok()?;
            Some((modified, n.to_string(), data))
        })
        .max()
        .expect("a Python data file in the series");
    let report = series.join(format!("coverage-livecov-{}.json", newest.1));
    (newest.2, report)
}

#[test]
fn collected_live_equals_what_coverage_py_reads_from_the_data_saved_at_exit() {
    let Some(python) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let mut svc = Service::start(
        &python,
        &tmp.path().join("svc"),
        &[("COVERAGE_PORT", &port)],
    );
    assert_eq!(svc.get("/work?n=20"), "big 80");
    assert_eq!(svc.get("/spawn"), "{\"child\": 1}");

    let collection = tmp.path().join("run");
    let c = collection.to_str().unwrap();
    let agent_url = format!("http://{}", svc.agent());
    assert_ok(&livecov(&["collect", "--collection", c, &agent_url]));
    let dirs = series_dirs(&collection);
    assert_eq!(dirs.len(), 1, "one process, one series: {dirs:?}");
    let (collected, agent_report) = newest_python_pair(&dirs[0]);
    assert!(
        agent_report.exists(),
        "the report of the same save is beside it"
    );
    let metadata: Value =
        serde_json::from_slice(&fs::read(dirs[0].join("metadata.json")).unwrap()).unwrap();
    assert_eq!(metadata["language"], "python", "{metadata:#}");
    assert_eq!(metadata["binary_name"], "service.py");
    let info: Value =
        serde_json::from_slice(&fs::read(dirs[0].join("info.json")).unwrap()).unwrap();
    assert_eq!(
        info["pid"].as_u64(),
        Some(u64::from(svc.child.id())),
        "{info:#}"
    );
    assert_eq!(info["language"], "python");

    // Stopped with SIGTERM and no handler of its own: the agent saves, then the process
    // dies of the signal exactly as it would without the agent.
    let status = svc.stop(libc::SIGTERM);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    let saved = svc.saved_files();
    let pid = svc.child.id();
    let own: Vec<&PathBuf> = saved
        .iter()
        .filter(|p| {
            p.to_string_lossy().contains(&format!(".pid{pid}."))
                || p.to_string_lossy().contains(&format!(".{pid}."))
        })
        .collect();
    assert_eq!(own.len(), 1, "the process's own data file: {saved:?}");
    let own = own[0];
    // The child process was measured too, into a data file of its own.
    let children: Vec<_> = saved.iter().filter(|p| *p != own).collect();
    assert_eq!(children.len(), 1, "{saved:?}");
    assert_eq!(raw_lines(children[0])["child.py"], [1, 4, 7, 8, 11]);

    // Nothing ran between the live snapshot and the exit save.
    let live = raw_lines(&collected);
    assert_eq!(live, raw_lines(own), "collected live vs saved at exit");
    assert!(
        live["service.py"].contains(&25),
        "work()'s odd branch ran: {live:?}"
    );
    assert!(
        !live.contains_key("livecov_agent.py"),
        "the agent leaves itself out"
    );

    let oracle_exit = coverage_json(&python, &svc.dir, own);
    let oracle_live = coverage_json(&python, &svc.dir, &collected);
    let statements = report_statements(&oracle_exit);
    assert_eq!(
        statements_run(&live, &statements),
        report_lines(&oracle_exit)
    );
    assert_eq!(report_lines(&oracle_live), report_lines(&oracle_exit));
    assert_eq!(oracle_live["totals"], oracle_exit["totals"]);
    // The agent's own report of the save agrees with coverage.py run afterwards.
    let agent_json: Value = serde_json::from_slice(&fs::read(&agent_report).unwrap()).unwrap();
    assert_eq!(report_lines(&agent_json), report_lines(&oracle_exit));
    assert_eq!(agent_json["totals"], oracle_exit["totals"]);
    assert_eq!(
        coverage_report_total(&python, &svc.dir, &collected),
        coverage_report_total(&python, &svc.dir, own)
    );
}

#[test]
fn a_program_with_its_own_sigterm_handler_shuts_down_as_before_and_the_exit_save_has_it() {
    let Some(python) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let mut svc = Service::start(
        &python,
        &tmp.path().join("svc"),
        &[("COVERAGE_PORT", &port), ("FIXTURE_SIGNALS", "own")],
    );
    svc.get("/work?n=2");
    let collection = tmp.path().join("run");
    let c = collection.to_str().unwrap();
    assert_ok(&livecov(&[
        "collect",
        "--collection",
        c,
        &format!("http://{}", svc.agent()),
    ]));
    let (collected, _) = newest_python_pair(&series_dirs(&collection)[0]);
    let live = raw_lines(&collected)["service.py"].clone();
    // The program's handler replaced the agent's: it shuts the server down and main
    // returns (status 0, not death by SIGTERM); the agent's atexit save follows.
    let status = svc.stop(libc::SIGTERM);
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}; {:?}",
        svc.stderr.lock().unwrap()
    );
    let said = svc.stdout.lock().unwrap().join("\n");
    assert!(
        said.contains("fixture: shutting down") && said.contains("fixture: stopped"),
        "{said}"
    );
    let saved = svc.saved_files();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let exit = raw_lines(&saved[0])["service.py"].clone();
    for line in [73, 74, 80, 81] {
        assert!(
            !live.contains(&line),
            "line {line} ran only at shutdown: {live:?}"
        );
        assert!(
            exit.contains(&line),
            "the shutdown's line {line} is saved: {exit:?}"
        );
    }
    assert!(live.iter().all(|l| exit.contains(l)), "{live:?} ⊄ {exit:?}");
}

#[test]
fn coverage_process_start_measures_as_configured_and_the_agent_serves_it() {
    let Some(python) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rc = tmp.path().join("coveragerc");
    fs::write(&rc, "[run]\nparallel = true\nbranch = true\n").unwrap();
    let port = free_port().to_string();
    // coverage.py's own .pth hook starts measuring before sitecustomize runs; the agent
    // serves that measurement (branch mode, from the file) and leaves its own import out.
    let mut svc = Service::start(
        &python,
        &tmp.path().join("svc"),
        &[
            ("COVERAGE_PORT", &port),
            ("LIVECOV_PYTHON", ""),
            ("COVERAGE_PROCESS_START", rc.to_str().unwrap()),
        ],
    );
    svc.get("/work?n=3");
    let collection = tmp.path().join("run");
    let c = collection.to_str().unwrap();
    assert_ok(&livecov(&[
        "collect",
        "--collection",
        c,
        &format!("http://{}", svc.agent()),
    ]));
    let (collected, report) = newest_python_pair(&series_dirs(&collection)[0]);
    let read = read_data_file(&collected).unwrap();
    assert_eq!(
        read.data.measurement(),
        livecov_formats::coveragepy::Measurement::Arcs,
        "branch = true from the configuration"
    );
    let lines = raw_lines(&collected);
    assert_eq!(
        lines.keys().collect::<Vec<_>>(),
        ["service.py"],
        "{lines:?}"
    );
    let report: Value = serde_json::from_slice(&fs::read(report).unwrap()).unwrap();
    assert!(
        report["meta"]["branch_coverage"].as_bool().unwrap(),
        "{report:#}"
    );
    assert_eq!(report["files"].as_object().unwrap().len(), 1, "{report:#}");
    svc.stop(libc::SIGKILL);
}

#[test]
fn reset_empties_and_only_what_ran_after_it_is_collected() {
    let Some(python) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let mut svc = Service::start(
        &python,
        &tmp.path().join("svc"),
        &[("COVERAGE_PORT", &port)],
    );
    svc.get("/work?n=3");
    let collection = tmp.path().join("run");
    let c = collection.to_str().unwrap();
    let agent_url = format!("http://{}", svc.agent());
    // One round with --reset: the snapshot, then the agent's counters are cleared.
    let err1 = assert_ok(&livecov(&[
        "collect",
        "--collection",
        c,
        "--reset",
        &agent_url,
    ]));
    let dirs = series_dirs(&collection);
    let (first, _) = newest_python_pair(&dirs[0]);
    let before = raw_lines(&first);
    assert!(before["service.py"].contains(&22), "work() ran: {before:?}");

    let err = assert_ok(&livecov(&["collect", "--collection", c, &agent_url]));
    assert!(
        err.contains("a coverage.py save without its JSON report (NoDataError"),
        "{err}"
    );
    // The reset ended the first series (a later save must not replace what ran before
    // it): what the process served next is a series of its own.
    let dirs = series_dirs(&collection);
    assert_eq!(
        dirs.len(),
        2,
        "the reading before the reset, then the one after: {dirs:?}; info.json: {}; \
         first collect: {err1}; second: {err}",
        fs::read_to_string(dirs[0].join("info.json")).unwrap_or_default()
    );
    let second = dirs.iter().find(|d| !first.starts_with(d)).unwrap().clone();
    assert_eq!(
        raw_lines(&newest_python_pair(dirs.iter().find(|d| first.starts_with(d)).unwrap()).0),
        before,
        "the first series keeps its snapshot"
    );
    let (empty, report) = newest_python_pair(&second);
    assert_eq!(
        raw_lines(&empty),
        BTreeMap::new(),
        "nothing ran since the reset"
    );
    // coverage.py makes no report of no data ("No data to report"), and a report of
    // an earlier save is not left beside this data file.
    assert!(!report.exists(), "{}", report.display());

    assert_eq!(svc.get("/other"), "ALPHA,BETA");
    assert_ok(&livecov(&["collect", "--collection", c, &agent_url]));
    let (after, _) = newest_python_pair(&second);
    let after = raw_lines(&after);
    let service = &after["service.py"];
    assert!(
        service.contains(&32) && service.contains(&33),
        "other() ran: {after:?}"
    );
    assert!(
        !service.contains(&22),
        "work() ran before the reset only: {after:?}"
    );
    assert_eq!(
        series_dirs(&collection).len(),
        2,
        "collecting again continues the series after the reset"
    );
    svc.stop(libc::SIGKILL);
}

#[test]
fn scan_finds_the_agent_on_its_default_port() {
    let Some(python) = python() else { return };
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    // No COVERAGE_PORT: the first free port from 53700.
    let mut svc = Service::start(&python, &tmp.path().join("svc"), &[]);
    let port: u16 = svc.agent().rsplit(':').next().unwrap().parse().unwrap();
    assert!((53700..53750).contains(&port), "{port}");
    svc.get("/work?n=1");
    let collection = tmp.path().join("run");
    let c = collection.to_str().unwrap();
    assert_ok(&livecov(&[
        "collect",
        "--collection",
        c,
        "--scan",
        "127.0.0.1",
    ]));
    // Other programs on this machine may serve coverage too: look at this one's series.
    let ours: Vec<PathBuf> = series_dirs(&collection)
        .into_iter()
        .filter(|d| {
            fs::read_to_string(d.join("info.json"))
                .is_ok_and(|t| t.contains(&format!("\"http://127.0.0.1:{port}\"")))
        })
        .collect();
    assert_eq!(ours.len(), 1, "the scan found the agent");
    assert!(ours[0].join(".coverage.livecov-1").is_file());
    let (status, body) = http(svc.agent(), "GET", "/health");
    assert_eq!((status, body.as_str()), (200, "coverage server healthy"));
    svc.stop(libc::SIGKILL);
}

#[test]
fn pushes_reach_collect_listen_once_and_only_with_the_right_token() {
    let Some(python) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let good = tmp.path().join("good-token");
    let bad = tmp.path().join("bad-token");
    fs::write(&good, "s3cret\n").unwrap();
    fs::write(&bad, "guess\n").unwrap();
    let collection = tmp.path().join("run");
    let c = collection.to_str().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let run = |agent_token: &Path, name: &str| {
        let collect = Command::new(env!("CARGO_BIN_EXE_livecov"))
            .args([
                "collect",
                "--collection",
                c,
                "--listen",
                &listen,
                "--token-file",
            ])
            .arg(&good)
            .args(["--watch", "500ms", "--rounds", "8"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let token = agent_token.to_str().unwrap();
        let svc = Service::start(
            &python,
            &tmp.path().join(name),
            &[
                ("LIVECOV_SERVE", "0"),
                ("LIVECOV_PUSH_URL", &url),
                ("LIVECOV_TOKEN_FILE", token),
                ("LIVECOV_PUSH_INTERVAL", "300ms"),
            ],
        );
        svc.get("/work?n=4");
        let out = collect.wait_with_output().unwrap();
        let agent_log = svc.stderr.lock().unwrap().join("\n");
        drop(svc);
        (out, agent_log)
    };
    let (refused, agent_log) = run(&bad, "bad");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("collected 0 snapshots"),
        "a wrong token lands nothing: {err}"
    );
    assert!(
        agent_log.contains("401"),
        "the agent was told why: {agent_log}"
    );

    let (accepted, _) = run(&good, "good");
    let err = String::from_utf8_lossy(&accepted.stderr);
    assert!(accepted.status.success(), "{err}");
    let dirs = series_dirs(&collection);
    assert_eq!(dirs.len(), 1, "one process, one series: {dirs:?}");
    let info = fs::read_to_string(dirs[0].join("info.json")).unwrap();
    assert!(info.contains("push://127.0.0.1"), "{info}");
    // Every push after the request carries the same data: written once, not per push.
    let names: Vec<String> = fs::read_dir(&dirs[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".coverage.livecov-"))
        .collect();
    let snapshots: u32 = err
        .split("collected ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    // About ten pushes in four seconds; identical ones are written once. (Two when the
    // first push went out before the request.)
    assert!(
        (1..=2).contains(&snapshots),
        "{snapshots} snapshots written: {err}"
    );
    assert_eq!(names.len(), snapshots as usize, "{names:?}");
    let (newest, _) = newest_python_pair(&dirs[0]);
    let lines = raw_lines(&newest);
    assert!(
        lines["service.py"].contains(&22),
        "the request before the pushes: {lines:?} {names:?}"
    );
}

#[test]
fn agent_unit_tests_pass_with_the_real_coverage_py() {
    let Some(python) = python() else { return };
    let out = Command::new(&python)
        .args(["-m", "unittest", "discover", "-s"])
        .arg(workspace_root().join("agents/python/tests"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("OK"), "{text}");
}

#[test]
fn py_inject_writes_an_overlay_and_env_that_name_the_services() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("livecov");
    let overlay = tmp.path().join("docker-compose.livecov.yml");
    let out = livecov(&[
        "py",
        "inject",
        "--dir",
        dir.to_str().unwrap(),
        "--overlay",
        overlay.to_str().unwrap(),
        "--source-root",
        "/app",
        "--pythonpath",
        "/app",
        "web",
        "worker",
    ]);
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("livecov collect --collection"), "{stdout}");
    let doc: serde_yaml::Value = serde_yaml::from_slice(&fs::read(&overlay).unwrap()).unwrap();
    let services = doc["services"].as_mapping().unwrap();
    let names: Vec<&str> = services.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, ["web", "worker"]);
    let token = fs::read_to_string(dir.join("token")).unwrap();
    assert_eq!(token.trim().len(), 32, "{token:?}");
    let env_file = fs::read_to_string(dir.join("livecov.env")).unwrap();
    let env: BTreeMap<String, String> = env_file
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("{l:?}"));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    for name in names {
        let svc = &services[name];
        // Compose wants strings: every value must have parsed as one.
        let environment: BTreeMap<String, String> = svc["environment"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: {k:?} = {v:?} is not a string"));
                (k.as_str().unwrap().to_owned(), v.to_owned())
            })
            .collect();
        assert_eq!(environment, env, "{name}: the env file says the same");
        assert_eq!(environment["PYTHONPATH"], "/livecov/agent:/app");
        assert_eq!(environment["LIVECOV_PYTHON"], "1");
        assert_eq!(environment["LIVECOV_SOURCE_ROOT"], "/app");
        assert_eq!(
            environment["LIVECOV_PUSH_URL"],
            "http://host.docker.internal:8431/"
        );
        let volumes: Vec<&str> = svc["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            volumes,
            [
                "./livecov/agent:/livecov/agent:ro",
                "./livecov/token:/livecov/token:ro"
            ]
        );
        assert_eq!(
            svc["extra_hosts"][0].as_str(),
            Some("host.docker.internal:host-gateway")
        );
    }
    // The mounted agent is the committed one, byte for byte.
    for f in ["sitecustomize.py", "livecov_agent.py"] {
        assert_eq!(
            fs::read(dir.join("agent").join(f)).unwrap(),
            fs::read(agent_dir().join(f)).unwrap(),
            "{f}"
        );
    }

    // Scrape mode: each service's agent port published on loopback, in order.
    let out = livecov(&[
        "py",
        "inject",
        "--scrape",
        "--force",
        "--dir",
        dir.to_str().unwrap(),
        "--overlay",
        overlay.to_str().unwrap(),
        "api",
        "jobs",
    ]);
    assert_ok(&out);
    let doc: serde_yaml::Value = serde_yaml::from_slice(&fs::read(&overlay).unwrap()).unwrap();
    assert_eq!(
        doc["services"]["api"]["ports"][0].as_str(),
        Some("127.0.0.1:53700:53700")
    );
    assert_eq!(
        doc["services"]["jobs"]["ports"][0].as_str(),
        Some("127.0.0.1:53701:53700")
    );
    assert!(
        doc["services"]["web"].is_null(),
        "the overlay names only the services given"
    );

    // An overlay of the user's is not replaced without --force.
    fs::write(&overlay, "services: {}\n").unwrap();
    let out = livecov(&[
        "py",
        "inject",
        "--dir",
        dir.to_str().unwrap(),
        "--overlay",
        overlay.to_str().unwrap(),
        "web",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force replaces it"));
    assert_eq!(fs::read_to_string(&overlay).unwrap(), "services: {}\n");
}
