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
pub mod compile;
pub mod demo;
pub mod doctor;
pub mod download;
pub mod export;
pub mod images;
pub mod lcovmerge;
pub mod pyagent;
pub mod pycombine;
pub mod pypaths;
pub mod report;
pub mod site;

pub use livecov_model::{Recorder, Reporter, Silent};

use std::path::Path;

use anyhow::Context;

/// Opens the store of a compiled collection (`<collection>/livecov.db`) for reading
/// only ([`livecov_store::Store::open_read_only`]), so a collection the user may read but
/// not write can be reported on and rendered; with a hint when it has not been compiled.
/// A store of an older schema is opened for writing, which migrates it.
pub fn open_compiled(collection: &Path) -> anyhow::Result<livecov_store::Store> {
    let db = compiled_db(collection)?;
    match livecov_store::Store::open_read_only(&db) {
        Err(livecov_store::StoreError::TooOld { .. }) => livecov_store::Store::open(&db),
        opened => opened,
    }
    .with_context(|| format!("opening {}", db.display()))
}

/// Opens the store of a compiled collection for updates (`clone-sources` records its
/// fetches), with the same hint as [`open_compiled`].
pub fn open_compiled_for_update(collection: &Path) -> anyhow::Result<livecov_store::Store> {
    let db = compiled_db(collection)?;
    livecov_store::Store::open(&db).with_context(|| format!("opening {}", db.display()))
}

fn compiled_db(collection: &Path) -> anyhow::Result<std::path::PathBuf> {
    let db = collection.join("livecov.db");
    if !db.exists() {
        anyhow::bail!(
            "{} does not exist\nhint: run `livecov cluster compile --collection {}` first",
            db.display(),
            collection.display()
        );
    }
    Ok(db)
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
