//! Text profiles written by a real Go toolchain (see `data/goprofile/README.md`), read and
//! written back by `livecov_formats::goprofile`.

use std::path::PathBuf;

use livecov_formats::goprofile::{parse, sort_textfmt, write, Profile};
use livecov_model::CounterMode;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/goprofile")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn to_text(p: &Profile) -> String {
    let mut out = Vec::new();
    write(p, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// textfmt output is already merged and sorted, so reading it and writing it back, sorted or
/// not, must give the same bytes.
fn assert_textfmt_round_trip(name: &str, mode: CounterMode) {
    let text = fixture(name);
    let (mut p, warnings) = parse(&text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(p.mode(), mode);
    assert_eq!(p.len(), text.lines().count() - 1);
    assert_eq!(to_text(&p), text);
    sort_textfmt(&mut p);
    assert_eq!(to_text(&p), text);
}

#[test]
fn textfmt_set() {
    assert_textfmt_round_trip("textfmt-set.out", CounterMode::Set);
}

#[test]
fn textfmt_count() {
    assert_textfmt_round_trip("textfmt-count.out", CounterMode::Count);
}

/// `go test -coverpkg=./... ./...` repeats every block once per test binary; reading merges
/// them as `go tool cover` does (the expected file gives the same `go tool cover -func`
/// output as the input).
#[test]
fn gotest_coverpkg_count() {
    let (p, warnings) = parse(&fixture("gotest-coverpkg-count.out")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(to_text(&p), fixture("gotest-coverpkg-count.merged.out"));
}

/// The same data merged two ways: the per-binary halves merged as profiles, and the repeats
/// merged while reading, agree.
#[test]
fn gotest_coverpkg_count_merged_by_halves() {
    let text = fixture("gotest-coverpkg-count.out");
    let lines: Vec<&str> = text.lines().collect();
    let half = (lines.len() - 1) / 2;
    let first = format!("{}\n{}\n", lines[0], lines[1..=half].join("\n"));
    let second = format!("{}\n{}\n", lines[0], lines[half + 1..].join("\n"));
    let (mut a, _) = parse(&first).unwrap();
    let (b, _) = parse(&second).unwrap();
    assert!(!a.merge(&b).unwrap().overflowed);
    assert_eq!(to_text(&a), fixture("gotest-coverpkg-count.merged.out"));
}
