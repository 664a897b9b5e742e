//! Bad input never panics and never loses the rest: every damaged file of
//! `tests/fixtures/go/golden/data/bad` (made by `mkbad.py` from real Go output) is read
//! beside a good directory; livecov must name the file, the byte offset and what it
//! expected, still print the good directory's packages exactly as covdata does for it
//! alone, and exit with status 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/golden")
}

fn livecov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .arg("go")
        .args(args)
        .current_dir(golden())
        .output()
        .expect("running livecov")
}

/// (bad directory, what stderr must say besides the file name).
const CASES: &[(&str, &[&str])] = &[
    (
        "meta_truncated",
        &["covmeta.", "byte offset 56", "truncated file?"],
    ),
    (
        "meta_badmagic",
        &[
            "covmeta.",
            "byte offset 0",
            "bad magic",
            "expected 00 63 76 6d",
        ],
    ),
    (
        "meta_v2",
        &["covmeta.", "byte offset 4", "version 2 (expected 1)"],
    ),
    (
        "meta_v0",
        &["covmeta.", "byte offset 4", "version 0 (expected 1)"],
    ),
    (
        "meta_empty",
        &["covmeta.", "byte offset 0", "expected 56 bytes, file has 0"],
    ),
    (
        "counter_truncated",
        &["covcounters.", "byte offset", "missing footer magic"],
    ),
    (
        "counter_badmagic",
        &["covcounters.", "byte offset 0", "expected 00 63 77 6d"],
    ),
    (
        "counter_v2",
        &["covcounters.", "byte offset 4", "version 2 (expected 1)"],
    ),
    (
        "counter_empty",
        &[
            "covcounters.",
            "byte offset 0",
            "a valid file has at least 64",
        ],
    ),
    ("counter_zero_segments", &["covcounters.", "no segments"]),
    (
        "flavor3_gopanic",
        &["byte offset 24", "unknown counter flavor 3"],
    ),
    (
        "orphan",
        &["no meta-data file with hash 5227851894531ad17aadc799b5039ca5"],
    ),
    (
        "orphan_with_pod",
        &["no meta-data file with hash 00000000000000000000000000000000"],
    ),
    (
        "pkgidx_oob",
        &["byte offset 126", "names package 3", "index out of range"],
    ),
    (
        "funcidx_oob",
        &["byte offset 126", "names function 7", "index out of range"],
    ),
    ("funcidx_eq_nf", &["names function 6", "which has 6"]),
    (
        "len_mismatch_shorter",
        &["byte offset 120", "has 2 counters, expected 3"],
    ),
    (
        "len_mismatch_longer",
        &["byte offset 120", "has 4 counters, expected 3"],
    ),
    (
        "record_long",
        &["has 4 counters, expected 3", "extra counters are ignored"],
    ),
    (
        "record_short_gopanic",
        &["has 2 counters, expected 3", "record ignored"],
    ),
    ("args_badargc", &["byte offset", "malformed argc"]),
    (
        "args_badstrref",
        &["byte offset", "malformed string table ref"],
    ),
    ("args_dupkey", &["byte offset", "key \"GOOS\" repeated"]),
];

#[test]
fn every_bad_input_is_named_and_the_rest_is_still_reported() {
    let good = livecov(&["percent", "-i=data/set1"]);
    assert!(good.status.success());
    let good_stdout = String::from_utf8(good.stdout).unwrap();
    for (kind, needles) in CASES {
        let dir = format!("data/bad/{kind}");
        let out = livecov(&["percent", &format!("-i={dir},data/set1")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{kind}: exit status; stderr:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{kind}: {stderr}");
        assert!(
            stderr.contains(&dir),
            "{kind}: the file is not named:\n{stderr}"
        );
        for n in *needles {
            assert!(stderr.contains(n), "{kind}: stderr lacks {n:?}:\n{stderr}");
        }
        // The good directory's packages are all there, with its figures where the bad
        // directory carries none of the same packages' data.
        for line in good_stdout.split_inclusive('\n') {
            let pkg = line.split('\t').nth(1).unwrap();
            assert!(stdout.contains(pkg), "{kind}: lost {pkg}:\n{stdout}");
        }
    }
}

#[test]
fn a_directory_without_coverage_files_is_an_error_and_others_still_print() {
    let out = livecov(&["percent", "-i=data/empty,data/set1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("input directory data/empty holds no coverage data files"),
        "{stderr}"
    );
    let alone = livecov(&["percent", "-i=data/set1"]);
    assert_eq!(out.stdout, alone.stdout);
}

#[test]
fn a_missing_directory_is_named() {
    let out = livecov(&["func", "-i=data/set1,data/nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("data/nope"), "{stderr}");
    assert_eq!(out.stdout, livecov(&["func", "-i=data/set1"]).stdout);
}

#[test]
fn recursive_flag_reads_sub_directories() {
    // data/ holds every scenario in sub-directories; -r over a parent of set1 alone.
    let tmp = tempfile::tempdir().unwrap();
    let nested = tmp.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    for e in std::fs::read_dir(golden().join("data/set1")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), nested.join(e.file_name())).unwrap();
    }
    let parent = format!("-i={}", tmp.path().display());
    let flat = livecov(&["percent", &parent]);
    assert_eq!(
        flat.status.code(),
        Some(2),
        "without -r the parent is empty"
    );
    let rec = livecov(&["percent", "-r", &parent]);
    assert!(
        rec.status.success(),
        "{}",
        String::from_utf8_lossy(&rec.stderr)
    );
    assert_eq!(rec.stdout, livecov(&["percent", "-i=data/set1"]).stdout);
}

#[test]
fn dash_o_dash_writes_the_profile_to_stdout() {
    let out = livecov(&["textfmt", "-i=data/set1", "-o=-"]);
    assert!(out.status.success());
    let expected = std::fs::read(golden().join("expected/set1_textfmt.out")).unwrap();
    assert_eq!(out.stdout, expected);
}

#[test]
fn textfmt_each_writes_one_profile_per_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let o = format!("-o={}", tmp.path().display());
    let out = livecov(&["textfmt", "-each", "-i=data/set1,data/count,data/prog2", &o]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["set1", "count", "prog2"] {
        let got = std::fs::read(tmp.path().join(format!("{name}.txt"))).unwrap();
        let want = std::fs::read(golden().join(format!("expected/{name}_textfmt.out"))).unwrap();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn textfmt_each_name_clash_keeps_the_first_directory_as_its_message_says() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &Path| {
        std::fs::create_dir_all(to).unwrap();
        for f in std::fs::read_dir(golden().join(from)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    };
    let (first, second) = (tmp.path().join("a/pod"), tmp.path().join("b/pod"));
    copy("data/count", &first);
    copy("data/prog2", &second);
    let out_dir = tmp.path().join("out");
    let out = livecov(&[
        "textfmt",
        "-each",
        &format!("-i={},{}", first.display(), second.display()),
        &format!("-o={}", out_dir.display()),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "input directories {} and {} would both write pod.txt; the second is skipped",
            first.display(),
            second.display()
        )),
        "{stderr}"
    );
    let got = std::fs::read(out_dir.join("pod.txt")).unwrap();
    let want = std::fs::read(golden().join("expected/count_textfmt.out")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "pod.txt must be the first directory's profile"
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}

#[test]
fn wrong_usage_exits_2_with_help() {
    let out = livecov(&["textfmt", "-i=data/set1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-o"));
    let out = livecov(&["percent", "-bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("flag provided but not defined: -bogus"));
    let out = livecov(&["percent", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("-pkg"));
}
