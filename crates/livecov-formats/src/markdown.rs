//! A Markdown coverage summary for pull-request comments: the total, then a table of the
//! files with the most statements not covered, bounded in rows and bytes.
//!
//! No upstream spec. GitHub refuses comments over 65,536 characters and GitLab notes over
//! 1,000,000; the default bounds ([`MarkdownWriter::max_rows`], [`MarkdownWriter::max_bytes`])
//! keep a comment well under both, and the rows left out are summed on a last line so
//! nothing disappears without a word. File names are escaped, so a name cannot break the
//! table or inject markup.

use std::io::{self, Write};

use crate::summary::{Counts, Summary};

/// Writes Markdown summaries. Build one with [`MarkdownWriter::new`], set options, then
/// call [`MarkdownWriter::write`].
#[derive(Clone, Debug)]
pub struct MarkdownWriter {
    title: String,
    max_rows: usize,
    max_bytes: usize,
}

impl Default for MarkdownWriter {
    fn default() -> Self {
        MarkdownWriter::new()
    }
}

impl MarkdownWriter {
    /// A writer with the default options.
    pub fn new() -> MarkdownWriter {
        MarkdownWriter {
            title: "Coverage".to_owned(),
            max_rows: 50,
            max_bytes: 60_000,
        }
    }

    /// The heading's text before the figure. Default: `Coverage`.
    pub fn title(&mut self, title: impl Into<String>) -> &mut MarkdownWriter {
        self.title = title.into();
        self
    }

    /// At most this many file rows. Default: 50.
    pub fn max_rows(&mut self, rows: usize) -> &mut MarkdownWriter {
        self.max_rows = rows;
        self
    }

    /// Rows stop before the output would exceed this many bytes (the heading and the last
    /// line are always written). Default: 60,000, under GitHub's 65,536-character limit.
    pub fn max_bytes(&mut self, bytes: usize) -> &mut MarkdownWriter {
        self.max_bytes = bytes;
        self
    }

    /// Writes `summary`: files with the most statements not covered first, then by path.
    pub fn write(&self, summary: &Summary, out: &mut impl Write) -> io::Result<()> {
        let t = &summary.totals;
        let mut text = format!(
            "### {}: {}% of statements ({}/{})\n\n{}% of lines ({}/{}) · {} file{} · mode {}\n",
            escape(&self.title),
            t.percent(),
            t.covered,
            t.statements,
            t.line_percent(),
            t.lines_hit,
            t.lines,
            summary.files.len(),
            if summary.files.len() == 1 { "" } else { "s" },
            summary.mode
        );
        let mut files: Vec<&(String, Counts)> = summary.files.iter().collect();
        files.sort_by(|a, b| b.1.missed().cmp(&a.1.missed()).then(a.0.cmp(&b.0)));
        if !files.is_empty() {
            text.push_str(
                "\n| File | Coverage | Covered | Statements | Missed |\n\
                 | --- | ---: | ---: | ---: | ---: |\n",
            );
        }
        // Room for the line that sums what is left out.
        let budget = self.max_bytes.saturating_sub(200);
        let mut shown = 0;
        for (path, c) in &files {
            let row = format!(
                "| {} | {}% | {} | {} | {} |\n",
                escape(path),
                c.percent(),
                c.covered,
                c.statements,
                c.missed()
            );
            if shown == self.max_rows || text.len() + row.len() > budget {
                break;
            }
            text.push_str(&row);
            shown += 1;
        }
        if shown < files.len() {
            let rest = &files[shown..];
            let statements: u64 = rest.iter().map(|f| f.1.statements).sum();
            let missed: u64 = rest.iter().map(|f| f.1.missed()).sum();
            text.push_str(&format!(
                "\n_{} more file{} not shown: {statements} statements, {missed} not covered._\n",
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            ));
        }
        out.write_all(text.as_bytes())
    }
}

/// `s` safe in a table cell: ASCII punctuation backslash-escaped (CommonMark allows it for
/// all of them, and `|` must be escaped in GFM tables), controls replaced.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        if ch.is_ascii_punctuation() && !matches!(ch, '/' | '.' | ',' | ':' | '@' | '%' | '=') {
            out.push('\\');
            out.push(ch);
        } else if ch.is_control() {
            out.push('\u{FFFD}');
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecov_model::{CounterMode, Profile, Unit};

    fn profile(files: usize) -> Profile {
        let mut p = Profile::new(CounterMode::Count);
        for i in 0..files {
            let u = Unit {
                start_line: 1,
                start_col: 1,
                end_line: 1,
                end_col: 2,
                stmts: 1 + i as u32,
            };
            p.add(&format!("pkg/f{i:02}.go"), u, 0).unwrap();
        }
        p
    }

    #[test]
    fn worst_files_first_and_the_rest_summed() {
        let s = Summary::of(&profile(5));
        let mut out = Vec::new();
        MarkdownWriter::new()
            .max_rows(2)
            .write(&s, &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "### Coverage: 0.0% of statements (0/15)\n\n\
             0.0% of lines (0/5) · 5 files · mode count\n\n\
             | File | Coverage | Covered | Statements | Missed |\n\
             | --- | ---: | ---: | ---: | ---: |\n\
             | pkg/f04.go | 0.0% | 0 | 5 | 5 |\n\
             | pkg/f03.go | 0.0% | 0 | 4 | 4 |\n\
             \n_3 more files not shown: 6 statements, 6 not covered._\n"
        );
    }

    #[test]
    fn output_stays_within_max_bytes() {
        let s = Summary::of(&profile(99));
        let mut out = Vec::new();
        MarkdownWriter::new()
            .max_rows(1000)
            .max_bytes(1000)
            .write(&s, &mut out)
            .unwrap();
        assert!(out.len() <= 1000, "{}", out.len());
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("more files not shown"));
    }

    #[test]
    fn names_cannot_break_the_table() {
        assert_eq!(
            escape("a|b`c*_[x](y)<z>"),
            "a\\|b\\`c\\*\\_\\[x\\]\\(y\\)\\<z\\>"
        );
        assert_eq!(escape("dir/file.go"), "dir/file.go");
        assert_eq!(escape("a\u{1b}b"), "a\u{FFFD}b");
    }
}
