//! The tolerant tracefile reader: one pass over the lines, one block at a time.

use std::collections::HashMap;

use super::{
    short, Accumulator, Branch, BranchKind, Function, LcovWarning, Line, SourceFile, Tracefile,
};

/// Beyond this many warnings only a count is kept, so that a gigabyte of garbage cannot
/// turn into gigabytes of messages.
const MAX_WARNINGS: usize = 1000;

/// Why a tracefile could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LcovError {
    /// The input starts with the gzip magic: lcov reads `.info.gz`, livecov wants it
    /// decompressed first.
    #[error("the tracefile is gzip-compressed; decompress it first (gunzip or zcat)")]
    Compressed,
    /// No `SF:` block survived: the input is empty or not a tracefile.
    #[error(
        "no valid records found: expected `SF:<path>` … `end_of_record` blocks{}",
        .first_problem.as_ref().map(|p| format!(" (first problem: {p})")).unwrap_or_default()
    )]
    NoRecords {
        /// The first warning, when there was one, to tell what the input looks like.
        first_problem: Option<String>,
    },
}

/// Reads a tracefile. Repeated blocks for one (test name, file) are merged; every line
/// that could not be used gives a warning and the rest is kept.
pub fn read(bytes: &[u8]) -> Result<(Tracefile, Vec<LcovWarning>), LcovError> {
    let mut acc = Accumulator::default();
    let warnings = acc.read(bytes)?;
    Ok((acc.finish(), warnings))
}

impl Accumulator {
    /// Reads one tracefile into the merge result, as [`read`] followed by
    /// [`Tracefile::merge`] would, without building the input's own [`Tracefile`]: each
    /// `SF:` block is merged in as it ends. The result is unchanged when the input has
    /// no usable block (the error says why).
    pub fn read(&mut self, bytes: &[u8]) -> Result<Vec<LcovWarning>, LcovError> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            return Err(LcovError::Compressed);
        }
        let mut r = Reader {
            acc: std::mem::take(self),
            ..Reader::default()
        };
        let result = r.run(bytes);
        *self = r.acc;
        result
    }
}

impl Reader {
    fn run(&mut self, bytes: &[u8]) -> Result<Vec<LcovWarning>, LcovError> {
        let r = self;
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            r.lineno = i + 1;
            r.line(raw);
        }
        if r.block.is_some() {
            r.warn("the input ends inside an SF block (no end_of_record); keeping the block");
            r.close_block();
        }
        if r.suppressed > 0 {
            let n = r.suppressed;
            r.warnings.push(LcovWarning {
                line: None,
                message: format!("{n} more warnings not shown"),
            });
        }
        if r.blocks == 0 {
            return Err(LcovError::NoRecords {
                first_problem: r.warnings.first().map(ToString::to_string),
            });
        }
        Ok(std::mem::take(&mut r.warnings))
    }
}

#[derive(Default)]
struct Reader {
    lineno: usize,
    test_name: String,
    block: Option<Block>,
    /// The open block's path, shortened, for messages.
    path: Option<String>,
    /// The merge result the blocks go into.
    acc: Accumulator,
    /// Blocks of this input merged in.
    blocks: usize,
    warnings: Vec<LcovWarning>,
    suppressed: usize,
    /// Inside a block whose `SF:` was unusable: its records are dropped without a warning
    /// each (the `SF:` line had one).
    skipping: bool,
}

/// The records of the open `SF:` block, before merging.
struct Block {
    file: SourceFile,
    /// Function name to its index in `file.functions`, so `FNDA` finds its `FN`.
    by_name: HashMap<String, usize>,
    /// `FNL` groups: index to (start, end).
    groups: HashMap<u64, (u32, Option<u32>)>,
    /// `FNDA` counts for names this block has no `FN` for (an earlier block may).
    orphans: Vec<(usize, String, u64)>,
    /// Whether the block's MC/DC records were reported (once per block, not per record).
    mcdc_reported: bool,
}

impl Reader {
    fn warn(&mut self, message: impl Into<String>) {
        if self.warnings.len() >= MAX_WARNINGS {
            self.suppressed += 1;
            return;
        }
        let message = message.into();
        let message = match &self.path {
            Some(p) => format!("SF:{p}: {message}"),
            None => message,
        };
        self.warnings.push(LcovWarning {
            line: Some(self.lineno),
            message,
        });
    }

    fn line(&mut self, raw: &[u8]) {
        let text = match std::str::from_utf8(raw) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => {
                self.warn("not UTF-8; invalid bytes replaced with U+FFFD");
                String::from_utf8_lossy(raw)
            }
        };
        // ASCII whitespace only, as lcov's Perl `\s` without a Unicode locale.
        let line = text.trim_ascii();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        // Most lines are DA lines of an open block.
        if let Some(value) = line.strip_prefix("DA:") {
            if let Some(mut b) = self.block.take() {
                self.da(&mut b, value);
                self.block = Some(b);
                return;
            }
        }
        if line == "end_of_record" {
            if self.block.is_none() && !std::mem::take(&mut self.skipping) {
                self.warn("end_of_record outside an SF block; ignored");
            }
            self.close_block();
            return;
        }
        let Some((key, value)) = line.split_once(':') else {
            self.warn(format!(
                "expected a record `<KEY>:<value>` or end_of_record, found {:?}; skipped",
                short(line)
            ));
            return;
        };
        match key {
            "TN" => {
                if self.block.is_some() {
                    self.warn("TN inside an SF block; it applies from the next block on");
                }
                self.test_name = self.clean(value.trim_ascii(), "test name");
            }
            "SF" | "KF" => {
                self.skipping = false;
                if self.block.is_some() {
                    self.warn("SF before end_of_record; closing the previous block");
                    self.close_block();
                }
                if value.is_empty() {
                    self.warn("SF with an empty path; skipping records up to end_of_record");
                    self.skipping = true;
                    return;
                }
                let path = self.clean(value, "path");
                self.path = Some(short(&path));
                self.block = Some(Block {
                    file: SourceFile {
                        test_name: self.test_name.clone(),
                        path,
                        ..SourceFile::default()
                    },
                    by_name: HashMap::new(),
                    groups: HashMap::new(),
                    orphans: Vec::new(),
                    mcdc_reported: false,
                });
            }
            _ => {
                let Some(mut b) = self.block.take() else {
                    if self.skipping {
                        return;
                    }
                    return self.warn(format!(
                        "{} record outside an SF block; skipped",
                        short(key)
                    ));
                };
                self.record(&mut b, key, value, line);
                self.block = Some(b);
            }
        }
    }

    fn record(&mut self, b: &mut Block, key: &str, value: &str, line: &str) {
        match key {
            "VER" => b.file.version = Some(self.clean(value, "version")),
            "DA" => self.da(b, value),
            "FN" => self.fn_record(b, value),
            "FNDA" => self.fnda(b, value),
            "FNL" => self.fnl(b, value),
            "FNA" => self.fna(b, value),
            "BRDA" => self.brda(b, value),
            "LF" | "LH" | "FNF" | "FNH" | "BRF" | "BRH" | "MCF" | "MCH" => {
                if value.trim_ascii().parse::<u64>().is_err() {
                    self.warn(format!(
                        "expected `{key}:<count>`, found {:?}; ignored (totals are recomputed)",
                        short(line)
                    ));
                }
            }
            "MCDC" => {
                if !std::mem::replace(&mut b.mcdc_reported, true) {
                    self.warn(
                        "MCDC (MC/DC) records are not supported yet; this block's are skipped",
                    );
                }
            }
            _ => self.warn(format!(
                "unknown record {:?}; skipped (lcov 2.x would stop with a format error)",
                short(key)
            )),
        }
    }

    /// Replaces control characters, as coverage.py does, so every name can be written back.
    fn clean(&mut self, s: &str, what: &str) -> String {
        if !s.chars().any(char::is_control) {
            return s.to_owned();
        }
        self.warn(format!(
            "{what} holds control characters; replaced with '?'"
        ));
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    }

    fn close_block(&mut self) {
        let Some(mut b) = self.block.take() else {
            return;
        };
        self.path = None;
        let mut warnings = Vec::new();
        let mut warn = |m: String| warnings.push(m);
        b.file.normalize(&mut warn);
        let i = self.acc.add_file(b.file, &mut warn);
        self.blocks += 1;
        for m in warnings {
            self.warn(m);
        }
        if b.orphans.is_empty() {
            return;
        }
        let file = &mut self.acc.tracefile.files[i];
        let by_name: HashMap<&str, usize> = file
            .functions
            .iter()
            .enumerate()
            .map(|(k, f)| (f.name.as_str(), k))
            .collect();
        let mut missing = Vec::new();
        let mut found = Vec::new();
        for (lineno, name, hits) in b.orphans {
            match by_name.get(name.as_str()) {
                Some(&k) => found.push((k, hits)),
                None => missing.push((lineno, name)),
            }
        }
        for (k, hits) in found {
            let f = &mut file.functions[k];
            f.hits = f.hits.saturating_add(hits);
        }
        let path = short(&file.path);
        for (lineno, name) in missing {
            self.lineno = lineno;
            self.warn(format!(
                "SF:{path}: FNDA for {:?}, which has no FN record; dropped",
                short(&name)
            ));
        }
    }

    fn da(&mut self, b: &mut Block, value: &str) {
        const SYNTAX: &str = "`DA:<line>,<count>[,<checksum>]`";
        let mut parts = value.splitn(3, ',');
        let (Some(line), Some(count)) = (parts.next(), parts.next()) else {
            return self.bad(SYNTAX, value, "missing the count");
        };
        let Some(line) = self.line_no(SYNTAX, line) else {
            return;
        };
        let Some(hits) = self.count(SYNTAX, count) else {
            return;
        };
        let checksum = parts
            .next()
            .map(str::trim_ascii)
            .filter(|c| !c.is_empty())
            .map(|c| self.clean(c, "checksum"));
        b.file.lines.push(Line {
            line,
            hits,
            checksum,
        });
    }

    fn fn_record(&mut self, b: &mut Block, value: &str) {
        const SYNTAX: &str = "`FN:<start line>,[<end line>,]<name>`";
        let Some((start, rest)) = value.split_once(',') else {
            return self.bad(SYNTAX, value, "missing the name");
        };
        let Some(start_line) = self.line_no(SYNTAX, start) else {
            return;
        };
        // The end line exists in 2.x only; a name cannot start with a digit in any language
        // that writes LCOV, so digits then a comma are an end line.
        let (end_line, name) = match rest.split_once(',') {
            Some((end, name))
                if !end.trim_ascii().is_empty()
                    && end.trim_ascii().bytes().all(|b| b.is_ascii_digit()) =>
            {
                let Some(end) = self.line_no(SYNTAX, end) else {
                    return;
                };
                (Some(end), name)
            }
            _ => (None, rest),
        };
        let f = Function {
            name: name.to_owned(),
            start_line,
            end_line,
            hits: 0,
        };
        self.add_function(b, SYNTAX, value, f);
    }

    /// Adds `f` to the block; its name is checked and cleaned here. `syntax` and `value`
    /// are for the message when it is rejected.
    fn add_function(&mut self, b: &mut Block, syntax: &str, value: &str, mut f: Function) {
        if f.name.is_empty() {
            return self.bad(syntax, value, "empty function name");
        }
        f.name = self.clean(&f.name, "function name");
        if f.end_line.is_some_and(|e| e < f.start_line) {
            self.warn(format!(
                "function {}: end line {} is before start line {}; end line dropped",
                short(&f.name),
                f.end_line.unwrap_or_default(),
                f.start_line
            ));
            f.end_line = None;
        }
        // A name seen before in this block (an inline function of a header, seen from two
        // objects) is pushed again all the same: normalize merges the two, and FNDA adds to
        // the first.
        if !b.by_name.contains_key(&f.name) {
            b.by_name.insert(f.name.clone(), b.file.functions.len());
        }
        b.file.functions.push(f);
    }

    fn fnda(&mut self, b: &mut Block, value: &str) {
        const SYNTAX: &str = "`FNDA:<count>,<name>`";
        let Some((count, name)) = value.split_once(',') else {
            return self.bad(SYNTAX, value, "missing the name");
        };
        let Some(hits) = self.count(SYNTAX, count) else {
            return;
        };
        if name.is_empty() {
            return self.bad(SYNTAX, value, "empty function name");
        }
        let name = self.clean(name, "function name");
        let lineno = self.lineno;
        match b.by_name.get(&name) {
            Some(&i) => {
                let f = &mut b.file.functions[i];
                f.hits = f.hits.saturating_add(hits);
            }
            None => b.orphans.push((lineno, name, hits)),
        }
    }

    fn fnl(&mut self, b: &mut Block, value: &str) {
        const SYNTAX: &str = "`FNL:<index>,<start line>[,<end line>]`";
        let mut parts = value.split(',');
        let (Some(index), Some(start)) = (parts.next(), parts.next()) else {
            return self.bad(SYNTAX, value, "missing the start line");
        };
        let Ok(index) = index.trim_ascii().parse::<u64>() else {
            return self.bad(SYNTAX, value, "the index is not a number");
        };
        let Some(start) = self.line_no(SYNTAX, start) else {
            return;
        };
        let end = match parts.next() {
            None => None,
            Some(e) => match self.line_no(SYNTAX, e) {
                Some(e) => Some(e),
                None => return,
            },
        };
        if b.groups.insert(index, (start, end)).is_some() {
            self.warn(format!(
                "FNL:{}: index {index} repeated; the last wins",
                short(value)
            ));
        }
    }

    fn fna(&mut self, b: &mut Block, value: &str) {
        const SYNTAX: &str = "`FNA:<index>,<count>,<name>`";
        let mut parts = value.splitn(3, ',');
        let (Some(index), Some(count), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            return self.bad(SYNTAX, value, "missing a field");
        };
        let Ok(index) = index.trim_ascii().parse::<u64>() else {
            return self.bad(SYNTAX, value, "the index is not a number");
        };
        let Some(&(start, end)) = b.groups.get(&index) else {
            return self.bad(SYNTAX, value, "no FNL record with this index before it");
        };
        let Some(hits) = self.count(SYNTAX, count) else {
            return;
        };
        let f = Function {
            name: name.to_owned(),
            start_line: start,
            end_line: end,
            hits,
        };
        self.add_function(b, SYNTAX, value, f);
    }

    fn brda(&mut self, b: &mut Block, value: &str) {
        const SYNTAX: &str = "`BRDA:<line>,[e|f][U]<block>,<branch>,<taken|->`";
        // The branch id may contain commas: taken is after the last one.
        let Some((line, rest)) = value.split_once(',') else {
            return self.bad(SYNTAX, value, "missing fields");
        };
        let Some((block, rest)) = rest.split_once(',') else {
            return self.bad(SYNTAX, value, "missing fields");
        };
        let Some((branch, taken)) = rest.rsplit_once(',') else {
            return self.bad(SYNTAX, value, "missing fields");
        };
        let Some(line) = self.line_no(SYNTAX, line) else {
            return;
        };
        let mut block = block.trim_ascii();
        let kind = if let Some(b) = block.strip_prefix('e') {
            block = b;
            BranchKind::Exception
        } else if let Some(b) = block.strip_prefix('f') {
            block = b;
            BranchKind::Fallthrough
        } else {
            BranchKind::Normal
        };
        let unreachable = match block.strip_prefix('U') {
            Some(b) => {
                block = b;
                true
            }
            None => false,
        };
        let Ok(block) = block.parse::<u32>() else {
            return self.bad(SYNTAX, value, "the block id is not a number");
        };
        if branch.is_empty() {
            return self.bad(SYNTAX, value, "empty branch id");
        }
        let taken = match taken.trim_ascii() {
            "-" => None,
            t => match self.count(SYNTAX, t) {
                Some(n) => Some(n),
                None => return,
            },
        };
        let branch = self.clean(branch, "branch id");
        b.file.branches.push(Branch {
            line,
            block,
            kind,
            unreachable,
            branch,
            taken,
        });
    }

    fn bad(&mut self, syntax: &str, value: &str, reason: &str) {
        self.warn(format!(
            "{reason}: expected {syntax}, found {:?}; skipped",
            short(value)
        ));
    }

    /// A 1-based line number that fits 32 bits.
    fn line_no(&mut self, syntax: &str, s: &str) -> Option<u32> {
        let s = s.trim_ascii();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            self.bad(syntax, s, "the line number is not a number");
            return None;
        }
        match s.parse::<u32>() {
            Ok(0) => {
                self.bad(syntax, s, "line 0 (lines start at 1)");
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                self.bad(syntax, s, "the line number does not fit 32 bits");
                None
            }
        }
    }

    /// An execution count. Beyond `u64::MAX` it saturates, below zero it is clamped to 0
    /// (lcov 2.x does the same when told to ignore the error), and a float (Perl may print
    /// one) is truncated: each with a warning.
    fn count(&mut self, syntax: &str, s: &str) -> Option<u64> {
        let s = s.trim_ascii();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.warn(format!(
                        "count {} exceeds 64 bits; saturated to {}",
                        short(s),
                        u64::MAX
                    ));
                    Some(u64::MAX)
                }
            };
        }
        let looks_numeric = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
        match s.parse::<f64>() {
            Ok(f) if looks_numeric && f.is_finite() => {
                if f < 0.0 {
                    self.warn(format!("negative count {}; clamped to 0", short(s)));
                    Some(0)
                } else {
                    // `as` saturates at u64::MAX.
                    let n = f as u64;
                    if f.fract() != 0.0 || f >= u64::MAX as f64 {
                        self.warn(format!("count {} is not an integer; read as {n}", short(s)));
                    }
                    Some(n)
                }
            }
            _ => {
                self.bad(syntax, s, "the count is not a number");
                None
            }
        }
    }
}
