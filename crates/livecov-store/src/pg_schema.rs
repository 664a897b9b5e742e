//! The PostgreSQL schema and its forward migrations.
//!
//! One database holds many collections: every row but a layout is scoped by its
//! collection (`collections`), and a layout is stored once for all of them, keyed by the
//! build hash (the same build run by 1,000 collections is one row). Text compared or
//! sorted by the store is `COLLATE "C"`: bytewise, as SQLite sorts, so both backends
//! answer in the same order whatever the database's locale.
//!
//! Migrations run in one transaction under an advisory lock ([`MIGRATE_LOCK`]): machines
//! that start at once migrate once, the others wait and find the schema current.

/// The schema version this livecov writes into PostgreSQL.
pub const PG_SCHEMA_VERSION: i64 = 2;

/// The advisory lock (one 64-bit key) held while migrating.
pub const MIGRATE_LOCK: i64 = 0x6c69_7665_636f_7601; // "livecov" 01

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first shared schema (SQLite's schema 5, scoped by collection).
    r#"CREATE TABLE collections (
        id BIGSERIAL PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL UNIQUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE layouts (
        hash BYTEA PRIMARY KEY,
        format TEXT NOT NULL,
        mode TEXT NOT NULL,
        units BIGINT NOT NULL,
        layout BYTEA NOT NULL
    );
    CREATE TABLE builds (
        id BIGSERIAL PRIMARY KEY,
        collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        hash BYTEA NOT NULL REFERENCES layouts(hash),
        statements BIGINT NOT NULL,
        language TEXT NOT NULL DEFAULT 'go',
        UNIQUE (collection_id, hash)
    );
    CREATE TABLE build_files (
        build_id BIGINT NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
        path TEXT COLLATE "C" NOT NULL,
        package TEXT NOT NULL,
        statements BIGINT NOT NULL,
        covered BIGINT NOT NULL DEFAULT 0,
        excluded BOOLEAN NOT NULL DEFAULT false,
        PRIMARY KEY (build_id, path)
    );
    CREATE TABLE inputs (
        id BIGSERIAL PRIMARY KEY,
        collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        dir TEXT COLLATE "C" NOT NULL,
        fingerprint TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL DEFAULT '',
        tool_version TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        namespace TEXT NOT NULL DEFAULT '',
        pod TEXT NOT NULL DEFAULT '',
        container TEXT NOT NULL DEFAULT '',
        hostname TEXT NOT NULL DEFAULT '',
        image TEXT NOT NULL DEFAULT '',
        "binary" TEXT NOT NULL DEFAULT '',
        is_host BOOLEAN NOT NULL DEFAULT false,
        collected_at TEXT NOT NULL DEFAULT '',
        owner_kind TEXT NOT NULL DEFAULT '',
        owner_name TEXT NOT NULL DEFAULT '',
        source_url TEXT NOT NULL DEFAULT '',
        source_commit TEXT NOT NULL DEFAULT '',
        partial BOOLEAN NOT NULL DEFAULT false,
        labels TEXT NOT NULL DEFAULT '',
        UNIQUE (collection_id, dir)
    );
    CREATE TABLE processes (
        input_id BIGINT NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
        build_id BIGINT NOT NULL REFERENCES builds(id),
        pid BIGINT NOT NULL,
        snapshot_time TEXT NOT NULL DEFAULT '',
        superseded BIGINT NOT NULL DEFAULT 0,
        covered BIGINT NOT NULL DEFAULT 0,
        counters BYTEA NOT NULL
    );
    CREATE INDEX processes_input ON processes(input_id);
    CREATE INDEX processes_build ON processes(build_id);
    CREATE TABLE owners (
        collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        key TEXT COLLATE "C" NOT NULL,
        namespace TEXT NOT NULL,
        owner_type TEXT NOT NULL,
        owner TEXT NOT NULL,
        "binary" TEXT NOT NULL,
        build_id BIGINT NOT NULL REFERENCES builds(id),
        pods TEXT NOT NULL DEFAULT '',
        containers TEXT NOT NULL DEFAULT '',
        hosts TEXT NOT NULL DEFAULT '',
        images TEXT NOT NULL DEFAULT '',
        first_seen TEXT NOT NULL DEFAULT '',
        last_seen TEXT NOT NULL DEFAULT '',
        statements BIGINT NOT NULL DEFAULT 0,
        covered BIGINT NOT NULL DEFAULT 0,
        input_hash TEXT NOT NULL DEFAULT '',
        counters BYTEA NOT NULL,
        PRIMARY KEY (collection_id, key)
    );
    CREATE INDEX owners_build ON owners(build_id);
    CREATE TABLE scenario_owners (
        collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        key TEXT COLLATE "C" NOT NULL,
        scenario TEXT COLLATE "C" NOT NULL,
        namespace TEXT NOT NULL,
        owner_type TEXT NOT NULL,
        owner TEXT NOT NULL,
        "binary" TEXT NOT NULL,
        build_id BIGINT NOT NULL REFERENCES builds(id),
        pods TEXT NOT NULL DEFAULT '',
        containers TEXT NOT NULL DEFAULT '',
        hosts TEXT NOT NULL DEFAULT '',
        images TEXT NOT NULL DEFAULT '',
        first_seen TEXT NOT NULL DEFAULT '',
        last_seen TEXT NOT NULL DEFAULT '',
        statements BIGINT NOT NULL DEFAULT 0,
        covered BIGINT NOT NULL DEFAULT 0,
        input_hash TEXT NOT NULL DEFAULT '',
        counters BYTEA NOT NULL,
        PRIMARY KEY (collection_id, key)
    );
    CREATE INDEX scenario_owners_build ON scenario_owners(collection_id, scenario, build_id);
    CREATE TABLE image_sources (
        collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        image TEXT COLLATE "C" NOT NULL,
        source_repo TEXT NOT NULL DEFAULT '',
        commit_id TEXT NOT NULL DEFAULT '',
        software_group TEXT NOT NULL DEFAULT '',
        software_key TEXT NOT NULL DEFAULT '',
        origin TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (collection_id, image)
    );
    CREATE TABLE diagnostics (
        id BIGSERIAL PRIMARY KEY,
        collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        dir TEXT COLLATE "C" NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX diagnostics_dir ON diagnostics(collection_id, dir);
    CREATE TABLE source_fetches (
        collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        repo TEXT COLLATE "C" NOT NULL,
        commit_id TEXT COLLATE "C" NOT NULL,
        full_commit TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        fetched_at TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (collection_id, repo, commit_id)
    );
    CREATE TABLE settings (
        collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        key TEXT COLLATE "C" NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (collection_id, key)
    );"#,
    // 1 -> 2: a collection's place in the history (`livecov history`, `store list`,
    // `store prune`): its labels (`cluster compile --label`, stored as `inputs.labels`
    // are), when its last compile finished, and the totals that compile left, so a
    // catalog of 1,000 collections is one small query instead of a sum over every file
    // of every build.
    r#"ALTER TABLE collections ADD COLUMN labels TEXT NOT NULL DEFAULT '';
    ALTER TABLE collections ADD COLUMN compiled_at TIMESTAMPTZ;
    ALTER TABLE collections ADD COLUMN builds BIGINT;
    ALTER TABLE collections ADD COLUMN statements BIGINT;
    ALTER TABLE collections ADD COLUMN covered BIGINT;"#,
];
