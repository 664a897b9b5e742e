//! `livecov cluster download` against a real S3-compatible server (moto), with real Go
//! coverage files laid out as the producer writes them, and against the same layout on
//! local disk (`file://` and plain paths).
//!
//! GCS (`gs://`) and Azure (`az://`) sources go through the same object_store code path
//! as S3 and local directories (listing, key parsing, transfers, manifests); only the
//! store construction and credential chains differ, so they are not run here.
//!
//! moto_server is found through `LIVECOV_MOTO_SERVER`, then `PATH`, then
//! `/var/tmp/livecov-ci-venv/bin/moto_server` (what `.ci/install-moto.sh` installs). When
//! it is missing the S3 tests fail under CI (`CI` set) and are skipped otherwise
//! (`crates/livecov/tests/support/external.rs`).

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use livecov_collect::download::{download, DownloadOptions, Summary};
use livecov_collect::producer::{Manifest, Metadata, SkipReason};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

#[path = "../../livecov/tests/support/external.rs"]
mod external;

const BUCKET: &str = "art-ocp-code-coverage";
const PREFIX: &str = "openshift-ci/coverage/cluster-a";

const ETCD_1: &str = "node-1/openshift-etcd/etcd-node-1/etcd/20250101T100000Z/\
                      quay.io-openshift-release-dev-ocp-v4.0-art-dev-sha256-abc/etcd";
const ETCD_2: &str = "node-1/openshift-etcd/etcd-node-1/etcd/20250101T120000Z/\
                      quay.io-openshift-release-dev-ocp-v4.0-art-dev-sha256-abc/etcd";
const APISERVER: &str = "node-2/openshift-apiserver/apiserver-7f9c-x2x/openshift-apiserver/\
                         20250101T110000Z/registry.ci-ocp-sha256-def/openshift-apiserver";
const KUBELET: &str = "node-1/_host_/20250101T090000Z/kubelet";

const ETCD_1_DIR: &str = "node-1-openshift-etcd-etcd-node-1-etcd-etcd-20250101T100000Z";
const ETCD_2_DIR: &str = "node-1-openshift-etcd-etcd-node-1-etcd-etcd-20250101T120000Z";
const APISERVER_DIR: &str = "node-2-openshift-apiserver-apiserver-7f9c-x2x-openshift-apiserver-\
                             openshift-apiserver-20250101T110000Z";
const KUBELET_DIR: &str = "node-1-_host_-kubelet-20250101T090000Z";

const COUNT: &str = "fb5d9fb229349f9b25b93ba370b3e169";
const PROG2: &str = "da4ea8542a4ab76ec42b3129b9de1f22";
const ATOMIC: &str = "5fcaa8db72b07e6944278552f0a988a7";

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
    let counters =
        |dir: &str, hash: &str, file: &str| fixture(&format!("{dir}/covcounters.{hash}.{file}"));
    vec![
        // One etcd container, restarted: two instances (two discoveryTimes).
        (format!("{ETCD_1}/info.json"), info("etcd", 4242)),
        (
            format!("{ETCD_1}/covmeta.{COUNT}"),
            fixture(&format!("count/covmeta.{COUNT}")),
        ),
        (
            format!("{ETCD_1}/covcounters.{COUNT}.4242.1"),
            counters("count", COUNT, "1.1"),
        ),
        (
            format!("{ETCD_1}/covcounters.{COUNT}.4242.2"),
            counters("count", COUNT, "2.1"),
        ),
        (format!("{ETCD_2}/info.json"), info("etcd", 4343)),
        (
            format!("{ETCD_2}/covmeta.{COUNT}"),
            fixture(&format!("count/covmeta.{COUNT}")),
        ),
        (
            format!("{ETCD_2}/covcounters.{COUNT}.4343.1"),
            counters("count", COUNT, "2.1"),
        ),
        // Another pod on another node.
        (
            format!("{APISERVER}/covmeta.{PROG2}"),
            fixture(&format!("prog2_count/covmeta.{PROG2}")),
        ),
        (
            format!("{APISERVER}/covcounters.{PROG2}.77.1"),
            counters("prog2_count", PROG2, "1.1"),
        ),
        // The kubelet, found on the host network (pid 0 in info.json).
        (format!("{KUBELET}/info.json"), info("kubelet", 0)),
        (
            format!("{KUBELET}/covmeta.{ATOMIC}"),
            fixture(&format!("atomic_snap/covmeta.{ATOMIC}")),
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
            fixture(&format!("count/covmeta.{COUNT}")),
        ),
        (format!("{KUBELET}/README.txt"), b"notes".to_vec()),
    ]
}

const INSTANCE_FILES: usize = 13;

// ---------------------------------------------------------------------------------------
// moto

struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// Starts moto_server on a free port of 127.0.0.1, or says why the test is skipped.
fn start_moto() -> Option<Moto> {
    let server = external::require(
        "moto_server (LIVECOV_MOTO_SERVER, PATH, /var/tmp/livecov-ci-venv; \
         run .ci/install-moto.sh)",
        find_moto(),
    )?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", server.display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{} -p {port} exited: {status}", server.display());
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    })
}

impl Moto {
    fn store(&self, bucket: &str) -> impl ObjectStore {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .expect("a client for moto")
    }

    async fn create_bucket(&self, bucket: &str) {
        let resp = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("PUT bucket");
        assert!(resp.status().is_success(), "creating {bucket}: {resp:?}");
    }

    /// Options that reach moto with static keys and no other credential source.
    fn options(&self, source: &str, collection: &Path) -> DownloadOptions {
        DownloadOptions::new(source, collection)
            .endpoint(Some(self.endpoint.clone()))
            .store_option("aws_access_key_id", "test")
            .store_option("aws_secret_access_key", "test")
            .region(Some("us-east-1".into()))
            .max_concurrency(4)
            .retry_delay(Duration::from_millis(10))
    }
}

async fn put(store: &impl ObjectStore, key: &str, bytes: &[u8]) {
    store
        .put(&ObjectPath::from(key), PutPayload::from(bytes.to_vec()))
        .await
        .unwrap_or_else(|e| panic!("uploading {key}: {e}"));
}

/// A bucket holding the producer layout under PREFIX, plus keys of a neighbouring
/// cluster whose prefix starts with the same characters (they must not be listed).
async fn seeded_moto() -> Option<(Moto, impl ObjectStore)> {
    let moto = start_moto()?;
    moto.create_bucket(BUCKET).await;
    let store = moto.store(BUCKET);
    for (key, bytes) in producer_layout() {
        put(&store, &format!("{PREFIX}/{key}"), &bytes).await;
    }
    put(
        &store,
        &format!("{PREFIX}2/{KUBELET}/covmeta.{ATOMIC}"),
        &fixture(&format!("atomic_snap/covmeta.{ATOMIC}")),
    )
    .await;
    Some((moto, store))
}

// ---------------------------------------------------------------------------------------
// what a collection holds

fn coverage(collection: &Path) -> PathBuf {
    collection.join("coverage")
}

fn dirs(collection: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(coverage(collection))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn metadata(collection: &Path, dir: &str) -> Metadata {
    let bytes = std::fs::read(coverage(collection).join(dir).join("metadata.json")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn manifest(collection: &Path, dir: &str) -> Manifest {
    let bytes =
        std::fs::read(coverage(collection).join(dir).join(".livecov-objects.json")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn mtime_secs(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Whole seconds of an RFC 3339 UTC time as written by the download.
fn rfc3339_secs(t: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (H. Hinnant), the inverse of the download's formatting.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as u64
}

/// Checks everything a first download of `producer_layout()` from `source` must give.
fn assert_first_download(summary: &Summary, collection: &Path, source: &str) {
    assert!(!summary.failed(), "{summary}\n{:#?}", summary.errors);
    assert_eq!(summary.source, source);
    assert_eq!(
        (summary.hostnames, summary.pod_entries, summary.host_entries),
        (2, 2, 1),
        "{summary}"
    );
    assert_eq!((summary.pod_instances, summary.host_instances), (3, 1));
    assert_eq!(
        (
            summary.files_downloaded,
            summary.files_unchanged,
            summary.files_failed
        ),
        (INSTANCE_FILES, 0, 0)
    );
    let skipped: Vec<(&str, &SkipReason)> = summary
        .skipped_keys
        .iter()
        .map(|k| (k.key.as_str(), &k.reason))
        .collect();
    let readme = format!("{KUBELET}/README.txt");
    let shallow = format!("node-1/openshift-etcd/etcd-node-1/covmeta.{COUNT}");
    assert_eq!(
        skipped,
        vec![
            (readme.as_str(), &SkipReason::NotCoverage),
            (
                shallow.as_str(),
                &SkipReason::Depth {
                    segments: 3,
                    host: false
                }
            ),
        ]
    );
    let expected_bytes: usize = producer_layout()
        .iter()
        .filter(|(k, _)| *k != readme && *k != shallow)
        .map(|(_, b)| b.len())
        .sum();
    assert_eq!(summary.bytes_downloaded, expected_bytes as u64);

    // One directory per process instance, holding exactly the objects of its key dir.
    assert_eq!(
        dirs(collection),
        [KUBELET_DIR, ETCD_1_DIR, ETCD_2_DIR, APISERVER_DIR]
    );
    let layout = producer_layout();
    for (key_dir, dir) in [
        (ETCD_1, ETCD_1_DIR),
        (ETCD_2, ETCD_2_DIR),
        (APISERVER, APISERVER_DIR),
        (KUBELET, KUBELET_DIR),
    ] {
        let mut want: BTreeMap<String, Vec<u8>> = layout
            .iter()
            .filter_map(|(k, b)| {
                let name = k.strip_prefix(key_dir)?.strip_prefix('/')?;
                (name != "README.txt").then(|| (name.to_string(), b.clone()))
            })
            .collect();
        let mut got = files(&coverage(collection).join(dir));
        for generated in ["metadata.json", ".livecov-objects.json"] {
            assert!(got.remove(generated).is_some(), "{dir} has no {generated}");
        }
        let object_names: Vec<String> = want.keys().cloned().collect();
        assert_eq!(got, std::mem::take(&mut want), "files of {dir}");

        // The manifest records every object with its URL, size, ETag and time, and each
        // file's mtime is its object's Last-Modified.
        let m = manifest(collection, dir);
        let entry_source = format!("{source}/{key_dir}/");
        assert_eq!(m.source, entry_source);
        assert_eq!(m.objects.keys().cloned().collect::<Vec<_>>(), object_names);
        for (name, rec) in &m.objects {
            assert_eq!(rec.url, format!("{entry_source}{name}"));
            assert_eq!(rec.size, got[name].len() as u64);
            assert!(
                rec.etag.as_deref().is_some_and(|e| !e.is_empty()),
                "{rec:?}"
            );
            assert_eq!(
                mtime_secs(&coverage(collection).join(dir).join(name)),
                rfc3339_secs(&rec.last_modified),
                "{dir}/{name}"
            );
        }
        let meta = metadata(collection, dir);
        assert_eq!(meta.source, entry_source);
        assert_eq!(
            meta.last_modified.as_deref(),
            m.objects.values().map(|r| r.last_modified.as_str()).max(),
            "{dir}: last_modified is the newest object's"
        );
    }

    // Both counter toggles of a process are kept.
    let etcd = files(&coverage(collection).join(ETCD_1_DIR));
    assert!(etcd.contains_key(&format!("covcounters.{COUNT}.4242.1")));
    assert!(etcd.contains_key(&format!("covcounters.{COUNT}.4242.2")));

    // metadata.json: the older tool's fields, plus discovery_time/source/last_modified.
    let pod = metadata(collection, ETCD_2_DIR);
    let want = Metadata {
        binary_name: "etcd".into(),
        collected_at: "2025-01-01T12:00:00Z".into(),
        container: livecov_collect::producer::ContainerMeta {
            image: "quay.io-openshift-release-dev-ocp-v4.0-art-dev-sha256-abc".into(),
            name: "etcd".into(),
        },
        discovery_time: "20250101T120000Z".into(),
        host_process: false,
        hostname: "node-1".into(),
        last_modified: pod.last_modified.clone(),
        namespace: "openshift-etcd".into(),
        pod_name: "etcd-node-1".into(),
        source: format!("{source}/{ETCD_2}/"),
        labels: Default::default(),
    };
    assert_eq!(pod, want);
    let host = metadata(collection, KUBELET_DIR);
    assert_eq!(
        (
            host.pod_name.as_str(),
            host.namespace.as_str(),
            host.container.name.as_str(),
            host.container.image.as_str(),
            host.binary_name.as_str(),
            host.collected_at.as_str(),
            host.host_process
        ),
        (
            "node-1",
            "",
            "",
            "",
            "kubelet",
            "2025-01-01T09:00:00Z",
            true
        )
    );
    // The older tool's readers see the same keys they always did.
    let raw: serde_json::Value = serde_json::from_slice(
        &std::fs::read(coverage(collection).join(KUBELET_DIR).join("metadata.json")).unwrap(),
    )
    .unwrap();
    for key in [
        "pod_name",
        "namespace",
        "container",
        "binary_name",
        "collected_at",
        "hostname",
        "host_process",
    ] {
        assert!(raw.get(key).is_some(), "metadata.json lacks {key}: {raw}");
    }
}

// ---------------------------------------------------------------------------------------
// tests

#[tokio::test]
async fn s3_download_keeps_every_instance_and_both_toggles() {
    let Some((moto, _store)) = seeded_moto().await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let source = format!("s3://{BUCKET}/{PREFIX}/");
    let summary = download(&moto.options(&source, tmp.path())).await.unwrap();
    assert_first_download(&summary, tmp.path(), &format!("s3://{BUCKET}/{PREFIX}"));
    let text = summary.to_string();
    assert!(text.contains("pod entries:   2 (3 instances)"), "{text}");
    assert!(text.contains("13 downloaded"), "{text}");
}

#[tokio::test]
async fn second_run_downloads_nothing_and_changed_objects_are_refreshed() {
    let Some((moto, store)) = seeded_moto().await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let source = format!("s3://{BUCKET}/{PREFIX}");
    let opts = moto.options(&source, tmp.path());
    let first = download(&opts).await.unwrap();
    assert_eq!(first.files_downloaded, INSTANCE_FILES);
    let meta_path = coverage(tmp.path()).join(ETCD_2_DIR).join("metadata.json");
    let meta_before = std::fs::read(&meta_path).unwrap();

    let second = download(&opts).await.unwrap();
    assert!(!second.failed(), "{second}");
    assert_eq!(
        (
            second.files_downloaded,
            second.files_unchanged,
            second.bytes_downloaded
        ),
        (0, INSTANCE_FILES, 0)
    );
    assert_eq!(std::fs::read(&meta_path).unwrap(), meta_before);

    // --skip-existing leaves complete instances alone without looking at their objects.
    let skipping = download(&opts.clone().skip_existing(true)).await.unwrap();
    assert_eq!(
        (
            skipping.instances_skipped_existing,
            skipping.files_downloaded,
            skipping.files_unchanged
        ),
        (4, 0, 0)
    );

    // The producer overwrites a toggle and writes the other one: both are downloaded,
    // the rest is not, and metadata.json follows the newest object.
    std::thread::sleep(Duration::from_millis(1100)); // Last-Modified has 1 s resolution
    let changed = format!("covcounters.{COUNT}.4343.1");
    let added = format!("covcounters.{COUNT}.4343.2");
    let new_counters = fixture(&format!("count/covcounters.{COUNT}.1.1"));
    put(
        &store,
        &format!("{PREFIX}/{ETCD_2}/{changed}"),
        &new_counters,
    )
    .await;
    put(&store, &format!("{PREFIX}/{ETCD_2}/{added}"), &new_counters).await;
    let third = download(&opts).await.unwrap();
    assert!(!third.failed(), "{third}");
    assert_eq!(
        (third.files_downloaded, third.files_unchanged),
        (2, INSTANCE_FILES - 1)
    );
    let dir = coverage(tmp.path()).join(ETCD_2_DIR);
    assert_eq!(std::fs::read(dir.join(&changed)).unwrap(), new_counters);
    assert_eq!(std::fs::read(dir.join(&added)).unwrap(), new_counters);
    let m = manifest(tmp.path(), ETCD_2_DIR);
    assert_eq!(m.objects.len(), 4);
    let meta = metadata(tmp.path(), ETCD_2_DIR);
    let newest = m.objects[&added]
        .last_modified
        .clone()
        .max(m.objects[&changed].last_modified.clone());
    assert_eq!(meta.last_modified.as_deref(), Some(newest.as_str()));
    assert_ne!(
        std::fs::read(&meta_path).unwrap(),
        meta_before,
        "metadata.json was refreshed"
    );
    assert!(
        rfc3339_secs(&newest) > rfc3339_secs(&metadata_from(&meta_before).last_modified.unwrap()),
        "the refreshed last_modified is newer"
    );
    // Other instances were not touched.
    let fourth = download(&opts).await.unwrap();
    assert_eq!(fourth.files_downloaded, 0);
}

fn metadata_from(bytes: &[u8]) -> Metadata {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test]
async fn a_failed_object_is_reported_with_its_url_and_the_rest_is_downloaded() {
    let Some((moto, _store)) = seeded_moto().await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // A directory where a file must go: saving that one object fails.
    let blocked = format!("covcounters.{COUNT}.4242.2");
    std::fs::create_dir_all(coverage(tmp.path()).join(ETCD_1_DIR).join(&blocked)).unwrap();
    let source = format!("s3://{BUCKET}/{PREFIX}");
    let summary = download(&moto.options(&source, tmp.path())).await.unwrap();
    assert!(summary.failed());
    assert_eq!(
        (summary.files_downloaded, summary.files_failed),
        (INSTANCE_FILES - 1, 1)
    );
    assert_eq!(summary.errors.len(), 1);
    let msg = summary.errors[0].to_string();
    assert!(
        msg.starts_with(&format!("saving {source}/{ETCD_1}/{blocked} to ")),
        "{msg}"
    );
    // The instance's other files and its manifest are still there.
    let m = manifest(tmp.path(), ETCD_1_DIR);
    assert_eq!(m.objects.len(), 3);
    assert!(!m.objects.contains_key(&blocked));
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error() {
    let Some(moto) = start_moto() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let err = download(&moto.options("s3://no-such-bucket/some/prefix", tmp.path()))
        .await
        .expect_err("listing a missing bucket fails");
    let msg = err.to_string();
    assert!(
        msg.starts_with("listing s3://no-such-bucket/some/prefix failed: "),
        "{msg}"
    );
    assert!(msg.contains("NoSuchBucket"), "{msg}");
    assert!(msg.contains("hint: the bucket"), "{msg}");
}

#[tokio::test]
async fn aws_profiles_from_the_shared_files_are_used() {
    let Some((moto, _store)) = seeded_moto().await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let creds = tmp.path().join("credentials");
    std::fs::write(
        &creds,
        "[moto]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    let config = tmp.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile moto]\nregion = us-east-1\nendpoint_url = {}\n",
            moto.endpoint
        ),
    )
    .unwrap();
    let collection = tmp.path().join("collection");
    let opts = DownloadOptions::new(format!("s3://{BUCKET}/{PREFIX}"), &collection)
        .profile(Some("moto".into()))
        .aws_credentials_file(Some(creds))
        .aws_config_file(Some(config));
    let summary = download(&opts).await.unwrap();
    assert!(!summary.failed(), "{summary}");
    assert_eq!(summary.files_downloaded, INSTANCE_FILES);
}

/// Writes `producer_layout()` under `root/PREFIX`, as a mirror of the bucket.
fn local_layout(root: &Path) -> PathBuf {
    let base = root.join(PREFIX);
    for (key, bytes) in producer_layout() {
        let path = base.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    base
}

/// What must be equal between downloads of one layout from different sources: files,
/// and metadata.json without its source and times.
fn comparable(collection: &Path) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    dirs(collection)
        .into_iter()
        .map(|dir| {
            let mut f = files(&coverage(collection).join(&dir));
            f.remove(".livecov-objects.json").expect("a manifest");
            let mut meta = metadata(collection, &dir);
            meta.source.clear();
            meta.last_modified = None;
            f.insert("metadata.json".into(), serde_json::to_vec(&meta).unwrap());
            (dir, f)
        })
        .collect()
}

#[tokio::test]
async fn file_urls_and_plain_paths_give_the_same_collection() {
    let tmp = tempfile::tempdir().unwrap();
    let base = local_layout(&tmp.path().join("mirror"));
    let file_url = url::Url::from_directory_path(&base).unwrap().to_string();
    let canonical = file_url.trim_end_matches('/').to_string();

    let by_url = tmp.path().join("by-url");
    let s = download(&DownloadOptions::new(&file_url, &by_url))
        .await
        .unwrap();
    assert_first_download(&s, &by_url, &canonical);

    let by_path = tmp.path().join("by-path");
    let s = download(&DownloadOptions::new(base.to_str().unwrap(), &by_path))
        .await
        .unwrap();
    assert_first_download(&s, &by_path, &canonical);
    assert_eq!(comparable(&by_url), comparable(&by_path));

    // A second run finds every file unchanged.
    let again = download(&DownloadOptions::new(base.to_str().unwrap(), &by_path))
        .await
        .unwrap();
    assert_eq!(
        (again.files_downloaded, again.files_unchanged),
        (0, INSTANCE_FILES)
    );

    let e = download(&DownloadOptions::new(
        tmp.path().join("absent").to_str().unwrap(),
        &by_path,
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("cannot open directory"), "{e}");
}

#[tokio::test]
async fn s3_and_local_sources_give_the_same_collection() {
    let Some((moto, _store)) = seeded_moto().await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let from_s3 = tmp.path().join("s3");
    download(&moto.options(&format!("s3://{BUCKET}/{PREFIX}"), &from_s3))
        .await
        .unwrap();
    let base = local_layout(&tmp.path().join("mirror"));
    let from_disk = tmp.path().join("disk");
    download(&DownloadOptions::new(base.to_str().unwrap(), &from_disk))
        .await
        .unwrap();
    assert_eq!(comparable(&from_s3), comparable(&from_disk));
}

#[test]
fn the_time_helper_inverts_the_download_formatting() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let s = livecov_collect::producer::rfc3339(now as i64, 0);
    assert_eq!(rfc3339_secs(&s), now);
}
