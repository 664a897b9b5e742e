//! The SQLite backend: one file per collection (`<collection>/livecov.db`), the format
//! livecov has always written (its migrations in `schema.rs`).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::{
    apply_label_edits, catalog, decode_labels, decode_list, encode_labels, encode_list, schema,
    Backend, BuildFile, BuildRow, CompileLock, ImageSourceRow, InputRow, OwnerRow, ProcessRow,
    Result, SourceFetchRow, StoreError, StoredLayout, WriteTx, SCHEMA_VERSION,
};

/// Reads the image source columns in their usual order.
fn image_source_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImageSourceRow> {
    Ok(ImageSourceRow {
        image: r.get(0)?,
        source_repo: r.get(1)?,
        commit_id: r.get(2)?,
        software_group: r.get(3)?,
        software_key: r.get(4)?,
        origin: r.get(5)?,
        error: r.get(6)?,
    })
}

/// Reads the process columns starting at column `at`.
fn process_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ProcessRow> {
    Ok(ProcessRow {
        build_id: r.get(at)?,
        pid: r.get(at + 1)?,
        snapshot_time: r.get(at + 2)?,
        superseded: r.get(at + 3)?,
        covered: r.get::<_, i64>(at + 4)? as u64,
        counters: r.get(at + 5)?,
    })
}

/// `path` percent-encoded for a `file:` URI (SQLite decodes `%XX`; `?` and `#` would end
/// the path).
fn url_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn owner_query(filter: &str) -> String {
    owner_query_in(OwnerTable::Owners, filter)
}

/// Where owner groups live: the collection's, or one scenario's.
#[derive(Clone, Copy)]
enum OwnerTable {
    Owners,
    Scenario,
}

impl OwnerTable {
    fn name(self) -> &'static str {
        match self {
            OwnerTable::Owners => "owners",
            OwnerTable::Scenario => "scenario_owners",
        }
    }
}

fn owner_query_in(table: OwnerTable, filter: &str) -> String {
    format!(
        "SELECT key, namespace, owner_type, owner, binary, build_id, pods, containers, \
         hosts, images, first_seen, last_seen, statements, covered, input_hash, counters \
         FROM {} {filter} ORDER BY key",
        table.name()
    )
}

fn owner_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OwnerRow> {
    let split = decode_list;
    Ok(OwnerRow {
        key: r.get(0)?,
        namespace: r.get(1)?,
        owner_type: r.get(2)?,
        owner: r.get(3)?,
        binary: r.get(4)?,
        build_id: r.get(5)?,
        pods: split(r.get(6)?),
        containers: split(r.get(7)?),
        hosts: split(r.get(8)?),
        images: split(r.get(9)?),
        first_seen: r.get(10)?,
        last_seen: r.get(11)?,
        statements: r.get::<_, i64>(12)? as u64,
        covered: r.get::<_, i64>(13)? as u64,
        input_hash: r.get(14)?,
        counters: r.get(15)?,
    })
}

/// An open SQLite store (one file per collection).
pub(crate) struct SqliteStore {
    conn: Connection,
    path: String,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and migrates it forward.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let p = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: p.clone(),
            error: source,
        })?;
        let mut store = SqliteStore { conn, path: p };
        store.init()?;
        Ok(store)
    }

    /// Opens the store at `path` for reading only: nothing is created or changed, so a
    /// store the user may read but not write (a CI artifact, a read-only mount, another
    /// user's collection) can be reported on. While a writer has the store open (its
    /// `-wal` file exists) the WAL is shared as usual, so committed changes are seen; a
    /// closed store, or one whose `-shm` cannot be made, is opened `immutable=1`, which
    /// creates no `-wal` or `-shm` file. The schema is not migrated: a store older than
    /// this livecov is [`StoreError::TooOld`].
    pub fn open_read_only(path: &Path) -> Result<SqliteStore> {
        use rusqlite::OpenFlags;
        let p = path.display().to_string();
        let err = |source| StoreError::Sqlite {
            path: p.clone(),
            error: source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let shared = if Path::new(&wal).exists() {
            Connection::open_with_flags(path, flags).and_then(|conn| {
                // The first read maps the -shm; fails when it cannot be made.
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
                Ok(conn)
            })
        } else {
            Err(rusqlite::Error::InvalidQuery)
        };
        let conn = match shared {
            Ok(conn) => conn,
            Err(_) => {
                let abs = std::path::absolute(path)
                    .map_err(|e| err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
                let uri = url_path(&abs);
                Connection::open_with_flags(format!("file:{uri}?immutable=1"), flags)
                    .map_err(err)?
            }
        };
        conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;")
            .map_err(err)?;
        let store = SqliteStore { conn, path: p };
        let found = store.version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: store.path.clone(),
                found,
            });
        }
        if found < SCHEMA_VERSION {
            return Err(StoreError::TooOld {
                path: store.path.clone(),
                found,
            });
        }
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            error: source,
        }
    }

    fn init(&mut self) -> Result<()> {
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
            )
            .map_err(|e| self.err(e))?;
        let found = schema::migrate(&mut self.conn).map_err(|e| self.err(e))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
            });
        }
        Ok(())
    }

    /// The schema version of the open store.
    pub fn version(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Runs `f` in one transaction.
    pub fn transaction(&mut self, f: &mut dyn FnMut(&dyn WriteTx) -> Result<()>) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|source| StoreError::Sqlite {
                path: path.clone(),
                error: source,
            })?;
        f(&SqliteTx {
            tx: &tx,
            path: &path,
        })?;
        tx.commit().map_err(|source| StoreError::Sqlite {
            path,
            error: source,
        })?;
        Ok(())
    }

    /// Every stored input, by directory name.
    pub fn inputs(&self) -> Result<Vec<InputRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT dir, fingerprint, content_hash, tool_version, error, namespace, pod, \
                 container, hostname, image, binary, is_host, collected_at, owner_kind, \
                 owner_name, source_url, source_commit, partial, labels FROM inputs ORDER BY dir",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(InputRow {
                    dir: r.get(0)?,
                    fingerprint: r.get(1)?,
                    content_hash: r.get(2)?,
                    tool_version: r.get(3)?,
                    error: r.get(4)?,
                    namespace: r.get(5)?,
                    pod: r.get(6)?,
                    container: r.get(7)?,
                    hostname: r.get(8)?,
                    image: r.get(9)?,
                    binary: r.get(10)?,
                    is_host: r.get(11)?,
                    collected_at: r.get(12)?,
                    owner_kind: r.get(13)?,
                    owner_name: r.get(14)?,
                    source_url: r.get(15)?,
                    source_commit: r.get(16)?,
                    partial: r.get(17)?,
                    labels: decode_labels(&r.get::<_, String>(18)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Every build.
    pub fn builds(&self) -> Result<Vec<BuildRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT b.id, b.hash, b.mode, b.units, b.statements, \
                 COALESCE(l.language, 'go') FROM builds b \
                 LEFT JOIN build_languages l ON l.build_id = b.id ORDER BY b.hash",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let h: Vec<u8> = r.get(1)?;
                let mut hash = [0u8; 16];
                if h.len() == 16 {
                    hash.copy_from_slice(&h);
                }
                Ok(BuildRow {
                    id: r.get(0)?,
                    hash,
                    mode: r.get(2)?,
                    units: r.get::<_, i64>(3)? as u64,
                    statements: r.get::<_, i64>(4)? as u64,
                    language: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// The stored layout of a build: its format and its (decompressed) bytes.
    pub fn build_layout(&self, build_id: i64) -> Result<StoredLayout> {
        let (format, blob): (String, Vec<u8>) = self
            .conn
            .query_row(
                "SELECT format, layout FROM builds WHERE id = ?1",
                [build_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        let bytes = zstd::decode_all(&blob[..]).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            what: format!("layout of build {build_id}: {e}"),
        })?;
        Ok(StoredLayout { format, bytes })
    }

    /// Per-file totals of a build, sorted by path.
    pub fn build_files(&self, build_id: i64) -> Result<Vec<BuildFile>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, package, statements, covered, excluded FROM build_files \
                 WHERE build_id = ?1 ORDER BY path",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([build_id], |r| {
                Ok(BuildFile {
                    path: r.get(0)?,
                    package: r.get(1)?,
                    statements: r.get::<_, i64>(2)? as u64,
                    covered: r.get::<_, i64>(3)? as u64,
                    excluded: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// The processes of an input.
    pub fn processes(&self, dir: &str) -> Result<Vec<ProcessRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT p.build_id, p.pid, p.snapshot_time, p.superseded, p.covered, p.counters \
                 FROM processes p JOIN inputs i ON p.input_id = i.id WHERE i.dir = ?1 \
                 ORDER BY p.build_id, p.pid",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([dir], |r| process_row(r, 0))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Every owner group, sorted by key.
    pub fn owners(&self) -> Result<Vec<OwnerRow>> {
        self.query_owners("", [])
    }

    /// The owner groups of one build, sorted by key.
    pub fn owners_of_build(&self, build_id: i64) -> Result<Vec<OwnerRow>> {
        self.query_owners("WHERE build_id = ?1", [build_id])
    }

    /// (key, build id) of every owner group, without reading their counters.
    pub fn owner_builds(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, build_id FROM owners ORDER BY key")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Calls `f` with every owner group in key order, reading one row at a time.
    pub fn for_each_owner(&self, f: &mut dyn FnMut(OwnerRow) -> Result<()>) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(&owner_query(""))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            f(owner_row(r).map_err(|e| self.err(e))?)?;
        }
        Ok(())
    }

    /// The scenarios with owner groups, sorted.
    pub fn scenarios(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT scenario FROM scenario_owners ORDER BY scenario")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// The owner groups of one scenario (their processes' snapshots labelled with it),
    /// sorted by key; of one build only when `build_id` is given.
    pub fn scenario_owners(&self, scenario: &str, build_id: Option<i64>) -> Result<Vec<OwnerRow>> {
        let mut stmt = self
            .conn
            .prepare(&owner_query_in(
                OwnerTable::Scenario,
                "WHERE scenario = ?1 AND (?2 IS NULL OR build_id = ?2)",
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![scenario, build_id], owner_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn query_owners<P: rusqlite::Params>(&self, filter: &str, params: P) -> Result<Vec<OwnerRow>> {
        let mut stmt = self
            .conn
            .prepare(&owner_query(filter))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params, owner_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Every image source.
    pub fn image_sources(&self) -> Result<Vec<ImageSourceRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT image, source_repo, commit_id, software_group, software_key, origin, error \
                 FROM image_sources ORDER BY image",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], image_source_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Every recorded source fetch.
    pub fn source_fetches(&self) -> Result<Vec<SourceFetchRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT repo, commit_id, full_commit, error, fetched_at FROM source_fetches \
                 ORDER BY repo, commit_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SourceFetchRow {
                    repo: r.get(0)?,
                    commit: r.get(1)?,
                    full_commit: r.get(2)?,
                    error: r.get(3)?,
                    fetched_at: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// A setting a compile kept (see [`Tx::set_setting`]), if any.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// (builds, statements, covered) of the collection, each build's statements counted
    /// once, infrastructure files left out.
    pub fn totals(&self) -> Result<(u64, u64, u64)> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM builds), \
                 coalesce(sum(statements), 0), coalesce(sum(covered), 0) \
                 FROM build_files WHERE excluded = 0",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, i64>(2)? as u64,
                    ))
                },
            )
            .map_err(|e| self.err(e))
    }

    /// Diagnostics recorded for inputs: (dir, severity, message).
    pub fn diagnostics(&self) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT dir, severity, message FROM diagnostics ORDER BY dir, id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }
}

/// Writes inside one SQLite transaction.
impl Backend for SqliteStore {
    fn location(&self) -> &str {
        &self.path
    }
    fn version(&self) -> Result<i64> {
        SqliteStore::version(self)
    }
    fn owner_builds(&self) -> Result<Vec<(String, i64)>> {
        SqliteStore::owner_builds(self)
    }
    fn transaction(&mut self, f: &mut dyn FnMut(&dyn WriteTx) -> Result<()>) -> Result<()> {
        SqliteStore::transaction(self, f)
    }
    fn lock_for_compile(&self, _waiting: &mut dyn FnMut()) -> Result<Option<CompileLock>> {
        Ok(None)
    }
}

pub(crate) struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    path: &'a str,
}

impl SqliteTx<'_> {
    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.to_owned(),
            error: source,
        }
    }
    fn owner_hashes_in(&self, table: OwnerTable) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .tx
            .prepare_cached(&format!("SELECT key, input_hash FROM {}", table.name()))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }
    fn upsert_owner_in(&self, table: OwnerTable, scenario: &str, o: &OwnerRow) -> Result<()> {
        // The scenario column exists in scenario_owners only.
        let (column, value) = match table {
            OwnerTable::Owners => ("", ""),
            OwnerTable::Scenario => (", scenario", ", ?17"),
        };
        let sql = format!(
            "INSERT OR REPLACE INTO {} (key, namespace, owner_type, owner, binary, build_id, \
             pods, containers, hosts, images, first_seen, last_seen, statements, covered, \
             input_hash, counters{column}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
             ?11, ?12, ?13, ?14, ?15, ?16{value})",
            table.name()
        );
        let pods = encode_list(&o.pods);
        let containers = encode_list(&o.containers);
        let hosts = encode_list(&o.hosts);
        let images = encode_list(&o.images);
        let (statements, covered) = (o.statements as i64, o.covered as i64);
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![
            &o.key,
            &o.namespace,
            &o.owner_type,
            &o.owner,
            &o.binary,
            &o.build_id,
            &pods,
            &containers,
            &hosts,
            &images,
            &o.first_seen,
            &o.last_seen,
            &statements,
            &covered,
            &o.input_hash,
            &o.counters,
        ];
        if matches!(table, OwnerTable::Scenario) {
            values.push(&scenario);
        }
        self.tx
            .execute(&sql, values.as_slice())
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

impl WriteTx for SqliteTx<'_> {
    /// The id of the build with this hash, if stored.
    fn build_id(&self, hash: &[u8; 16]) -> Result<Option<i64>> {
        self.tx
            .query_row("SELECT id FROM builds WHERE hash = ?1", [&hash[..]], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Stores a build's layout once (compressed with [`compress_layout`], in `format`:
    /// [`LAYOUT_FORMAT`] for a [`livecov_model::Layout`]), with its per-file totals.
    /// Returns its id.
    fn insert_build(
        &self,
        hash: &[u8; 16],
        format: &str,
        mode: &str,
        units: u64,
        statements: u64,
        compressed: &[u8],
        files: &[BuildFile],
    ) -> Result<i64> {
        if let Some(id) = self.build_id(hash)? {
            return Ok(id);
        }
        self.tx
            .execute(
                "INSERT INTO builds (hash, format, mode, units, statements, layout) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    &hash[..],
                    format,
                    mode,
                    units as i64,
                    statements as i64,
                    compressed
                ],
            )
            .map_err(|e| self.err(e))?;
        let id = self.tx.last_insert_rowid();
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO build_files (build_id, path, package, statements, covered, excluded) \
                 VALUES (?1, ?2, ?3, ?4, 0, ?5)",
            )
            .map_err(|e| self.err(e))?;
        for f in files {
            stmt.execute(params![
                id,
                f.path,
                f.package,
                f.statements as i64,
                f.excluded
            ])
            .map_err(|e| self.err(e))?;
        }
        Ok(id)
    }

    /// Records what a build was recorded by (`go` unless set: `python`, `lcov`).
    fn set_build_language(&self, build_id: i64, language: &str) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO build_languages (build_id, language) VALUES (?1, ?2)",
                params![build_id, language],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Replaces an input and its processes (and clears its diagnostics).
    fn replace_input(&self, input: &InputRow, processes: &[ProcessRow]) -> Result<()> {
        self.delete_input(&input.dir)?;
        self.tx
            .execute(
                "INSERT INTO inputs (dir, fingerprint, content_hash, tool_version, error, namespace, \
                 pod, container, hostname, image, binary, is_host, collected_at, owner_kind, \
                 owner_name, source_url, source_commit, partial, labels) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                params![
                    input.dir,
                    input.fingerprint,
                    input.content_hash,
                    input.tool_version,
                    input.error,
                    input.namespace,
                    input.pod,
                    input.container,
                    input.hostname,
                    input.image,
                    input.binary,
                    input.is_host,
                    input.collected_at,
                    input.owner_kind,
                    input.owner_name,
                    input.source_url,
                    input.source_commit,
                    input.partial,
                    encode_labels(&input.labels)
                ],
            )
            .map_err(|e| self.err(e))?;
        let id = self.tx.last_insert_rowid();
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO processes (input_id, build_id, pid, snapshot_time, superseded, covered, counters) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(|e| self.err(e))?;
        for p in processes {
            stmt.execute(params![
                id,
                p.build_id,
                p.pid,
                p.snapshot_time,
                p.superseded,
                p.covered as i64,
                p.counters
            ])
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Updates only the fingerprint of an input whose content is unchanged.
    fn touch_input(&self, dir: &str, fingerprint: &str) -> Result<()> {
        self.tx
            .execute(
                "UPDATE inputs SET fingerprint = ?2 WHERE dir = ?1",
                params![dir, fingerprint],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Removes an input (its processes and diagnostics go with it).
    fn delete_input(&self, dir: &str) -> Result<()> {
        self.tx
            .execute("DELETE FROM inputs WHERE dir = ?1", [dir])
            .map_err(|e| self.err(e))?;
        self.tx
            .execute("DELETE FROM diagnostics WHERE dir = ?1", [dir])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records a diagnostic for an input.
    fn add_diagnostic(&self, dir: &str, severity: &str, message: &str) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO diagnostics (dir, severity, message) VALUES (?1, ?2, ?3)",
                params![dir, severity, message],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every process of a build, with the input it belongs to: (dir, process).
    fn build_processes(&self, build_id: i64) -> Result<Vec<(String, ProcessRow)>> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT i.dir, p.build_id, p.pid, p.snapshot_time, p.superseded, p.covered, p.counters \
                 FROM processes p JOIN inputs i ON p.input_id = i.id WHERE p.build_id = ?1 ORDER BY i.dir, p.pid",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([build_id], |r| Ok((r.get(0)?, process_row(r, 1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Sets the covered statements of each file of a build (from all its processes).
    fn set_build_coverage(&self, build_id: i64, covered: &[(String, u64)]) -> Result<()> {
        let mut stmt = self
            .tx
            .prepare_cached("UPDATE build_files SET covered = ?3 WHERE build_id = ?1 AND path = ?2")
            .map_err(|e| self.err(e))?;
        for (path, c) in covered {
            stmt.execute(params![build_id, path, *c as i64])
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Rewrites a build's per-file figures (statements, covered, excluded) and its
    /// total statements: an exclusion set or merge rule changed them.
    fn set_build_files(&self, build_id: i64, statements: u64, files: &[BuildFile]) -> Result<()> {
        self.tx
            .execute(
                "UPDATE builds SET statements = ?2 WHERE id = ?1",
                params![build_id, statements as i64],
            )
            .map_err(|e| self.err(e))?;
        let mut stmt = self
            .tx
            .prepare_cached(
                "UPDATE build_files SET statements = ?3, covered = ?4, excluded = ?5 \
                 WHERE build_id = ?1 AND path = ?2",
            )
            .map_err(|e| self.err(e))?;
        for f in files {
            stmt.execute(params![
                build_id,
                f.path,
                f.statements as i64,
                f.covered as i64,
                f.excluded
            ])
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Keeps a setting between compiles (`key` → `value`).
    fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn edit_labels(&self, edits: &[(String, String)]) -> Result<()> {
        let stored: Option<String> = self
            .tx
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [catalog::LABELS],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let labels = apply_label_edits(decode_labels(&stored.unwrap_or_default()), edits);
        self.set_setting(catalog::LABELS, &encode_labels(&labels))
    }

    fn note_created(&self, at: &str) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                params![catalog::CREATED_AT, at],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn mark_compiled(&self, at: &str) -> Result<()> {
        self.note_created(at)?;
        self.set_setting(catalog::COMPILED_AT, at)?;
        self.bump_generation()
    }

    fn bump_generation(&self) -> Result<()> {
        // Strictly increasing even when the clock steps back.
        self.tx
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE \
                 SET value = CAST(max(CAST(settings.value AS INTEGER) + 1, \
                 CAST(excluded.value AS INTEGER)) AS TEXT)",
                params![catalog::GENERATION, catalog::clock_generation().to_string()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Keys and input hashes of the stored owners.
    fn owner_hashes(&self) -> Result<Vec<(String, String)>> {
        self.owner_hashes_in(OwnerTable::Owners)
    }

    /// Keys and input hashes of the stored scenario owner groups.
    fn scenario_owner_hashes(&self) -> Result<Vec<(String, String)>> {
        self.owner_hashes_in(OwnerTable::Scenario)
    }

    /// Inserts or replaces the owner group `o` of `scenario` (its key names the
    /// scenario, so the same owner in two scenarios is two rows).
    fn upsert_scenario_owner(&self, scenario: &str, o: &OwnerRow) -> Result<()> {
        self.upsert_owner_in(OwnerTable::Scenario, scenario, o)
    }

    /// Deletes a scenario owner group.
    fn delete_scenario_owner(&self, key: &str) -> Result<()> {
        self.tx
            .execute("DELETE FROM scenario_owners WHERE key = ?1", [key])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Inserts or replaces an owner group.
    fn upsert_owner(&self, o: &OwnerRow) -> Result<()> {
        self.upsert_owner_in(OwnerTable::Owners, "", o)
    }

    /// Deletes an owner group.
    fn delete_owner(&self, key: &str) -> Result<()> {
        self.tx
            .execute("DELETE FROM owners WHERE key = ?1", [key])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records the outcome of fetching one repo@commit (replacing an earlier one).
    fn record_source_fetch(&self, f: &SourceFetchRow) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO source_fetches (repo, commit_id, full_commit, error, \
                 fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![f.repo, f.commit, f.full_commit, f.error, f.fetched_at],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The image source row for `image`, if any.
    fn image_source(&self, image: &str) -> Result<Option<ImageSourceRow>> {
        self.tx
            .query_row(
                "SELECT image, source_repo, commit_id, software_group, software_key, origin, error \
                 FROM image_sources WHERE image = ?1",
                [image],
                image_source_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn put_image_source(&self, row: &ImageSourceRow) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO image_sources (image, source_repo, commit_id, \
                 software_group, software_key, origin, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    row.image,
                    row.source_repo,
                    row.commit_id,
                    row.software_group,
                    row.software_key,
                    row.origin,
                    row.error
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compress_counters, compress_layout, decompress_counters, Store};

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_store_in_a_read_only_directory_opens_read_only_without_writing() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, mut store) = open();
        store.transaction(|tx| tx.set_setting("k", "v")).unwrap();
        drop(store);
        let db = dir.path().join("s.db");
        let beside = |ext: &str| dir.path().join(format!("s.db-{ext}")).exists();
        assert!(!beside("wal") && !beside("shm"));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
        let mut ro = Store::open_read_only(&db);
        // As root the mode does not stop writes, so what is checked is that nothing is
        // written: no -wal or -shm beside the store while it is open, and no update.
        let created = (beside("wal"), beside("shm"));
        let update = ro
            .as_mut()
            .map(|ro| ro.transaction(|tx| tx.set_setting("k", "w")).is_err())
            .map_err(|e| e.to_string());
        let read = ro
            .as_ref()
            .map(|ro| ro.setting("k").unwrap())
            .map_err(|e| e.to_string());
        drop(ro);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(read.unwrap().as_deref(), Some("v"));
        assert_eq!(created, (false, false));
        assert!(update.unwrap(), "a read-only store took an update");
    }

    #[test]
    fn a_read_only_open_sees_what_a_writer_committed() {
        let (dir, mut store) = open();
        store.transaction(|tx| tx.set_setting("k", "v")).unwrap();
        let ro = Store::open_read_only(&dir.path().join("s.db")).unwrap();
        assert_eq!(ro.setting("k").unwrap().as_deref(), Some("v"));
        store.transaction(|tx| tx.set_setting("k", "w")).unwrap();
        assert_eq!(ro.setting("k").unwrap().as_deref(), Some("w"));
    }

    #[test]
    fn a_new_store_is_at_the_current_version_and_reopens() {
        let (dir, store) = open();
        assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
        drop(store);
        let again = Store::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(again.version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_store_from_a_newer_livecov_is_refused() {
        let (dir, store) = open();
        drop(store);
        let raw = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        raw.conn
            .execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        drop(raw);
        let err = Store::open(&dir.path().join("s.db")).err().unwrap();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }

    #[test]
    fn image_sources_fill_empty_fields_only() {
        let (_dir, mut store) = open();
        let row = |repo: &str, commit: &str, group: &str, origin: &str| ImageSourceRow {
            image: "img".into(),
            source_repo: repo.into(),
            commit_id: commit.into(),
            software_group: group.into(),
            origin: origin.into(),
            ..ImageSourceRow::default()
        };
        store
            .transaction(|tx| {
                tx.fill_image_source(&row("https://a", "", "", "info.json"))?;
                // An empty value never clears, a known value is never replaced.
                tx.fill_image_source(&row("", "c1", "g", "registry"))?;
                tx.fill_image_source(&row("https://b", "c2", "", "registry"))
            })
            .unwrap();
        let got = &store.image_sources().unwrap()[0];
        assert_eq!(
            (
                got.source_repo.as_str(),
                got.commit_id.as_str(),
                got.software_group.as_str()
            ),
            ("https://a", "c1", "g")
        );
        assert_eq!(got.origin, "info.json+registry");
    }

    #[test]
    fn replacing_an_input_replaces_its_processes_and_deleting_cascades() {
        let (_dir, mut store) = open();
        let input = InputRow {
            dir: "d".into(),
            ..InputRow::default()
        };
        let process = |pid| ProcessRow {
            build_id: 1,
            pid,
            snapshot_time: String::new(),
            superseded: 0,
            covered: 3,
            counters: compress_counters(&[0, 1, 2]).unwrap(),
        };
        store
            .transaction(|tx| {
                tx.insert_build(
                    &[1; 16],
                    "go",
                    "count",
                    3,
                    4,
                    &compress_layout(b"meta").unwrap(),
                    &[],
                )?;
                tx.replace_input(&input, &[process(1), process(2)])?;
                tx.replace_input(&input, &[process(3)])
            })
            .unwrap();
        let procs = store.processes("d").unwrap();
        assert_eq!(procs.iter().map(|p| p.pid).collect::<Vec<_>>(), vec![3]);
        assert_eq!(
            decompress_counters(&procs[0].counters, 3).unwrap(),
            vec![0, 1, 2]
        );
        assert_eq!(store.build_layout(1).unwrap().bytes, b"meta");
        assert_eq!(store.build_layout(1).unwrap().format, "go");
        assert_eq!(store.model_layout(1).unwrap(), None);
        store.transaction(|tx| tx.delete_input("d")).unwrap();
        assert!(store.processes("d").unwrap().is_empty());
        assert!(store.inputs().unwrap().is_empty());
    }
}
