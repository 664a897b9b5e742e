//! livecov's command line: clap definitions, command glue and exit codes.
//!
//! The binary crate calls [`run`] and nothing else. Commands that must accept another
//! tool's syntax (`livecov go …` takes `go tool covdata` flags) receive their raw
//! arguments and parse them in their own module.
#![deny(missing_docs)]

mod cluster;
mod collect;
mod demo;
mod diff;
mod doctor;
mod exit;
mod export;
mod gocmd;
mod lcovcmd;
mod progress;
mod pycmd;
mod serve;
mod site;
// --- store selection (issue 12) ---
mod store;
// --- history and retention (issue 12) ---
mod storecmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use exit::Exit;

/// livecov: coverage from live processes, keyed by the exact build.
#[derive(Parser, Debug)]
#[command(
    name = "livecov",
    version,
    about = "Coverage from live processes, keyed by the exact build it came from.",
    long_about = "livecov takes the coverage of running Go programs (built with `go build -cover`), \
decodes it natively, keys every reading by its exact build, merges, stores and reports it.\n\n\
Exit status: 0 success, 2 an error or bad usage (the inputs that could be read were still \
processed)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Commands over a cluster collection (download, compile, clone-sources, render).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Collect coverage from running processes (coverage servers) into a collection.
    Collect(collect::CollectArgs),
    /// Report a compiled collection per owner and per build (table or JSON), or write
    /// its coverage in an export format (`--format lcov|cobertura|go|…`, as `export`).
    Report(cluster::report::ReportArgs),
    /// Export the coverage of a collection, a build, an owner or a repo@commit as LCOV,
    /// Cobertura, a Go text profile, SonarQube XML, Codecov JSON, a JSON summary or a
    /// Markdown summary.
    ///
    /// Builds are merged by file path with the rule the collection was compiled with; a
    /// file that differs between builds (other sources) keeps the first build's copy and
    /// the others are reported. Paths are repo-relative where the build's repository is
    /// known (see --paths). Writes to stdout unless -o is given; prints a summary on stderr.
    Export(export::ExportArgs),
    /// Coverage of the lines a change added: patch coverage, per-file uncovered lines,
    /// gates.
    ///
    /// The change is one `git diff -M` from the merge-base of --base and --head (default:
    /// the head's first parent) or a unified diff (--diff). Only added lines the coverage
    /// data has as executable count, and not blank or comment-only ones; removed lines
    /// never count; renamed files are followed. With a collection, the base's data is its
    /// builds at the base commit, or at the nearest ancestor that has builds (the report
    /// says which and why). Exit status: 0 the gates hold (or --informational), 1 a gate
    /// failed, 2 an error.
    Diff(diff::DiffArgs),
    /// What changed between two collections or profiles (A earlier, B later): lines newly
    /// covered and newly uncovered per file, statements per owner and per build; with
    /// the change between them (--base/--head or --diff), files it touched (direct) apart
    /// from the others (indirect).
    Compare(diff::CompareArgs),
    /// Write the HTML site of a collection (`--collection`, like `cluster render`) or a
    /// page for one Go text profile (`--profile`), like `go tool cover -html` but with a
    /// file tree, search, deep links and sources loaded on demand.
    Render(site::LocalRenderArgs),
    /// The sources builds were made from: fetch them, explain the path mapping.
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// Explain why coverage is missing: for a binary, a coverage directory or a server.
    Doctor(doctor::DoctorArgs),
    /// Python: livecov's coverage.py agent for services (inject) and coverage.py data
    /// (explain-paths, combine).
    #[command(subcommand)]
    Py(pycmd::PyCommand),
    /// LCOV tracefiles: merge many into one (as `lcov -a`).
    #[command(subcommand)]
    Lcov(lcovcmd::LcovCommand),
    /// Serve livecov over HTTP: `--webhook`, the GitHub webhook for pull-request
    /// coverage (jobs, commit statuses, one comment per pull request).
    Serve(serve::ServeArgs),
    /// The collections of a store or a directory: list them, prune them by age or count.
    #[command(subcommand)]
    Store(storecmd::StoreCommand),
    /// One subject's coverage across collections, oldest first: the whole collection,
    /// a build (--build), an owner (--owner) or a file (--file), in every collection of a
    /// store or a directory (with --label, those with the labels).
    History(storecmd::HistoryArgs),
    /// Run livecov on real example coverage data shipped in the binary.
    ///
    /// Writes a few pods of coverage data (written by real programs built with
    /// `go build -cover`) as a collection in DIR, compiles it into DIR/livecov.db, prints
    /// the coverage per owner and per build and per package (`livecov go percent`),
    /// fetches the programs' sources from a git repository it makes in DIR, and renders
    /// the HTML site (DIR/html).
    Demo {
        /// Where to write the example data and results.
        #[arg(long, default_value = "livecov-demo")]
        dir: std::path::PathBuf,
    },
    /// A drop-in for `go tool covdata`: textfmt, percent, func, pkglist, merge, debugdump.
    ///
    /// Reads covmeta/covcounters files natively (no Go toolchain needed) and prints
    /// byte-identical output. Same flags as covdata: `livecov go percent -i=dir1,dir2`.
    /// Run `livecov go help` for the commands and `livecov go <command> -h` for flags.
    #[command(disable_help_flag = true)]
    Go {
        /// The covdata command and its flags, in Go's flag syntax.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `livecov cluster …`: the older tool's verbs, natively.
#[derive(Subcommand, Debug)]
enum ClusterCommand {
    Download(cluster::download::DownloadArgs),
    /// Compile every report directory of a collection into its store (livecov.db).
    ///
    /// Decodes Go coverage, coverage.py data files and reports, and LCOV files natively
    /// and in parallel (side by side in one collection), keeps the latest snapshot of each
    /// process, groups processes into owners and merges them. Unchanged inputs are
    /// skipped; inputs that failed are retried on the next run.
    Compile(cluster::compile::CompileArgs),
    /// Write the HTML site of a compiled collection: an index of owner groups and one
    /// page per build, with sources at the exact commit when `clone-sources` fetched them.
    ///
    /// Incremental: a build page is re-rendered only when its inputs, its sources or the
    /// renderer changed. Only files livecov wrote earlier (listed in
    /// `.livecov-manifest.json`) are ever removed. Prints the path of index.html.
    Render(site::RenderArgs),
    /// Fetch the source of every build at its exact commit into a shared git cache.
    ///
    /// One bare repository per remote (HTTPS, SSH `git@host:org/repo`; file://, http://
    /// and git:// with `--allow-local-remotes`); only the commits the builds were made from are
    /// fetched, and files are read straight from git's object database (no checkout). A
    /// commit that cannot be fetched is recorded and shown as such; it is never replaced
    /// by another commit.
    CloneSources(site::FetchArgs),
}

/// `livecov sources …`: the sources builds were made from.
#[derive(Subcommand, Debug)]
enum SourcesCommand {
    /// Fetch every repo@commit a collection needs (same as `cluster clone-sources`).
    Fetch(site::FetchArgs),
    /// Say which rule maps a build's file to which file of which repo@commit, or why
    /// nothing matched.
    Explain(site::ExplainArgs),
}

/// Runs livecov with the process arguments and returns the exit code.
pub fn run() -> ExitCode {
    run_with(std::env::args_os()).into()
}

/// Runs livecov with the given arguments (the first is the program name).
pub fn run_with<I, T>(args: I) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
        }
    };
    match cli.command {
        Command::Go { args } => gocmd::run(&args),
        Command::Cluster(ClusterCommand::Download(args)) => or_error(cluster::download::run(&args)),
        Command::Cluster(ClusterCommand::Compile(args)) => or_error(cluster::compile::run(&args)),
        Command::Report(args) => or_error(cluster::report::run(&args)),
        Command::Export(args) => or_error(export::run(&args)),
        Command::Diff(args) => or_error(diff::run(&args)),
        Command::Compare(args) => or_error(diff::compare(&args)),
        Command::Collect(args) => or_error(collect::run(&args)),
        Command::Py(command) => or_error(pycmd::run(&command)),
        Command::Lcov(command) => or_error(lcovcmd::run(&command)),
        Command::Doctor(args) => doctor::run(&args),
        Command::Render(args) => or_error(site::render(&args)),
        Command::Cluster(ClusterCommand::CloneSources(args))
        | Command::Sources(SourcesCommand::Fetch(args)) => or_error(site::fetch(&args)),
        Command::Sources(SourcesCommand::Explain(args)) => or_error(site::explain(&args)),
        Command::Cluster(ClusterCommand::Render(args)) => or_error(site::render_collection(&args)),
        Command::Serve(args) => or_error(serve::run(&args)),
        Command::Store(command) => or_error(storecmd::run_store(&command)),
        Command::History(args) => or_error(storecmd::run_history(&args)),
        Command::Demo { dir } => demo::run(&dir).unwrap_or_else(|e| {
            eprintln!("error: {e:#}");
            Exit::Error
        }),
    }
}

/// Prints an error chain and maps it to exit status 2.
fn or_error(result: anyhow::Result<Exit>) -> Exit {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        Exit::Error
    })
}
