//! `livecov go …` against `go tool covdata`, byte for byte.
//!
//! Two sources of truth, one comparison:
//! - `golden`: data sets made by real Go programs and the outputs `go tool covdata`
//!   printed for them, committed under `tests/fixtures/go/golden` (fast, no Go needed);
//! - `live`: builds the fixture programs with the installed `go`, runs them, runs
//!   `go tool covdata` and compares on the fresh data. Without `go` it is skipped, or
//!   fails when `CI` is set (`support/external.rs`).
//!
//! Where livecov deliberately differs (errors for bad inputs exit 2 and still print
//! what could be read; an empty input directory is an error), the difference is listed
//! in `expected_divergence` with its reason and checked for what livecov must do instead.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/external.rs"]
mod external;

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
    /// For merge cases: the listing, the meta files, and the output directory read back.
    odir: Option<MergeOutput>,
}

struct MergeOutput {
    listing: String,
    metas: Vec<(String, Vec<u8>)>,
    textfmt: Vec<u8>,
}

/// Counter files written by merge carry the current time; the golden data says `.0.1`.
fn normalise_counter_name(name: &str) -> String {
    match name.strip_prefix("covcounters.") {
        Some(rest) if rest.len() > 33 && rest[32..].starts_with(".0.") => {
            format!("covcounters.{}.0.1", &rest[..32])
        }
        _ => name.to_owned(),
    }
}

fn normalise(text: &[u8], out: &Path, odir: &Path) -> Vec<u8> {
    let text = String::from_utf8_lossy(text)
        .replace(out.to_str().unwrap(), "OUT")
        .replace(odir.to_str().unwrap(), "ODIR");
    let lines: Vec<String> = text
        .split_inclusive('\n')
        .map(|l| {
            match l
                .strip_prefix(" *\t")
                .and_then(|r| r.split_once(" debugdump "))
            {
                Some((_, rest)) => format!(" *\tcovdata debugdump {rest}"),
                None => l.to_owned(),
            }
        })
        .collect();
    lines.concat().into_bytes()
}

/// Reads a text profile back from a directory, with livecov or (live mode) covdata.
fn read_back(root: &Path, dir: &Path, with_go: bool) -> Vec<u8> {
    let out = dir.with_extension("readback");
    let mut cmd = if with_go {
        let mut c = Command::new("go");
        c.args(["tool", "covdata"]);
        c
    } else {
        let mut c = Command::new(env!("CARGO_BIN_EXE_livecov"));
        c.arg("go");
        c
    };
    cmd.arg("textfmt")
        .arg(format!("-i={}", dir.display()))
        .arg(format!("-o={}", out.display()))
        .current_dir(root)
        .output()
        .expect("reading merged output back");
    fs::read(&out).unwrap_or_default()
}

fn run_livecov(root: &Path, case: &Case, scratch: &Path, read_back_with_go: bool) -> Outcome {
    let out_path = scratch.join(format!("{}.out", case.name));
    let odir = scratch.join(format!("{}.odir", case.name));
    let mut uses_odir = false;
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| {
            if let Some(flag) = a.strip_suffix("=OUT") {
                format!("{flag}={}", out_path.display())
            } else if let Some(flag) = a.strip_suffix("=ODIR") {
                uses_odir = true;
                fs::create_dir_all(&odir).unwrap();
                format!("{flag}={}", odir.display())
            } else {
                a.clone()
            }
        })
        .collect();
    let output = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .arg("go")
        .args(&args)
        .current_dir(root)
        .output()
        .expect("running livecov");
    let odir_result = uses_odir.then(|| {
        let mut names: Vec<String> = fs::read_dir(&odir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let metas = names
            .iter()
            .filter(|n| n.starts_with("covmeta."))
            .map(|n| (n.clone(), fs::read(odir.join(n)).unwrap()))
            .collect();
        let listing: String = names
            .iter()
            .map(|n| format!("{}\n", normalise_counter_name(n)))
            .collect();
        MergeOutput {
            listing,
            metas,
            textfmt: read_back(root, &odir, read_back_with_go),
        }
    });
    Outcome {
        stdout: normalise(&output.stdout, &out_path, &odir),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code().unwrap_or(-1),
        out: if out_path.is_file() {
            fs::read(&out_path).ok()
        } else {
            None
        },
        odir: odir_result,
    }
}

struct Expected {
    stdout: Vec<u8>,
    code: i32,
    out: Option<Vec<u8>>,
    odir_listing: Option<String>,
    odir_textfmt: Option<Vec<u8>>,
    odir: PathBuf,
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
        odir_listing: fs::read_to_string(p("odir.ls")).ok(),
        odir_textfmt: fs::read(p("odir.textfmt")).ok(),
        odir: root.join("expected").join(format!("{name}.odir")),
    }
}

/// True when a directory holds no coverage data file (Go only warns; livecov errs).
fn has_no_coverage_files(root: &Path, dir: &str) -> bool {
    match fs::read_dir(root.join(dir)) {
        Ok(rd) => !rd.flatten().any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("covmeta.") || n.starts_with("covcounters.")
        }),
        Err(_) => false,
    }
}

/// Why livecov's exit status (and so possibly its output) differs from covdata's for a
/// case, if it does. Each reason is a deliberate design decision (README "How it
/// differs from covdata").
fn expected_divergence(root: &Path, case: &Case, exp: &Expected) -> Option<&'static str> {
    let inputs: Vec<&str> = case
        .args
        .iter()
        .filter_map(|a| a.strip_prefix("-i=").or_else(|| a.strip_prefix("--i=")))
        .flat_map(|v| v.split(','))
        .collect();
    if exp.code == 1 {
        return Some(
            "covdata stops at the first fatal input; livecov reports it, keeps the rest, exits 2",
        );
    }
    if inputs.iter().any(|d| has_no_coverage_files(root, d)) {
        return Some("an input directory without coverage files is an error in livecov");
    }
    if case.name.contains("_gopanic_") {
        return Some("covdata panics on this input; livecov reports an error and keeps the rest");
    }
    if case.name.starts_with("bad_meta_v0_") {
        return Some("livecov requires meta version 1 (Go accepts 0, which nothing writes)");
    }
    if case.name == "synth_junk_debugdump" {
        return Some("covdata skips covcounters.<hash>.1.2.3 (its name parses to another tag); livecov pairs by the hash inside");
    }
    None
}

/// Cases where covdata succeeds but the input is damaged: livecov must print the same
/// output and may additionally exit 2 with an error naming the file.
fn damaged_input(case: &Case) -> bool {
    case.args.iter().any(|a| a.contains("data/bad/"))
}

fn compare_all(root: &Path, read_back_with_go: bool) -> Vec<String> {
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
        let got = run_livecov(root, case, scratch.path(), read_back_with_go);
        let label = format!("{} ({})", case.name, case.args.join(" "));
        match expected_divergence(root, case, &exp) {
            None => {
                let damaged_ok =
                    damaged_input(case) && got.code == 2 && got.stderr.contains("error:");
                if got.code != exp.code && !damaged_ok {
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
                if let (Some(m), Some(listing)) = (&got.odir, &exp.odir_listing) {
                    if &m.listing != listing {
                        failures.push(format!(
                            "{label}: merge wrote\n{}covdata wrote\n{listing}",
                            m.listing
                        ));
                    }
                    for (name, bytes) in &m.metas {
                        if fs::read(exp.odir.join(name)).ok().as_ref() != Some(bytes) {
                            failures.push(format!("{label}: {name} differs from covdata's"));
                        }
                    }
                    if exp.odir_textfmt.as_ref() != Some(&m.textfmt) {
                        failures.push(format!(
                            "{label}: merged output reads back differently\n--- covdata\n{}\n--- livecov\n{}",
                            String::from_utf8_lossy(exp.odir_textfmt.as_deref().unwrap_or_default()),
                            String::from_utf8_lossy(&m.textfmt)
                        ));
                    }
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
    let failures = compare_all(&fixtures().join("golden"), false);
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
    let found = go_available().then_some(());
    if external::require("`go` on PATH", found).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("bash")
        .arg(fixtures().join("gen.sh"))
        .arg(dir.path())
        .status()
        .expect("running gen.sh");
    assert!(status.success(), "gen.sh failed");
    let failures = compare_all(dir.path(), true);
    assert!(
        failures.is_empty(),
        "{} mismatches on freshly generated data:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
