//! Assembling one build page: per-file blocks with their counts, joined with the
//! source each file maps to.

use std::collections::BTreeMap;

pub use livecov_render::Block;
use livecov_render::{BuildData, BuildPage, FileData, FileSource};

/// What a source lookup found for one file of a build.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// The file's bytes at the exact commit (or in the local tree).
    pub bytes: Option<Vec<u8>>,
    /// `repo@commit:path (rule)`.
    pub origin: String,
    /// Why nothing was found, when nothing was.
    pub note: String,
}

/// Where a build's files come from.
pub trait FileSources: Send + Sync {
    /// The source of `path` (the build's recorded file path).
    fn find(&self, path: &str) -> Found;
}

/// The page of one build from its blocks per file (in layout order), with sources
/// looked up per file and checked against the blocks: a block outside the file's lines
/// marks the file as a mismatch (the source is not the one the binary was built from).
pub fn assemble(
    data: BuildData,
    files: BTreeMap<String, Vec<Block>>,
    sources: &dyn FileSources,
) -> BuildPage {
    use rayon::prelude::*;
    let files: Vec<FileData> = files
        .into_par_iter()
        .map(|(path, blocks)| {
            let found = sources.find(&path);
            let (source, note, text) = match found.bytes {
                Some(bytes) => {
                    let units: Vec<(u32, u32, u32, u32)> = blocks
                        .iter()
                        .map(|b| (b.start_line, b.start_col, b.end_line, b.end_col))
                        .collect();
                    let mismatch = livecov_source::check_units(&bytes, &units);
                    let text = String::from_utf8(bytes)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                    match mismatch {
                        Some(m) => (FileSource::Mismatch, m.to_string(), Some(text)),
                        None => (FileSource::Ok, String::new(), Some(text)),
                    }
                }
                None => (FileSource::Missing, found.note, None),
            };
            FileData {
                path,
                text,
                origin: found.origin,
                blocks,
                source,
                note,
            }
        })
        .collect();
    BuildPage::new(data, files)
}

/// Groups a text profile's blocks by file.
pub fn profile_files(
    profile: &livecov_formats::goprofile::Profile,
) -> BTreeMap<String, Vec<Block>> {
    let mut files: BTreeMap<String, Vec<Block>> = BTreeMap::new();
    for b in profile.blocks() {
        files.entry(b.file.to_string()).or_default().push(Block {
            start_line: b.unit.start_line,
            start_col: b.unit.start_col,
            end_line: b.unit.end_line,
            end_col: b.unit.end_col,
            stmts: b.unit.stmts,
            count: b.count,
            scenarios: 0,
        });
    }
    files
}

/// Counts of files by source status: (ok, missing, mismatch).
pub fn source_counts(page: &BuildPage) -> (usize, usize, usize) {
    page.files
        .iter()
        .fold((0, 0, 0), |(o, m, x), f| match f.source {
            FileSource::Ok => (o + 1, m, x),
            FileSource::Missing => (o, m + 1, x),
            FileSource::Mismatch => (o, m, x + 1),
        })
}
