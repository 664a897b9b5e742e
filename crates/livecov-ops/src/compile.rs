//! `livecov cluster compile`: every report directory of a collection into the store.
//!
//! Per directory (in parallel): read `metadata.json` and `info.json`, decode the Go
//! coverage files natively, and keep the latest snapshot of each process (the producer
//! writes cumulative `.1`/`.2` toggles; the newer one wins, by the object time the
//! download recorded, else the file's time field, else element-wise dominance). One
//! writer stores the results; each build's layout is stored once.
//!
//! Then owners: processes are grouped by namespace/owner type/owner/binary/build, host
//! duplicates of pod processes are dropped once, and each group's counters are merged
//! (saturating sum, or `--merge max` like the older tool). Unchanged inputs and owners
//! are skipped by fingerprint and content hash; failed inputs are retried next run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use livecov_formats::gocovdata::read::{merge_records, read_data_file};
use livecov_formats::gocovdata::{
    classify_file_name, CounterFileReader, CovFileName, MetaFile, COUNTER_MAGIC,
};
use livecov_model::owners::{infer_owners, PodOrigin};
use livecov_model::CounterMode;
use livecov_store::{
    compress_counters, compress_layout, for_each_nonzero, BuildFile, CoverageStore, ImageSourceRow,
    InputRow, OwnerRow, ProcessRow, Store, LAYOUT_FORMAT,
};
use md5::{Digest, Md5};
use rayon::prelude::*;
use serde::Deserialize;

use crate::Reporter;

mod lcov;
// `diff --profile` reads coverage.py data files with the same statements and layouts.
pub(crate) mod lines;
pub(crate) mod python;

use livecov_formats::gocovdata::dir::{read_header, Layout, MetaCache};
use livecov_model::{lifetimes, MergeRule, Severity, Snapshot};
pub use python::PythonSettings;

/// What `compile` needs: the collection and how to combine and count.
#[derive(Clone, Debug)]
pub struct CompileSettings {
    /// The collection directory (report directories under `<collection>/coverage/`).
    pub collection: PathBuf,
    /// Recompile inputs even when unchanged: `*` for all, or `field=glob` with field one
    /// of namespace, node, container, image (several are ANDed).
    pub update: Vec<String>,
    /// How processes of one build combine into an owner's counts.
    pub merge: MergeRule,
    /// Source files injected by the coverage infrastructure, left out of every total
    /// (matched by file name, not substring).
    pub exclude_files: Vec<String>,
    /// Image source lookups in registries.
    pub registry: crate::images::RegistrySettings,
    /// The Python with coverage.py and the sources, for the statements of coverage.py
    /// inputs.
    pub python: PythonSettings,
    /// The store compiled into (default: `<collection>/livecov.db`).
    pub store: crate::StoreChoice,
    /// Edits of the collection's labels (`cluster=prod-1`): each sets its key, an empty
    /// value removes it; labels not named stay as stored.
    pub labels: Vec<(String, String)>,
}

impl CompileSettings {
    /// The defaults for a collection: sum, the producer's two files excluded, no
    /// registry lookups.
    pub fn new(collection: impl Into<PathBuf>) -> CompileSettings {
        CompileSettings {
            collection: collection.into(),
            update: Vec::new(),
            merge: MergeRule::Sum,
            exclude_files: DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect(),
            registry: Default::default(),
            python: PythonSettings::default(),
            store: crate::StoreChoice::default(),
            labels: Vec::new(),
        }
    }
}

/// The files the coverage infrastructure injects into every build (livecov's Python
/// agent measures itself when coverage.py starts before it).
pub const DEFAULT_EXCLUDES: [&str; 4] = [
    "coverage_server.go",
    "coverage_producer.go",
    "livecov_agent.go",
    "livecov_agent.py",
];

/// `info.json` written by the producer (flattened `X-Art-Coverage-*` headers).
#[derive(Deserialize, Default)]
struct Info {
    #[serde(default)]
    source_url: String,
    #[serde(default)]
    source_commit: String,
    #[serde(default)]
    software_group: String,
    #[serde(default)]
    software_key: String,
    /// The pod's ownerReference, as `collect --output` records it (the bucket layout's
    /// object keys cannot hold it, so `cluster download`'s metadata.json lacks it).
    #[serde(default)]
    owner_kind: String,
    #[serde(default)]
    owner_name: String,
}

/// `--update` filters.
struct UpdateFilter {
    all: bool,
    rules: Vec<(String, globset::GlobMatcher)>,
}

impl UpdateFilter {
    fn parse(values: &[String]) -> Result<UpdateFilter> {
        let mut f = UpdateFilter {
            all: false,
            rules: Vec::new(),
        };
        for v in values {
            if v == "*" {
                f.all = true;
                continue;
            }
            let (field, glob) = v.split_once('=').with_context(|| {
                format!(
                    "--update {v:?}: expected * or field=glob (namespace, node, container, image)"
                )
            })?;
            if !matches!(field, "namespace" | "node" | "container" | "image") {
                anyhow::bail!(
                    "--update {v:?}: unknown field {field:?} (expected namespace, node, container or image)"
                );
            }
            let m = globset::Glob::new(glob)
                .with_context(|| format!("--update {v:?}: bad glob"))?
                .compile_matcher();
            f.rules.push((field.to_owned(), m));
        }
        Ok(f)
    }

    fn forces(&self, input: &InputRow) -> bool {
        if self.all {
            return true;
        }
        !self.rules.is_empty()
            && self.rules.iter().all(|(field, m)| {
                let v = match field.as_str() {
                    "namespace" => &input.namespace,
                    "node" => &input.hostname,
                    "container" => &input.container,
                    _ => &input.image,
                };
                m.is_match(v)
            })
    }
}

/// One decoded build, shared by every directory of the run.
struct BuildInfo {
    /// The build's identity.
    hash: [u8; 16],
    /// `go`, `python` or `lcov` (empty for builds read back from the store).
    language: &'static str,
    /// Its layout in livecov's terms (what the store keeps).
    model: Arc<livecov_model::Layout>,
    /// The Go meta file and its index, for decoding counter files (builds seen this run).
    go: Option<(Arc<MetaFile>, Layout)>,
    /// Copies of the meta file passed over (damaged): (path, why).
    rejected: Vec<(PathBuf, String)>,
    /// The copy used although its content does not match its header's hash (no copy
    /// did).
    unverified: Option<PathBuf>,
    /// Unit indices (into the dense vector) excluded as infrastructure.
    excluded: Vec<bool>,
    /// Statements of each unit, 0 for excluded units: covered statements are then one
    /// tight loop over the dense vector.
    unit_stmts: Vec<u32>,
    statements: u64,
    /// The layout's stored form, compressed (empty for builds read from the store).
    layout_zstd: Vec<u8>,
}

impl BuildInfo {
    /// A build from its layout; `go` for builds decoded from Go files this run.
    fn new(
        hash: [u8; 16],
        model: livecov_model::Layout,
        go: Option<(Arc<MetaFile>, Layout)>,
        exclude: &[String],
        compress: bool,
    ) -> Result<BuildInfo, String> {
        let (excluded, unit_stmts, statements) = unit_tables(&model, exclude);
        let layout_zstd = if compress {
            compress_layout(&model.encode()).map_err(|e| e.to_string())?
        } else {
            Vec::new()
        };
        Ok(BuildInfo {
            hash,
            language: "go",
            model: Arc::new(model),
            go,
            rejected: Vec::new(),
            unverified: None,
            excluded,
            unit_stmts,
            statements,
            layout_zstd,
        })
    }

    fn total(&self) -> usize {
        self.model.units.len()
    }

    fn mode(&self) -> CounterMode {
        self.model.mode
    }
}

/// What compiling one directory produced.
struct Compiled {
    input: InputRow,
    processes: Vec<(Arc<BuildInfo>, ProcessRow)>,
    /// Problems that cost a file or a record, not the directory.
    warnings: Vec<String>,
    /// The directory's `info.json`, for image sources.
    info: Option<Info>,
}

/// The cheap fingerprint of a directory's inputs: names, sizes and times, plus `python`
/// (the analysis settings) when it holds coverage.py data, since its statements depend
/// on them.
fn fingerprint(dir: &Path, python: &str) -> std::io::Result<String> {
    let mut names: Vec<(String, u64, i128)> = Vec::new();
    let mut has_python = false;
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let relevant = name.starts_with("covmeta.")
            || name.starts_with("covcounters.")
            || python::is_data_file(&name)
            || python::is_json_report(&name)
            || lcov::is_lcov(&name)
            || matches!(
                name.as_str(),
                "metadata.json" | "info.json" | ".livecov-objects.json"
            );
        if !relevant {
            continue;
        }
        has_python |= python::is_data_file(&name);
        let md = e.metadata()?;
        let mtime = md
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        names.push((name, md.len(), mtime));
    }
    names.sort();
    let mut h = Md5::new();
    for (n, len, t) in names {
        h.update(format!("{n}\0{len}\0{t}\n").as_bytes());
    }
    if has_python {
        h.update(python.as_bytes());
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn tool_version() -> String {
    format!("livecov {}", env!("CARGO_PKG_VERSION"))
}

/// The largest `metadata.json` or `info.json` read (real ones are a few hundred bytes).
const MAX_JSON_BYTES: u64 = 1 << 20;

/// Reads a small JSON file of a report directory: a regular file of bounded size, so a
/// FIFO or a huge file in its place neither blocks nor exhausts memory.
/// `YYYY-MM-DDTHH:MM:SS` then a fraction, `Z` or an offset: enough to tell a time from
/// junk.
fn looks_like_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't' | b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && matches!(b[b.len() - 1], b'Z' | b'z' | b'0'..=b'9')
}

fn read_small(path: &Path) -> std::io::Result<Vec<u8>> {
    let md = fs::metadata(path)?;
    if !md.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if md.len() > MAX_JSON_BYTES {
        return Err(std::io::Error::other(format!(
            "{} bytes, over the {} KiB such a file may have",
            md.len(),
            MAX_JSON_BYTES >> 10
        )));
    }
    let mut buf = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(fs::File::open(path)?, MAX_JSON_BYTES),
        &mut buf,
    )?;
    Ok(buf)
}

/// Reads a directory's origin. Unreadable metadata is an error for the directory; a
/// damaged info.json, or metadata that lacks what owners are made of, is a warning.
fn read_origin(dir: &Path, name: &str) -> Result<(InputRow, Option<Info>, Vec<String>), String> {
    let meta_path = dir.join("metadata.json");
    let mut warnings = Vec::new();
    let origin = match read_small(&meta_path) {
        Ok(bytes) => {
            // Some editors and tools start JSON with a byte-order mark.
            let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
            livecov_collect::producer::read_origin(bytes)
                .map_err(|e| format!("{}: not valid metadata JSON: {e}", meta_path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{}: missing (expected the pod, namespace and container of the reports; \
                 `livecov cluster download` writes it)",
                meta_path.display()
            ))
        }
        Err(e) => return Err(format!("{}: {e}", meta_path.display())),
    };
    let shown = meta_path.display();
    if origin.binary.is_empty() {
        warnings.push(format!(
            "{shown}: no binary_name; the processes are grouped under an unnamed binary"
        ));
    }
    if origin.pod.is_empty() && origin.hostname.is_empty() {
        warnings.push(format!(
            "{shown}: no pod_name and no hostname; the input is counted as a host process \
             of an unnamed node"
        ));
    }
    for (field, value) in [
        ("pod_name", &origin.pod),
        ("namespace", &origin.namespace),
        ("container", &origin.container),
        ("binary_name", &origin.binary),
        ("hostname", &origin.hostname),
    ] {
        if value.chars().any(char::is_control) {
            warnings.push(format!(
                "{shown}: {field} holds control characters ({})",
                value.escape_debug()
            ));
        }
    }
    if !origin.collected_at.is_empty() && !looks_like_rfc3339(&origin.collected_at) {
        warnings.push(format!(
            "{shown}: collected_at {:?} is not an RFC 3339 time (2026-01-31T12:00:00Z); \
             process lifetimes from it are meaningless",
            origin.collected_at.escape_debug().to_string()
        ));
    }
    let info_path = dir.join("info.json");
    let info: Option<Info> = match read_small(&info_path) {
        Ok(b) => match serde_json::from_slice(b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&b)) {
            Ok(info) => Some(info),
            Err(e) => {
                warnings.push(format!(
                    "{}: not the producer's info JSON ({e}); the build's source is unknown",
                    info_path.display()
                ));
                None
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            warnings.push(format!(
                "{}: {e}; the build's source is unknown",
                info_path.display()
            ));
            None
        }
    };
    let input = InputRow {
        dir: name.to_owned(),
        namespace: origin.namespace,
        pod: origin.pod,
        container: origin.container,
        hostname: origin.hostname,
        image: origin.image,
        binary: origin.binary,
        is_host: origin.host_process,
        collected_at: origin.collected_at,
        // metadata.json's owner first; info.json's when it has none (an `--output` bucket
        // read back by `cluster download`).
        owner_kind: match &info {
            Some(i) if origin.owner_kind.is_empty() && !i.owner_name.is_empty() => {
                i.owner_kind.clone()
            }
            _ => origin.owner_kind,
        },
        owner_name: match &info {
            Some(i) if origin.owner_name.is_empty() && !i.owner_kind.is_empty() => {
                i.owner_name.clone()
            }
            _ => origin.owner_name,
        },
        source_url: info
            .as_ref()
            .map(|i| i.source_url.clone())
            .unwrap_or_default(),
        source_commit: info
            .as_ref()
            .map(|i| i.source_commit.clone())
            .unwrap_or_default(),
        tool_version: tool_version(),
        labels: origin.labels.into_iter().collect(),
        ..InputRow::default()
    };
    Ok((input, info, warnings))
}

/// Object times recorded by the download (`.livecov-objects.json`): name → time.
fn object_times(dir: &Path) -> HashMap<String, String> {
    #[derive(Deserialize)]
    struct Obj {
        #[serde(default)]
        last_modified: String,
    }
    let Ok(bytes) = read_small(&dir.join(".livecov-objects.json")) else {
        return HashMap::new();
    };
    let parsed: HashMap<String, Obj> = serde_json::from_slice(&bytes).unwrap_or_default();
    parsed
        .into_iter()
        .map(|(k, v)| {
            let name = k.rsplit('/').next().unwrap_or(&k).to_owned();
            (name, v.last_modified)
        })
        .collect()
}

/// A build's decoded layout, or why no copy of its meta file could be used.
type BuildSlot = Arc<OnceLock<Result<Arc<BuildInfo>, String>>>;

struct Run<'a> {
    cache: &'a MetaCache,
    /// Every copy of each build's meta file among the inputs compiled, in path order.
    copies: HashMap<[u8; 16], Vec<PathBuf>>,
    builds: Mutex<HashMap<[u8; 16], BuildSlot>>,
    exclude: &'a [String],
    /// coverage.py's analysis, for the statements of Python inputs.
    analyzer: python::Analyzer,
}

impl Run<'_> {
    /// Build `hash`, decoded once from the first copy of its meta file that verifies
    /// (the same copy whichever directory asks first); `local` is the copy the asking
    /// directory holds, tried when the run did not list it.
    fn build(&self, hash: [u8; 16], local: &Path) -> Result<Arc<BuildInfo>, String> {
        let slot = self
            .builds
            .lock()
            .expect("builds lock")
            .entry(hash)
            .or_default()
            .clone();
        slot.get_or_init(|| {
            let listed = self.copies.get(&hash);
            let local = [local.to_path_buf()];
            let copies: Vec<&Path> = listed
                .map(|c| c.as_slice())
                .unwrap_or(&local)
                .iter()
                .map(PathBuf::as_path)
                .collect();
            let chosen = self.cache.decode_copies(hash, &copies).map_err(|why| {
                why.into_iter()
                    .map(|(_, w)| w)
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
            let meta = chosen.meta;
            let Some(model) = meta.to_layout() else {
                return Err(format!(
                    "{}: at byte offset 48: counter mode {} is not set, count or atomic",
                    chosen.path.display(),
                    meta.mode
                ));
            };
            let layout = Layout::new(&meta);
            // Compressed here, on a worker, rather than on the single writer thread.
            let mut info = BuildInfo::new(hash, model, Some((meta, layout)), self.exclude, true)
                .map_err(|e| format!("{}: {e}", chosen.path.display()))?;
            info.rejected = chosen.rejected;
            info.unverified = chosen.unverified.then_some(chosen.path);
            Ok(Arc::new(info))
        })
        .clone()
    }

    /// Decodes one report directory into its processes.
    fn compile_dir(
        &self,
        dir: &Path,
        mut input: InputRow,
        mut info: Option<Info>,
        mut warnings: Vec<String>,
    ) -> Compiled {
        let times = object_times(dir);
        let mut names: Vec<String> = match fs::read_dir(dir) {
            Ok(rd) => rd
                .flatten()
                .filter_map(|e| match e.file_name().into_string() {
                    Ok(n) => Some(n),
                    Err(raw) => {
                        let shown = raw.to_string_lossy().escape_debug().to_string();
                        if shown.starts_with("cov") {
                            warnings.push(format!(
                                "{}/{shown}: the name is not UTF-8; skipped",
                                dir.display()
                            ));
                        }
                        None
                    }
                })
                .collect(),
            Err(e) => {
                input.error = format!("{}: {e}", dir.display());
                return Compiled {
                    input,
                    processes: Vec::new(),
                    warnings,
                    info,
                };
            }
        };
        names.sort();
        let mut content = xxhash_rust::xxh3::Xxh3::new();
        let mut by_hash: HashMap<[u8; 16], Arc<BuildInfo>> = HashMap::new();
        let mut skipped = 0usize;
        for n in &names {
            if let Some(CovFileName::Meta { .. }) = classify_file_name(n) {
                let path = dir.join(n);
                match read_header(&path).and_then(|h| self.build(h, &path).map(|b| (h, b))) {
                    Ok((h, b)) => {
                        content.update(&h);
                        if let Some((_, why)) = b.rejected.iter().find(|(p, _)| *p == path) {
                            warnings.push(why.clone());
                        }
                        if b.unverified.as_deref() == Some(path.as_path()) {
                            warnings.push(format!(
                                "{}: its content does not match the hash {} in its header \
                                 (damaged, or written by a tool livecov does not know) and no \
                                 intact copy was found; used as it is",
                                path.display(),
                                hex(&h)
                            ));
                        }
                        by_hash.insert(h, b);
                    }
                    Err(e) => {
                        warnings.push(e);
                        skipped += 1;
                    }
                }
            }
        }
        let mut snaps: BTreeMap<([u8; 16], i64), Vec<Snapshot>> = BTreeMap::new();
        let mut buf = Vec::new();
        let mut values = Vec::new();
        for n in &names {
            let Some(CovFileName::Counters { pid, .. }) = classify_file_name(n) else {
                continue;
            };
            let path = dir.join(n);
            if let Err(e) = read_data_file(&path, COUNTER_MAGIC, &mut buf) {
                warnings.push(format!("{e}; file skipped"));
                skipped += 1;
                continue;
            }
            content.update(&buf);
            match self.decode_counters(&path, &buf, &by_hash, &mut values, &mut warnings) {
                Ok((hash, counters)) => {
                    let time = times.get(n).cloned().unwrap_or_else(|| file_time(n));
                    snaps
                        .entry((hash, pid))
                        .or_default()
                        .push(Snapshot { time, counters });
                }
                Err(e) => {
                    // This file only: an earlier snapshot of the same process (the
                    // producer alternates two files for this) or its other files count.
                    warnings.push(format!("{e}; file skipped"));
                    skipped += 1;
                }
            }
        }
        if let Ok(b) = read_small(&dir.join("metadata.json")) {
            content.update(&b);
        }
        let line_inputs = self.line_inputs(dir, &names, &times, &mut input, &mut info, &mut |b| {
            content.update(b)
        });
        input.content_hash = format!("{:032x}", content.digest128());
        let mut processes = Vec::new();
        for ((hash, pid), list) in snaps {
            let build = by_hash[&hash].clone();
            for (snap, superseded) in lifetimes(list, give_back) {
                let covered = covered_statements(&build, &snap.counters);
                let counters = match compress_counters(&snap.counters) {
                    Ok(c) => c,
                    Err(e) => {
                        warnings.push(format!("{}: process {pid}: {e}", dir.display()));
                        skipped += 1;
                        give_back(snap.counters);
                        continue;
                    }
                };
                processes.push((
                    build.clone(),
                    ProcessRow {
                        build_id: 0,
                        pid,
                        snapshot_time: snap.time,
                        superseded,
                        covered,
                        counters,
                    },
                ));
                give_back(snap.counters);
            }
        }
        for found in line_inputs {
            match found.and_then(|f| self.line_process(f)) {
                Ok((build, row, partial, more)) => {
                    warnings.extend(more);
                    skipped += usize::from(partial);
                    processes.push((build, row));
                }
                Err(e) => {
                    warnings.push(e);
                    skipped += 1;
                }
            }
        }
        if processes.is_empty() {
            // Nothing of the directory counts: it failed (and is retried next run).
            input.error = if warnings.is_empty() {
                format!(
                    "{}: no coverage data: no Go counter data (covcounters.*) for any \
                     meta-data file, no coverage.py data file (.coverage, .coverage.*) or \
                     report (coverage.json), no LCOV file (*.info, *.lcov)",
                    dir.display()
                )
            } else {
                std::mem::take(&mut warnings).join("; ")
            };
        } else {
            input.partial = skipped > 0;
        }
        Compiled {
            input,
            processes,
            warnings,
            info,
        }
    }

    /// The coverage.py and LCOV inputs of a directory (none, one or both), with the
    /// source repository and commit of `metadata.json` filled into the input and its
    /// image source where `info.json` gave none.
    fn line_inputs(
        &self,
        dir: &Path,
        names: &[String],
        times: &HashMap<String, String>,
        input: &mut InputRow,
        info: &mut Option<Info>,
        content: &mut dyn FnMut(&[u8]),
    ) -> Vec<Result<lines::LineInput, String>> {
        let fields = lines::SourceFields::read(dir);
        let found: Vec<_> = [
            python::read(dir, names, &fields, times, &self.analyzer, content),
            lcov::read(dir, names, &fields, content),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !found.is_empty() {
            if input.source_url.is_empty() {
                input.source_url.clone_from(&fields.source_repo);
            }
            if input.source_commit.is_empty() {
                input.source_commit.clone_from(&fields.source_commit);
            }
            if info.is_none() && !(fields.source_repo.is_empty() && fields.source_commit.is_empty())
            {
                *info = Some(Info {
                    source_url: fields.source_repo.clone(),
                    source_commit: fields.source_commit.clone(),
                    ..Info::default()
                });
            }
        }
        found
    }

    /// The build and process row of a coverage.py or LCOV input, whether it is partial,
    /// and its warnings.
    fn line_process(
        &self,
        found: lines::LineInput,
    ) -> Result<(Arc<BuildInfo>, ProcessRow, bool, Vec<String>), String> {
        let mut build = BuildInfo::new(found.hash, found.layout, None, self.exclude, true)?;
        build.language = found.language;
        let build = Arc::new(build);
        let covered = covered_statements(&build, &found.counters);
        let counters = compress_counters(&found.counters).map_err(|e| e.to_string())?;
        Ok((
            build,
            ProcessRow {
                build_id: 0,
                pid: 0,
                snapshot_time: found.time,
                superseded: found.superseded,
                covered,
                counters,
            },
            found.partial,
            found.warnings,
        ))
    }

    /// Decodes one counter file into a dense vector aligned to its build, with the rules
    /// `livecov go` uses (`gocovdata::read::merge_records`): records that do not fit the
    /// layout are reported and left out; a file that fails half way gives nothing.
    fn decode_counters(
        &self,
        path: &Path,
        bytes: &[u8],
        by_hash: &HashMap<[u8; 16], Arc<BuildInfo>>,
        values: &mut Vec<u32>,
        warnings: &mut Vec<String>,
    ) -> Result<([u8; 16], Vec<u32>), String> {
        let p = path.display();
        let (mut reader, header_warnings) =
            CounterFileReader::new(bytes).map_err(|e| format!("{p}: {e}"))?;
        let hash = reader.meta_hash;
        let build = by_hash.get(&hash).ok_or_else(|| {
            format!(
                "{p}: no usable meta-data file with hash {} in its directory (orphan counter file)",
                livecov_formats::gocovdata::hex16(&hash)
            )
        })?;
        let records = reader
            .read_all_records(values)
            .map_err(|e| format!("{p}: {e}"))?;
        for w in header_warnings.into_iter().chain(reader.trailing_warning()) {
            warnings.push(format!("{p}: {w}"));
        }
        let Some((meta, layout)) = &build.go else {
            return Err(format!(
                "{p}: build {} has no Go layout",
                livecov_formats::gocovdata::hex16(&hash)
            ));
        };
        let mode = build.mode();
        let mut dense = take_buffer(build.total());
        let mut problems = Vec::new();
        merge_records(
            &reader,
            records,
            meta,
            layout,
            mode,
            &mut dense,
            None,
            &mut problems,
        );
        for pr in problems {
            warnings.push(format!("{p}: at byte offset {}: {}", pr.offset, pr.message));
        }
        Ok((hash, dense))
    }
}

thread_local! {
    /// Dense counter vectors reused on a worker thread: a fresh zeroed vector per counter
    /// file (hundreds of KB each) costs page faults that dominated compiling.
    static BUFFERS: std::cell::RefCell<Vec<Vec<u32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A zeroed vector of `len` counters from this thread's pool.
fn take_buffer(len: usize) -> Vec<u32> {
    let mut v = BUFFERS.with(|b| b.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v.resize(len, 0);
    v
}

/// Returns a vector to this thread's pool.
fn give_back(v: Vec<u32>) {
    BUFFERS.with(|b| {
        let mut pool = b.borrow_mut();
        if pool.len() < 8 {
            pool.push(v);
        }
    });
}

/// A counter file's time when the download recorded none: the name's last field when
/// it is a Unix time in nanoseconds (runtime-written files). Producer toggles (`.1`,
/// `.2`) and copied files carry no usable time (a copy's mtime is the copy's).
fn file_time(name: &str) -> String {
    match name.rsplit('.').next() {
        Some(last) if last.len() >= 16 && last.bytes().all(|b| b.is_ascii_digit()) => {
            format!("ns:{last:0>20}")
        }
        _ => String::new(),
    }
}

/// Per unit: excluded as infrastructure, statements counted (0 when excluded); and the
/// build's total.
fn unit_tables(layout: &livecov_model::Layout, exclude: &[String]) -> (Vec<bool>, Vec<u32>, u64) {
    let mut excluded = vec![false; layout.units.len()];
    let mut stmts = vec![0; layout.units.len()];
    let mut total = 0u64;
    for f in 0..layout.functions.len() {
        let path = &layout.file_of(f).path;
        let base = path.rsplit('/').next().unwrap_or(path);
        let skip = exclude.iter().any(|e| e == base);
        for k in layout.function_units(f) {
            excluded[k] = skip;
            let s = if skip { 0 } else { layout.units[k].stmts };
            stmts[k] = s;
            total += u64::from(s);
        }
    }
    (excluded, stmts, total)
}

fn covered_statements(build: &BuildInfo, counters: &[u32]) -> u64 {
    build
        .unit_stmts
        .iter()
        .zip(counters)
        .map(|(&s, &c)| if c != 0 { u64::from(s) } else { 0 })
        .sum()
}

fn build_files(build: &BuildInfo, counters: Option<&[u32]>) -> Vec<BuildFile> {
    let layout = &build.model;
    let mut files: BTreeMap<&str, BuildFile> = BTreeMap::new();
    for f in 0..layout.functions.len() {
        let file = layout.file_of(f);
        let units = layout.function_units(f);
        let entry = files.entry(&file.path).or_insert_with(|| BuildFile {
            path: file.path.clone(),
            package: layout.packages[file.package as usize].clone(),
            statements: 0,
            covered: 0,
            excluded: build.excluded.get(units.start).copied().unwrap_or(false),
        });
        for k in units {
            let stmts = u64::from(layout.units[k].stmts);
            entry.statements += stmts;
            if counters.is_some_and(|c| c[k] != 0) {
                entry.covered += stmts;
            }
        }
    }
    files.into_values().collect()
}

/// What a compile run did.
#[derive(Default, Debug)]
pub struct Summary {
    /// Inputs compiled this run.
    pub compiled: usize,
    /// Inputs skipped as unchanged.
    pub unchanged: usize,
    /// Inputs that failed (recorded, retried next run).
    pub failed: usize,
    /// Inputs removed because their directory is gone.
    pub removed: usize,
    /// Owner groups recomputed.
    pub owners_updated: usize,
    /// Owner groups in the store.
    pub owners: usize,
    /// Builds in the store.
    pub builds: usize,
    /// Images whose source was read from a registry this run.
    pub images_resolved: usize,
    /// Images whose registry lookup failed (recorded, retried next run).
    pub images_failed: usize,
    /// Problems met this run that cost a file or a record (printed as warnings).
    pub warnings: usize,
    /// Inputs compiled this run that lost some of their files.
    pub partial: usize,
    /// Diagnostics the store holds after the run (this run's and unchanged inputs').
    pub diagnostics_in_store: usize,
}

/// The setting that says whether the last compile of a store finished.
pub const COMPILE_STATE: &str = "compile_state";
/// Its value once a compile finished.
pub const COMPILE_DONE: &str = "complete";
/// The setting that keeps the merge rule the owners and build totals were made with.
pub const MERGE_RULE: &str = "merge_rule";
/// The setting that keeps the exclusion set of the stored totals (one name per line).
pub const EXCLUDE_FILES: &str = "exclude_files";

/// The merge rule a compiled store was made with (`sum` for stores that predate it).
pub fn stored_rule(store: &dyn CoverageStore) -> Result<livecov_model::MergeRule> {
    Ok(match store.setting(MERGE_RULE)? {
        None => livecov_model::MergeRule::Sum,
        Some(name) => livecov_model::MergeRule::from_name(&name).ok_or_else(|| {
            anyhow::anyhow!("the store names merge rule {name:?}, which this livecov does not know")
        })?,
    })
}

/// Holds `<collection>/livecov.lock` for the whole compile: a second compile of the same
/// collection waits (and says so) instead of failing with "database is locked".
fn lock_collection(collection: &Path, reporter: &dyn Reporter) -> Result<fs::File> {
    let path = collection.join("livecov.lock");
    // Never created or opened through a link: it would be a write outside the collection.
    if fs::symlink_metadata(&path).is_ok_and(|m| !m.file_type().is_file()) {
        bail!(
            "{}: is not a regular file (a symbolic link?); remove it and compile again",
            path.display()
        );
    }
    let f = {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| format!("opening the compile lock {}", path.display()))?
    };
    match f.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            reporter.note(&format!(
                "waiting for another compile of this collection to finish (lock {})",
                path.display()
            ));
            f.lock()
                .with_context(|| format!("waiting for the compile lock {}", path.display()))?;
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("taking the compile lock {}", path.display()))
        }
    }
    Ok(f)
}

/// Why a compiled store cannot be trusted to be whole, if it cannot: a compile of it is
/// running now (the store's compile lock says so when it can, else the collection's lock
/// file), or the last one did not finish (killed half way, or its database went away).
pub fn incomplete(collection: &Path, store: &dyn CoverageStore) -> Result<Option<String>> {
    let state = store.setting(COMPILE_STATE)?;
    if state.as_deref() == Some(COMPILE_DONE) {
        return Ok(None);
    }
    // Stores of schema 2 predate the marker: they were written by finished compiles.
    let Some(state) = state else {
        return Ok(None);
    };
    let running = match store.compile_running()? {
        Some(running) => running,
        None => fs::File::open(collection.join("livecov.lock"))
            .map(|f| matches!(f.try_lock_shared(), Err(fs::TryLockError::WouldBlock)))
            .unwrap_or(false),
    };
    Ok(Some(if running {
        format!("a compile of this collection is running ({state}); report again when it ends")
    } else {
        format!(
            "the last compile ({state}) did not finish; run `livecov cluster compile --collection {}` again",
            collection.display()
        )
    }))
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("unix time {secs}")
}

/// The meta files of a report directory, by header hash (unreadable ones left out: the
/// directory's own pass reports them).
fn meta_copies(dir: &Path) -> Vec<([u8; 16], PathBuf)> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| matches!(classify_file_name(n), Some(CovFileName::Meta { .. })))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| {
            let path = dir.join(n);
            read_header(&path).ok().map(|h| (h, path))
        })
        .collect()
}

/// Compiles a collection into its store.
pub fn compile(args: &CompileSettings, reporter: &dyn Reporter) -> Result<Summary> {
    let timer = livecov_formats::gocovdata::dir::PhaseTimer::new();
    let coverage = args.collection.join("coverage");
    let filter = UpdateFilter::parse(&args.update)?;
    let mut dirs: Vec<String> = fs::read_dir(&coverage)
        .with_context(|| {
            format!(
                "reading {} (a collection holds report directories under coverage/; \
                 `livecov cluster download` creates them)",
                coverage.display()
            )
        })?
        .flatten()
        // Follows symbolic links: a collection may link its report directories.
        .filter(|e| fs::metadata(e.path()).map(|m| m.is_dir()).unwrap_or(false))
        .filter_map(|e| match e.file_name().into_string() {
            Ok(n) => Some(n),
            Err(raw) => {
                reporter.diagnostic(
                    Severity::Warning,
                    &format!(
                        "{}/{}: the directory name is not UTF-8; skipped (rename it)",
                        coverage.display(),
                        raw.to_string_lossy()
                    ),
                );
                None
            }
        })
        .collect();
    dirs.sort();
    let at = args.store.location(&args.collection)?;
    let _lock = lock_collection(&args.collection, reporter)?;
    // The collection's own store, like its lock, is never written through a link: in a
    // served root that would be a write outside it. A store elsewhere is `--store PATH`.
    let own = args.collection.join("livecov.db");
    if args.store.url.is_none()
        && fs::symlink_metadata(&own).is_ok_and(|m| m.file_type().is_symlink())
    {
        bail!(
            "{}: is a symbolic link; the collection's store is written only in place \
             (give the other file as --store PATH)",
            own.display()
        );
    }
    let mut store = Store::open_at(&at, false)?;
    // A shared store: compiles of this collection from other machines take turns too.
    let _store_lock = store.lock_for_compile(&mut || {
        reporter.note(&format!(
            "waiting for another compile of this collection to finish (store {})",
            at.display()
        ))
    })?;
    // Marked unfinished until the end: a compile killed half way leaves a store that
    // `report` calls incomplete, instead of showing whatever part was written.
    store.transaction(|tx| {
        tx.note_created(&livecov_store::catalog::utc_timestamp(SystemTime::now()))?;
        tx.set_setting(COMPILE_STATE, &format!("running since {}", now_rfc3339()))
    })?;
    let stored: HashMap<String, InputRow> = store
        .inputs()?
        .into_iter()
        .map(|i| (i.dir.clone(), i))
        .collect();

    // Which inputs need compiling: new, changed, failed last time, another livecov
    // version, or forced by --update.
    let version = tool_version();
    let python_key = args.python.key();
    let fingerprints: Vec<(String, std::io::Result<String>)> = dirs
        .par_iter()
        .map(|d| (d.clone(), fingerprint(&coverage.join(d), &python_key)))
        .collect();
    let mut summary = Summary::default();
    let mut todo = Vec::new();
    for (d, fp) in &fingerprints {
        let fp = fp.as_ref().map(String::as_str).unwrap_or("");
        match stored.get(d) {
            Some(old)
                if old.fingerprint == fp
                    && old.error.is_empty()
                    && old.tool_version == version
                    && !filter.forces(old) =>
            {
                summary.unchanged += 1
            }
            _ => todo.push((d.clone(), fp.to_owned())),
        }
    }
    let gone: Vec<String> = stored
        .keys()
        .filter(|d| !dirs.contains(d))
        .cloned()
        .collect();

    // Every copy of each build's meta file, so a damaged copy in one directory falls back
    // to an intact one in another (the same one every run: paths in order).
    let listed: Vec<Vec<([u8; 16], PathBuf)>> = todo
        .par_iter()
        .map(|(d, _)| meta_copies(&coverage.join(d)))
        .collect();
    let mut copies: HashMap<[u8; 16], Vec<PathBuf>> = HashMap::new();
    for (hash, path) in listed.into_iter().flatten() {
        copies.entry(hash).or_default().push(path);
    }
    let cache = MetaCache::default();
    let run = Run {
        cache: &cache,
        copies,
        builds: Mutex::new(HashMap::new()),
        exclude: &args.exclude_files,
        analyzer: python::Analyzer::new(&args.python),
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Compiled>(32);
    let writer_result: Result<(usize, usize, usize, usize)> = std::thread::scope(|scope| {
        let writer = scope.spawn(|| -> Result<(usize, usize, usize, usize)> {
            let (mut compiled, mut failed, mut warnings, mut partial) = (0, 0, 0, 0);
            let mut batch = Vec::new();
            let flush = |store: &mut Store, batch: &mut Vec<Compiled>| -> Result<()> {
                store.transaction(|tx| {
                    for c in batch.drain(..) {
                        let mut rows = Vec::new();
                        for (build, mut p) in c.processes {
                            let id = match tx.build_id(&build.hash)? {
                                Some(id) => id,
                                None => tx.insert_build(
                                    &build.hash,
                                    LAYOUT_FORMAT,
                                    build.mode().name(),
                                    build.total() as u64,
                                    build.statements,
                                    &build.layout_zstd,
                                    &build_files(&build, None),
                                )?,
                            };
                            if build.language != "go" {
                                tx.set_build_language(id, build.language)?;
                            }
                            p.build_id = id;
                            rows.push(p);
                        }
                        tx.replace_input(&c.input, &rows)?;
                        for w in &c.warnings {
                            tx.add_diagnostic(&c.input.dir, "warning", w)?;
                        }
                        if !c.input.error.is_empty() {
                            tx.add_diagnostic(&c.input.dir, "error", &c.input.error)?;
                        }
                        if let Some(info) = &c.info {
                            let key = if c.input.is_host || c.input.image.is_empty() {
                                format!("host:{}", c.input.binary)
                            } else {
                                c.input.image.clone()
                            };
                            if !(info.source_url.is_empty()
                                && info.source_commit.is_empty()
                                && info.software_group.is_empty()
                                && info.software_key.is_empty())
                            {
                                tx.fill_image_source(&ImageSourceRow {
                                    image: key,
                                    source_repo: info.source_url.clone(),
                                    commit_id: info.source_commit.clone(),
                                    software_group: info.software_group.clone(),
                                    software_key: info.software_key.clone(),
                                    origin: "info.json".to_owned(),
                                    error: String::new(),
                                })?;
                            }
                        }
                    }
                    Ok(())
                })?;
                Ok(())
            };
            reporter.start("compile", Some(todo.len() as u64));
            for c in rx {
                reporter.advance(1, &c.input.dir);
                for w in &c.warnings {
                    reporter.diagnostic(Severity::Warning, w);
                }
                warnings += c.warnings.len();
                partial += usize::from(c.input.partial);
                if c.input.error.is_empty() {
                    compiled += 1;
                } else {
                    reporter.diagnostic(
                        Severity::Error,
                        &format!("{}: {}", c.input.dir, c.input.error),
                    );
                    failed += 1;
                }
                batch.push(c);
                if batch.len() >= 64 {
                    flush(&mut store, &mut batch)?;
                }
            }
            flush(&mut store, &mut batch)?;
            reporter.finish();
            store.transaction(|tx| {
                for d in &gone {
                    tx.delete_input(d)?;
                }
                Ok(())
            })?;
            Ok((compiled, failed, warnings, partial))
        });
        todo.par_iter().for_each_with(tx, |tx, (d, fp)| {
            let dir = coverage.join(d);
            let compiled = match read_origin(&dir, d) {
                Ok((mut input, info, warnings)) => {
                    input.fingerprint = fp.clone();
                    run.compile_dir(&dir, input, info, warnings)
                }
                Err(e) => Compiled {
                    input: InputRow {
                        dir: d.clone(),
                        fingerprint: fp.clone(),
                        tool_version: tool_version(),
                        error: e,
                        ..InputRow::default()
                    },
                    processes: Vec::new(),
                    warnings: Vec::new(),
                    info: None,
                },
            };
            let _ = tx.send(compiled);
        });
        writer.join().expect("writer thread")
    });
    let (compiled, failed, warnings, partial) = writer_result?;
    summary.warnings = warnings;
    summary.partial = partial;
    timer.mark("ingest");
    summary.compiled = compiled;
    summary.failed = failed;
    summary.removed = gone.len();

    let mut store = Store::open_at(&at, false)?;
    let (resolved, unresolved) = crate::images::lookup(&mut store, &args.registry, reporter)?;
    summary.images_resolved = resolved;
    summary.images_failed = unresolved;
    // Owners are checked every run (a changed --merge rule or --update filter recomputes
    // them even when no input changed); unchanged groups are skipped by input hash.
    timer.mark("images");
    summary.owners_updated = compile_owners(&mut store, &run, args, &filter, &timer)?;
    summary.owners = store.owner_builds()?.len();
    summary.builds = store.builds()?.len();
    summary.diagnostics_in_store = store.diagnostics()?.len();
    store.transaction(|tx| {
        tx.set_setting(MERGE_RULE, args.merge.name())?;
        tx.set_setting(EXCLUDE_FILES, &args.exclude_files.join("\n"))?;
        tx.edit_labels(&args.labels)?;
        tx.mark_compiled(&livecov_store::catalog::utc_timestamp(SystemTime::now()))?;
        tx.set_setting(COMPILE_STATE, COMPILE_DONE)
    })?;
    Ok(summary)
}

impl Run<'_> {
    /// A build's decoded layout: from this run when it was seen, else from the store.
    fn layout_of(
        &self,
        store: &Store,
        build_id: i64,
        hashes: &HashMap<i64, [u8; 16]>,
    ) -> Result<Arc<BuildInfo>> {
        if let Some(h) = hashes.get(&build_id) {
            let slot = self.builds.lock().expect("builds lock").get(h).cloned();
            if let Some(Some(Ok(b))) = slot.as_ref().map(|s| s.get()) {
                return Ok(b.clone());
            }
        }
        stored_build(store, build_id, self.exclude)
    }
}

/// The layout of a stored build, decoded (for builds not seen this run).
fn stored_build(store: &Store, build_id: i64, exclude: &[String]) -> Result<Arc<BuildInfo>> {
    let hash = store
        .builds()?
        .into_iter()
        .find(|b| b.id == build_id)
        .map(|b| b.hash)
        .unwrap_or_default();
    let model = stored_layout(store, build_id)?;
    let mut info = BuildInfo::new(hash, model, None, exclude, false).map_err(anyhow::Error::msg)?;
    info.language = "";
    Ok(Arc::new(info))
}

/// A stored build's layout in livecov's terms, whichever form the store holds it in
/// (stores written before schema 3 hold Go meta files).
pub fn stored_layout(store: &dyn CoverageStore, build_id: i64) -> Result<livecov_model::Layout> {
    let stored = store.build_layout(build_id)?;
    if stored.format == LAYOUT_FORMAT {
        return livecov_model::Layout::decode(&stored.bytes)
            .map_err(|e| anyhow::anyhow!("build {build_id}: {e}"));
    }
    if stored.format != "go" {
        anyhow::bail!(
            "build {build_id}: layout format {:?} is not known to this livecov",
            stored.format
        );
    }
    let (meta, _) = livecov_formats::gocovdata::decode_meta_file(&stored.bytes)
        .map_err(|e| anyhow::anyhow!("stored layout of build {build_id}: {e}"))?;
    meta.to_layout().ok_or_else(|| {
        anyhow::anyhow!(
            "stored layout of build {build_id}: counter mode {} is not usable",
            meta.mode
        )
    })
}

/// Per-file covered statements of each build with a changed owner: the merge of its
/// owners' counters (host duplicates of pod processes are already left out there).
fn update_build_totals(
    store: &mut Store,
    layouts: &HashMap<i64, Arc<BuildInfo>>,
    changed: &BTreeSet<i64>,
    rule: livecov_model::MergeRule,
) -> Result<()> {
    // Only the owners of changed builds, each read once.
    let mut owners: BTreeMap<i64, Vec<OwnerRow>> = BTreeMap::new();
    for &id in changed {
        owners.insert(id, store.owners_of_build(id)?);
    }
    let per_build: BTreeMap<i64, Vec<&OwnerRow>> = owners
        .iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(id, list)| (*id, list.iter().collect()))
        .collect();
    let totals: Vec<(i64, u64, Vec<BuildFile>)> = per_build
        .par_iter()
        .map(|(id, list)| {
            let info = &layouts[id];
            let mode = info.mode();
            let mut merged = take_buffer(info.total());
            for o in list {
                for_each_nonzero(&o.counters, info.total(), |k, v| {
                    rule.merge_one(mode, &mut merged[k], v);
                })
                .map_err(|e| anyhow::anyhow!("store: owner {}: {e}", o.key))?;
            }
            let files = build_files(info, Some(&merged));
            give_back(merged);
            Ok((*id, info.statements, files))
        })
        .collect::<Result<_>>()?;
    store.transaction(|tx| {
        for (id, statements, files) in &totals {
            // Statements and exclusions too: the exclusion set may have changed.
            tx.set_build_files(*id, *statements, files)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// An input's processes as members of owner groups: (input index, process).
type Members = BTreeMap<String, Vec<(usize, ProcessRow)>>;

/// Groups processes into owners, stores each changed group, and updates the totals of
/// the builds whose owners changed. Returns the number of groups recomputed.
fn compile_owners(
    store: &mut Store,
    run: &Run<'_>,
    args: &CompileSettings,
    filter: &UpdateFilter,
    timer: &livecov_formats::gocovdata::dir::PhaseTimer,
) -> Result<usize> {
    let inputs: Vec<InputRow> = store
        .inputs()?
        .into_iter()
        .filter(|i| i.error.is_empty())
        .collect();
    let builds: HashMap<i64, [u8; 16]> = store
        .builds()?
        .into_iter()
        .map(|b| (b.id, b.hash))
        .collect();
    let origins: Vec<PodOrigin> = inputs
        .iter()
        .map(|i| PodOrigin {
            namespace: i.namespace.clone(),
            pod_name: i.pod.clone(),
            container: i.container.clone(),
            hostname: i.hostname.clone(),
            binary: i.binary.clone(),
            owner_ref: (!i.owner_kind.is_empty())
                .then(|| (i.owner_kind.clone(), i.owner_name.clone())),
            is_host: i.is_host,
        })
        .collect();
    let owners = infer_owners(&origins);

    // Processes of every input; host processes that duplicate a pod process (same
    // binary, node and build: the producer uploads hostNetwork pods twice) drop out.
    let mut per_input = Vec::with_capacity(inputs.len());
    let mut pod_keys = BTreeSet::new();
    for i in &inputs {
        let procs = store.processes(&i.dir)?;
        if !i.is_host {
            for p in &procs {
                pod_keys.insert((i.binary.clone(), i.hostname.clone(), p.build_id));
            }
        }
        per_input.push(procs);
    }
    let mut members: Members = BTreeMap::new();
    for (idx, (i, procs)) in inputs.iter().zip(per_input).enumerate() {
        let owner = &owners[idx];
        for p in procs {
            if i.is_host && pod_keys.contains(&(i.binary.clone(), i.hostname.clone(), p.build_id)) {
                continue;
            }
            let ns = if i.is_host {
                "host"
            } else {
                i.namespace.as_str()
            };
            let binary = if i.binary.is_empty() {
                &i.container
            } else {
                &i.binary
            };
            let build_hex = builds
                .get(&p.build_id)
                .map(livecov_formats::gocovdata::hex16)
                .unwrap_or_default();
            let key = format!("{ns}/{}/{}/{binary}/{build_hex}", owner.kind, owner.name);
            members.entry(key).or_default().push((idx, p));
        }
    }

    timer.mark("owners: read processes");
    let stored: HashMap<String, String> = store
        .transaction(|tx| tx.owner_hashes())?
        .into_iter()
        .collect();
    // A group is recomputed when its members' content, the merge rule, or --update say so.
    let group_hash = |list: &[(usize, ProcessRow)]| {
        let mut hashes: Vec<&str> = list
            .iter()
            .map(|(idx, _)| inputs[*idx].content_hash.as_str())
            .collect();
        hashes.sort();
        let mut h = Md5::new();
        for x in &hashes {
            h.update(x.as_bytes());
        }
        // The rule and the exclusion set are part of the key: changing either recomputes.
        h.update(args.merge.name().as_bytes());
        for e in &args.exclude_files {
            h.update(b"\0exclude:");
            h.update(e.as_bytes());
        }
        hex(&h.finalize())
    };
    let mut todo = Vec::new();
    for (key, list) in &members {
        let input_hash = group_hash(list);
        let forced = list.iter().any(|(idx, _)| filter.forces(&inputs[*idx]));
        if stored.get(key) != Some(&input_hash) || forced {
            todo.push((key, list, input_hash));
        }
    }
    // The same groups per scenario: the members whose input carries that label.
    let scenario_members = scenario_groups(&members, &inputs);
    let stored_scenarios: HashMap<String, String> = store
        .transaction(|tx| tx.scenario_owner_hashes())?
        .into_iter()
        .collect();
    let mut scenario_todo = Vec::new();
    for ((scenario, key), list) in &scenario_members {
        let input_hash = group_hash(list);
        let forced = list.iter().any(|(idx, _)| filter.forces(&inputs[*idx]));
        if stored_scenarios.get(key) != Some(&input_hash) || forced {
            scenario_todo.push((scenario, key, list, input_hash));
        }
    }
    let live_scenario_keys: BTreeSet<&String> = scenario_members.keys().map(|(_, k)| k).collect();
    let deleted_scenarios: Vec<&String> = stored_scenarios
        .keys()
        .filter(|k| !live_scenario_keys.contains(k))
        .collect();
    let mut layouts: HashMap<i64, Arc<BuildInfo>> = HashMap::new();
    let deleted: Vec<&String> = stored
        .keys()
        .filter(|k| !members.contains_key(*k))
        .collect();
    let mut changed: BTreeSet<i64> = todo.iter().map(|(_, l, _)| l[0].1.build_id).collect();
    for (key, build_id) in store.owner_builds()? {
        if deleted.contains(&&key) {
            changed.insert(build_id);
        }
    }
    let scenario_builds = scenario_todo.iter().map(|(_, _, l, _)| l[0].1.build_id);
    for id in changed.iter().copied().chain(scenario_builds) {
        if let std::collections::hash_map::Entry::Vacant(e) = layouts.entry(id) {
            e.insert(run.layout_of(store, id, &builds)?);
        }
    }
    let ctx = OwnerContext {
        inputs: &inputs,
        owners: &owners,
        layouts: &layouts,
        rule: args.merge,
    };
    let rows: Vec<OwnerRow> = todo
        .par_iter()
        .map(|(key, list, input_hash)| ctx.row(key, list, input_hash))
        .collect::<Result<_>>()?;
    let scenario_rows: Vec<(&String, OwnerRow)> = scenario_todo
        .par_iter()
        .map(|(scenario, key, list, input_hash)| Ok((*scenario, ctx.row(key, list, input_hash)?)))
        .collect::<Result<_>>()?;
    timer.mark("owners: merge");
    store.transaction(|tx| {
        for r in &rows {
            tx.upsert_owner(r)?;
        }
        for key in &deleted {
            tx.delete_owner(key)?;
        }
        for (scenario, r) in &scenario_rows {
            tx.upsert_scenario_owner(scenario, r)?;
        }
        for key in &deleted_scenarios {
            tx.delete_scenario_owner(key)?;
        }
        Ok(())
    })?;
    timer.mark("owners: write");
    update_build_totals(store, &layouts, &changed, args.merge)?;
    timer.mark("build totals");
    Ok(rows.len())
}

/// Owner groups split by scenario: ((scenario, scenario group key), members), for the
/// members whose input has a `scenario` label. The key is the owner's with the scenario
/// in front, so one owner in two scenarios is two groups.
fn scenario_groups(
    members: &Members,
    inputs: &[InputRow],
) -> BTreeMap<(String, String), Vec<(usize, ProcessRow)>> {
    let mut out: BTreeMap<(String, String), Vec<(usize, ProcessRow)>> = BTreeMap::new();
    for (key, list) in members {
        for (idx, p) in list {
            let scenario = inputs[*idx].label(SCENARIO_LABEL);
            if scenario.is_empty() {
                continue;
            }
            out.entry((scenario.to_owned(), format!("{scenario}\u{1f}{key}")))
                .or_default()
                .push((*idx, p.clone()));
        }
    }
    out
}

/// The input label naming the scenario its snapshots were taken in.
pub const SCENARIO_LABEL: &str = "scenario";

/// What computing one owner group needs.
struct OwnerContext<'a> {
    inputs: &'a [InputRow],
    owners: &'a [livecov_model::owners::Owner],
    layouts: &'a HashMap<i64, Arc<BuildInfo>>,
    rule: livecov_model::MergeRule,
}

impl OwnerContext<'_> {
    fn row(&self, key: &str, list: &[(usize, ProcessRow)], input_hash: &str) -> Result<OwnerRow> {
        let build_id = list[0].1.build_id;
        let info = &self.layouts[&build_id];
        let mode = info.mode();
        let mut merged = take_buffer(info.total());
        let mut pods = BTreeSet::new();
        let mut containers = BTreeSet::new();
        let mut hosts = BTreeSet::new();
        let mut images = BTreeSet::new();
        let mut seen: Vec<&str> = Vec::new();
        for (idx, p) in list {
            let i = &self.inputs[*idx];
            for_each_nonzero(&p.counters, info.total(), |k, v| {
                self.rule.merge_one(mode, &mut merged[k], v);
            })
            .map_err(|e| anyhow::anyhow!("store: process of {}: {e}", i.dir))?;
            pods.insert(if i.is_host {
                i.hostname.clone()
            } else {
                i.pod.clone()
            });
            containers.insert(if i.container.is_empty() {
                i.binary.clone()
            } else {
                i.container.clone()
            });
            if !i.hostname.is_empty() {
                hosts.insert(i.hostname.clone());
            }
            images.insert(if i.is_host || i.image.is_empty() {
                format!("host:{}", i.binary)
            } else {
                i.image.clone()
            });
            seen.push(&i.collected_at);
        }
        seen.sort();
        let first = &self.inputs[list[0].0];
        let owner = &self.owners[list[0].0];
        Ok(OwnerRow {
            key: key.to_owned(),
            namespace: if first.is_host {
                "host".into()
            } else {
                first.namespace.clone()
            },
            owner_type: owner.kind.to_string(),
            owner: owner.name.clone(),
            binary: if first.binary.is_empty() {
                first.container.clone()
            } else {
                first.binary.clone()
            },
            build_id,
            pods: pods.into_iter().collect(),
            containers: containers.into_iter().collect(),
            hosts: hosts.into_iter().collect(),
            images: images.into_iter().collect(),
            first_seen: seen.first().map(|s| s.to_string()).unwrap_or_default(),
            last_seen: seen.last().map(|s| s.to_string()).unwrap_or_default(),
            statements: info.statements,
            covered: covered_statements(info, &merged),
            input_hash: input_hash.to_owned(),
            counters: {
                let c = compress_counters(&merged);
                give_back(merged);
                c.map_err(|e| anyhow::anyhow!("owner {key}: {e}"))?
            },
        })
    }
}
