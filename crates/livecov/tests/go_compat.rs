//! `livecov go …` against `go tool covdata`, byte for byte.
//!
//! Two sources of truth, one comparison:
//! - `golden`: data sets made by real Go programs and the outputs `go tool covdata`
//!   printed for them, committed under `tests/fixtures/go/golden` (fast, no Go needed);
//! - `live`: builds the fixture programs with the installed `go`, runs them, runs
//!   `go tool covdata` and compares on the fresh data. With `CI` set and no `go`, it
//!   fails instead of skipping.
//!
//! Where livecov deliberately differs (errors for bad inputs exit 2 and still print
//! what could be read; an empty input directory is an error), the difference is listed
//! in `expected_divergence` with its reason and checked for what livecov must do instead.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    workspace_root().join("tests/fixtures/go")
}

struct Case {
    name: String,
    args: Vec<String>,
}

fn read_cases(root: &Path) -> Vec<Case> {
    let text = fs::read_to_string(root.join("cases.tsv"))
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.join("cases.tsv").display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, args) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("bad cases.tsv line {l:?}"));
            Case {
                name: name.to_owned(),
                args: args.split_whitespace().map(str::to_owned).collect(),
            }
        })
        .collect()
}

struct Outcome {
    stdout: Vec<u8>,
    stderr: String,
    code: i32,
    out: Option<Vec<u8>>,
}

fn run_livecov(root: &Path, case: &Case, scratch: &Path) -> Outcome {
    let out_path = scratch.join(format!("{}.out", case.name));
    let _ = fs::remove_file(&out_path);
    let _ = fs::remove_dir_all(&out_path);
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| a.replace("OUT", out_path.to_str().unwrap()))
        .collect();
    let output = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .arg("go")
        .args(&args)
        .current_dir(root)
        .output()
        .expect("running livecov");
    Outcome {
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code().unwrap_or(-1),
        out: if out_path.is_file() {
            fs::read(&out_path).ok()
        } else {
            None
        },
    }
}

struct Expected {
    stdout: Vec<u8>,
    code: i32,
    out: Option<Vec<u8>>,
}

fn read_expected(root: &Path, name: &str) -> Expected {
    let p = |ext: &str| root.join("expected").join(format!("{name}.{ext}"));
    Expected {
        stdout: fs::read(p("stdout")).unwrap_or_default(),
        code: fs::read_to_string(p("exit"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
        out: fs::read(p("out")).ok(),
    }
}

/// Why livecov's status differs from covdata's for a case, if it does.
fn expected_divergence(case: &Case, exp: &Expected) -> Option<&'static str> {
    let cmd = case.args.first().map(String::as_str).unwrap_or("");
    let touches_bad = case.args.iter().any(|a| a.contains("bad/"));
    let touches_empty = case.args.iter().any(|a| a.contains("empty"));
    if touches_bad {
        return Some(
            "bad inputs are errors naming file and offset; livecov exits 2 and keeps the rest",
        );
    }
    if touches_empty {
        return Some("an input directory without coverage files is an error in livecov");
    }
    if exp.code != 0 && cmd == "textfmt" {
        return Some(
            "covdata stops at a mode clash; livecov leaves the clashing pod out and exits 2",
        );
    }
    None
}

fn compare_all(root: &Path) -> Vec<String> {
    let scratch = tempfile::tempdir().unwrap();
    let cases = read_cases(root);
    assert!(
        cases.len() >= 20,
        "only {} cases in {}",
        cases.len(),
        root.display()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let exp = read_expected(root, &case.name);
        let got = run_livecov(root, case, scratch.path());
        let label = format!("{} ({})", case.name, case.args.join(" "));
        match expected_divergence(case, &exp) {
            None => {
                if got.code != exp.code {
                    failures.push(format!(
                        "{label}: exit {} (covdata {}); stderr: {}",
                        got.code, exp.code, got.stderr
                    ));
                }
                if got.stdout != exp.stdout {
                    failures.push(format!(
                        "{label}: stdout differs\n--- covdata\n{}\n--- livecov\n{}",
                        String::from_utf8_lossy(&exp.stdout),
                        String::from_utf8_lossy(&got.stdout)
                    ));
                }
                if exp.out.is_some() && got.out != exp.out {
                    failures.push(format!(
                        "{label}: -o output differs\n--- covdata\n{}\n--- livecov\n{}",
                        String::from_utf8_lossy(exp.out.as_deref().unwrap_or_default()),
                        String::from_utf8_lossy(got.out.as_deref().unwrap_or_default())
                    ));
                }
            }
            Some(why) => {
                // livecov must still exit 2 with a message that names a path, unless
                // covdata itself succeeded on the good part and livecov found nothing bad.
                if got.code == 0 && exp.code != 0 {
                    failures.push(format!(
                        "{label}: covdata failed but livecov exited 0 ({why})"
                    ));
                }
                if got.code != 0 && !got.stderr.contains("error:") {
                    failures.push(format!(
                        "{label}: exit {} without an error message ({why})",
                        got.code
                    ));
                }
                if got.stderr.contains("panicked") {
                    failures.push(format!("{label}: livecov panicked: {}", got.stderr));
                }
            }
        }
    }
    failures
}

#[test]
fn golden_outputs_match_covdata_byte_for_byte() {
    let failures = compare_all(&fixtures().join("golden"));
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn go_available() -> bool {
    Command::new("go")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn live_cross_check_with_installed_go() {
    if !go_available() {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but no `go` was found: the live covdata cross-check cannot run");
        }
        eprintln!("skipping live cross-check: no `go` on PATH (set CI to make this fail)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("bash")
        .arg(fixtures().join("gen.sh"))
        .arg(dir.path())
        .status()
        .expect("running gen.sh");
    assert!(status.success(), "gen.sh failed");
    let failures = compare_all(dir.path());
    assert!(
        failures.is_empty(),
        "{} mismatches on freshly generated data:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
