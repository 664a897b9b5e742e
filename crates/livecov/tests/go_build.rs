//! `livecov go build` and `livecov go inject` with the real Go toolchain: the agent goes
//! into every main package of a multi-package module and of a `go.work` workspace
//! through -overlay, the source trees stay as they were, and the binaries serve and flush
//! their coverage. Needs Go (`scripts/test` makes sure of it; see support/external.rs).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use livecov_formats::gocovdata::decode_meta_file;

#[path = "support/external.rs"]
mod external;

const WAIT: Duration = Duration::from_secs(20);

fn go_present() -> bool {
    let found = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    external::require("go (Go 1.20+ on PATH)", found.then_some(())).is_some()
}

/// `livecov` with a Go environment that never downloads and ignores the caller's settings.
fn livecov(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .current_dir(dir)
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env_remove("GOWORK")
        .env_remove("GOCOVERDIR")
        .output()
        .unwrap()
}

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

/// Every file under `root` with its content.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(
                    e.path().strip_prefix(root).unwrap().to_path_buf(),
                    fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    out
}

/// A command that greets through a library package, then waits to be stopped.
fn main_go(lib: &str) -> String {
    format!(
        "package main\n\nimport (\n\t\"fmt\"\n\t\"time\"\n\n\t\"{lib}\"\n)\n\n\
         func main() {{\n\tfmt.Println(greet.Hello(\"e2e\"))\n\ttime.Sleep(time.Hour)\n}}\n"
    )
}

const GREET_GO: &str = "package greet\n\n// Hello greets.\nfunc Hello(who string) string {\n\tif who == \"\" {\n\t\treturn \"hello\"\n\t}\n\treturn \"hello, \" + who\n}\n";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(WAIT)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

/// Runs `bin` until its agent answers, checks GET /coverage, then stops it with SIGTERM
/// and returns the packages of the meta-data file it flushed into GOCOVERDIR.
fn serve_and_flush(bin: &Path, cover_dir: &Path) -> Vec<String> {
    let port = free_port();
    let mut child: Child = Command::new(bin)
        .env("COVERAGE_PORT", port.to_string())
        .env("LIVECOV_LISTEN_HOST", "127.0.0.1")
        .env("GOCOVERDIR", cover_dir)
        .env_remove("LIVECOV_PUSH_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "hello, e2e\n");
    let deadline = Instant::now() + WAIT;
    let health = loop {
        if let Some(r) = get(port, "/health") {
            break r;
        }
        assert!(Instant::now() < deadline, "the agent never answered");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let coverage = get(port, "/coverage").unwrap();
    assert!(coverage.starts_with("HTTP/1.1 200"), "{coverage}");
    assert!(
        coverage.contains("\"meta_filename\":\"covmeta."),
        "{coverage}"
    );

    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the child started above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "SIGTERM did not stop the program"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let meta = fs::read_dir(cover_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("covmeta.")
        })
        .expect("the agent flushed a covmeta file on SIGTERM");
    let (meta, _) = decode_meta_file(&fs::read(meta).unwrap()).unwrap();
    meta.packages.iter().map(|p| p.path.clone()).collect()
}

#[test]
fn go_build_adds_the_agent_to_every_command_of_a_module_and_leaves_its_tree_alone() {
    if !go_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("multi");
    write(
        &module,
        &[
            ("go.mod", "module example.com/multi\n\ngo 1.21\n"),
            (
                "cmd/alpha/main.go",
                &main_go("example.com/multi/internal/greet"),
            ),
            (
                "cmd/beta/main.go",
                &main_go("example.com/multi/internal/greet"),
            ),
            ("internal/greet/greet.go", GREET_GO),
        ],
    );
    let before = tree(&module);
    let bin = tmp.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let out = livecov(
        &module,
        &["go", "build", "-o", &format!("{}/", bin.display()), "./..."],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(tree(&module), before, "the source tree is untouched");
    for cmd in ["alpha", "beta"] {
        assert!(
            stderr.contains(&format!(
                "adding the livecov agent to {}",
                module.join("cmd").join(cmd).display()
            )),
            "{stderr}"
        );
    }

    let cover = tmp.path().join("cover-alpha");
    fs::create_dir(&cover).unwrap();
    let packages = serve_and_flush(&bin.join("alpha"), &cover);
    assert!(packages.contains(&"example.com/multi/internal/greet".to_owned()));
    assert!(packages.contains(&"example.com/multi/cmd/alpha".to_owned()));
    // beta was built with the agent too.
    let cover = tmp.path().join("cover-beta");
    fs::create_dir(&cover).unwrap();
    assert!(serve_and_flush(&bin.join("beta"), &cover)
        .contains(&"example.com/multi/cmd/beta".to_owned()));
}

#[test]
fn go_build_works_in_a_go_work_workspace() {
    if !go_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    write(
        &ws,
        &[
            ("go.work", "go 1.21\n\nuse (\n\t./svc\n\t./lib\n)\n"),
            ("lib/go.mod", "module example.com/lib\n\ngo 1.21\n"),
            ("lib/greet/greet.go", GREET_GO),
            ("svc/go.mod", "module example.com/svc\n\ngo 1.21\n"),
            ("svc/main.go", &main_go("example.com/lib/greet")),
        ],
    );
    let before = tree(&ws);
    let bin = tmp.path().join("svc-bin");
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["go", "build", "-o"])
        .arg(&bin)
        .arg("./svc")
        .current_dir(&ws)
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env_remove("GOWORK")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tree(&ws), before, "the workspace is untouched");
    let cover = tmp.path().join("cover");
    fs::create_dir(&cover).unwrap();
    let packages = serve_and_flush(&bin, &cover);
    assert!(
        packages.contains(&"example.com/lib/greet".to_owned()),
        "the workspace's other module is covered: {packages:?}"
    );
    assert!(
        packages.contains(&"example.com/svc".to_owned()),
        "{packages:?}"
    );
}

#[test]
fn go_build_passes_go_builds_failure_through_and_builds_libraries_without_the_agent() {
    if !go_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("m");
    write(
        &module,
        &[
            ("go.mod", "module example.com/m\n\ngo 1.21\n"),
            ("greet/greet.go", GREET_GO),
            (
                "broken/main.go",
                "package main\n\nfunc main() { undefined() }\n",
            ),
        ],
    );
    let out = livecov(&module, &["go", "build", "./greet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no main package among ./greet"), "{stderr}");

    let exe = tmp.path().join("broken-bin");
    let out = livecov(
        &module,
        &["go", "build", "-o", exe.to_str().unwrap(), "./broken"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "go build's own status: {stderr}"
    );
    assert!(stderr.contains("undefined"), "go build's message: {stderr}");
}

#[test]
fn go_inject_writes_the_agent_for_dockerfile_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = livecov(dir, &["go", "inject", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .go file with `package main`"));
    fs::write(dir.join("main.go"), "package main\n\nfunc main() {}\n").unwrap();
    let out = livecov(dir, &["go", "inject", "."]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(dir.join("livecov_agent.go")).unwrap(),
        fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../agents/go/livecov_agent.go")
        )
        .unwrap()
    );
    let out = livecov(dir, &["go", "inject", "."]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("is up to date"));
    let help = livecov(dir, &["go", "help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("build ") && help.contains("inject "),
        "{help}"
    );
}
