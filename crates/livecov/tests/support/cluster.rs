//! A small cluster of pods made of the golden Go coverage files (written by real Go
//! programs, tests/fixtures/go/golden), for tests that compile, store and serve
//! collections. Shared with `#[path = "support/cluster.rs"] mod cluster;` (std only).
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// The golden coverage directory of a scenario.
pub fn golden(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/go/golden/data")
        .join(scenario)
}

/// The build of the `prog2_count` scenario: in pod 7 only.
pub const LONE_BUILD: &str = "da4ea8542a4ab76ec42b3129b9de1f22";

/// Pod `i` of the test cluster: its directory name, golden scenario and metadata.
pub fn pod(i: usize) -> (String, &'static str, String) {
    let scenarios = ["set1", "count", "atomic_snap", "two_binaries", "coverpkg"];
    let scenario = if i == 7 {
        "prog2_count"
    } else {
        scenarios[i % scenarios.len()]
    };
    let ns = ["shop", "auth", "infra"][i % 3];
    let labels = if i.is_multiple_of(4) {
        r#", "labels": {"scenario": "login"}"#
    } else {
        ""
    };
    let meta = format!(
        r#"{{"pod_name": "web-{}-x{i}", "namespace": "{ns}", "container": {{"name": "app", "image": "img/{ns}:{}"}},
           "binary_name": "prog", "collected_at": "2026-11-21T09:{:02}:00Z", "hostname": "node-{}",
           "host_process": false{labels}}}"#,
        i % 5,
        i % 2,
        i % 60,
        i % 3
    );
    (format!("{ns}-web-x{i}-app"), scenario, meta)
}

/// The distinct builds (meta files) of the pods `range`.
pub fn builds_of(range: std::ops::Range<usize>) -> usize {
    let mut metas = std::collections::BTreeSet::new();
    for i in range {
        for e in fs::read_dir(golden(pod(i).1)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.starts_with("covmeta.") {
                metas.insert(name);
            }
        }
    }
    metas.len()
}

/// The files of pod `i`'s report directory: (name, bytes), metadata.json included.
pub fn pod_files(i: usize) -> Vec<(String, Vec<u8>)> {
    let (_, scenario, meta) = pod(i);
    let mut files = Vec::new();
    for e in fs::read_dir(golden(scenario)).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name != ".gitkeep" {
            files.push((name, fs::read(e.path()).unwrap()));
        }
    }
    files.sort();
    files.push(("metadata.json".to_owned(), meta.into_bytes()));
    files
}

/// A collection at `dir` holding the pods `range`.
pub fn collection(dir: &Path, range: std::ops::Range<usize>) -> PathBuf {
    for i in range {
        let (name, _, _) = pod(i);
        let d = dir.join("coverage").join(name);
        fs::create_dir_all(&d).unwrap();
        for (f, bytes) in pod_files(i) {
            fs::write(d.join(f), bytes).unwrap();
        }
    }
    dir.to_path_buf()
}
