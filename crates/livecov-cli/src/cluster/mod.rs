//! `livecov cluster …` (the older tool's verbs) and `livecov report`.

pub mod compile;
pub mod download;
pub mod images;
pub mod report;

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
