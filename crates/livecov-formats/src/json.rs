//! livecov's JSON coverage summary: totals and one entry per file, for scripts and
//! dashboards.
//!
//! No upstream spec: the document is livecov's own, versioned by its `version` field.
//! Shape (keys sorted, files sorted by path):
//!
//! ```json
//! {"format": "livecov-summary", "version": 1, "mode": "count",
//!  "totals": {"statements": 10, "covered": 8, "percent": 80.0,
//!             "lines": 12, "lines_hit": 9, "line_percent": 75.0},
//!  "files": [{"path": "pkg/a.go", "statements": …, …}]}
//! ```
//!
//! Percentages are rounded to one decimal as Go's `%.1f` rounds them (what
//! `livecov report` and `go tool cover` print), and are 0 for no statements or lines.

use std::io::{self, Write};

use serde_json::{json, Value};

use crate::summary::{Counts, Summary};

/// The `version` this module writes.
pub const VERSION: u32 = 1;

/// Writes `summary` as a pretty-printed JSON document ending in a newline.
pub fn write(summary: &Summary, out: &mut impl Write) -> io::Result<()> {
    let files: Vec<Value> = summary
        .files
        .iter()
        .map(|(path, c)| {
            let mut v = counts(c);
            v["path"] = json!(path);
            v
        })
        .collect();
    let doc = json!({
        "format": "livecov-summary",
        "version": VERSION,
        "mode": summary.mode.to_string(),
        "totals": counts(&summary.totals),
        "files": files,
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn counts(c: &Counts) -> Value {
    json!({
        "statements": c.statements,
        "covered": c.covered,
        "percent": number(&c.percent()),
        "lines": c.lines,
        "lines_hit": c.lines_hit,
        "line_percent": number(&c.line_percent()),
    })
}

/// A `%.1f` figure as a JSON number.
fn number(s: &str) -> Value {
    s.parse::<f64>().map_or(Value::Null, |x| json!(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecov_model::{CounterMode, Profile, Unit};

    #[test]
    fn totals_and_files_with_rounded_percentages() {
        let mut p = Profile::new(CounterMode::Set);
        let u = |l, s| Unit {
            start_line: l,
            start_col: 1,
            end_line: l,
            end_col: 3,
            stmts: s,
        };
        p.add("b.go", u(1, 2), 1).unwrap();
        p.add("a.go", u(1, 1), 0).unwrap();
        let mut out = Vec::new();
        write(&Summary::of(&p), &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["format"], "livecov-summary");
        assert_eq!(v["mode"], "set");
        assert_eq!(v["totals"]["statements"], 3);
        assert_eq!(v["totals"]["covered"], 2);
        assert_eq!(v["totals"]["percent"], 66.7);
        assert_eq!(v["totals"]["line_percent"], 50.0);
        assert_eq!(v["files"][0]["path"], "a.go");
        assert_eq!(v["files"][0]["percent"], 0.0);
        assert_eq!(v["files"][1]["lines_hit"], 1);
        assert!(out.ends_with(b"}\n"));
    }
}
