//! The values the site is drawn from: what `SITE.md` calls the index data, the build
//! page data and the per-file data. Field names are the JSON names the scripts read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A coverage level: rows at or above `min` percent (and below the next level) get it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Level {
    /// Machine name (`excellent`, …), used in CSS classes and filters.
    pub name: &'static str,
    /// Label shown on badges.
    pub label: &'static str,
    /// Lowest percent of the level.
    pub min: f64,
    /// Badge colour.
    pub color: &'static str,
}

/// The five levels of the older tool's index: 70 / 50 / 30 / 15.
pub fn default_levels() -> Vec<Level> {
    vec![
        Level {
            name: "excellent",
            label: "Excellent",
            min: 70.0,
            color: "#28a745",
        },
        Level {
            name: "good",
            label: "Good",
            min: 50.0,
            color: "#5cb85c",
        },
        Level {
            name: "moderate",
            label: "Moderate",
            min: 30.0,
            color: "#ffc107",
        },
        Level {
            name: "poor",
            label: "Poor",
            min: 15.0,
            color: "#fd7e14",
        },
        Level {
            name: "critical",
            label: "Critical",
            min: 0.0,
            color: "#dc3545",
        },
    ]
}

/// Whether a build's source was found at its commit and matches the binary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    /// Sources found at the exact commit and consistent with the layout.
    Ok,
    /// Some files could not be mapped to the repository.
    Missing,
    /// The source at the commit does not match the binary (units outside lines).
    Mismatch,
    /// The commit is known but could not be fetched.
    Unfetched,
    /// No repository or commit is known.
    #[default]
    None,
}

/// One build as the index lists it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IndexBuild {
    /// Statements of the build (counted once, whatever the number of owners).
    pub statements: u64,
    /// Statements covered by any owner of the build.
    pub covered: u64,
    /// Relative link to the build page, `None` when there is none.
    pub page: Option<String>,
    /// Binary name.
    pub binary: String,
    /// What recorded the build: `go`, `python` (coverage.py) or `lcov`.
    pub language: String,
    /// Source repository URL (empty when unknown).
    pub repo: String,
    /// Commit (empty when unknown).
    pub commit: String,
    /// Source status of the build.
    pub source: SourceStatus,
    /// Why the status is not `ok`.
    pub source_note: String,
    /// Statements each scenario covered, by scenario name (empty without scenarios).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub scenarios: BTreeMap<String, u64>,
}

/// One owner group row of the index.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IndexOwner {
    /// Namespace (`host` for host processes).
    pub namespace: String,
    /// Owner type (Deployment, DaemonSet, …, Pod (No Owner), Host).
    pub owner_type: String,
    /// Owner name (empty for Host and Pod (No Owner)).
    pub owner: String,
    /// Binary name.
    pub binary: String,
    /// Containers.
    pub containers: Vec<String>,
    /// Pods.
    pub pods: Vec<String>,
    /// Nodes.
    pub hosts: Vec<String>,
    /// Images.
    pub images: Vec<String>,
    /// Hex identity of the build the owner runs.
    pub build: String,
    /// Statements of the build.
    pub statements: u64,
    /// Statements the owner's processes covered.
    pub covered: u64,
    /// Earliest collection time.
    pub first_seen: String,
    /// Latest collection time.
    pub last_seen: String,
}

/// The index page's data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndexData {
    /// `livecov <version>`.
    pub generator: String,
    /// Page title.
    pub title: String,
    /// Collection name.
    pub collection: String,
    /// Namespace prefixes hidden by default (each gets a checkbox, on by default).
    pub hide_namespace_prefixes: Vec<String>,
    /// Coverage levels, highest first.
    pub levels: Vec<Level>,
    /// Builds by hex identity. The renderer fills in `page`.
    pub builds: BTreeMap<String, IndexBuild>,
    /// Owner rows, sorted by namespace, type, owner, binary.
    pub owners: Vec<IndexOwner>,
    /// Problems the compile recorded (files or records left out, inputs that failed).
    pub diagnostics: Vec<IndexDiagnostic>,
    /// Why the figures may be missing inputs (the last compile did not finish); empty
    /// when the store is complete.
    pub incomplete: String,
}

/// One problem the compile recorded, shown on the index.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IndexDiagnostic {
    /// The input directory it concerns.
    pub dir: String,
    /// `warning` or `error`.
    pub severity: String,
    /// What is wrong, naming the file and byte offset.
    pub message: String,
}

/// Source of a build page.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SourceInfo {
    /// Repository URL.
    pub repo: String,
    /// Commit.
    pub commit: String,
    /// Status.
    pub status: SourceStatus,
    /// Why the status is not `ok`.
    pub note: String,
}

/// One owner group on a build page.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PageOwner {
    /// Namespace.
    pub namespace: String,
    /// Owner type.
    pub owner_type: String,
    /// Owner name.
    pub owner: String,
    /// Binary name.
    pub binary: String,
    /// Containers.
    pub containers: Vec<String>,
    /// Pods.
    pub pods: Vec<String>,
    /// Nodes.
    pub hosts: Vec<String>,
}

/// Whether one file's source is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileSource {
    /// Found and consistent.
    Ok,
    /// Not found.
    #[default]
    Missing,
    /// Found, but it does not match the binary's units.
    Mismatch,
}

/// One row of a build page's file table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FileEntry {
    /// The file path as the build records it.
    pub path: String,
    /// Statements.
    pub statements: u64,
    /// Covered statements.
    pub covered: u64,
    /// Source status.
    pub source: FileSource,
    /// Why the source is not shown or suspect.
    pub note: String,
    /// The script holding the file's source and blocks: `f/<chunk>.js`. Files are
    /// packed into chunks of a few hundred kilobytes in path order, so a page of
    /// thousands of files writes tens of files, not thousands.
    pub chunk: usize,
}

/// A build page's data (the file table; sources come per file).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BuildData {
    /// `livecov <version>`.
    pub generator: String,
    /// Hex identity.
    pub build: String,
    /// Page title (the binary label).
    pub title: String,
    /// One line under the title.
    pub subtitle: String,
    /// Counter mode.
    pub mode: String,
    /// What recorded the build: `go`, `python` (coverage.py) or `lcov`; empty when
    /// unknown (a single Go profile).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub language: String,
    /// Coverage levels, highest first (filled by [`BuildPage::new`] when empty).
    pub levels: Vec<Level>,
    /// Link back to the index, `None` for single-build sites. Set by the renderer.
    pub index: Option<String>,
    /// The build's source.
    pub source: SourceInfo,
    /// Owner groups running the build.
    pub owners: Vec<PageOwner>,
    /// Statements (sum over files).
    pub statements: u64,
    /// Covered statements (sum over files).
    pub covered: u64,
    /// Files, sorted by path; file `n` is written to `f/<n>.js`.
    pub files: Vec<FileEntry>,
    /// The scenarios that ran the build (at most [`MAX_PAGE_SCENARIOS`]), in the order
    /// of the bits of [`Block::scenarios`]; none for a collection without scenarios.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<ScenarioTotal>,
    /// Scenarios of the build left off the page (over [`MAX_PAGE_SCENARIOS`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub scenarios_left_off: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// How many scenarios a build page tells apart: one bit each in [`Block::scenarios`],
/// which the page's script reads as a 32-bit integer.
pub const MAX_PAGE_SCENARIOS: usize = 31;

/// What one scenario covered of a build.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScenarioTotal {
    /// The scenario's name.
    pub name: String,
    /// Statements its snapshots covered (files left out by the exclusion set not counted).
    pub covered: u64,
}

/// One coverable block as the viewer draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// First line (1-based).
    pub start_line: u32,
    /// First column (1-based, bytes).
    pub start_col: u32,
    /// Last line.
    pub end_line: u32,
    /// Column just past the end.
    pub end_col: u32,
    /// Statements.
    pub stmts: u32,
    /// Execution count.
    pub count: u32,
    /// Bit `i` set: scenario `i` of [`BuildData::scenarios`] executed the block.
    pub scenarios: u32,
}

/// One file of a build: its blocks and, when found, its source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileData {
    /// The file path as the build records it.
    pub path: String,
    /// Source text (lossy UTF-8), `None` when not found.
    pub text: Option<String>,
    /// Where the text came from (`repo@commit:path (rule)`), empty when none.
    pub origin: String,
    /// Blocks in layout order.
    pub blocks: Vec<Block>,
    /// Source status.
    pub source: FileSource,
    /// Why the source is not shown or suspect.
    pub note: String,
}

impl FileData {
    /// (statements, covered statements) of the file.
    pub fn totals(&self) -> (u64, u64) {
        self.blocks.iter().fold((0, 0), |(s, c), b| {
            let n = u64::from(b.stmts);
            (s + n, if b.count > 0 { c + n } else { c })
        })
    }

    /// The file table row of this file.
    pub fn entry(&self) -> FileEntry {
        let (statements, covered) = self.totals();
        FileEntry {
            path: self.path.clone(),
            statements,
            covered,
            source: self.source,
            note: self.note.clone(),
            chunk: 0,
        }
    }
}

/// Everything one build page needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildPage {
    /// The page data; `files`, `statements` and `covered` are filled from `files` by
    /// [`BuildPage::new`].
    pub data: BuildData,
    /// Per-file data, in the same (path) order as `data.files`.
    pub files: Vec<FileData>,
}

impl BuildPage {
    /// A page from its header data and files: sorts the files by path and fills in the
    /// file table and the totals.
    pub fn new(mut data: BuildData, mut files: Vec<FileData>) -> BuildPage {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        data.files = files.iter().map(FileData::entry).collect();
        data.statements = data.files.iter().map(|f| f.statements).sum();
        data.covered = data.files.iter().map(|f| f.covered).sum();
        if data.levels.is_empty() {
            data.levels = default_levels();
        }
        BuildPage { data, files }
    }
}
