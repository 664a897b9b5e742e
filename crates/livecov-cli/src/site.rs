//! Flags and output of the site commands: `livecov cluster render`, `livecov render`,
//! `livecov cluster clone-sources` / `livecov sources fetch`, `livecov sources explain`.
//! The work is `livecov_ops::site`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use livecov_ops::site::cluster::{RenderSettings, DEFAULT_HIDDEN_PREFIXES};
use livecov_ops::site::local::LocalSite;
use livecov_ops::site::sources::{ExplainSettings, FetchSettings};

use crate::exit::Exit;

/// Flags of `livecov cluster render`.
#[derive(clap::Args, Debug, Clone)]
pub struct RenderArgs {
    /// The collection directory (compiled with `livecov cluster compile`).
    #[arg(long)]
    pub collection: PathBuf,
    /// Where to write the site [default: <collection>/html].
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Write only index.html. Build pages written earlier are kept as they are (never
    /// deleted); builds without a page show "No page".
    #[arg(long, alias = "skip-component-html")]
    pub skip_build_pages: bool,
    /// Namespace prefix hidden by default in the index (a checkbox turns it off).
    /// Repeatable; replaces the defaults. `--hide-namespace-prefix ''` hides nothing.
    #[arg(long = "hide-namespace-prefix", value_name = "PREFIX",
          default_values_t = DEFAULT_HIDDEN_PREFIXES.iter().map(|s| s.to_string()))]
    pub hide_namespace_prefixes: Vec<String>,
    /// Re-render every page even when nothing it shows changed, and write into a
    /// non-empty output directory livecov did not write (no .livecov-manifest.json).
    #[arg(long)]
    pub force: bool,
    /// The shared git cache written by `clone-sources` [default: <collection>/sources].
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// The store.
    #[command(flatten)]
    pub store: crate::store::StoreArgs,
}

impl RenderArgs {
    fn settings(&self) -> RenderSettings {
        RenderSettings {
            collection: self.collection.clone(),
            skip_build_pages: self.skip_build_pages,
            hide_namespace_prefixes: self.hide_namespace_prefixes.clone(),
            force: self.force,
            sources: self.sources.clone(),
            store: self.store.choice(),
        }
    }
}

/// Runs `livecov cluster render`.
pub fn render_collection(args: &RenderArgs) -> Result<Exit> {
    let started = Instant::now();
    let out = args
        .output_dir
        .clone()
        .unwrap_or_else(|| args.collection.join("html"));
    let reporter = crate::progress::TermReporter::new();
    let summary = livecov_ops::site::cluster::render_collection(&args.settings(), &out, &reporter)?;
    eprintln!(
        "render: {} build pages written, {} unchanged, {} kept, {} without a page, {} stale files \
         removed, {:.1} MB written in {:.2}s",
        summary.rendered,
        summary.unchanged,
        summary.kept,
        summary.without_page,
        summary.removed,
        summary.bytes_written as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    for (build, e) in &summary.failed {
        eprintln!("error: build {build}: {e}");
    }
    println!("{}", out.join("index.html").display());
    Ok(if summary.failed.is_empty() {
        Exit::Ok
    } else {
        Exit::Error
    })
}

/// Flags of `livecov cluster clone-sources` and `livecov sources fetch`.
#[derive(clap::Args, Debug, Clone)]
pub struct FetchArgs {
    /// The collection directory (compiled with `livecov cluster compile`).
    #[arg(long)]
    pub collection: PathBuf,
    /// The shared git cache [default: <collection>/sources]. One bare repository per
    /// remote; share it between collections to fetch each commit once.
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// Skip commits already in the cache (the default). Accepted for compatibility with
    /// the older tool: a commit id names one immutable tree, so a cached commit is
    /// always reused; `--skip-existing=false` only reports it as fetched again.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub skip_existing: bool,
    /// Repositories fetched at the same time.
    #[arg(long, default_value_t = 4)]
    pub max_concurrency: usize,
    /// `GIT_SSH_COMMAND` for SSH remotes (`git@host:org/repo`), e.g. a deploy key.
    #[arg(long, value_name = "CMD")]
    pub ssh_command: Option<String>,
    /// Also fetch remotes on this machine (`file://`, absolute paths) and over plain
    /// `http://` and `git://` (unauthenticated, alterable in transit). Remotes come from
    /// image labels and info.json, written by whoever built the image, so by default only
    /// https and ssh (`git@host:org/repo`) are fetched. Also on with LIVECOV_ALLOW_LOCAL_REMOTES=1.
    #[arg(long)]
    pub allow_local_remotes: bool,
    /// The store.
    #[command(flatten)]
    pub store: crate::store::StoreArgs,
}

/// Runs `clone-sources` / `sources fetch`.
pub fn fetch(args: &FetchArgs) -> Result<Exit> {
    let settings = FetchSettings {
        collection: args.collection.clone(),
        sources: args.sources.clone(),
        skip_existing: args.skip_existing,
        max_concurrency: args.max_concurrency,
        ssh_command: args.ssh_command.clone(),
        allow_local_remotes: args.allow_local_remotes,
        store: args.store.choice(),
    };
    let reporter = crate::progress::TermReporter::new();
    let s = livecov_ops::site::sources::fetch(&settings, &reporter)?;
    eprintln!(
        "sources: {} fetched, {} already cached, {} failed in {:.1}s",
        s.fetched, s.skipped, s.failed, s.seconds
    );
    println!("Cloned: {}, Errors: {}", s.fetched + s.skipped, s.failed);
    Ok(if s.failed == 0 { Exit::Ok } else { Exit::Error })
}

/// Flags of `livecov sources explain`.
#[derive(clap::Args, Debug, Clone)]
pub struct ExplainArgs {
    /// The collection directory.
    #[arg(long)]
    pub collection: PathBuf,
    /// The shared git cache [default: <collection>/sources].
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// The build: its hex identity, or a unique prefix of it.
    pub build: String,
    /// The file as the build records it (e.g. `github.com/org/repo/pkg/a.go`).
    pub file: String,
    /// The store.
    #[command(flatten)]
    pub store: crate::store::StoreArgs,
}

/// Runs `sources explain`.
pub fn explain(args: &ExplainArgs) -> Result<Exit> {
    let e = livecov_ops::site::sources::explain(&ExplainSettings {
        collection: args.collection.clone(),
        sources: args.sources.clone(),
        build: args.build.clone(),
        file: args.file.clone(),
        store: args.store.choice(),
    })?;
    for l in &e.lines {
        println!("{l}");
    }
    Ok(if e.resolved { Exit::Ok } else { Exit::Error })
}

/// Prints the summary lines of a local render (to stderr) and the page path (stdout).
pub fn report_local(site: &LocalSite) {
    eprintln!(
        "html: {} files ({} with source, {} not found, {} not matching), {:.1} MB written",
        site.files,
        site.with_source,
        site.missing,
        site.mismatch,
        site.bytes as f64 / 1e6
    );
    if site.missing > 0 {
        eprintln!(
            "hint: run from the module root, or pass the directory holding the sources \
             (-src=DIR for `livecov go html`, --source-root DIR for `livecov render`)"
        );
    }
    println!("{}", site.index.display());
}

/// Flags of `livecov render`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["collection", "go_profile"])))]
pub struct LocalRenderArgs {
    /// A compiled collection: same as `livecov cluster render --collection`.
    #[arg(long)]
    pub collection: Option<PathBuf>,
    /// A Go text profile (`go test -coverprofile`, `go tool covdata textfmt`).
    /// `--profile` is accepted as an old spelling; it is not the AWS profile of
    /// `cluster download`.
    #[arg(long = "go-profile", alias = "profile", value_name = "FILE")]
    pub go_profile: Option<PathBuf>,
    /// Where to write the site [default: <collection>/html, or livecov-html for a profile].
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// With --go-profile: the directory holding the sources (a module or workspace root).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub source_root: PathBuf,
    /// With --collection: write only index.html, keeping existing build pages.
    #[arg(long)]
    pub skip_build_pages: bool,
    /// Write into a non-empty output directory livecov did not write (no
    /// .livecov-manifest.json), overwriting files there; with --collection also
    /// re-render every page.
    #[arg(long)]
    pub force: bool,
    /// With --collection: the shared git cache [default: <collection>/sources].
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// With --collection: the store.
    #[command(flatten)]
    pub store: crate::store::StoreArgs,
}

/// Runs `livecov render`.
pub fn render(args: &LocalRenderArgs) -> Result<Exit> {
    if let Some(collection) = &args.collection {
        return render_collection(&RenderArgs {
            collection: collection.clone(),
            output_dir: args.output_dir.clone(),
            skip_build_pages: args.skip_build_pages,
            hide_namespace_prefixes: DEFAULT_HIDDEN_PREFIXES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            force: args.force,
            sources: args.sources.clone(),
            store: args.store.clone(),
        });
    }
    let path = args.go_profile.as_ref().expect("clap requires one input");
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (profile, warnings) = livecov_formats::goprofile::parse(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for w in &warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    let out = args
        .output_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("livecov-html"));
    let title = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "profile".into());
    let build = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()));
    let site = livecov_ops::site::local::render_profile(
        &profile,
        &title,
        &build,
        &out,
        &args.source_root,
        args.force,
    )?;
    report_local(&site);
    Ok(Exit::Ok)
}
