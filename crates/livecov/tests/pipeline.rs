//! The cluster pipeline end to end on a producer-shaped bucket of real Go coverage files:
//! `cluster download` (from a plain directory; S3 itself is covered by livecov-collect's
//! tests against a real S3-compatible server) → `cluster compile` → `report`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn golden(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/go/golden/data")
        .join(scenario)
}

fn livecov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .output()
        .unwrap()
}

/// Writes one producer entry: the meta file, counter snapshots renamed to the producer's
/// `.1`/`.2` toggles, and info.json.
fn entry(root: &Path, rel: &str, scenario: &str, toggles: &[&str], info: &str) {
    let dir = root.join(rel);
    fs::create_dir_all(&dir).unwrap();
    let mut counters = Vec::new();
    for e in fs::read_dir(golden(scenario)).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("covmeta.") {
            fs::copy(e.path(), dir.join(&name)).unwrap();
        } else if name.starts_with("covcounters.") {
            counters.push((name, e.path()));
        }
    }
    counters.sort();
    let hash = counters[0].0.split('.').nth(1).unwrap().to_owned();
    for ((_, path), toggle) in counters.iter().zip(toggles) {
        fs::copy(path, dir.join(format!("covcounters.{hash}.4242.{toggle}"))).unwrap();
    }
    fs::write(dir.join("info.json"), info).unwrap();
}

#[test]
fn download_compile_report() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = tmp.path().join("bucket/openshift-ci/coverage/c1");
    let info = r#"{"binary":"prog","host":"10.0.0.5","port":53700,"pid":4242,
        "source_url":"https://github.com/example/prog","source_commit":"0123456789abcdef",
        "software_group":"g","software_key":"k"}"#;
    // A Deployment pod whose process wrote two cumulative snapshots (.1 and .2).
    entry(
        &bucket,
        "node-a/shop/web-7d9f8b6c4-x2x9z/app/20261121T090000Z/quay.io-shop-web-sha256-aa/prog",
        "atomic_snap",
        &["1", "2"],
        info,
    );
    // The same Deployment on another node, and a host-network process.
    entry(
        &bucket,
        "node-b/shop/web-7d9f8b6c4-k8p2m/app/20261121T091500Z/quay.io-shop-web-sha256-aa/prog",
        "atomic_snap",
        &["1"],
        info,
    );
    entry(
        &bucket,
        "node-a/_host_/20261121T090000Z/prog2",
        "prog2_count",
        &["2"],
        "{}",
    );

    let collection = tmp.path().join("run1");
    let c = collection.to_str().unwrap();
    let out = livecov(&[
        "cluster",
        "download",
        "--collection",
        c,
        "--url",
        bucket.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dirs: Vec<String> = fs::read_dir(collection.join("coverage"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs.len(), 3, "{dirs:?}");

    let out = livecov(&["cluster", "compile", "--collection", c]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("compiled 3 inputs"), "{stderr}");

    let out = livecov(&["report", "--collection", c, "--format", "json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let owners = r["owners"].as_array().unwrap();
    assert_eq!(owners.len(), 2, "{owners:#?}");
    let web = owners.iter().find(|o| o["namespace"] == "shop").unwrap();
    assert_eq!(web["owner_type"], "Deployment");
    assert_eq!(web["owner"], "web");
    assert_eq!(web["pods"].as_array().unwrap().len(), 2);
    assert_eq!(web["hosts"], serde_json::json!(["node-a", "node-b"]));
    let host = owners.iter().find(|o| o["namespace"] == "host").unwrap();
    assert_eq!(host["owner_type"], "Host");
    assert_eq!(host["owner"], "prog2");

    // The two toggles of node-a's process are snapshots of one process: one kept.
    let store = livecov_store::Store::open(&collection.join("livecov.db")).unwrap();
    let inputs = store.inputs().unwrap();
    let a = inputs
        .iter()
        .find(|i| i.hostname == "node-a" && !i.is_host)
        .unwrap();
    let procs = store.processes(&a.dir).unwrap();
    assert_eq!(procs.len(), 1);
    assert_eq!(procs[0].superseded, 1);
    // Image sources from info.json.
    let sources = store.image_sources().unwrap();
    let web_source = sources
        .iter()
        .find(|s| s.image.contains("shop-web"))
        .unwrap();
    assert_eq!(web_source.source_repo, "https://github.com/example/prog");
    assert_eq!(web_source.commit_id, "0123456789abcdef");
    assert_eq!(web_source.origin, "info.json");

    // Nothing changed: download transfers nothing, compile compiles nothing.
    let out = livecov(&[
        "cluster",
        "download",
        "--collection",
        c,
        "--url",
        bucket.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let out = livecov(&["cluster", "compile", "--collection", c]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("compiled 0 inputs (3 unchanged"));
}
