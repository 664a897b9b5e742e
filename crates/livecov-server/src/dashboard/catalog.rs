//! Which collections the dashboard serves, and where each one's store and files are: a
//! [`Catalog`] of the store (every collection of a PostgreSQL database, every
//! collection directory under a root, or one SQLite collection), and for PostgreSQL the
//! directory that holds ingested raw files.

use std::path::PathBuf;

use livecov_ops::StoreChoice;
use livecov_store::catalog::{Catalog, CollectionInfo};
use livecov_store::StoreError;

/// The collections served.
#[derive(Clone, Debug)]
pub struct Collections {
    catalog: Catalog,
    /// Where raw inputs of a shared store's collections are written by ingest (and
    /// their compile lock files): `<data_dir>/<name>/coverage/`.
    data_dir: Option<PathBuf>,
}

impl Collections {
    /// The collections of `catalog`; `data_dir` holds ingested files of a PostgreSQL
    /// store's collections (a directory catalog keeps them in each collection's own).
    pub fn new(catalog: Catalog, data_dir: Option<PathBuf>) -> Collections {
        Collections { catalog, data_dir }
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Every collection, newest compiled first.
    pub fn list(&self) -> Result<Vec<CollectionInfo>, String> {
        self.catalog.list().map_err(|e| e.to_string())
    }

    /// The collection directory and store choice that open `name`, if it may be here.
    pub fn open(&self, name: &str) -> Option<(PathBuf, StoreChoice)> {
        match &self.catalog {
            Catalog::Postgres { url } => Some((
                self.shared_dir(name),
                StoreChoice {
                    url: Some(url.clone()),
                    name: Some(name.to_owned()),
                },
            )),
            Catalog::Directory(root) => {
                self.catalog.location(name)?;
                Some((root.join(name), StoreChoice::default()))
            }
            Catalog::File(db) => {
                self.catalog.location(name)?;
                let dir = db.parent().map(PathBuf::from).unwrap_or_default();
                Some((
                    dir,
                    StoreChoice {
                        url: Some(format!("sqlite:{}", db.display())),
                        name: None,
                    },
                ))
            }
        }
    }

    /// A collection's directory in a shared store: under `data_dir`, else one that
    /// does not exist (it holds nothing: no sources, no lock file).
    fn shared_dir(&self, name: &str) -> PathBuf {
        match &self.data_dir {
            Some(d) if Collections::valid_name(name) => d.join(name),
            _ => PathBuf::from("/nonexistent/livecov-dashboard").join(name.replace('/', "_")),
        }
    }

    /// The store's generation of `name` (see [`Catalog::generation`]); `None` when
    /// there is no such collection.
    pub fn generation(&self, name: &str) -> Result<Option<String>, String> {
        if self.catalog.location(name).is_none() {
            return Ok(None);
        }
        match self.catalog.generation(name) {
            Ok(g) => Ok(Some(g)),
            Err(StoreError::Missing { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
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

    /// Where ingest writes the collection `name` (created when missing), with the
    /// store its compile writes; `None` when this dashboard takes no such collection.
    pub fn ingest_dir(&self, name: &str) -> Option<(PathBuf, StoreChoice)> {
        if !Collections::valid_name(name) {
            return None;
        }
        match &self.catalog {
            Catalog::Postgres { .. } => {
                self.data_dir.as_ref()?;
                self.open(name)
            }
            Catalog::Directory(root) => {
                let dir = root.join(name);
                match std::fs::symlink_metadata(&dir) {
                    Ok(m) if !m.is_dir() => None,
                    _ => Some((dir, StoreChoice::default())),
                }
            }
            Catalog::File(_) => self.open(name),
        }
    }

    /// For messages (a password redacted).
    pub fn display(&self) -> String {
        self.catalog.display()
    }
}
