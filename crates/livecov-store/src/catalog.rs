//! A catalog of collections: which collections a store holds, when each was made and
//! last compiled, its labels and totals; the history (`livecov history`), retention
//! (`livecov store prune`) and the served dashboard read it.
//!
//! Where the catalog's facts live:
//! - **PostgreSQL**: columns of `collections` (`created_at` when the row was made,
//!   `labels`, `compiled_at` and the totals of the last finished compile), the
//!   generation in `settings`;
//! - **SQLite** (one file per collection): rows of the file's `settings` table
//!   (`created_at`, `compiled_at`, `collection_labels`, `generation`); totals are summed
//!   from the file's build files when listed (one collection per file keeps that small).
//!
//! Times are RFC 3339 in UTC with microseconds (`2026-12-04T03:54:22.123456Z`, see
//! [`utc_timestamp`]): both backends write and read that one form, so times compare as
//! strings.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use postgres::{Client, NoTls};

use crate::pg_schema::PG_SCHEMA_VERSION;
use crate::{decode_labels, redact_url, Result, StoreError, StoreLocation};

/// The SQLite setting holding the collection's labels (encoded as `inputs.labels`).
pub(crate) const LABELS: &str = "collection_labels";
/// The SQLite setting holding when the collection was first compiled.
pub(crate) const CREATED_AT: &str = "created_at";
/// The SQLite setting holding when the collection's last compile finished.
pub(crate) const COMPILED_AT: &str = "compiled_at";
/// The setting (both backends) that changes whenever a compile or a sources fetch
/// commits: nanoseconds since 1970 at the change, and always greater than before.
pub(crate) const GENERATION: &str = "generation";

/// The file a collection directory's SQLite store is in.
const DB_FILE: &str = "livecov.db";

/// `t` as the catalog writes times: RFC 3339, UTC, microseconds.
pub fn utc_timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// Reads a time the catalog wrote (or any RFC 3339 UTC time, with or without a
/// fraction).
pub fn parse_utc_timestamp(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s).ok()
}

/// A new generation value from the clock (the writers keep it increasing).
pub(crate) fn clock_generation() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// One collection of a catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionInfo {
    /// Its name: the PostgreSQL collection name, or the collection directory's name.
    pub name: String,
    /// When it was made (first compile), RFC 3339 UTC.
    pub created_at: String,
    /// When its last compile finished, RFC 3339 UTC; `None` before one finished.
    pub compiled_at: Option<String>,
    /// Its labels (`cluster compile --label`), sorted by key.
    pub labels: Vec<(String, String)>,
    /// Builds it holds.
    pub builds: u64,
    /// Statements, each build's counted once (infrastructure files excluded), as
    /// `report` totals them.
    pub statements: u64,
    /// Statements covered, summed the same way.
    pub covered: u64,
    /// Why its store could not be read (a directory catalog lists such a collection
    /// with no figures instead of failing the whole list); `None` when it was read.
    pub unreadable: Option<String>,
}

impl CollectionInfo {
    /// The time it is placed at in a history: when its last compile finished, else when
    /// it was made.
    pub fn time(&self) -> &str {
        self.compiled_at.as_deref().unwrap_or(&self.created_at)
    }

    /// True when it has every label of `filter` (`key=value` pairs, ANDed).
    pub fn matches(&self, filter: &[(String, String)]) -> bool {
        filter.iter().all(|f| self.labels.contains(f))
    }
}

/// What [`Catalog::remove`] removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removal {
    /// The collection.
    pub name: String,
    /// What is gone: the SQLite files, or the collection's rows in PostgreSQL.
    pub removed: Vec<String>,
    /// What was left on purpose (a collection directory's raw `coverage/`).
    pub kept: Vec<String>,
    /// Layouts removed with it (PostgreSQL: those no other collection's build refers
    /// to; SQLite: every build of the file, whose layouts it held).
    pub layouts: u64,
}

/// Where collections are listed: every collection of a PostgreSQL database, or every
/// subdirectory of a directory that holds a livecov.db (the SQLite layout: one file
/// per collection), or one SQLite file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Catalog {
    /// Every collection of a PostgreSQL database.
    Postgres {
        /// The connection URL as given (it may hold a password: print
        /// [`Catalog::display`], never this).
        url: String,
    },
    /// Every subdirectory of this directory that holds a `livecov.db`.
    Directory(PathBuf),
    /// One SQLite store file (its collection named by the directory it is in).
    File(PathBuf),
}

impl Catalog {
    /// Parses a catalog: `postgres://…`/`postgresql://…`, `sqlite:PATH` (one file), a
    /// directory (a collection directory, holding `livecov.db`, is its one file; any
    /// other directory lists its subdirectories), or a file.
    pub fn parse(spec: &str) -> std::result::Result<Catalog, String> {
        match StoreLocation::parse(spec, "-")? {
            StoreLocation::Postgres { url, .. } => Ok(Catalog::Postgres { url }),
            StoreLocation::Sqlite(path) if spec.starts_with("sqlite:") => Ok(Catalog::File(path)),
            StoreLocation::Sqlite(path) => {
                let meta = std::fs::metadata(&path).map_err(|e| {
                    format!(
                        "{}: {e} (expected a store file or a directory of collections)",
                        path.display()
                    )
                })?;
                if meta.is_dir() {
                    let db = path.join(DB_FILE);
                    Ok(if db.is_file() {
                        Catalog::File(db)
                    } else {
                        Catalog::Directory(path)
                    })
                } else {
                    Ok(Catalog::File(path))
                }
            }
        }
    }

    /// The catalog for messages: the path, or the URL with its password redacted.
    pub fn display(&self) -> String {
        match self {
            Catalog::Postgres { url } => redact_url(url),
            Catalog::Directory(p) | Catalog::File(p) => p.display().to_string(),
        }
    }

    /// Every collection, newest compiled first (a collection never compiled to the end
    /// is placed by its creation time), then by name.
    pub fn list(&self) -> Result<Vec<CollectionInfo>> {
        let mut out = match self {
            Catalog::Postgres { url } => pg_list(url)?,
            Catalog::Directory(dir) => {
                let mut out = Vec::new();
                for (name, db) in sqlite_files(dir)? {
                    // One damaged or foreign file does not hide the others.
                    out.push(sqlite_info(&name, &db).unwrap_or_else(|e| CollectionInfo {
                        name: name.clone(),
                        created_at: file_time(&db),
                        compiled_at: None,
                        labels: Vec::new(),
                        builds: 0,
                        statements: 0,
                        covered: 0,
                        unreadable: Some(format!("{e:#}")),
                    }));
                }
                out
            }
            Catalog::File(db) => vec![sqlite_info(&file_collection_name(db), db)?],
        };
        out.sort_by(|a, b| b.time().cmp(a.time()).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    /// Where collection `name` is stored, to open it with
    /// [`crate::Store::open_at`]; `None` when this catalog cannot hold it (no such
    /// collection directory, a name that is not one path component, another file's
    /// name). A PostgreSQL collection is not looked up: opening it says whether it is
    /// there.
    pub fn location(&self, name: &str) -> Option<StoreLocation> {
        match self {
            Catalog::Postgres { url } => Some(StoreLocation::Postgres {
                url: url.clone(),
                collection: name.to_owned(),
            }),
            Catalog::Directory(dir) => {
                let one_component = !name.is_empty()
                    && name != "."
                    && name != ".."
                    && !name.contains('/')
                    && !name.contains('\0');
                let db = dir.join(name).join(DB_FILE);
                (one_component && db.is_file()).then_some(StoreLocation::Sqlite(db))
            }
            Catalog::File(db) => {
                (name == file_collection_name(db)).then(|| StoreLocation::Sqlite(db.clone()))
            }
        }
    }

    /// A value that changes whenever a compile or a sources fetch commits anything to
    /// the collection (a cache of pages rendered from it is stale when it changes);
    /// cheap: one small query or a stat.
    ///
    /// It is the collection's generation setting; for an SQLite store written before
    /// there was one, the size and modification time of its files.
    pub fn generation(&self, name: &str) -> Result<String> {
        match self {
            Catalog::Postgres { url } => pg_generation(url, name),
            Catalog::Directory(_) | Catalog::File(_) => {
                let Some(StoreLocation::Sqlite(db)) = self.location(name) else {
                    return Err(StoreError::Missing {
                        location: self.display(),
                        what: format!("no collection {name:?} here"),
                    });
                };
                let store = crate::sqlite::SqliteStore::open_read_only(&db)?;
                match store.setting(GENERATION)? {
                    Some(g) => Ok(g),
                    None => Ok(stat_generation(&db)),
                }
            }
        }
    }

    /// Removes collection `name`: in PostgreSQL its rows (one transaction), then the layouts its builds used that no build refers to
    /// any more; in a directory its `livecov.db` (with `-wal` and `-shm`), keeping the
    /// raw `coverage/`. A collection being compiled is refused (its compile lock is held).
    pub fn remove(&self, name: &str) -> Result<Removal> {
        match self {
            Catalog::Postgres { url } => pg_remove(url, name),
            Catalog::Directory(_) | Catalog::File(_) => {
                let Some(StoreLocation::Sqlite(db)) = self.location(name) else {
                    return Err(StoreError::Missing {
                        location: self.display(),
                        what: format!("no collection {name:?} here"),
                    });
                };
                sqlite_remove(name, &db)
            }
        }
    }

    /// How many layouts removing the collections `names` would remove (see
    /// [`Catalog::remove`]): what `store prune --dry-run` reports.
    pub fn layouts_freed(&self, names: &[String]) -> Result<u64> {
        match self {
            Catalog::Postgres { url } => pg_layouts_freed(url, names),
            Catalog::Directory(_) | Catalog::File(_) => {
                let mut n = 0;
                for info in self.list()? {
                    if names.contains(&info.name) {
                        n += info.builds;
                    }
                }
                Ok(n)
            }
        }
    }
}

/// The name of the collection whose store is `db`: its directory's name.
fn file_collection_name(db: &Path) -> String {
    let abs = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    abs.parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// (name, store file) of every subdirectory of `dir` holding a store, by name.
fn sqlite_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let io = |e: std::io::Error| StoreError::Missing {
        location: dir.display().to_string(),
        what: format!("cannot list the directory: {e}"),
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let db = e.path().join(DB_FILE);
        if db.is_file() {
            out.push((e.file_name().to_string_lossy().into_owned(), db));
        }
    }
    out.sort();
    Ok(out)
}

fn sqlite_info(name: &str, db: &Path) -> Result<CollectionInfo> {
    let store = crate::sqlite::SqliteStore::open_read_only(db)?;
    let (builds, statements, covered) = store.totals()?;
    let compiled_at = store.setting(COMPILED_AT)?;
    let created_at = match store.setting(CREATED_AT)? {
        Some(t) => t,
        // A store compiled before the catalog: the file's time stands in.
        None => compiled_at.clone().unwrap_or_else(|| file_time(db)),
    };
    Ok(CollectionInfo {
        name: name.to_owned(),
        created_at,
        compiled_at,
        labels: decode_labels(&store.setting(LABELS)?.unwrap_or_default()),
        builds,
        statements,
        covered,
        unreadable: None,
    })
}

/// The modification time of `db` (the epoch when it has none): the time of a store
/// that does not say when it was made.
fn file_time(db: &Path) -> String {
    std::fs::metadata(db)
        .and_then(|m| m.modified())
        .map_or_else(|_| utc_timestamp(SystemTime::UNIX_EPOCH), utc_timestamp)
}

/// Size and modification time of a store's files, for a store without a generation.
fn stat_generation(db: &Path) -> String {
    let mut parts = Vec::new();
    for suffix in ["", "-wal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let (len, nanos) = std::fs::metadata(&p).map_or((0, 0), |m| {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            (m.len(), t)
        });
        parts.push(format!("{len}@{nanos}"));
    }
    format!("stat:{}", parts.join(","))
}

fn sqlite_remove(name: &str, db: &Path) -> Result<Removal> {
    let dir = db.parent().unwrap_or(Path::new("."));
    let fail = |what: String| StoreError::Missing {
        location: db.display().to_string(),
        what,
    };
    let builds = crate::sqlite::SqliteStore::open_read_only(db)?.totals()?.0;
    // Held while removing, so a compile does not write into a file being removed; one
    // that holds it now is refused.
    let lock = match std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("livecov.lock"))
    {
        Ok(f) => match f.try_lock() {
            Ok(()) => Some(f),
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(fail(
                    "a compile of this collection is running; prune it when it finished".to_owned(),
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(fail(format!("cannot take its compile lock: {e}")))
            }
        },
        Err(_) => None,
    };
    let mut removed = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        match std::fs::remove_file(&p) {
            Ok(()) => removed.push(p.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(format!("cannot remove {}: {e}", p.display()))),
        }
    }
    drop(lock);
    let coverage = dir.join("coverage");
    let kept = if coverage.is_dir() {
        vec![coverage.display().to_string()]
    } else {
        Vec::new()
    };
    Ok(Removal {
        name: name.to_owned(),
        removed,
        kept,
        layouts: builds,
    })
}

/// Connections to catalogs, kept between calls so [`Catalog::generation`] is one query
/// and not a connection each time (a few per URL; a call takes one out while it runs).
static CLIENTS: Mutex<Vec<(String, Client)>> = Mutex::new(Vec::new());

/// Runs `f` on a connection to `url` (a kept one, else a new one; once more on a new
/// one when the kept one turns out closed).
fn with_pg<T>(
    url: &str,
    mut f: impl FnMut(&mut Client) -> std::result::Result<T, postgres::Error>,
) -> Result<T> {
    let shown = redact_url(url);
    let err = |e: postgres::Error| StoreError::Postgres {
        url: shown.clone(),
        error: crate::pg::describe(&e),
    };
    let kept = {
        let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .iter()
            .position(|(u, _)| u == url)
            .map(|i| clients.swap_remove(i).1)
    };
    let (mut client, was_kept) = match kept {
        Some(c) if !c.is_closed() => (c, true),
        _ => (connect(url, &shown)?, false),
    };
    let out = match f(&mut client) {
        Err(_) if was_kept && client.is_closed() => {
            client = connect(url, &shown)?;
            f(&mut client).map_err(err)
        }
        other => other.map_err(err),
    };
    if !client.is_closed() {
        let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
        if clients.iter().filter(|(u, _)| u == url).count() < 4 {
            clients.push((url.to_owned(), client));
        }
    }
    out
}

/// A new connection to `url`, refused when its schema is not this livecov's (a database
/// without a livecov schema is accepted: it lists no collection).
fn connect(url: &str, shown: &str) -> Result<Client> {
    let err = |e: postgres::Error| StoreError::Postgres {
        url: shown.to_owned(),
        error: crate::pg::describe(&e),
    };
    let mut client = crate::pg::config(url, shown)?.connect(NoTls).map_err(err)?;
    let found = crate::pg::stored_version(&mut client).map_err(err)?;
    if found > PG_SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: shown.to_owned(),
            found,
        });
    }
    if found != 0 && found < PG_SCHEMA_VERSION {
        return Err(StoreError::TooOld {
            path: shown.to_owned(),
            found,
        });
    }
    Ok(client)
}

/// `result`, or `empty` when the database has no livecov schema (yet): a catalog
/// query then finds no table, which costs no extra round trip to ask first.
fn or_if_no_schema<T>(
    result: std::result::Result<T, postgres::Error>,
    empty: impl FnOnce() -> T,
) -> std::result::Result<T, postgres::Error> {
    match result {
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) => Ok(empty()),
        other => other,
    }
}

/// Times as the catalog reads them from PostgreSQL (see [`utc_timestamp`]).
macro_rules! utc {
    ($col:literal) => {
        concat!(
            "to_char(",
            $col,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
    };
}

fn pg_list(url: &str) -> Result<Vec<CollectionInfo>> {
    with_pg(url, |client| {
        // Totals are those the last finished compile kept; summed here for a collection
        // none finished yet (COALESCE evaluates the sum only then).
        let rows = or_if_no_schema(
            client.query(
                concat!(
                    "SELECT c.name, ",
                    utc!("c.created_at"),
                    ", ",
                    utc!("c.compiled_at"),
                    ", c.labels, \
                 coalesce(c.builds, (SELECT count(*) FROM builds b WHERE b.collection_id = c.id)), \
                 coalesce(c.statements, (SELECT coalesce(sum(f.statements), 0)::bigint \
                   FROM builds b JOIN build_files f ON f.build_id = b.id \
                   WHERE b.collection_id = c.id AND NOT f.excluded)), \
                 coalesce(c.covered, (SELECT coalesce(sum(f.covered), 0)::bigint \
                   FROM builds b JOIN build_files f ON f.build_id = b.id \
                   WHERE b.collection_id = c.id AND NOT f.excluded)) \
                 FROM collections c"
                ),
                &[],
            ),
            Vec::new,
        )?;
        Ok(rows
            .iter()
            .map(|r| CollectionInfo {
                name: r.get(0),
                created_at: r.get(1),
                compiled_at: r.get(2),
                labels: decode_labels(r.get(3)),
                builds: r.get::<_, i64>(4) as u64,
                statements: r.get::<_, i64>(5) as u64,
                covered: r.get::<_, i64>(6) as u64,
                unreadable: None,
            })
            .collect())
    })
}

fn missing_collection(url: &str, name: &str) -> StoreError {
    StoreError::Missing {
        location: redact_url(url),
        what: format!("the store holds no collection {name:?}"),
    }
}

fn pg_generation(url: &str, name: &str) -> Result<String> {
    let row = with_pg(url, |client| {
        let row = client.query_opt(
            "SELECT (SELECT s.value FROM settings s \
                     WHERE s.collection_id = c.id AND s.key = $2) \
             FROM collections c WHERE c.name = $1",
            &[&name, &GENERATION],
        );
        or_if_no_schema(row, || None)
    })?;
    match row {
        None => Err(missing_collection(url, name)),
        // Never compiled by a livecov that keeps one.
        Some(r) => Ok(r
            .get::<_, Option<String>>(0)
            .unwrap_or_else(|| "0".to_owned())),
    }
}

/// What removing one PostgreSQL collection found: missing, being compiled, or removed
/// with the hashes of its builds.
enum PgRemoved {
    Missing,
    Compiling,
    Removed(Vec<Vec<u8>>),
}

fn pg_remove(url: &str, name: &str) -> Result<Removal> {
    let outcome = with_pg(url, |client| {
        let mut tx = client.transaction()?;
        let row = tx.query_opt(
            "SELECT id FROM collections WHERE name = $1 FOR UPDATE",
            &[&name],
        );
        let Some(row) = or_if_no_schema(row, || None)? else {
            return Ok(PgRemoved::Missing);
        };
        let id: i64 = row.get(0);
        // A compile of it holds this key for its whole run (a session lock elsewhere).
        let free: bool = tx
            .query_one(
                "SELECT pg_try_advisory_xact_lock($1)",
                &[&crate::pg::compile_key(id)],
            )?
            .get(0);
        if !free {
            return Ok(PgRemoved::Compiling);
        }
        let hashes: Vec<Vec<u8>> = tx
            .query("SELECT hash FROM builds WHERE collection_id = $1", &[&id])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // The rows that refer to its builds first: a cascade from the collection does
        // not order them before the builds (`processes` refers to both sides).
        for sql in [
            "DELETE FROM inputs WHERE collection_id = $1",
            "DELETE FROM owners WHERE collection_id = $1",
            "DELETE FROM scenario_owners WHERE collection_id = $1",
            "DELETE FROM collections WHERE id = $1",
        ] {
            tx.execute(sql, &[&id])?;
        }
        tx.commit()?;
        Ok(PgRemoved::Removed(hashes))
    })?;
    let hashes = match outcome {
        PgRemoved::Missing => return Err(missing_collection(url, name)),
        PgRemoved::Compiling => {
            return Err(StoreError::Missing {
                location: redact_url(url),
                what: format!(
                    "a compile of collection {name:?} is running; prune it when it finished"
                ),
            })
        }
        PgRemoved::Removed(h) => h,
    };
    // Only the layouts this collection used: a layout no build refers to yet may be one
    // a compile elsewhere stored a moment ago for the build it is about to write. A
    // build that refers to one again in the meantime keeps it (the foreign key).
    let layouts = with_pg(url, |client| {
        client.execute(
            "DELETE FROM layouts l WHERE l.hash = ANY($1) \
             AND NOT EXISTS (SELECT 1 FROM builds b WHERE b.hash = l.hash)",
            &[&hashes],
        )
    })?;
    Ok(Removal {
        name: name.to_owned(),
        removed: vec![format!("collection {name:?} in {}", redact_url(url))],
        kept: Vec::new(),
        layouts,
    })
}

fn pg_layouts_freed(url: &str, names: &[String]) -> Result<u64> {
    with_pg(url, |client| {
        let row = client.query_opt(
            "SELECT count(DISTINCT b.hash) FROM builds b \
                 JOIN collections c ON c.id = b.collection_id \
                 WHERE c.name = ANY($1) AND NOT EXISTS (SELECT 1 FROM builds o \
                   JOIN collections oc ON oc.id = o.collection_id \
                   WHERE o.hash = b.hash AND NOT (oc.name = ANY($1)))",
            &[&names],
        );
        Ok(or_if_no_schema(row, || None)?.map_or(0, |r| r.get::<_, i64>(0) as u64))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn times_are_written_and_read_in_one_form() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_796_350_462_123_456);
        let s = utc_timestamp(t);
        assert_eq!(s, "2026-12-04T02:14:22.123456Z");
        assert_eq!(parse_utc_timestamp(&s), Some(t));
        assert_eq!(
            parse_utc_timestamp("2026-12-04T02:14:22Z"),
            Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_350_462))
        );
        assert_eq!(parse_utc_timestamp("yesterday"), None);
    }

    #[test]
    fn a_directory_lists_its_collections_and_locates_only_them() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, at, labels) in [
            ("old", "2026-01-01T00:00:00.000000Z", vec![("run", "a")]),
            (
                "new",
                "2026-02-01T00:00:00.000000Z",
                vec![("run", "b"), ("cluster", "x")],
            ),
        ] {
            let dir = tmp.path().join(name);
            std::fs::create_dir_all(dir.join("coverage")).unwrap();
            let mut s = Store::open(&dir.join(DB_FILE)).unwrap();
            let edits: Vec<(String, String)> = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            s.transaction(|tx| {
                tx.edit_labels(&edits)?;
                tx.note_created(at)?;
                tx.mark_compiled(at)
            })
            .unwrap();
        }
        std::fs::create_dir_all(tmp.path().join("not-a-collection")).unwrap();
        let cat = Catalog::parse(tmp.path().to_str().unwrap()).unwrap();
        assert_eq!(cat, Catalog::Directory(tmp.path().to_path_buf()));
        let list = cat.list().unwrap();
        let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["new", "old"]);
        assert_eq!(
            list[0].labels,
            [("cluster".into(), "x".into()), ("run".into(), "b".into())]
        );
        assert_eq!(
            list[0].compiled_at.as_deref(),
            Some("2026-02-01T00:00:00.000000Z")
        );
        assert!(cat.location("old").is_some());
        assert_eq!(cat.location("not-a-collection"), None);
        assert_eq!(cat.location("../old"), None);

        // A collection directory is a catalog of one.
        let one = Catalog::parse(tmp.path().join("old").to_str().unwrap()).unwrap();
        assert_eq!(one.list().unwrap()[0].name, "old");

        let g = cat.generation("new").unwrap();
        assert_eq!(g, cat.generation("new").unwrap(), "nothing committed");
        let mut s = Store::open(&tmp.path().join("new").join(DB_FILE)).unwrap();
        s.transaction(|tx| tx.bump_generation()).unwrap();
        drop(s);
        let g2 = cat.generation("new").unwrap();
        assert!(
            g2.parse::<i64>().unwrap() > g.parse::<i64>().unwrap(),
            "{g} {g2}"
        );

        let r = cat.remove("old").unwrap();
        assert_eq!(r.kept.len(), 1, "coverage/ kept: {r:?}");
        assert!(!tmp.path().join("old").join(DB_FILE).exists());
        assert!(tmp.path().join("old").join("coverage").is_dir());
        assert_eq!(cat.list().unwrap().len(), 1);
    }

    #[test]
    fn label_edits_set_keep_and_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("c").join(DB_FILE);
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        let mut s = Store::open(&db).unwrap();
        let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        s.transaction(|tx| tx.edit_labels(&[kv("a", "1"), kv("b", "2")]))
            .unwrap();
        s.transaction(|tx| tx.edit_labels(&[])).unwrap();
        s.transaction(|tx| tx.edit_labels(&[kv("a", ""), kv("c", "3=x")]))
            .unwrap();
        drop(s);
        let info = &Catalog::File(db).list().unwrap()[0];
        assert_eq!(info.labels, [kv("b", "2"), kv("c", "3=x")]);
    }
}
