//! What the object store download tests share: the producer's layout of real Go coverage
//! files (the same keys `download_s3.rs` uploads), an emulator process on 127.0.0.1 that
//! is killed when dropped, and the checks of a first download of that layout.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use livecov_collect::download::Summary;
use livecov_collect::producer::Metadata;

pub const BUCKET: &str = "art-ocp-code-coverage";
pub const PREFIX: &str = "openshift-ci/coverage/cluster-a";

const ETCD_1: &str = "node-1/openshift-etcd/etcd-node-1/etcd/20250101T100000Z/\
                      quay.io-openshift-release-dev-ocp-v4.0-art-dev-sha256-abc/etcd";
const ETCD_2: &str = "node-1/openshift-etcd/etcd-node-1/etcd/20250101T120000Z/\
                      quay.io-openshift-release-dev-ocp-v4.0-art-dev-sha256-abc/etcd";
const APISERVER: &str = "node-2/openshift-apiserver/apiserver-7f9c-x2x/openshift-apiserver/\
                         20250101T110000Z/registry.ci-ocp-sha256-def/openshift-apiserver";
const KUBELET: &str = "node-1/_host_/20250101T090000Z/kubelet";

/// Each instance's key directory and the collection directory it is downloaded to.
const INSTANCES: [(&str, &str); 4] = [
    (
        ETCD_1,
        "node-1-openshift-etcd-etcd-node-1-etcd-etcd-20250101T100000Z",
    ),
    (
        ETCD_2,
        "node-1-openshift-etcd-etcd-node-1-etcd-etcd-20250101T120000Z",
    ),
    (
        APISERVER,
        "node-2-openshift-apiserver-apiserver-7f9c-x2x-openshift-apiserver-\
         openshift-apiserver-20250101T110000Z",
    ),
    (KUBELET, "node-1-_host_-kubelet-20250101T090000Z"),
];

const COUNT: &str = "fb5d9fb229349f9b25b93ba370b3e169";
const PROG2: &str = "da4ea8542a4ab76ec42b3129b9de1f22";
const ATOMIC: &str = "5fcaa8db72b07e6944278552f0a988a7";

/// Objects of the layout that belong to an instance (all but the two skipped keys).
pub const INSTANCE_FILES: usize = 13;

fn fixture(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/go/golden/data")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn info(binary: &str, pid: u32) -> Vec<u8> {
    format!(
        "{{\"binary\":\"{binary}\",\"host\":\"10.128.0.12\",\"port\":53700,\"pid\":{pid},\
         \"source_commit\":\"0123456789abcdef\",\
         \"source_url\":\"https://github.com/openshift/{binary}\"}}"
    )
    .into_bytes()
}

/// Keys relative to the prefix and their bytes: real Go coverage files from the golden
/// fixtures, named as the producer names them (`covcounters.<hash>.<pid>.<1|2>`).
fn producer_layout() -> Vec<(String, Vec<u8>)> {
    let meta = |dir: &str, hash: &str| fixture(&format!("{dir}/covmeta.{hash}"));
    let counters =
        |dir: &str, hash: &str, file: &str| fixture(&format!("{dir}/covcounters.{hash}.{file}"));
    vec![
        // One etcd container, restarted: two instances (two discoveryTimes).
        (format!("{ETCD_1}/info.json"), info("etcd", 4242)),
        (format!("{ETCD_1}/covmeta.{COUNT}"), meta("count", COUNT)),
        (
            format!("{ETCD_1}/covcounters.{COUNT}.4242.1"),
            counters("count", COUNT, "1.1"),
        ),
        (
            format!("{ETCD_1}/covcounters.{COUNT}.4242.2"),
            counters("count", COUNT, "2.1"),
        ),
        (format!("{ETCD_2}/info.json"), info("etcd", 4343)),
        (format!("{ETCD_2}/covmeta.{COUNT}"), meta("count", COUNT)),
        (
            format!("{ETCD_2}/covcounters.{COUNT}.4343.1"),
            counters("count", COUNT, "2.1"),
        ),
        // Another pod on another node.
        (
            format!("{APISERVER}/covmeta.{PROG2}"),
            meta("prog2_count", PROG2),
        ),
        (
            format!("{APISERVER}/covcounters.{PROG2}.77.1"),
            counters("prog2_count", PROG2, "1.1"),
        ),
        // The kubelet, found on the host network (pid 0 in info.json).
        (format!("{KUBELET}/info.json"), info("kubelet", 0)),
        (
            format!("{KUBELET}/covmeta.{ATOMIC}"),
            meta("atomic_snap", ATOMIC),
        ),
        (
            format!("{KUBELET}/covcounters.{ATOMIC}.1.1"),
            counters("atomic_snap", ATOMIC, "1.1"),
        ),
        (
            format!("{KUBELET}/covcounters.{ATOMIC}.1.2"),
            counters("atomic_snap", ATOMIC, "1.2"),
        ),
        // Not part of any instance: a wrong depth, and a file that is not coverage.
        (
            format!("node-1/openshift-etcd/etcd-node-1/covmeta.{COUNT}"),
            meta("count", COUNT),
        ),
        (format!("{KUBELET}/README.txt"), b"notes".to_vec()),
    ]
}

/// Keys and bytes of the bucket: the layout under PREFIX, plus a key of a neighbouring
/// cluster whose prefix starts with the same characters (it must not be listed).
pub fn bucket_objects() -> Vec<(String, Vec<u8>)> {
    let neighbour = (
        format!("{PREFIX}2/{KUBELET}/covmeta.{ATOMIC}"),
        fixture(&format!("atomic_snap/covmeta.{ATOMIC}")),
    );
    producer_layout()
        .into_iter()
        .map(|(k, b)| (format!("{PREFIX}/{k}"), b))
        .chain([neighbour])
        .collect()
}

// ---------------------------------------------------------------------------------------
// emulator processes

/// `$env_var` if set, else `name` on PATH, else `fallback` if it exists.
pub fn find_program(env_var: &str, name: &str, fallback: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from(fallback)).filter(|p| p.is_file()))
}

/// The program, or `None` after a skip message; a missing program fails under CI.
pub fn require(test: &str, program: Option<PathBuf>, what: &str, install: &str) -> Option<PathBuf> {
    if program.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} not found; run {install}"
        );
        eprintln!("skipping {test}: {what} not found; run {install}");
    }
    program
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    /// Its stdout and stderr, shown when it exits early.
    log: tempfile::NamedTempFile,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `program args…` and waits until it accepts connections on `port` of 127.0.0.1.
pub fn start(program: &Path, args: &[String], port: u16) -> Server {
    let log = tempfile::NamedTempFile::new().expect("a log file");
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.reopen().expect("the log file"))
        .stderr(log.reopen().expect("the log file"))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let mut server = Server {
        child,
        log,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            let output = std::fs::read_to_string(server.log.path()).unwrap_or_default();
            panic!("{} {args:?} exited: {status}\n{output}", program.display());
        }
        assert!(
            Instant::now() < deadline,
            "{} did not listen on {port}",
            program.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

// ---------------------------------------------------------------------------------------
// what a download gives

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Checks a first download of the layout from `source` (`<scheme>://BUCKET/PREFIX`):
/// the counts, every instance's files byte for byte, and each metadata.json's origin.
pub fn assert_first_download(summary: &Summary, collection: &Path, source: &str) {
    assert!(!summary.failed(), "{summary}\n{:#?}", summary.errors);
    assert_eq!(summary.source, source);
    assert_eq!(
        (
            summary.hostnames,
            summary.pod_entries,
            summary.host_entries,
            summary.pod_instances,
            summary.host_instances
        ),
        (2, 2, 1, 3, 1),
        "{summary}"
    );
    assert_eq!(
        (summary.files_downloaded, summary.files_unchanged),
        (INSTANCE_FILES, 0),
        "{summary}"
    );
    let skipped: Vec<&str> = summary
        .skipped_keys
        .iter()
        .map(|k| k.key.as_str())
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");

    let coverage = collection.join("coverage");
    let mut dirs: Vec<String> = std::fs::read_dir(&coverage)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut want_dirs: Vec<String> = INSTANCES.iter().map(|(_, d)| d.to_string()).collect();
    want_dirs.sort();
    assert_eq!(dirs, want_dirs);

    let layout = producer_layout();
    for (key_dir, dir) in INSTANCES {
        let want: BTreeMap<String, Vec<u8>> = layout
            .iter()
            .filter_map(|(k, b)| {
                let name = k.strip_prefix(key_dir)?.strip_prefix('/')?;
                (name != "README.txt").then(|| (name.to_string(), b.clone()))
            })
            .collect();
        let mut got = files(&coverage.join(dir));
        for generated in ["metadata.json", ".livecov-objects.json"] {
            assert!(got.remove(generated).is_some(), "{dir} has no {generated}");
        }
        assert_eq!(got, want, "files of {dir}");

        let meta: Metadata = serde_json::from_slice(
            &std::fs::read(coverage.join(dir).join("metadata.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(meta.source, format!("{source}/{key_dir}/"), "{dir}");
        assert!(meta.last_modified.is_some(), "{dir}: {meta:?}");
    }
}
