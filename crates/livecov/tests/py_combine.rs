//! `livecov py combine` against coverage.py from PyPI (`.ci/install-coveragepy.sh`, or
//! `LIVECOV_COVERAGEPY_PYTHON`): a small standard-library program run three times in
//! parallel mode with different arguments, combined by livecov and by `coverage combine`;
//! the lines and arcs per file must be the sets coverage.py's `CoverageData` holds.

#[path = "support/external.rs"]
mod external;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const PROGRAM: &str = r#"import sys

def classify(n):
    if n < 0:
        return "negative"
    elif n == 0:
        return "zero"
    return "positive"

def main(args):
    for a in args:
        print(classify(int(a)))
    if not args:
        print("nothing")

main(sys.argv[1:])
"#;

fn coveragepy_python() -> Option<PathBuf> {
    std::env::var_os("LIVECOV_COVERAGEPY_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/var/tmp/lc-venv-covpy/bin/python3")])
        .find(|python| {
            Command::new(python)
                .args(["-c", "import coverage"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
    out
}

/// Runs the program three times under `coverage run -p` in `dir` (branch mode when
/// `branch`), each run writing its own `.coverage.*` file.
fn record(python: &Path, dir: &Path, branch: bool) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("prog.py"), PROGRAM).unwrap();
    for args in [&["-3"][..], &["0"][..], &[][..]] {
        let mut c = Command::new(python);
        c.current_dir(dir)
            .args(["-m", "coverage", "run", "-p"])
            .args(branch.then_some("--branch"))
            .arg("prog.py")
            .args(args)
            .env_remove("COVERAGE_FILE")
            .env_remove("COVERAGE_RCFILE")
            .env_remove("COVERAGE_PROCESS_START");
        run_ok(&mut c);
    }
}

/// What coverage.py itself makes of the files: `coverage combine --keep`, then the
/// combined `CoverageData`'s lines and arcs per file, in livecov's JSON shape. The data
/// file must be named `.coverage`: combine looks for `<its name>.*` files.
fn coverage_combine(python: &Path, dir: &Path) -> Value {
    fs::create_dir_all(dir.join("out")).unwrap();
    run_ok(
        Command::new(python)
            .current_dir(dir)
            .args([
                "-m",
                "coverage",
                "combine",
                "--keep",
                "--data-file=out/.coverage",
                ".",
            ])
            .env_remove("COVERAGE_RCFILE"),
    );
    let script = r#"import json, coverage
d = coverage.CoverageData("out/.coverage"); d.read()
files = {}
for f in sorted(d.measured_files()):
    e = {"executed_lines": sorted(d.lines(f) or [])}
    if d.has_arcs():
        e["arcs"] = [list(a) for a in sorted(d.arcs(f) or [])]
    files[f] = e
print(json.dumps({"measurement": "arcs" if d.has_arcs() else "lines", "files": files}))
"#;
    let out = run_ok(Command::new(python).current_dir(dir).args(["-c", script]));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn livecov_combine(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .current_dir(dir)
        .args(["py", "combine"])
        .args(args)
        .env_remove("COVERAGE_RCFILE")
        .output()
        .unwrap()
}

fn check_same_as_coverage_combine(branch: bool) {
    let Some(python) = external::require(
        "coverage.py (run .ci/install-coveragepy.sh or set LIVECOV_COVERAGEPY_PYTHON)",
        coveragepy_python(),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    record(&python, &dir, branch);
    let out = livecov_combine(&dir, &["-o", "livecov.json", "."]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("combined 3 data files"),
        "{}",
        text(&out)
    );
    let ours: Value = serde_json::from_slice(&fs::read(dir.join("livecov.json")).unwrap()).unwrap();
    let theirs = coverage_combine(&python, &dir);
    assert_eq!(ours, theirs);

    // The union of the three runs: each of lines 5, 7 and 14 ran in one run only.
    let (path, file) = ours["files"].as_object().unwrap().iter().next().unwrap();
    assert!(path.ends_with("prog.py"), "{path}");
    let lines: Vec<u64> = file["executed_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    for line in [5, 7, 14] {
        assert!(lines.contains(&line), "line {line} missing from {lines:?}");
    }
    assert!(
        !lines.contains(&8),
        "no run passed a positive number: {lines:?}"
    );
    assert_eq!(ours["measurement"], if branch { "arcs" } else { "lines" });
    assert_eq!(file.get("arcs").is_some(), branch, "{file}");

    // Printed to standard output without -o: the same document.
    let out = livecov_combine(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, ours);
}

#[test]
fn branch_data_equals_coverage_combine() {
    check_same_as_coverage_combine(true);
}

#[test]
fn line_data_equals_coverage_combine() {
    check_same_as_coverage_combine(false);
}

#[test]
fn an_unreadable_input_is_named_and_the_rest_combined() {
    let Some(python) = external::require(
        "coverage.py (run .ci/install-coveragepy.sh or set LIVECOV_COVERAGEPY_PYTHON)",
        coveragepy_python(),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    record(&python, &dir, true);
    fs::write(
        dir.join(".coverage.broken.1.Xdeadbeef"),
        b"not a database at all",
    )
    .unwrap();
    let out = livecov_combine(&dir, &["."]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(".coverage.broken.1.Xdeadbeef"),
        "the error names the file: {stderr}"
    );
    assert!(stderr.contains("combined 3 data files"), "{stderr}");
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, file) = printed["files"].as_object().unwrap().iter().next().unwrap();
    assert!(!file["executed_lines"].as_array().unwrap().is_empty());
}
