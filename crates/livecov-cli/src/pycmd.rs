//! `livecov py …`: commands for coverage.py data. One variant per command in
//! [`PyCommand`]; each command's flags and glue live beside it here (or in a module of
//! its own when they grow).

use std::path::PathBuf;

use anyhow::{Context, Result};
use livecov_ops::pypaths::{explain_paths, ExplainPathsSettings};

use crate::exit::Exit;

/// `livecov py …`.
#[derive(clap::Subcommand, Debug)]
pub enum PyCommand {
    /// Show what coverage.py's [paths] remapping does with the paths recorded in data
    /// files: every rule (configured and generated), every path it mapped and by which
    /// rule (with the rules that matched but whose result does not exist), and every
    /// path that matched nothing.
    ///
    /// Paths are mapped as `coverage combine` maps them, in its order, checking on this
    /// machine that each result exists (run it where you would run the combine).
    ExplainPaths(ExplainPathsArgs),
}

/// Flags of `livecov py explain-paths`.
#[derive(clap::Args, Debug)]
pub struct ExplainPathsArgs {
    /// Data files, or directories to search for `.coverage.*` (as `coverage combine`
    /// does); none: `.coverage` and `.coverage.*` of the current directory.
    pub data: Vec<PathBuf>,
    /// The coverage.py configuration to read [paths] and [run] relative_files from
    /// (.coveragerc, setup.cfg, tox.ini or pyproject.toml). Default: $COVERAGE_RCFILE,
    /// else the first of those in the current directory that configures coverage.py.
    #[arg(long, value_name = "FILE")]
    pub rcfile: Option<PathBuf>,
    /// A [paths] entry, after the configuration's: the canonical result, then its
    /// patterns, comma-separated, e.g. `--paths src/,/app/src,*/site-packages`
    /// (repeatable; first result wins, as in coverage.py).
    #[arg(long = "paths", value_name = "RESULT,PATTERN...")]
    pub paths: Vec<String>,
    /// Map as with `[run] relative_files = true` (overrides the configuration).
    #[arg(long)]
    pub relative_files: bool,
}

/// Runs a `livecov py` command.
pub fn run(command: &PyCommand) -> Result<Exit> {
    match command {
        PyCommand::ExplainPaths(args) => explain(args),
    }
}

fn explain(args: &ExplainPathsArgs) -> Result<Exit> {
    let settings = ExplainPathsSettings {
        data: args.data.clone(),
        rcfile: args.rcfile.clone(),
        paths: args
            .paths
            .iter()
            .map(|p| {
                p.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect(),
        relative_files: args.relative_files.then_some(true),
        cwd: std::env::current_dir().context("the current directory")?,
    };
    let out = explain_paths(&settings)?;
    match &out.config {
        Some(c) => println!("config: {}", c.display()),
        None => println!("config: none found"),
    }
    println!("relative_files: {}", out.relative_files);
    for f in &out.files {
        println!("data file: {}", f.display());
    }
    print!("{}", out.explanation);
    println!(
        "{} paths mapped, {} matched nothing",
        out.explanation.mapped.len(),
        out.explanation.unmatched.len()
    );
    for e in &out.errors {
        eprintln!("error: {e}");
    }
    Ok(if out.errors.is_empty() {
        Exit::Ok
    } else {
        Exit::Error
    })
}
