//! `livecov lcov merge` against Debian's `lcov -a`, on tracefiles real producers wrote
//! (gcc + `lcov -c`, `llvm-cov export -format=lcov`; livecov-formats' test data): the
//! per-file, per-line hit counts of both merged tracefiles must be equal.

#[path = "support/external.rs"]
mod external;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../livecov-formats/tests/data/lcov")
        .join(name)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn lcov() -> Option<PathBuf> {
    let ok = Command::new("lcov")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| PathBuf::from("lcov"))
}

/// SF path -> line -> hits, summed over repeated DA records (as a reader merges them).
fn da_map(tracefile: &Path) -> BTreeMap<String, BTreeMap<u32, u64>> {
    let text = fs::read_to_string(tracefile).unwrap();
    let mut out: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
    let mut sf = String::new();
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("SF:") {
            sf = p.to_owned();
        } else if let Some(da) = line.strip_prefix("DA:") {
            let mut f = da.split(',');
            let n: u32 = f.next().unwrap().parse().unwrap();
            let hits: u64 = f.next().unwrap().parse().unwrap();
            *out.entry(sf.clone()).or_default().entry(n).or_default() += hits;
        }
    }
    out
}

#[test]
fn per_line_hits_equal_lcov_add() {
    let Some(lcov) = external::require("lcov (Debian's lcov package)", lcov()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let inputs = [
        data("gcc-lcov-capture.info"),
        data("llvm-cov-export.info"),
        data("gcc-lcov-add-twice.info"),
        data("gcc-lcov-capture.info"),
    ];
    let theirs = tmp.path().join("theirs.info");
    let mut c = Command::new(&lcov);
    for i in &inputs {
        c.arg("-a").arg(i);
    }
    let out = c.arg("-o").arg(&theirs).output().unwrap();
    assert!(out.status.success(), "lcov -a: {}", text(&out));

    let ours = tmp.path().join("ours.info");
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["lcov", "merge", "-o"])
        .arg(&ours)
        .args(&inputs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("merged 4 of 4 tracefiles"),
        "{}",
        text(&out)
    );
    let (a, b) = (da_map(&ours), da_map(&theirs));
    assert_eq!(a, b);
    // Line 4 of the gcc program ran 12 times per capture; the add-twice file holds two
    // more captures.
    let gcc = &a["/var/tmp/lc-gold/gcc/prog.c"];
    assert_eq!(gcc[&4], 12 * 4, "{gcc:?}");
    assert_eq!(a.len(), 2, "{:?}", a.keys());
}

#[test]
fn a_bad_input_is_named_and_the_rest_merged() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.info");
    fs::write(&bad, "SF:/src/a.c\nDA:1,5\nDA:two,3\nend_of_record\n").unwrap();
    let missing = tmp.path().join("missing.info");
    let ours = tmp.path().join("ours.info");
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["lcov", "merge", "-o"])
        .arg(&ours)
        .arg(data("gcc-lcov-capture.info"))
        .arg(&bad)
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.info"), "{stderr}");
    assert!(
        stderr.contains("bad.info: line 3"),
        "the malformed DA is named by file and line: {stderr}"
    );
    let merged = da_map(&ours);
    assert_eq!(merged["/src/a.c"][&1], 5);
    assert_eq!(merged["/var/tmp/lc-gold/gcc/prog.c"][&4], 12);
}
