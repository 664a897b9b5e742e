//! livecov's operations: what every front end (the command line, the demo, the server)
//! does, as library functions.
//!
//! Each operation takes a plain settings struct (no command-line types), the store and a
//! [`Reporter`] for progress and diagnostics, and returns a summary value. Front ends turn
//! their input (flags, requests) into settings, give a reporter, and present the
//! summary; exit codes and HTTP statuses are theirs.
#![deny(missing_docs)]

pub mod agent;
pub mod collect;
pub mod compile;
pub mod demo;
pub mod doctor;
pub mod download;
pub mod images;
pub mod report;
pub mod site;

pub use livecov_model::{Recorder, Reporter, Silent};

use std::path::Path;

use anyhow::Context;

/// Opens the store of a compiled collection (`<collection>/livecov.db`), with a hint
/// when it has not been compiled yet.
pub fn open_compiled(collection: &Path) -> anyhow::Result<livecov_store::Store> {
    let db = collection.join("livecov.db");
    if !db.exists() {
        anyhow::bail!(
            "{} does not exist\nhint: run `livecov cluster compile --collection {}` first",
            db.display(),
            collection.display()
        );
    }
    livecov_store::Store::open(&db).with_context(|| format!("opening {}", db.display()))
}
