//! The tracefile writer.

use std::io::{self, Write};

use super::{BranchKind, SourceFile, Tracefile};

/// Writes tracefiles. Build one with [`LcovWriter::new`], set options, then call
/// [`LcovWriter::write`].
///
/// The output follows lcov 2.x's grammar with lcov 1.x's record order (`FN`… `FNDA`…
/// `FNF` `FNH` `BRDA`… `BRF` `BRH` `DA`… `LF` `LH`), integer counts only, and totals that
/// agree with the detail records, so `lcov --summary`, `genhtml`, Codecov and Coveralls all
/// read it. Files are written in the tracefile's order, each record list in its canonical
/// order.
#[derive(Clone, Debug)]
pub struct LcovWriter {
    function_end_lines: bool,
}

impl Default for LcovWriter {
    fn default() -> Self {
        LcovWriter::new()
    }
}

impl LcovWriter {
    /// A writer with the default options.
    pub fn new() -> LcovWriter {
        LcovWriter {
            function_end_lines: true,
        }
    }

    /// Whether `FN` records carry the end line when one is known (`FN:<start>,<end>,<name>`,
    /// lcov ≥ 2.0). lcov 1.x misreads that form, taking the end line for the name; turn this
    /// off for 1.x consumers (`FN:<start>,<name>`). Default: `true`.
    pub fn function_end_lines(&mut self, yes: bool) -> &mut LcovWriter {
        self.function_end_lines = yes;
        self
    }

    /// Writes `tracefile` to `out`. Names are written as they are: the reader only returns
    /// names without control characters, which is what keeps a record on one line.
    pub fn write(&self, tracefile: &Tracefile, out: &mut impl Write) -> io::Result<()> {
        let mut buf = Vec::with_capacity(64 * 1024);
        for f in &tracefile.files {
            self.file(f, &mut buf)?;
            if buf.len() >= 60 * 1024 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        out.write_all(&buf)
    }

    fn file(&self, f: &SourceFile, out: &mut Vec<u8>) -> io::Result<()> {
        // lcov 1.x always writes a TN line; an empty one is the default test.
        writeln!(out, "TN:{}", f.test_name)?;
        writeln!(out, "SF:{}", f.path)?;
        if let Some(v) = &f.version {
            writeln!(out, "VER:{v}")?;
        }
        // A name that starts like an end line (`12,x`) cannot follow a two-field `FN`: such a
        // function is written as an lcov 2.2 `FNL`/`FNA` pair instead, which reads back
        // unchanged.
        let (odd, plain): (Vec<_>, Vec<_>) =
            f.functions.iter().enumerate().partition(|(_, func)| {
                let two_fields = func.end_line.is_none() || !self.function_end_lines;
                two_fields && looks_like_end_line(&func.name)
            });
        for (_, func) in &plain {
            match func.end_line {
                Some(end) if self.function_end_lines => {
                    writeln!(out, "FN:{},{end},{}", func.start_line, func.name)?
                }
                _ => writeln!(out, "FN:{},{}", func.start_line, func.name)?,
            }
        }
        for (_, func) in &plain {
            writeln!(out, "FNDA:{},{}", func.hits, func.name)?;
        }
        for (i, func) in &odd {
            match func.end_line {
                Some(end) => writeln!(out, "FNL:{i},{},{end}", func.start_line)?,
                None => writeln!(out, "FNL:{i},{}", func.start_line)?,
            }
            writeln!(out, "FNA:{i},{},{}", func.hits, func.name)?;
        }
        if !f.functions.is_empty() {
            writeln!(out, "FNF:{}", f.functions_found())?;
            writeln!(out, "FNH:{}", f.functions_hit())?;
        }
        for b in &f.branches {
            let kind = match b.kind {
                BranchKind::Normal => "",
                BranchKind::Exception => "e",
                BranchKind::Fallthrough => "f",
            };
            let unreachable = if b.unreachable { "U" } else { "" };
            write!(
                out,
                "BRDA:{},{kind}{unreachable}{},{},",
                b.line, b.block, b.branch
            )?;
            match b.taken {
                Some(t) => writeln!(out, "{t}")?,
                None => writeln!(out, "-")?,
            }
        }
        if !f.branches.is_empty() {
            writeln!(out, "BRF:{}", f.branches_found())?;
            writeln!(out, "BRH:{}", f.branches_hit())?;
        }
        for l in &f.lines {
            match &l.checksum {
                Some(c) => writeln!(out, "DA:{},{},{c}", l.line, l.hits)?,
                None => writeln!(out, "DA:{},{}", l.line, l.hits)?,
            }
        }
        writeln!(out, "LF:{}", f.lines_found())?;
        writeln!(out, "LH:{}", f.lines_hit())?;
        writeln!(out, "end_of_record")
    }
}

/// Whether the reader would take the start of `name` for an end line.
fn looks_like_end_line(name: &str) -> bool {
    name.split_once(',').is_some_and(|(head, _)| {
        let head = head.trim();
        !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Writes `tracefile` with the default [`LcovWriter`] options.
pub fn write(tracefile: &Tracefile, out: &mut impl Write) -> io::Result<()> {
    LcovWriter::new().write(tracefile, out)
}
