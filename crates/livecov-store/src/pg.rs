//! The PostgreSQL backend: one database shared by many collections and machines.
//!
//! Every row is scoped by its collection (`collections.id`); a build's layout is stored
//! once for every collection (`layouts`, keyed by the build hash, written with
//! `ON CONFLICT DO NOTHING`, so two writers storing one build at once store it once).
//! Layouts are the only rows writers of different collections share, so they are
//! written on a connection of their own and committed at once: two transactions that
//! each held a new layout the other wants would deadlock (and did, in the test of
//! compiles at once). A layout no build refers to yet is harmless: it is content, keyed
//! by its hash, and the next writer of that build finds it.
//! A transaction buffers the rows a compile writes in bulk (inputs, their processes'
//! counter blobs, diagnostics) and writes them with binary `COPY` when it commits, or
//! before any statement that reads or changes them: one transaction is one batch, and a
//! lost connection leaves none of it. Compiles of one collection from several machines
//! take turns through an advisory lock ([`crate::Backend::lock_for_compile`]).
//!
//! The password is taken from the URL, `PGPASSWORD`, or the passfile (`PGPASSFILE`,
//! else `~/.pgpass`), and never printed: every message names the URL redacted.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::config::Host;
use postgres::types::{ToSql, Type};
use postgres::{Client, Config, NoTls, Row, Statement};

use crate::pg_schema::{MIGRATE_LOCK, MIGRATIONS, PG_SCHEMA_VERSION};
use crate::{
    apply_label_edits, decode_labels, decode_list, encode_labels, encode_list, redact_url, Backend,
    BuildFile, BuildRow, CompileLock, CoverageStore, ImageSourceRow, InputRow, OwnerRow,
    ProcessRow, Result, SourceFetchRow, StoreError, StoredLayout, WriteTx,
};

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];
type Cache = RefCell<HashMap<&'static str, Statement>>;

/// The advisory lock key of a collection's compile: a fixed prefix and the id.
pub(crate) fn compile_key(collection: i64) -> i64 {
    (0x6c76_i64 << 48) | (collection & 0xffff_ffff_ffff)
}

/// What PostgreSQL said, without anything from the URL.
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                s.push_str(&format!(" ({d})"));
            }
            s
        }
        None => {
            // This client's Display leaves the cause out ("invalid configuration"):
            // say it ("…: password missing").
            let mut s = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                s.push_str(&format!(": {c}"));
                cause = c.source();
            }
            s
        }
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// The connection settings of `url`, with libpq's defaults from the environment
/// (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGPASSWORD`, the passfile).
pub(crate) fn config(url: &str, shown: &str) -> Result<Config> {
    let mut c: Config = url
        .parse()
        .map_err(|e: postgres::Error| StoreError::Postgres {
            url: shown.to_owned(),
            error: format!("not a PostgreSQL connection URL: {e}"),
        })?;
    if c.get_hosts().is_empty() {
        match env("PGHOST") {
            Some(h) if h.starts_with('/') => c.host_path(h),
            Some(h) => c.host(&h),
            None => c.host("localhost"),
        };
    }
    if c.get_ports().is_empty() {
        if let Some(p) = env("PGPORT").and_then(|p| p.parse().ok()) {
            c.port(p);
        }
    }
    if c.get_user().is_none() {
        let user = env("PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".to_owned());
        c.user(&user);
    }
    if c.get_dbname().is_none() {
        if let Some(db) = env("PGDATABASE") {
            c.dbname(&db);
        }
    }
    if c.get_password().is_none() {
        if let Some(pw) = env("PGPASSWORD").or_else(|| passfile_password(&c)) {
            c.password(pw);
        }
    }
    if c.get_connect_timeout().is_none() {
        c.connect_timeout(Duration::from_secs(10));
    }
    c.application_name("livecov");
    Ok(c)
}

/// The password the passfile gives for `c` (libpq's rules: `host:port:db:user:password`
/// lines, `*` matching anything, `\` escaping; a file others may read is ignored).
fn passfile_password(c: &Config) -> Option<String> {
    let path = env("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".pgpass")))?;
    passfile_at(&path, c)
}

fn passfile_at(path: &std::path::Path, c: &Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let host = match c.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        _ => "localhost".to_owned(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = c.get_user().unwrap_or_default().to_owned();
    let db = c.get_dbname().map_or_else(|| user.clone(), str::to_owned);
    let wanted = [host.as_str(), port.as_str(), db.as_str(), user.as_str()];
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = line.chars();
        while let Some(ch) = chars.next() {
            match ch {
                '\\' => field.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
                _ => field.push(ch),
            }
        }
        fields.push(field);
        if fields.len() == 5
            && fields[..4]
                .iter()
                .zip(wanted)
                .all(|(f, w)| f == "*" || f == w)
        {
            return fields.pop();
        }
    }
    None
}

/// The statement for `sql`, prepared once per connection.
fn cached(
    cache: &Cache,
    sql: &'static str,
    prepare: impl FnOnce(&str) -> std::result::Result<Statement, postgres::Error>,
) -> std::result::Result<Statement, postgres::Error> {
    if let Some(s) = cache.borrow().get(sql) {
        return Ok(s.clone());
    }
    let s = prepare(sql)?;
    cache.borrow_mut().insert(sql, s.clone());
    Ok(s)
}

/// An open collection in a PostgreSQL store.
pub(crate) struct PgStore {
    client: RefCell<Client>,
    /// The connection layouts are written on (opened on the first new layout).
    layout_client: RefCell<Option<Client>>,
    stmts: Cache,
    /// The URL (password redacted) and the collection, for messages.
    shown: String,
    config: Config,
    collection: i64,
}

/// The owner columns in [`owner_row`]'s order.
macro_rules! owner_columns {
    () => {
        "key, namespace, owner_type, owner, \"binary\", build_id, pods, containers, hosts, \
         images, first_seen, last_seen, statements, covered, input_hash, counters"
    };
}

/// The owner columns an upsert replaces.
macro_rules! owner_set {
    () => {
        "namespace = excluded.namespace, owner_type = excluded.owner_type, \
         owner = excluded.owner, \"binary\" = excluded.\"binary\", \
         build_id = excluded.build_id, pods = excluded.pods, \
         containers = excluded.containers, hosts = excluded.hosts, \
         images = excluded.images, first_seen = excluded.first_seen, \
         last_seen = excluded.last_seen, statements = excluded.statements, \
         covered = excluded.covered, input_hash = excluded.input_hash, \
         counters = excluded.counters"
    };
}

fn owner_row(r: &Row) -> OwnerRow {
    OwnerRow {
        key: r.get(0),
        namespace: r.get(1),
        owner_type: r.get(2),
        owner: r.get(3),
        binary: r.get(4),
        build_id: r.get(5),
        pods: decode_list(r.get(6)),
        containers: decode_list(r.get(7)),
        hosts: decode_list(r.get(8)),
        images: decode_list(r.get(9)),
        first_seen: r.get(10),
        last_seen: r.get(11),
        statements: r.get::<_, i64>(12) as u64,
        covered: r.get::<_, i64>(13) as u64,
        input_hash: r.get(14),
        counters: r.get(15),
    }
}

fn process_row(r: &Row, at: usize) -> ProcessRow {
    ProcessRow {
        build_id: r.get(at),
        pid: r.get(at + 1),
        snapshot_time: r.get(at + 2),
        superseded: r.get(at + 3),
        covered: r.get::<_, i64>(at + 4) as u64,
        counters: r.get(at + 5),
    }
}

fn image_source_row(r: &Row) -> ImageSourceRow {
    ImageSourceRow {
        image: r.get(0),
        source_repo: r.get(1),
        commit_id: r.get(2),
        software_group: r.get(3),
        software_key: r.get(4),
        origin: r.get(5),
        error: r.get(6),
    }
}

/// The schema version of the database (0: no livecov schema).
pub(crate) fn stored_version(client: &mut Client) -> std::result::Result<i64, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_opt("SELECT version FROM schema_version", &[])?
        .map_or(0, |r| r.get(0)))
}

/// Creates or migrates the schema under [`MIGRATE_LOCK`]; returns the version found
/// (or reached), so the caller can refuse a newer store.
fn migrate(client: &mut Client) -> std::result::Result<i64, postgres::Error> {
    let found = stored_version(client)?;
    if found >= PG_SCHEMA_VERSION {
        return Ok(found);
    }
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    // Another machine may have migrated while this one waited: read again under the lock.
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let mut version: i64 = tx
        .query_opt("SELECT version FROM schema_version", &[])?
        .map_or(0, |r| r.get(0));
    if version >= PG_SCHEMA_VERSION {
        tx.commit()?;
        return Ok(version);
    }
    while (version as usize) < MIGRATIONS.len() {
        tx.batch_execute(MIGRATIONS[version as usize])?;
        version += 1;
    }
    tx.execute("DELETE FROM schema_version", &[])?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES ($1)",
        &[&version],
    )?;
    tx.commit()?;
    Ok(version)
}

impl PgStore {
    /// Connects to `url` and opens collection `name` in it: for writing (migrating the
    /// schema and creating the collection when needed) or for reading only.
    pub fn open(url: &str, name: &str, read_only: bool) -> Result<PgStore> {
        let shown = format!("{} (collection {name})", redact_url(url));
        let config = config(url, &shown)?;
        let err = |e: postgres::Error| StoreError::Postgres {
            url: shown.clone(),
            error: describe(&e),
        };
        let mut client = config.connect(NoTls).map_err(err)?;
        let found = if read_only {
            stored_version(&mut client).map_err(err)?
        } else {
            migrate(&mut client).map_err(err)?
        };
        if found > PG_SCHEMA_VERSION {
            return Err(StoreError::TooNew { path: shown, found });
        }
        if read_only && found == 0 {
            return Err(StoreError::Missing {
                location: shown,
                what: "the database holds no livecov store; compile a collection into it \
                       first (`livecov cluster compile --collection DIR --store URL`)"
                    .to_owned(),
            });
        }
        if found < PG_SCHEMA_VERSION {
            return Err(StoreError::TooOld { path: shown, found });
        }
        let id: Option<i64> = if read_only {
            client
                .query_opt("SELECT id FROM collections WHERE name = $1", &[&name])
                .map_err(err)?
                .map(|r| r.get(0))
        } else {
            client
                .execute(
                    "INSERT INTO collections (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                    &[&name],
                )
                .map_err(err)?;
            client
                .query_opt("SELECT id FROM collections WHERE name = $1", &[&name])
                .map_err(err)?
                .map(|r| r.get(0))
        };
        let Some(collection) = id else {
            return Err(StoreError::Missing {
                location: shown,
                what: format!(
                    "the store holds no collection {name:?}; compile it into this store \
                     first (`livecov cluster compile --collection DIR --store URL`)"
                ),
            });
        };
        Ok(PgStore {
            client: RefCell::new(client),
            layout_client: RefCell::new(None),
            stmts: RefCell::new(HashMap::new()),
            shown,
            config,
            collection,
        })
    }

    fn err(&self, e: postgres::Error) -> StoreError {
        StoreError::Postgres {
            url: self.shown.clone(),
            error: describe(&e),
        }
    }

    fn query(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>> {
        let mut client = self.client.borrow_mut();
        let stmt = cached(&self.stmts, sql, |s| client.prepare(s)).map_err(|e| self.err(e))?;
        client.query(&stmt, params).map_err(|e| self.err(e))
    }

    fn owners_where(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<OwnerRow>> {
        Ok(self.query(sql, params)?.iter().map(owner_row).collect())
    }
}

impl CoverageStore for PgStore {
    fn builds(&self) -> Result<Vec<BuildRow>> {
        let rows = self.query(
            "SELECT b.id, b.hash, l.mode, l.units, b.statements, b.language FROM builds b \
             JOIN layouts l ON l.hash = b.hash WHERE b.collection_id = $1 ORDER BY b.hash",
            &[&self.collection],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let h: &[u8] = r.get(1);
                let mut hash = [0u8; 16];
                if h.len() == 16 {
                    hash.copy_from_slice(h);
                }
                BuildRow {
                    id: r.get(0),
                    hash,
                    mode: r.get(2),
                    units: r.get::<_, i64>(3) as u64,
                    statements: r.get::<_, i64>(4) as u64,
                    language: r.get(5),
                }
            })
            .collect())
    }

    fn build_files(&self, build_id: i64) -> Result<Vec<BuildFile>> {
        let rows = self.query(
            "SELECT f.path, f.package, f.statements, f.covered, f.excluded FROM build_files f \
             JOIN builds b ON b.id = f.build_id WHERE f.build_id = $1 AND b.collection_id = $2 \
             ORDER BY f.path",
            &[&build_id, &self.collection],
        )?;
        Ok(rows
            .iter()
            .map(|r| BuildFile {
                path: r.get(0),
                package: r.get(1),
                statements: r.get::<_, i64>(2) as u64,
                covered: r.get::<_, i64>(3) as u64,
                excluded: r.get(4),
            })
            .collect())
    }

    fn build_layout(&self, build_id: i64) -> Result<StoredLayout> {
        let rows = self.query(
            "SELECT l.format, l.layout FROM builds b JOIN layouts l ON l.hash = b.hash \
             WHERE b.id = $1 AND b.collection_id = $2",
            &[&build_id, &self.collection],
        )?;
        let Some(r) = rows.first() else {
            return Err(StoreError::Missing {
                location: self.shown.clone(),
                what: format!("no build {build_id} in this collection"),
            });
        };
        let blob: &[u8] = r.get(1);
        let bytes = zstd::decode_all(blob).map_err(|e| StoreError::Corrupt {
            path: self.shown.clone(),
            what: format!("layout of build {build_id}: {e}"),
        })?;
        Ok(StoredLayout {
            format: r.get(0),
            bytes,
        })
    }

    fn inputs(&self) -> Result<Vec<InputRow>> {
        let rows = self.query(
            "SELECT dir, fingerprint, content_hash, tool_version, error, namespace, pod, \
             container, hostname, image, \"binary\", is_host, collected_at, owner_kind, \
             owner_name, source_url, source_commit, partial, labels FROM inputs \
             WHERE collection_id = $1 ORDER BY dir",
            &[&self.collection],
        )?;
        Ok(rows
            .iter()
            .map(|r| InputRow {
                dir: r.get(0),
                fingerprint: r.get(1),
                content_hash: r.get(2),
                tool_version: r.get(3),
                error: r.get(4),
                namespace: r.get(5),
                pod: r.get(6),
                container: r.get(7),
                hostname: r.get(8),
                image: r.get(9),
                binary: r.get(10),
                is_host: r.get(11),
                collected_at: r.get(12),
                owner_kind: r.get(13),
                owner_name: r.get(14),
                source_url: r.get(15),
                source_commit: r.get(16),
                partial: r.get(17),
                labels: decode_labels(r.get(18)),
            })
            .collect())
    }

    fn processes(&self, dir: &str) -> Result<Vec<ProcessRow>> {
        let rows = self.query(
            "SELECT p.build_id, p.pid, p.snapshot_time, p.superseded, p.covered, p.counters \
             FROM processes p JOIN inputs i ON p.input_id = i.id \
             WHERE i.collection_id = $1 AND i.dir = $2 ORDER BY p.build_id, p.pid",
            &[&self.collection, &dir],
        )?;
        Ok(rows.iter().map(|r| process_row(r, 0)).collect())
    }

    fn owners_of_build(&self, build_id: i64) -> Result<Vec<OwnerRow>> {
        self.owners_where(
            concat!(
                "SELECT ",
                owner_columns!(),
                " FROM owners WHERE collection_id = $1 AND build_id = $2 ORDER BY key"
            ),
            &[&self.collection, &build_id],
        )
    }

    fn for_each_owner(&self, f: &mut dyn FnMut(OwnerRow) -> Result<()>) -> Result<()> {
        // A page at a time, by key: `f` runs with no statement open, so it may read the
        // store itself, and memory stays bounded.
        let mut after: Option<String> = None;
        loop {
            let page = self.owners_where(
                concat!(
                    "SELECT ",
                    owner_columns!(),
                    " FROM owners WHERE collection_id = $1 AND ($2::text IS NULL OR key > $2) \
                     ORDER BY key LIMIT 256"
                ),
                &[&self.collection, &after],
            )?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.key.clone());
            for o in page {
                f(o)?;
            }
        }
    }

    fn owners(&self) -> Result<Vec<OwnerRow>> {
        self.owners_where(
            concat!(
                "SELECT ",
                owner_columns!(),
                " FROM owners WHERE collection_id = $1 ORDER BY key"
            ),
            &[&self.collection],
        )
    }

    fn image_sources(&self) -> Result<Vec<ImageSourceRow>> {
        let rows = self.query(
            "SELECT image, source_repo, commit_id, software_group, software_key, origin, error \
             FROM image_sources WHERE collection_id = $1 ORDER BY image",
            &[&self.collection],
        )?;
        Ok(rows.iter().map(image_source_row).collect())
    }

    fn source_fetches(&self) -> Result<Vec<SourceFetchRow>> {
        let rows = self.query(
            "SELECT repo, commit_id, full_commit, error, fetched_at FROM source_fetches \
             WHERE collection_id = $1 ORDER BY repo, commit_id",
            &[&self.collection],
        )?;
        Ok(rows
            .iter()
            .map(|r| SourceFetchRow {
                repo: r.get(0),
                commit: r.get(1),
                full_commit: r.get(2),
                error: r.get(3),
                fetched_at: r.get(4),
            })
            .collect())
    }

    fn diagnostics(&self) -> Result<Vec<(String, String, String)>> {
        let rows = self.query(
            "SELECT dir, severity, message FROM diagnostics WHERE collection_id = $1 \
             ORDER BY dir, id",
            &[&self.collection],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn setting(&self, key: &str) -> Result<Option<String>> {
        let rows = self.query(
            "SELECT value FROM settings WHERE collection_id = $1 AND key = $2",
            &[&self.collection, &key],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn scenarios(&self) -> Result<Vec<String>> {
        let rows = self.query(
            "SELECT DISTINCT scenario FROM scenario_owners WHERE collection_id = $1 \
             ORDER BY scenario",
            &[&self.collection],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn scenario_owners(&self, scenario: &str, build_id: Option<i64>) -> Result<Vec<OwnerRow>> {
        self.owners_where(
            concat!(
                "SELECT ",
                owner_columns!(),
                " FROM scenario_owners WHERE collection_id = $1 AND scenario = $2 \
                 AND ($3::int8 IS NULL OR build_id = $3) ORDER BY key"
            ),
            &[&self.collection, &scenario, &build_id],
        )
    }

    fn compile_running(&self) -> Result<Option<bool>> {
        let key = compile_key(self.collection);
        let free: bool = self
            .query("SELECT pg_try_advisory_lock_shared($1)", &[&key])?
            .first()
            .is_some_and(|r| r.get(0));
        if free {
            self.query("SELECT pg_advisory_unlock_shared($1)", &[&key])?;
        }
        Ok(Some(!free))
    }
}

impl Backend for PgStore {
    fn location(&self) -> &str {
        &self.shown
    }

    fn version(&self) -> Result<i64> {
        let rows = self.query("SELECT version FROM schema_version", &[])?;
        Ok(rows.first().map_or(0, |r| r.get(0)))
    }

    fn owner_builds(&self) -> Result<Vec<(String, i64)>> {
        let rows = self.query(
            "SELECT key, build_id FROM owners WHERE collection_id = $1 ORDER BY key",
            &[&self.collection],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn transaction(&mut self, f: &mut dyn FnMut(&dyn WriteTx) -> Result<()>) -> Result<()> {
        let shown = self.shown.as_str();
        let err = |e: postgres::Error| StoreError::Postgres {
            url: shown.to_owned(),
            error: describe(&e),
        };
        let tx = self.client.get_mut().transaction().map_err(err)?;
        let ptx = PgTx {
            tx: RefCell::new(tx),
            layout_client: &self.layout_client,
            config: &self.config,
            stmts: &self.stmts,
            shown,
            collection: self.collection,
            builds: RefCell::new(None),
            pending: RefCell::new(Pending::default()),
        };
        f(&ptx)?;
        ptx.flush()?;
        ptx.tx.into_inner().commit().map_err(err)
    }

    fn lock_for_compile(&self, waiting: &mut dyn FnMut()) -> Result<Option<CompileLock>> {
        let mut client = self.config.connect(NoTls).map_err(|e| self.err(e))?;
        let key = compile_key(self.collection);
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .map_err(|e| self.err(e))?
            .get(0);
        if !got {
            waiting();
            client
                .execute("SELECT pg_advisory_lock($1)", &[&key])
                .map_err(|e| self.err(e))?;
        }
        Ok(Some(CompileLock {
            _held: Box::new(client),
        }))
    }
}

/// Rows a transaction writes in bulk, held until it flushes them.
#[derive(Default)]
struct Pending {
    /// Directories whose stored input (and processes, diagnostics) go first.
    deletes: Vec<String>,
    /// New inputs (`None`: replaced or deleted again in the same transaction).
    inputs: Vec<Option<InputRow>>,
    /// Processes of `inputs[slot]`.
    processes: Vec<(usize, ProcessRow)>,
    /// Diagnostics: (dir, severity, message), in the order they were added.
    diagnostics: Vec<(String, String, String)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.inputs.is_empty() && self.diagnostics.is_empty()
    }
}

/// One PostgreSQL transaction of a collection.
struct PgTx<'a> {
    tx: RefCell<postgres::Transaction<'a>>,
    layout_client: &'a RefCell<Option<Client>>,
    config: &'a Config,
    stmts: &'a Cache,
    shown: &'a str,
    collection: i64,
    /// The collection's build ids by hash, read once per transaction.
    builds: RefCell<Option<HashMap<[u8; 16], i64>>>,
    pending: RefCell<Pending>,
}

impl PgTx<'_> {
    fn err(&self, e: postgres::Error) -> StoreError {
        StoreError::Postgres {
            url: self.shown.to_owned(),
            error: describe(&e),
        }
    }

    fn query(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>> {
        let mut tx = self.tx.borrow_mut();
        let stmt = cached(self.stmts, sql, |s| tx.prepare(s)).map_err(|e| self.err(e))?;
        tx.query(&stmt, params).map_err(|e| self.err(e))
    }

    fn execute(&self, sql: &'static str, params: Params<'_>) -> Result<u64> {
        let mut tx = self.tx.borrow_mut();
        let stmt = cached(self.stmts, sql, |s| tx.prepare(s)).map_err(|e| self.err(e))?;
        tx.execute(&stmt, params).map_err(|e| self.err(e))
    }

    /// Writes the buffered rows: deletions first, then inputs, processes and
    /// diagnostics by binary COPY.
    fn flush(&self) -> Result<()> {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        if pending.is_empty() {
            return Ok(());
        }
        if !pending.deletes.is_empty() {
            self.execute(
                "DELETE FROM inputs WHERE collection_id = $1 AND dir = ANY($2)",
                &[&self.collection, &pending.deletes],
            )?;
            self.execute(
                "DELETE FROM diagnostics WHERE collection_id = $1 AND dir = ANY($2)",
                &[&self.collection, &pending.deletes],
            )?;
        }
        let live = pending.inputs.iter().filter(|i| i.is_some()).count() as i64;
        let mut ids: Vec<i64> = Vec::new();
        if live > 0 {
            ids = self
                .query(
                    "SELECT nextval('inputs_id_seq') FROM generate_series(1, $1::int8)",
                    &[&live],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
        }
        let mut tx = self.tx.borrow_mut();
        let err = |e| self.err(e);
        let mut slot_ids = vec![0i64; pending.inputs.len()];
        if live > 0 {
            let sink = tx
                .copy_in(
                    "COPY inputs (id, collection_id, dir, fingerprint, content_hash, \
                     tool_version, error, namespace, pod, container, hostname, image, \"binary\", \
                     is_host, collected_at, owner_kind, owner_name, source_url, source_commit, \
                     partial, labels) FROM STDIN BINARY",
                )
                .map_err(err)?;
            let t = Type::TEXT;
            let types = [
                Type::INT8,
                Type::INT8,
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                Type::BOOL,
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                Type::BOOL,
                t,
            ];
            let mut w = BinaryCopyInWriter::new(sink, &types);
            let mut next = ids.iter();
            for (slot, input) in pending.inputs.iter().enumerate() {
                let Some(i) = input else { continue };
                let id = *next.next().expect("one id per input");
                slot_ids[slot] = id;
                let labels = encode_labels(&i.labels);
                w.write(&[
                    &id,
                    &self.collection,
                    &i.dir,
                    &i.fingerprint,
                    &i.content_hash,
                    &i.tool_version,
                    &i.error,
                    &i.namespace,
                    &i.pod,
                    &i.container,
                    &i.hostname,
                    &i.image,
                    &i.binary,
                    &i.is_host,
                    &i.collected_at,
                    &i.owner_kind,
                    &i.owner_name,
                    &i.source_url,
                    &i.source_commit,
                    &i.partial,
                    &labels,
                ])
                .map_err(err)?;
            }
            w.finish().map_err(err)?;
        }
        if !pending.processes.is_empty() {
            let sink = tx
                .copy_in(
                    "COPY processes (input_id, build_id, pid, snapshot_time, superseded, \
                     covered, counters) FROM STDIN BINARY",
                )
                .map_err(err)?;
            let types = [
                Type::INT8,
                Type::INT8,
                Type::INT8,
                Type::TEXT,
                Type::INT8,
                Type::INT8,
                Type::BYTEA,
            ];
            let mut w = BinaryCopyInWriter::new(sink, &types);
            for (slot, p) in &pending.processes {
                let covered = p.covered as i64;
                w.write(&[
                    &slot_ids[*slot],
                    &p.build_id,
                    &p.pid,
                    &p.snapshot_time,
                    &p.superseded,
                    &covered,
                    &p.counters,
                ])
                .map_err(err)?;
            }
            w.finish().map_err(err)?;
        }
        if !pending.diagnostics.is_empty() {
            let sink = tx
                .copy_in(
                    "COPY diagnostics (collection_id, dir, severity, message) FROM STDIN BINARY",
                )
                .map_err(err)?;
            let types = [Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT];
            let mut w = BinaryCopyInWriter::new(sink, &types);
            for (dir, severity, message) in &pending.diagnostics {
                w.write(&[&self.collection, dir, severity, message])
                    .map_err(err)?;
            }
            w.finish().map_err(err)?;
        }
        Ok(())
    }

    fn upsert_owner_row(&self, scenario: Option<&str>, o: &OwnerRow) -> Result<()> {
        let pods = encode_list(&o.pods);
        let containers = encode_list(&o.containers);
        let hosts = encode_list(&o.hosts);
        let images = encode_list(&o.images);
        let (statements, covered) = (o.statements as i64, o.covered as i64);
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![
            &self.collection,
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
        match scenario {
            None => self.execute(
                concat!(
                    "INSERT INTO owners (collection_id, ",
                    owner_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                     $15, $16, $17) ON CONFLICT (collection_id, key) DO UPDATE SET ",
                    owner_set!()
                ),
                &values,
            )?,
            Some(scenario) => {
                values.push(&scenario);
                self.execute(
                    concat!(
                        "INSERT INTO scenario_owners (collection_id, ",
                        owner_columns!(),
                        ", scenario) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                         $13, $14, $15, $16, $17, $18) ON CONFLICT (collection_id, key) DO UPDATE \
                         SET scenario = excluded.scenario, ",
                        owner_set!()
                    ),
                    &values,
                )?
            }
        };
        Ok(())
    }

    fn hashes(&self, sql: &'static str) -> Result<Vec<(String, String)>> {
        Ok(self
            .query(sql, &[&self.collection])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }
}

impl WriteTx for PgTx<'_> {
    fn build_id(&self, hash: &[u8; 16]) -> Result<Option<i64>> {
        if self.builds.borrow().is_none() {
            let rows = self.query(
                "SELECT hash, id FROM builds WHERE collection_id = $1",
                &[&self.collection],
            )?;
            let map = rows
                .iter()
                .filter_map(|r| {
                    let h: &[u8] = r.get(0);
                    Some((<[u8; 16]>::try_from(h).ok()?, r.get(1)))
                })
                .collect();
            *self.builds.borrow_mut() = Some(map);
        }
        Ok(self
            .builds
            .borrow()
            .as_ref()
            .and_then(|m| m.get(hash).copied()))
    }

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
        let hash_bytes = &hash[..];
        // Content-addressed, and committed at once on the layout connection (see the
        // module's docs): a writer storing the same build at the same moment waits for
        // that one statement only, then stores nothing.
        {
            let mut slot = self.layout_client.borrow_mut();
            if slot.is_none() {
                *slot = Some(self.config.connect(NoTls).map_err(|e| self.err(e))?);
            }
            let client = slot.as_mut().expect("connected above");
            client
                .execute(
                    "INSERT INTO layouts (hash, format, mode, units, layout) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
                    &[&hash_bytes, &format, &mode, &(units as i64), &compressed],
                )
                .map_err(|e| self.err(e))?;
        }
        let inserted = self.query(
            "INSERT INTO builds (collection_id, hash, statements) VALUES ($1, $2, $3) \
             ON CONFLICT (collection_id, hash) DO NOTHING RETURNING id",
            &[&self.collection, &hash_bytes, &(statements as i64)],
        )?;
        let id: i64 = match inserted.first() {
            Some(r) => r.get(0),
            None => {
                // Stored meanwhile by another writer of this collection: its files too.
                let r = self.query(
                    "SELECT id FROM builds WHERE collection_id = $1 AND hash = $2",
                    &[&self.collection, &hash_bytes],
                )?;
                let id = r
                    .first()
                    .map(|r| r.get(0))
                    .ok_or_else(|| StoreError::Missing {
                        location: self.shown.to_owned(),
                        what: "a build stored by another writer vanished".to_owned(),
                    })?;
                self.builds
                    .borrow_mut()
                    .get_or_insert_with(HashMap::new)
                    .insert(*hash, id);
                return Ok(id);
            }
        };
        {
            let mut tx = self.tx.borrow_mut();
            let err = |e| self.err(e);
            let sink = tx
                .copy_in(
                    "COPY build_files (build_id, path, package, statements, covered, excluded) \
                     FROM STDIN BINARY",
                )
                .map_err(err)?;
            let types = [
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::INT8,
                Type::INT8,
                Type::BOOL,
            ];
            let mut w = BinaryCopyInWriter::new(sink, &types);
            for f in files {
                w.write(&[
                    &id,
                    &f.path,
                    &f.package,
                    &(f.statements as i64),
                    &0i64,
                    &f.excluded,
                ])
                .map_err(err)?;
            }
            w.finish().map_err(err)?;
        }
        self.builds
            .borrow_mut()
            .get_or_insert_with(HashMap::new)
            .insert(*hash, id);
        Ok(id)
    }

    fn set_build_language(&self, build_id: i64, language: &str) -> Result<()> {
        self.execute(
            "UPDATE builds SET language = $3 WHERE id = $1 AND collection_id = $2",
            &[&build_id, &self.collection, &language],
        )?;
        Ok(())
    }

    fn replace_input(&self, input: &InputRow, processes: &[ProcessRow]) -> Result<()> {
        self.delete_input(&input.dir)?;
        let mut pending = self.pending.borrow_mut();
        let slot = pending.inputs.len();
        pending.inputs.push(Some(input.clone()));
        pending
            .processes
            .extend(processes.iter().map(|p| (slot, p.clone())));
        Ok(())
    }

    fn touch_input(&self, dir: &str, fingerprint: &str) -> Result<()> {
        self.flush()?;
        self.execute(
            "UPDATE inputs SET fingerprint = $3 WHERE collection_id = $1 AND dir = $2",
            &[&self.collection, &dir, &fingerprint],
        )?;
        Ok(())
    }

    fn delete_input(&self, dir: &str) -> Result<()> {
        let mut pending = self.pending.borrow_mut();
        let mut dropped = Vec::new();
        for (slot, input) in pending.inputs.iter_mut().enumerate() {
            if input.as_ref().is_some_and(|i| i.dir == dir) {
                *input = None;
                dropped.push(slot);
            }
        }
        if !dropped.is_empty() {
            pending
                .processes
                .retain(|(slot, _)| !dropped.contains(slot));
        }
        pending.diagnostics.retain(|(d, _, _)| d != dir);
        pending.deletes.push(dir.to_owned());
        Ok(())
    }

    fn add_diagnostic(&self, dir: &str, severity: &str, message: &str) -> Result<()> {
        self.pending.borrow_mut().diagnostics.push((
            dir.to_owned(),
            severity.to_owned(),
            message.to_owned(),
        ));
        Ok(())
    }

    fn build_processes(&self, build_id: i64) -> Result<Vec<(String, ProcessRow)>> {
        self.flush()?;
        let rows = self.query(
            "SELECT i.dir, p.build_id, p.pid, p.snapshot_time, p.superseded, p.covered, \
             p.counters FROM processes p JOIN inputs i ON p.input_id = i.id \
             WHERE p.build_id = $1 AND i.collection_id = $2 ORDER BY i.dir, p.pid",
            &[&build_id, &self.collection],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), process_row(r, 1))).collect())
    }

    fn set_build_coverage(&self, build_id: i64, covered: &[(String, u64)]) -> Result<()> {
        let paths: Vec<&str> = covered.iter().map(|(p, _)| p.as_str()).collect();
        let counts: Vec<i64> = covered.iter().map(|(_, c)| *c as i64).collect();
        self.execute(
            "UPDATE build_files f SET covered = v.c FROM unnest($3::text[], $4::int8[]) AS v(path, c) \
             WHERE f.build_id = $1 AND f.path = v.path \
             AND EXISTS (SELECT 1 FROM builds b WHERE b.id = $1 AND b.collection_id = $2)",
            &[&build_id, &self.collection, &paths, &counts],
        )?;
        Ok(())
    }

    fn set_build_files(&self, build_id: i64, statements: u64, files: &[BuildFile]) -> Result<()> {
        self.execute(
            "UPDATE builds SET statements = $3 WHERE id = $1 AND collection_id = $2",
            &[&build_id, &self.collection, &(statements as i64)],
        )?;
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let stmts: Vec<i64> = files.iter().map(|f| f.statements as i64).collect();
        let covered: Vec<i64> = files.iter().map(|f| f.covered as i64).collect();
        let excluded: Vec<bool> = files.iter().map(|f| f.excluded).collect();
        self.execute(
            "UPDATE build_files f SET statements = v.s, covered = v.c, excluded = v.e \
             FROM unnest($3::text[], $4::int8[], $5::int8[], $6::bool[]) AS v(path, s, c, e) \
             WHERE f.build_id = $1 AND f.path = v.path \
             AND EXISTS (SELECT 1 FROM builds b WHERE b.id = $1 AND b.collection_id = $2)",
            &[
                &build_id,
                &self.collection,
                &paths,
                &stmts,
                &covered,
                &excluded,
            ],
        )?;
        Ok(())
    }

    fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.execute(
            "INSERT INTO settings (collection_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (collection_id, key) DO UPDATE SET value = excluded.value",
            &[&self.collection, &key, &value],
        )?;
        Ok(())
    }

    fn edit_labels(&self, edits: &[(String, String)]) -> Result<()> {
        let rows = self.query(
            "SELECT labels FROM collections WHERE id = $1 FOR UPDATE",
            &[&self.collection],
        )?;
        let stored: String = rows.first().map(|r| r.get(0)).unwrap_or_default();
        let labels = encode_labels(&apply_label_edits(decode_labels(&stored), edits));
        self.execute(
            "UPDATE collections SET labels = $2 WHERE id = $1",
            &[&self.collection, &labels],
        )?;
        Ok(())
    }

    fn note_created(&self, _at: &str) -> Result<()> {
        // The collection row's `created_at` was set when the row was made.
        Ok(())
    }

    fn mark_compiled(&self, at: &str) -> Result<()> {
        self.flush()?;
        self.execute(
            "UPDATE collections c SET compiled_at = $2::text::timestamptz, \
             builds = (SELECT count(*) FROM builds b WHERE b.collection_id = c.id), \
             statements = t.statements, covered = t.covered \
             FROM (SELECT coalesce(sum(f.statements), 0)::bigint AS statements, \
                          coalesce(sum(f.covered), 0)::bigint AS covered \
                   FROM builds b JOIN build_files f ON f.build_id = b.id \
                   WHERE b.collection_id = $1 AND NOT f.excluded) t \
             WHERE c.id = $1",
            &[&self.collection, &at],
        )?;
        self.bump_generation()
    }

    fn bump_generation(&self) -> Result<()> {
        // Strictly increasing even when the clock steps back.
        self.execute(
            "INSERT INTO settings (collection_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (collection_id, key) DO UPDATE \
             SET value = greatest(settings.value::bigint + 1, excluded.value::bigint)::text",
            &[
                &self.collection,
                &crate::catalog::GENERATION,
                &crate::catalog::clock_generation().to_string(),
            ],
        )?;
        Ok(())
    }

    fn owner_hashes(&self) -> Result<Vec<(String, String)>> {
        self.hashes("SELECT key, input_hash FROM owners WHERE collection_id = $1")
    }

    fn scenario_owner_hashes(&self) -> Result<Vec<(String, String)>> {
        self.hashes("SELECT key, input_hash FROM scenario_owners WHERE collection_id = $1")
    }

    fn upsert_scenario_owner(&self, scenario: &str, o: &OwnerRow) -> Result<()> {
        self.upsert_owner_row(Some(scenario), o)
    }

    fn delete_scenario_owner(&self, key: &str) -> Result<()> {
        self.execute(
            "DELETE FROM scenario_owners WHERE collection_id = $1 AND key = $2",
            &[&self.collection, &key],
        )?;
        Ok(())
    }

    fn upsert_owner(&self, o: &OwnerRow) -> Result<()> {
        self.upsert_owner_row(None, o)
    }

    fn delete_owner(&self, key: &str) -> Result<()> {
        self.execute(
            "DELETE FROM owners WHERE collection_id = $1 AND key = $2",
            &[&self.collection, &key],
        )?;
        Ok(())
    }

    fn record_source_fetch(&self, f: &SourceFetchRow) -> Result<()> {
        self.execute(
            "INSERT INTO source_fetches (collection_id, repo, commit_id, full_commit, error, \
             fetched_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (collection_id, repo, \
             commit_id) DO UPDATE SET full_commit = excluded.full_commit, \
             error = excluded.error, fetched_at = excluded.fetched_at",
            &[
                &self.collection,
                &f.repo,
                &f.commit,
                &f.full_commit,
                &f.error,
                &f.fetched_at,
            ],
        )?;
        Ok(())
    }

    fn image_source(&self, image: &str) -> Result<Option<ImageSourceRow>> {
        let rows = self.query(
            "SELECT image, source_repo, commit_id, software_group, software_key, origin, error \
             FROM image_sources WHERE collection_id = $1 AND image = $2",
            &[&self.collection, &image],
        )?;
        Ok(rows.first().map(image_source_row))
    }

    fn put_image_source(&self, row: &ImageSourceRow) -> Result<()> {
        self.execute(
            "INSERT INTO image_sources (collection_id, image, source_repo, commit_id, \
             software_group, software_key, origin, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (collection_id, image) DO UPDATE SET source_repo = excluded.source_repo, \
             commit_id = excluded.commit_id, software_group = excluded.software_group, \
             software_key = excluded.software_key, origin = excluded.origin, \
             error = excluded.error",
            &[
                &self.collection,
                &row.image,
                &row.source_repo,
                &row.commit_id,
                &row.software_group,
                &row.software_key,
                &row.origin,
                &row.error,
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passfile_gives_the_password_of_the_first_matching_line() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pgpass");
        std::fs::write(
            &p,
            "# comment\nother:5433:db:u:no\n127.0.0.1:5433:db:u:a\\:b\n*:*:*:*:any\n",
        )
        .unwrap();
        let c = |url: &str| url.parse::<Config>().unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            passfile_at(&p, &c("postgres://u@127.0.0.1:5433/db")).as_deref(),
            Some("a:b")
        );
        assert_eq!(
            passfile_at(&p, &c("postgres://v@h/db")).as_deref(),
            Some("any")
        );
        // Readable by others: ignored, as libpq does.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(passfile_at(&p, &c("postgres://v@h/db")), None);
    }
}
