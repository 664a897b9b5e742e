//! livecov's operations: what every front end (the command line, the demo, the server)
//! does, as library functions.
//!
//! Each operation takes a plain settings struct (no command-line types), the store and a
//! [`Reporter`] for progress and diagnostics, and returns a summary value. Front ends turn
//! their input (flags, requests) into settings, give a reporter, and present the
//! summary; exit codes and HTTP statuses are theirs.
#![deny(missing_docs)]

pub mod agent;
pub mod bigquery;
pub mod codecov_upload;
pub mod collect;
pub mod collect_node;
pub mod compare;
pub mod compile;
pub mod demo;
pub mod diff;
pub mod doctor;
pub mod download;
pub mod export;
pub mod history;
pub mod images;
pub mod lcovmerge;
pub mod pyagent;
pub mod pycombine;
pub mod pypaths;
pub mod report;
pub mod retention;
pub mod site;

pub use livecov_model::{Recorder, Reporter, Silent};

use std::path::Path;

use anyhow::Context;

/// Which store a command reads or writes: `--store URL` (or `LIVECOV_STORE`), else the
/// collection's own `<collection>/livecov.db`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreChoice {
    /// `postgres://…`, `sqlite:PATH` or a path; `None`: `<collection>/livecov.db`.
    pub url: Option<String>,
    /// The collection's name in a shared (PostgreSQL) store; `None`: the name of the
    /// collection directory.
    pub name: Option<String>,
}

impl StoreChoice {
    /// The store of `collection` under this choice.
    pub fn location(&self, collection: &Path) -> anyhow::Result<livecov_store::StoreLocation> {
        match &self.url {
            None => Ok(livecov_store::StoreLocation::Sqlite(
                collection.join("livecov.db"),
            )),
            Some(url) => {
                let name = match &self.name {
                    Some(n) => n.clone(),
                    None => collection_name(collection),
                };
                livecov_store::StoreLocation::parse(url, &name).map_err(anyhow::Error::msg)
            }
        }
    }
}

/// A collection's default name in a shared store: its directory's name.
pub fn collection_name(collection: &Path) -> String {
    let abs = std::fs::canonicalize(collection).unwrap_or_else(|_| collection.to_path_buf());
    abs.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Opens the store of a compiled collection for reading only (an SQLite file with
/// [`livecov_store::Store::open_read_only`]), so a collection the user may read but not
/// write can be reported on and rendered; with a hint when it has not been compiled. A
/// store of an older schema is opened for writing, which migrates it.
pub fn open_compiled(
    collection: &Path,
    choice: &StoreChoice,
) -> anyhow::Result<livecov_store::Store> {
    let at = compiled_location(collection, choice)?;
    match livecov_store::Store::open_at(&at, true) {
        Err(livecov_store::StoreError::TooOld { .. }) => livecov_store::Store::open_at(&at, false),
        opened => opened,
    }
    .with_context(|| format!("opening {}", at.display()))
}

/// Opens the store of a compiled collection for updates (`clone-sources` records its
/// fetches), with the same hint as [`open_compiled`].
pub fn open_compiled_for_update(
    collection: &Path,
    choice: &StoreChoice,
) -> anyhow::Result<livecov_store::Store> {
    let at = compiled_location(collection, choice)?;
    if at.is_shared() {
        // Refused, with its hint, when the collection was never compiled into it.
        drop(open_compiled(collection, choice)?);
    }
    livecov_store::Store::open_at(&at, false).with_context(|| format!("opening {}", at.display()))
}

fn compiled_location(
    collection: &Path,
    choice: &StoreChoice,
) -> anyhow::Result<livecov_store::StoreLocation> {
    let at = choice.location(collection)?;
    if let livecov_store::StoreLocation::Sqlite(db) = &at {
        if !db.exists() {
            let store = match &choice.url {
                Some(url) => format!(" --store {url}"),
                None => String::new(),
            };
            anyhow::bail!(
                "{} does not exist\nhint: run `livecov cluster compile --collection {}{store}` first",
                db.display(),
                collection.display()
            );
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    /// Download skips what compile would refuse to read; the two limits are one.
    #[test]
    fn download_and_compile_share_the_coverage_file_limit() {
        assert_eq!(
            livecov_collect::download::MAX_COVERAGE_BYTES,
            livecov_formats::gocovdata::read::MAX_FILE_BYTES
        );
    }
}
