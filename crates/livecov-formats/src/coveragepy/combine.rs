//! Combining many data files into one in-memory result, as `coverage combine` does
//! (spec §1.10; upstream `data.py` `combine_parallel_data`, `sqldata.py` `update`), but
//! reading the inputs in parallel and never writing a file.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf, MAIN_SEPARATOR_STR};

use rayon::prelude::*;

use super::btree::LeafCache;
use super::data::{tracer_conflict, CoverageData, Measurement, MergeConflict};
use super::names::{combinable_files, hash_in_name};
use super::paths::{PathAliases, PathsExplanation};
use super::read::read_data_file_at;
use super::Error;

/// What [`combine_files`] did.
#[derive(Debug)]
pub struct CombineOutcome {
    /// The union of every readable input, paths mapped through `[paths]` with `/` and
    /// `\` turned into the local separator, contexts sorted by label.
    pub data: CoverageData,
    /// The inputs combined, in order.
    pub combined: Vec<PathBuf>,
    /// Inputs skipped as duplicates: the same `.H<hash>h` in the name, or the same bytes,
    /// as an input already combined (coverage.py skips, and would delete, them).
    pub skipped: Vec<PathBuf>,
    /// Inputs that could not be read, each error naming its file (coverage.py warns and
    /// counts them as "errored"; their data is not in `data`).
    pub errors: Vec<Error>,
    /// Oddities in readable inputs (see [`super::DataFile::warnings`]).
    pub warnings: Vec<String>,
    /// What `[paths]` did with every recorded path.
    pub paths: PathsExplanation,
}

/// Finds the data files `coverage combine` would (see [`combinable_files`]) and combines
/// them with [`combine_files`]. No files is not an error here: `combined` is empty.
pub fn combine(
    data_file: &Path,
    data_paths: &[PathBuf],
    aliases: &mut PathAliases,
) -> Result<CombineOutcome, Error> {
    let files = combinable_files(data_file, data_paths)?;
    combine_files(&files, aliases)
}

/// A digest of a whole input, to find inputs with the same bytes (coverage.py uses
/// SHA3-256): XXH3-128, fast; a match is confirmed byte for byte before an input is
/// skipped, so a crafted collision cannot drop a file.
fn content_digest(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

thread_local! {
    /// One read buffer per thread, reused from input to input (a fresh 600 KB buffer
    /// per file cost page faults on every input).
    static READ_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Whether two files hold the same bytes (confirms a digest match).
fn same_bytes(a: &Path, b: &Path) -> bool {
    match (std::fs::read(a), std::fs::read(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Everything gathered from a run of inputs, before paths are mapped.
#[derive(Default)]
struct Partial {
    data: CoverageData,
    first_lines: Option<u32>,
    first_arcs: Option<u32>,
    combined: Vec<u32>,
    /// The content digest of each input read (inputs without a hash in their name).
    digests: Vec<(u32, u128)>,
    errors: Vec<(u32, Error)>,
    warnings: Vec<(u32, String)>,
    conflicts: Vec<(u32, MergeConflict)>,
}

impl Partial {
    fn merge(mut self, other: Partial) -> Partial {
        let mut conflicts = Vec::new();
        self.data.merge_collecting(other.data, &mut conflicts);
        // Where a conflict arose between two runs of inputs is not known any more; the
        // later run's first input stands for it.
        let at = other.combined.first().copied().unwrap_or(0);
        self.conflicts
            .extend(conflicts.into_iter().map(|c| (at, c)));
        self.first_lines = min_opt(self.first_lines, other.first_lines);
        self.first_arcs = min_opt(self.first_arcs, other.first_arcs);
        self.combined.extend(other.combined);
        self.digests.extend(other.digests);
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
        self.conflicts.extend(other.conflicts);
        self
    }
}

fn min_opt(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Combines `files` (in the order given, normally [`combinable_files`]' order) into one
/// [`CoverageData`]: lines unioned and arcs unioned per (mapped path, context label).
///
/// Unreadable inputs are reported in [`CombineOutcome::errors`] and the rest still
/// combine. As in coverage.py, the whole combine fails when line data meets arc data
/// ([`Error::CantCombine`]) or two inputs name different plugin tracers for one file
/// ([`Error::TracerConflict`]).
pub fn combine_files(
    files: &[PathBuf],
    aliases: &mut PathAliases,
) -> Result<CombineOutcome, Error> {
    // Duplicates by the hash in the name are known before reading anything.
    let mut seen_names: HashSet<&str> = HashSet::new();
    let mut to_read = Vec::new();
    let mut skipped: Vec<usize> = Vec::new();
    for (index, path) in files.iter().enumerate() {
        let hash = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(hash_in_name);
        match hash {
            Some(hash) if !seen_names.insert(hash) => skipped.push(index),
            _ => to_read.push((index, hash.is_none())),
        }
    }

    // Each input is read once: its bytes give the content digest and the arc table.
    // Duplicates by content are only known once every digest is, so a duplicate is
    // combined too and dropped from the lists afterwards; its data is byte for byte an
    // earlier input's, so the union is the same.
    // 16 bytes a row kept, plus about 50 a page: 64 MiB of rows at most (the bench's
    // 1,000 files kept at most 1.6 M rows, 25 MiB).
    let leaves = LeafCache::new(4 << 20);
    let mut partial = to_read
        .par_iter()
        .fold(Partial::default, |mut acc, &(index, by_content)| {
            let input = index as u32;
            let result = READ_BUFFER.with_borrow_mut(|buf| {
                buf.clear();
                // Regular files only: opening a FIFO would block (the reader then
                // says what the file is).
                let path = &files[index];
                let read = std::fs::metadata(path)
                    .is_ok_and(|m| m.is_file())
                    .then(|| std::fs::File::open(path)?.read_to_end(buf))
                    .and_then(Result::ok);
                let bytes = read.map(|_| buf.as_slice());
                if let (Some(bytes), true) = (bytes, by_content) {
                    acc.digests.push((input, content_digest(bytes)));
                }
                // An unreadable file: the reader reports why, naming it.
                read_data_file_at(&files[index], bytes, Some(&leaves), input)
            });
            match result {
                Err(e) => acc.errors.push((input, e)),
                Ok(file) => {
                    match file.data.measurement() {
                        Measurement::Lines => {
                            acc.first_lines = min_opt(acc.first_lines, Some(input))
                        }
                        Measurement::Arcs => acc.first_arcs = min_opt(acc.first_arcs, Some(input)),
                        Measurement::Unknown => {}
                    }
                    let mut conflicts = Vec::new();
                    acc.data.merge_collecting(file.data, &mut conflicts);
                    acc.conflicts
                        .extend(conflicts.into_iter().map(|c| (input, c)));
                    acc.warnings
                        .extend(file.warnings.into_iter().map(|w| (input, w)));
                    acc.combined.push(input);
                }
            }
            acc
        })
        .reduce(Partial::default, Partial::merge);

    // The first input with given bytes is combined, later ones are skipped.
    partial.digests.sort_unstable();
    let mut by_digest: HashMap<u128, Vec<u32>> = HashMap::new();
    let mut duplicates: HashSet<u32> = HashSet::new();
    for &(input, digest) in &partial.digests {
        let same = by_digest.entry(digest).or_default();
        let path = &files[input as usize];
        if same.iter().any(|&j| same_bytes(&files[j as usize], path)) {
            duplicates.insert(input);
        } else {
            same.push(input);
        }
    }
    skipped.extend(duplicates.iter().map(|&i| i as usize));
    skipped.sort_unstable();
    partial.combined.retain(|i| !duplicates.contains(i));
    partial.errors.retain(|(i, _)| !duplicates.contains(i));
    partial.warnings.retain(|(i, _)| !duplicates.contains(i));

    if let (Some(lines), Some(arcs)) = (partial.first_lines, partial.first_arcs) {
        return Err(Error::CantCombine {
            lines: files[lines as usize].clone(),
            arcs: files[arcs as usize].clone(),
        });
    }
    partial.conflicts.sort_by_key(|(at, _)| *at);
    if let Some((at, MergeConflict::Tracer { file, ours, theirs })) =
        partial.conflicts.into_iter().next()
    {
        return Err(Error::TracerConflict {
            file,
            first: ours,
            second: theirs,
            input: files[at as usize].clone(),
        });
    }
    partial.combined.sort_unstable();
    partial.errors.sort_by_key(|(at, _)| *at);
    partial.warnings.sort_by_key(|(at, _)| *at);

    let (measurement, contexts, by_path) = partial.data.into_parts();
    let mut out = CoverageData::new();
    out.set_measurement(measurement);
    // Sorted labels, so that context ids do not depend on how the reads were scheduled.
    let mut labels: Vec<&String> = contexts.iter().collect();
    labels.sort();
    for label in labels {
        out.intern_context(label);
    }
    let remap: Vec<u32> = contexts
        .iter()
        .map(|label| out.intern_context(label))
        .collect();

    // Map in the order coverage.py first sees each path: by input, then by file id.
    let mut entries: Vec<_> = by_path.into_iter().collect();
    entries.sort_by(|a, b| a.1.order.cmp(&b.1.order).then_with(|| a.0.cmp(&b.0)));
    let mut results = Vec::with_capacity(entries.len());
    for (path, file) in entries {
        let mut result = aliases.map(&path);
        // coverage.py 7.17 turns every separator of a mapped path into the local one.
        let mapped = result.mapped.replace(['/', '\\'], MAIN_SEPARATOR_STR);
        result.mapped.clone_from(&mapped);
        results.push(result);
        if let Some(existing) = out.file(&mapped) {
            if let Err(MergeConflict::Tracer {
                file: f,
                ours,
                theirs,
            }) = tracer_conflict(&mapped, existing, &file)
            {
                return Err(Error::TracerConflict {
                    file: f,
                    first: ours,
                    second: theirs,
                    input: files[file.order.0 as usize].clone(),
                });
            }
        }
        out.absorb_file(mapped, file, &remap);
    }
    out.normalize();

    Ok(CombineOutcome {
        data: out,
        combined: partial
            .combined
            .iter()
            .map(|&i| files[i as usize].clone())
            .collect(),
        skipped: skipped.into_iter().map(|i| files[i].clone()).collect(),
        errors: partial.errors.into_iter().map(|(_, e)| e).collect(),
        warnings: partial.warnings.into_iter().map(|(_, w)| w).collect(),
        paths: PathsExplanation::new(aliases, results),
    })
}
