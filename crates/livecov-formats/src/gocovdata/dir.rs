//! Finding coverage files in input directories, pairing counter files with meta files,
//! and merging each build's counters (spec §4, §5.1–5.2).
//!
//! A [`MergedBuild`] is one build: a meta file and every counter file that belongs to
//! it, merged as `go tool covdata` merges them (stale snapshots included). Unlike
//! `go tool covdata`, identity comes from the hash inside the files, not from their names
//! (a deployed coverage server names them wrongly); a name is only a fallback when a
//! counter file's header hash matches no meta file. Each distinct layout is decoded once
//! per run, whatever the number of directories carrying a copy of it.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::gocovdata::{
    classify_file_name, decode_meta_file_with, hex16, peek_meta_hash, CounterFileReader,
    CovFileName, MetaFile, PackageCache, META_HEADER_LEN,
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

/// Where each function's counters lie in a build's dense counter vector.
pub struct Layout {
    /// Global index of each package's first function, plus the function count at the end.
    func_base: Vec<usize>,
    /// Counter offset of each function (global index), plus the total at the end.
    func_start: Vec<usize>,
}

impl Layout {
    /// The layout of a decoded meta file: its functions in package order.
    pub fn new(meta: &MetaFile) -> Layout {
        let mut func_base = Vec::with_capacity(meta.packages.len());
        let mut func_start = Vec::new();
        let mut total = 0;
        for p in &meta.packages {
            func_base.push(func_start.len());
            for f in &p.functions {
                func_start.push(total);
                total += f.units.len();
            }
        }
        func_base.push(func_start.len());
        func_start.push(total);
        Layout {
            func_base,
            func_start,
        }
    }

    /// The global index of function `func` of package `pkg`, when both exist. Reads
    /// only these flat arrays: the per-record check of a counter file stays in cache.
    pub fn global_index(&self, pkg: usize, func: usize) -> Option<usize> {
        let base = *self.func_base.get(pkg)?;
        let end = *self.func_base.get(pkg + 1)?;
        let g = base.checked_add(func)?;
        (g < end).then_some(g)
    }

    /// Counters (units) of the whole build.
    pub fn total(&self) -> usize {
        *self.func_start.last().unwrap_or(&0)
    }

    /// Functions of the whole build.
    pub fn functions(&self) -> usize {
        self.func_start.len() - 1
    }

    /// The global index of function `func` of package `pkg` (both must exist).
    pub fn func_index(&self, pkg: usize, func: usize) -> usize {
        self.func_base[pkg] + func
    }

    /// Where the counters of function `func` of package `pkg` lie in the dense vector.
    pub fn func_range(&self, pkg: usize, func: usize) -> std::ops::Range<usize> {
        let g = self.func_index(pkg, func);
        self.func_start[g]..self.func_start[g + 1]
    }

    fn package_range(&self, meta: &MetaFile, pkg: usize) -> std::ops::Range<usize> {
        let g = self.func_base[pkg];
        let n = meta.packages[pkg].functions.len();
        self.func_start[g]..self.func_start[g + n]
    }
}

/// One build found in the inputs, with its merged counters.
pub struct MergedBuild {
    /// The first meta file seen for this build.
    pub meta_path: PathBuf,
    /// The decoded layout (shared by every directory holding a copy).
    pub meta: Arc<MetaFile>,
    /// The counter files merged into `counters`, in visiting order.
    pub counter_files: Vec<LoadedCounters>,
    layout: Layout,
    /// Merged counters of every unit of the build, function after function.
    counters: Vec<u32>,
    /// Functions with at least one counter record (Go's "live" functions), by global
    /// function index.
    live: Vec<bool>,
}

impl MergedBuild {
    /// The counter mode byte's model value, when usable.
    pub fn mode(&self) -> Option<CounterMode> {
        CounterMode::from_go(self.meta.mode)
    }

    /// The merged counters of one function.
    pub fn func_counters(&self, pkg: usize, func: usize) -> &[u32] {
        &self.counters[self.layout.func_range(pkg, func)]
    }

    /// The merged counters of a whole package (all functions, in order).
    pub fn package_counters(&self, pkg: usize) -> &[u32] {
        &self.counters[self.layout.package_range(&self.meta, pkg)]
    }

    /// True when some counter file had a record for the function.
    pub fn is_live(&self, pkg: usize, func: usize) -> bool {
        self.live[self.layout.func_index(pkg, func)]
    }
}

/// A decoded counter file, kept for `debugdump` and `merge` args.
pub struct LoadedCounters {
    /// The counter file.
    pub path: PathBuf,
    /// Its args table (key, value), in file order.
    pub args: Vec<(String, String)>,
    /// `os.Args` rebuilt from the args table, when complete.
    pub os_args: Option<Vec<String>>,
}

/// The copy of a layout that was decoded, and why other copies were passed over.
#[derive(Clone, Debug)]
pub struct ChosenMeta {
    /// The decoded layout.
    pub meta: Arc<MetaFile>,
    /// The copy it was decoded from.
    pub path: PathBuf,
    /// Copies tried before it that could not be used: (path, why).
    pub rejected: Vec<(PathBuf, String)>,
    /// No copy's content matches the hash in its header: this one decoded, but may be
    /// damaged (or come from a writer whose hash livecov does not know).
    pub unverified: bool,
}

/// A layout decoded from one copy: the layout and the copy's path.
type Decoded = (Arc<MetaFile>, PathBuf);

/// Decoded layouts, shared across the runs of one process (e.g. `textfmt -each`).
///
/// Only successes are kept: a copy that fails to decode says nothing about the other
/// copies of the same hash, which are tried next.
#[derive(Default)]
pub struct MetaCache {
    by_hash: std::sync::Mutex<HashMap<[u8; 16], Decoded>>,
    packages: PackageCache,
    /// Sorted unit order per decoded package (valid as long as `packages` holds them).
    pub orders: crate::goprofile::covdata::OrderCache,
}

impl MetaCache {
    /// The decoded layout of `hash`, decoding `path` on first use.
    pub fn get_or_decode(&self, hash: [u8; 16], path: &Path) -> Result<Arc<MetaFile>, String> {
        self.decode_copies(hash, &[path])
            .map(|c| c.meta)
            .map_err(|mut e| e.pop().map(|(_, why)| why).unwrap_or_default())
    }

    /// The layout of `hash` from the first of `copies` (in the order given) whose
    /// content verifies against the hash in its header; else from the first that
    /// decodes; a copy that cannot be read or decoded, or whose header names another
    /// hash, is passed over. The same copies in the same order give the same result on
    /// every run, whatever thread asks first. On failure, why each copy failed.
    pub fn decode_copies(
        &self,
        hash: [u8; 16],
        copies: &[&Path],
    ) -> Result<ChosenMeta, Vec<(PathBuf, String)>> {
        if let Some((meta, path)) = self.by_hash.lock().expect("cache lock").get(&hash) {
            return Ok(ChosenMeta {
                meta: meta.clone(),
                path: path.clone(),
                rejected: Vec::new(),
                // Reported by whoever decoded it first.
                unverified: false,
            });
        }
        let mut rejected = Vec::new();
        let mut unverified: Option<(Arc<MetaFile>, PathBuf)> = None;
        let mut passed_over: Vec<PathBuf> = Vec::new();
        let mut bytes = Vec::new();
        for path in copies {
            let decoded = super::read::read_data_file(path, super::META_MAGIC, &mut bytes)
                .and_then(|()| {
                    decode_meta_file_with(&bytes, &self.packages)
                        .map(|(m, _warnings)| m)
                        .map_err(|e| format!("{}: {e}", path.display()))
                });
            let meta = match decoded {
                Ok(m) if m.hash == hash => m,
                Ok(m) => {
                    rejected.push((
                        path.to_path_buf(),
                        format!(
                            "{}: at byte offset 24: header names hash {}, expected {}",
                            path.display(),
                            hex16(&m.hash),
                            hex16(&hash)
                        ),
                    ));
                    continue;
                }
                Err(e) => {
                    rejected.push((path.to_path_buf(), format!("decoding meta-data file {e}")));
                    continue;
                }
            };
            if super::read::meta_hash_verifies(&meta, &bytes) {
                // Copies that decoded but did not verify were passed over for this one.
                for p in passed_over {
                    rejected.push((
                        p.clone(),
                        format!(
                            "{}: its content does not match the hash {} in its header \
                             (damaged copy); used {} instead",
                            p.display(),
                            hex16(&hash),
                            path.display()
                        ),
                    ));
                }
                return Ok(self.keep(hash, Arc::new(meta), path.to_path_buf(), rejected, false));
            }
            passed_over.push(path.to_path_buf());
            if unverified.is_none() {
                unverified = Some((Arc::new(meta), path.to_path_buf()));
            }
        }
        // No copy verifies (a writer whose hash livecov does not know): the first that
        // decodes, as before verification existed.
        match unverified {
            Some((meta, path)) => Ok(self.keep(hash, meta, path, rejected, true)),
            None => Err(rejected),
        }
    }

    fn keep(
        &self,
        hash: [u8; 16],
        meta: Arc<MetaFile>,
        path: PathBuf,
        rejected: Vec<(PathBuf, String)>,
        unverified: bool,
    ) -> ChosenMeta {
        let (meta, path) = self
            .by_hash
            .lock()
            .expect("cache lock")
            .entry(hash)
            .or_insert((meta, path))
            .clone();
        ChosenMeta {
            meta,
            path,
            rejected,
            unverified,
        }
    }
}

/// The meta hash in the header of meta file `path` (reads only the header).
pub fn read_header(path: &Path) -> Result<[u8; 16], String> {
    // Checked before opening: opening a FIFO for reading waits for a writer.
    let md = fs::metadata(path)
        .map_err(|e| format!("reading meta-data file {}: {e}", path.display()))?;
    if !md.is_file() {
        return Err(format!(
            "meta-data file {}: not a regular file; coverage files are regular files",
            path.display()
        ));
    }
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
    /// Each build found, with its merged counters, in meta-file path order.
    pub builds: Vec<MergedBuild>,
    /// Every problem met, in input order.
    pub diags: Diagnostics,
}

/// Reads the given directories: lists them, decodes each distinct layout once, pairs and
/// merges the counter files of each pod. Problems with one file are recorded in the
/// diagnostics and the rest is still read.
pub fn load(dirs: &[PathBuf], opts: LoadOptions, cache: &MetaCache) -> Loaded {
    let timer = PhaseTimer::new();
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

    timer.mark("list");
    // Identity of each meta file from its header; the first file seen per hash wins.
    let headers: Vec<Result<[u8; 16], String>> =
        metas.par_iter().map(|m| read_header(&m.path)).collect();
    let mut pod_of_hash: HashMap<[u8; 16], usize> = HashMap::new();
    let mut pod_of_tag: HashMap<&str, usize> = HashMap::new();
    let mut firsts: Vec<(&MetaEntry, [u8; 16])> = Vec::new();
    // Every copy of each build's meta file, in listing order: a damaged first copy
    // falls back to the next.
    let mut copies: Vec<Vec<&Path>> = Vec::new();
    let mut unreadable: HashMap<&str, &Path> = HashMap::new();
    for (entry, header) in metas.iter().zip(headers) {
        match header {
            Ok(hash) => {
                let idx = *pod_of_hash.entry(hash).or_insert_with(|| {
                    firsts.push((entry, hash));
                    copies.push(Vec::new());
                    firsts.len() - 1
                });
                copies[idx].push(&entry.path);
                pod_of_tag.entry(entry.tag.as_str()).or_insert(idx);
            }
            Err(e) => {
                diags.error(e);
                unreadable.entry(entry.tag.as_str()).or_insert(&entry.path);
            }
        }
    }
    timer.mark("meta headers");

    // Counter files: decoded in parallel straight into per-thread dense vectors (one
    // file's records at a time, so a file that fails half way contributes nothing).
    // Each build's layout is decoded by the first thread that needs it, so decoding
    // the largest layouts overlaps with reading the other builds' counter files
    // instead of holding up every thread before the first counter is read.
    let builds: Vec<OnceLock<Build>> = firsts.iter().map(|_| OnceLock::new()).collect();
    let pairing = Pairing {
        pod_of_hash: &pod_of_hash,
        pod_of_tag: &pod_of_tag,
        unreadable: &unreadable,
        firsts: &firsts,
        copies: &copies,
        builds: &builds,
        cache,
    };
    // Files of the same build are read one after the other, so that build's counter
    // vector stays in the core's cache; the name's hash tells the build before the file
    // is opened (outcomes are put back in input order below).
    let mut order: Vec<(usize, &CounterEntry)> = counters.iter().enumerate().collect();
    order.sort_by(|a, b| a.1.tag.cmp(&b.1.tag));
    let (acc, mut files) = order
        .into_par_iter()
        .fold(
            || {
                (
                    Accumulator::new(firsts.len()),
                    Vec::new(),
                    Scratch::default(),
                )
            },
            |(mut acc, mut files, mut scratch), (index, c)| {
                files.push(load_counter_file(
                    index,
                    c,
                    &pairing,
                    &mut acc,
                    &mut scratch,
                ));
                (acc, files, scratch)
            },
        )
        .map(|(acc, files, _)| (acc, files))
        .reduce(
            || (Accumulator::new(firsts.len()), Vec::new()),
            |(mut a, mut fa), (b, fb)| {
                a.absorb(b, &builds);
                fa.extend(fb);
                (a, fa)
            },
        );
    // Then the layouts no counter file asked for; unusable builds are reported in meta
    // file order, before the counter files' messages, as when layouts came first.
    (0..firsts.len()).into_par_iter().for_each(|pod| {
        pairing.build(pod);
    });
    let usable: Vec<Option<(Arc<MetaFile>, Layout)>> = builds
        .into_iter()
        .map(|build| match build.into_inner() {
            Some(Ok((meta, layout, rejected))) => {
                for why in rejected {
                    diags.warn(why);
                }
                Some((meta, layout))
            }
            Some(Err(e)) => {
                diags.error(e);
                None
            }
            None => None,
        })
        .collect();
    timer.mark("counters");

    // Report in input order, whatever thread read the file.
    files.sort_by_key(|f| f.index);
    let mut per_pod: Vec<Vec<LoadedCounters>> = (0..usable.len()).map(|_| Vec::new()).collect();
    let mut ordered: Vec<(usize, &CounterEntry, FileOutcome)> = files
        .into_iter()
        .map(|f| (counters[f.index].dir_index, &counters[f.index], f))
        .collect();
    // Go visits a pod's counter files by (input directory, path).
    ordered.sort_by(|a, b| (a.0, &a.1.path).cmp(&(b.0, &b.1.path)));
    for (_, entry, f) in ordered {
        diags.extend(f.diags);
        if let Some(pod) = f.pod {
            if f.overflowed {
                diags.warn(format!(
                    "uint32 overflow during counter merge of {}: sums saturated at 4294967295",
                    entry.path.display()
                ));
            }
            per_pod[pod].push(LoadedCounters {
                path: entry.path.clone(),
                args: f.args,
                os_args: f.os_args,
            });
        }
    }
    let mut pods = Vec::with_capacity(usable.len());
    for (((entry, _), build), (files, slot)) in firsts
        .iter()
        .zip(usable)
        .zip(per_pod.into_iter().zip(acc.pods))
    {
        let Some((meta, layout)) = build else {
            continue;
        };
        let (counters, live) =
            slot.unwrap_or_else(|| (vec![0; layout.total()], vec![false; layout.functions()]));
        pods.push(MergedBuild {
            meta_path: entry.path.clone(),
            meta,
            counter_files: files,
            layout,
            counters,
            live,
        });
    }
    // Go visits pods in the order of their meta file paths.
    pods.sort_by(|a, b| a.meta_path.cmp(&b.meta_path));
    timer.mark("merge");
    Loaded {
        builds: pods,
        diags,
    }
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

/// Merged counters and live flags per build, as one thread saw them.
struct Accumulator {
    pods: Vec<Option<(Vec<u32>, Vec<bool>)>>,
}

impl Accumulator {
    fn new(n: usize) -> Accumulator {
        Accumulator {
            pods: (0..n).map(|_| None).collect(),
        }
    }

    fn slot(&mut self, pod: usize, layout: &Layout) -> &mut (Vec<u32>, Vec<bool>) {
        self.pods[pod].get_or_insert_with(|| {
            (
                written_zeros(layout.total()),
                vec![false; layout.functions()],
            )
        })
    }

    /// Merges another thread's vectors into these. Sums and ORs are associative and
    /// commutative, so the order files were read in does not change the result.
    fn absorb(&mut self, other: Accumulator, builds: &[OnceLock<Build>]) {
        for (i, slot) in other.pods.into_iter().enumerate() {
            let Some((counters, live)) = slot else {
                continue;
            };
            // A slot exists only for a build a file was merged into, so it decoded.
            let Some(Ok((meta, _, _))) = builds[i].get() else {
                continue;
            };
            match &mut self.pods[i] {
                None => self.pods[i] = Some((counters, live)),
                Some((dst, dst_live)) => {
                    let mode = CounterMode::from_go(meta.mode).unwrap_or(CounterMode::Count);
                    merge_counters(mode, dst, &counters);
                    for (d, s) in dst_live.iter_mut().zip(live) {
                        *d |= s;
                    }
                }
            }
        }
    }
}

/// A zeroed vector whose pages are already written. `vec![0; n]` maps the shared zero
/// page, and the first write to each page then costs a copy-on-write fault with a TLB
/// shoot-down on every core, which dominated merging on two threads.
pub fn written_zeros(n: usize) -> Vec<u32> {
    let mut v = Vec::with_capacity(n);
    v.extend(std::iter::repeat_n(0u32, n));
    v
}

/// Buffers reused from one counter file to the next on a thread.
#[derive(Default)]
struct Scratch {
    /// The file's bytes. Reused, because freeing large buffers unmaps memory, and that
    /// costs a TLB shoot-down on every core.
    bytes: Vec<u8>,
    /// The records of the file, as `CounterFileReader::read_all_records` lays them out.
    values: Vec<u32>,
}

/// What reading one counter file gave, besides its counters.
struct FileOutcome {
    index: usize,
    pod: Option<usize>,
    args: Vec<(String, String)>,
    os_args: Option<Vec<String>>,
    overflowed: bool,
    diags: Diagnostics,
}

/// What a counter file is paired against.
struct Pairing<'a> {
    pod_of_hash: &'a HashMap<[u8; 16], usize>,
    pod_of_tag: &'a HashMap<&'a str, usize>,
    /// Meta files whose header could not be read, by file-name tag.
    unreadable: &'a HashMap<&'a str, &'a Path>,
    firsts: &'a [(&'a MetaEntry, [u8; 16])],
    /// Every copy of each build's meta file.
    copies: &'a [Vec<&'a Path>],
    /// Each build's layout, once a thread has decoded it.
    builds: &'a [OnceLock<Build>],
    cache: &'a MetaCache,
}

/// A build's decoded layout (and the copies passed over), or why it is not usable.
type Build = Result<(Arc<MetaFile>, Layout, Vec<String>), String>;

impl Pairing<'_> {
    /// The layout of build `pod`, decoded on first use (a second thread asking for it
    /// meanwhile waits for the first).
    fn build(&self, pod: usize) -> &Build {
        self.builds[pod].get_or_init(|| {
            let (_, hash) = self.firsts[pod];
            let chosen = self
                .cache
                .decode_copies(hash, &self.copies[pod])
                .map_err(|why| {
                    why.into_iter()
                        .map(|(_, w)| w)
                        .collect::<Vec<_>>()
                        .join("; ")
                })?;
            // A build is usable when its meta file decodes and has a known mode.
            let meta = check_usable(&chosen.path, chosen.meta)?;
            let layout = Layout::new(&meta);
            let rejected = chosen.rejected.into_iter().map(|(_, w)| w).collect();
            Ok((meta, layout, rejected))
        })
    }
}

fn load_counter_file(
    index: usize,
    c: &CounterEntry,
    pairing: &Pairing<'_>,
    acc: &mut Accumulator,
    scratch: &mut Scratch,
) -> FileOutcome {
    let mut out = FileOutcome {
        index,
        pod: None,
        args: Vec::new(),
        os_args: None,
        overflowed: false,
        diags: Diagnostics::new(),
    };
    let diags = &mut out.diags;
    if let Err(e) = super::read::read_data_file(&c.path, super::COUNTER_MAGIC, &mut scratch.bytes) {
        diags.error(format!("counter-data file {e}"));
        return out;
    }
    let bytes = std::mem::take(&mut scratch.bytes);
    merge_counter_bytes(&bytes, c, pairing, acc, scratch, &mut out);
    scratch.bytes = bytes;
    out
}

fn merge_counter_bytes(
    bytes: &[u8],
    c: &CounterEntry,
    pairing: &Pairing<'_>,
    acc: &mut Accumulator,
    scratch: &mut Scratch,
    out: &mut FileOutcome,
) {
    let diags = &mut out.diags;
    let path = c.path.display();
    let (mut reader, warnings) = match CounterFileReader::new(bytes) {
        Ok(v) => v,
        Err(e) => {
            diags.error(format!("decoding counter-data file {path}: {e}"));
            return;
        }
    };
    for w in warnings {
        diags.warn(format!("counter-data file {path}: {w}"));
    }
    if reader.segments > 1 {
        diags.warn(format!(
            "counter-data file {path}: {} segments; only the first is read, as go tool covdata does",
            reader.segments
        ));
    }
    let pod = match pairing.pod_of_hash.get(&reader.meta_hash) {
        Some(&p) => p,
        None => match pairing.pod_of_tag.get(c.tag.as_str()) {
            Some(&p) => {
                diags.warn(format!(
                    "counter-data file {path}: header names meta hash {}, which no meta-data file has; \
                     paired with {} by file name",
                    hex16(&reader.meta_hash),
                    pairing.firsts[p].0.path.display()
                ));
                p
            }
            None if pairing.unreadable.contains_key(c.tag.as_str()) => {
                diags.error(format!(
                    "counter-data file {path} skipped: its meta-data file {} could not be read",
                    pairing.unreadable[c.tag.as_str()].display()
                ));
                return;
            }
            None => {
                diags.error(format!(
                    "counter-data file {path}: no meta-data file with hash {} in the input directories \
                     (expected covmeta.{} beside it)",
                    hex16(&reader.meta_hash),
                    hex16(&reader.meta_hash)
                ));
                return;
            }
        },
    };
    let Ok((meta, layout, _)) = pairing.build(pod) else {
        diags.error(format!(
            "counter-data file {path} skipped: its meta-data file {} could not be read",
            pairing.firsts[pod].0.path.display()
        ));
        return;
    };

    // Read every record first: a file that fails half way contributes nothing.
    let records = match reader.read_all_records(&mut scratch.values) {
        Ok(records) => records,
        Err(e) => {
            diags.error(format!("decoding counter-data file {path}: {e}"));
            return;
        }
    };
    if let Some(w) = reader.trailing_warning() {
        diags.warn(format!("counter-data file {path}: {w}"));
    }
    out.os_args = os_args(&reader.args);
    out.args = std::mem::take(&mut reader.args);
    out.pod = Some(pod);

    let mode = CounterMode::from_go(meta.mode).unwrap_or(CounterMode::Count);
    let (counters, live) = acc.slot(pod, layout);
    let mut problems = Vec::new();
    out.overflowed |= super::read::merge_records(
        &reader,
        records,
        meta,
        layout,
        mode,
        counters,
        Some(live),
        &mut problems,
    );
    for p in problems {
        diags.error(format!(
            "counter-data file {path}: at byte offset {}: {}",
            p.offset, p.message
        ));
    }
}

/// `os.Args` from an args table (`argc`, `argv0`…), as Go's reader rebuilds it.
pub fn os_args(args: &[(String, String)]) -> Option<Vec<String>> {
    let get = |k: &str| {
        args.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let argc: usize = get("argc")?.parse().ok()?;
    if argc > args.len() {
        return None;
    }
    Some(
        (0..argc)
            .map(|i| get(&format!("argv{i}")).unwrap_or("").to_owned())
            .collect(),
    )
}

/// Prints phase durations to stderr when `LIVECOV_TIMINGS` is set (for bench/ work).
pub struct PhaseTimer {
    on: bool,
    last: std::cell::Cell<std::time::Instant>,
}

impl Default for PhaseTimer {
    fn default() -> PhaseTimer {
        PhaseTimer::new()
    }
}

impl PhaseTimer {
    /// A timer starting now, printing only when `LIVECOV_TIMINGS` is set.
    pub fn new() -> PhaseTimer {
        PhaseTimer {
            on: std::env::var_os("LIVECOV_TIMINGS").is_some(),
            last: std::cell::Cell::new(std::time::Instant::now()),
        }
    }

    /// Prints the time since the previous mark as `phase`.
    pub fn mark(&self, phase: &str) {
        if self.on {
            let now = std::time::Instant::now();
            eprintln!(
                "timing: {phase} {:.1} ms",
                (now - self.last.get()).as_secs_f64() * 1e3
            );
            self.last.set(now);
        }
    }
}
