//! `livecov demo` (the README's first command) works from a clean directory: it builds
//! a collection from the real coverage data it ships, compiles it into the SQLite store,
//! and `livecov report` reads the figures back.

use std::process::Command;

fn livecov(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn demo_compiles_the_shipped_data_and_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = dir.to_str().unwrap();
    let out = livecov(&["demo", "--dir", d]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Owners (3):"), "{stdout}");
    assert!(
        stdout.contains("\texample.com/prog/dep\t\tcoverage: 66.7% of statements\n"),
        "{stdout}"
    );
    assert!(dir.join("livecov.db").is_file());
    // It renders the site with sources fetched at the demo repository's commit, and
    // ends with the path of index.html.
    let index = dir.join("html/index.html").canonicalize().unwrap();
    assert!(
        stdout.trim_end().ends_with(&index.display().to_string()),
        "{stdout}"
    );
    assert!(stdout.contains("Cloned: 1, Errors: 0"), "{stdout}");

    let json = livecov(&["report", "--collection", d, "--format", "json"]);
    assert!(json.status.success());
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let builds = v["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 3);
    // The two frontend pods share one build: one owner, two pods, covered statements
    // from both processes.
    let shop = v["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["namespace"] == "shop")
        .unwrap();
    assert_eq!(shop["owner_type"], "Deployment");
    assert_eq!(shop["owner"], "frontend");
    assert_eq!(shop["pods"].as_array().unwrap().len(), 2);
    assert_eq!(shop["statements"], 185);
    assert_eq!(shop["covered_statements"], 60);
    assert_eq!(shop["build"], "fb5d9fb229349f9b25b93ba370b3e169");

    // A second run is incremental: nothing to compile.
    let again = livecov(&["cluster", "compile", "--collection", d]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("compiled 0 inputs (4 unchanged"));
}
