//! What the coverage.py and LCOV inputs of a report directory share: the extra fields of
//! `metadata.json` that say where their sources live, the mapping of recorded paths to
//! repo-relative ones, and the build made of per-line results.
//!
//! A Python or LCOV build is identified by its layout hash plus the source commit: the same
//! lines of the same files at another commit are another build.

use std::collections::BTreeMap;
use std::path::Path;

use livecov_formats::coveragepy::{LexicalProbe, PathAliases};
use livecov_formats::lcov::{to_layout, Line, SourceFile, Tracefile};
use livecov_model::{CounterMode, Layout};
use md5::{Digest, Md5};
use serde::Deserialize;

/// The fields `metadata.json` may add for Python and LCOV inputs (all optional; its
/// `language` is informational and not read: inputs are detected by file).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct SourceFields {
    /// The source repository.
    #[serde(default)]
    pub source_repo: String,
    /// The source commit; part of a Python or LCOV build's identity.
    #[serde(default)]
    pub source_commit: String,
    /// The prefix under which the data's absolute file names live (e.g. `/app`),
    /// stripped to give repo-relative paths.
    #[serde(default)]
    pub source_root: String,
    /// coverage.py `[paths]` entries, applied to the recorded paths before
    /// `source_root`: each the canonical result, then its patterns, with coverage.py's
    /// rules (first matching pattern wins, globs, either separator), e.g.
    /// `[["src/", "/build/*/src/", "C:\\build\\src\\"]]`.
    #[serde(default)]
    pub paths: Vec<Vec<String>>,
}

impl SourceFields {
    /// The fields of `<dir>/metadata.json`; absent or unreadable ones are empty (the
    /// directory's origin reading reports a damaged file).
    pub fn read(dir: &Path) -> SourceFields {
        super::read_small(&dir.join("metadata.json"))
            .ok()
            .and_then(|b| {
                serde_json::from_slice(b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&b)).ok()
            })
            .unwrap_or_default()
    }

    /// The `[paths]` aliases of `paths`: relative results stay relative (as with
    /// `relative_files`), a path no entry maps stays as recorded. `Err` names the entry
    /// coverage.py would refuse too.
    pub fn aliases(&self) -> Result<PathAliases, String> {
        PathAliases::from_entries(&self.paths, true, Box::new(LexicalProbe::new("/")))
            .map(PathAliases::rules_only)
            .map_err(|e| format!("the \"paths\" of metadata.json: {e}; no path is remapped"))
    }

    /// The repo-relative form of a recorded path: `source_root` and the separator after
    /// it stripped; a relative path as recorded. `Err` (with the path kept as recorded)
    /// for an absolute path outside `source_root`: it maps nowhere.
    pub fn relative(&self, recorded: &str) -> Result<String, String> {
        let root = self.source_root.trim_end_matches('/');
        if root.is_empty() || !recorded.starts_with('/') {
            return Ok(recorded.to_owned());
        }
        match recorded.strip_prefix(root) {
            Some(rest) if rest.starts_with('/') => Ok(rest.trim_start_matches('/').to_owned()),
            _ => Err(recorded.to_owned()),
        }
    }
}

/// The per-line results of one input kind: repo-relative path → (line, count), lines
/// ascending and unique.
pub(crate) type FileLines = BTreeMap<String, Vec<(u32, u64)>>;

/// What a Python or LCOV reader made of a report directory.
pub(crate) struct LineInput {
    /// `python` or `lcov`.
    pub language: &'static str,
    /// The build's identity: layout hash plus source commit.
    pub hash: [u8; 16],
    /// One unit per statement (Python) or instrumented line (LCOV).
    pub layout: Layout,
    /// Counter `k` is unit `k`'s: 0/1 for coverage.py (it records no counts), hit counts
    /// for LCOV.
    pub counters: Vec<u32>,
    /// Earlier snapshots passed over (the live writer's older series file).
    pub superseded: i64,
    /// When the kept data was saved, when known.
    pub time: String,
    /// Problems that cost a file, a record or exactness.
    pub warnings: Vec<String>,
    /// Some files could not be used.
    pub partial: bool,
}

/// Builds the layout and counters of per-line results: one whole-line unit of one
/// statement per line, grouped per file under one pseudo function (the LCOV layout's
/// conversion, so that both kinds of input share it), in `mode`.
pub(crate) fn layout_of(
    files: &FileLines,
    mode: CounterMode,
    language: &str,
    commit: &str,
) -> ([u8; 16], Layout, Vec<u32>) {
    let tracefile = Tracefile {
        files: files
            .iter()
            .map(|(path, lines)| SourceFile {
                lines: lines
                    .iter()
                    .map(|&(line, hits)| Line {
                        line,
                        hits,
                        checksum: None,
                    })
                    .collect(),
                ..SourceFile::new(path.clone())
            })
            .collect(),
    };
    let (mut layout, counters, _) = to_layout(&tracefile);
    layout.mode = mode;
    let counters = match mode {
        CounterMode::Set => counters.into_iter().map(|c| u32::from(c != 0)).collect(),
        _ => counters,
    };
    (build_hash(&layout, language, commit), layout, counters)
}

/// Layout hash plus source commit (and the language, so that an LCOV export of a Python
/// run is not the coverage.py build).
pub(crate) fn build_hash(layout: &Layout, language: &str, commit: &str) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(b"livecov layout build\0");
    h.update(language.as_bytes());
    h.update(b"\0");
    h.update(layout.encode());
    h.update(b"\0");
    h.update(commit.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_root_is_stripped_and_outside_paths_map_nowhere() {
        let f = SourceFields {
            source_root: "/app/".into(),
            ..SourceFields::default()
        };
        assert_eq!(f.relative("/app/pkg/a.py").unwrap(), "pkg/a.py");
        assert_eq!(f.relative("pkg/a.py").unwrap(), "pkg/a.py");
        assert_eq!(
            f.relative("/application/a.py").unwrap_err(),
            "/application/a.py"
        );
        assert_eq!(f.relative("/usr/lib/x.py").unwrap_err(), "/usr/lib/x.py");
        let none = SourceFields::default();
        assert_eq!(none.relative("/usr/lib/x.py").unwrap(), "/usr/lib/x.py");
    }

    #[test]
    fn the_commit_is_part_of_the_identity() {
        let mut files = FileLines::new();
        files.insert("a.py".into(), vec![(1, 1), (2, 0), (4, 5)]);
        let (h1, layout, counters) = layout_of(&files, CounterMode::Set, "python", "c1");
        let (h2, _, _) = layout_of(&files, CounterMode::Set, "python", "c2");
        let (h3, _, _) = layout_of(&files, CounterMode::Set, "lcov", "c1");
        assert_ne!(h1, h2);
        assert_ne!(h1, h3);
        assert_eq!(counters, [1, 0, 1]);
        assert_eq!(layout.units.len(), 3);
        assert_eq!(layout.mode, CounterMode::Set);
    }
}
