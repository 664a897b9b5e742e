//! `livecov report`: what a compiled collection covers, per owner and per build, as a
//! terminal table or JSON; or the whole collection's coverage in an export format
//! (`--format lcov|cobertura|go|sonar|codecov|markdown`, as `livecov export` writes it).

use std::path::PathBuf;

use anyhow::Result;
use livecov_model::percent_1dp;

use crate::exit::Exit;

/// Output formats of `livecov report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables for a terminal.
    Table,
    /// One JSON document with `builds` and `owners` (for the coverage summary of
    /// every file, use `livecov export --format json`).
    Json,
    /// The whole collection as an LCOV tracefile (`livecov export --format lcov`).
    Lcov,
    /// The whole collection as Cobertura XML (`livecov export --format cobertura`).
    Cobertura,
    /// The whole collection as a Go text profile (`livecov export --format go`).
    Go,
    /// The whole collection as SonarQube generic coverage XML.
    Sonar,
    /// The whole collection in Codecov's JSON format.
    Codecov,
    /// A Markdown summary of the whole collection, for pull-request comments.
    Markdown,
}

impl Format {
    /// The export format this names, if it is one.
    fn export(self) -> Option<crate::export::Format> {
        use crate::export::Format as E;
        Some(match self {
            Format::Table | Format::Json => return None,
            Format::Lcov => E::Lcov,
            Format::Cobertura => E::Cobertura,
            Format::Go => E::Go,
            Format::Sonar => E::Sonar,
            Format::Codecov => E::Codecov,
            Format::Markdown => E::Markdown,
        })
    }
}

/// Flags of `livecov report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The collection directory (compiled with `livecov cluster compile`).
    #[arg(long)]
    pub collection: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only what one scenario ran (snapshots taken with `livecov collect --scenario
    /// NAME`): its owners, and per build the statements its snapshots covered.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// The store.
    #[command(flatten)]
    pub store: crate::store::StoreArgs,
}

/// Lays out rows as aligned columns for a terminal. Cells are escaped first (see
/// [`escape_for_terminal`]), and padded by hand: `format!`'s width is limited to
/// 65,535, and metadata fields can be longer.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|s| escape_for_terminal(s)).collect())
        .collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (c, s) in r.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(s);
            let pad = widths[c].saturating_sub(s.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A metadata value made safe for a terminal: control characters (newlines, escape
/// sequences, C1 controls, DEL) are shown as Rust-style escapes, so a hostile pod name
/// can neither split a row nor drive the terminal. JSON output keeps values whole.
fn escape_for_terminal(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Runs `livecov report`.
pub fn run(args: &ReportArgs) -> Result<Exit> {
    if let Some(format) = args.format.export() {
        if args.scenario.is_some() {
            anyhow::bail!(
                "--scenario works with --format table or json; exports hold the whole collection"
            );
        }
        let mut settings = livecov_ops::export::ExportSettings::new(
            &args.collection,
            anyhow::Context::context(format.to_ops(), "report writes no BigQuery load")?,
        );
        settings.timestamp_ms = crate::export::now_ms();
        settings.store = args.store.choice();
        crate::export::export_to(&settings, None)?;
        return Ok(Exit::Ok);
    }
    let report = livecov_ops::report::report(
        &args.collection,
        &args.store.choice(),
        args.scenario.as_deref(),
    )?;
    let mut out = String::new();
    match args.format {
        Format::Json => {
            out = serde_json::to_string_pretty(&report)?;
            out.push('\n');
        }
        // The export formats were written above.
        _ => {
            let mut rows = vec![vec![
                "NAMESPACE".into(),
                "TYPE".into(),
                "OWNER".into(),
                "BINARY".into(),
                "LANG".into(),
                "PODS".into(),
                "COVERAGE".into(),
                "STATEMENTS".into(),
                "BUILD".into(),
            ]];
            for o in &report.owners {
                rows.push(vec![
                    o.namespace.clone(),
                    o.owner_type.clone(),
                    o.owner.clone(),
                    o.binary.clone(),
                    o.language.clone(),
                    o.pods.len().to_string(),
                    format!("{}%", percent_1dp(o.covered_statements, o.statements)),
                    format!("{}/{}", o.covered_statements, o.statements),
                    o.build[..12.min(o.build.len())].to_owned(),
                ]);
            }
            out.push_str(&format!(
                "Owners ({}):\n{}",
                report.owners.len(),
                table(&rows)
            ));
            let mut rows = vec![vec![
                "BUILD".into(),
                "LANG".into(),
                "MODE".into(),
                "OWNERS".into(),
                "PODS".into(),
                "COVERAGE".into(),
                "STATEMENTS".into(),
            ]];
            for b in &report.builds {
                rows.push(vec![
                    b.build.clone(),
                    b.language.clone(),
                    b.mode.clone(),
                    b.owners.to_string(),
                    b.pods.to_string(),
                    format!("{}%", percent_1dp(b.covered_statements, b.statements)),
                    format!("{}/{}", b.covered_statements, b.statements),
                ]);
            }
            out.push_str(&format!(
                "\nBuilds ({}):\n{}",
                report.builds.len(),
                table(&rows)
            ));
            for b in report.builds.iter().filter(|b| !b.note.is_empty()) {
                out.push_str(&format!("note: build {}: {}\n", b.build, b.note));
            }
            if let Some(name) = &report.scenario {
                out.insert_str(
                    0,
                    &format!(
                        "Scenario {}: what its snapshots covered\n\n",
                        escape_for_terminal(name)
                    ),
                );
            } else if !report.scenarios.is_empty() {
                out.push_str(&format!(
                    "\nScenarios ({}): {} (see one with --scenario NAME)\n",
                    report.scenarios.len(),
                    escape_for_terminal(&report.scenarios.join(", "))
                ));
            }
        }
    }
    // Problems go to stderr, after the tables: stdout stays the report.
    let mut footer = String::new();
    if !report.diagnostics.is_empty() {
        footer.push_str(&format!("Diagnostics ({}):\n", report.diagnostics.len()));
        for d in &report.diagnostics {
            footer.push_str(&format!(
                "{}: {}: {}\n",
                d.severity,
                escape_for_terminal(&d.dir),
                escape_for_terminal(&d.message)
            ));
        }
    }
    if !report.partial.is_empty() {
        footer.push_str(&format!(
            "{} inputs are partial (some files skipped, see above): {}\n",
            report.partial.len(),
            escape_for_terminal(&report.partial.join(", "))
        ));
    }
    if !report.complete {
        footer.push_str(&format!("error: store incomplete: {}\n", report.incomplete));
    }
    if args.format != Format::Json || !report.complete {
        eprint!("{footer}");
    }
    // A reader that stops early (`| head`) is not an error.
    use std::io::Write;
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(if report.errors.is_empty() && report.complete {
        Exit::Ok
    } else {
        Exit::Error
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_with_a_field_over_65535_characters_does_not_panic() {
        let long = "p".repeat(70_000);
        let out = table(&[
            vec!["POD".into(), "X".into()],
            vec![long.clone(), "1".into()],
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], format!("{long}  1"));
        assert_eq!(lines[0].len(), 3 + (70_000 - 3) + 2 + 1);
    }

    #[test]
    fn control_characters_in_metadata_neither_split_rows_nor_reach_the_terminal() {
        let out = table(&[vec!["web\n-1".into(), "\u{1b}[31mred\u{7f}\u{9b}".into()]]);
        assert_eq!(out, "web\\n-1  \\u{1b}[31mred\\u{7f}\\u{9b}\n");
        assert_eq!(escape_for_terminal("plain ü"), "plain ü");
    }
}
