//! `livecov cluster compile` on collections made of real Go coverage data
//! (`tests/fixtures/go/golden`, written by real programs; expected figures from the
//! `go tool covdata` outputs committed beside them).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use livecov_formats::gocovdata::{
    decode_counter_file, decode_meta_file, encode_counter_file, encode_meta_file,
    encode_package_blob, FuncMeta, FuncRecord, PackageMeta,
};
use livecov_model::Unit;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/golden")
}

fn livecov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .output()
        .unwrap()
}

fn metadata(pod: &str, ns: &str, node: &str, extra: &str) -> String {
    format!(
        r#"{{"pod_name": "{pod}", "namespace": "{ns}", "container": {{"name": "app", "image": "img/{ns}"}},
           "binary_name": "prog", "collected_at": "2026-11-21T09:00:00Z", "hostname": "{node}",
           "host_process": {}{extra}}}"#,
        ns.is_empty()
    )
}

/// Copies a golden scenario into `<collection>/coverage/<name>` with a metadata.json.
fn add_dir(collection: &Path, name: &str, scenario: &str, meta: &str) -> PathBuf {
    let dir = collection.join("coverage").join(name);
    fs::create_dir_all(&dir).unwrap();
    for e in fs::read_dir(golden().join("data").join(scenario)).unwrap() {
        let e = e.unwrap();
        if e.file_name() != ".gitkeep" {
            fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    fs::write(dir.join("metadata.json"), meta).unwrap();
    dir
}

fn report(collection: &Path) -> serde_json::Value {
    let out = livecov(&[
        "report",
        "--collection",
        collection.to_str().unwrap(),
        "--format",
        "json",
    ]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (statements, covered) of a text profile written by `go tool covdata textfmt`.
fn profile_totals(path: &Path) -> (u64, u64) {
    let text = fs::read_to_string(path).unwrap();
    text.lines().skip(1).fold((0, 0), |(t, c), l| {
        let f: Vec<&str> = l.split(' ').collect();
        let s: u64 = f[1].parse().unwrap();
        let n: u64 = f[2].parse().unwrap();
        (t + s, c + if n > 0 { s } else { 0 })
    })
}

#[test]
fn per_build_totals_equal_covdata() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    // One build each (set, count, atomic with mid-run snapshots, another program).
    let scenarios = ["set1", "count", "atomic_snap", "prog2_count"];
    for (i, s) in scenarios.iter().enumerate() {
        add_dir(c, s, s, &metadata(&format!("p-{i}"), "ns", "node-a", ""));
    }
    let out = livecov(&["cluster", "compile", "--collection", c.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(c);
    let builds = r["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 4);
    for s in scenarios {
        let meta = fs::read_dir(golden().join("data").join(s))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("covmeta."))
            .unwrap();
        let hash = meta.trim_start_matches("covmeta.");
        let b = builds.iter().find(|b| b["build"] == hash).unwrap();
        let (total, covered) = profile_totals(&golden().join(format!("expected/{s}_textfmt.out")));
        assert_eq!(b["statements"], total, "{s}");
        assert_eq!(b["covered_statements"], covered, "{s}");
    }
}

/// Sums of the stored counter vectors that `rows` picks from the store: (build id,
/// compressed counters) each.
fn stored_sums(
    collection: &Path,
    rows: impl FnOnce(&livecov_store::Store) -> Vec<(i64, Vec<u8>)>,
) -> Vec<u64> {
    let store = livecov_store::Store::open(&collection.join("livecov.db")).unwrap();
    let units: BTreeMap<i64, u64> = store
        .builds()
        .unwrap()
        .into_iter()
        .map(|b| (b.id, b.units))
        .collect();
    rows(&store)
        .iter()
        .map(|(build, counters)| {
            livecov_store::decompress_counters(counters, units[build] as usize)
                .unwrap()
                .iter()
                .map(|&v| u64::from(v))
                .sum()
        })
        .collect()
}

/// Sum of every counter each process of `dir` kept.
fn stored_counter_sum(collection: &Path, dir: &str) -> Vec<u64> {
    stored_sums(collection, |s| {
        s.processes(dir)
            .unwrap()
            .into_iter()
            .map(|p| (p.build_id, p.counters))
            .collect()
    })
}

/// Sum of every counter of every owner group.
fn stored_owner_counter_sum(collection: &Path) -> u64 {
    stored_sums(collection, |s| {
        s.owners()
            .unwrap()
            .into_iter()
            .map(|o| (o.build_id, o.counters))
            .collect()
    })
    .iter()
    .sum()
}

/// The counter files of a directory, sorted by name.
fn counter_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("covcounters."))
        .collect();
    names.sort();
    names
}

fn file_counter_sum(path: &Path) -> u64 {
    let (f, _) = decode_counter_file(&fs::read(path).unwrap()).unwrap();
    f.records
        .iter()
        .flat_map(|r| &r.counters)
        .map(|&v| u64::from(v))
        .sum()
}

#[test]
fn successive_snapshots_of_one_process_keep_only_the_newest() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    // atomic_snap: one process (pid field 1) wrote three cumulative snapshots. covdata
    // would sum them; compile keeps the one that contains the others.
    let dir = add_dir(
        c,
        "snap",
        "atomic_snap",
        &metadata("api-0", "ns", "node-a", ""),
    );
    let names = counter_files(&dir);
    assert_eq!(names.len(), 3);
    let out = livecov(&["cluster", "compile", "--collection", c.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let newest = file_counter_sum(&dir.join(&names[2]));
    let all: u64 = names.iter().map(|n| file_counter_sum(&dir.join(n))).sum();
    assert_eq!(stored_counter_sum(c, "snap"), vec![newest]);
    assert!(newest < all, "snapshots are not summed");
    let store = livecov_store::Store::open(&c.join("livecov.db")).unwrap();
    assert_eq!(store.processes("snap").unwrap()[0].superseded, 2);
}

#[test]
fn restarts_that_reuse_a_pid_are_separate_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    // Two lifetimes of one container's main process, both pid 1 (as after a restart),
    // that ran different functions: the real prog2_count run split in two. Neither
    // contains the other, so both count, and together they cover what the run did.
    let dir = add_dir(
        c,
        "restarts",
        "prog2_count",
        &metadata("web-0", "ns", "node-a", ""),
    );
    let name = counter_files(&dir).remove(0);
    let (file, _) = decode_counter_file(&fs::read(dir.join(&name)).unwrap()).unwrap();
    fs::remove_file(dir.join(&name)).unwrap();
    let hash = name.split('.').nth(1).unwrap();
    let half = file.records.len() / 2;
    assert!(half > 0);
    for (i, part) in [&file.records[..half], &file.records[half..]]
        .iter()
        .enumerate()
    {
        let bytes = encode_counter_file(file.meta_hash, &file.args, part);
        fs::write(dir.join(format!("covcounters.{hash}.1.{}", i + 1)), bytes).unwrap();
    }
    let out = livecov(&["cluster", "compile", "--collection", c.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stored_counter_sum(c, "restarts").len(), 2);
    let (total, covered) = profile_totals(&golden().join("expected/prog2_count_textfmt.out"));
    let r = report(c);
    assert_eq!(r["builds"][0]["statements"], total);
    assert_eq!(r["builds"][0]["covered_statements"], covered);
}

#[test]
fn bad_inputs_are_reported_per_directory_and_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let cs = c.to_str().unwrap();
    add_dir(c, "good", "count", &metadata("web-0", "ns", "node-a", ""));
    let bad = add_dir(
        c,
        "bad",
        "prog2_count",
        &metadata("api-0", "ns", "node-a", ""),
    );
    let counter = fs::read_dir(&bad)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("covcounters.")
        })
        .unwrap();
    let original = fs::read(&counter).unwrap();
    fs::write(&counter, &original[..original.len() - 20]).unwrap();
    let nometa = c.join("coverage/nometa");
    fs::create_dir_all(&nometa).unwrap();
    fs::write(nometa.join("metadata.json"), "{not json").unwrap();

    let out = livecov(&["cluster", "compile", "--collection", cs]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad") && stderr.contains("byte offset"),
        "{stderr}"
    );
    assert!(
        stderr.contains("metadata.json: not valid metadata JSON"),
        "{stderr}"
    );
    let r = report(c);
    assert_eq!(r["errors"].as_array().unwrap().len(), 2);
    assert_eq!(
        r["owners"].as_array().unwrap().len(),
        1,
        "the good directory compiled"
    );

    // Errors are not sticky: fixed inputs compile on the next run, nothing else is lost.
    fs::write(&counter, &original).unwrap();
    fs::remove_dir_all(&nometa).unwrap();
    let out = livecov(&["cluster", "compile", "--collection", cs]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(c);
    assert!(r["errors"].as_array().unwrap().is_empty());
    assert_eq!(r["owners"].as_array().unwrap().len(), 2);
}

#[test]
fn infrastructure_files_are_excluded_by_name_not_substring() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let unit = |line, stmts| Unit {
        start_line: line,
        start_col: 1,
        end_line: line + 1,
        end_col: 2,
        stmts,
    };
    let func = |name: &str, file: &str, stmts| FuncMeta {
        name: name.into(),
        file: file.into(),
        lit: false,
        units: vec![unit(3, stmts)],
    };
    let pkg = PackageMeta {
        name: "main".into(),
        path: "example.com/svc".into(),
        module_path: "example.com/svc".into(),
        hash: [0; 16],
        functions: vec![
            func("serve", "example.com/svc/coverage_server.go", 5),
            func("mine", "example.com/svc/my_coverage_server.go", 3),
            func("main", "example.com/svc/main.go", 2),
            func("livecovAgentStart", "example.com/svc/livecov_agent.go", 7),
        ],
    };
    let blob = encode_package_blob(&pkg, [7; 16]);
    let hash = [9u8; 16];
    let meta = encode_meta_file(hash, 3, 1, &[&blob]);
    assert!(decode_meta_file(&meta).is_ok());
    let records: Vec<FuncRecord> = (0..4)
        .map(|f| FuncRecord {
            pkg: 0,
            func: f,
            counters: vec![1],
        })
        .collect();
    let dir = c.join("coverage/svc");
    fs::create_dir_all(&dir).unwrap();
    let hex = "09".repeat(16);
    fs::write(dir.join(format!("covmeta.{hex}")), meta).unwrap();
    fs::write(
        dir.join(format!("covcounters.{hex}.10.1")),
        encode_counter_file(hash, &[], &records),
    )
    .unwrap();
    fs::write(dir.join("metadata.json"), metadata("svc-0", "ns", "n", "")).unwrap();
    let out = livecov(&["cluster", "compile", "--collection", c.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(c);
    assert_eq!(
        r["builds"][0]["statements"], 5,
        "only coverage_server.go and livecov's own agent (livecov_agent.go) are left out"
    );
    assert_eq!(r["builds"][0]["covered_statements"], 5);
}

#[test]
fn an_owner_only_info_json_knows_is_used_after_an_output_bucket_round_trip() {
    // `collect --output` records the pod's ownerReference in info.json (the bucket's
    // object keys cannot hold it); `cluster download` writes a metadata.json without it.
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    // A pod name the name rules would take for a ReplicaSet's: the owner must come from
    // info.json instead.
    let dir = add_dir(
        c,
        "a",
        "prog2_count",
        &metadata("web-7d9f8b6c5d-x2x4z", "shop", "node-a", ""),
    );
    fs::write(
        dir.join("info.json"),
        r#"{"owner_kind": "StatefulSet", "owner_name": "db", "node": "node-a"}"#,
    )
    .unwrap();
    let out = livecov(&["cluster", "compile", "--collection", c.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(c);
    let owners = r["owners"].as_array().unwrap();
    assert_eq!(owners.len(), 1, "{owners:#?}");
    assert_eq!(owners[0]["owner_type"], "StatefulSet");
    assert_eq!(owners[0]["owner"], "db");
}

#[test]
fn owners_use_owner_references_and_merge_host_duplicates_once() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    // Two pods of one DaemonSet (ownerReferences recorded) on two nodes, plus the same
    // process seen again through the host scan on node-a.
    let owner = r#", "owner_kind": "DaemonSet", "owner_name": "agent""#;
    add_dir(
        c,
        "a",
        "prog2_count",
        &metadata("agent-x7k2p", "infra", "node-a", owner),
    );
    add_dir(
        c,
        "b",
        "prog2_count",
        &metadata("agent-q9w8z", "infra", "node-b", owner),
    );
    add_dir(
        c,
        "host",
        "prog2_count",
        &metadata("node-a", "", "node-a", ""),
    );
    let out = livecov(&["cluster", "compile", "--collection", c.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(c);
    let owners = r["owners"].as_array().unwrap();
    assert_eq!(owners.len(), 1, "{owners:#?}");
    assert_eq!(owners[0]["owner_type"], "DaemonSet");
    assert_eq!(owners[0]["owner"], "agent");
    assert_eq!(
        owners[0]["pods"],
        serde_json::json!(["agent-q9w8z", "agent-x7k2p"])
    );
    assert_eq!(owners[0]["hosts"], serde_json::json!(["node-a", "node-b"]));

    // --merge max keeps the element-wise maximum instead of the sum.
    let sum = stored_owner_counter_sum(c);
    let out = livecov(&[
        "cluster",
        "compile",
        "--collection",
        c.to_str().unwrap(),
        "--merge",
        "max",
    ]);
    assert!(out.status.success());
    let max = stored_owner_counter_sum(c);
    assert_eq!(
        sum,
        2 * max,
        "two identical pods: the sum doubles, the max does not"
    );
}

#[test]
fn update_filters_force_recompiling_matching_inputs_only() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let cs = c.to_str().unwrap();
    add_dir(c, "a", "count", &metadata("web-0", "shop", "node-a", ""));
    add_dir(
        c,
        "b",
        "prog2_count",
        &metadata("api-0", "billing", "node-b", ""),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["cluster", "compile", "--collection", cs];
        args.extend_from_slice(extra);
        let out = livecov(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run(&[]).contains("compiled 2 inputs"));
    assert!(run(&[]).contains("compiled 0 inputs (2 unchanged"));
    assert!(run(&["--update", "*"]).contains("compiled 2 inputs"));
    assert!(run(&["--update", "namespace=sh*"]).contains("compiled 1 inputs (1 unchanged"));
    // Several filters are ANDed.
    assert!(
        run(&["--update", "namespace=sh*", "--update", "node=node-b"])
            .contains("compiled 0 inputs (2 unchanged")
    );
    assert!(
        run(&["--update", "node=node-?", "--update", "container=app"])
            .contains("compiled 2 inputs")
    );
    let bad = livecov(&[
        "cluster",
        "compile",
        "--collection",
        cs,
        "--update",
        "pod=x",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown field \"pod\""));
}
