//! Diff coverage reports: how much of a change's executable lines ran, written as a
//! terminal table, JSON, a Markdown pull-request comment or GitHub annotations.
//!
//! No upstream spec: the values are livecov's own (`livecov diff` builds them; the
//! webhook server posts them). The JSON document (`"format": "livecov-diff"`, versioned
//! by `version`) has at least:
//!
//! ```json
//! {"base": "…", "head": "…", "base_reason": "…",
//!  "patch": {"lines": 5, "covered": 3, "percent": 60.0},
//!  "files": [{"path": "pkg/a.go", "lines": 5, "covered": 3, "uncovered_lines": [12, 13]}]}
//! ```
//!
//! Percentages are rounded to one decimal as everywhere in livecov (Go's `%.1f`); a
//! change with no executable line is 100% covered (nothing of it can be missed), as
//! diff-cover says too. Gates compare exact ratios, never the rounded figure. GitHub
//! annotations are workflow commands
//! (<https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions>)
//! or the Checks API's `annotations` objects
//! (<https://docs.github.com/en/rest/checks/runs#create-a-check-run>).

use std::io::{self, Write};

use livecov_model::percent_1dp;
use serde_json::{json, Value};

/// The `version` of the JSON document this module writes.
pub const VERSION: u32 = 1;

/// Lines and how many of them ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ratio {
    /// Executable lines.
    pub lines: u64,
    /// Of those, lines that ran.
    pub covered: u64,
}

impl Ratio {
    /// `covered / lines` in percent, exactly; 100 when there are no lines.
    pub fn percent(&self) -> f64 {
        if self.lines == 0 {
            100.0
        } else {
            100.0 * self.covered as f64 / self.lines as f64
        }
    }

    /// The percentage with one decimal (`100.0` when there are no lines).
    pub fn percent_text(&self) -> String {
        if self.lines == 0 {
            "100.0".to_owned()
        } else {
            percent_1dp(self.covered, self.lines)
        }
    }

    /// Lines that did not run.
    pub fn missed(&self) -> u64 {
        self.lines - self.covered
    }

    /// Adds another ratio's lines.
    pub fn add(&mut self, other: Ratio) {
        self.lines += other.lines;
        self.covered += other.covered;
    }
}

/// One file of the change that the coverage data knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDiff {
    /// Repository path in the head commit.
    pub path: String,
    /// The path before a rename or copy.
    pub old_path: Option<String>,
    /// `added`, `modified`, `renamed` or `copied`.
    pub status: String,
    /// The path the coverage data records the file under (a Go import path, say).
    pub data_path: String,
    /// Changed executable lines and how many ran.
    pub patch: Ratio,
    /// Changed executable lines that did not run, in order.
    pub uncovered_lines: Vec<u32>,
    /// Changed lines the coverage data counts but that are blank or comments only, so
    /// they are not measured.
    pub comment_lines: u64,
}

/// A named group of paths (globs) with its own figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// The component's name.
    pub name: String,
    /// The globs that pick its files.
    pub globs: Vec<String>,
    /// Its changed executable lines.
    pub patch: Ratio,
    /// All its executable lines in the head's coverage data.
    pub total: Ratio,
}

/// One threshold and its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// What is measured: `patch`, `total`, `drop`, or `COMPONENT patch` / `COMPONENT total`.
    pub name: String,
    /// The flag that set it, e.g. `--fail-under-patch`.
    pub flag: String,
    /// The threshold (a minimum percentage, or for `drop` the largest drop in points).
    pub threshold: f64,
    /// The measured figure, `None` when it could not be measured (no base data for
    /// `drop`).
    pub actual: Option<f64>,
    /// Whether it holds. A gate that could not be measured fails, so a missing base never
    /// passes silently.
    pub passed: bool,
    /// One sentence saying why, for the reports.
    pub detail: String,
}

/// The result of one diff-coverage run.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffReport {
    /// The commit the change is measured against, when known (a diff read from a file may
    /// name none).
    pub base: Option<String>,
    /// The commit of the change.
    pub head: Option<String>,
    /// The commit the patch was taken from when it differs from `base` (`base` is then
    /// the nearest ancestor with coverage data and the patch is still the change alone).
    pub diff_base: Option<String>,
    /// Which base was used and why, in one sentence.
    pub base_reason: String,
    /// Every changed executable line of the change.
    pub patch: Ratio,
    /// The head's coverage data in lines.
    pub total: Ratio,
    /// The base's coverage data in lines, when there is any.
    pub base_total: Option<Ratio>,
    /// Measured files of the change, by path.
    pub files: Vec<FileDiff>,
    /// Changed files the coverage data does not have at all (not built, not a code file,
    /// or a path that did not map), by path.
    pub no_data: Vec<String>,
    /// Files the change deleted: nothing of them is left to cover.
    pub deleted: Vec<String>,
    /// Binary files of the change.
    pub binary: Vec<String>,
    /// Components, in the order given.
    pub components: Vec<Component>,
    /// Every gate, in the order checked.
    pub gates: Vec<Gate>,
    /// Gates are reported but never fail the run.
    pub informational: bool,
    /// A link to a line: `{path}`, `{line}` and `{commit}` are replaced (e.g.
    /// `https://github.com/org/repo/blob/{commit}/{path}#L{line}`).
    pub link_template: Option<String>,
}

impl DiffReport {
    /// Whether every gate holds (true when there are none).
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    /// The drop of the total from the base, in percentage points (positive: lower now).
    pub fn drop(&self) -> Option<f64> {
        self.base_total.map(|b| b.percent() - self.total.percent())
    }

    /// The link to `line` of `path` in the head, when a template is set.
    pub fn link(&self, path: &str, line: u32) -> Option<String> {
        let t = self.link_template.as_deref()?;
        Some(
            t.replace("{path}", path)
                .replace("{line}", &line.to_string())
                .replace("{commit}", self.head.as_deref().unwrap_or("HEAD")),
        )
    }
}

/// Consecutive lines as (first, last) ranges.
pub fn ranges(lines: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &l in lines {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == l => *last = l,
            _ => out.push((l, l)),
        }
    }
    out
}

fn ranges_text(lines: &[u32]) -> String {
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
        .join(", ")
}

fn short(commit: Option<&str>) -> &str {
    match commit {
        Some(c) if c.len() > 12 => &c[..12],
        Some(c) => c,
        None => "(none)",
    }
}

fn ratio_json(r: &Ratio) -> Value {
    json!({
        "lines": r.lines,
        "covered": r.covered,
        "percent": number(&r.percent_text()),
    })
}

fn number(s: &str) -> Value {
    s.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn round1(x: f64) -> Value {
    number(&format!("{x:.1}"))
}

/// The report as a JSON value (see the module docs for its shape).
pub fn to_json(report: &DiffReport) -> Value {
    let files: Vec<Value> = report
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path,
                "old_path": f.old_path,
                "status": f.status,
                "data_path": f.data_path,
                "lines": f.patch.lines,
                "covered": f.patch.covered,
                "percent": number(&f.patch.percent_text()),
                "uncovered_lines": f.uncovered_lines,
                "comment_lines": f.comment_lines,
            })
        })
        .collect();
    let components: Vec<Value> = report
        .components
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "globs": c.globs,
                "patch": ratio_json(&c.patch),
                "total": ratio_json(&c.total),
            })
        })
        .collect();
    let gates: Vec<Value> = report
        .gates
        .iter()
        .map(|g| {
            json!({
                "name": g.name,
                "flag": g.flag,
                "threshold": g.threshold,
                "actual": g.actual.map(round1),
                "passed": g.passed,
                "detail": g.detail,
            })
        })
        .collect();
    json!({
        "format": "livecov-diff",
        "version": VERSION,
        "base": report.base,
        "head": report.head,
        "diff_base": report.diff_base,
        "base_reason": report.base_reason,
        "patch": ratio_json(&report.patch),
        "total": ratio_json(&report.total),
        "base_total": report.base_total.as_ref().map(ratio_json),
        "drop": report.drop().map(round1),
        "files": files,
        "no_data": report.no_data,
        "deleted": report.deleted,
        "binary": report.binary,
        "components": components,
        "gates": gates,
        "passed": report.passed(),
        "informational": report.informational,
    })
}

/// Writes [`to_json`] pretty-printed, ending in a newline.
pub fn write_json(report: &DiffReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_json(report))?;
    writeln!(out)
}

/// Writes the terminal report: base and head, a table of the measured files, the patch
/// and total figures, files without data, gates, and the uncovered lines with links.
pub fn write_table(report: &DiffReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "base {} ({}), head {}",
        short(report.base.as_deref()),
        report.base_reason,
        short(report.head.as_deref())
    )?;
    if !report.files.is_empty() {
        let width = report
            .files
            .iter()
            .map(|f| f.path.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(
            out,
            "{:<width$}  {:>6}  {:>7}  {:>7}  Uncovered lines",
            "File", "Lines", "Covered", "Percent"
        )?;
        for f in &report.files {
            writeln!(
                out,
                "{:<width$}  {:>6}  {:>7}  {:>6}%  {}",
                f.path,
                f.patch.lines,
                f.patch.covered,
                f.patch.percent_text(),
                ranges_text(&f.uncovered_lines)
            )?;
        }
    }
    writeln!(
        out,
        "patch coverage: {}% ({} of {} changed executable lines)",
        report.patch.percent_text(),
        report.patch.covered,
        report.patch.lines
    )?;
    write!(
        out,
        "total coverage: {}% ({} of {} lines)",
        report.total.percent_text(),
        report.total.covered,
        report.total.lines
    )?;
    match (report.base_total, report.drop()) {
        (Some(b), Some(d)) => writeln!(out, "; base {}% ({:+.1} points)", b.percent_text(), -d)?,
        _ => writeln!(out)?,
    }
    for c in &report.components {
        writeln!(
            out,
            "component {}: patch {}% ({}/{}), total {}% ({}/{})",
            c.name,
            c.patch.percent_text(),
            c.patch.covered,
            c.patch.lines,
            c.total.percent_text(),
            c.total.covered,
            c.total.lines
        )?;
    }
    if !report.no_data.is_empty() {
        writeln!(
            out,
            "no coverage data for {} changed file{}: {}",
            report.no_data.len(),
            if report.no_data.len() == 1 { "" } else { "s" },
            report.no_data.join(", ")
        )?;
    }
    for g in &report.gates {
        writeln!(
            out,
            "gate {}: {} ({})",
            g.name,
            if g.passed { "passed" } else { "FAILED" },
            g.detail
        )?;
    }
    if report.link_template.is_some() {
        for f in &report.files {
            for (a, b) in ranges(&f.uncovered_lines) {
                let link = report.link(&f.path, a).unwrap_or_default();
                if a == b {
                    writeln!(out, "uncovered {}:{a} {link}", f.path)?;
                } else {
                    writeln!(out, "uncovered {}:{a}-{b} {link}", f.path)?;
                }
            }
        }
    }
    Ok(())
}

/// Writes a Markdown pull-request comment: the patch figure as the heading, base and
/// head, the gates, a table of the files with uncovered changed lines (linked when a
/// template is set), and the files without data. At most `max_bytes` of file rows; rows
/// left out are counted on a last line.
pub fn write_markdown(
    report: &DiffReport,
    max_bytes: usize,
    out: &mut impl Write,
) -> io::Result<()> {
    let esc = crate::markdown::escape;
    let mut text = format!(
        "### Patch coverage: {}% ({} of {} changed lines)\n\n",
        report.patch.percent_text(),
        report.patch.covered,
        report.patch.lines
    );
    text.push_str(&format!("Total {}%", report.total.percent_text()));
    if let (Some(b), Some(d)) = (report.base_total, report.drop()) {
        text.push_str(&format!(" (base {}%, {:+.1} points)", b.percent_text(), -d));
    }
    text.push_str(&format!(
        " · base `{}` ({}) · head `{}`\n",
        short(report.base.as_deref()),
        esc(&report.base_reason),
        short(report.head.as_deref())
    ));
    if !report.gates.is_empty() {
        text.push('\n');
        for g in &report.gates {
            text.push_str(&format!(
                "- {} **{}**: {}\n",
                if g.passed { "✅" } else { "❌" },
                esc(&g.name),
                esc(&g.detail)
            ));
        }
        if report.informational && !report.passed() {
            text.push_str("- informational: the gates do not fail the check\n");
        }
    }
    let missed: Vec<&FileDiff> = report
        .files
        .iter()
        .filter(|f| !f.uncovered_lines.is_empty())
        .collect();
    if !missed.is_empty() {
        text.push_str(
            "\n| File | Patch | Covered | Lines | Uncovered lines |\n\
             | --- | ---: | ---: | ---: | --- |\n",
        );
        let tail_room = 200;
        let mut left_out = 0usize;
        for f in &missed {
            let lines: Vec<String> = ranges(&f.uncovered_lines)
                .iter()
                .map(|&(a, b)| {
                    let label = if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    };
                    match report.link(&f.path, a) {
                        Some(url) => format!("[{label}]({url})"),
                        None => label,
                    }
                })
                .collect();
            let row = format!(
                "| {} | {}% | {} | {} | {} |\n",
                esc(&f.path),
                f.patch.percent_text(),
                f.patch.covered,
                f.patch.lines,
                lines.join(", ")
            );
            if left_out > 0 || text.len() + row.len() + tail_room > max_bytes {
                left_out += 1;
                continue;
            }
            text.push_str(&row);
        }
        if left_out > 0 {
            text.push_str(&format!(
                "| … {left_out} more file{} with uncovered lines | | | | |\n",
                if left_out == 1 { "" } else { "s" }
            ));
        }
    }
    if !report.no_data.is_empty() {
        let mut names: Vec<String> = Vec::new();
        let mut len = 0;
        for p in &report.no_data {
            len += p.len() + 4;
            if text.len() + len > max_bytes {
                break;
            }
            names.push(format!("`{}`", p.replace('`', "'")));
        }
        let more = report.no_data.len() - names.len();
        text.push_str(&format!(
            "\nNo coverage data for {} changed file{}: {}{}\n",
            report.no_data.len(),
            if report.no_data.len() == 1 { "" } else { "s" },
            names.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    out.write_all(text.as_bytes())
}

/// One GitHub annotation: a range of uncovered changed lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// Repository path.
    pub path: String,
    /// First line.
    pub start_line: u32,
    /// Last line.
    pub end_line: u32,
    /// The message.
    pub message: String,
}

/// One annotation per range of uncovered changed lines, files in path order.
pub fn annotations(report: &DiffReport) -> Vec<Annotation> {
    let mut out = Vec::new();
    for f in &report.files {
        for (a, b) in ranges(&f.uncovered_lines) {
            let message = if a == b {
                format!("Changed line {a} is not covered.")
            } else {
                format!("Changed lines {a}-{b} are not covered.")
            };
            out.push(Annotation {
                path: f.path.clone(),
                start_line: a,
                end_line: b,
                message,
            });
        }
    }
    out
}

/// The annotations as the Checks API's `output.annotations` array (warning level).
pub fn annotations_json(report: &DiffReport) -> Value {
    Value::Array(
        annotations(report)
            .into_iter()
            .map(|a| {
                json!({
                    "path": a.path,
                    "start_line": a.start_line,
                    "end_line": a.end_line,
                    "annotation_level": "warning",
                    "title": "Uncovered change",
                    "message": a.message,
                })
            })
            .collect(),
    )
}

/// Writes the annotations as GitHub Actions workflow commands (`::warning file=…::…`),
/// then a `::notice` with the patch figure, or an `::error` per failed gate.
pub fn write_github(report: &DiffReport, out: &mut impl Write) -> io::Result<()> {
    for a in annotations(report) {
        writeln!(
            out,
            "::warning file={},line={},endLine={},title=Uncovered change::{}",
            command_property(&a.path),
            a.start_line,
            a.end_line,
            command_data(&a.message)
        )?;
    }
    for g in report.gates.iter().filter(|g| !g.passed) {
        let level = if report.informational {
            "warning"
        } else {
            "error"
        };
        writeln!(
            out,
            "::{level} title=Coverage gate {}::{}",
            command_property(&g.name),
            command_data(&g.detail)
        )?;
    }
    writeln!(
        out,
        "::notice title=Patch coverage::{}",
        command_data(&format!(
            "{}% of {} changed executable lines are covered (base {}, {})",
            report.patch.percent_text(),
            report.patch.lines,
            short(report.base.as_deref()),
            report.base_reason
        ))
    )
}

/// Escapes a workflow command's message (GitHub's `escapeData`).
fn command_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property (GitHub's `escapeProperty`).
fn command_property(s: &str) -> String {
    command_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> DiffReport {
        DiffReport {
            base: Some("a".repeat(40)),
            head: Some("b".repeat(40)),
            diff_base: None,
            base_reason: "merge-base of main and HEAD".into(),
            patch: Ratio {
                lines: 4,
                covered: 1,
            },
            total: Ratio {
                lines: 10,
                covered: 6,
            },
            base_total: Some(Ratio {
                lines: 10,
                covered: 7,
            }),
            files: vec![FileDiff {
                path: "p/a,b.go".into(),
                old_path: None,
                status: "modified".into(),
                data_path: "m/p/a,b.go".into(),
                patch: Ratio {
                    lines: 4,
                    covered: 1,
                },
                uncovered_lines: vec![3, 4, 9],
                comment_lines: 1,
            }],
            no_data: vec!["README.md".into()],
            deleted: vec![],
            binary: vec![],
            components: vec![],
            gates: vec![Gate {
                name: "patch".into(),
                flag: "--fail-under-patch".into(),
                threshold: 80.0,
                actual: Some(25.0),
                passed: false,
                detail: "25.0% of changed lines, under 80%".into(),
            }],
            informational: false,
            link_template: Some("https://h/{commit}/{path}#L{line}".into()),
        }
    }

    #[test]
    fn json_has_the_documented_fields() {
        let v = to_json(&report());
        assert_eq!(
            v["patch"],
            json!({"lines": 4, "covered": 1, "percent": 25.0})
        );
        assert_eq!(v["files"][0]["uncovered_lines"], json!([3, 4, 9]));
        assert_eq!(v["drop"], json!(10.0));
        assert_eq!(v["passed"], json!(false));
        assert_eq!(v["base_reason"], json!("merge-base of main and HEAD"));
    }

    #[test]
    fn annotations_are_ranges_and_properties_are_escaped() {
        let mut out = Vec::new();
        write_github(&report(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "::warning file=p/a%2Cb.go,line=3,endLine=4,title=Uncovered change::Changed \
                 lines 3-4 are not covered.\n::warning file=p/a%2Cb.go,line=9,endLine=9,"
            ),
            "{text}"
        );
        assert!(text.contains("::error title=Coverage gate patch::25.0%25 of"));
    }

    #[test]
    fn markdown_links_ranges_and_stays_bounded() {
        let mut out = Vec::new();
        write_markdown(&report(), 60_000, &mut out).unwrap();
        let md = String::from_utf8(out).unwrap();
        assert!(md.starts_with("### Patch coverage: 25.0% (1 of 4 changed lines)\n"));
        assert!(md.contains(&format!("[3-4](https://h/{}/p/a,b.go#L3)", "b".repeat(40))));
        let mut big = report();
        big.files = (0..5000)
            .map(|i| FileDiff {
                path: format!("f{i}.go"),
                ..report().files[0].clone()
            })
            .collect();
        let mut out = Vec::new();
        write_markdown(&big, 60_000, &mut out).unwrap();
        assert!(out.len() < 60_000, "{}", out.len());
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("more files with uncovered lines"));
    }

    #[test]
    fn an_empty_patch_is_fully_covered() {
        assert_eq!(Ratio::default().percent_text(), "100.0");
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), [(1, 3), (5, 5), (7, 8)]);
    }
}
