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
        let mut warnings = Vec::new();
        let mut index: HashMap<(String, String), usize> = self
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| ((f.test_name.clone(), f.path.clone()), i))
            .collect();
        for f in &other.files {
            let key = (f.test_name.clone(), f.path.clone());
            match index.get(&key) {
                Some(&i) => merge_into(&mut self.files[i], f.clone(), &mut |m| {
                    warnings.push(LcovWarning {
                        line: None,
                        message: m,
                    })
                }),
                None => {
                    index.insert(key, self.files.len());
                    self.files.push(f.clone());
                }
            }
        }
        warnings
    }
}

/// Merges `from` into `into` (same test name and path).
fn merge_into(into: &mut SourceFile, from: SourceFile, warn: &mut dyn FnMut(String)) {
    if into.version.is_none() {
        into.version = from.version;
    } else if from.version.is_some() && from.version != into.version {
        warn(format!(
            "SF:{}: source version {:?} differs from {:?} seen before; keeping the first",
            short(&into.path),
            from.version.unwrap_or_default(),
            into.version.clone().unwrap_or_default()
        ));
    }
    into.lines.extend(from.lines);
    into.functions.extend(from.functions);
    into.branches.extend(from.branches);
    into.normalize(warn);
}

/// At most 80 characters of `s`, for messages: a 10 MB path must not make a 10 MB warning.
fn short(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}… ({} bytes)", &s[..i], s.len()),
    }
}
