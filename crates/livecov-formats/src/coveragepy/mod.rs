//! coverage.py data files (`.coverage`, SQLite, schema version 7): reading, finding
//! parallel-mode files, combining them with `[paths]` remapping.
//!
//! Spec: `../shared/specs/formats.md` §1; upstream: coverage.py's `coverage/sqldata.py`
//! (tables, reading, `update`), `coverage/numbits.py` (the line bitmaps),
//! `coverage/data.py` (`combinable_files`, `combine_parallel_data`) and
//! `coverage/files.py` (`PathAliases`).
//!
//! A data file is opened read-only and immutable (`?mode=ro&immutable=1`, as coverage.py
//! 7.17 opens the files it combines): SQLite takes no lock, replays no journal and writes
//! nothing beside the user's file. Anything that is not a schema-7 coverage.py file is an
//! [`Error`] naming the file; nothing here panics on a file's contents. The `arc` table,
//! most of a branch-mode file, is read straight from the file's B-tree pages
//! (`btree.rs`); SQLite reads it instead whenever that reader declines the file.
//!
//! coverage.py data are sets: executed lines per (file, context) and, in branch mode,
//! arcs per (file, context). Combining is set union, so the result does not depend on the
//! order of inputs, except for `[paths]` rules that coverage.py generates on the fly (see
//! [`PathAliases`]), which [`combine`] replays in coverage.py's order.
//!
//! Statements and missing lines are not in the data file (coverage.py derives them by
//! compiling the source with Python); they are not computed here.

mod btree;
mod combine;
mod data;
mod names;
mod numbits;
mod paths;
mod read;

use std::path::PathBuf;

pub use combine::{combine, combine_files, CombineOutcome};
pub use data::{Arc, CoverageData, FileData, Measurement, MergeConflict};
pub use names::{combinable_files, parse_parallel_suffix, ParallelSuffix};
pub use numbits::{Numbits, NumbitsTooLong, MAX_NUMBITS_LEN};
pub use paths::{
    AliasRule, FsProbe, LexicalProbe, MapResult, PathAliases, PathProbe, PathsExplanation,
};
pub use read::{read_data_file, DataFile};

/// The only schema version livecov reads (coverage.py 5.0a7 and later write it).
pub const SCHEMA_VERSION: i64 = 7;

/// Why a data file could not be read or combined, or a `[paths]` rule was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read at all (missing, unreadable).
    #[error("coverage.py data file {path}: {source}")]
    Io {
        /// The data file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// SQLite refused the file: not a database, truncated, corrupt.
    #[error("coverage.py data file {path} is not a readable SQLite database ({what}): {source}; hint: a file that is still being written, truncated or not a coverage data file at all")]
    Sqlite {
        /// The data file.
        path: PathBuf,
        /// What was being read.
        what: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A database, but not a coverage.py data file (no `coverage_schema` table).
    #[error("{path} isn't a coverage.py data file: {message}")]
    NotCoverageData {
        /// The data file.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
    /// A coverage.py data file of another schema version.
    #[error("coverage.py data file {path} has schema version {found}; livecov reads version 7 only (coverage.py 5.0 and later); hint: combine or re-record it with coverage.py 5.0+")]
    Schema {
        /// The data file.
        path: PathBuf,
        /// The version found, as written in the file.
        found: String,
    },
    /// A schema-7 file whose rows coverage.py could not have written.
    #[error("coverage.py data file {path}: {message}")]
    Corrupt {
        /// The data file.
        path: PathBuf,
        /// Which table and row, and what is wrong.
        message: String,
    },
    /// One input measured lines and another arcs (coverage.py's `cant-combine`).
    #[error("can't combine line data with branch data: {lines} measured lines, {arcs} measured branches (arcs); hint: record every run with the same [run] branch setting")]
    CantCombine {
        /// A file holding line data.
        lines: PathBuf,
        /// A file holding arc data.
        arcs: PathBuf,
    },
    /// Two inputs name different plugin file tracers for one (mapped) source file.
    #[error("conflicting file tracer name for {file}: {first:?} vs {second:?} (the second from {input})")]
    TracerConflict {
        /// The mapped source path.
        file: String,
        /// The tracer recorded first.
        first: String,
        /// The other tracer.
        second: String,
        /// The data file that brought the second.
        input: PathBuf,
    },
    /// A `[paths]` pattern or result that coverage.py refuses too.
    #[error("[paths] pattern {pattern:?}: {message}")]
    Alias {
        /// The pattern or result as configured.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
}
