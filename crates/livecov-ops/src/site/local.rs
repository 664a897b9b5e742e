//! One build page for a local Go coverage directory or text profile: `livecov go html`
//! and `livecov render --profile`, for anyone who today runs `go tool cover -html`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use livecov_formats::goprofile::Profile;
use livecov_render::{BuildData, SourceInfo, SourceStatus};

use std::collections::BTreeMap;

use livecov_formats::gocovdata::dir::MergedBuild;
use livecov_formats::gocovdata::pkgmatch::PkgFilter;
use livecov_model::{CounterMode, Diagnostics};
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
/// `source_root` (the module or workspace holding the code) and GOROOT. A non-empty
/// `out` that livecov did not write is refused unless `force`.
pub fn render_profile(
    profile: &Profile,
    title: &str,
    build: &str,
    out: &Path,
    source_root: &Path,
    force: bool,
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
        force,
    )
}

/// Renders blocks per file as a single build page, with sources from `sources`
/// (opened by the caller, possibly while the coverage was being read). A non-empty `out`
/// that livecov did not write is refused unless `force`.
#[allow(clippy::too_many_arguments)] // One call per front end; a struct would only rename them.
pub fn render_files(
    files: BTreeMap<String, Vec<Block>>,
    mode: &str,
    title: &str,
    build: &str,
    out: &Path,
    source_root: &Path,
    sources: Box<dyn FileSources>,
    force: bool,
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
    let bytes = livecov_render::render_single(out, &page, force)?;
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

/// One page for the builds of local Go coverage directories (`livecov go html`).
pub struct GoPage {
    /// The counter mode of the page.
    pub mode: CounterMode,
    /// Blocks per file.
    pub files: BTreeMap<String, Vec<Block>>,
    /// The page's identity: the build's hash, or a digest of the builds' hashes.
    pub build: String,
    /// The import path of the first `main` package, as the title.
    pub title: String,
}

/// The page of `builds` (merged Go coverage directories), with packages outside
/// `filter` left out; clashes are recorded in `diags`.
pub fn go_page(
    builds: &[MergedBuild],
    filter: Option<&PkgFilter>,
    diags: &mut Diagnostics,
) -> GoPage {
    let (mode, files) = html_blocks(builds, filter, diags);
    let build = if builds.len() == 1 {
        livecov_formats::gocovdata::hex16(&builds[0].meta.hash)
    } else {
        let mut hashes: Vec<[u8; 16]> = builds.iter().map(|p| p.meta.hash).collect();
        hashes.sort_unstable();
        format!(
            "{:032x}",
            xxhash_rust::xxh3::xxh3_128(hashes.concat().as_slice())
        )
    };
    let title = main_package(builds).unwrap_or_else(|| "coverage".into());
    GoPage {
        mode,
        files,
        build,
        title,
    }
}

/// The merged blocks of the pods per file. One build: its units in layout order with
/// their counts, straight from the dense counters. Several builds: merged by position
/// as `textfmt` does (a text profile). Like `textfmt`, a pod whose counter mode differs
/// from the first is left out.
fn html_blocks(
    pods: &[MergedBuild],
    filter: Option<&PkgFilter>,
    diags: &mut Diagnostics,
) -> (
    CounterMode,
    std::collections::BTreeMap<String, Vec<super::page::Block>>,
) {
    let mode = pods
        .first()
        .and_then(MergedBuild::mode)
        .unwrap_or(CounterMode::Count);
    let granularity = pods.first().map(|p| p.meta.granularity);
    let pods: Vec<&MergedBuild> = pods
        .iter()
        .filter(|pod| {
            // Like textfmt: a granularity clash leaves the later build out.
            if Some(pod.meta.granularity) != granularity {
                diags.error(format!(
                    "counter granularity clash while reading meta-data file {}: its data is \
                     left out",
                    pod.meta_path.display()
                ));
                return false;
            }
            let same = pod.mode().unwrap_or(CounterMode::Count) == mode;
            if !same {
                diags.error(format!(
                    "counter mode clash while reading meta-data file {}: its data is left out \
                     (one page has one mode)",
                    pod.meta_path.display()
                ));
            }
            same
        })
        .collect();
    type Files = std::collections::BTreeMap<String, Vec<super::page::Block>>;
    let block = |u: &livecov_model::Unit, count: u32| super::page::Block {
        start_line: u.start_line,
        start_col: u.start_col,
        end_line: u.end_line,
        end_col: u.end_col,
        stmts: u.stmts,
        count,
        scenarios: 0,
    };
    if let [pod] = pods.as_slice() {
        let mut files = Files::new();
        for (pi, p) in pod.meta.packages.iter().enumerate() {
            if filter.is_some_and(|flt| !flt.matches(&p.path)) {
                continue;
            }
            for (fi, func) in p.functions.iter().enumerate() {
                let counts = pod.func_counters(pi, fi);
                let list = match files.get_mut(&*func.file) {
                    Some(l) => l,
                    None => files.entry(func.file.to_string()).or_default(),
                };
                list.extend(func.units.iter().zip(counts).map(|(u, &c)| block(u, c)));
            }
        }
        return (mode, files);
    }
    let mut profile = livecov_formats::goprofile::Profile::new(mode);
    for pod in pods {
        for (pi, p) in pod.meta.packages.iter().enumerate() {
            if filter.is_some_and(|flt| !flt.matches(&p.path)) {
                continue;
            }
            for (fi, func) in p.functions.iter().enumerate() {
                for (u, &c) in func.units.iter().zip(pod.func_counters(pi, fi)) {
                    if let Err(e) = profile.add(&func.file, *u, c) {
                        diags.warn(format!("{}: {e}", pod.meta_path.display()));
                    }
                }
            }
        }
    }
    (mode, super::page::profile_files(&profile))
}

/// The import path of the first `main` package of the inputs, as the page title.
fn main_package(pods: &[MergedBuild]) -> Option<String> {
    pods.iter()
        .flat_map(|p| &p.meta.packages)
        .find(|p| p.name == "main")
        .map(|p| p.path.clone())
}
