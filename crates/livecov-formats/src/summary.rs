//! The figures every summary export shows: per file and in total, statements (the
//! producer's units, what `livecov report` counts) and lines (the line view LCOV,
//! Cobertura and coverage.py report, from [`Profile::line_hits`]).
//!
//! Written as JSON by [`crate::json`] and as Markdown by [`crate::markdown`]; no spec of
//! its own beyond `../shared/specs/formats.md` §3.2 (what a line is hit means).

use livecov_model::{percent_1dp, CounterMode, Profile};

/// Statements and lines of one file, or of a whole profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Statements in all units.
    pub statements: u64,
    /// Statements in units that ran.
    pub covered: u64,
    /// Lines spanned by units with statements.
    pub lines: u64,
    /// Of those, lines some unit that ran spans.
    pub lines_hit: u64,
}

impl Counts {
    /// `covered / statements` as Go's `%.1f` prints it (`0.0` for no statements).
    pub fn percent(&self) -> String {
        percent_1dp(self.covered, self.statements)
    }

    /// `lines_hit / lines` the same way.
    pub fn line_percent(&self) -> String {
        percent_1dp(self.lines_hit, self.lines)
    }

    /// Statements that did not run.
    pub fn missed(&self) -> u64 {
        self.statements - self.covered
    }

    fn add(&mut self, other: &Counts) {
        self.statements += other.statements;
        self.covered += other.covered;
        self.lines += other.lines;
        self.lines_hit += other.lines_hit;
    }
}

/// A profile's figures: files sorted by path, and their sum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The counter mode of the profile.
    pub mode: CounterMode,
    /// Every file, sorted by path (byte order).
    pub files: Vec<(String, Counts)>,
    /// The sum over `files`.
    pub totals: Counts,
}

impl Summary {
    /// The figures of `profile`.
    pub fn of(profile: &Profile) -> Summary {
        let mut files: Vec<(String, Counts)> = profile
            .file_totals()
            .into_iter()
            .map(|(name, t)| {
                let lines = profile.line_hits(name);
                let counts = Counts {
                    statements: t.statements,
                    covered: t.covered,
                    lines: lines.len() as u64,
                    lines_hit: lines.iter().filter(|(_, h)| *h > 0).count() as u64,
                };
                (name.to_owned(), counts)
            })
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let mut totals = Counts::default();
        for (_, c) in &files {
            totals.add(c);
        }
        Summary {
            mode: profile.mode(),
            files,
            totals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecov_model::Unit;

    fn unit(sl: u32, el: u32, stmts: u32) -> Unit {
        Unit {
            start_line: sl,
            start_col: 1,
            end_line: el,
            end_col: 5,
            stmts,
        }
    }

    #[test]
    fn files_are_sorted_and_summed_in_statements_and_lines() {
        let mut p = Profile::new(CounterMode::Count);
        p.add("b/z.go", unit(1, 3, 2), 5).unwrap();
        p.add("b/z.go", unit(3, 4, 1), 0).unwrap();
        p.add("a.go", unit(7, 7, 1), 0).unwrap();
        let s = Summary::of(&p);
        assert_eq!(
            s.files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
            ["a.go", "b/z.go"]
        );
        // Lines 1-4 of z.go; line 3 is shared and keeps the higher count.
        assert_eq!(
            s.files[1].1,
            Counts {
                statements: 3,
                covered: 2,
                lines: 4,
                lines_hit: 3
            }
        );
        assert_eq!(
            s.totals,
            Counts {
                statements: 4,
                covered: 2,
                lines: 5,
                lines_hit: 3
            }
        );
        assert_eq!(s.totals.percent(), "50.0");
        assert_eq!(s.totals.line_percent(), "60.0");
        assert_eq!(s.totals.missed(), 2);
    }
}
