//! `livecov py …`: livecov's Python agent (coverage.py plus a coverage server) for
//! running Python services, and commands for coverage.py data. One variant per command
//! in [`PyCommand`]; each command's flags and glue live beside it here.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use livecov_ops::pyagent::{inject_py, Harvest, PyInjectSettings, HARVESTER_PORT};
use livecov_ops::pycombine::{py_combine, write_json};
use livecov_ops::pypaths::{explain_paths, PyDataSettings};

use crate::exit::Exit;

/// `livecov py …` commands.
#[derive(clap::Subcommand, Debug)]
pub enum PyCommand {
    /// Turn the Python agent on for docker-compose services without changing their images.
    ///
    /// Writes the agent (DIR/agent/: sitecustomize.py and livecov_agent.py), its
    /// environment (DIR/livecov.env) and a compose overlay (docker-compose.livecov.yml)
    /// that mounts the agent into each SERVICE, puts it on PYTHONPATH and sets
    /// LIVECOV_PYTHON=1, so coverage.py starts with the interpreter and the agent serves
    /// or pushes its snapshots. Use the overlay over the project's own file:
    /// `docker compose -f docker-compose.yml -f docker-compose.livecov.yml up -d`.
    ///
    /// By default the services push to `livecov collect --listen 0.0.0.0:8431` on the
    /// host (through host.docker.internal) with a token from DIR/token, and push a last
    /// snapshot when stopped. --scrape publishes each agent's port on 127.0.0.1 instead.
    /// coverage.py must be importable in the services: installed in the images, or
    /// `pip install --target DIR coverage` given with --coverage-dir.
    Inject(InjectArgs),
    /// Show what coverage.py's [paths] remapping does with the paths recorded in data
    /// files: every rule (configured and generated), every path it mapped and by which
    /// rule (with the rules that matched but whose result does not exist), and every
    /// path that matched nothing.
    ///
    /// Paths are mapped as `coverage combine` maps them, in its order, checking on this
    /// machine that each result exists (run it where you would run the combine).
    ExplainPaths(ExplainPathsArgs),
    /// Combine coverage.py data files (parallel-mode `.coverage.*`) natively, as
    /// `coverage combine` does, with the same [paths] remapping, and print (or write
    /// with -o) the measured lines and, in branch mode, arcs of every file as JSON:
    /// `{"measurement": "lines"|"arcs", "files": {PATH: {"executed_lines": [...],
    /// "arcs": [[FROM, TO], ...]}}}`, sorted, unioned over contexts; the same sets
    /// coverage.py's CoverageData.lines() and .arcs() return after `coverage combine`.
    ///
    /// The inputs are only read (never deleted or changed). Unreadable inputs are
    /// reported naming the file and the rest combined (exit status 2).
    Combine(CombineArgs),
}

/// Flags of `livecov py inject`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
livecov py inject web worker\n  \
livecov py inject --coverage-dir ./covpy --source-root /app --pythonpath /app web\n  \
livecov py inject --scrape web   # then: livecov collect --collection run1 --scan 127.0.0.1")]
pub struct InjectArgs {
    /// The compose services (as named in docker-compose.yml) to turn the agent on for.
    #[arg(value_name = "SERVICE", required = true)]
    pub services: Vec<String>,

    /// Where the agent files, livecov.env and the push token go.
    #[arg(long, value_name = "DIR", default_value = "livecov")]
    pub dir: PathBuf,

    /// The overlay file to write; relative paths in it are relative to its directory,
    /// which must be the compose project's (where docker-compose.yml is).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "docker-compose.livecov.yml"
    )]
    pub overlay: PathBuf,

    /// Publish each service's agent port on 127.0.0.1 (from --first-port on, in the
    /// order given) for `livecov collect --scan 127.0.0.1`, instead of pushing.
    #[arg(long)]
    pub scrape: bool,

    /// With --scrape: the first host port.
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 53700,
        requires = "scrape"
    )]
    pub first_port: u16,

    /// Push to this URL (a `livecov collect --listen` the services can reach) instead of
    /// the host's port 8431.
    #[arg(long, value_name = "URL", conflicts_with_all = ["scrape", "harvester_image"])]
    pub push_url: Option<String>,

    /// Add a `livecov-harvester` service running `livecov collect --listen` from this
    /// image (one that holds the livecov binary) and push to it.
    #[arg(long, value_name = "IMAGE", conflicts_with = "scrape")]
    pub harvester_image: Option<String>,

    /// The harvester's collection directory (printed in the next steps; bind-mounted
    /// with --harvester-image).
    #[arg(long, value_name = "DIR", default_value = "livecov-collection")]
    pub collection: PathBuf,

    /// Seconds between pushes.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub push_interval: u64,

    /// A host directory holding coverage.py (`pip install --target DIR coverage`),
    /// mounted into the services and put on PYTHONPATH, for images without coverage.py.
    #[arg(long, value_name = "DIR")]
    pub coverage_dir: Option<PathBuf>,

    /// A PYTHONPATH entry the images need (repeatable): the overlay's PYTHONPATH
    /// replaces the image's own.
    #[arg(long, value_name = "PATH")]
    pub pythonpath: Vec<String>,

    /// Measure only this directory or package (coverage.py's `source`; repeatable).
    #[arg(long, value_name = "DIR|PKG")]
    pub source: Vec<String>,

    /// The directory the services' sources live under (e.g. /app), recorded with the
    /// snapshots so compile maps their paths to the repository.
    #[arg(long, value_name = "PATH")]
    pub source_root: Option<String>,

    /// The commit the images were built from (SOURCE_GIT_COMMIT).
    #[arg(long, value_name = "SHA")]
    pub source_commit: Option<String>,

    /// Overwrite an overlay file that exists with other content, and make a new token.
    #[arg(long)]
    pub force: bool,
}

/// The inputs of `livecov py explain-paths` and `livecov py combine`.
#[derive(clap::Args, Debug)]
pub struct PyDataArgs {
    /// Data files, or directories to search for `.coverage.*` (as `coverage combine`
    /// does); none: `.coverage.*` of the current directory (explain-paths also reads
    /// `.coverage`).
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

impl PyDataArgs {
    /// The settings below the command line, for the current directory.
    fn settings(&self) -> Result<PyDataSettings> {
        Ok(PyDataSettings {
            data: self.data.clone(),
            rcfile: self.rcfile.clone(),
            paths: paths_entries(&self.paths),
            relative_files: self.relative_files.then_some(true),
            cwd: std::env::current_dir().context("the current directory")?,
        })
    }
}

/// Flags of `livecov py explain-paths`.
#[derive(clap::Args, Debug)]
pub struct ExplainPathsArgs {
    #[command(flatten)]
    pub inputs: PyDataArgs,
}

/// Flags of `livecov py combine`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
livecov py combine -o combined.json reports/\n  \
livecov py combine --paths src/,/app/src .coverage.host1.1234.Xabc .coverage.host2.99.Xdef")]
pub struct CombineArgs {
    #[command(flatten)]
    pub inputs: PyDataArgs,
    /// Write the JSON to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "OUT.json")]
    pub output: Option<PathBuf>,
    /// The output format (only `json` so far).
    #[arg(long, value_name = "FORMAT", default_value = "json", value_parser = ["json"])]
    pub format: String,
}

/// Runs a `livecov py` command.
pub fn run(command: &PyCommand) -> Result<Exit> {
    match command {
        PyCommand::Inject(args) => inject(args),
        PyCommand::ExplainPaths(args) => explain(args),
        PyCommand::Combine(args) => combine(args),
    }
}

fn inject(args: &InjectArgs) -> Result<Exit> {
    let mut settings = PyInjectSettings::new(args.services.clone());
    settings.dir = args.dir.clone();
    settings.overlay = args.overlay.clone();
    settings.harvest = if args.scrape {
        Harvest::Scrape {
            first_port: args.first_port,
        }
    } else {
        Harvest::Push {
            url: args.push_url.clone(),
            image: args.harvester_image.clone(),
            collection: args.collection.clone(),
            interval_secs: args.push_interval,
        }
    };
    settings.coverage_dir = args.coverage_dir.clone();
    settings.pythonpath = args.pythonpath.clone();
    settings.source = args.source.clone();
    settings.source_root = args.source_root.clone();
    settings.source_commit = args.source_commit.clone();
    settings.force = args.force;
    let summary = inject_py(&settings)?;
    for f in &summary.files {
        println!("wrote {}", f.display());
    }
    println!("\nnext:");
    for step in &summary.next_steps {
        println!("  {step}");
    }
    if !args.scrape && args.harvester_image.is_none() && args.push_url.is_none() {
        println!(
            "\nThe services push to port {HARVESTER_PORT} of the docker host: let it through \
             a host firewall if one is on."
        );
    }
    Ok(Exit::Ok)
}

/// `--paths` values: each a comma-separated [paths] entry.
fn paths_entries(paths: &[String]) -> Vec<Vec<String>> {
    paths
        .iter()
        .map(|p| {
            p.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn combine(args: &CombineArgs) -> Result<Exit> {
    let out = py_combine(&args.inputs.settings()?)?;
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            write_json(&out.data, &mut w)
                .and_then(|()| w.flush())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            write_json(&out.data, &mut w)
                .and_then(|()| w.flush())
                .context("writing standard output")?;
        }
    }
    for w in &out.warnings {
        eprintln!("warning: {w}");
    }
    for e in &out.errors {
        eprintln!("error: {e}");
    }
    eprintln!(
        "combined {} data files ({} skipped as duplicates, {} unreadable): {} files measured",
        out.combined.len(),
        out.skipped.len(),
        out.errors.len(),
        out.data.files().count()
    );
    Ok(if out.errors.is_empty() {
        Exit::Ok
    } else {
        Exit::Error
    })
}

fn explain(args: &ExplainPathsArgs) -> Result<Exit> {
    let out = explain_paths(&args.inputs.settings()?)?;
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
