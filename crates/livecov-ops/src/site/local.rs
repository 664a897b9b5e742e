//! One build page for a local Go coverage directory or text profile: `livecov go html`
//! and `livecov render --profile`, for anyone who today runs `go tool cover -html`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
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
