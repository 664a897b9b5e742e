//! `livecov py explain-paths` on data files coverage.py 7.17.5 wrote in a "container"
//! (`crates/livecov-formats/tests/data/coveragepy/paths`): every rule, every mapping and
//! every path that matched nothing, compared with what `coverage combine` made of the same
//! files with the same `[paths]` (`local/combined.json`, from `coverage json`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn case() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../livecov-formats/tests/data/coveragepy/paths")
}

fn explain(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .current_dir(cwd)
        .args(["py", "explain-paths"])
        .args(args)
        .env_remove("COVERAGE_RCFILE")
        .output()
        .unwrap()
}

/// The lines of stdout starting with `prefix`.
fn lines<'a>(stdout: &'a str, prefix: &str) -> Vec<&'a str> {
    stdout.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn every_mapping_and_every_unmatched_path_as_coverage_combine_maps_them() {
    // Run where the combine ran: in local/, whose .coveragerc has the [paths] entry.
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    fs::create_dir_all(local.join("src/pkg")).unwrap();
    for f in ["__init__.py", "a.py", "b.py"] {
        fs::copy(
            case().join("local/src/pkg").join(f),
            local.join("src/pkg").join(f),
        )
        .unwrap();
    }
    fs::copy(case().join("local/.coveragerc"), local.join(".coveragerc")).unwrap();
    let data = case().join("container/app");
    let out = explain(&local, &[data.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        lines(&stdout, "rule "),
        [
            r#"rule 1: "*/app/src" -> "src/""#,
            r#"rule 2: "C:\\build\\src" -> "src/""#
        ],
        "{stdout}"
    );
    assert_eq!(lines(&stdout, "data file: ").len(), 2, "{stdout}");
    // What each recorded path became, relative to local/, against coverage.py's result.
    let real = fs::canonicalize(&local).unwrap();
    let mapped: BTreeSet<String> = lines(&stdout, "mapped: ")
        .iter()
        .map(|l| {
            let to = l.split(" -> ").nth(1).unwrap();
            let to = to.split(" by rule").next().unwrap().trim_matches('"');
            to.strip_prefix(&format!("{}/", real.display()))
                .unwrap_or_else(|| panic!("{l}"))
                .to_owned()
        })
        .collect();
    let combined: serde_json::Value =
        serde_json::from_slice(&fs::read(case().join("local/combined.json")).unwrap()).unwrap();
    let theirs: BTreeSet<String> = combined["files"]
        .as_object()
        .unwrap()
        .keys()
        // `coverage json` names files under its directory relatively: the mapped ones.
        .filter(|k| !k.starts_with('/'))
        .cloned()
        .collect();
    assert_eq!(mapped, theirs, "{stdout}");
    assert!(
        stdout.contains(r#"mapped: "C:\\build\\src\\pkg\\b.py" -> "#),
        "{stdout}"
    );
    let unmatched = lines(&stdout, "unmatched: ");
    assert_eq!(unmatched.len(), 2, "{stdout}");
    assert!(unmatched
        .iter()
        .any(|l| l.contains("/opt/vendor/lib/zzz.py")));
    assert!(unmatched.iter().any(|l| l.contains("container/app/run.py")));
    assert!(
        stdout.contains("4 paths mapped, 2 matched nothing"),
        "{stdout}"
    );
}

#[test]
fn paths_from_pyproject_and_the_command_line_and_a_pattern_coverage_py_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path();
    fs::create_dir_all(local.join("lib/pkg")).unwrap();
    fs::copy(
        case().join("local/src/pkg/a.py"),
        local.join("lib/pkg/a.py"),
    )
    .unwrap();
    fs::write(
        local.join("pyproject.toml"),
        "[project]\nname = \"x\"\n\n[tool.coverage.paths]\nsource = [\n  \"lib/\",\n  \"*/app/src\",\n]\n",
    )
    .unwrap();
    let data = case().join("container/app/.coverage.vm.pid11253.Xg2nyBUx.HfCrmQ1omeQh");
    let out = explain(
        local,
        &[data.to_str().unwrap(), "--paths", "vendor/,/opt/vendor/lib"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pyproject.toml"), "{stdout}");
    assert_eq!(
        lines(&stdout, "rule "),
        [
            r#"rule 1: "*/app/src" -> "lib/""#,
            r#"rule 2: "/opt/vendor/lib" -> "vendor/""#
        ],
        "{stdout}"
    );
    // Only a.py exists under lib/: the others matched rule 1 but its result is not there.
    assert_eq!(lines(&stdout, "mapped: ").len(), 1, "{stdout}");
    assert!(
        stdout.contains("which does not exist") && stdout.contains("b.py"),
        "{stdout}"
    );

    let out = explain(local, &[data.to_str().unwrap(), "--paths", "src/,/app/*"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("must not end with wildcards"), "{stderr}");
}
