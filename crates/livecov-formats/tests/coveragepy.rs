//! coverage.py data files against the real coverage.py.
//!
//! `tests/data/coveragepy/` holds data files that coverage.py (7.17.5) wrote for the
//! fixture programs in `programs/`, what `coverage json` and `coverage combine` made of
//! them, and `raw.json`: coverage.py's own reading of each data file through its
//! `CoverageData` API. `generate.py` made all of it; `live_regenerate_and_cross_check`
//! runs it again with the installed coverage.py (`.ci/install-coveragepy.sh`) and repeats
//! every check on fresh files.

#[path = "../../livecov/tests/support/external.rs"]
mod external;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use livecov_formats::coveragepy::{
    combinable_files, combine, combine_files, parse_parallel_suffix, read_data_file, CoverageData,
    Error, FsProbe, LexicalProbe, Measurement, ParallelSuffix, PathAliases,
};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/coveragepy")
}

fn json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn nums(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_i64().unwrap())
        .collect()
}

fn our_lines(data: &CoverageData, path: &str) -> Vec<i64> {
    data.lines(path)
        .unwrap_or_default()
        .into_iter()
        .map(i64::from)
        .collect()
}

/// `ours` holds exactly what coverage.py's API read from the same data (`raw`): files,
/// lines, arcs, contexts per line, tracers. `name` turns our path into raw's.
fn assert_same_as_raw(ours: &CoverageData, raw: &Value, name: impl Fn(&str) -> String, what: &str) {
    let has_arcs = raw["has_arcs"].as_bool().unwrap();
    assert_eq!(
        ours.measurement() == Measurement::Arcs,
        has_arcs,
        "{what}: has_arcs"
    );
    let raw_files = raw["files"].as_object().unwrap();
    let our_files: BTreeMap<String, &str> = ours.files().map(|(p, _)| (name(p), p)).collect();
    assert_eq!(
        our_files.keys().collect::<Vec<_>>(),
        raw_files.keys().collect::<Vec<_>>(),
        "{what}: measured files"
    );
    for (raw_name, expect) in raw_files {
        let path = our_files[raw_name];
        assert_eq!(
            our_lines(ours, path),
            nums(&expect["lines"]),
            "{what}: lines of {raw_name}"
        );
        if has_arcs {
            let arcs: Vec<(i64, i64)> = ours
                .arcs(path)
                .unwrap()
                .into_iter()
                .map(|(a, b)| (i64::from(a), i64::from(b)))
                .collect();
            let want: Vec<(i64, i64)> = expect["arcs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a[0].as_i64().unwrap(), a[1].as_i64().unwrap()))
                .collect();
            assert_eq!(arcs, want, "{what}: arcs of {raw_name}");
        }
        let contexts: BTreeMap<String, Vec<String>> = ours
            .contexts_by_line(path)
            .into_iter()
            .map(|(line, labels)| (line.to_string(), labels))
            .collect();
        let want: BTreeMap<String, Vec<String>> =
            serde_json::from_value(expect["contexts"].clone()).unwrap();
        assert_eq!(contexts, want, "{what}: contexts of {raw_name}");
        let tracer = expect["tracer"].as_str().unwrap_or("");
        assert_eq!(
            ours.file(path).unwrap().tracer().unwrap_or(""),
            tracer,
            "{what}: tracer"
        );
    }
    // coverage.py lists every context row, used or not.
    let labels: BTreeSet<&str> = ours.contexts().iter().map(String::as_str).collect();
    let want: BTreeSet<&str> = raw["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(labels, want, "{what}: contexts");
}

/// `ours` agrees with `coverage json`: executed lines equal (the fixtures have only
/// one-line statements, so coverage.py's first-line mapping changes nothing; line 0,
/// which coverage.py records for an empty module, is no statement), every executed branch
/// is one of our arcs and no missing branch is, contexts per line equal when shown.
fn assert_same_as_json(
    ours: &CoverageData,
    report: &Value,
    path_of: impl Fn(&str) -> String,
    what: &str,
) {
    for (name, file) in report["files"].as_object().unwrap() {
        let path = path_of(name);
        let mut lines = our_lines(ours, &path);
        lines.retain(|&n| n != 0);
        assert_eq!(
            lines,
            nums(&file["executed_lines"]),
            "{what}: executed lines of {name}"
        );
        if let Some(executed) = file.get("executed_branches") {
            let arcs: BTreeSet<(i64, i64)> = ours
                .arcs(&path)
                .unwrap()
                .into_iter()
                .map(|(a, b)| (i64::from(a), i64::from(b)))
                .collect();
            for b in executed.as_array().unwrap() {
                let arc = (b[0].as_i64().unwrap(), b[1].as_i64().unwrap());
                assert!(
                    arcs.contains(&arc),
                    "{what}: executed branch {arc:?} of {name}"
                );
            }
            for b in file["missing_branches"].as_array().unwrap() {
                let arc = (b[0].as_i64().unwrap(), b[1].as_i64().unwrap());
                assert!(
                    !arcs.contains(&arc),
                    "{what}: missing branch {arc:?} of {name}"
                );
            }
        }
        if let Some(contexts) = file.get("contexts") {
            let ours_by_line = ours.contexts_by_line(&path);
            for (line, labels) in contexts.as_object().unwrap() {
                let mut want: Vec<String> = serde_json::from_value(labels.clone()).unwrap();
                want.sort();
                let line: u32 = line.parse().unwrap();
                assert_eq!(
                    ours_by_line.get(&line),
                    Some(&want),
                    "{what}: contexts of {name}:{line}"
                );
            }
        }
    }
}

fn check_single(dir: &Path, case: &str) -> CoverageData {
    let case_dir = dir.join(case);
    let file = read_data_file(&case_dir.join(".coverage")).unwrap();
    assert!(file.warnings.is_empty(), "{:?}", file.warnings);
    let raw = json(&case_dir.join("raw.json"));
    assert_same_as_raw(&file.data, &raw[".coverage"], str::to_owned, case);
    assert_same_as_json(
        &file.data,
        &json(&case_dir.join("coverage.json")),
        str::to_owned,
        case,
    );
    assert!(file.meta.contains_key("version"), "{:?}", file.meta);
    file.data
}

fn check_lines(dir: &Path) {
    let data = check_single(dir, "lines");
    assert_eq!(data.measurement(), Measurement::Lines);
    assert_eq!(data.arcs("lines_prog.py"), None);
    // `never_called` (lines 12-13) and the unreachable print (line 20).
    let lines = data.lines("lines_prog.py").unwrap();
    assert!(
        lines.contains(&12) && !lines.contains(&13) && !lines.contains(&20),
        "{lines:?}"
    );
}

fn check_branch(dir: &Path) {
    let data = check_single(dir, "branch");
    let arcs = data.arcs("branch_prog.py").unwrap();
    // Entry to the module, and the exit from `sign` (first line 1) by `return -1`.
    assert!(
        arcs.contains(&(-1, 1)) && arcs.contains(&(3, -1)),
        "{arcs:?}"
    );
}

fn check_contexts(dir: &Path) {
    let data = check_single(dir, "contexts");
    let by_line = data.contexts_by_line("contexts_prog.py");
    // `shared` runs under both test functions, `helper`'s "yes" under the first test and
    // outside any test (the static context alone).
    assert_eq!(
        by_line[&8],
        ["ci|__main__.test_first", "ci|__main__.test_second"]
    );
    assert_eq!(by_line[&3], ["ci", "ci|__main__.test_first"]);
}

fn check_parallel(dir: &Path) {
    let case_dir = dir.join("parallel");
    let raw = json(&case_dir.join("raw.json"));
    let parts = combinable_files(&case_dir.join("parts/.coverage"), &[]).unwrap();
    let names: Vec<String> = parts
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut want: Vec<&String> = raw
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != ".coverage")
        .collect();
    want.sort();
    assert_eq!(names.iter().collect::<Vec<_>>(), want);
    assert!(names.len() >= 3, "one file per process: {names:?}");
    for (path, name) in parts.iter().zip(&names) {
        match parse_parallel_suffix(name, ".coverage") {
            Some(ParallelSuffix::Hashed { pid, hash, .. }) => {
                assert!(pid > 0 && hash.is_some(), "{name}")
            }
            other => panic!("{name}: {other:?}"),
        }
        let file = read_data_file(path).unwrap();
        assert_same_as_raw(&file.data, &raw[name.as_str()], str::to_owned, name);
    }
    let mut aliases = PathAliases::new(true, Box::new(FsProbe::new(&case_dir)));
    let outcome = combine(&case_dir.join("parts/.coverage"), &[], &mut aliases).unwrap();
    assert_eq!(outcome.combined, parts);
    assert!(
        outcome.errors.is_empty() && outcome.skipped.is_empty(),
        "{outcome:?}"
    );
    assert_same_as_raw(&outcome.data, &raw[".coverage"], str::to_owned, "combined");
    assert_same_as_json(
        &outcome.data,
        &json(&case_dir.join("coverage.json")),
        str::to_owned,
        "combined",
    );
}

fn check_paths(dir: &Path) {
    let case_dir = dir.join("paths");
    let local = case_dir.join("local");
    let generated_local = json(&case_dir.join("case.json"))["local"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = json(&case_dir.join("raw.json"));
    let entries = vec![vec!["src/", "*/app/src", r"C:\build\src"]];
    let mut aliases =
        PathAliases::from_entries(&entries, false, Box::new(FsProbe::new(&local))).unwrap();
    let outcome = combine(
        &local.join(".coverage"),
        &[case_dir.join("container/app")],
        &mut aliases,
    )
    .unwrap();
    assert_eq!(outcome.combined.len(), 2, "{outcome:?}");

    // Our results are under this checkout's `local`, coverage.py's under the one it ran in.
    let local_prefix = format!("{}/", fs::canonicalize(&local).unwrap().display());
    let relative = |p: &str| p.strip_prefix(&local_prefix).unwrap_or(p).to_owned();
    let generated_prefix = format!("{generated_local}/");
    let as_raw = |p: &str| {
        let rel = relative(p);
        if Path::new(&rel).is_relative() {
            format!("{generated_prefix}{rel}")
        } else {
            rel
        }
    };
    assert_same_as_raw(
        &outcome.data,
        &raw[".coverage"],
        as_raw,
        "combined with [paths]",
    );
    let local_names: BTreeSet<String> = outcome.data.files().map(|(p, _)| relative(p)).collect();
    let want: BTreeSet<String> = [
        "src/pkg/__init__.py",
        "src/pkg/a.py",
        "src/pkg/b.py",
        "/opt/vendor/lib/zzz.py",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(
        local_names
            .iter()
            .filter(|n| n.ends_with("/container/app/run.py"))
            .cloned(),
    )
    .collect();
    assert_eq!(local_names, want);
    let report = json(&local.join("combined.json"));
    let by_name: BTreeMap<String, String> = outcome
        .data
        .files()
        .map(|(p, _)| (relative(p), p.to_owned()))
        .collect();
    assert_same_as_json(
        &outcome.data,
        &report,
        |name| by_name[name].clone(),
        "combined.json",
    );
    // b.py came from the container and from the Windows agent: lines 3 and 4 unioned.
    assert_eq!(
        outcome.data.lines(&by_name["src/pkg/b.py"]).unwrap(),
        [1, 2, 3, 4]
    );

    let explained = &outcome.paths;
    let mapped: BTreeSet<String> = explained
        .mapped
        .iter()
        .map(|m| relative(&m.mapped))
        .collect();
    assert_eq!(
        mapped,
        ["src/pkg/__init__.py", "src/pkg/a.py", "src/pkg/b.py"]
            .map(str::to_owned)
            .into()
    );
    let windows = explained
        .mapped
        .iter()
        .find(|m| m.original == r"C:\build\src\pkg\b.py")
        .unwrap();
    assert_eq!(windows.rule, Some(1));
    let unmatched: Vec<&str> = explained
        .unmatched
        .iter()
        .map(|m| m.original.as_str())
        .collect();
    assert_eq!(unmatched.len(), 2, "{unmatched:?}");
    assert!(
        unmatched
            .iter()
            .any(|p| p.ends_with("/container/app/run.py"))
            && unmatched.contains(&"/opt/vendor/lib/zzz.py")
    );
    let text = explained.to_string();
    assert!(
        text.starts_with(
            "rule 1: \"*/app/src\" -> \"src/\"\nrule 2: \"C:\\\\build\\\\src\" -> \"src/\"\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("unmatched: \"/opt/vendor/lib/zzz.py\"\n"),
        "{text}"
    );
}

#[test]
fn lines_mode_matches_coverage_py() {
    check_lines(&fixtures());
}

#[test]
fn branch_mode_arcs_match_coverage_py() {
    check_branch(&fixtures());
}

#[test]
fn contexts_match_coverage_py() {
    check_contexts(&fixtures());
}

#[test]
fn parallel_files_are_found_and_combined_like_coverage_combine() {
    check_parallel(&fixtures());
}

#[test]
fn paths_remapping_matches_coverage_combine() {
    check_paths(&fixtures());
}

/// Copies the golden parallel files into a temporary directory under other names.
fn renamed_parts(names: &[&str]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let parts = combinable_files(&fixtures().join("parallel/parts/.coverage"), &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copies = parts
        .iter()
        .zip(names)
        .map(|(from, name)| {
            let to = dir.path().join(name);
            fs::copy(from, &to).unwrap();
            to
        })
        .collect();
    (dir, copies)
}

#[test]
fn old_style_parallel_names_are_found_and_combined() {
    let names = [
        ".coverage.myhost.local.8044.799674",
        ".coverage.myhost.local.8045.XAbCdEfx",
        ".coverage.vm.pid9.XAbC12x",
        ".coverage.custom-suffix",
    ];
    let (dir, _) = renamed_parts(&names);
    assert!(matches!(
        parse_parallel_suffix(names[0], ".coverage"),
        Some(ParallelSuffix::Legacy {
            host: "myhost.local",
            pid: 8044,
            random: "799674"
        })
    ));
    let mut aliases = PathAliases::new(true, Box::new(LexicalProbe::new(dir.path())));
    let outcome = combine(&dir.path().join(".coverage"), &[], &mut aliases).unwrap();
    assert_eq!(outcome.combined.len(), 4);
    let raw = json(&fixtures().join("parallel/raw.json"));
    assert_same_as_raw(&outcome.data, &raw[".coverage"], str::to_owned, "renamed");
}

#[test]
fn duplicates_by_name_hash_or_bytes_are_skipped() {
    let parts = combinable_files(&fixtures().join("parallel/parts/.coverage"), &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join(".coverage.h.pid1.Xaaaaaax.H0123456789h");
    let b = dir.path().join(".coverage.h.pid2.Xbbbbbbx.H0123456789h");
    let c = dir.path().join(".coverage.copy1");
    let d = dir.path().join(".coverage.copy2");
    fs::copy(&parts[0], &a).unwrap();
    fs::copy(&parts[1], &b).unwrap();
    fs::copy(&parts[2], &c).unwrap();
    fs::copy(&parts[2], &d).unwrap();
    let mut aliases = PathAliases::new(true, Box::new(LexicalProbe::new(dir.path())));
    let outcome = combine(&dir.path().join(".coverage"), &[], &mut aliases).unwrap();
    assert_eq!(outcome.combined, [c.clone(), a.clone()]);
    assert_eq!(outcome.skipped, [d, b]);
}

#[test]
fn reading_creates_no_journal_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".coverage");
    fs::copy(fixtures().join("contexts/.coverage"), &path).unwrap();
    let before = fs::read(&path).unwrap();
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    read_data_file(&path).unwrap();
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [".coverage"]);
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
}

#[test]
fn reading_a_read_only_file_in_a_read_only_directory_works() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.cov");
    fs::copy(fixtures().join("lines/.coverage"), &path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
    let result = read_data_file(&path);
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        result.unwrap().data.lines("lines_prog.py").unwrap().len(),
        12
    );
}

// ---- bad input ----

/// A copy of a golden file, changed with `sql`.
fn altered(sql: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".coverage");
    fs::copy(fixtures().join("lines/.coverage"), &path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    // coverage.py never enables foreign keys; rusqlite's bundled SQLite does by default.
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    (dir, path)
}

fn message(err: &Error) -> String {
    err.to_string()
}

#[test]
fn truncated_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".coverage.truncated");
    let bytes = fs::read(fixtures().join("lines/.coverage")).unwrap();
    // (Cutting only unused pages at the end loses nothing; SQLite then reads it whole.)
    for len in [10, 100, 4096, 5000, bytes.len() / 2] {
        fs::write(&path, &bytes[..len]).unwrap();
        let err = read_data_file(&path).expect_err(&format!("truncated to {len}"));
        assert!(
            message(&err).contains(".coverage.truncated"),
            "{len}: {err}"
        );
    }
}

#[test]
fn text_file_is_not_coverage_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    fs::write(&path, "this is not a database\n").unwrap();
    let err = read_data_file(&path).unwrap_err();
    assert!(matches!(err, Error::NotCoverageData { .. }), "{err:?}");
    assert!(message(&err).contains("notes.txt"), "{err}");
    // An empty file is an empty database, without coverage.py's tables.
    fs::write(&path, "").unwrap();
    let err = read_data_file(&path).unwrap_err();
    assert_eq!(
        message(&err),
        format!(
            "{} isn't a coverage.py data file: it has no coverage_schema table",
            path.display()
        )
    );
}

#[test]
fn missing_file_directory_and_fifo_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        read_data_file(&dir.path().join("absent")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(read_data_file(dir.path()), Err(Error::Io { .. })));
    let fifo = dir.path().join(".coverage.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let err = read_data_file(&fifo).unwrap_err();
        assert!(message(&err).contains("not a regular file"), "{err}");
    }
}

#[test]
fn schema_6_and_8_are_refused_with_the_version() {
    for version in [6, 8] {
        let (_dir, path) = altered(&format!("update coverage_schema set version = {version}"));
        let err = read_data_file(&path).unwrap_err();
        assert!(
            matches!(&err, Error::Schema { found, .. } if *found == version.to_string()),
            "{err:?}"
        );
        let text = message(&err);
        assert!(
            text.contains(&path.display().to_string())
                && text.contains(&format!("schema version {version}")),
            "{text}"
        );
    }
    let (_dir, path) = altered("delete from coverage_schema");
    assert!(matches!(
        read_data_file(&path),
        Err(Error::NotCoverageData { .. })
    ));
}

#[test]
fn numbits_that_are_not_blobs_are_refused_and_garbage_blobs_decode() {
    let (_dir, path) = altered("update line_bits set numbits = 'garbage'");
    let err = read_data_file(&path).unwrap_err();
    assert!(
        message(&err).contains("line_bits.numbits of file id 1 is text, not a blob"),
        "{err}"
    );
    let (_dir, path) = altered("update line_bits set numbits = NULL");
    assert!(matches!(read_data_file(&path), Err(Error::Corrupt { .. })));
    // Any bytes are a set of numbers: random garbage decodes to some sorted lines, and
    // a run of 0xFF bytes to every line it covers.
    let (_dir, path) = altered("update line_bits set numbits = randomblob(4096)");
    let lines = read_data_file(&path)
        .unwrap()
        .data
        .lines("lines_prog.py")
        .unwrap();
    assert!(
        !lines.is_empty()
            && lines.windows(2).all(|w| w[0] < w[1])
            && lines.iter().all(|&n| n < 4096 * 8)
    );
    let (_dir, path) = altered("update line_bits set numbits = x'FFFF'");
    assert_eq!(
        read_data_file(&path)
            .unwrap()
            .data
            .lines("lines_prog.py")
            .unwrap(),
        (0..16).collect::<Vec<u32>>()
    );
}

#[test]
fn dangling_ids_and_bad_has_arcs_are_refused() {
    let (_dir, path) = altered("update line_bits set file_id = 99");
    let err = read_data_file(&path).unwrap_err();
    assert!(message(&err).contains("names file id 99"), "{err}");
    let (_dir, path) = altered("update meta set value = 'yes' where key = 'has_arcs'");
    assert!(message(&read_data_file(&path).unwrap_err()).contains("has_arcs is \"yes\""));
    let (_dir, path) = altered("drop table line_bits");
    assert!(message(&read_data_file(&path).unwrap_err()).contains("the line_bits table is missing"));
}

#[test]
fn nul_in_a_path_is_refused_and_a_newline_is_kept() {
    let (_dir, path) = altered("update file set path = 'a' || char(0) || 'b.py'");
    let err = read_data_file(&path).unwrap_err();
    assert!(message(&err).contains("has a NUL byte"), "{err}");
    let (_dir, path) = altered("update file set path = '/src/odd' || char(10) || 'name.py'");
    let data = read_data_file(&path).unwrap().data;
    assert_eq!(
        data.files().map(|(p, _)| p).collect::<Vec<_>>(),
        ["/src/odd\nname.py"]
    );
    let mut aliases = PathAliases::new(false, Box::new(LexicalProbe::new("/")));
    let text = aliases.explain(["/src/odd\nname.py"]).to_string();
    assert_eq!(text, "unmatched: \"/src/odd\\nname.py\"\n");
}

#[test]
fn combine_reports_unreadable_inputs_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join(".coverage.good");
    fs::copy(fixtures().join("lines/.coverage"), &good).unwrap();
    let text = dir.path().join(".coverage.text");
    fs::write(&text, "not sqlite").unwrap();
    let mut aliases = PathAliases::new(true, Box::new(LexicalProbe::new(dir.path())));
    let outcome = combine_files(&[good.clone(), text.clone()], &mut aliases).unwrap();
    assert_eq!(outcome.combined, [good]);
    assert_eq!(outcome.errors.len(), 1);
    assert!(message(&outcome.errors[0]).contains(".coverage.text"));
    assert_eq!(outcome.data.lines("lines_prog.py").unwrap().len(), 12);
}

#[test]
fn combining_lines_with_arcs_fails_naming_both() {
    let lines = fixtures().join("lines/.coverage");
    let arcs = fixtures().join("branch/.coverage");
    let mut aliases = PathAliases::new(true, Box::new(LexicalProbe::new("/")));
    let err = combine_files(&[arcs.clone(), lines.clone()], &mut aliases).unwrap_err();
    assert!(
        matches!(&err, Error::CantCombine { lines: l, arcs: a } if *l == lines && *a == arcs),
        "{err:?}"
    );
}

// ---- live ----

/// The Python of a venv holding coverage.py: `LIVECOV_COVERAGEPY_PYTHON`, or the venv
/// `.ci/install-coveragepy.sh` makes.
fn coveragepy_python() -> Option<PathBuf> {
    let candidates = std::env::var_os("LIVECOV_COVERAGEPY_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/var/tmp/lc-venv-covpy/bin/python3")]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import coverage"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
    }
    None
}

#[test]
fn live_regenerate_and_cross_check() {
    let Some(python) = external::require(
        "coverage.py (run .ci/install-coveragepy.sh or set LIVECOV_COVERAGEPY_PYTHON)",
        coveragepy_python(),
    ) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let script = fixtures().join("generate.py");
    let run = Command::new(&python)
        .arg(&script)
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{} {} {} failed: {}\n{}",
        python.display(),
        script.display(),
        out.path().display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    check_lines(out.path());
    check_branch(out.path());
    check_contexts(out.path());
    check_parallel(out.path());
    check_paths(out.path());
}
