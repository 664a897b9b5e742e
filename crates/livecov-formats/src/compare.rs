//! What changed between two coverage readings (two collections or profiles, A then B):
//! lines newly covered and newly uncovered per file, figures per owner and per build,
//! and — when the change between them is known — the files it touched (direct) apart
//! from the others (indirect: coverage that moved without the code moving, from flaky
//! tests, timing or other inputs).
//!
//! No upstream spec: livecov's own report, written as a terminal table or JSON
//! (`"format": "livecov-compare"`, versioned by `version`).

use std::io::{self, Write};

use serde_json::{json, Value};

use crate::diffcov::{ranges, Ratio};

/// The `version` of the JSON document this module writes.
pub const VERSION: u32 = 1;

/// One file present in A or B.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    /// The path (repository-relative where the data allows).
    pub path: String,
    /// Whether the change touched it; `None` when no change was given.
    pub direct: Option<bool>,
    /// Its lines in A (`None`: not in A).
    pub a: Option<Ratio>,
    /// Its lines in B (`None`: not in B).
    pub b: Option<Ratio>,
    /// Lines covered in B that were not covered (or not there) in A.
    pub newly_covered: Vec<u32>,
    /// Lines covered in A that are not covered (or not there) in B.
    pub newly_uncovered: Vec<u32>,
}

/// Statements of an owner or a build in A and B.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupChange {
    /// The owner (`namespace/kind/name/binary`) or the build's hash.
    pub name: String,
    /// (statements, covered) in A.
    pub a: Option<(u64, u64)>,
    /// (statements, covered) in B.
    pub b: Option<(u64, u64)>,
}

/// Newly covered and uncovered lines of a set of files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// Files with a difference.
    pub files: u64,
    /// Lines newly covered.
    pub newly_covered: u64,
    /// Lines newly uncovered.
    pub newly_uncovered: u64,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompareReport {
    /// What A is (a path).
    pub a_label: String,
    /// What B is.
    pub b_label: String,
    /// A's lines.
    pub a: Ratio,
    /// B's lines.
    pub b: Ratio,
    /// Files with a difference (or present on one side only), by path.
    pub files: Vec<FileChange>,
    /// Owners, when both sides are collections.
    pub owners: Vec<GroupChange>,
    /// Builds, when both sides are collections.
    pub builds: Vec<GroupChange>,
    /// The change's files: whether one was given.
    pub change_given: bool,
}

impl CompareReport {
    /// The sum over the files the change touched (`true`) or did not (`false`), or over
    /// every file (`None`).
    pub fn moved(&self, direct: Option<bool>) -> Moved {
        let mut m = Moved::default();
        for f in self
            .files
            .iter()
            .filter(|f| direct.is_none() || f.direct == direct)
        {
            if f.newly_covered.is_empty() && f.newly_uncovered.is_empty() {
                continue;
            }
            m.files += 1;
            m.newly_covered += f.newly_covered.len() as u64;
            m.newly_uncovered += f.newly_uncovered.len() as u64;
        }
        m
    }
}

fn ratio(r: &Ratio) -> Value {
    json!({"lines": r.lines, "covered": r.covered, "percent": pct(r.covered, r.lines)})
}

fn pct(covered: u64, total: u64) -> Value {
    livecov_model::percent_1dp(covered, total)
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn moved_json(m: &Moved) -> Value {
    json!({"files": m.files, "newly_covered": m.newly_covered, "newly_uncovered": m.newly_uncovered})
}

fn group(g: &GroupChange) -> Value {
    let side = |s: Option<(u64, u64)>| {
        s.map(|(st, c)| json!({"statements": st, "covered": c, "percent": pct(c, st)}))
    };
    json!({"name": g.name, "a": side(g.a), "b": side(g.b)})
}

/// The report as JSON.
pub fn to_json(r: &CompareReport) -> Value {
    let files: Vec<Value> = r
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path,
                "direct": f.direct,
                "a": f.a.as_ref().map(ratio),
                "b": f.b.as_ref().map(ratio),
                "newly_covered": f.newly_covered,
                "newly_uncovered": f.newly_uncovered,
            })
        })
        .collect();
    json!({
        "format": "livecov-compare",
        "version": VERSION,
        "a": {"path": r.a_label, "lines": r.a.lines, "covered": r.a.covered,
              "percent": pct(r.a.covered, r.a.lines)},
        "b": {"path": r.b_label, "lines": r.b.lines, "covered": r.b.covered,
              "percent": pct(r.b.covered, r.b.lines)},
        "all": moved_json(&r.moved(None)),
        "direct": r.change_given.then(|| moved_json(&r.moved(Some(true)))),
        "indirect": r.change_given.then(|| moved_json(&r.moved(Some(false)))),
        "files": files,
        "owners": r.owners.iter().map(group).collect::<Vec<_>>(),
        "builds": r.builds.iter().map(group).collect::<Vec<_>>(),
    })
}

/// Writes [`to_json`] pretty-printed, ending in a newline.
pub fn write_json(r: &CompareReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_json(r))?;
    writeln!(out)
}

fn side(r: Option<Ratio>) -> String {
    r.map_or("-".to_owned(), |r| format!("{}/{}", r.covered, r.lines))
}

fn group_side(s: Option<(u64, u64)>) -> String {
    s.map_or("-".to_owned(), |(st, c)| {
        format!("{}% ({c}/{st})", livecov_model::percent_1dp(c, st))
    })
}

fn lines_text(lines: &[u32]) -> String {
    ranges(lines)
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Writes the terminal report: totals, the direct/indirect split, files, owners, builds.
pub fn write_table(r: &CompareReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "A {}: {}% ({}/{} lines)\nB {}: {}% ({}/{} lines)",
        r.a_label,
        livecov_model::percent_1dp(r.a.covered, r.a.lines),
        r.a.covered,
        r.a.lines,
        r.b_label,
        livecov_model::percent_1dp(r.b.covered, r.b.lines),
        r.b.covered,
        r.b.lines
    )?;
    let all = r.moved(None);
    writeln!(
        out,
        "newly covered {} lines, newly uncovered {} lines, in {} files",
        all.newly_covered, all.newly_uncovered, all.files
    )?;
    if r.change_given {
        for (name, m) in [
            ("direct", r.moved(Some(true))),
            ("indirect", r.moved(Some(false))),
        ] {
            writeln!(
                out,
                "  {name} ({}): +{} -{} lines in {} files",
                if name == "direct" {
                    "files the change touched"
                } else {
                    "files it did not touch"
                },
                m.newly_covered,
                m.newly_uncovered,
                m.files
            )?;
        }
    }
    let changed: Vec<&FileChange> = r
        .files
        .iter()
        .filter(|f| !f.newly_covered.is_empty() || !f.newly_uncovered.is_empty())
        .collect();
    if !changed.is_empty() {
        let width = changed
            .iter()
            .map(|f| f.path.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(
            out,
            "{:<width$}  {:<8}  {:>12}  {:>12}  Newly covered / newly uncovered",
            "File", "Change", "A", "B"
        )?;
        for f in changed {
            writeln!(
                out,
                "{:<width$}  {:<8}  {:>12}  {:>12}  +{} -{}",
                f.path,
                match f.direct {
                    Some(true) => "direct",
                    Some(false) => "indirect",
                    None => "",
                },
                side(f.a),
                side(f.b),
                lines_text(&f.newly_covered),
                lines_text(&f.newly_uncovered)
            )?;
        }
    }
    for (title, groups) in [("Owner", &r.owners), ("Build", &r.builds)] {
        if groups.is_empty() {
            continue;
        }
        let width = groups
            .iter()
            .map(|g| g.name.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(out, "{title:<width$}  {:>22}  {:>22}", "A", "B")?;
        for g in groups {
            writeln!(
                out,
                "{:<width$}  {:>22}  {:>22}",
                g.name,
                group_side(g.a),
                group_side(g.b)
            )?;
        }
    }
    Ok(())
}
