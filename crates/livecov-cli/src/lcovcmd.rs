//! `livecov lcov …`: commands for LCOV tracefiles. One variant per command in
//! [`LcovCommand`].

use std::path::PathBuf;

use anyhow::Result;
use livecov_ops::lcovmerge::{lcov_merge, LcovMergeSettings};

use crate::exit::Exit;

/// `livecov lcov …` commands.
#[derive(clap::Subcommand, Debug)]
pub enum LcovCommand {
    /// Add LCOV tracefiles together, as `lcov -a A -a B -o OUT` does: the counts of the
    /// same test name, source file and line (function, branch) add up; everything else
    /// is kept. Reads lcov 1.x and 2.x, llvm-cov and coverage.py output; a record it
    /// cannot use is skipped with a warning naming the file and line, and an unreadable
    /// input is reported while the others are still merged (exit status 2).
    ///
    /// Inputs are read in parallel, one at a time per thread, so memory follows the
    /// largest input and the merged result, not the sum of the inputs.
    Merge(MergeArgs),
}

/// Flags of `livecov lcov merge`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
livecov lcov merge -o all.info unit.info integration.info\n  \
livecov lcov merge --no-function-end-lines -o all.info cov/*.info   # for lcov 1.x readers")]
pub struct MergeArgs {
    /// The tracefiles to merge (`.info`, `.lcov`; not gzip-compressed).
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where to write the merged tracefile.
    #[arg(short = 'o', long, value_name = "OUT.info")]
    pub output: PathBuf,
    /// Write `FN:<start>,<name>` (lcov 1.x) instead of `FN:<start>,<end>,<name>` (lcov
    /// 2.x), which lcov 1.x misreads.
    #[arg(long)]
    pub no_function_end_lines: bool,
    /// Print every warning (default: the first 20 and a count).
    #[arg(long)]
    pub all_warnings: bool,
}

/// Runs a `livecov lcov` command.
pub fn run(command: &LcovCommand) -> Result<Exit> {
    match command {
        LcovCommand::Merge(args) => merge(args),
    }
}

fn merge(args: &MergeArgs) -> Result<Exit> {
    let settings = LcovMergeSettings {
        inputs: args.inputs.clone(),
        output: Some(args.output.clone()),
        function_end_lines: !args.no_function_end_lines,
    };
    let out = lcov_merge(&settings)?;
    let shown = if args.all_warnings { usize::MAX } else { 20 };
    for w in out.warnings.iter().take(shown) {
        eprintln!("warning: {w}");
    }
    if out.warnings.len() > shown {
        eprintln!(
            "warning: {} more warnings (--all-warnings shows them)",
            out.warnings.len() - shown
        );
    }
    for e in &out.errors {
        eprintln!("error: {e}");
    }
    eprintln!(
        "merged {} of {} tracefiles ({} source files) into {}",
        out.merged,
        args.inputs.len(),
        out.tracefile.files.len(),
        args.output.display()
    );
    Ok(if out.errors.is_empty() {
        Exit::Ok
    } else {
        Exit::Error
    })
}
