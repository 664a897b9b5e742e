//! The schema and its forward migrations.
//!
//! Each migration is applied once, in order, inside one transaction, and bumps
//! `schema_version`. A store written by a newer livecov is refused rather than guessed.

use rusqlite::Connection;

/// The schema version this livecov writes.
pub const SCHEMA_VERSION: i64 = 5;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first schema.
    "CREATE TABLE builds (
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        format TEXT NOT NULL,
        mode TEXT NOT NULL,
        units INTEGER NOT NULL,
        statements INTEGER NOT NULL,
        layout BLOB NOT NULL
    );
    CREATE TABLE build_files (
        build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        package TEXT NOT NULL,
        statements INTEGER NOT NULL,
        covered INTEGER NOT NULL DEFAULT 0,
        excluded INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (build_id, path)
    );
    CREATE TABLE inputs (
        id INTEGER PRIMARY KEY,
        dir TEXT NOT NULL UNIQUE,
        fingerprint TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL DEFAULT '',
        tool_version TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        namespace TEXT NOT NULL DEFAULT '',
        pod TEXT NOT NULL DEFAULT '',
        container TEXT NOT NULL DEFAULT '',
        hostname TEXT NOT NULL DEFAULT '',
        image TEXT NOT NULL DEFAULT '',
        binary TEXT NOT NULL DEFAULT '',
        is_host INTEGER NOT NULL DEFAULT 0,
        collected_at TEXT NOT NULL DEFAULT '',
        owner_kind TEXT NOT NULL DEFAULT '',
        owner_name TEXT NOT NULL DEFAULT '',
        source_url TEXT NOT NULL DEFAULT '',
        source_commit TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX inputs_namespace ON inputs(namespace);
    CREATE TABLE processes (
        id INTEGER PRIMARY KEY,
        input_id INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
        build_id INTEGER NOT NULL REFERENCES builds(id),
        pid INTEGER NOT NULL,
        snapshot_time TEXT NOT NULL DEFAULT '',
        superseded INTEGER NOT NULL DEFAULT 0,
        covered INTEGER NOT NULL DEFAULT 0,
        counters BLOB NOT NULL
    );
    CREATE INDEX processes_build ON processes(build_id);
    CREATE INDEX processes_input ON processes(input_id);
    CREATE TABLE owners (
        key TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        owner_type TEXT NOT NULL,
        owner TEXT NOT NULL,
        binary TEXT NOT NULL,
        build_id INTEGER NOT NULL REFERENCES builds(id),
        pods TEXT NOT NULL DEFAULT '',
        containers TEXT NOT NULL DEFAULT '',
        hosts TEXT NOT NULL DEFAULT '',
        images TEXT NOT NULL DEFAULT '',
        first_seen TEXT NOT NULL DEFAULT '',
        last_seen TEXT NOT NULL DEFAULT '',
        statements INTEGER NOT NULL DEFAULT 0,
        covered INTEGER NOT NULL DEFAULT 0,
        input_hash TEXT NOT NULL DEFAULT '',
        counters BLOB NOT NULL
    );
    CREATE TABLE image_sources (
        image TEXT PRIMARY KEY,
        source_repo TEXT NOT NULL DEFAULT '',
        commit_id TEXT NOT NULL DEFAULT '',
        software_group TEXT NOT NULL DEFAULT '',
        software_key TEXT NOT NULL DEFAULT '',
        origin TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE diagnostics (
        id INTEGER PRIMARY KEY,
        dir TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX diagnostics_dir ON diagnostics(dir);",
    // 1 -> 2: what `clone-sources` fetched, so a commit that could not be fetched is
    // shown as such instead of silently replaced.
    "CREATE TABLE source_fetches (
        repo TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        full_commit TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        fetched_at TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (repo, commit_id)
    );",
    // 2 -> 3: inputs that lost some files but still count (partial), and settings a
    // compile keeps between runs (the exclusion set its totals were made with, whether
    // the last compile finished).
    "ALTER TABLE inputs ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
    // 3 -> 4: the language of a build (`go`, `python`, `lcov`): one collection holds
    // builds of several, and report and the site say which each is. A table of its own:
    // a column added to `builds` sits after the layout blob in each row, so listing the
    // builds would read every layout's overflow pages (3x the page reads of a compile
    // with nothing to do). No row: `go`.
    "CREATE TABLE build_languages (
        build_id INTEGER PRIMARY KEY REFERENCES builds(id) ON DELETE CASCADE,
        language TEXT NOT NULL
    );",
    // 4 -> 5: labels of an input (`scenario=login`, from `collect --label`), and owner
    // groups per scenario, so a report or a page can say what one scenario ran.
    "ALTER TABLE inputs ADD COLUMN labels TEXT NOT NULL DEFAULT '';
    CREATE TABLE scenario_owners (
        key TEXT PRIMARY KEY,
        scenario TEXT NOT NULL,
        namespace TEXT NOT NULL,
        owner_type TEXT NOT NULL,
        owner TEXT NOT NULL,
        binary TEXT NOT NULL,
        build_id INTEGER NOT NULL REFERENCES builds(id),
        pods TEXT NOT NULL DEFAULT '',
        containers TEXT NOT NULL DEFAULT '',
        hosts TEXT NOT NULL DEFAULT '',
        images TEXT NOT NULL DEFAULT '',
        first_seen TEXT NOT NULL DEFAULT '',
        last_seen TEXT NOT NULL DEFAULT '',
        statements INTEGER NOT NULL DEFAULT 0,
        covered INTEGER NOT NULL DEFAULT 0,
        input_hash TEXT NOT NULL DEFAULT '',
        counters BLOB NOT NULL
    );
    CREATE INDEX scenario_owners_build ON scenario_owners(build_id, scenario);",
];

/// Creates or migrates the schema. Returns the version found before migrating (or the
/// current one), so the caller can refuse a newer store.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<i64> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let stored: Option<i64> = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .ok();
    let mut version = stored.unwrap_or(0);
    if version > SCHEMA_VERSION {
        return Ok(version);
    }
    while (version as usize) < MIGRATIONS.len() {
        let tx = conn.transaction()?;
        tx.execute_batch(MIGRATIONS[version as usize])?;
        version += 1;
        tx.execute("DELETE FROM schema_version", [])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version],
        )?;
        tx.commit()?;
    }
    Ok(version)
}
