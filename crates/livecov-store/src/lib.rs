//! livecov's store: where `cluster compile` writes and reports read.
//!
//! Two databases hold a store, behind one contract ([`Backend`] for reads and
//! bookkeeping, [`WriteTx`] for the writes of one transaction), chosen by a
//! [`StoreLocation`]:
//! - **SQLite** (the default): one file per collection (`<collection>/livecov.db`);
//! - **PostgreSQL** (`postgres://…`): one database shared by many collections and many
//!   machines; every row is scoped by its collection, layouts are stored once for all of
//!   them (content-addressed by build hash).
//!
//! What is stored, compactly:
//! - **builds**, keyed by the 16-byte hash inside Go's meta file; each layout is stored
//!   once (the meta file itself, zstd-compressed), with per-file statement totals;
//! - **inputs**: one row per report directory, with its origin (namespace, pod, node,
//!   image…), a cheap fingerprint and a content hash for incremental compiles, and the
//!   last error, which is retried on the next run (errors are not sticky);
//! - **processes**: the latest snapshot of each process, as a compressed vector of u32
//!   counters aligned to its build's layout (sparse ULEB128 pairs, then zstd);
//! - **owners**: owner groups (namespace/type/owner/binary/build) with their pods,
//!   containers, hosts, images, first/last seen, merged counters and totals;
//! - **image sources** and **diagnostics**.
//!
//! Both schemas are versioned; opening a store for writing applies forward migrations
//! in order (PostgreSQL: under an advisory lock, so machines starting at once migrate
//! once). Front ends read through [`CoverageStore`].
//! Invariants: this crate does no decoding of coverage formats; its only network I/O is
//! the PostgreSQL connection.
#![deny(missing_docs)]

pub mod catalog;
mod counters;
mod location;
mod pg;
mod pg_schema;
mod queries;
mod schema;
mod sqlite;

use std::path::Path;

pub use catalog::{Catalog, CollectionInfo};
pub use counters::{
    compress_counters, compress_layout, decompress_counters, for_each_nonzero, CompressError,
};
pub use location::{redact_url, StoreLocation};
pub use queries::CoverageStore;
pub use schema::SCHEMA_VERSION;

/// A store error, naming the database and what failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    // The cause is in the message and not also a `source()`: printed with its chain
    // (`{:#}`), it would otherwise say everything twice.
    #[error("store {path}: {error}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The SQLite error.
        error: rusqlite::Error,
    },
    /// PostgreSQL failed (connecting, or a statement). `url` has its password redacted.
    #[error("store {url}: {error}")]
    Postgres {
        /// The store URL, password redacted.
        url: String,
        /// What PostgreSQL (or the connection) said.
        error: String,
    },
    /// The store does not hold what was asked for (a collection never compiled into it).
    #[error("store {location}: {what}")]
    Missing {
        /// The store (path, or URL with its password redacted).
        location: String,
        /// What is missing, and what to do.
        what: String,
    },
    /// A stored value could not be decoded.
    #[error("store {path}: {what}")]
    Corrupt {
        /// The database file.
        path: String,
        /// What was wrong.
        what: String,
    },
    /// The file has an older schema, which a read-only open cannot migrate.
    #[error("store {path}: schema version {found} is older than this livecov's ({SCHEMA_VERSION}) and the store is opened read-only; run `livecov cluster compile` on it first")]
    TooOld {
        /// The database file.
        path: String,
        /// The version found.
        found: i64,
    },
    /// The file was written by a newer livecov.
    #[error("store {path}: schema version {found} is newer than this livecov understands ({SCHEMA_VERSION}); upgrade livecov")]
    TooNew {
        /// The database file.
        path: String,
        /// The version found.
        found: i64,
    },
}

/// Result of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A build as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildRow {
    /// Database id.
    pub id: i64,
    /// The 16-byte identity (Go meta-file hash).
    pub hash: [u8; 16],
    /// Counter mode name (`set`, `count`, `atomic`).
    pub mode: String,
    /// Number of coverable units (counters).
    pub units: u64,
    /// Statements counted (infrastructure files excluded).
    pub statements: u64,
    /// What the build was recorded by: `go`, `python` (coverage.py) or `lcov`.
    pub language: String,
}

/// The `format` of a build stored as a [`livecov_model::Layout`] (any language).
pub const LAYOUT_FORMAT: &str = "layout";

/// A build's layout as the store holds it: `format` is [`LAYOUT_FORMAT`] for livecov's
/// own form, or `go` for the Go `covmeta` bytes that stores written before schema 3
/// hold (readers convert them; they are never rewritten in place).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLayout {
    /// `layout` or `go`.
    pub format: String,
    /// The decompressed bytes.
    pub bytes: Vec<u8>,
}

/// Per-file statement totals of a build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildFile {
    /// File path as the build records it.
    pub path: String,
    /// Import path of its package.
    pub package: String,
    /// Statements in the file.
    pub statements: u64,
    /// Statements covered by any process of the build (updated by compile).
    pub covered: u64,
    /// True for injected infrastructure files, left out of every total.
    pub excluded: bool,
}

/// One report directory's origin and bookkeeping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputRow {
    /// Directory name under `<collection>/coverage/`.
    pub dir: String,
    /// Cheap fingerprint of the directory's files (names, sizes, times).
    pub fingerprint: String,
    /// Hash of the coverage content (counters, meta hashes, metadata).
    pub content_hash: String,
    /// livecov version that compiled it (a new version recompiles).
    pub tool_version: String,
    /// Empty when compiled without error; the error otherwise (retried next run).
    pub error: String,
    /// Kubernetes namespace (empty for host processes).
    pub namespace: String,
    /// Pod name (the hostname for host processes).
    pub pod: String,
    /// Container name.
    pub container: String,
    /// Node (hostname).
    pub hostname: String,
    /// Image reference as the producer recorded it.
    pub image: String,
    /// Binary name.
    pub binary: String,
    /// True for processes found on the host network rather than in a pod.
    pub is_host: bool,
    /// When the process was discovered / collected (RFC 3339).
    pub collected_at: String,
    /// ownerReference kind, when the metadata carries one.
    pub owner_kind: String,
    /// ownerReference name, when the metadata carries one.
    pub owner_name: String,
    /// Source repository from the process's `info.json`.
    pub source_url: String,
    /// Source commit from the process's `info.json`.
    pub source_commit: String,
    /// Some of its files could not be used (see its diagnostics); the rest counts.
    pub partial: bool,
    /// Labels from its metadata (`scenario`, `run`, …), sorted by key.
    pub labels: Vec<(String, String)>,
}

impl InputRow {
    /// The value of label `key`, empty when the input has none.
    pub fn label(&self, key: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Labels as stored: `key=value` lines, keys sorted (keys hold no `=`, no value a newline:
/// [`encode_labels`] escapes both).
fn encode_labels(labels: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = labels.iter().collect();
    sorted.sort();
    let mut out = String::new();
    for (k, v) in sorted {
        out.push_str(&escape_label(k));
        out.push('=');
        out.push_str(&escape_label(v));
        out.push('\n');
    }
    out
}

fn escape_label(s: &str) -> String {
    s.replace('%', "%25")
        .replace('=', "%3D")
        .replace('\n', "%0A")
}

fn unescape_label(s: &str) -> String {
    s.replace("%0A", "\n")
        .replace("%3D", "=")
        .replace("%25", "%")
}

/// `stored` with `edits` applied (an empty value removes its key), sorted by key.
fn apply_label_edits(
    stored: Vec<(String, String)>,
    edits: &[(String, String)],
) -> Vec<(String, String)> {
    let mut labels: std::collections::BTreeMap<String, String> = stored.into_iter().collect();
    for (k, v) in edits {
        if v.is_empty() {
            labels.remove(k);
        } else {
            labels.insert(k.clone(), v.clone());
        }
    }
    labels.into_iter().collect()
}

fn decode_labels(s: &str) -> Vec<(String, String)> {
    s.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (unescape_label(k), unescape_label(v)))
        .collect()
}

/// The latest snapshot of one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessRow {
    /// Build the counters are aligned to.
    pub build_id: i64,
    /// Process id (0 when unknown).
    pub pid: i64,
    /// When the kept snapshot was taken (RFC 3339 or empty).
    pub snapshot_time: String,
    /// Snapshots of this process that were superseded by the kept one.
    pub superseded: i64,
    /// Statements covered (infrastructure files excluded).
    pub covered: u64,
    /// zstd-compressed counters (see [`compress_counters`]).
    pub counters: Vec<u8>,
}

/// An owner group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerRow {
    /// `namespace/type/owner/binary/build-hex`.
    pub key: String,
    /// Namespace (`host` for host processes).
    pub namespace: String,
    /// Owner type (Deployment, DaemonSet, …, Host).
    pub owner_type: String,
    /// Owner name.
    pub owner: String,
    /// Binary name.
    pub binary: String,
    /// Build id.
    pub build_id: i64,
    /// Sorted pod names.
    pub pods: Vec<String>,
    /// Sorted container names.
    pub containers: Vec<String>,
    /// Sorted node names.
    pub hosts: Vec<String>,
    /// Sorted images.
    pub images: Vec<String>,
    /// Earliest `collected_at`.
    pub first_seen: String,
    /// Latest `collected_at`.
    pub last_seen: String,
    /// Statements of the build (infrastructure files excluded).
    pub statements: u64,
    /// Statements covered by the owner's processes.
    pub covered: u64,
    /// Hash of the member inputs' content hashes: unchanged owners are skipped.
    pub input_hash: String,
    /// zstd-compressed merged counters.
    pub counters: Vec<u8>,
}

/// Where an image's source lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageSourceRow {
    /// Image reference (as recorded) or `host:<binary>`.
    pub image: String,
    /// Source repository URL.
    pub source_repo: String,
    /// Commit id.
    pub commit_id: String,
    /// Build system group.
    pub software_group: String,
    /// Build system key.
    pub software_key: String,
    /// Where the values came from (`info.json`, `registry`).
    pub origin: String,
    /// Last lookup error, empty when none.
    pub error: String,
}

/// The outcome of fetching one repo@commit into the source cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceFetchRow {
    /// Repository URL as the image source records it.
    pub repo: String,
    /// Commit as recorded (full or abbreviated).
    pub commit: String,
    /// The full commit id fetched, empty on failure.
    pub full_commit: String,
    /// Why the fetch failed, empty on success.
    pub error: String,
    /// When it was attempted (RFC 3339).
    pub fetched_at: String,
}

/// A list column (pods, containers…) as stored: a JSON array, so a value holding a
/// newline stays one value.
fn encode_list(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_default()
}

/// Reads a list column: a JSON array, or (stores of schema 2 and before) values joined
/// by newlines.
fn decode_list(s: String) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    if s.starts_with('[') {
        if let Ok(v) = serde_json::from_str(&s) {
            return v;
        }
    }
    s.split('\n').map(str::to_owned).collect()
}

/// The store's contract, beside the reads of [`CoverageStore`]: what every database behind
/// a [`Store`] does. SQLite and PostgreSQL implement it and pass the same suite
/// (`tests/conformance.rs`).
///
/// - Reads see only committed transactions, and only the store's collection (a
///   PostgreSQL store holds many).
/// - [`Backend::transaction`] is all or nothing: a transaction that fails, or whose
///   connection is lost, leaves nothing of itself visible. (PostgreSQL may keep the
///   layout of a new build it stored: shared content keyed by the build's hash, which no
///   read shows until a build of a collection refers to it.)
/// - Builds are content-addressed by their hash: the same build written by two
///   transactions at once is stored once.
pub trait Backend: CoverageStore + Send {
    /// Where the store is, for messages: a file path, or a URL with its password redacted.
    fn location(&self) -> &str;
    /// The schema version of the open store.
    fn version(&self) -> Result<i64>;
    /// (key, build id) of every owner group, without reading their counters.
    fn owner_builds(&self) -> Result<Vec<(String, i64)>>;
    /// Runs `f` in one transaction (committed when `f` returns `Ok`).
    fn transaction(&mut self, f: &mut dyn FnMut(&dyn WriteTx) -> Result<()>) -> Result<()>;
    /// Holds the collection for one compile's writes against compiles from other
    /// machines (PostgreSQL: a session advisory lock on a connection of its own, released
    /// when the guard drops or the process dies). `waiting` is called once when another
    /// compile holds it. `None`: the database needs nothing beyond the collection
    /// directory's lock file (SQLite).
    fn lock_for_compile(&self, waiting: &mut dyn FnMut()) -> Result<Option<CompileLock>>;
}

/// A held compile lock (see [`Backend::lock_for_compile`]); dropping it releases it.
pub struct CompileLock {
    _held: Box<dyn Send>,
}

/// The writes of one transaction. Every method names one kind of row; none commits.
pub trait WriteTx {
    /// The id of the build with this hash, if stored.
    fn build_id(&self, hash: &[u8; 16]) -> Result<Option<i64>>;
    /// Stores a build's layout once (compressed with [`compress_layout`], in `format`:
    /// [`LAYOUT_FORMAT`] for a [`livecov_model::Layout`]), with its per-file totals.
    /// Returns its id (the stored one when the build is already there).
    #[allow(clippy::too_many_arguments)] // One row's columns.
    fn insert_build(
        &self,
        hash: &[u8; 16],
        format: &str,
        mode: &str,
        units: u64,
        statements: u64,
        compressed: &[u8],
        files: &[BuildFile],
    ) -> Result<i64>;
    /// Records what a build was recorded by (`go` unless set: `python`, `lcov`).
    fn set_build_language(&self, build_id: i64, language: &str) -> Result<()>;
    /// Replaces an input and its processes (and clears its diagnostics).
    fn replace_input(&self, input: &InputRow, processes: &[ProcessRow]) -> Result<()>;
    /// Updates only the fingerprint of an input whose content is unchanged.
    fn touch_input(&self, dir: &str, fingerprint: &str) -> Result<()>;
    /// Removes an input (its processes and diagnostics go with it).
    fn delete_input(&self, dir: &str) -> Result<()>;
    /// Records a diagnostic for an input.
    fn add_diagnostic(&self, dir: &str, severity: &str, message: &str) -> Result<()>;
    /// Every process of a build, with the input it belongs to: (dir, process).
    fn build_processes(&self, build_id: i64) -> Result<Vec<(String, ProcessRow)>>;
    /// Sets the covered statements of each file of a build (from all its processes).
    fn set_build_coverage(&self, build_id: i64, covered: &[(String, u64)]) -> Result<()>;
    /// Rewrites a build's per-file figures (statements, covered, excluded) and its
    /// total statements: an exclusion set or merge rule changed them.
    fn set_build_files(&self, build_id: i64, statements: u64, files: &[BuildFile]) -> Result<()>;
    /// Keeps a setting between compiles (`key` → `value`).
    fn set_setting(&self, key: &str, value: &str) -> Result<()>;
    /// Edits the collection's labels (`cluster compile --label KEY=VALUE`): each pair
    /// sets its key, an empty value removes the key; keys not named are kept.
    fn edit_labels(&self, edits: &[(String, String)]) -> Result<()>;
    /// Records `at` (see [`catalog::utc_timestamp`]) as the collection's creation time,
    /// unless it has one (PostgreSQL: the collection row's, set when it was made).
    fn note_created(&self, at: &str) -> Result<()>;
    /// Records a finished compile at `at` (see [`catalog::utc_timestamp`]) and gives the
    /// collection a new generation; PostgreSQL also keeps the collection's totals for
    /// its catalog.
    fn mark_compiled(&self, at: &str) -> Result<()>;
    /// Gives the collection a new generation (see [`Catalog::generation`]): what its
    /// pages show changed (a sources fetch).
    fn bump_generation(&self) -> Result<()>;
    /// Keys and input hashes of the stored owners.
    fn owner_hashes(&self) -> Result<Vec<(String, String)>>;
    /// Keys and input hashes of the stored scenario owner groups.
    fn scenario_owner_hashes(&self) -> Result<Vec<(String, String)>>;
    /// Inserts or replaces the owner group `o` of `scenario` (its key names the
    /// scenario, so the same owner in two scenarios is two rows).
    fn upsert_scenario_owner(&self, scenario: &str, o: &OwnerRow) -> Result<()>;
    /// Deletes a scenario owner group.
    fn delete_scenario_owner(&self, key: &str) -> Result<()>;
    /// Inserts or replaces an owner group.
    fn upsert_owner(&self, o: &OwnerRow) -> Result<()>;
    /// Deletes an owner group.
    fn delete_owner(&self, key: &str) -> Result<()>;
    /// Records the outcome of fetching one repo@commit (replacing an earlier one).
    fn record_source_fetch(&self, f: &SourceFetchRow) -> Result<()>;
    /// The image source row for `image`, if any.
    fn image_source(&self, image: &str) -> Result<Option<ImageSourceRow>>;
    /// Inserts or replaces the image source row `row.image` as it is.
    fn put_image_source(&self, row: &ImageSourceRow) -> Result<()>;

    /// Upserts an image source, filling only empty fields: a value already known is
    /// never replaced, and an empty value never clears one. `origin` lists every source
    /// that filled a field (`info.json+registry`). The error is the latest lookup's.
    fn fill_image_source(&self, s: &ImageSourceRow) -> Result<()> {
        let old = self.image_source(&s.image)?.unwrap_or_default();
        let mut filled = false;
        let mut pick = |new: &str, old: &str| -> String {
            if old.is_empty() && !new.is_empty() {
                filled = true;
                new.to_owned()
            } else {
                old.to_owned()
            }
        };
        let mut row = ImageSourceRow {
            image: s.image.clone(),
            source_repo: pick(&s.source_repo, &old.source_repo),
            commit_id: pick(&s.commit_id, &old.commit_id),
            software_group: pick(&s.software_group, &old.software_group),
            software_key: pick(&s.software_key, &old.software_key),
            origin: String::new(),
            error: s.error.clone(),
        };
        row.origin =
            if !filled || s.origin.is_empty() || old.origin.split('+').any(|o| o == s.origin) {
                old.origin.clone()
            } else if old.origin.is_empty() {
                s.origin.clone()
            } else {
                format!("{}+{}", old.origin, s.origin)
            };
        self.put_image_source(&row)
    }
}

/// An open store: SQLite or PostgreSQL (see [`Backend`]).
pub struct Store {
    backend: Box<dyn Backend>,
}

/// Writes inside one transaction ([`Store::transaction`]): the methods of [`WriteTx`].
pub struct Tx<'a> {
    inner: &'a dyn WriteTx,
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = dyn WriteTx + 'a;
    fn deref(&self) -> &Self::Target {
        self.inner
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite store at `path` and migrates it forward.
    pub fn open(path: &Path) -> Result<Store> {
        Ok(Store {
            backend: Box::new(sqlite::SqliteStore::open(path)?),
        })
    }

    /// Opens the SQLite store at `path` for reading only: nothing is created or changed,
    /// so a store the user may read but not write (a CI artifact, a read-only mount,
    /// another user's collection) can be reported on. While a writer has the store open
    /// (its `-wal` file exists) the WAL is shared as usual, so committed changes are
    /// seen; a closed store, or one whose `-shm` cannot be made, is opened
    /// `immutable=1`, which creates no `-wal` or `-shm` file. The schema is not migrated:
    /// a store older than this livecov is [`StoreError::TooOld`].
    pub fn open_read_only(path: &Path) -> Result<Store> {
        Ok(Store {
            backend: Box::new(sqlite::SqliteStore::open_read_only(path)?),
        })
    }

    /// Opens the store at `location`: for writing (created and migrated if needed; a
    /// PostgreSQL collection row is created), or for reading only (nothing created; a
    /// collection the PostgreSQL store does not hold is [`StoreError::Missing`]; a schema
    /// older than this livecov's is [`StoreError::TooOld`]).
    pub fn open_at(location: &StoreLocation, read_only: bool) -> Result<Store> {
        let backend: Box<dyn Backend> = match location {
            StoreLocation::Sqlite(path) if read_only => {
                Box::new(sqlite::SqliteStore::open_read_only(path)?)
            }
            StoreLocation::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path)?),
            StoreLocation::Postgres { url, collection } => {
                Box::new(pg::PgStore::open(url, collection, read_only)?)
            }
        };
        Ok(Store { backend })
    }

    /// Where the store is: a file path, or a URL with its password redacted.
    pub fn location(&self) -> &str {
        self.backend.location()
    }

    /// The schema version of the open store.
    pub fn version(&self) -> Result<i64> {
        self.backend.version()
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, else rolled back.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.backend.transaction(&mut |tx| {
            let f = f.take().expect("a transaction body runs once");
            out = Some(f(&Tx { inner: tx })?);
            Ok(())
        })?;
        Ok(out.expect("a committed transaction ran its body"))
    }

    /// See [`Backend::lock_for_compile`].
    pub fn lock_for_compile(&self, waiting: &mut dyn FnMut()) -> Result<Option<CompileLock>> {
        self.backend.lock_for_compile(waiting)
    }

    /// Every stored input, by directory name.
    pub fn inputs(&self) -> Result<Vec<InputRow>> {
        self.backend.inputs()
    }

    /// Every build, by hash.
    pub fn builds(&self) -> Result<Vec<BuildRow>> {
        self.backend.builds()
    }

    /// The stored layout of a build: its format and its (decompressed) bytes.
    pub fn build_layout(&self, build_id: i64) -> Result<StoredLayout> {
        self.backend.build_layout(build_id)
    }

    /// The layout of a build in livecov's own format, decoded; `None` for a build stored
    /// by an older livecov in its producer's format (see [`StoredLayout`]).
    pub fn model_layout(&self, build_id: i64) -> Result<Option<livecov_model::Layout>> {
        let stored = self.build_layout(build_id)?;
        if stored.format != LAYOUT_FORMAT {
            return Ok(None);
        }
        livecov_model::Layout::decode(&stored.bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path: self.location().to_owned(),
                what: format!("build {build_id}: {e}"),
            })
    }

    /// Per-file totals of a build, sorted by path.
    pub fn build_files(&self, build_id: i64) -> Result<Vec<BuildFile>> {
        self.backend.build_files(build_id)
    }

    /// The processes of an input.
    pub fn processes(&self, dir: &str) -> Result<Vec<ProcessRow>> {
        self.backend.processes(dir)
    }

    /// Every owner group, sorted by key.
    pub fn owners(&self) -> Result<Vec<OwnerRow>> {
        self.backend.owners()
    }

    /// The owner groups of one build, sorted by key.
    pub fn owners_of_build(&self, build_id: i64) -> Result<Vec<OwnerRow>> {
        self.backend.owners_of_build(build_id)
    }

    /// (key, build id) of every owner group, without reading their counters.
    pub fn owner_builds(&self) -> Result<Vec<(String, i64)>> {
        self.backend.owner_builds()
    }

    /// Calls `f` with every owner group in key order, reading a few rows at a time.
    pub fn for_each_owner(&self, f: &mut dyn FnMut(OwnerRow) -> Result<()>) -> Result<()> {
        self.backend.for_each_owner(f)
    }

    /// The scenarios with owner groups, sorted.
    pub fn scenarios(&self) -> Result<Vec<String>> {
        self.backend.scenarios()
    }

    /// The owner groups of one scenario, sorted by key; of one build only when
    /// `build_id` is given.
    pub fn scenario_owners(&self, scenario: &str, build_id: Option<i64>) -> Result<Vec<OwnerRow>> {
        self.backend.scenario_owners(scenario, build_id)
    }

    /// Every image source.
    pub fn image_sources(&self) -> Result<Vec<ImageSourceRow>> {
        self.backend.image_sources()
    }

    /// Every recorded source fetch.
    pub fn source_fetches(&self) -> Result<Vec<SourceFetchRow>> {
        self.backend.source_fetches()
    }

    /// A setting a compile kept (see [`WriteTx::set_setting`]), if any.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.backend.setting(key)
    }

    /// Diagnostics recorded for inputs: (dir, severity, message).
    pub fn diagnostics(&self) -> Result<Vec<(String, String, String)>> {
        self.backend.diagnostics()
    }
}
