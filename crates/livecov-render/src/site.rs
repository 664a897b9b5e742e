//! Writing the site: shells, shared assets, per-file scripts, and the manifest that
//! makes re-rendering incremental and clean-up safe.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{BuildPage, FileData, IndexData, SourceStatus};

const INDEX_TEMPLATE: &str = include_str!("../assets/index.html.tmpl");
const BUILD_TEMPLATE: &str = include_str!("../assets/build.html.tmpl");
const ASSETS: &[(&str, &str)] = &[
    ("livecov.css", include_str!("../assets/livecov.css")),
    ("index.js", include_str!("../assets/index.js")),
    ("build.js", include_str!("../assets/build.js")),
];

/// Name of the manifest in the output directory.
pub const MANIFEST: &str = ".livecov-manifest.json";

/// Why the site could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Writing or removing a file failed.
    // The cause is in the message and not also a `source()`: printed with its chain
    // (`{:#}`), it would otherwise say everything twice.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// A build page could not be assembled (its sources could not be read, …).
    #[error("build {build}: {message}")]
    Build {
        /// Hex identity.
        build: String,
        /// What went wrong.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RenderError + '_ {
    move |error| RenderError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Refuses an existing, non-empty `out` that has no [`MANIFEST`] (unless `force`): the
/// site's names (`index.html`, `assets/livecov.css`) would overwrite files livecov did
/// not write, and an overwritten file is lost as surely as a removed one.
fn check_ours(out: &Path, force: bool) -> Result<(), RenderError> {
    if force {
        return Ok(());
    }
    let mut entries = match fs::read_dir(out) {
        Ok(entries) => entries,
        // Missing (it is created) or not a directory (creating it says so).
        Err(_) => return Ok(()),
    };
    let ours = fs::symlink_metadata(out.join(MANIFEST)).is_ok();
    if ours || entries.next().is_none() {
        return Ok(());
    }
    Err(io_err(out)(io::Error::other(format!(
        "is not empty and has no {MANIFEST} (livecov did not write it), so rendering \
         would overwrite files there; give a new or empty directory, or --force (-force \
         for `livecov go html`) to write into it anyway"
    ))))
}

/// The error for a symbolic link found where the site writes a file or directory.
fn link_err(path: &Path) -> RenderError {
    io_err(path)(io::Error::other(
        "is a symbolic link; livecov does not write through links inside its output \
         directory (one could lead outside it): remove it and render again",
    ))
}

/// Creates `out/<rel>` and the directories between, refusing a symbolic link at any
/// level below `out`: a link planted in the output (`b/<id>` → elsewhere) would make the
/// render write outside the site. `out` itself is the user's choice and may be a link.
fn real_dir(out: &Path, rel: &str) -> Result<PathBuf, RenderError> {
    let mut dir = out.to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
        loop {
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => return Err(link_err(&dir)),
                Ok(m) if m.is_dir() => break,
                Ok(_) => return Err(io_err(&dir)(io::Error::other("is not a directory"))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&dir) {
                    Ok(()) => break,
                    // Another page's thread made it: look again at what it is.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(&dir)(e)),
                },
                Err(e) => return Err(io_err(&dir)(e)),
            }
        }
    }
    Ok(dir)
}

/// Removes `path` if it is there (a link is removed, never followed).
fn remove_if_present(path: &Path) -> Result<(), RenderError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Whether `path` already holds exactly `bytes`; a symbolic link there is an error.
fn unchanged(path: &Path, bytes: &[u8]) -> Result<bool, RenderError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(link_err(path)),
        Ok(m) => Ok(m.is_file()
            && m.len() == bytes.len() as u64
            && fs::read(path).is_ok_and(|old| old == bytes)),
        Err(_) => Ok(false),
    }
}

/// Creates a new file at `path` (`O_CREAT | O_EXCL`, which never follows a link) and
/// writes `bytes` into it.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), RenderError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))
}

/// One build to render: a key that changes whenever anything shown on its page changes
/// (inputs, sources), and the page itself, assembled only when the key changed.
pub trait PageSource: Sync {
    /// Hex identity of the build.
    fn build(&self) -> &str;
    /// What the page depends on (coverage inputs, source repo@commit and status). The
    /// renderer adds its own version.
    fn key(&self) -> String;
    /// Assembles the page (reads sources, merges counters…).
    fn page(&self) -> Result<BuildPage, String>;
}

/// How to render.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Output directory (created when missing).
    pub out_dir: PathBuf,
    /// Write only the index; per-build pages already written are kept (never deleted).
    pub skip_build_pages: bool,
    /// Re-render every page even when its key is unchanged, and write into a non-empty
    /// directory that has no [`MANIFEST`] (otherwise refused: its files are not ours).
    pub force: bool,
}

/// What a render did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderSummary {
    /// Build pages written this run.
    pub rendered: usize,
    /// Build pages kept because nothing they show changed.
    pub unchanged: usize,
    /// Build pages kept as they were because of `skip_build_pages`.
    pub kept: usize,
    /// Builds that have no page.
    pub without_page: usize,
    /// Files livecov wrote earlier and removed now (stale pages).
    pub removed: usize,
    /// Builds whose page could not be assembled: (build, error). The others are written.
    pub failed: Vec<(String, String)>,
    /// Bytes written this run.
    pub bytes_written: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Manifest {
    generator: String,
    /// Files shared by the whole site (index, assets).
    files: BTreeSet<String>,
    /// Per build: the key its page was written for, and its files.
    builds: BTreeMap<String, ManifestBuild>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct ManifestBuild {
    key: String,
    files: Vec<String>,
    /// The page's source status and note, for the index when the page is reused.
    #[serde(default)]
    source: SourceStatus,
    #[serde(default)]
    source_note: String,
}

/// A build page written: its manifest entry and the bytes written.
type Written = Result<(ManifestBuild, u64), RenderError>;

/// The renderer's own version: the crate version and a hash of the templates and
/// scripts, so a page written by another renderer is re-rendered.
pub fn renderer_version() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [INDEX_TEMPLATE, BUILD_TEMPLATE]
        .into_iter()
        .chain(ASSETS.iter().map(|(_, s)| *s))
    {
        for b in part.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    format!("{}-{h:016x}", env!("CARGO_PKG_VERSION"))
}

/// Writes the index of a collection and one page per build into `opts.out_dir`.
///
/// Pages whose key is unchanged since the last render (as the manifest records) are not
/// assembled again. Only files listed in the previous manifest are ever removed.
pub fn render_site(
    opts: &RenderOptions,
    index: &IndexData,
    builds: &[&dyn PageSource],
) -> Result<RenderSummary, RenderError> {
    let out = &opts.out_dir;
    check_ours(out, opts.force)?;
    fs::create_dir_all(out).map_err(io_err(out))?;
    let old = read_manifest(out);
    let version = renderer_version();
    let mut summary = RenderSummary::default();
    let mut manifest = Manifest {
        generator: index.generator.clone(),
        ..Manifest::default()
    };
    manifest.files.extend(write_assets(out, &mut summary)?);

    enum Plan<'a> {
        Render(&'a dyn PageSource, String),
        Keep(ManifestBuild),
        NoPage,
    }
    let plans: Vec<(String, Plan<'_>)> = builds
        .iter()
        .map(|b| {
            let id = b.build().to_string();
            let previous = old.builds.get(&id).filter(|m| files_exist(out, &m.files));
            let plan = if opts.skip_build_pages {
                previous.cloned().map_or(Plan::NoPage, Plan::Keep)
            } else {
                let key = format!("{version}|{}", b.key());
                match previous {
                    Some(m) if m.key == key && !opts.force => Plan::Keep(m.clone()),
                    _ => Plan::Render(*b, key),
                }
            };
            (id, plan)
        })
        .collect();

    let rendered: Vec<(String, Written)> = plans
        .par_iter()
        .filter_map(|(id, plan)| match plan {
            Plan::Render(src, key) => Some((id.clone(), write_build(out, *src, key))),
            _ => None,
        })
        .collect();
    let mut rendered: BTreeMap<String, Written> = rendered.into_iter().collect();

    let mut index = index.clone();
    for (id, plan) in &plans {
        let entry = match plan {
            Plan::Keep(m) => {
                if opts.skip_build_pages {
                    summary.kept += 1;
                } else {
                    summary.unchanged += 1;
                }
                Some(m.clone())
            }
            Plan::NoPage => None,
            Plan::Render(..) => match rendered.remove(id) {
                Some(Ok((m, bytes))) => {
                    summary.rendered += 1;
                    summary.bytes_written += bytes;
                    Some(m)
                }
                Some(Err(RenderError::Build { message, .. })) => {
                    summary.failed.push((id.clone(), message));
                    // A page that could not be assembled this time keeps the one written
                    // earlier (a transient failure must not delete a good page).
                    old.builds
                        .get(id)
                        .filter(|m| files_exist(out, &m.files))
                        .cloned()
                }
                Some(Err(e)) => return Err(e),
                None => None,
            },
        };
        match entry {
            Some(m) => {
                if let Some(b) = index.builds.get_mut(id) {
                    b.page = Some(build_page_path(id));
                    // The page looked at every file: its verdict is the precise one.
                    b.source = m.source;
                    b.source_note = m.source_note.clone();
                }
                manifest.builds.insert(id.clone(), m);
            }
            None => {
                summary.without_page += 1;
                if let Some(b) = index.builds.get_mut(id) {
                    b.page = None;
                }
            }
        }
    }
    // A build that is no longer in the collection keeps its page only when pages were
    // not rendered this time (skip never deletes).
    if opts.skip_build_pages {
        for (id, m) in &old.builds {
            manifest
                .builds
                .entry(id.clone())
                .or_insert_with(|| m.clone());
        }
    }

    let html = index_html(&index, "assets");
    summary.bytes_written += write_if_changed(&out.join("index.html"), html.as_bytes())?;
    manifest.files.insert("index.html".into());

    summary.removed = remove_stale(out, &old, &manifest)?;
    let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    write_if_changed(&out.join(MANIFEST), &text)?;
    Ok(summary)
}

/// Writes a single build page as a site of its own (`livecov go html`): the page at
/// `<out>/index.html`, its files under `<out>/f/`, assets under `<out>/assets/`. A
/// non-empty `out` without a [`MANIFEST`] is refused unless `force`.
pub fn render_single(out: &Path, page: &BuildPage, force: bool) -> Result<u64, RenderError> {
    check_ours(out, force)?;
    fs::create_dir_all(out).map_err(io_err(out))?;
    let old = read_manifest(out);
    let mut summary = RenderSummary::default();
    let mut manifest = Manifest {
        generator: page.data.generator.clone(),
        ..Manifest::default()
    };
    manifest.files.extend(write_assets(out, &mut summary)?);
    let mut data = page.data.clone();
    data.index = None;
    let written = write_page_files(out, "", "assets", &data, &page.files)?;
    summary.bytes_written += written.1;
    manifest.files.extend(written.0);
    remove_stale(out, &old, &manifest)?;
    let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    write_if_changed(&out.join(MANIFEST), &text)?;
    Ok(summary.bytes_written)
}

/// The relative link of a build page from the index.
pub fn build_page_path(build: &str) -> String {
    format!("b/{build}/index.html")
}

fn write_build(
    out: &Path,
    src: &dyn PageSource,
    key: &str,
) -> Result<(ManifestBuild, u64), RenderError> {
    let id = src.build();
    let page = src.page().map_err(|message| RenderError::Build {
        build: id.to_string(),
        message,
    })?;
    let mut data = page.data.clone();
    data.index = Some("../../index.html".into());
    let prefix = format!("b/{id}/");
    let (files, bytes) = write_page_files(out, &prefix, "../../assets", &data, &page.files)?;
    Ok((
        ManifestBuild {
            key: key.to_string(),
            files,
            source: page.data.source.status,
            source_note: page.data.source.note.clone(),
        },
        bytes,
    ))
}

/// Most bytes of file scripts in one chunk (a larger file gets a chunk of its own).
const CHUNK_BYTES: usize = 256 * 1024;
/// Most files in one chunk: opening a file never parses hundreds of others.
const CHUNK_FILES: usize = 64;

/// Writes `<prefix>index.html` and the chunk scripts `<prefix>f/<k>.js`; returns the
/// relative paths and the bytes written.
fn write_page_files(
    out: &Path,
    prefix: &str,
    assets: &str,
    data: &crate::model::BuildData,
    files: &[FileData],
) -> Result<(Vec<String>, u64), RenderError> {
    let dir = out.join(prefix);
    let fdir = real_dir(out, &format!("{prefix}f"))?;
    let (html, chunks) = page_parts(assets, data, files);
    let written: Vec<Result<u64, RenderError>> = chunks
        .par_iter()
        .enumerate()
        .map(|(k, bytes)| write_plain_if_changed(&fdir.join(format!("{k}.js")), bytes))
        .collect();
    let mut bytes = 0;
    for w in written {
        bytes += w?;
    }
    let mut names = vec![format!("{prefix}index.html")];
    names.extend((0..chunks.len()).map(|k| format!("{prefix}f/{k}.js")));
    // The page last: once it is there, every chunk it names is complete.
    bytes += write_if_changed(&dir.join("index.html"), html.as_bytes())?;
    Ok((names, bytes))
}

/// A build page's HTML (its assets at `assets`) and its chunk scripts (`f/<k>.js`, in
/// order), in memory.
fn page_parts(
    assets: &str,
    data: &crate::model::BuildData,
    files: &[FileData],
) -> (String, Vec<Vec<u8>>) {
    // Chunks are cut by an estimate of each file's script size, so each chunk's scripts
    // are written straight into one buffer instead of one allocation per file.
    let estimate = |f: &FileData| {
        f.text.as_ref().map_or(4, String::len)
            + f.path.len()
            + f.origin.len()
            + f.blocks.len() * 24
            + 64
    };
    let mut data = data.clone();
    // Chunk k holds the files chunks[k] (a range of file indices).
    let mut chunks: Vec<std::ops::Range<usize>> = Vec::new();
    let mut chunk_bytes = 0;
    for (n, f) in files.iter().enumerate() {
        let size = estimate(f);
        let full = chunks
            .last()
            .is_none_or(|c| chunk_bytes + size > CHUNK_BYTES || c.len() >= CHUNK_FILES);
        if full {
            chunks.push(n..n);
            chunk_bytes = 0;
        }
        let k = chunks.len() - 1;
        chunks[k].end = n + 1;
        chunk_bytes += size;
        if let Some(entry) = data.files.get_mut(n) {
            entry.chunk = k;
        }
    }
    let html = fill(
        BUILD_TEMPLATE,
        &data.title,
        assets,
        &script_json(&data),
        &data.generator,
    );
    let scripts = chunks
        .par_iter()
        .map(|range| {
            let mut buf = Vec::new();
            for n in range.clone() {
                file_script(n, &files[n], &mut buf);
            }
            buf
        })
        .collect();
    (html, scripts)
}

/// A build page in memory, for a server that renders on demand: its HTML (linking the
/// assets at `assets` and the index at `index`) and its chunk scripts, served at
/// `f/<k>.js` beside the page.
#[derive(Clone, Debug, Default)]
pub struct PageInMemory {
    /// `index.html` of the page.
    pub html: String,
    /// `f/<k>.js`, by k.
    pub chunks: Vec<Vec<u8>>,
    /// The page's source verdict (for the index, as a written site's manifest keeps it).
    pub source: SourceStatus,
    /// The note that goes with [`PageInMemory::source`].
    pub source_note: String,
}

impl PageInMemory {
    /// The bytes held (for a cache's budget).
    pub fn size(&self) -> usize {
        self.html.len() + self.chunks.iter().map(Vec::len).sum::<usize>()
    }
}

/// Renders a build page in memory (see [`PageInMemory`]).
pub fn page_in_memory(page: &BuildPage, assets: &str, index: Option<&str>) -> PageInMemory {
    let mut data = page.data.clone();
    data.index = index.map(str::to_owned);
    let (html, chunks) = page_parts(assets, &data, &page.files);
    PageInMemory {
        html,
        chunks,
        source: page.data.source.status,
        source_note: page.data.source.note.clone(),
    }
}

/// The index page's HTML, its assets at `assets`; each build's `page` link is as given.
pub fn index_html(index: &IndexData, assets: &str) -> String {
    fill(
        INDEX_TEMPLATE,
        &index.title,
        assets,
        &script_json(index),
        &index.generator,
    )
}

/// A shared asset by name (`livecov.css`, `index.js`, `build.js`).
pub fn asset(name: &str) -> Option<&'static str> {
    ASSETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// `livecovFile(n, {...});` for one file.
///
/// The source text is a JavaScript template literal rather than a JSON string: source
/// code is full of newlines, tabs and quotes, which a template literal holds as they
/// are, so only backquotes, backslashes, `${` and control characters other than newline
/// and tab need escaping (half the time of JSON-escaping a page's sources).
pub fn file_script(n: usize, f: &FileData, out: &mut Vec<u8>) {
    out.extend_from_slice(b"livecovFile(");
    push_u32(out, u32::try_from(n).unwrap_or(u32::MAX));
    out.extend_from_slice(b", {\"path\":");
    let _ = serde_json::to_writer(&mut *out, &f.path);
    out.extend_from_slice(b",\"text\":");
    match &f.text {
        Some(t) => push_template_literal(out, t),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"origin\":");
    let _ = serde_json::to_writer(&mut *out, &f.origin);
    out.extend_from_slice(b",\"blocks\":[");
    for (i, b) in f.blocks.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        for (k, v) in [
            b.start_line,
            b.start_col,
            b.end_line,
            b.end_col,
            b.stmts,
            b.count,
        ]
        .into_iter()
        .enumerate()
        {
            if k > 0 {
                out.push(b',');
            }
            push_u32(out, v);
        }
        // The scenarios that ran it, only on pages that have scenarios.
        if b.scenarios != 0 {
            out.push(b',');
            push_u32(out, b.scenarios);
        }
        out.push(b']');
    }
    out.extend_from_slice(b"]});\n");
}

/// Bytes a template literal cannot hold as they are: backquote, backslash, `$` (only
/// before `{`, checked on a hit) and control characters other than newline and tab.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b != b'\n' as usize && b != b'\t' as usize;
        b += 1;
    }
    t[b'`' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'$' as usize] = true;
    t
};

/// Appends `text` as a JavaScript template literal whose value is exactly `text`.
fn push_template_literal(out: &mut Vec<u8>, text: &str) {
    let mut rest = text.as_bytes();
    out.reserve(rest.len() + 2);
    out.push(b'`');
    // Escapes are rare in source code: copy the runs between them in one go.
    while let Some(at) = rest.iter().position(|&b| NEEDS_ESCAPE[usize::from(b)]) {
        out.extend_from_slice(&rest[..at]);
        match rest[at] {
            b'`' => out.extend_from_slice(b"\\`"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'$' if rest.get(at + 1) == Some(&b'{') => out.extend_from_slice(b"\\$"),
            b'$' => out.push(b'$'),
            // Template literals turn CR and CRLF into LF; keep the file's bytes.
            b'\r' => out.extend_from_slice(b"\\r"),
            b => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ]);
            }
        }
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'`');
}

/// Appends the decimal digits of `v`: a million numbers per page make `write!` show up.
fn push_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// JSON for a `<script type="application/json">` element: `<`, `>` and `&` escaped so
/// no text in the data can close the element.
pub fn script_json(value: &impl Serialize) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(text.len() + text.len() / 64);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn fill(template: &str, title: &str, assets: &str, data: &str, generator: &str) -> String {
    // One pass over the template: a value that contains a placeholder (a title spelled
    // `{{DATA}}`) is never substituted again.
    let title = escape_html(title);
    let generator = escape_html(generator);
    let mut out = String::with_capacity(template.len() + data.len() + title.len());
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (value, len) = [
            ("{{TITLE}}", title.as_str()),
            ("{{ASSETS}}", assets),
            ("{{DATA}}", data),
            ("{{GENERATOR}}", generator.as_str()),
        ]
        .into_iter()
        .find(|(name, _)| tail.starts_with(name))
        .map_or(("{{", 2), |(name, v)| (v, name.len()));
        out.push_str(value);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

fn write_assets(out: &Path, summary: &mut RenderSummary) -> Result<Vec<String>, RenderError> {
    let dir = real_dir(out, "assets")?;
    let mut names = Vec::new();
    for (name, text) in ASSETS {
        summary.bytes_written += write_if_changed(&dir.join(name), text.as_bytes())?;
        names.push(format!("assets/{name}"));
    }
    Ok(names)
}

/// Writes the file unless it already holds exactly these bytes (keeps modification
/// times, so syncing the site elsewhere copies only what changed). Returns the bytes
/// written. Goes through a temporary file and a rename: a reader never sees half a page.
/// Neither the file nor the temporary file is written through a symbolic link.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<u64, RenderError> {
    if unchanged(path, bytes)? {
        return Ok(0);
    }
    let tmp = path.with_extension("livecov-tmp");
    remove_if_present(&tmp)?;
    write_new(&tmp, bytes)?;
    // A rename replaces whatever is at `path`, a link included, and never follows it.
    fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(bytes.len() as u64)
}

/// Like [`write_if_changed`] without the temporary file: for chunk scripts, which the
/// page names only once they are complete (one file created instead of two).
fn write_plain_if_changed(path: &Path, bytes: &[u8]) -> Result<u64, RenderError> {
    if unchanged(path, bytes)? {
        return Ok(0);
    }
    remove_if_present(path)?;
    write_new(path, bytes)?;
    Ok(bytes.len() as u64)
}

fn read_manifest(out: &Path) -> Manifest {
    fs::read(out.join(MANIFEST))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Whether a kept page's files are all still there as regular files of the site (a link
/// in their place, or on the way to them, means the page is written again, which then
/// refuses the link).
fn files_exist(out: &Path, files: &[String]) -> bool {
    files.iter().all(|f| {
        ours(f)
            && !through_symlink(out, f)
            && fs::symlink_metadata(out.join(f)).is_ok_and(|m| m.is_file())
    })
}

/// A manifest entry is only trusted when it names a file livecov writes: `index.html`,
/// `assets/<one of ours>`, `b/<hex>/index.html`, `b/<hex>/f/<k>.js`, or `f/<k>.js` (a
/// single-page site). A doctored manifest can then neither point outside the site nor
/// at a user's file inside it.
fn ours(p: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let chunk = |s: &str| {
        s.strip_suffix(".js")
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        ["index.html"] => true,
        ["assets", name] => ASSETS.iter().any(|(a, _)| a == name),
        ["f", k] => chunk(k),
        ["b", id, "index.html"] => hex(id),
        ["b", id, "f", k] => hex(id) && chunk(k),
        _ => false,
    }
}

/// Whether any directory between `out` and `path` is a symbolic link: clean-up never
/// follows one (it could lead out of the site).
fn through_symlink(out: &Path, rel: &str) -> bool {
    let mut dir = out.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// Removes files the previous manifest lists and the new one does not, then the
/// directories that became empty. Returns how many files were removed.
fn remove_stale(out: &Path, old: &Manifest, new: &Manifest) -> Result<usize, RenderError> {
    let keep: BTreeSet<&str> = new
        .files
        .iter()
        .chain(new.builds.values().flat_map(|b| &b.files))
        .map(String::as_str)
        .collect();
    let mut removed = 0;
    let mut dirs = BTreeSet::new();
    for f in old
        .files
        .iter()
        .chain(old.builds.values().flat_map(|b| &b.files))
    {
        if keep.contains(f.as_str()) || !ours(f) || through_symlink(out, f) {
            continue;
        }
        let path = out.join(f);
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(RenderError::Io { path, error: e }),
        }
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == out {
                break;
            }
            dirs.insert(d.to_path_buf());
            dir = d.parent();
        }
    }
    // Deepest first; a directory that still holds anything (ours or not) stays.
    for d in dirs.iter().rev() {
        let _ = fs::remove_dir(d);
    }
    Ok(removed)
}
