//! Sources at the exact commit: a shared git cache and path resolution.
//!
//! - [`GitCache`] keeps one bare repository per remote and fetches exactly the commits
//!   builds were made from; a commit it cannot fetch is an error, never a substitute.
//! - [`SourceTree`] lists and reads the files of one repo@commit ([`GitTree`], straight
//!   from git's object database) or of a local directory ([`DirTree`]).
//! - [`SourceIndex`] indexes a run's trees once (go.mod, go.work, vendor) and maps a
//!   build's recorded file paths to files in those trees, with an
//!   [`explain`](SourceIndex::explain) that says why.
//! - [`LocalRepo`] answers a diff-coverage run's questions of a checkout (merge-base,
//!   ancestors, one `git diff`), and [`patch`] reads unified diffs.
//! - [`check_units`] tells when a source file cannot be the one a build's layout was
//!   made from.
//!
//! This crate does I/O (git subprocesses, the file system) and depends on nothing of
//! livecov's: it takes paths and unit positions as plain values.
#![deny(missing_docs)]

mod cache;
mod check;
mod error;
mod gomod;
mod index;
pub mod patch;
mod process;
mod repo;
mod tree;
mod url;

pub use cache::{FetchMethod, FetchOutcome, Fetched, GitCache};
pub use check::{check_units, Mismatch, MismatchReason};
pub use error::{Error, Result};
pub use index::{Explanation, Rename, Resolution, Rule, SourceIndex, Step, TreeRef, BUILD_ROOTS};
pub use repo::LocalRepo;
pub use tree::{DirTree, GitTree, SourceTree};
pub use url::{check_remote, RemoteKey};
