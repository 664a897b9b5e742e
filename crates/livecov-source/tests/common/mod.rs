//! Real git repositories and a real `git daemon` for the integration tests.

#![allow(dead_code)] // each test binary uses its own part of these helpers

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs git in `dir` with a fixed identity and no user or system configuration.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=livecov",
            "-c",
            "user.email=t@example.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// A working repository that tests commit into.
pub struct Repo {
    pub path: PathBuf,
}

impl Repo {
    pub fn init(path: PathBuf) -> Repo {
        std::fs::create_dir_all(&path).unwrap();
        git(&path, &["init", "--quiet"]);
        Repo { path }
    }

    pub fn write(&self, rel: &str, content: &str) -> &Repo {
        let p = self.path.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    pub fn remove(&self, rel: &str) -> &Repo {
        std::fs::remove_file(self.path.join(rel)).unwrap();
        self
    }

    /// Commits everything and returns the full commit id.
    pub fn commit(&self, message: &str) -> String {
        git(&self.path, &["add", "-A"]);
        git(&self.path, &["commit", "--quiet", "-m", message]);
        git(&self.path, &["rev-parse", "HEAD"])
    }

    pub fn file_url(&self) -> String {
        format!("file://{}", self.path.display())
    }
}

/// `git daemon` on 127.0.0.1, exporting every repository under `base`; stopped on drop.
pub struct Daemon {
    child: Child,
    pub port: u16,
}

impl Daemon {
    pub fn start(base: &Path) -> Daemon {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // Run git-daemon itself: `git daemon` would fork it as a child, and killing
        // that wrapper would leave the daemon running.
        let exec_path = git(base, &["--exec-path"]);
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .arg("--reuseaddr")
            .arg(format!("--base-path={}", base.display()))
            .arg("--export-all")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg("--enable=upload-pack")
            .arg(base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts");
        let daemon = Daemon { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "git daemon did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An "ssh" that runs the requested `git-upload-pack '<path>'` locally: no sshd can run
/// here, so this exercises git's ssh transport (URL parsing, the remote command, the
/// pack protocol over a pipe) without a network.
pub fn fake_ssh(dir: &Path) -> PathBuf {
    let script = dir.join("fake-ssh");
    std::fs::write(
        &script,
        "#!/bin/sh\n# git probes the variant with -G: answer like OpenSSH so it passes GIT_PROTOCOL (v2).\n[ \"$1\" = -G ] && exit 0\n# The last argument is the remote command, e.g. git-upload-pack '/x/repo'.\nfor last; do :; done\nexec sh -c \"$last\"\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    script
}
