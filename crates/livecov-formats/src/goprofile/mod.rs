//! Go's legacy text coverage profile: a `mode: set|count|atomic` line, then one line per block,
//! `<file>:<startLine>.<startCol>,<endLine>.<endCol> <numStmt> <count>`.
//!
//! Spec: `../shared/specs/formats.md` §4 (format, merge rules) and
//! `../shared/specs/go-covdata.md` §5.3–5.5 (what `go tool covdata textfmt` prints); upstream:
//! `golang.org/x/tools/cover/profile.go` (`ParseProfilesFromReader`, `parseLine`).
//!
//! The reader follows x/tools where it matters for interoperability: block lines are read from
//! the right, so file names may contain `:` (Windows drive letters, odd local paths), and blocks
//! repeated at the same position are merged (set mode: OR; otherwise a sum, here saturating at
//! `u32::MAX` as covdata's is). It is more forgiving than some x/tools versions about blank lines
//! and repeated `mode:` lines, because concatenated per-package profiles contain them. It never
//! panics on any input.
//!
//! A [`Profile`] never holds two blocks at the same position of one file, so everything it holds
//! can be written and read back unchanged.

pub mod covdata;

use std::cmp::Ordering;
use std::fmt;
use std::io::{self, Write};

pub use livecov_model::{Block, Profile};
use livecov_model::{CounterMode, Unit};

/// What a block line looks like, for error messages.
const BLOCK_SYNTAX: &str = "`<file>:<startLine>.<startCol>,<endLine>.<endCol> <numStmt> <count>`";

/// Why a text profile could not be read or merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The input has no non-blank line at all.
    #[error(
        "empty profile: expected a first line `mode: set|count|atomic` \
         (go tool covdata textfmt writes an empty file when it found no coverage data)"
    )]
    MissingMode,
    /// The first non-blank line is not a mode line, or a mode line names an unknown mode.
    #[error(
        "line {line}: expected a mode line (`mode: set`, `mode: count` or `mode: atomic`), \
         found {found:?}"
    )]
    BadModeLine {
        /// 1-based line number.
        line: usize,
        /// The line as found (shortened when long).
        found: String,
    },
    /// A repeated `mode:` line names a different mode than the first one.
    #[error(
        "line {line}: `mode: {found}` conflicts with `mode: {first}` earlier in the profile; \
         concatenated profiles must share one mode (use one -covermode for all packages)"
    )]
    ModeMismatch {
        /// 1-based line number of the conflicting mode line.
        line: usize,
        /// The mode of the first mode line.
        first: CounterMode,
        /// The mode found on this line.
        found: CounterMode,
    },
    /// A line that should be a block is not one.
    #[error("line {line}: {reason}; expected {BLOCK_SYNTAX}, found {found:?}")]
    BadBlock {
        /// 1-based line number.
        line: usize,
        /// What exactly is wrong with it.
        reason: String,
        /// The line as found (shortened when long).
        found: String,
    },
    /// Two blocks at the same position of one file disagree on their statement count, so they
    /// come from different versions of that file and cannot be merged.
    #[error(
        "{}inconsistent NumStmt for {file}:{}.{},{}.{}: {previous} statements before, {} now; \
         the profiles were built from different sources of this file",
        line_prefix(*.line), .unit.start_line, .unit.start_col, .unit.end_line, .unit.end_col,
        .unit.stmts
    )]
    InconsistentNumStmt {
        /// 1-based line number of the second block when it came from [`parse`], else `None`.
        line: Option<usize>,
        /// The block's file name.
        file: String,
        /// The second block's position and statement count.
        unit: Unit,
        /// The statement count already recorded at that position.
        previous: u32,
    },
    /// [`Profile::merge`] was given a profile of another mode.
    #[error("cannot merge a `mode: {theirs}` profile into a `mode: {ours}` profile")]
    MergeModeMismatch {
        /// The mode of the profile merged into.
        ours: CounterMode,
        /// The mode of the profile merged from.
        theirs: CounterMode,
    },
    /// [`Profile::add`] was given a file name that a text profile cannot carry.
    #[error("file name {file:?} cannot appear in a text profile: it is empty or has a line break")]
    BadFileName {
        /// The rejected name.
        file: String,
    },
}

fn line_prefix(line: Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

/// A problem that did not stop reading: the profile is still usable, but a count was clamped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileWarning {
    /// 1-based line number.
    pub line: usize,
    /// What happened.
    pub message: String,
}

impl fmt::Display for ProfileWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Puts files in the order `go tool covdata textfmt` prints them.
///
/// textfmt sorts packages by import path and then files by name, and a text profile does
/// not record packages. A file is normally named `<import path>/<base name>`, so sorting by
/// (directory, name) reproduces that order; a bare sort by name would not
/// (`example.com/prog/main.go` comes before `example.com/prog/dep/dep.go`). Only "local"
/// packages, whose files carry absolute paths, can come out in another order.
pub fn sort_textfmt(profile: &mut Profile) {
    profile.sort_files_by(textfmt_file_order);
}

impl From<livecov_model::ProfileError> for ProfileError {
    fn from(e: livecov_model::ProfileError) -> ProfileError {
        use livecov_model::ProfileError as E;
        match e {
            E::BadFileName { file } => ProfileError::BadFileName { file },
            E::InconsistentStmts {
                file,
                unit,
                previous,
            } => ProfileError::InconsistentNumStmt {
                line: None,
                file,
                unit,
                previous,
            },
            E::ModeMismatch { ours, theirs } => ProfileError::MergeModeMismatch { ours, theirs },
            // A text profile is never built from a layout here.
            E::CounterCount { .. } => ProfileError::BadFileName {
                file: e.to_string(),
            },
        }
    }
}

/// Why a profile is not one a Go text profile can carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{file}: {reason}; a Go text profile holds Go blocks only (export this profile as \
     lcov, cobertura, sonar, codecov, json or markdown instead)"
)]
pub struct NotGoShaped {
    /// The first file that is not Go-shaped.
    pub file: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Checks that `profile` came from Go builds, so its text profile means what Go's tools
/// expect: every file is a `.go` file, and every unit has Go's 1-based columns (a unit
/// of an LCOV or coverage.py layout covers whole lines and has none).
pub fn check_go_shaped(profile: &Profile) -> Result<(), NotGoShaped> {
    for file in profile.files() {
        if !file.ends_with(".go") {
            return Err(NotGoShaped {
                file: file.to_owned(),
                reason: "not a .go file".to_owned(),
            });
        }
    }
    match profile
        .blocks()
        .find(|b| b.unit.start_col == 0 || b.unit.end_col == 0)
    {
        Some(b) => Err(NotGoShaped {
            file: b.file.to_owned(),
            reason: format!(
                "the unit at line {} has no columns (a line-based layout)",
                b.unit.start_line
            ),
        }),
        None => Ok(()),
    }
}

/// textfmt's file order; see [`sort_textfmt`].
fn textfmt_file_order(a: &str, b: &str) -> Ordering {
    fn dir(file: &str) -> &str {
        file.rsplit_once('/').map_or("", |(d, _)| d)
    }
    (dir(a), a).cmp(&(dir(b), b))
}

/// Reads a text profile, merging repeated blocks as `golang.org/x/tools/cover` does.
///
/// The first non-blank line must be a mode line. Blank lines are skipped, and so are repeated
/// mode lines naming the same mode (concatenated per-package profiles have them). Lines may end
/// in `\r\n`. Counts above `u32::MAX`, and merged sums that exceed it, are clamped and reported
/// as warnings.
pub fn parse(text: &str) -> Result<(Profile, Vec<ProfileWarning>), ProfileError> {
    let mut profile: Option<Profile> = None;
    let mut warnings = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        // bufio.ScanLines drops one trailing CR, so Go reads CRLF files too.
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let Some(profile) = profile.as_mut() else {
            profile = Some(Profile::new(mode_line(line, line_no)?));
            continue;
        };
        // A block is tried first because a file may be named `mode: …`; a real mode line can
        // never parse as a block (its last field is not a number).
        let (file, unit, count) = match parse_block(line) {
            Ok(block) => block,
            Err(_) if line.starts_with("mode:") => {
                let found = mode_line(line, line_no)?;
                if found != profile.mode() {
                    return Err(ProfileError::ModeMismatch {
                        line: line_no,
                        first: profile.mode(),
                        found,
                    });
                }
                continue;
            }
            Err(reason) => {
                return Err(ProfileError::BadBlock {
                    line: line_no,
                    reason,
                    found: excerpt(line),
                })
            }
        };
        let count = match count {
            Count::Exact(c) => c,
            Count::Saturated => {
                warnings.push(ProfileWarning {
                    line: line_no,
                    message: format!("count exceeds {}; clamped to it", u32::MAX),
                });
                u32::MAX
            }
        };
        match profile.add(file, unit, count) {
            Ok(outcome) if outcome.overflowed => warnings.push(ProfileWarning {
                line: line_no,
                message: format!(
                    "merging this block with the same block earlier exceeds {}; clamped to it",
                    u32::MAX
                ),
            }),
            Ok(_) => {}
            Err(e) => {
                return Err(match ProfileError::from(e) {
                    ProfileError::InconsistentNumStmt {
                        file,
                        unit,
                        previous,
                        ..
                    } => ProfileError::InconsistentNumStmt {
                        line: Some(line_no),
                        file,
                        unit,
                        previous,
                    },
                    other => other,
                })
            }
        }
    }
    profile
        .map(|p| (p, warnings))
        .ok_or(ProfileError::MissingMode)
}

/// Reads `mode: <name>`; Go requires exactly one space after the colon, livecov allows any.
fn mode_line(line: &str, line_no: usize) -> Result<CounterMode, ProfileError> {
    line.strip_prefix("mode:")
        .and_then(|rest| CounterMode::from_name(rest.trim()))
        .ok_or_else(|| ProfileError::BadModeLine {
            line: line_no,
            found: excerpt(line),
        })
}

/// A count field: Go's are `int`s, livecov's `u32`s.
enum Count {
    Exact(u32),
    Saturated,
}

/// Parses a block line from the right, as x/tools' `parseLine` does, so that everything before
/// the last `:` that precedes the positions is the file name.
fn parse_block(line: &str) -> Result<(&str, Unit, Count), String> {
    let (rest, count) = split_last(line, ' ', "count")?;
    let count = parse_count(count)?;
    let (rest, stmts) = split_last(rest, ' ', "numStmt")?;
    let stmts = parse_u32(stmts, "numStmt")?;
    let (rest, end_col) = split_last(rest, '.', "endCol")?;
    let end_col = parse_u32(end_col, "endCol")?;
    let (rest, end_line) = split_last(rest, ',', "endLine")?;
    let end_line = parse_u32(end_line, "endLine")?;
    let (rest, start_col) = split_last(rest, '.', "startCol")?;
    let start_col = parse_u32(start_col, "startCol")?;
    let (file, start_line) = split_last(rest, ':', "startLine")?;
    let start_line = parse_u32(start_line, "startLine")?;
    if file.is_empty() {
        return Err("the file name is empty".to_owned());
    }
    let unit = Unit {
        start_line,
        start_col,
        end_line,
        end_col,
        stmts,
    };
    Ok((file, unit, count))
}

fn split_last<'a>(s: &'a str, sep: char, what: &str) -> Result<(&'a str, &'a str), String> {
    s.rsplit_once(sep)
        .ok_or_else(|| format!("no `{sep}` before {what}"))
}

fn digits<'a>(field: &'a str, what: &str) -> Result<&'a str, String> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{what} {:?} is not a non-negative decimal integer",
            excerpt(field)
        ));
    }
    Ok(field)
}

fn parse_u32(field: &str, what: &str) -> Result<u32, String> {
    digits(field, what)?
        .parse()
        .map_err(|_| format!("{what} {} exceeds {}", excerpt(field), u32::MAX))
}

fn parse_count(field: &str) -> Result<Count, String> {
    // Only digits remain, so the sole way `parse` can fail is overflow.
    Ok(digits(field, "count")?
        .parse()
        .map_or(Count::Saturated, Count::Exact))
}

/// Untrusted lines can be megabytes long; errors quote only their start.
fn excerpt(s: &str) -> String {
    const MAX: usize = 120;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Writes `mode: <mode>` and then one line per block, byte for byte as
/// `go tool covdata textfmt` prints them, in the profile's order (see
/// [`sort_textfmt`]).
///
/// Output is buffered internally, so `out` need not be.
pub fn write(profile: &Profile, out: &mut impl Write) -> io::Result<()> {
    const FLUSH_AT: usize = 64 * 1024;
    let mut buf = Vec::with_capacity(FLUSH_AT + 256);
    writeln!(buf, "mode: {}", profile.mode())?;
    for b in profile.blocks() {
        let u = b.unit;
        writeln!(
            buf,
            "{}:{}.{},{}.{} {} {}",
            b.file, u.start_line, u.start_col, u.end_line, u.end_col, u.stmts, b.count
        )?;
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unit(sl: u32, sc: u32, el: u32, ec: u32, stmts: u32) -> Unit {
        Unit {
            start_line: sl,
            start_col: sc,
            end_line: el,
            end_col: ec,
            stmts,
        }
    }

    fn to_text(p: &Profile) -> String {
        let mut out = Vec::new();
        write(p, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn parse_ok(text: &str) -> Profile {
        let (p, w) = parse(text).unwrap();
        assert!(w.is_empty(), "{w:?}");
        p
    }

    fn parse_err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn only_go_shaped_profiles_pass_the_check() {
        let mut go = Profile::new(CounterMode::Set);
        go.add("example.com/p/a.go", unit(1, 2, 3, 4, 1), 1)
            .unwrap();
        assert_eq!(check_go_shaped(&go), Ok(()));
        let mut py = go.clone();
        py.add("pkg/m.py", unit(1, 1, 1, 9, 1), 1).unwrap();
        let e = check_go_shaped(&py).unwrap_err();
        assert_eq!(e.file, "pkg/m.py");
        assert!(
            e.to_string().starts_with("pkg/m.py: not a .go file; "),
            "{e}"
        );
        let mut lines = go.clone();
        lines
            .add("example.com/p/b.go", unit(7, 1, 7, 0, 1), 1)
            .unwrap();
        let e = check_go_shaped(&lines).unwrap_err();
        assert_eq!(
            e.reason,
            "the unit at line 7 has no columns (a line-based layout)"
        );
    }

    /// Printed by `go tool covdata textfmt` (Go 1.26) for a two-package program run twice.
    const TEXTFMT_SET: &str = "mode: set
example.com/prog/main.go:10.13,11.32 1 1
example.com/prog/main.go:11.32,13.3 1 1
example.com/prog/dep/dep.go:4.29,5.11 1 1
example.com/prog/dep/dep.go:5.11,7.3 1 0
example.com/prog/dep/dep.go:14.15,14.16 0 0
";

    #[test]
    fn reads_real_textfmt_output() {
        let p = parse_ok(TEXTFMT_SET);
        assert_eq!(p.mode(), CounterMode::Set);
        assert_eq!(
            p.files().collect::<Vec<_>>(),
            ["example.com/prog/main.go", "example.com/prog/dep/dep.go"]
        );
        assert_eq!(p.len(), 5);
        let last = p.blocks().last().unwrap();
        assert_eq!(
            last,
            Block {
                file: "example.com/prog/dep/dep.go",
                unit: unit(14, 15, 14, 16, 0),
                count: 0
            }
        );
    }

    #[test]
    fn write_reproduces_textfmt_bytes() {
        let mut p = parse_ok(TEXTFMT_SET);
        assert_eq!(to_text(&p), TEXTFMT_SET);
        sort_textfmt(&mut p);
        assert_eq!(to_text(&p), TEXTFMT_SET);
    }

    #[test]
    fn file_names_split_on_the_last_colon() {
        let p = parse_ok("mode: count\nC:\\x\\y.go:1.2,3.4 1 0\na:b:c.go:5.6,7.8 2 9\n");
        let blocks: Vec<_> = p.blocks().collect();
        assert_eq!(blocks[0].file, "C:\\x\\y.go");
        assert_eq!(blocks[0].unit, unit(1, 2, 3, 4, 1));
        assert_eq!(blocks[1].file, "a:b:c.go");
        assert_eq!(blocks[1].unit, unit(5, 6, 7, 8, 2));
        assert_eq!(blocks[1].count, 9);
    }

    #[test]
    fn file_names_may_hold_spaces_dots_and_a_mode_prefix() {
        let text = "mode: set\nmode: x.go:1.2,3.4 1 1\nmy dir/a,b.go:1.2,3.4 1 0\n";
        let p = parse_ok(text);
        assert_eq!(
            p.files().collect::<Vec<_>>(),
            ["mode: x.go", "my dir/a,b.go"]
        );
        assert_eq!(to_text(&p), text);
    }

    #[test]
    fn crlf_blank_lines_and_repeated_mode_lines_are_accepted() {
        let text = "\r\n  \nmode: count\r\na.go:1.2,3.4 1 1\r\n\nmode: count\nb.go:1.2,3.4 1 2";
        let p = parse_ok(text);
        assert_eq!(
            to_text(&p),
            "mode: count\na.go:1.2,3.4 1 1\nb.go:1.2,3.4 1 2\n"
        );
    }

    #[test]
    fn bad_mode_lines_name_their_line() {
        assert!(parse_err("\n\nfoo\n").starts_with("line 3: expected a mode line"));
        assert!(parse_err("mode: fast\n").starts_with("line 1: expected a mode line"));
        assert!(parse_err("a.go:1.2,3.4 1 0\n").starts_with("line 1: expected a mode line"));
        assert!(parse_err("mode: set\na.go:1.2,3.4 1 0\nmode: \n").starts_with("line 3:"));
        assert_eq!(parse("").unwrap_err(), ProfileError::MissingMode);
        assert_eq!(parse(" \n\r\n").unwrap_err(), ProfileError::MissingMode);
    }

    #[test]
    fn bad_block_lines_name_their_line_and_field() {
        let cases = [
            ("a.go:1.2,3.4 1", "no ` ` before numStmt"),
            ("a1,2 1 1", "no `.` before endCol"),
            ("a.go:1,2 1 1", "endCol \"go:1,2\" is not"),
            ("a.go:1.2,3.4 1 x", "count \"x\" is not"),
            ("a.go:1.2,3.4 1 -1", "count \"-1\" is not"),
            ("a.go:1.2,3.4 1 ", "count \"\" is not"),
            ("a.go:1.2,3.4  1", "numStmt \"\" is not"),
            (
                "a.go:1.2,3.4 99999999999 1",
                "numStmt 99999999999 exceeds 4294967295",
            ),
            ("a.go:1.2;3.4 1 1", "no `,` before endLine"),
            ("a1,3.4 1 1", "no `.` before startCol"),
            ("a.go 1.2,3.4 1 1", "no `:` before startLine"),
            (":1.2,3.4 1 1", "the file name is empty"),
            ("a.go:1.+2,3.4 1 1", "startCol \"+2\" is not"),
            ("garbage", "no ` ` before count"),
        ];
        for (line, reason) in cases {
            let msg = parse_err(&format!("mode: set\n\n{line}\n"));
            assert!(msg.starts_with("line 3: "), "{line}: {msg}");
            assert!(msg.contains(reason), "{line}: {msg}");
            assert!(
                msg.contains("expected `<file>:<startLine>"),
                "{line}: {msg}"
            );
        }
    }

    #[test]
    fn long_bad_lines_are_quoted_shortened() {
        let line = format!("{}é x", "a".repeat(119));
        let msg = parse_err(&format!("mode: set\n{line}\n"));
        assert!(msg.contains(&format!("{}…", "a".repeat(119))), "{msg}");
        assert!(msg.len() < 400);
    }

    #[test]
    fn a_different_mode_in_a_concatenated_profile_is_an_error() {
        let err = parse("mode: set\na.go:1.2,3.4 1 1\nmode: count\nb.go:1.2,3.4 1 2\n");
        assert_eq!(
            err.unwrap_err(),
            ProfileError::ModeMismatch {
                line: 3,
                first: CounterMode::Set,
                found: CounterMode::Count
            }
        );
    }

    #[test]
    fn repeated_blocks_merge_by_mode() {
        let set = parse_ok("mode: set\na.go:1.2,3.4 1 0\na.go:1.2,3.4 1 1\na.go:1.2,3.4 1 0\n");
        assert_eq!(set.len(), 1);
        assert_eq!(set.blocks().next().unwrap().count, 1);

        let count = parse_ok("mode: count\na.go:1.2,3.4 1 3\nb.go:1.2,3.4 1 1\na.go:1.2,3.4 1 4\n");
        assert_eq!(
            to_text(&count),
            "mode: count\na.go:1.2,3.4 1 7\nb.go:1.2,3.4 1 1\n"
        );

        let atomic = parse_ok("mode: atomic\na.go:1.2,3.4 1 3\na.go:1.2,3.4 1 4\n");
        assert_eq!(atomic.blocks().next().unwrap().count, 7);
    }

    #[test]
    fn blocks_of_a_file_come_out_in_textfmt_order() {
        // textfmt sorts by end line before start column.
        let p = parse_ok("mode: set\na.go:5.20,6.1 1 0\na.go:5.30,5.40 1 0\na.go:2.1,3.1 1 0\n");
        let starts: Vec<_> = p
            .blocks()
            .map(|b| (b.unit.start_line, b.unit.start_col))
            .collect();
        assert_eq!(starts, [(2, 1), (5, 30), (5, 20)]);
    }

    #[test]
    fn counts_saturate_at_u32_max_with_a_warning() {
        let (p, w) = parse("mode: count\na.go:1.2,3.4 1 99999999999999999999999\n").unwrap();
        assert_eq!(p.blocks().next().unwrap().count, u32::MAX);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 2);

        let text = "mode: count\na.go:1.2,3.4 1 2500000000\na.go:1.2,3.4 1 2500000000\n";
        let (p, w) = parse(text).unwrap();
        assert_eq!(p.blocks().next().unwrap().count, u32::MAX);
        assert_eq!(w.len(), 1);
        assert!(w[0].to_string().starts_with("line 3: merging"), "{}", w[0]);
    }

    #[test]
    fn inconsistent_numstmt_names_file_position_and_line() {
        let err = parse("mode: set\na.go:1.2,3.4 1 1\n\na.go:1.2,3.4 2 1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 4: inconsistent NumStmt for a.go:1.2,3.4: 1 statements before, 2 now; \
             the profiles were built from different sources of this file"
        );
    }

    #[test]
    fn merge_sums_saturating_and_appends_new_files() {
        let mut a = parse_ok("mode: count\na.go:1.2,3.4 1 4294967290\nb.go:1.2,3.4 1 1\n");
        let b = parse_ok("mode: count\nc.go:1.2,3.4 1 5\na.go:1.2,3.4 1 10\na.go:9.2,9.4 1 1\n");
        let outcome = a.merge(&b).unwrap();
        assert!(outcome.overflowed);
        assert_eq!(
            to_text(&a),
            "mode: count\na.go:1.2,3.4 1 4294967295\na.go:9.2,9.4 1 1\nb.go:1.2,3.4 1 1\n\
             c.go:1.2,3.4 1 5\n"
        );
    }

    #[test]
    fn merge_in_set_mode_is_or() {
        let mut a = parse_ok("mode: set\na.go:1.2,3.4 1 0\na.go:5.2,6.4 1 1\na.go:7.2,8.4 1 0\n");
        let b = parse_ok("mode: set\na.go:1.2,3.4 1 1\na.go:5.2,6.4 1 0\na.go:7.2,8.4 1 0\n");
        assert!(!a.merge(&b).unwrap().overflowed);
        let counts: Vec<_> = a.blocks().map(|b| b.count).collect();
        assert_eq!(counts, [1, 1, 0]);
    }

    #[test]
    fn merge_rejects_another_mode_and_inconsistent_numstmt_without_changing_anything() {
        let mut a = parse_ok("mode: count\na.go:1.2,3.4 1 1\n");
        let before = a.clone();
        let set = parse_ok("mode: set\na.go:1.2,3.4 1 1\n");
        assert_eq!(
            ProfileError::from(a.merge(&set).unwrap_err()),
            ProfileError::MergeModeMismatch {
                ours: CounterMode::Count,
                theirs: CounterMode::Set
            }
        );
        let other = parse_ok("mode: count\nb.go:1.2,3.4 1 1\na.go:1.2,3.4 3 1\n");
        let err = ProfileError::from(a.merge(&other).unwrap_err());
        assert_eq!(
            err,
            ProfileError::InconsistentNumStmt {
                line: None,
                file: "a.go".into(),
                unit: unit(1, 2, 3, 4, 3),
                previous: 1
            }
        );
        assert!(err
            .to_string()
            .starts_with("inconsistent NumStmt for a.go:1.2,3.4: 1"));
        assert_eq!(a, before);
    }

    #[test]
    fn add_rejects_names_a_profile_cannot_carry() {
        let mut p = Profile::new(CounterMode::Set);
        for bad in ["", "a\nb.go"] {
            let err = ProfileError::from(p.add(bad, unit(1, 1, 1, 2, 1), 1).unwrap_err());
            assert!(matches!(err, ProfileError::BadFileName { .. }), "{err}");
        }
        assert!(p.is_empty());
    }

    #[test]
    fn sort_textfmt_orders_packages_before_their_subpackages() {
        let mut p = Profile::new(CounterMode::Set);
        for f in [
            "m/dep/z.go",
            "m/main.go",
            "m/dep/a.go",
            "/abs/x.go",
            "m/z.go",
        ] {
            p.add(f, unit(1, 1, 1, 2, 1), 0).unwrap();
        }
        sort_textfmt(&mut p);
        assert_eq!(
            p.files().collect::<Vec<_>>(),
            [
                "/abs/x.go",
                "m/main.go",
                "m/z.go",
                "m/dep/a.go",
                "m/dep/z.go"
            ]
        );
        // The index follows the new order: adding merges into the right file.
        p.add("m/z.go", unit(1, 1, 1, 2, 1), 1).unwrap();
        assert_eq!(p.blocks().nth(2).unwrap().count, 1);
        assert_eq!(p.len(), 5);
    }

    fn arb_profile() -> impl Strategy<Value = Profile> {
        let mode = prop_oneof![
            Just(CounterMode::Set),
            Just(CounterMode::Count),
            Just(CounterMode::Atomic)
        ];
        // Names with the separators a line uses, and one that looks like a mode line.
        let file = prop_oneof![
            "[a-z]{1,3}(/[a-z]{1,3}){0,2}\\.go",
            "[A-Z]:\\\\[a-z :.,]{1,8}",
            Just("mode: set".to_owned()),
            "[^\n]{1,12}",
        ];
        let block = (file, any::<[u32; 4]>(), 0u32..4, any::<u32>());
        (mode, prop::collection::vec(block, 0..40)).prop_map(|(mode, blocks)| {
            let mut p = Profile::new(mode);
            for (file, [sl, sc, el, ec], stmts, count) in blocks {
                // Conflicting statement counts are rejected; the rest is what is tested.
                let _ = p.add(&file, unit(sl, sc, el, ec, stmts), count);
            }
            p
        })
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_and_errors_name_a_line(text in any::<String>()) {
            check_parse_is_total(&text);
        }

        #[test]
        fn near_miss_profiles_never_panic(
            lines in prop::collection::vec("[a-c:., 0-9\r-]{0,24}|mode: (set|count)", 0..8),
        ) {
            check_parse_is_total(&format!("mode: set\n{}", lines.join("\n")));
        }

        #[test]
        fn write_then_parse_round_trips(p in arb_profile()) {
            let text = to_text(&p);
            let (back, warnings) = parse(&text).unwrap();
            prop_assert!(warnings.is_empty());
            prop_assert_eq!(&back, &p);
            prop_assert_eq!(to_text(&back), text);
        }

        #[test]
        fn merging_into_an_empty_profile_copies(p in arb_profile()) {
            let mut q = Profile::new(p.mode());
            prop_assert!(!q.merge(&p).unwrap().overflowed);
            prop_assert_eq!(q, p);
        }
    }

    /// Parsing returns; a successful result writes and re-reads to itself, and every error but
    /// the empty-input one points at a line.
    fn check_parse_is_total(text: &str) {
        match parse(text) {
            Ok((p, _)) => {
                let again = parse_ok(&to_text(&p));
                assert_eq!(again, p);
            }
            Err(ProfileError::MissingMode) => assert!(text.trim().is_empty()),
            Err(e) => assert!(e.to_string().starts_with("line "), "{e}"),
        }
    }
}
