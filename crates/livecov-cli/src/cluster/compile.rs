//! `livecov cluster compile`: flags into [`livecov_ops::compile::CompileSettings`], the
//! summary onto stderr, the outcome into an exit status.

use std::path::PathBuf;

use anyhow::Result;
use livecov_ops::compile::{CompileSettings, Summary, DEFAULT_EXCLUDES};

use crate::exit::Exit;

/// How processes of one build are combined into an owner's profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MergeRule {
    /// Saturating sum of counts (set mode: OR), like Go.
    Sum,
    /// Element-wise maximum, like the older tool.
    Max,
    /// Covered or not: 1 where any process ran the unit.
    Or,
}

impl From<MergeRule> for livecov_model::MergeRule {
    fn from(r: MergeRule) -> livecov_model::MergeRule {
        match r {
            MergeRule::Sum => livecov_model::MergeRule::Sum,
            MergeRule::Max => livecov_model::MergeRule::Max,
            MergeRule::Or => livecov_model::MergeRule::Or,
        }
    }
}

/// Flags of `livecov cluster compile`.
#[derive(clap::Args, Debug)]
pub struct CompileArgs {
    /// The collection directory (report directories under `<collection>/coverage/`).
    #[arg(long)]
    pub collection: PathBuf,
    /// Recompile inputs even when unchanged: `*` for all, or `field=glob` with field one
    /// of namespace, node, container, image (several are ANDed).
    #[arg(long, value_name = "FILTER")]
    pub update: Vec<String>,
    /// How processes of one build combine into an owner's counts.
    #[arg(long, value_enum, default_value_t = MergeRule::Sum)]
    pub merge: MergeRule,
    /// Source files injected by the coverage infrastructure, left out of every total
    /// (matched by file name, not substring).
    #[arg(
        long = "exclude-file",
        value_name = "NAME",
        default_values_t = DEFAULT_EXCLUDES.map(str::to_owned)
    )]
    pub exclude_files: Vec<String>,
    /// Exit with status 2 when the store holds any diagnostic (a skipped file, an
    /// ignored record), not only when an input failed.
    #[arg(long)]
    pub strict: bool,
    /// Image source lookups in registries.
    #[command(flatten)]
    pub registry: super::images::RegistryArgs,
    /// The Python interpreter that has coverage.py, used to derive the statements,
    /// missing and excluded lines of coverage.py data files with coverage.py's own
    /// analysis (default: $LIVECOV_PYTHON, else python3). Without coverage.py (or the
    /// sources) only executed lines are known: compile and report then say that the
    /// statements are unknown.
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// A local checkout holding the sources of coverage.py data (repeatable; tried in
    /// order): a recorded path, with metadata.json's source_root stripped, is looked up
    /// under it. Not needed when a coverage.json report comes with the data, or when the
    /// recorded absolute paths exist here.
    #[arg(long = "python-source", value_name = "DIR")]
    pub python_sources: Vec<PathBuf>,
    /// A label of the collection, `KEY=VALUE` (repeatable: cluster=prod-1,
    /// run=nightly-42, scenario=upgrade), shown and filtered on by `livecov history` and
    /// `livecov store list|prune`; `KEY=` removes one. Labels not named stay as stored.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = crate::storecmd::parse_label)]
    pub labels: Vec<(String, String)>,
    /// The store compiled into.
    #[command(flatten)]
    pub store: crate::store::StoreArgs,
}

impl CompileArgs {
    /// The operation's settings.
    pub fn settings(&self) -> CompileSettings {
        CompileSettings {
            collection: self.collection.clone(),
            update: self.update.clone(),
            merge: self.merge.into(),
            exclude_files: self.exclude_files.clone(),
            registry: self.registry.settings(),
            python: livecov_ops::compile::PythonSettings {
                python: self.python.clone(),
                sources: self.python_sources.clone(),
            },
            store: self.store.choice(),
            labels: self.labels.clone(),
        }
    }
}

/// Runs `cluster compile`.
pub fn run(args: &CompileArgs) -> Result<Exit> {
    let reporter = crate::progress::TermReporter::new();
    let summary = livecov_ops::compile::compile(&args.settings(), &reporter)?;
    print_summary(&summary, args);
    if args.strict && summary.diagnostics_in_store > 0 {
        eprintln!(
            "error: --strict: the store holds {} diagnostics (`livecov report` lists them)",
            summary.diagnostics_in_store
        );
        return Ok(Exit::Error);
    }
    Ok(if summary.failed > 0 {
        Exit::Error
    } else {
        Exit::Ok
    })
}

fn print_summary(summary: &Summary, args: &CompileArgs) {
    eprintln!(
        "compiled {} inputs ({} unchanged, {} failed, {} partial, {} removed); {} warnings; \
         {} builds; {} owners ({} updated)",
        summary.compiled,
        summary.unchanged,
        summary.failed,
        summary.partial,
        summary.removed,
        summary.warnings,
        summary.builds,
        summary.owners,
        summary.owners_updated
    );
    let store = args
        .store
        .choice()
        .location(&args.collection)
        .map(|at| at.display())
        .unwrap_or_default();
    eprintln!("store: {store}");
}
