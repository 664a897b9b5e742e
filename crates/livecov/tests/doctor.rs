//! `livecov doctor` on real inputs: Go programs built by the real toolchain (with and
//! without `-cover`, stripped, and with livecov's agent through `livecov go build`), real
//! GOCOVERDIR directories written by a `-cover` program, a closed port and a live agent on
//! 127.0.0.1, and hostile files. Needs Go (see support/external.rs).

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[path = "support/external.rs"]
mod external;

const WAIT: Duration = Duration::from_secs(30);

fn go_env(c: &mut Command) -> &mut Command {
    c.env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .env_remove("GOCOVERDIR")
}

/// Runs `livecov doctor ARGS`, killed if it takes longer than [`WAIT`] (a FIFO opened
/// for reading would block forever).
fn doctor(args: &[&str]) -> Output {
    let mut child = go_env(&mut Command::new(env!("CARGO_BIN_EXE_livecov")))
        .arg("doctor")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("livecov doctor {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn have_go() -> Option<()> {
    let found = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    external::require("go (Go 1.20+ on PATH)", found.then_some(()))
}

const TINY_MAIN: &str = "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n";

/// The tiny program built four ways (plain, -cover, -cover stripped, plain stripped).
struct Tiny {
    _dir: tempfile::TempDir,
    plain: PathBuf,
    cover: PathBuf,
    cover_stripped: PathBuf,
    plain_stripped: PathBuf,
}

fn tiny() -> Option<&'static Tiny> {
    static TINY: OnceLock<Option<Tiny>> = OnceLock::new();
    TINY.get_or_init(|| {
        have_go()?;
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("go.mod"),
            "module example.com/tiny\n\ngo 1.20\n",
        )
        .unwrap();
        fs::write(dir.path().join("main.go"), TINY_MAIN).unwrap();
        let build = |name: &str, flags: &[&str]| {
            let out = dir.path().join(name);
            let o = go_env(&mut Command::new("go"))
                .arg("build")
                .args(flags)
                .arg("-o")
                .arg(&out)
                .arg(".")
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(o.status.success(), "go build {flags:?}: {}", text(&o));
            out
        };
        Some(Tiny {
            plain: build("plain", &[]),
            cover: build("cover", &["-cover"]),
            cover_stripped: build("cover-stripped", &["-cover", "-ldflags=-s -w"]),
            plain_stripped: build("plain-stripped", &["-ldflags=-s -w"]),
            _dir: dir,
        })
    })
    .as_ref()
}

/// The go_agent fixture built with `livecov go build` (so the agent is inside).
fn agent_service() -> Option<&'static Path> {
    static BIN: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    BIN.get_or_init(|| {
        have_go()?;
        let tmp = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/go_agent");
        for f in ["go.mod", "main.go"] {
            fs::copy(src.join(f), tmp.path().join(f)).unwrap();
        }
        let bin = tmp.path().join("svc");
        let o = go_env(&mut Command::new(env!("CARGO_BIN_EXE_livecov")))
            .args(["go", "build", "-o"])
            .arg(&bin)
            .arg(".")
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        Some((tmp, bin))
    })
    .as_ref()
    .map(|(_, b)| b.as_path())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn binary_built_without_cover_is_a_problem_with_the_fix() {
    let Some(t) = tiny() else { return };
    let o = doctor(&[path(&t.plain)]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(
        s.contains("ok: ") && s.contains("a Go program built with go1."),
        "{s}"
    );
    assert!(
        s.contains("problem: ") && s.contains("not built with -cover"),
        "{s}"
    );
    assert!(s.contains("  fix: rebuild with `livecov go build"), "{s}");
}

#[test]
fn binary_built_with_cover_is_ok_and_warns_that_no_agent_is_inside() {
    let Some(t) = tiny() else { return };
    let o = doctor(&[path(&t.cover)]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(
        s.contains("built with -cover (build setting -cover=true"),
        "{s}"
    );
    assert!(s.contains("runtime.addCovMeta"), "{s}");
    assert!(s.contains("counter mode"), "{s}");
    assert!(
        s.contains("warning: ") && s.contains("no coverage agent inside"),
        "{s}"
    );
    assert!(!s.contains("stripped"), "{s}");
}

#[test]
fn stripping_does_not_hide_cover_from_the_doctor() {
    let Some(t) = tiny() else { return };
    let o = doctor(&[path(&t.cover_stripped)]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(s.contains("built with -cover"), "{s}");
    assert!(s.contains("runtime.addCovMeta"), "{s}");
    assert!(
        s.contains("stripped (-ldflags=-s -w): this does not matter"),
        "{s}"
    );

    let o = doctor(&[path(&t.plain_stripped)]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("not built with -cover"), "{s}");
    assert!(s.contains("stripped"), "{s}");
}

#[test]
fn binary_built_by_livecov_go_build_has_the_agent() {
    let Some(bin) = agent_service() else { return };
    let o = doctor(&[path(bin)]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(s.contains("built with -cover"), "{s}");
    assert!(s.contains("livecov's Go agent is inside"), "{s}");
    assert!(s.contains("likely atomic"), "{s}");
    assert!(!s.contains("warning:"), "{s}");
}

/// A GOCOVERDIR written by the -cover program exiting through main.
fn written_dir(t: &Tiny) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(&t.cover)
        .env("GOCOVERDIR", dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    dir
}

fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

#[test]
fn gocoverdir_of_a_clean_exit_pairs_meta_and_counters() {
    let Some(t) = tiny() else { return };
    let dir = written_dir(t);
    let o = doctor(&[path(dir.path())]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    let meta = files_starting(dir.path(), "covmeta.");
    assert_eq!(meta.len(), 1, "{s}");
    let hash = meta[0].extension().unwrap().to_str().unwrap().to_owned();
    assert!(
        s.contains(&format!("build {hash}: meta-data and 1 counter file")),
        "{s}"
    );
}

#[test]
fn meta_without_counters_says_the_process_never_exited_cleanly() {
    let Some(t) = tiny() else { return };
    let written = written_dir(t);
    let dir = tempfile::tempdir().unwrap();
    for m in files_starting(written.path(), "covmeta.") {
        fs::copy(&m, dir.path().join(m.file_name().unwrap())).unwrap();
    }
    let o = doctor(&[path(dir.path())]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("without counters"), "{s}");
    assert!(
        s.contains("fix: the process never exited cleanly: no counters are written on SIGTERM or kill; use livecov's agent"),
        "{s}"
    );
}

#[test]
fn counters_without_meta_are_a_problem() {
    let Some(t) = tiny() else { return };
    let written = written_dir(t);
    let dir = tempfile::tempdir().unwrap();
    for m in files_starting(written.path(), "covcounters.") {
        fs::copy(&m, dir.path().join(m.file_name().unwrap())).unwrap();
    }
    let o = doctor(&[path(dir.path())]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("1 counter file of build"), "{s}");
    assert!(s.contains("without its meta-data file"), "{s}");
}

#[test]
fn empty_dir_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let o = doctor(&[path(dir.path())]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("no coverage files"), "{s}");
    assert!(s.contains("GOCOVERDIR"), "{s}");
}

#[test]
fn gocoverdir_from_the_environment_when_no_argument_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .arg("doctor")
        .env("GOCOVERDIR", dir.path())
        .output()
        .unwrap();
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(
        s.contains(&format!("{}: no coverage files", dir.path().display())),
        "{s}"
    );
}

#[test]
fn a_writer_uid_that_cannot_create_files_is_a_problem() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let other = if me == 4242 { 4243 } else { 4242 };
    let o = doctor(&[path(dir.path()), "--writer-uid", &other.to_string()]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(
        s.contains(&format!(
            "uid {other} cannot create files here (owner uid {me}"
        )),
        "{s}"
    );
    assert!(s.contains("mode 0755"), "{s}");
    assert!(s.contains("chmod 1777"), "{s}");

    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    let o = doctor(&[path(dir.path()), "--writer-uid", &other.to_string()]);
    let s = text(&o);
    assert!(s.contains(&format!("uid {other} can write here")), "{s}");
}

#[test]
fn unreadable_coverage_file_is_a_problem_when_not_root() {
    use std::os::unix::fs::PermissionsExt;
    let Some(t) = tiny() else { return };
    let dir = written_dir(t);
    let counters = files_starting(dir.path(), "covcounters.");
    fs::set_permissions(&counters[0], fs::Permissions::from_mode(0o000)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let o = if unsafe { libc::geteuid() } == 0 {
        // Root reads every file: ask as an unprivileged user instead (the directory
        // made traversable for it, the counter file still mode 0000).
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let found = Command::new("runuser").arg("--help").output().is_ok();
        external::require(
            "runuser (util-linux), to run as nobody",
            found.then_some(()),
        )
        .expect("runuser");
        Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(env!("CARGO_BIN_EXE_livecov"))
            .arg("doctor")
            .arg(dir.path())
            .output()
            .unwrap()
    } else {
        doctor(&[path(dir.path())])
    };
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("cannot read"), "{s}");
    assert!(s.contains("mode 0000"), "{s}");
}

#[test]
fn a_fifo_named_like_a_counter_file_is_reported_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir
        .path()
        .join("covcounters.0123456789abcdef0123456789abcdef.1.2");
    mkfifo(&fifo);
    let o = doctor(&[path(dir.path())]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("a FIFO named like a coverage file"), "{s}");
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_closed_port_is_unreachable_with_the_address() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = doctor(&[&format!("127.0.0.1:{port}"), "--timeout", "2"]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(
        s.contains(&format!("problem: 127.0.0.1:{port}: cannot connect")),
        "{s}"
    );
    assert!(s.to_lowercase().contains("refused"), "{s}");
    assert!(s.contains("fix: "), "{s}");
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_live_agent_is_a_coverage_server_with_its_build() {
    let Some(bin) = agent_service() else { return };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cover = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .env("COVERAGE_PORT", port.to_string())
        .env("LIVECOV_LISTEN_HOST", "127.0.0.1")
        .env("GOCOVERDIR", cover.path())
        .env_remove("LIVECOV_PUSH_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _svc = Service(child);
    let own = line
        .trim()
        .strip_prefix("fixture: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + WAIT;
    let o = loop {
        let o = doctor(&[&url]);
        if o.status.code() == Some(0) || Instant::now() > deadline {
            break o;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(
        s.contains(&format!("ok: {url}: a coverage server: pid ")),
        "{s}"
    );
    assert!(s.contains("livecov's agent go/1, cover mode atomic"), "{s}");
    let meta = files_starting(cover.path(), "covmeta.");
    assert_eq!(meta.len(), 1, "the agent's GOCOVERDIR: {meta:?}");
    let hash = meta[0].extension().unwrap().to_str().unwrap().to_owned();
    assert!(
        s.contains(&format!("GET /coverage works: build {hash}")),
        "{s}"
    );

    // The program's own port answers HTTP but is no coverage server.
    let o = doctor(&[&own]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("is not a coverage server"), "{s}");
}

#[test]
fn hostile_files_are_problems_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    fs::write(&empty, b"").unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    // Random bytes behind an ELF magic (a fixed seed: same bytes every run).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = b"\x7fELF\x02\x01\x01".to_vec();
    random.extend((0..64 << 10).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x.to_le_bytes()[0]
    }));
    let elfish = dir.path().join("random.elf");
    fs::write(&elfish, &random).unwrap();
    // An ELF header whose section table lies far past the end of the file.
    let mut header = random[..64].to_vec();
    header[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
    header[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
    header[0x3c..0x3e].copy_from_slice(&0xffffu16.to_le_bytes());
    let far = dir.path().join("far.elf");
    fs::write(&far, &header).unwrap();
    let mut cases = vec![
        ("/dev/zero".to_owned(), "a character device"),
        (path(&fifo).to_owned(), "a FIFO"),
        (path(&empty).to_owned(), "0 bytes"),
        (path(&elfish).to_owned(), ""),
        (path(&far).to_owned(), "past its end"),
    ];
    // A real Go binary cut short: its section table is gone.
    let tiny = tiny();
    let cut = dir.path().join("cut");
    if let Some(t) = tiny {
        let bytes = fs::read(&t.cover).unwrap();
        fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        cases.push((path(&cut).to_owned(), "past its end"));
    }
    for (input, says) in cases {
        let o = doctor(&[&input]);
        let s = text(&o);
        assert_eq!(o.status.code(), Some(1), "{input}: {s}");
        assert!(s.contains(&format!("problem: {input}: ")), "{input}: {s}");
        assert!(s.contains(says), "{input} should say {says:?}: {s}");
        assert!(s.contains("  fix: "), "{input}: {s}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let o = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .arg("doctor")
        .env_remove("GOCOVERDIR")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nothing to check"), "{}", text(&o));

    let o = doctor(&["/no/such/path/here"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not an existing file or directory"));
}
