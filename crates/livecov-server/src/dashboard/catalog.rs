//! Which collections the dashboard serves, and where each one's store and sources are.
//!
//! A directory of collections (each subdirectory holding a `livecov.db`, the SQLite
//! layout: one file per collection), one SQLite collection, or every collection of a
//! PostgreSQL store.

use std::path::{Path, PathBuf};

use livecov_ops::StoreChoice;

/// Where the served collections are.
#[derive(Clone, Debug)]
pub enum Collections {
    /// Every subdirectory of this directory that holds a `livecov.db`.
    Directory(PathBuf),
    /// One collection directory (its `livecov.db`).
    One(PathBuf),
}

impl Collections {
    /// The name served for a collection: its directory's name.
    pub fn names(&self) -> std::io::Result<Vec<String>> {
        match self {
            Collections::One(dir) => Ok(vec![livecov_ops::collection_name(dir)]),
            Collections::Directory(root) => {
                let mut names = Vec::new();
                for entry in std::fs::read_dir(root)? {
                    let entry = entry?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if plain_name(&name) && is_collection(&entry.path()) {
                        names.push(name);
                    }
                }
                names.sort();
                Ok(names)
            }
        }
    }

    /// The collection directory and store choice of `name`, if it is served.
    pub fn open(&self, name: &str) -> Option<(PathBuf, StoreChoice)> {
        if !plain_name(name) {
            return None;
        }
        let dir = match self {
            Collections::One(dir) if livecov_ops::collection_name(dir) == name => dir.clone(),
            Collections::One(_) => return None,
            Collections::Directory(root) => root.join(name),
        };
        is_collection(&dir).then(|| (dir, StoreChoice::default()))
    }

    /// Whether `name` may name a new collection: letters, digits, `.`, `_` and `-`, at
    /// most 128, not starting with `.`.
    pub fn valid_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 128
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    }

    /// Where ingest writes the collection `name` (created when missing): under the
    /// root, or the one collection's directory when the name is its own.
    pub fn ingest_dir(&self, name: &str) -> Option<PathBuf> {
        if !Collections::valid_name(name) {
            return None;
        }
        match self {
            Collections::One(dir) => {
                (livecov_ops::collection_name(dir) == name).then(|| dir.clone())
            }
            Collections::Directory(root) => {
                let dir = root.join(name);
                match std::fs::symlink_metadata(&dir) {
                    Ok(m) if !m.is_dir() => None,
                    _ => Some(dir),
                }
            }
        }
    }

    /// The directory and store a compile of ingested data writes (the store need not
    /// exist yet).
    pub fn open_for_ingest(&self, name: &str) -> Option<(PathBuf, StoreChoice)> {
        self.ingest_dir(name).map(|d| (d, StoreChoice::default()))
    }

    /// Changes whenever the collection's store does (a compile, a sources fetch): the
    /// size and modification time of its `livecov.db` and `livecov.db-wal`.
    pub fn generation(&self, name: &str) -> Option<String> {
        let (dir, _) = self.open(name)?;
        let mut parts = Vec::new();
        for f in ["livecov.db", "livecov.db-wal"] {
            // An empty -wal is what opening the store to read makes: not a change.
            let m = std::fs::metadata(dir.join(f)).ok().filter(|m| m.len() > 0);
            parts.push(m.map_or_else(String::new, |m| {
                let t = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{}:{t}", m.len())
            }));
        }
        Some(parts.join("|"))
    }

    /// For messages.
    pub fn display(&self) -> String {
        match self {
            Collections::Directory(d) | Collections::One(d) => d.display().to_string(),
        }
    }
}

/// A directory name, not a path: no separators, not `.`/`..`, not hidden.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// A real directory (not a link) holding a regular `livecov.db`.
fn is_collection(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
        && std::fs::symlink_metadata(dir.join("livecov.db")).is_ok_and(|m| m.is_file())
}
