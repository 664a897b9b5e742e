//! `livecov lcov merge`: adds LCOV tracefiles together as `lcov -a` does (counts of the
//! same test name, file and line add up) and writes one tracefile.
//!
//! Memory is bounded by the largest input, not the sum: each worker thread reads one
//! input at a time and parses it straight into its own running result
//! ([`lcov::Accumulator`]), which holds one record per distinct (test, file, line,
//! branch, function); an input's parsed form is never held beside it, and a block with
//! the records already held only adds counts in place. The workers' results are merged
//! at the end.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use livecov_formats::lcov::{self, Tracefile};
use rayon::prelude::*;

/// What to merge.
#[derive(Clone, Debug, Default)]
pub struct LcovMergeSettings {
    /// The tracefiles, in order.
    pub inputs: Vec<PathBuf>,
    /// Where the merged tracefile goes; `None`: not written (check the inputs only).
    pub output: Option<PathBuf>,
    /// Write function end lines (lcov 2.x `FN:start,end,name`).
    pub function_end_lines: bool,
}

/// What [`lcov_merge`] did.
#[derive(Debug, Default)]
pub struct LcovMerged {
    /// The merged tracefile.
    pub tracefile: Tracefile,
    /// Inputs merged.
    pub merged: usize,
    /// Inputs that could not be read or held no records, each message naming the file.
    pub errors: Vec<String>,
    /// Records skipped or values clamped, each naming the file and line.
    pub warnings: Vec<String>,
}

#[derive(Default)]
struct Acc {
    merged_files: lcov::Accumulator,
    merged: usize,
    errors: Vec<(usize, String)>,
    warnings: Vec<(usize, String)>,
}

impl Acc {
    /// Reads one input straight into the running result: only its text is held beside
    /// the result, never its parsed form.
    fn add(mut self, index: usize, path: &Path) -> Acc {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.errors
                    .push((index, format!("{}: {e}", path.display())));
                return self;
            }
        };
        match self.merged_files.read(&bytes) {
            Err(e) => self
                .errors
                .push((index, format!("{}: {e}", path.display()))),
            Ok(warnings) => {
                self.warnings.extend(
                    warnings
                        .into_iter()
                        .map(|w| (index, format!("{}: {w}", path.display()))),
                );
                self.merged += 1;
            }
        }
        self
    }

    fn join(mut self, other: Acc) -> Acc {
        let at = other.errors.first().map_or(0, |e| e.0);
        let w = self.merged_files.join(other.merged_files);
        self.warnings
            .extend(w.into_iter().map(|w| (at, w.to_string())));
        self.merged += other.merged;
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
        self
    }
}

/// Reads and merges the inputs (in parallel, one input per worker at a time) and writes
/// the result when `output` is set. Unreadable inputs are reported and the rest merged.
pub fn lcov_merge(s: &LcovMergeSettings) -> Result<LcovMerged> {
    // One run of consecutive inputs per thread, each folded sequentially: at most one
    // running result and one input per thread are alive (a plain `par_iter().fold` splits
    // into many more runs, each holding its own result until the reduce).
    let per_thread = s
        .inputs
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(1);
    let acc = s
        .inputs
        .par_chunks(per_thread)
        .enumerate()
        .map(|(c, chunk)| {
            chunk
                .iter()
                .enumerate()
                .fold(Acc::default(), |acc, (i, p)| acc.add(c * per_thread + i, p))
        })
        .reduce(Acc::default, Acc::join);
    let tracefile = acc.merged_files.finish();
    let mut errors = acc.errors;
    errors.sort_by_key(|e| e.0);
    let mut warnings = acc.warnings;
    warnings.sort_by_key(|w| w.0);
    if let Some(out) = &s.output {
        let file = std::fs::File::create(out)
            .with_context(|| format!("creating the merged tracefile {}", out.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        lcov::LcovWriter::new()
            .function_end_lines(s.function_end_lines)
            .write(&tracefile, &mut w)
            .and_then(|()| std::io::Write::flush(&mut w))
            .with_context(|| format!("writing the merged tracefile {}", out.display()))?;
    }
    Ok(LcovMerged {
        tracefile,
        merged: acc.merged,
        errors: errors.into_iter().map(|e| e.1).collect(),
        warnings: warnings.into_iter().map(|w| w.1).collect(),
    })
}
