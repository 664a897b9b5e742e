//! LCOV tracefiles (`.info`, `.lcov`): read tolerantly, written for lcov 2.x, converted to a
//! livecov [`Layout`](livecov_model::Layout).
//!
//! Spec: `../shared/specs/formats.md` §2 (grammar, checksums, 1.x/2.x differences, merging,
//! what `llvm-cov export -format=lcov` emits) and §1.15 (coverage.py's `coverage lcov`).
//! Upstream: lcov's `lib/lcovutil.pm` (`read_info_file`, `write_info`) and LLVM's
//! `llvm/tools/llvm-cov/CoverageExporterLcov.cpp`.
//!
//! The reader accepts what the real producers write: lcov 1.x and 2.x (`FN` with or without
//! an end line, `FNL`/`FNA`, `DA` checksums, `BRDA` with `-` and with coverage.py's textual
//! branch labels such as `jump to line 7`), llvm-cov exports, CRLF line ends, blank lines
//! and `#` comments. Blocks for the same (test name, file) are merged as `lcov -a` does:
//! counts add up, saturating at `u64::MAX`. A line it cannot use is skipped with a
//! [`LcovWarning`] naming the line number, the file block and what was expected; the rest of
//! the input is kept. It never panics, and what it allocates is bounded by the input's size.
//! Summary records (`LF`, `LH`, `FNF`, `FNH`, `BRF`, `BRH`) are checked for syntax only:
//! every total is recomputed from the detail records.
//!
//! A [`Tracefile`] is always in canonical order (see [`SourceFile::normalize`]), so what
//! [`read`] returns is written back by [`write()`] and read again unchanged.

mod layout;
mod profile;
mod read;
mod write;

use std::collections::HashMap;
use std::fmt;

pub use layout::{to_layout, NO_FUNCTION, WHOLE_LINE_END_COL};
pub use profile::from_profile;
pub use read::{read, LcovError};
pub use write::{write, LcovWriter};

/// A tracefile: one entry per (test name, source file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tracefile {
    /// Files in the order their first block appeared; no two share a test name and path.
    pub files: Vec<SourceFile>,
}

/// What one tracefile records for one source file under one test name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceFile {
    /// The `TN:` in force for this block; empty for the default test (and llvm-cov output).
    pub test_name: String,
    /// The `SF:` path as written (llvm-cov: absolute; coverage.py: relative).
    pub path: String,
    /// The lcov 2.x `VER:` source version id, if any.
    pub version: Option<String>,
    /// Functions, sorted by start line and then name; names are unique.
    pub functions: Vec<Function>,
    /// Branches, sorted by line and block, and within a block in order of first appearance;
    /// (line, block, branch) is unique.
    pub branches: Vec<Branch>,
    /// Instrumented lines, sorted by line number; line numbers are unique.
    pub lines: Vec<Line>,
}

/// A function record (`FN` + `FNDA`, or lcov 2.2's `FNL` + `FNA`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// The name as the producer wrote it (llvm-cov: mangled, `file.c:` prefix for statics).
    pub name: String,
    /// First line (1-based).
    pub start_line: u32,
    /// Last line, when the producer wrote one (lcov 2.x, gcc ≥ 9, coverage.py).
    pub end_line: Option<u32>,
    /// Times the function was entered.
    pub hits: u64,
}

/// A `DA` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Line number (1-based).
    pub line: u32,
    /// Times the line was executed.
    pub hits: u64,
    /// The optional MD5 of the source line, base64 without padding (spec §2.2), as written.
    pub checksum: Option<String>,
}

/// What kind of edge a `BRDA` record counts (lcov 2.x's block prefix).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BranchKind {
    /// No prefix.
    #[default]
    Normal,
    /// `e`: an exception edge.
    Exception,
    /// `f`: a fall-through edge.
    Fallthrough,
}

/// A `BRDA` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branch {
    /// Line number (1-based).
    pub line: u32,
    /// Block id on that line (0-based).
    pub block: u32,
    /// The `e`/`f` prefix of the block id.
    pub kind: BranchKind,
    /// The `U` prefix: excluded from branch totals.
    pub unreachable: bool,
    /// The branch id: a number for gcc and llvm-cov, any text for coverage.py
    /// (`jump to line 7`, `exit the module`); it may contain commas.
    pub branch: String,
    /// How often the edge was taken; `None` is lcov's `-` (the condition never ran).
    pub taken: Option<u64>,
}

/// A problem that did not stop reading: the offending record was skipped or a value clamped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LcovWarning {
    /// 1-based line number in the input; `None` for [`Tracefile::merge`].
    pub line: Option<usize>,
    /// What happened, naming the `SF:` block when there is one.
    pub message: String,
}

impl fmt::Display for LcovWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl SourceFile {
    /// An empty entry for `path` under the default test.
    pub fn new(path: impl Into<String>) -> SourceFile {
        SourceFile {
            path: path.into(),
            ..SourceFile::default()
        }
    }

    /// Lines found (`LF`): every `DA` line.
    pub fn lines_found(&self) -> usize {
        self.lines.len()
    }

    /// Lines hit (`LH`): `DA` lines with a count above zero.
    pub fn lines_hit(&self) -> usize {
        self.lines.iter().filter(|l| l.hits > 0).count()
    }

    /// Functions found (`FNF`), counted by name as lcov 1.x and llvm-cov's `FN` lines do.
    pub fn functions_found(&self) -> usize {
        self.functions.len()
    }

    /// Functions hit (`FNH`).
    pub fn functions_hit(&self) -> usize {
        self.functions.iter().filter(|f| f.hits > 0).count()
    }

    /// Branches found (`BRF`): every branch not marked unreachable (`U`).
    pub fn branches_found(&self) -> usize {
        self.branches.iter().filter(|b| !b.unreachable).count()
    }

    /// Branches hit (`BRH`): reachable branches taken at least once.
    pub fn branches_hit(&self) -> usize {
        self.branches
            .iter()
            .filter(|b| !b.unreachable && b.taken.is_some_and(|t| t > 0))
            .count()
    }

    /// Puts the entry in canonical order and merges repeated records as `lcov -a` does:
    /// counts add up (saturating), `-` plus `-` stays `-`, a function seen at two start lines
    /// keeps the smaller one and at two end lines the larger, the first of two different
    /// checksums is kept, and a branch is unreachable when either record says so. Conflicts
    /// are reported through `warn`.
    ///
    /// Unlike lcov 2.x, which pairs branch blocks of one line by their shape, branches are
    /// matched by (line, block, branch id): that is what the numbering of every producer
    /// examined (gcc, llvm-cov, coverage.py) means.
    pub fn normalize(&mut self, warn: &mut dyn FnMut(String)) {
        let path = &self.path;
        // Stable sorts, then in-place merges of neighbours: `dedup_by` hands the later
        // record first and the one kept second.
        self.lines.sort_by_key(|l| l.line);
        self.lines.dedup_by(|l, prev| {
            if l.line != prev.line {
                return false;
            }
            prev.hits = prev.hits.saturating_add(l.hits);
            match (&prev.checksum, l.checksum.take()) {
                (None, c) => prev.checksum = c,
                (Some(a), Some(b)) if *a != b => warn(format!(
                    "SF:{}: DA:{}: checksum {b} differs from {a} seen before \
                     (the inputs come from different versions of the source); keeping {a}",
                    short(path),
                    l.line
                )),
                _ => {}
            }
            true
        });

        self.functions.sort_by(|a, b| a.name.cmp(&b.name));
        self.functions.dedup_by(|f, prev| {
            if f.name != prev.name {
                return false;
            }
            prev.hits = prev.hits.saturating_add(f.hits);
            if prev.start_line != f.start_line {
                let keep = prev.start_line.min(f.start_line);
                warn(format!(
                    "SF:{}: function {} starts on line {} and on line {}; keeping {keep}",
                    short(path),
                    short(&f.name),
                    keep,
                    prev.start_line.max(f.start_line),
                ));
                prev.start_line = keep;
            }
            prev.end_line = match (prev.end_line, f.end_line) {
                (Some(a), Some(b)) if a != b => {
                    warn(format!(
                        "SF:{}: function {} ends on line {a} and on line {b}; keeping {}",
                        short(path),
                        short(&f.name),
                        a.max(b)
                    ));
                    Some(a.max(b))
                }
                (a, b) => a.or(b),
            };
            true
        });
        self.functions
            .sort_by(|a, b| (a.start_line, &a.name).cmp(&(b.start_line, &b.name)));

        // Stable: branches of one block keep the order the producer gave them. A block
        // holds a few branches, so repeats are found by scanning it; a huge block (hostile
        // input) is indexed instead, to stay linear.
        self.branches.sort_by_key(|b| (b.line, b.block));
        let mut merged: Vec<Branch> = Vec::with_capacity(self.branches.len());
        let mut start = 0; // where the current (line, block) begins in `merged`
        let mut index: HashMap<String, usize> = HashMap::new();
        for b in self.branches.drain(..) {
            if merged
                .get(start)
                .is_some_and(|s| (s.line, s.block) != (b.line, b.block))
            {
                start = merged.len();
                index.clear();
            }
            let block = &merged[start..];
            let found = if block.len() < 16 {
                block.iter().position(|x| x.branch == b.branch)
            } else {
                if index.is_empty() {
                    index.extend(block.iter().enumerate().map(|(i, x)| (x.branch.clone(), i)));
                }
                index.get(&b.branch).copied()
            };
            match found {
                Some(i) => {
                    let prev = &mut merged[start + i];
                    prev.taken = match (prev.taken, b.taken) {
                        (Some(x), Some(y)) => Some(x.saturating_add(y)),
                        (x, y) => x.or(y),
                    };
                    prev.unreachable |= b.unreachable;
                }
                None => {
                    if !index.is_empty() {
                        index.insert(b.branch.clone(), merged.len() - start);
                    }
                    merged.push(b);
                }
            }
        }
        self.branches = merged;
    }
}

impl Tracefile {
    /// The entry for `test_name` and `path`, if any.
    pub fn file(&self, test_name: &str, path: &str) -> Option<&SourceFile> {
        self.files
            .iter()
            .find(|f| f.test_name == test_name && f.path == path)
    }

    /// Adds `other` into `self` as `lcov -a` does: entries with the same test name and path
    /// are merged ([`SourceFile::normalize`]), the others appended in their order.
    pub fn merge(&mut self, other: &Tracefile) -> Vec<LcovWarning> {
        self.merge_owned(other.clone())
    }

    /// [`Tracefile::merge`] of a tracefile that is not needed afterwards: its records
    /// move, nothing is copied.
    pub fn merge_owned(&mut self, other: Tracefile) -> Vec<LcovWarning> {
        let mut acc = Accumulator::from(std::mem::take(self));
        let warnings = acc.add(other);
        *self = acc.finish();
        warnings
    }
}

/// A merge result built one tracefile at a time ([`Accumulator::read`] parses straight
/// into it), so merging many inputs holds the result and one input's text, never an
/// input's parsed form beside it.
#[derive(Debug, Default)]
pub struct Accumulator {
    tracefile: Tracefile,
    index: HashMap<(String, String), usize>,
}

impl From<Tracefile> for Accumulator {
    fn from(tracefile: Tracefile) -> Accumulator {
        let index = tracefile
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| ((f.test_name.clone(), f.path.clone()), i))
            .collect();
        Accumulator { tracefile, index }
    }
}

impl Accumulator {
    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.tracefile.files.is_empty()
    }

    /// Merges one (normalized) file entry in; the position of its entry.
    fn add_file(&mut self, file: SourceFile, warn: &mut dyn FnMut(String)) -> usize {
        let key = (file.test_name.clone(), file.path.clone());
        match self.index.get(&key) {
            Some(&i) => {
                merge_into(&mut self.tracefile.files[i], file, warn);
                i
            }
            None => {
                // A block read record by record grew its vectors by doubling; the result
                // keeps only what they hold.
                let mut file = file;
                file.lines.shrink_to_fit();
                file.functions.shrink_to_fit();
                file.branches.shrink_to_fit();
                self.index.insert(key, self.tracefile.files.len());
                self.tracefile.files.push(file);
                self.tracefile.files.len() - 1
            }
        }
    }

    /// Merges a whole tracefile in, as [`Tracefile::merge`] does.
    pub fn add(&mut self, other: Tracefile) -> Vec<LcovWarning> {
        let mut warnings = Vec::new();
        for f in other.files {
            self.add_file(f, &mut |m| {
                warnings.push(LcovWarning {
                    line: None,
                    message: m,
                })
            });
        }
        warnings
    }

    /// Merges another accumulator in (its files after this one's).
    pub fn join(&mut self, other: Accumulator) -> Vec<LcovWarning> {
        if self.is_empty() {
            *self = other;
            return Vec::new();
        }
        self.add(other.tracefile)
    }

    /// The merged tracefile.
    pub fn finish(self) -> Tracefile {
        self.tracefile
    }
}

/// Merges `from` into `into` (same test name and path).
fn merge_into(into: &mut SourceFile, mut from: SourceFile, warn: &mut dyn FnMut(String)) {
    let version = from.version.take();
    if into.version.is_none() {
        into.version = version;
    } else if version.is_some() && version != into.version {
        warn(format!(
            "SF:{}: source version {:?} differs from {:?} seen before; keeping the first",
            short(&into.path),
            version.unwrap_or_default(),
            into.version.clone().unwrap_or_default()
        ));
    }
    // The usual case, the same source read again: the same records with other counts.
    // Add them in place: no allocation, no sort.
    if same_records(into, &from) {
        add_counts(into, from, warn);
        return;
    }
    into.lines.extend(from.lines);
    into.functions.extend(from.functions);
    into.branches.extend(from.branches);
    into.normalize(warn);
    // Growing for the extend doubled the capacities; a running merge result keeps only
    // what it holds.
    into.lines.shrink_to_fit();
    into.functions.shrink_to_fit();
    into.branches.shrink_to_fit();
}

/// Whether `from` (normalized) has exactly `into`'s records, in the same order: the same
/// lines, the same functions with the same lines, the same branches.
fn same_records(into: &SourceFile, from: &SourceFile) -> bool {
    into.lines.len() == from.lines.len()
        && into.functions.len() == from.functions.len()
        && into.branches.len() == from.branches.len()
        && into
            .lines
            .iter()
            .zip(&from.lines)
            .all(|(a, b)| a.line == b.line)
        && into.functions.iter().zip(&from.functions).all(|(a, b)| {
            a.name == b.name && a.start_line == b.start_line && a.end_line == b.end_line
        })
        && into
            .branches
            .iter()
            .zip(&from.branches)
            .all(|(a, b)| (a.line, a.block, &a.branch) == (b.line, b.block, &b.branch))
}

/// Adds `from`'s counts to `into`'s, record by record, as [`SourceFile::normalize`] merges
/// two records with the same key.
fn add_counts(into: &mut SourceFile, from: SourceFile, warn: &mut dyn FnMut(String)) {
    for (a, b) in into.lines.iter_mut().zip(from.lines) {
        a.hits = a.hits.saturating_add(b.hits);
        match (&a.checksum, b.checksum) {
            (None, c) => a.checksum = c,
            (Some(x), Some(y)) if *x != y => warn(format!(
                "SF:{}: DA:{}: checksum {y} differs from {x} seen before \
                 (the inputs come from different versions of the source); keeping {x}",
                short(&into.path),
                a.line
            )),
            _ => {}
        }
    }
    for (a, b) in into.functions.iter_mut().zip(from.functions) {
        a.hits = a.hits.saturating_add(b.hits);
    }
    for (a, b) in into.branches.iter_mut().zip(from.branches) {
        a.taken = match (a.taken, b.taken) {
            (Some(x), Some(y)) => Some(x.saturating_add(y)),
            (x, y) => x.or(y),
        };
        a.unreachable |= b.unreachable;
    }
}

/// At most 80 characters of `s`, for messages: a 10 MB path must not make a 10 MB warning.
fn short(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}… ({} bytes)", &s[..i], s.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(hits: u64, checksum: &str, taken: Option<u64>) -> SourceFile {
        let mut f = SourceFile::new("a.c");
        f.lines = (1..=3)
            .map(|line| Line {
                line,
                hits: hits.saturating_mul(u64::from(line)),
                checksum: (line == 2).then(|| checksum.to_owned()),
            })
            .collect();
        f.functions = vec![Function {
            name: "main".into(),
            start_line: 1,
            end_line: Some(3),
            hits,
        }];
        f.branches = ["1", "0"]
            .iter()
            .map(|b| Branch {
                line: 2,
                block: 0,
                kind: BranchKind::Normal,
                unreachable: false,
                branch: (*b).into(),
                taken,
            })
            .collect();
        f
    }

    /// The in-place addition of records already held gives what extending and
    /// normalizing gives, warnings included.
    #[test]
    fn adding_the_same_records_in_place_equals_the_general_merge() {
        for (b, checksum, taken) in [
            (file(5, "abc", Some(2)), "abc", None),
            (file(0, "xyz", None), "abc", Some(7)),
            (file(u64::MAX, "abc", Some(u64::MAX)), "abc", Some(1)),
        ] {
            let a = file(3, checksum, taken);
            let mut fast = a.clone();
            let mut fast_warnings = Vec::new();
            assert!(same_records(&fast, &b));
            merge_into(&mut fast, b.clone(), &mut |m| fast_warnings.push(m));

            let mut slow = a.clone();
            let mut slow_warnings = Vec::new();
            slow.lines.extend(b.lines.clone());
            slow.functions.extend(b.functions.clone());
            slow.branches.extend(b.branches.clone());
            slow.normalize(&mut |m| slow_warnings.push(m));
            assert_eq!(fast, slow);
            assert_eq!(fast_warnings, slow_warnings);
        }
        // Another line: the general merge.
        let mut a = file(1, "abc", None);
        let mut b = file(1, "abc", None);
        b.lines.push(Line {
            line: 9,
            hits: 4,
            checksum: None,
        });
        assert!(!same_records(&a, &b));
        merge_into(&mut a, b, &mut |_| {});
        assert_eq!(
            a.lines.iter().map(|l| (l.line, l.hits)).collect::<Vec<_>>(),
            [(1, 2), (2, 4), (3, 6), (9, 4)]
        );
    }

    #[test]
    fn reading_into_an_accumulator_equals_reading_then_merging() {
        let one = b"TN:\nSF:a.c\nFN:1,main\nFNDA:2,main\nDA:1,2\nDA:2,0\nBRDA:2,0,0,1\nBRDA:2,0,1,-\nend_of_record\n";
        let two = b"SF:a.c\nFN:1,main\nFNDA:1,main\nDA:1,1\nDA:2,5\nDA:7,1\nBRDA:2,0,0,-\nBRDA:2,0,1,3\nend_of_record\nSF:b.c\nDA:1,1\nend_of_record\n";
        let mut expected = read(one).unwrap().0;
        assert!(expected.merge(&read(two).unwrap().0).is_empty());
        let mut acc = Accumulator::default();
        assert!(acc.read(one).unwrap().is_empty());
        assert!(acc.read(two).unwrap().is_empty());
        // An input with no block leaves the result as it was.
        assert!(acc.read(b"garbage\n").is_err());
        assert_eq!(acc.finish(), expected);
    }
}
