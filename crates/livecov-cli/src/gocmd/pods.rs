//! Finding coverage files in input directories, pairing counter files with meta files,
//! and merging each pod's counters (spec §4, §5.1–5.2).
//!
//! A pod is one build: a meta file and every counter file that belongs to it. Unlike
//! `go tool covdata`, identity comes from the hash inside the files, not from their names
//! (a deployed coverage server names them wrongly); a name is only a fallback when a
//! counter file's header hash matches no meta file. Each distinct layout is decoded once
//! per run, whatever the number of directories carrying a copy of it.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use livecov_formats::gocovdata::{
    classify_file_name, decode_counter_file, decode_meta_file, hex16, peek_meta_hash, CovFileName,
    MetaFile, META_HEADER_LEN,
};
use livecov_model::{merge_counters, CounterMode, Diagnostics};
use rayon::prelude::*;

/// A meta file as found on disk.
#[derive(Clone, Debug)]
struct MetaEntry {
    path: PathBuf,
    tag: String,
}

/// A counter file as found on disk.
#[derive(Clone, Debug)]
struct CounterEntry {
    path: PathBuf,
    dir_index: usize,
    tag: String,
}

/// Lists the inputs of one `-i` directory, in Go's order (entries sorted by name);
/// sub-directories are skipped unless `recursive`, where they are visited in name order
/// after the directory's own files.
fn list_dir(
    dir: &Path,
    dir_index: usize,
    recursive: bool,
    metas: &mut Vec<MetaEntry>,
    counters: &mut Vec<CounterEntry>,
    diags: &mut Diagnostics,
) {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            diags.error(format!("reading input directory {}: {e}", dir.display()));
            return;
        }
    };
    let mut names: Vec<(String, bool)> = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                diags.error(format!("reading input directory {}: {e}", dir.display()));
                continue;
            }
        };
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        names.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
    }
    names.sort();
    let mut subdirs = Vec::new();
    for (name, is_dir) in names {
        let path = dir.join(&name);
        if is_dir {
            subdirs.push(path);
            continue;
        }
        match classify_file_name(&name) {
            Some(CovFileName::Meta { tag }) => metas.push(MetaEntry {
                path,
                tag: tag.to_owned(),
            }),
            Some(CovFileName::Counters { tag, .. }) => counters.push(CounterEntry {
                path,
                dir_index,
                tag: tag.to_owned(),
            }),
            None => {}
        }
    }
    if recursive {
        for sub in subdirs {
            list_dir(&sub, dir_index, true, metas, counters, diags);
        }
    }
}

/// One build found in the inputs, with its merged counters.
pub struct Pod {
    /// The first meta file seen for this build.
    pub meta_path: PathBuf,
    /// The decoded layout (shared by every directory holding a copy).
    pub meta: Arc<MetaFile>,
    /// The counter files merged into `counters`, in visiting order.
    pub counter_files: Vec<LoadedCounters>,
    /// Per-function merged counters: `counters[func_start[p][f] + i]` is unit `i` of
    /// function `f` of package `p`.
    pub counters: Vec<u32>,
    /// For each package, the offset of each function's first counter.
    pub func_start: Vec<Vec<usize>>,
    /// Functions that have at least one counter record (Go's "live" functions), per
    /// package.
    pub live: Vec<Vec<bool>>,
}

impl Pod {
    /// The counter mode byte's model value, when usable.
    pub fn mode(&self) -> Option<CounterMode> {
        CounterMode::from_go(self.meta.mode)
    }

    /// The merged counters of one function.
    pub fn func_counters(&self, pkg: usize, func: usize) -> &[u32] {
        let start = self.func_start[pkg][func];
        let n = self.meta.packages[pkg].functions[func].units.len();
        &self.counters[start..start + n]
    }

    /// The merged counters of a whole package (all functions, in order).
    pub fn package_counters(&self, pkg: usize) -> &[u32] {
        let funcs = &self.meta.packages[pkg].functions;
        match funcs.len() {
            0 => &[],
            n => {
                let start = self.func_start[pkg][0];
                let end = self.func_start[pkg][n - 1] + funcs[n - 1].units.len();
                &self.counters[start..end]
            }
        }
    }
}

/// A decoded counter file, kept for `debugdump` and `merge` args.
pub struct LoadedCounters {
    pub path: PathBuf,
    pub args: Vec<(String, String)>,
    pub os_args: Option<Vec<String>>,
}

/// A decoded layout, or why it could not be decoded.
type Decoded = Result<Arc<MetaFile>, String>;

/// Decoded layouts, shared across the runs of one process (e.g. `textfmt -each`).
#[derive(Default)]
pub struct MetaCache {
    by_hash: std::sync::Mutex<HashMap<[u8; 16], Decoded>>,
}

impl MetaCache {
    fn get_or_decode(&self, hash: [u8; 16], path: &Path) -> Decoded {
        if let Some(hit) = self.by_hash.lock().expect("cache lock").get(&hash) {
            return hit.clone();
        }
        let decoded = fs::read(path)
            .map_err(|e| format!("reading meta-data file {}: {e}", path.display()))
            .and_then(|bytes| {
                decode_meta_file(&bytes)
                    .map(|(m, _warnings)| Arc::new(m))
                    .map_err(|e| format!("decoding meta-data file {}: {e}", path.display()))
            });
        self.by_hash
            .lock()
            .expect("cache lock")
            .entry(hash)
            .or_insert(decoded)
            .clone()
    }
}

fn read_header(path: &Path) -> Result<[u8; 16], String> {
    let mut f = fs::File::open(path)
        .map_err(|e| format!("reading meta-data file {}: {e}", path.display()))?;
    let mut buf = [0u8; META_HEADER_LEN];
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(format!("reading meta-data file {}: {e}", path.display())),
        }
    }
    peek_meta_hash(&buf[..got])
        .map_err(|e| format!("decoding meta-data file {}: {e}", path.display()))
}

/// Options that change how inputs are gathered and merged.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// Visit sub-directories of every input directory.
    pub recursive: bool,
}

/// Everything read from a list of input directories.
pub struct Loaded {
    pub pods: Vec<Pod>,
    pub diags: Diagnostics,
}

/// Reads the given directories: lists them, decodes each distinct layout once, pairs and
/// merges the counter files of each pod. Problems with one file are recorded in the
/// diagnostics and the rest is still read.
pub fn load(dirs: &[PathBuf], opts: LoadOptions, cache: &MetaCache) -> Loaded {
    let mut diags = Diagnostics::new();
    let mut metas = Vec::new();
    let mut counters = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let before = metas.len() + counters.len();
        let errors_before = diags.iter().count();
        list_dir(
            dir,
            i,
            opts.recursive,
            &mut metas,
            &mut counters,
            &mut diags,
        );
        if metas.len() + counters.len() == before && diags.iter().count() == errors_before {
            diags.error(format!(
                "input directory {} holds no coverage data files (expected covmeta.* and \
                 covcounters.* written by a program built with go build -cover{})",
                dir.display(),
                if opts.recursive {
                    ""
                } else {
                    "; -r searches sub-directories"
                }
            ));
        }
    }

    // Identity of each meta file from its header; the first file seen per hash wins.
    let headers: Vec<Result<[u8; 16], String>> =
        metas.par_iter().map(|m| read_header(&m.path)).collect();
    let mut pod_of_hash: HashMap<[u8; 16], usize> = HashMap::new();
    let mut pod_of_tag: HashMap<&str, usize> = HashMap::new();
    let mut firsts: Vec<(&MetaEntry, [u8; 16])> = Vec::new();
    let mut unreadable: HashMap<&str, &Path> = HashMap::new();
    for (entry, header) in metas.iter().zip(headers) {
        match header {
            Ok(hash) => {
                let idx = *pod_of_hash.entry(hash).or_insert_with(|| {
                    firsts.push((entry, hash));
                    firsts.len() - 1
                });
                pod_of_tag.entry(entry.tag.as_str()).or_insert(idx);
            }
            Err(e) => {
                diags.error(e);
                unreadable.entry(entry.tag.as_str()).or_insert(&entry.path);
            }
        }
    }
    let decoded: Vec<Decoded> = firsts
        .par_iter()
        .map(|(entry, hash)| cache.get_or_decode(*hash, &entry.path))
        .collect();

    // Counter files: decode in parallel, pair by header hash, validate against the meta.
    let loaded: Vec<Option<(usize, CounterFile2)>> = counters
        .par_iter()
        .map(|c| {
            let mut d = Diagnostics::new();
            let pairing = Pairing {
                pod_of_hash: &pod_of_hash,
                pod_of_tag: &pod_of_tag,
                unreadable: &unreadable,
                firsts: &firsts,
                decoded: &decoded,
            };
            let r = load_counter_file(c, &pairing, &mut d);
            (r, d)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|(r, d)| {
            diags.extend(d);
            r
        })
        .collect();

    let mut per_pod: Vec<Vec<(usize, &CounterEntry, CounterFile2)>> =
        (0..firsts.len()).map(|_| Vec::new()).collect();
    for (entry, item) in counters.iter().zip(loaded) {
        if let Some((pod, file)) = item {
            per_pod[pod].push((entry.dir_index, entry, file));
        }
    }

    let mut pods = Vec::with_capacity(firsts.len());
    for (((entry, _hash), meta), mut files) in firsts.iter().zip(decoded).zip(per_pod) {
        let meta = match meta.and_then(|m| check_usable(&entry.path, m)) {
            Ok(m) => m,
            Err(e) => {
                diags.error(e);
                for (_, c, _) in &files {
                    diags.error(format!(
                        "counter-data file {} skipped: its meta-data file {} could not be read",
                        c.path.display(),
                        entry.path.display()
                    ));
                }
                continue;
            }
        };
        files.sort_by(|a, b| (a.0, &a.1.path).cmp(&(b.0, &b.1.path)));
        pods.push(merge_pod(entry.path.clone(), meta, files, &mut diags));
    }
    // Go visits pods in the order of their meta file paths.
    pods.sort_by(|a, b| a.meta_path.cmp(&b.meta_path));
    Loaded { pods, diags }
}

fn check_usable(path: &Path, meta: Arc<MetaFile>) -> Result<Arc<MetaFile>, String> {
    if CounterMode::from_go(meta.mode).is_none() {
        return Err(format!(
            "meta-data file {}: at byte offset 48: counter mode {} ({}) is not set, count or atomic",
            path.display(),
            meta.mode,
            meta.mode_name()
        ));
    }
    if livecov_model::CounterGranularity::from_go(meta.granularity).is_none() {
        return Err(format!(
            "meta-data file {}: at byte offset 49: counter granularity {} is not perblock or perfunc",
            path.display(),
            meta.granularity
        ));
    }
    Ok(meta)
}

/// A counter file decoded and checked against its meta file.
struct CounterFile2 {
    records: Vec<livecov_formats::gocovdata::FuncRecord>,
    args: Vec<(String, String)>,
    os_args: Option<Vec<String>>,
}

/// What a counter file is paired against.
struct Pairing<'a> {
    pod_of_hash: &'a HashMap<[u8; 16], usize>,
    pod_of_tag: &'a HashMap<&'a str, usize>,
    /// Meta files whose header could not be read, by file-name tag.
    unreadable: &'a HashMap<&'a str, &'a Path>,
    firsts: &'a [(&'a MetaEntry, [u8; 16])],
    decoded: &'a [Decoded],
}

fn load_counter_file(
    c: &CounterEntry,
    pairing: &Pairing<'_>,
    diags: &mut Diagnostics,
) -> Option<(usize, CounterFile2)> {
    let Pairing {
        pod_of_hash,
        pod_of_tag,
        unreadable,
        firsts,
        decoded,
    } = pairing;
    let path = c.path.display();
    let bytes = match fs::read(&c.path) {
        Ok(b) => b,
        Err(e) => {
            diags.error(format!("reading counter-data file {path}: {e}"));
            return None;
        }
    };
    let (file, warnings) = match decode_counter_file(&bytes) {
        Ok(v) => v,
        Err(e) => {
            diags.error(format!("decoding counter-data file {path}: {e}"));
            return None;
        }
    };
    for w in warnings {
        diags.warn(format!("counter-data file {path}: {w}"));
    }
    if file.segments > 1 {
        diags.warn(format!(
            "counter-data file {path}: {} segments; only the first is read, as go tool covdata does",
            file.segments
        ));
    }
    let pod = match pod_of_hash.get(&file.meta_hash) {
        Some(&p) => p,
        None => match pod_of_tag.get(c.tag.as_str()) {
            Some(&p) => {
                diags.warn(format!(
                    "counter-data file {path}: header names meta hash {}, which no meta-data file has; \
                     paired with {} by file name",
                    hex16(&file.meta_hash),
                    firsts[p].0.path.display()
                ));
                p
            }
            None if unreadable.contains_key(c.tag.as_str()) => {
                diags.error(format!(
                    "counter-data file {path} skipped: its meta-data file {} could not be read",
                    unreadable[c.tag.as_str()].display()
                ));
                return None;
            }
            None => {
                diags.error(format!(
                    "counter-data file {path}: no meta-data file with hash {} in the input directories \
                     (expected covmeta.{} beside it)",
                    hex16(&file.meta_hash),
                    hex16(&file.meta_hash)
                ));
                return None;
            }
        },
    };
    let Ok(meta) = &decoded[pod] else {
        // Reported once for the pod.
        return Some((
            pod,
            CounterFile2 {
                records: Vec::new(),
                args: file.args,
                os_args: None,
            },
        ));
    };
    let os_args = file.os_args();
    let mut records = Vec::with_capacity(file.records.len());
    let offsets = file.record_offsets;
    for (k, mut r) in file.records.into_iter().enumerate() {
        let at = offsets.get(k).copied().unwrap_or(0);
        let Some(pkg) = meta.packages.get(r.pkg as usize) else {
            diags.error(format!(
                "counter-data file {path}: at byte offset {at}: function record {k} names package {} \
                 but the meta-data file has {} (index out of range); record ignored",
                r.pkg,
                meta.packages.len()
            ));
            continue;
        };
        let Some(func) = pkg.functions.get(r.func as usize) else {
            diags.error(format!(
                "counter-data file {path}: at byte offset {at}: function record {k} names function {} \
                 of package {} which has {} (index out of range); record ignored",
                r.func,
                pkg.path,
                pkg.functions.len()
            ));
            continue;
        };
        let (units, got) = (func.units.len(), r.counters.len());
        if got != units {
            // A longer record keeps its first counters (as covdata does); a shorter one
            // cannot be aligned with the layout and is left out. Both are errors.
            let what = if got > units {
                "the extra counters are ignored"
            } else {
                "record ignored"
            };
            diags.error(format!(
                "counter-data file {path}: at byte offset {at}: function record {k} ({} in {}) has \
                 {got} counters, expected {units} (the units its meta-data file declares); {what}",
                func.name, func.file,
            ));
            if got < units {
                continue;
            }
            r.counters.truncate(units);
        }
        records.push(r);
    }
    Some((
        pod,
        CounterFile2 {
            records,
            args: file.args,
            os_args,
        },
    ))
}

fn merge_pod(
    meta_path: PathBuf,
    meta: Arc<MetaFile>,
    files: Vec<(usize, &CounterEntry, CounterFile2)>,
    diags: &mut Diagnostics,
) -> Pod {
    let mut func_start = Vec::with_capacity(meta.packages.len());
    let mut live = Vec::with_capacity(meta.packages.len());
    let mut total = 0usize;
    for p in &meta.packages {
        let mut starts = Vec::with_capacity(p.functions.len());
        for f in &p.functions {
            starts.push(total);
            total += f.units.len();
        }
        func_start.push(starts);
        live.push(vec![false; p.functions.len()]);
    }
    let mode = CounterMode::from_go(meta.mode).unwrap_or(CounterMode::Count);
    let mut counters = vec![0u32; total];
    let mut counter_files = Vec::with_capacity(files.len());
    for (_, entry, file) in files {
        let mut overflowed = false;
        for r in &file.records {
            let (p, f) = (r.pkg as usize, r.func as usize);
            let start = func_start[p][f];
            let dst = &mut counters[start..start + r.counters.len()];
            overflowed |= merge_counters(mode, dst, &r.counters).overflowed;
            live[p][f] = true;
        }
        if overflowed {
            diags.warn(format!(
                "uint32 overflow during counter merge of {}: sums saturated at 4294967295",
                entry.path.display()
            ));
        }
        counter_files.push(LoadedCounters {
            path: entry.path.clone(),
            args: file.args,
            os_args: file.os_args,
        });
    }
    Pod {
        meta_path,
        meta,
        counter_files,
        counters,
        func_start,
        live,
    }
}
