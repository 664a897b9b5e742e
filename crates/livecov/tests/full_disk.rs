//! A full disk under the SQLite store and under ingest: a small tmpfs mounted by the
//! test (needs root, as scripts/test runs; otherwise skipped, or failed under CI).
//!
//! - a compile that runs out of space fails with a clear error, and what the store held
//!   before is still what `report` gives; once there is room again the rerun compiles
//!   everything, once;
//! - an upload to `livecov serve` that does not fit is refused with 507 and leaves no
//!   file, whole or partial; the server goes on.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/dashboard.rs"]
mod dashboard;
#[path = "support/external.rs"]
mod external;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A tmpfs of `size` bytes at a fresh directory, unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: usize) -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        external::require(
            "root, to mount a small tmpfs (scripts/test runs as root)",
            root.then_some(()),
        )?;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("disk");
        fs::create_dir(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(SmallDisk { dir, _tmp: tmp })
    }

    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.dir)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Fills the disk but for `leave` bytes; returns the filler file.
    fn fill(&self, leave: u64) -> PathBuf {
        let filler = self.dir.join("filler");
        let size = self.free().saturating_sub(leave);
        fs::write(&filler, vec![0u8; size as usize]).unwrap();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn livecov() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_livecov"));
    c.env_remove("LIVECOV_STORE");
    c
}

fn compile(c: &Path) -> Output {
    livecov()
        .args(["cluster", "compile", "--collection"])
        .arg(c)
        .output()
        .unwrap()
}

fn builds(c: &Path) -> (Value, String) {
    let out = livecov()
        .args(["report", "--format", "json", "--collection"])
        .arg(c)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        json["builds"].clone(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_compile_that_runs_out_of_space_keeps_the_store_it_had() {
    let Some(disk) = SmallDisk::mount(8 << 20) else {
        return;
    };
    let c = cluster::collection(&disk.dir.join("run"), 0..3);
    let first = compile(&c);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let (before, _) = builds(&c);
    assert!(before.as_array().is_some_and(|b| !b.is_empty()));

    // More pods, and no room for what compiling them writes.
    cluster::collection(&c, 3..9);
    let filler = disk.fill(16 << 10);
    let full = compile(&c);
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert!(!full.status.success(), "compiled on a full disk: {stderr}");
    assert!(
        stderr.contains("full") || stderr.contains("No space left") || stderr.contains("disk"),
        "the error says the disk is full: {stderr}"
    );
    // Nothing half-written: the store gives what it gave before.
    let (after, _) = builds(&c);
    assert_eq!(after, before, "the store changed on a failed compile");

    // Room again: the rerun compiles everything once.
    fs::remove_file(filler).unwrap();
    let rerun = compile(&c);
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let (now, warnings) = builds(&c);
    let by_hand = tempfile::tempdir().unwrap();
    let whole = cluster::collection(&by_hand.path().join("run"), 0..9);
    assert!(compile(&whole).status.success());
    assert_eq!(now, builds(&whole).0, "{warnings}");
    assert!(!warnings.contains("incomplete"), "{warnings}");
}

#[test]
fn an_upload_that_does_not_fit_is_refused_and_leaves_nothing() {
    let Some(disk) = SmallDisk::mount(4 << 20) else {
        return;
    };
    let root = disk.dir.join("root");
    fs::create_dir(&root).unwrap();
    let token = disk.dir.join("token");
    fs::write(&token, "full-disk-token").unwrap();
    let served = dashboard::serve(&[
        "--root",
        root.to_str().unwrap(),
        "--ingest-token-file",
        token.to_str().unwrap(),
    ]);
    let _filler = disk.fill(256 << 10);
    let big = vec![7u8; 1 << 20];
    let r = dashboard::request(
        &served.addr,
        "PUT",
        "/api/ingest/run/files/pod/covcounters.big",
        &[("Authorization", "Bearer full-disk-token")],
        &big,
    );
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.text().contains("space"), "{}", r.text());
    let pod = root.join("run/coverage/pod");
    let left: Vec<_> = fs::read_dir(&pod)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    // A small one still fits, and the server goes on.
    let r = dashboard::request(
        &served.addr,
        "PUT",
        "/api/ingest/run/files/pod/metadata.json",
        &[("Authorization", "Bearer full-disk-token")],
        b"{}",
    );
    assert_eq!(r.status, 201, "{}", r.text());
}
