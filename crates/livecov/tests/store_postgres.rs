//! `--store postgres://…`: the whole pipeline against a real PostgreSQL 15 started by the
//! test (tests/support/postgres.rs), compared with the SQLite store of the same
//! collection, under concurrency and faults.
//!
//! - the same collection compiled into SQLite and into PostgreSQL reports the same
//!   bytes (table and JSON);
//! - three compiles at once into one store, of two overlapping collections (one of them
//!   from two directories, as from two machines), lose and duplicate nothing;
//! - the database restarted in the middle of a compile's ingest: nothing half-written is
//!   visible, the store says the compile did not finish, and the rerun lands once;
//! - a wrong password is refused with a clear error that does not hold it; the password
//!   is also taken from PGPASSWORD and from a passfile.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/external.rs"]
mod external;
#[path = "support/postgres.rs"]
mod pgserver;

use cluster::{builds_of, collection, golden, pod, LONE_BUILD};

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use pgserver::Postgres;

fn livecov() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_livecov"));
    // Only what each test passes chooses the store.
    c.env_remove("LIVECOV_STORE")
        .env_remove("PGPASSWORD")
        .env_remove("PGPASSFILE");
    c
}

fn run(args: &[&str]) -> Output {
    livecov().args(args).output().unwrap()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn compile(c: &Path, store: Option<&str>) -> Output {
    let mut args = vec!["cluster", "compile", "--collection", c.to_str().unwrap()];
    if let Some(s) = store {
        args.extend(["--store", s]);
    }
    run(&args)
}

/// `report` stdout and stderr, in `format`.
fn report(c: &Path, store: Option<&str>, format: &str) -> (String, String) {
    let mut args = vec![
        "report",
        "--collection",
        c.to_str().unwrap(),
        "--format",
        format,
    ];
    if let Some(s) = store {
        args.extend(["--store", s]);
    }
    let out = run(&args);
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The SQLite reports of a copy of `c` (compiled alone), for comparison.
fn sqlite_reports(c: &Path, formats: &[&str]) -> Vec<(String, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join(c.file_name().unwrap());
    copy_dir(&c.join("coverage"), &copy.join("coverage"));
    ok(compile(&copy, None));
    formats.iter().map(|f| report(&copy, None, f)).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_collection_compiled_into_postgres_reports_the_same_bytes_as_sqlite() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let url = pg.create_database("same");
    let tmp = tempfile::tempdir().unwrap();
    let c = collection(&tmp.path().join("run1"), 0..12);
    ok(compile(&c, None));
    let out = ok(compile(&c, Some(&url)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("compiled 12 inputs (0 unchanged, 0 failed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("store: postgres://livecov:***@127.0.0.1:")
            && !stderr.contains(pgserver::PASSWORD),
        "the store is named, its password is not: {stderr}"
    );
    // (Not an export: a whole-collection export of builds of several counter modes keeps
    // the first build's mode, and which build is first depends on the order the
    // parallel compile stored them in, with either store.)
    for format in ["json", "table"] {
        let sqlite = report(&c, None, format);
        let shared = report(&c, Some(&url), format);
        assert!(!sqlite.0.is_empty(), "{format}: {}", sqlite.1);
        assert_eq!(shared, sqlite, "report --format {format}");
    }
    let json: serde_json::Value = serde_json::from_str(&report(&c, Some(&url), "json").0).unwrap();
    assert_eq!(json["builds"].as_array().unwrap().len(), builds_of(0..12));
    // The other readers: an export of each build, and the site.
    for b in json["builds"].as_array().unwrap() {
        let build = b["build"].as_str().unwrap();
        let export = |store: Option<&str>| {
            let mut args = vec!["export", "--format", "lcov", "--collection"];
            args.extend([c.to_str().unwrap(), "--build", build]);
            args.extend(store.map(|s| ["--store", s]).into_iter().flatten());
            String::from_utf8(ok(run(&args)).stdout).unwrap()
        };
        let lcov = export(Some(&url));
        assert!(lcov.contains("end_of_record"), "{build}");
        assert_eq!(lcov, export(None), "export --build {build}");
    }
    let render = |out: &Path, store: Option<&str>| {
        let mut args = vec!["cluster", "render", "--collection", c.to_str().unwrap()];
        args.extend(["--output-dir", out.to_str().unwrap()]);
        args.extend(store.map(|s| ["--store", s]).into_iter().flatten());
        ok(run(&args));
        fs::read_to_string(out.join("index.html")).unwrap()
    };
    let site = render(&tmp.path().join("html-pg"), Some(&url));
    assert!(site.contains("web-0"), "the index lists the owners");
    assert_eq!(
        site,
        render(&tmp.path().join("html-sqlite"), None),
        "index.html"
    );
    // Incremental as with SQLite: nothing changed, nothing compiled; LIVECOV_STORE works
    // like --store.
    let again = ok(livecov()
        .args(["cluster", "compile", "--collection", c.to_str().unwrap()])
        .env("LIVECOV_STORE", &url)
        .output()
        .unwrap());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("compiled 0 inputs (12 unchanged, 0 failed"),
        "{stderr}"
    );
    // The collection is found by its directory's name, or by --collection-name.
    let elsewhere = tmp.path().join("other-dir");
    fs::create_dir_all(&elsewhere).unwrap();
    let by_name = run(&[
        "report",
        "--collection",
        elsewhere.to_str().unwrap(),
        "--collection-name",
        "run1",
        "--store",
        &url,
        "--format",
        "json",
    ]);
    assert_eq!(
        String::from_utf8(by_name.stdout).unwrap(),
        report(&c, None, "json").0
    );
    let missing = run(&[
        "report",
        "--collection",
        elsewhere.to_str().unwrap(),
        "--store",
        &url,
    ]);
    assert!(!missing.status.success());
    let e = String::from_utf8_lossy(&missing.stderr);
    assert!(e.contains("no collection \"other-dir\""), "{e}");
}

/// Rows that must be unique in a consistent store.
fn duplicates(pg: &Postgres, db: &str) -> String {
    pg.psql(
        db,
        "SELECT (SELECT count(*) FROM (SELECT input_id, build_id, pid FROM processes \
         GROUP BY 1, 2, 3 HAVING count(*) > 1) d) || ',' || \
         (SELECT count(*) FROM (SELECT collection_id, dir, message FROM diagnostics \
         GROUP BY 1, 2, 3 HAVING count(*) > 1) d)",
    )
}

#[test]
fn compiles_at_once_of_overlapping_collections_lose_and_duplicate_nothing() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let url = pg.create_database("busy");
    let tmp = tempfile::tempdir().unwrap();
    // a and b share pods 6..12 (the same report directories, the same builds); a2 is a
    // second copy of a (another machine's download of it), compiled under a's name.
    let a = collection(&tmp.path().join("a"), 0..12);
    let b = collection(&tmp.path().join("b"), 6..20);
    let a2 = collection(&tmp.path().join("m2").join("a"), 0..12);
    let expected_a = sqlite_reports(&a, &["json", "table"]);
    let expected_b = sqlite_reports(&b, &["json", "table"]);
    let spawn = |c: &Path| {
        livecov()
            .args([
                "cluster",
                "compile",
                "--collection",
                c.to_str().unwrap(),
                "--store",
                &url,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn(&a), spawn(&b), spawn(&a2)];
    for child in children {
        ok(child.wait_with_output().unwrap());
    }
    for (c, expected) in [(&a, &expected_a), (&b, &expected_b), (&a2, &expected_a)] {
        for (format, want) in ["json", "table"].iter().zip(expected) {
            assert_eq!(
                &report(c, Some(&url), format),
                want,
                "{} --format {format}",
                c.display()
            );
        }
    }
    assert_eq!(
        pg.psql(
            "busy",
            "SELECT string_agg(name || '=' || (SELECT count(*) FROM inputs i \
             WHERE i.collection_id = c.id), ',' ORDER BY name) FROM collections c"
        ),
        "a=12,b=14",
        "every input of each collection once"
    );
    assert_eq!(
        pg.psql("busy", "SELECT count(*) FROM layouts"),
        builds_of(0..20).to_string(),
        "each build's layout stored once for both collections"
    );
    assert_eq!(duplicates(&pg, "busy"), "0,0");
}

#[test]
fn a_database_restarted_mid_ingest_leaves_nothing_half_written_and_the_rerun_lands_once() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let url = pg.create_database("faulty");
    let tmp = tempfile::tempdir().unwrap();
    // More pods than one write batch holds: batches before pod 7's commit, pod 7's waits.
    let c = collection(&tmp.path().join("run1"), 0..150);
    let expected = sqlite_reports(&c, &["json"]);
    // The schema first (a compile of another collection), then a transaction of the
    // test's own that holds the layout row of the build only pod 7 runs: the compile's
    // batch holding pod 7 waits on it (its layout insert does), in the middle of its
    // ingest, until the restart.
    let warm = collection(&tmp.path().join("warm"), 0..1);
    ok(compile(&warm, Some(&url)));
    let held = pgserver::hold_layout(&url, LONE_BUILD);
    let child = livecov()
        .args([
            "cluster",
            "compile",
            "--collection",
            c.to_str().unwrap(),
            "--store",
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'livecov' \
                   AND wait_event_type = 'Lock'";
    let mut tries = 0;
    while pg.psql("faulty", waiting) != "1" {
        tries += 1;
        assert!(
            tries < 600,
            "the compile never reached the held build\n{}",
            pg.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pg.restart();
    drop(held);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the compile lost its database: {stderr}"
    );
    assert!(
        stderr.contains("store postgres://livecov:***@127.0.0.1:")
            && !stderr.contains(pgserver::PASSWORD),
        "{stderr}"
    );

    // Nothing half-written: every visible input has all its processes and diagnostics
    // (as the SQLite compile of the same pods has), pod 7's batch is not there at all,
    // and report says the compile did not finish.
    let visible = pg.psql(
        "faulty",
        "SELECT i.dir || ':' || count(p.pid) FROM inputs i JOIN collections c \
         ON c.id = i.collection_id LEFT JOIN processes p ON p.input_id = i.id \
         WHERE c.name = 'run1' GROUP BY i.dir ORDER BY i.dir",
    );
    for line in visible.lines().filter(|l| !l.is_empty()) {
        let (dir, n) = line.split_once(':').unwrap();
        let i: usize = dir.rsplit('-').nth(1).unwrap()[1..].parse().unwrap();
        let files = fs::read_dir(golden(pod(i).1)).unwrap().count();
        let metas = fs::read_dir(golden(pod(i).1))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("covmeta.")
            })
            .count();
        // One kept process per (build, pid): the golden directories hold one process per
        // meta file, except `count`, two.
        let want = if pod(i).1 == "count" { 2 } else { metas };
        assert_eq!(n.parse::<usize>().unwrap(), want, "{dir} ({files} files)");
        assert_ne!(i, 7, "pod 7's batch never committed");
    }
    assert!(visible.lines().count() < 150, "{visible}");
    let (_, err) = report(&c, Some(&url), "json");
    assert!(
        err.contains("error: store incomplete: the last compile"),
        "{err}"
    );

    // The rerun lands once: the same report as SQLite's, no duplicate row.
    let out = ok(compile(&c, Some(&url)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 failed"));
    assert_eq!(report(&c, Some(&url), "json"), expected[0]);
    assert_eq!(duplicates(&pg, "faulty"), "0,0");
    assert_eq!(
        pg.psql(
            "faulty",
            "SELECT count(*) FROM inputs i JOIN collections c ON c.id = i.collection_id \
             WHERE c.name = 'run1'"
        ),
        "150"
    );
    assert_eq!(
        pg.psql(
            "faulty",
            "SELECT count(*) FROM layouts WHERE format = 'held'"
        ),
        "0",
        "the test's own row died with its transaction"
    );
}

#[test]
fn a_wrong_password_is_refused_clearly_and_never_printed() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    pg.create_database("auth");
    let tmp = tempfile::tempdir().unwrap();
    let c = collection(&tmp.path().join("run1"), 0..2);
    let wrong = format!(
        "postgres://livecov:Wr0ng-pw-123@127.0.0.1:{}/auth",
        pg.port()
    );
    let out = compile(&c, Some(&wrong));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "store postgres://livecov:***@127.0.0.1:{}/auth (collection run1): FATAL: password \
             authentication failed for user \"livecov\"",
            pg.port()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("Wr0ng-pw-123"), "{stderr}");
    assert!(
        !c.join("livecov.db").exists(),
        "no SQLite store made instead"
    );

    // The password from PGPASSWORD, then from a passfile (0600), none in the URL.
    let bare = pg.url_without_password("auth");
    let out = ok(livecov()
        .args([
            "cluster",
            "compile",
            "--collection",
            c.to_str().unwrap(),
            "--store",
            &bare,
        ])
        .env("PGPASSWORD", pgserver::PASSWORD)
        .output()
        .unwrap());
    assert!(String::from_utf8_lossy(&out.stderr).contains("compiled 2 inputs"));
    let passfile = tmp.path().join("pgpass");
    fs::write(
        &passfile,
        format!(
            "# test\n127.0.0.1:{}:auth:livecov:{}\n",
            pg.port(),
            pgserver::PASSWORD
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&passfile, fs::Permissions::from_mode(0o600)).unwrap();
    let out = livecov()
        .args([
            "report",
            "--collection",
            c.to_str().unwrap(),
            "--store",
            &bare,
        ])
        .env("PGPASSFILE", &passfile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No password at all: refused, naming what to give.
    let out = run(&[
        "report",
        "--collection",
        c.to_str().unwrap(),
        "--store",
        &bare,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("password"), "{stderr}");
}
