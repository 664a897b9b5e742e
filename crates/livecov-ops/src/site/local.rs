//! One build page for a local Go coverage directory or text profile: `livecov go html`
//! and `livecov render --profile`, for anyone who today runs `go tool cover -html`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use livecov_formats::goprofile::Profile;
use livecov_render::{BuildData, SourceInfo, SourceStatus};

use std::collections::BTreeMap;

use livecov_render::Block;

use super::page::{assemble, profile_files, source_counts, FileSources};
use super::sources::local_sources;

/// What `render_profile` wrote.
pub struct LocalSite {
    /// The page to open.
    pub index: PathBuf,
    /// Files in the profile.
    pub files: usize,
    /// Files shown with their source.
    pub with_source: usize,
    /// Files whose source was not found.
    pub missing: usize,
    /// Files whose source does not match the profile's blocks.
    pub mismatch: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Renders `profile` as a single build page into `out`, with sources looked up under
/// `source_root` (the module or workspace holding the code) and GOROOT.
pub fn render_profile(
    profile: &Profile,
    title: &str,
    build: &str,
    out: &Path,
    source_root: &Path,
) -> Result<LocalSite> {
    let files = profile_files(profile);
    // GOROOT is indexed only when some file looks like a standard-library or `cmd`
    // path (no dot in its first element): walking it costs tens of milliseconds.
    let wants_goroot = files
        .keys()
        .any(|f| !f.split('/').next().unwrap_or("").contains('.'));
    let sources = local_sources(source_root, wants_goroot)?;
    render_files(
        files,
        &profile.mode().to_string(),
        title,
        build,
        out,
        source_root,
        sources,
    )
}

/// Renders blocks per file as a single build page, with sources from `sources`
/// (opened by the caller, possibly while the coverage was being read).
pub fn render_files(
    files: BTreeMap<String, Vec<Block>>,
    mode: &str,
    title: &str,
    build: &str,
    out: &Path,
    source_root: &Path,
    sources: Box<dyn FileSources>,
) -> Result<LocalSite> {
    let started = Instant::now();
    let timings = std::env::var_os("LIVECOV_TIMINGS").is_some();
    let mark = |what: &str| {
        if timings {
            eprintln!("timing: {what} {:.3}s", started.elapsed().as_secs_f64());
        }
    };
    let data = BuildData {
        generator: format!("livecov {}", env!("CARGO_PKG_VERSION")),
        build: build.to_string(),
        title: title.to_string(),
        subtitle: format!(
            "{} files · sources from {}",
            files.len(),
            source_root.display()
        ),
        mode: mode.to_string(),
        index: None,
        source: SourceInfo {
            repo: source_root.display().to_string(),
            commit: String::new(),
            status: SourceStatus::Ok,
            note: String::new(),
        },
        ..BuildData::default()
    };
    let mut page = assemble(data, files, sources.as_ref());
    mark("sources read and checked");
    let (ok, missing, mismatch) = source_counts(&page);
    if mismatch > 0 {
        page.data.source.status = SourceStatus::Mismatch;
        page.data.source.note = format!(
            "{mismatch} file(s) under {} do not match the profile",
            source_root.display()
        );
    } else if missing > 0 {
        page.data.source.status = SourceStatus::Missing;
        page.data.source.note = format!("{missing} file(s) not found");
    }
    let bytes = livecov_render::render_single(out, &page)?;
    if std::env::var_os("LIVECOV_TIMINGS").is_some() {
        eprintln!("timing: render {:.3}s", started.elapsed().as_secs_f64());
    }
    Ok(LocalSite {
        index: out.join("index.html"),
        files: page.files.len(),
        with_source: ok,
        missing,
        mismatch,
        bytes,
    })
}

/// Prints the summary lines of a local render (to stderr) and the page path (stdout).
pub fn report(site: &LocalSite) {
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
#[command(group(clap::ArgGroup::new("input").required(true).args(["collection", "profile"])))]
pub struct RenderArgs {
    /// A compiled collection: same as `livecov cluster render --collection`.
    #[arg(long)]
    pub collection: Option<PathBuf>,
    /// A Go text profile (`go test -coverprofile`, `go tool covdata textfmt`).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Where to write the site [default: <collection>/html, or livecov-html for a profile].
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// With --profile: the directory holding the sources (a module or workspace root).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub source_root: PathBuf,
    /// With --collection: write only index.html, keeping existing build pages.
    #[arg(long)]
    pub skip_build_pages: bool,
    /// With --collection: re-render every page.
    #[arg(long)]
    pub force: bool,
    /// With --collection: the shared git cache [default: <collection>/sources].
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
}

/// Runs `livecov render`.
pub fn run(args: &RenderArgs) -> Result<crate::exit::Exit> {
    if let Some(collection) = &args.collection {
        return super::cluster::run(&super::cluster::RenderArgs {
            collection: collection.clone(),
            output_dir: args.output_dir.clone(),
            skip_build_pages: args.skip_build_pages,
            hide_namespace_prefixes: super::cluster::DEFAULT_HIDDEN_PREFIXES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            force: args.force,
            sources: args.sources.clone(),
        });
    }
    let path = args.profile.as_ref().expect("clap requires one input");
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
    let site = render_profile(&profile, &title, &build, &out, &args.source_root)?;
    report(&site);
    Ok(crate::exit::Exit::Ok)
}
