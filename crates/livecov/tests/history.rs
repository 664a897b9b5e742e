//! History and retention across collections (`livecov store list|prune`,
//! `livecov history`, `cluster compile --label`), on both backends: a directory of
//! SQLite collections and a real PostgreSQL 15 (tests/support/postgres.rs), each with
//! three collections compiled by the real binary from the golden Go coverage data.
//!
//! - labels are stored by compile, kept by a compile without --label, removed by
//!   `--label KEY=`;
//! - the catalog lists the collections newest compiled first, with totals equal to
//!   what `report --format json` gives each;
//! - history points (the total, a build, an owner, a file) equal each collection's
//!   report (for a file: its stored per-file figures), oldest first, with label filters
//!   and limits;
//! - the generation changes after a compile and not after reads;
//! - prune by age (the time set through SQL) and by count; --dry-run removes nothing;
//!   in PostgreSQL the layouts a kept collection shares survive and the others go; in a
//!   directory the livecov.db goes and the raw coverage stays.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/external.rs"]
mod external;
#[path = "support/postgres.rs"]
mod pgserver;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use cluster::{builds_of, collection, LONE_BUILD};
use livecov_store::Catalog;
use pgserver::Postgres;
use serde_json::Value;

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Three collections under one root, and the store they compile into.
struct Fixture {
    root: tempfile::TempDir,
    /// `None`: each collection's own livecov.db (the catalog is the root directory).
    url: Option<String>,
    pg: Option<Postgres>,
}

impl Fixture {
    fn livecov(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_livecov"))
            .env_remove("LIVECOV_STORE")
            .args(args)
            .output()
            .unwrap()
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// `--store URL` or `--root DIR`.
    fn catalog_flags(&self) -> Vec<String> {
        match &self.url {
            Some(url) => vec!["--store".into(), url.clone()],
            None => vec!["--root".into(), self.root.path().display().to_string()],
        }
    }

    fn catalog(&self) -> Catalog {
        match &self.url {
            Some(url) => Catalog::Postgres { url: url.clone() },
            None => Catalog::Directory(self.root.path().to_path_buf()),
        }
    }

    fn store_flags(&self) -> Vec<String> {
        self.url
            .iter()
            .flat_map(|u| ["--store".to_owned(), u.clone()])
            .collect()
    }

    fn compile(&self, name: &str, labels: &[&str]) {
        let dir = self.dir(name).display().to_string();
        let mut args = vec!["cluster", "compile", "--collection", &dir];
        for l in labels {
            args.extend(["--label", l]);
        }
        let store = self.store_flags();
        args.extend(store.iter().map(String::as_str));
        ok(self.livecov(&args));
    }

    fn report(&self, name: &str) -> Value {
        let dir = self.dir(name).display().to_string();
        let mut args = vec!["report", "--collection", &dir, "--format", "json"];
        let store = self.store_flags();
        args.extend(store.iter().map(String::as_str));
        serde_json::from_slice(&ok(self.livecov(&args)).stdout).unwrap()
    }

    /// `livecov <command> <catalog flags> <args>`, its stdout.
    fn over_catalog(&self, command: &[&str], args: &[&str]) -> String {
        let flags = self.catalog_flags();
        let mut all: Vec<&str> = command.to_vec();
        all.extend(flags.iter().map(String::as_str));
        all.extend(args);
        String::from_utf8(ok(self.livecov(&all)).stdout).unwrap()
    }

    fn json(&self, command: &[&str], args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        serde_json::from_str(&self.over_catalog(command, &args)).unwrap()
    }

    fn names(&self, args: &[&str]) -> Vec<String> {
        self.json(&["store", "list"], args)
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Places collection `name`'s last compile `age` ago.
    fn age(&self, name: &str, age: Duration) {
        match &self.pg {
            Some(pg) => {
                pg.psql(
                    "history",
                    &format!(
                        "UPDATE collections SET compiled_at = now() - interval '{} seconds' \
                         WHERE name = '{name}'",
                        age.as_secs()
                    ),
                );
            }
            None => {
                let db = rusqlite::Connection::open(self.dir(name).join("livecov.db")).unwrap();
                let at = livecov_store::catalog::utc_timestamp(SystemTime::now() - age);
                let n = db
                    .execute(
                        "UPDATE settings SET value = ?1 WHERE key = 'compiled_at'",
                        [at],
                    )
                    .unwrap();
                assert_eq!(n, 1);
            }
        }
    }

    fn layouts(&self) -> Option<(usize, bool)> {
        let pg = self.pg.as_ref()?;
        let n = pg.psql("history", "SELECT count(*) FROM layouts");
        let lone = pg.psql(
            "history",
            &format!("SELECT count(*) FROM layouts WHERE encode(hash, 'hex') = '{LONE_BUILD}'"),
        );
        Some((n.parse().unwrap(), lone == "1"))
    }
}

fn sqlite_fixture() -> Fixture {
    Fixture {
        root: tempfile::tempdir().unwrap(),
        url: None,
        pg: None,
    }
}

fn pg_fixture() -> Option<Fixture> {
    let pg = Postgres::start()?;
    let url = pg.create_database("history");
    Some(Fixture {
        root: tempfile::tempdir().unwrap(),
        url: Some(url),
        pg: Some(pg),
    })
}

/// (statements, covered) of a report's builds, each counted once.
fn totals(report: &Value) -> (u64, u64) {
    report["builds"]
        .as_array()
        .unwrap()
        .iter()
        .fold((0, 0), |(s, c), b| {
            (
                s + b["statements"].as_u64().unwrap(),
                c + b["covered_statements"].as_u64().unwrap(),
            )
        })
}

fn figures(points: &Value) -> Vec<(String, u64, u64)> {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["collection"].as_str().unwrap().to_owned(),
                p["statements"].as_u64().unwrap(),
                p["covered"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The whole story on one backend.
fn history_and_retention(f: &Fixture) {
    collection(&f.dir("a"), 0..5);
    collection(&f.dir("b"), 0..8);
    collection(&f.dir("c"), 3..6);
    f.compile("a", &["cluster=prod-1", "run=n1"]);
    f.compile("b", &["cluster=prod-1", "run=n2"]);
    f.compile("c", &["cluster=stage", "run=n3", "scenario=upgrade"]);
    // Kept without --label; one removed with KEY=. The order is now c, a, b.
    f.compile("a", &[]);
    f.compile("c", &["scenario="]);

    let list = f.json(&["store", "list"], &[]);
    let list = list.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["c", "a", "b"], "newest compiled first");
    let labels: Vec<&Value> = list.iter().map(|c| &c["labels"]).collect();
    assert_eq!(
        labels,
        [
            &serde_json::json!({"cluster": "stage", "run": "n3"}),
            &serde_json::json!({"cluster": "prod-1", "run": "n1"}),
            &serde_json::json!({"cluster": "prod-1", "run": "n2"}),
        ]
    );
    let reports: Vec<(String, Value)> = ["a", "b", "c"]
        .iter()
        .map(|n| (n.to_string(), f.report(n)))
        .collect();
    let report = |name: &str| &reports.iter().find(|(n, _)| n == name).unwrap().1;
    for c in list {
        let name = c["name"].as_str().unwrap();
        let r = report(name);
        let (statements, covered) = totals(r);
        assert!(statements > 0 && covered > 0, "{name}: {r}");
        assert_eq!(c["statements"].as_u64(), Some(statements), "{name}");
        assert_eq!(c["covered"].as_u64(), Some(covered), "{name}");
        assert_eq!(
            c["builds"].as_u64(),
            Some(r["builds"].as_array().unwrap().len() as u64),
            "{name}"
        );
        let created = c["created_at"].as_str().unwrap();
        let compiled = c["compiled_at"].as_str().unwrap();
        assert!(
            livecov_store::catalog::parse_utc_timestamp(compiled).is_some() && created < compiled,
            "{name}: created {created}, compiled {compiled} (a and c were compiled twice, b once \
             and created at its first compile's start)"
        );
    }
    assert_eq!(f.names(&["--label", "cluster=prod-1"]), ["a", "b"]);
    let table = f.over_catalog(&["store", "list"], &[]);
    assert!(
        table.starts_with("COLLECTION") && table.contains("cluster=prod-1,run=n2"),
        "{table}"
    );

    // History: oldest first, each point what the collection's report says.
    let total = f.json(&["history"], &[]);
    let expect: Vec<(String, u64, u64)> = ["b", "a", "c"]
        .iter()
        .map(|n| {
            let (s, c) = totals(report(n));
            (n.to_string(), s, c)
        })
        .collect();
    assert_eq!(figures(&total), expect);
    let times: Vec<&str> = total
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert_eq!(
        figures(&f.json(&["history"], &["--limit", "2"])),
        expect[1..]
    );
    assert_eq!(
        figures(&f.json(&["history"], &["--label", "run=n2"])),
        expect[..1]
    );

    let lone = f.json(&["history"], &["--build", LONE_BUILD]);
    let b_build = report("b")["builds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["build"] == LONE_BUILD)
        .unwrap()
        .clone();
    assert_eq!(
        figures(&lone),
        [(
            "b".to_owned(),
            b_build["statements"].as_u64().unwrap(),
            b_build["covered_statements"].as_u64().unwrap()
        )],
        "only b has the build"
    );

    // An owner of a: in every collection that runs it, the sum of its groups' figures.
    let o = &report("a")["owners"][0];
    let key = |o: &Value| {
        ["namespace", "owner_type", "owner", "binary"]
            .map(|k| o[k].as_str().unwrap().to_owned())
            .join("/")
    };
    let owner = key(o);
    let expect: Vec<(String, u64, u64)> = ["b", "a", "c"]
        .iter()
        .filter_map(|n| {
            let mine: Vec<&Value> = report(n)["owners"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| key(x) == owner)
                .collect();
            (!mine.is_empty()).then(|| {
                (
                    n.to_string(),
                    mine.iter().map(|x| x["statements"].as_u64().unwrap()).sum(),
                    mine.iter()
                        .map(|x| x["covered_statements"].as_u64().unwrap())
                        .sum(),
                )
            })
        })
        .collect();
    assert!(expect.len() >= 2, "{owner}: {expect:?}");
    assert_eq!(figures(&f.json(&["history"], &["--owner", &owner])), expect);

    // A file of the lone build: that build's stored per-file figures; over every build,
    // the sum of the builds that have it.
    let at = f.catalog().location("b").unwrap();
    let store = livecov_store::Store::open_at(&at, true).unwrap();
    let builds = store.builds().unwrap();
    let lone_id = builds
        .iter()
        .find(|b| livecov_formats::gocovdata::hex16(&b.hash) == LONE_BUILD)
        .unwrap()
        .id;
    let file = store.build_files(lone_id).unwrap().remove(0);
    let one = f.json(&["history"], &["--build", LONE_BUILD, "--file", &file.path]);
    assert_eq!(
        figures(&one),
        [("b".to_owned(), file.statements, file.covered)]
    );
    let mut sum = (0, 0);
    for b in &builds {
        for x in store.build_files(b.id).unwrap() {
            if x.path == file.path && !x.excluded {
                sum = (sum.0 + x.statements, sum.1 + x.covered);
            }
        }
    }
    drop(store);
    let every = figures(&f.json(&["history"], &["--file", &file.path]));
    assert_eq!(
        every.iter().find(|p| p.0 == "b").map(|p| (p.1, p.2)),
        Some(sum)
    );

    // The generation: reads leave it, a compile (even one with nothing to do) moves it.
    let catalog = f.catalog();
    let g0 = catalog.generation("a").unwrap();
    f.report("a");
    f.over_catalog(&["history"], &[]);
    assert_eq!(catalog.generation("a").unwrap(), g0, "reads change nothing");
    f.compile("a", &[]);
    let g1 = catalog.generation("a").unwrap();
    assert_ne!(g1, g0, "a compile commits");
    // So does a sources fetch (here of no commit: the collection names no repository).
    let dir = f.dir("a").display().to_string();
    let mut fetch = vec!["sources", "fetch", "--collection", &dir];
    let store = f.store_flags();
    fetch.extend(store.iter().map(String::as_str));
    ok(f.livecov(&fetch));
    let g2 = catalog.generation("a").unwrap();
    assert_ne!(g2, g1, "a sources fetch commits");
    assert_eq!(
        catalog.generation("c").unwrap(),
        catalog.generation("c").unwrap()
    );
    assert!(catalog.generation("nope").is_err());
    // Order now: a, c, b.

    // Prune by age: b's last compile 40 days ago.
    f.age("b", Duration::from_secs(40 * 86_400));
    let layouts_before = f.layouts();
    let dry = f.over_catalog(&["store", "prune"], &["--max-age", "30d", "--dry-run"]);
    assert!(dry.contains("would remove b ("), "{dry}");
    assert!(
        !dry.contains("would remove a") && !dry.contains("would remove c"),
        "{dry}"
    );
    assert_eq!(f.names(&[]), ["a", "c", "b"], "--dry-run removes nothing");
    assert_eq!(f.layouts(), layouts_before);
    if f.url.is_none() {
        assert!(f.dir("b").join("livecov.db").is_file());
    }

    let reports_before = (f.report("a"), f.report("c"));
    let pruned = f.over_catalog(&["store", "prune"], &["--max-age", "30d"]);
    assert!(pruned.contains("removed b ("), "{pruned}");
    assert_eq!(f.names(&[]), ["a", "c"]);
    assert_eq!(
        (f.report("a"), f.report("c")),
        reports_before,
        "the kept collections read as before"
    );
    match f.layouts() {
        Some((n, lone_kept)) => {
            let (before, _) = layouts_before.unwrap();
            // b's builds but the lone one are a's too (c's are a subset of a's).
            assert_eq!(before, builds_of(0..8));
            assert_eq!(builds_of(0..8) - builds_of(0..5), 1);
            assert_eq!(n, before - 1, "{pruned}");
            assert!(!lone_kept, "b's own layout went");
            assert!(
                dry.contains("would remove 1 collections and 1 layouts"),
                "{dry}"
            );
            assert!(
                pruned.contains("removed 1 collections and 1 layouts"),
                "{pruned}"
            );
        }
        None => {
            assert!(!f.dir("b").join("livecov.db").exists());
            assert!(f.dir("b").join("coverage").is_dir(), "raw coverage kept");
            assert!(
                pruned.contains(&format!("kept {}", f.dir("b").join("coverage").display())),
                "{pruned}"
            );
        }
    }

    // By count, among the labelled ones: a is the one prod-1 collection left: kept.
    let none = f.over_catalog(
        &["store", "prune"],
        &["--keep-last", "1", "--label", "cluster=prod-1"],
    );
    assert!(none.contains("removed 0 collections"), "{none}");
    assert_eq!(f.names(&[]), ["a", "c"]);
    // All of them: c goes, a (newest) stays, and with it every layout it uses.
    let one = f.over_catalog(&["store", "prune"], &["--keep-last", "1"]);
    assert!(
        one.contains("removed c (") && one.contains("beyond the 1 newest"),
        "{one}"
    );
    assert_eq!(f.names(&[]), ["a"]);
    assert_eq!(f.report("a"), reports_before.0);
    if let Some((n, _)) = f.layouts() {
        assert_eq!(n, reports_before.0["builds"].as_array().unwrap().len());
    }
    assert_eq!(figures(&f.json(&["history"], &[])).len(), 1);
}

#[test]
fn sqlite_directory_keeps_history_labels_and_prunes() {
    history_and_retention(&sqlite_fixture());
}

#[test]
fn postgres_store_keeps_history_labels_and_prunes() {
    let Some(f) = pg_fixture() else {
        return;
    };
    history_and_retention(&f);
    // A database without a livecov schema holds no collection (and says so plainly).
    let empty = Catalog::Postgres {
        url: f.pg.as_ref().unwrap().create_database("empty"),
    };
    assert_eq!(empty.list().unwrap(), []);
    let e = empty.generation("a").unwrap_err().to_string();
    assert!(
        e.contains("holds no collection \"a\"") && !e.contains(pgserver::PASSWORD),
        "{e}"
    );
}

#[test]
fn prune_without_a_policy_and_bad_flags_are_refused_clearly() {
    let f = sqlite_fixture();
    let out = f.livecov(&["store", "prune", "--root", f.root.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("give --max-age, --keep-last or both"), "{e}");
    let out = f.livecov(&[
        "history",
        "--root",
        f.root.path().to_str().unwrap(),
        "--label",
        "run",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("expected KEY=VALUE"), "{e}");
    let out = f.livecov(&["store", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("give --store URL"), "{e}");
}
