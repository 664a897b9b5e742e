//! Wrong-commit detection: a build's unit positions checked against a source file.
//!
//! A unit that ends past the last line, has a column past its line's end, or starts on
//! a blank line cannot come from this text, so the file is not the one the binary was
//! built from (a different commit, or a generated file). Matching positions do not
//! prove the file is right, but a mismatch proves it wrong.

use std::fmt;

/// Why a unit does not fit the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MismatchReason {
    /// The unit ends on a line the file does not have.
    PastLastLine {
        /// The number of lines in the file.
        lines: u32,
    },
    /// A column lies beyond the end of its line.
    ColumnPastEnd {
        /// The offending column (1-based, bytes).
        column: u32,
        /// The line's length in bytes.
        line_len: u32,
    },
    /// The unit starts on a line with nothing but white space.
    BlankStart,
    /// A zero line number or a range that ends before it starts.
    InvalidRange,
}

/// The verdict that a source file does not match a build's units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// How many units do not fit.
    pub bad_units: usize,
    /// How many units were checked.
    pub total_units: usize,
    /// The index of the first unit that does not fit.
    pub first_index: usize,
    /// Its position: (start line, start col, end line, end col).
    pub first_unit: (u32, u32, u32, u32),
    /// The line that shows the problem (1-based).
    pub line: u32,
    /// Why it does not fit.
    pub reason: MismatchReason,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sl, sc, el, ec) = self.first_unit;
        write!(
            f,
            "{} of {} units do not fit the source; first: unit {}:{}-{}:{} ",
            self.bad_units, self.total_units, sl, sc, el, ec
        )?;
        match &self.reason {
            MismatchReason::PastLastLine { lines } => write!(
                f,
                "ends on line {}, but the file has {lines} lines",
                self.line
            ),
            MismatchReason::ColumnPastEnd { column, line_len } => write!(
                f,
                "expects column {column} on line {}, which has {line_len} bytes",
                self.line
            ),
            MismatchReason::BlankStart => {
                write!(f, "expects code on line {}, which is blank", self.line)
            }
            MismatchReason::InvalidRange => f.write_str("is not a valid range"),
        }
    }
}

/// Checks unit positions `(start line, start col, end line, end col)` against `text`.
///
/// Lines and columns are 1-based, columns count bytes, the end column is exclusive. A
/// column of 0 means "unknown" (line-only formats) and is not checked. Returns `None`
/// when every unit fits. One pass computes line starts; each unit is then O(1) apart
/// from the blank-line test.
pub fn check_units(text: &[u8], units: &[(u32, u32, u32, u32)]) -> Option<Mismatch> {
    let mut starts = Vec::with_capacity(text.len() / 32 + 1);
    starts.push(0usize);
    starts.extend(memchr::memchr_iter(b'\n', text).map(|i| i + 1));
    // Text after the last newline is a line; an empty tail after a final newline is not.
    if starts.last() == Some(&text.len()) && starts.len() > 1 {
        starts.pop();
    }
    let lines = u32::try_from(starts.len()).unwrap_or(u32::MAX);
    let line = |n: u32| -> &[u8] {
        let i = n as usize - 1;
        let start = starts[i];
        let end = starts.get(i + 1).map_or(text.len(), |&next| next - 1);
        &text[start..end]
    };
    let len = |n: u32| u32::try_from(line(n).len()).unwrap_or(u32::MAX);

    let check = |&(sl, sc, el, ec): &(u32, u32, u32, u32)| -> Option<(u32, MismatchReason)> {
        if sl == 0 || el == 0 || sl > el || (sl == el && sc != 0 && ec != 0 && sc > ec) {
            return Some((sl, MismatchReason::InvalidRange));
        }
        if el > lines {
            return Some((el, MismatchReason::PastLastLine { lines }));
        }
        // A block may start just past a line's last byte: Go's cover tool starts the
        // block of a `case x:` or `{` body right after that token, at column len + 1.
        if sc != 0 && sc > len(sl).saturating_add(1) {
            let line_len = len(sl);
            return Some((
                sl,
                MismatchReason::ColumnPastEnd {
                    column: sc,
                    line_len,
                },
            ));
        }
        if ec != 0 && ec - 1 > len(el) {
            let line_len = len(el);
            return Some((
                el,
                MismatchReason::ColumnPastEnd {
                    column: ec,
                    line_len,
                },
            ));
        }
        if line(sl).iter().all(u8::is_ascii_whitespace) {
            return Some((sl, MismatchReason::BlankStart));
        }
        None
    };

    let mut first = None;
    let mut bad_units = 0;
    for (index, unit) in units.iter().enumerate() {
        if let Some((line, reason)) = check(unit) {
            bad_units += 1;
            first.get_or_insert((index, *unit, line, reason));
        }
    }
    first.map(|(first_index, first_unit, line, reason)| Mismatch {
        bad_units,
        total_units: units.len(),
        first_index,
        first_unit,
        line,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &[u8] = b"package a\n\nfunc F() int {\n\treturn 1\n}\n";

    #[test]
    fn a_block_may_start_just_past_the_end_of_its_line() {
        // `func F() int {` is 14 bytes: Go starts the body's block at column 15.
        assert_eq!(check_units(SRC, &[(3, 15, 5, 2)]), None);
        let m = check_units(SRC, &[(3, 16, 5, 2)]).unwrap();
        assert_eq!(
            m.reason,
            MismatchReason::ColumnPastEnd {
                column: 16,
                line_len: 14
            }
        );
    }

    #[test]
    fn matching_units_pass() {
        // Go's cover block for F's body: 3:14 to 5:2 (end exclusive, just after `}`).
        assert_eq!(check_units(SRC, &[(3, 14, 5, 2), (4, 2, 4, 10)]), None);
        // Line-only units (column 0) are checked by line only.
        assert_eq!(check_units(SRC, &[(3, 0, 5, 0)]), None);
        // No trailing newline: the last line still counts.
        assert_eq!(check_units(b"a\nbc", &[(2, 1, 2, 3)]), None);
        assert_eq!(check_units(b"", &[]), None);
    }

    #[test]
    fn unit_past_the_last_line() {
        let m = check_units(SRC, &[(3, 14, 5, 2), (4, 2, 9, 2)]).unwrap();
        assert_eq!((m.bad_units, m.total_units, m.first_index), (1, 2, 1));
        assert_eq!(m.reason, MismatchReason::PastLastLine { lines: 5 });
        assert_eq!(m.line, 9);
        assert!(
            m.to_string()
                .contains("ends on line 9, but the file has 5 lines"),
            "{m}"
        );
    }

    #[test]
    fn column_past_line_end() {
        let m = check_units(SRC, &[(4, 2, 4, 12)]).unwrap();
        assert_eq!(
            m.reason,
            MismatchReason::ColumnPastEnd {
                column: 12,
                line_len: 9
            }
        );
        let m = check_units(SRC, &[(1, 11, 1, 12)]).unwrap();
        assert_eq!(m.line, 1);
    }

    #[test]
    fn unit_starting_on_a_blank_line() {
        let m = check_units(SRC, &[(2, 0, 3, 3), (2, 1, 2, 1)]).unwrap();
        assert_eq!(
            (m.bad_units, m.reason.clone()),
            (2, MismatchReason::BlankStart)
        );
        assert!(m.to_string().contains("line 2, which is blank"), "{m}");
    }

    #[test]
    fn odd_units_never_panic() {
        for unit in [
            (0, 0, 0, 0),
            (5, 1, 4, 1),
            (3, 9, 3, 2),
            (u32::MAX, u32::MAX, u32::MAX, u32::MAX),
        ] {
            assert!(check_units(SRC, &[unit]).is_some(), "{unit:?}");
        }
        assert!(check_units(b"", &[(1, 1, 1, 1)]).is_some());
    }
}
