//! What every store must answer, written once against the `Store` API and run on both
//! backends: SQLite (a file) and PostgreSQL (a real server started by the test; see
//! `crates/livecov/tests/support/postgres.rs`). Same fixture, same writes, same answers.

#[path = "../../livecov/tests/support/external.rs"]
mod external;
#[path = "../../livecov/tests/support/postgres.rs"]
mod pgserver;

use livecov_model::{CounterMode, Layout, LayoutFile, LayoutFunction, MergeRule, Unit};
use livecov_store::{
    compress_counters, compress_layout, decompress_counters, BuildFile, CoverageStore,
    ImageSourceRow, InputRow, OwnerRow, ProcessRow, SourceFetchRow, Store, StoreError,
    StoreLocation, LAYOUT_FORMAT, SCHEMA_VERSION,
};

fn layout() -> Layout {
    let u = |l, s| Unit {
        start_line: l,
        start_col: 1,
        end_line: l,
        end_col: 9,
        stmts: s,
    };
    Layout {
        mode: CounterMode::Count,
        packages: vec!["example.com/p".into()],
        files: vec![LayoutFile {
            path: "example.com/p/a.go".into(),
            package: 0,
        }],
        functions: vec![LayoutFunction {
            name: "f".into(),
            file: 0,
            first_unit: 0,
        }],
        units: vec![u(1, 2), u(2, 1), u(3, 5)],
    }
}

fn owner(key: &str, build_id: i64, pod: &str, counters: &[u32]) -> OwnerRow {
    OwnerRow {
        key: key.into(),
        namespace: "ns".into(),
        owner_type: "Deployment".into(),
        owner: key.into(),
        binary: "prog".into(),
        build_id,
        pods: vec![pod.into()],
        containers: vec!["app".into()],
        hosts: vec!["node-a".into()],
        images: vec!["img".into()],
        first_seen: "t1".into(),
        last_seen: "t2".into(),
        statements: 8,
        covered: counters
            .iter()
            .zip([2, 1, 5])
            .filter(|(c, _)| **c != 0)
            .map(|(_, s)| s)
            .sum(),
        input_hash: "h".into(),
        counters: compress_counters(counters).unwrap(),
    }
}

/// Writes the fixture through the store's writer; returns the build's id.
fn write_fixture(store: &mut Store) -> i64 {
    let l = layout();
    store
        .transaction(|tx| {
            let b = tx.insert_build(
                &[7; 16],
                LAYOUT_FORMAT,
                "count",
                3,
                8,
                &compress_layout(&l.encode()).unwrap(),
                &[BuildFile {
                    path: "example.com/p/a.go".into(),
                    package: "example.com/p".into(),
                    statements: 8,
                    covered: 7,
                    excluded: false,
                }],
            )?;
            assert_eq!(tx.build_id(&[7; 16])?, Some(b));
            assert_eq!(tx.build_id(&[8; 16])?, None);
            // Inserted builds start uncovered; totals come after the owners.
            tx.set_build_files(
                b,
                8,
                &[BuildFile {
                    path: "example.com/p/a.go".into(),
                    package: "example.com/p".into(),
                    statements: 8,
                    covered: 7,
                    excluded: false,
                }],
            )?;
            let input = InputRow {
                dir: "pod-a".into(),
                pod: "a-0\nsecond line".into(),
                partial: true,
                labels: vec![
                    ("scenario".into(), "log=in\nnow".into()),
                    ("run".into(), "7%".into()),
                ],
                ..InputRow::default()
            };
            tx.replace_input(
                &input,
                &[ProcessRow {
                    build_id: b,
                    pid: 1,
                    snapshot_time: String::new(),
                    superseded: 0,
                    covered: 3,
                    counters: compress_counters(&[1, 0, 4]).unwrap(),
                }],
            )?;
            tx.add_diagnostic("pod-a", "warning", "f: at byte offset 9: x")?;
            tx.upsert_owner(&owner("web", b, "a-0\nsecond line", &[1, 0, 4]))?;
            tx.upsert_owner(&owner("api", b, "b-0", &[3, 2, 0]))?;
            tx.upsert_owner(&owner("gone", b, "c-0", &[1, 1, 1]))?;
            tx.delete_owner("gone")?;
            tx.upsert_scenario_owner("login", &owner("login|web", b, "a-0", &[1, 0, 0]))?;
            tx.upsert_scenario_owner("login", &owner("login|api", b, "b-0", &[0, 2, 0]))?;
            tx.upsert_scenario_owner("checkout", &owner("checkout|web", b, "a-0", &[0, 0, 4]))?;
            tx.set_setting("merge_rule", "sum")?;
            // A second write replaces the first.
            tx.set_setting("merge_rule", "max")?;
            // An input replaced, then deleted, in one transaction leaves nothing.
            let temp = InputRow {
                dir: "pod-temp".into(),
                ..InputRow::default()
            };
            let process = ProcessRow {
                build_id: b,
                pid: 9,
                snapshot_time: String::new(),
                superseded: 0,
                covered: 0,
                counters: compress_counters(&[0, 0, 0]).unwrap(),
            };
            tx.replace_input(&temp, std::slice::from_ref(&process))?;
            tx.add_diagnostic("pod-temp", "warning", "gone with its input")?;
            tx.delete_input("pod-temp")?;
            Ok(b)
        })
        .unwrap()
}

/// Writes of a second transaction: an input replaced twice (the last wins, its processes
/// only), a fingerprint touched, image sources filled field by field, a source fetch.
fn write_more(store: &mut Store, b: i64) {
    let input = InputRow {
        dir: "pod-b".into(),
        fingerprint: "f1".into(),
        ..InputRow::default()
    };
    let process = |pid| ProcessRow {
        build_id: b,
        pid,
        snapshot_time: "t".into(),
        superseded: 1,
        covered: 3,
        counters: compress_counters(&[0, 1, 2]).unwrap(),
    };
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
            tx.replace_input(&input, &[process(1), process(2)])?;
            tx.add_diagnostic("pod-b", "warning", "first")?;
            tx.replace_input(&input, &[process(3)])?;
            tx.add_diagnostic("pod-b", "error", "second")?;
            tx.touch_input("pod-b", "f2")?;
            let procs = tx.build_processes(b)?;
            assert_eq!(
                procs
                    .iter()
                    .map(|(d, p)| (d.as_str(), p.pid))
                    .collect::<Vec<_>>(),
                [("pod-a", 1), ("pod-b", 3)],
                "a transaction reads its own writes"
            );
            tx.fill_image_source(&row("https://a", "", "", "info.json"))?;
            // An empty value never clears, a known value is never replaced.
            tx.fill_image_source(&row("", "c1", "g", "registry"))?;
            tx.fill_image_source(&row("https://b", "c2", "", "registry"))?;
            tx.record_source_fetch(&SourceFetchRow {
                repo: "https://a".into(),
                commit: "c1".into(),
                full_commit: String::new(),
                error: "unreachable".into(),
                fetched_at: "t0".into(),
            })?;
            tx.record_source_fetch(&SourceFetchRow {
                repo: "https://a".into(),
                commit: "c1".into(),
                full_commit: "c1ffff".into(),
                error: String::new(),
                fetched_at: "t1".into(),
            })
        })
        .unwrap();
}

/// What [`write_more`] left.
fn check_more(store: &Store) {
    let procs = store.processes("pod-b").unwrap();
    assert_eq!(procs.iter().map(|p| p.pid).collect::<Vec<_>>(), [3]);
    assert_eq!(
        (procs[0].snapshot_time.as_str(), procs[0].superseded),
        ("t", 1)
    );
    assert_eq!(
        decompress_counters(&procs[0].counters, 3).unwrap(),
        [0, 1, 2]
    );
    let inputs = store.inputs().unwrap();
    assert_eq!(
        inputs
            .iter()
            .map(|i| (i.dir.as_str(), i.fingerprint.as_str()))
            .collect::<Vec<_>>(),
        [("pod-a", ""), ("pod-b", "f2")]
    );
    assert_eq!(
        store.diagnostics().unwrap()[1..],
        [("pod-b".to_owned(), "error".to_owned(), "second".to_owned())],
        "the diagnostics of a replaced input go with it"
    );
    let got = &store.image_sources().unwrap()[0];
    assert_eq!(
        (
            got.source_repo.as_str(),
            got.commit_id.as_str(),
            got.software_group.as_str(),
            got.origin.as_str()
        ),
        ("https://a", "c1", "g", "info.json+registry")
    );
    let fetches = store.source_fetches().unwrap();
    assert_eq!(fetches.len(), 1);
    assert_eq!(
        (fetches[0].full_commit.as_str(), fetches[0].error.as_str()),
        ("c1ffff", "")
    );
}

/// A transaction whose body fails leaves nothing of itself.
fn check_rollback(store: &mut Store) {
    let before = (store.inputs().unwrap(), store.diagnostics().unwrap());
    let failed: Result<(), StoreError> = store.transaction(|tx| {
        tx.replace_input(
            &InputRow {
                dir: "pod-half".into(),
                ..InputRow::default()
            },
            &[],
        )?;
        tx.add_diagnostic("pod-half", "warning", "half")?;
        tx.set_setting("half", "written")?;
        Err(StoreError::Corrupt {
            path: "test".into(),
            what: "fails on purpose".into(),
        })
    });
    assert!(failed.is_err());
    assert_eq!(
        (store.inputs().unwrap(), store.diagnostics().unwrap()),
        before
    );
    assert_eq!(store.setting("half").unwrap(), None);
}

/// The answers every store must give for the fixture above (build `b`).
fn conformance(store: &dyn CoverageStore, b: i64) {
    let builds = store.builds().unwrap();
    assert_eq!(builds.len(), 1);
    assert_eq!(
        (builds[0].hash, builds[0].units, builds[0].statements),
        ([7; 16], 3, 8)
    );
    let stored = store.build_layout(builds[0].id).unwrap();
    assert_eq!(stored.format, LAYOUT_FORMAT);
    assert_eq!(Layout::decode(&stored.bytes).unwrap(), layout());
    assert_eq!(builds[0].id, b);
    assert_eq!(builds[0].language, "go");
    assert_eq!(store.build_files(b).unwrap()[0].covered, 7);

    // (`write_more` adds pod-b after it; nothing else is there.)
    let inputs = store.inputs().unwrap();
    assert_eq!(inputs[0].dir, "pod-a");
    assert!(inputs.len() <= 2 && inputs.iter().all(|i| i.dir != "pod-temp"));
    assert!(inputs[0].partial);
    assert_eq!(inputs[0].pod, "a-0\nsecond line");
    assert_eq!(store.processes("pod-a").unwrap()[0].covered, 3);
    assert_eq!(
        inputs[0].labels,
        [
            ("run".to_owned(), "7%".to_owned()),
            ("scenario".to_owned(), "log=in\nnow".to_owned())
        ],
        "labels come back whole, sorted by key, whatever they hold"
    );
    assert_eq!(inputs[0].label("scenario"), "log=in\nnow");
    assert_eq!(inputs[0].label("absent"), "");

    let owners = store.owners().unwrap();
    assert_eq!(
        owners.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["api", "web"],
        "owners come in key order"
    );
    assert_eq!(
        owners[1].pods,
        ["a-0\nsecond line"],
        "a newline stays inside one pod name"
    );
    let mut streamed = Vec::new();
    store
        .for_each_owner(&mut |o| {
            streamed.push(o);
            Ok(())
        })
        .unwrap();
    assert_eq!(streamed, owners);
    assert_eq!(store.owners_of_build(b).unwrap(), owners);
    assert!(store.owners_of_build(b + 1000).unwrap().is_empty());

    let count = CounterMode::Count;
    assert_eq!(
        store.build_counters(b, 3, count, MergeRule::Sum).unwrap(),
        [4, 2, 4]
    );
    assert_eq!(
        store.build_counters(b, 3, count, MergeRule::Max).unwrap(),
        [3, 2, 4]
    );
    assert_eq!(
        store.build_counters(b, 3, count, MergeRule::Or).unwrap(),
        [1, 1, 1]
    );
    let profile = store.build_profile(b, &layout(), MergeRule::Sum).unwrap();
    assert_eq!(
        profile.blocks().map(|b| b.count).collect::<Vec<_>>(),
        [4, 2, 4],
        "the profile holds the merged counters by position"
    );
    assert_eq!(profile.totals().statements, 8);
    assert_eq!(profile.totals().covered, 8);

    assert_eq!(
        store.diagnostics().unwrap()[..1],
        [(
            "pod-a".to_owned(),
            "warning".to_owned(),
            "f: at byte offset 9: x".to_owned()
        )]
    );
    assert_eq!(store.scenarios().unwrap(), ["checkout", "login"]);
    assert_eq!(
        store
            .scenario_owners("login", None)
            .unwrap()
            .iter()
            .map(|o| o.key.as_str())
            .collect::<Vec<_>>(),
        ["login|api", "login|web"]
    );
    assert!(store
        .scenario_owners("login", Some(b + 1000))
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .scenario_build_counters(b, "login", 3, count, MergeRule::Sum)
            .unwrap(),
        [1, 2, 0],
        "a scenario's counters are its own owners' only"
    );
    assert_eq!(
        store
            .scenario_build_counters(b, "nope", 3, count, MergeRule::Sum)
            .unwrap(),
        [0, 0, 0]
    );
    assert_eq!(
        store.owners().unwrap().len(),
        2,
        "scenario groups are not collection owners"
    );
    assert_eq!(store.setting("merge_rule").unwrap().as_deref(), Some("max"));
    assert_eq!(store.setting("absent").unwrap(), None);
}

/// The whole suite on one store: the fixture, its answers, more writes, a rollback.
fn suite(store: &mut Store) -> i64 {
    assert_eq!(store.inputs().unwrap(), []);
    let b = write_fixture(store);
    conformance(store, b);
    assert!(store.image_sources().unwrap().is_empty());
    assert!(store.source_fetches().unwrap().is_empty());
    write_more(store, b);
    check_more(store);
    check_rollback(store);
    b
}

#[test]
fn sqlite_answers_the_store_conformance_suite() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("livecov.db");
    let mut store = Store::open(&db).unwrap();
    let b = suite(&mut store);
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    // Reopened: the same answers from disk, through `--store sqlite:PATH` too.
    drop(store);
    let at = StoreLocation::parse(&format!("sqlite:{}", db.display()), "ignored").unwrap();
    let again = Store::open_at(&at, true).unwrap();
    conformance(&again, b);
    check_more(&again);
}

#[test]
fn postgres_answers_the_store_conformance_suite() {
    let Some(pg) = pgserver::Postgres::start() else {
        return;
    };
    let url = pg.create_database("conformance");
    let at = |name: &str| StoreLocation::parse(&url, name).unwrap();
    let mut store = Store::open_at(&at("run1"), false).unwrap();
    let b = suite(&mut store);
    drop(store);
    // Reopened read-only: the same answers from the server.
    let again = Store::open_at(&at("run1"), true).unwrap();
    conformance(&again, b);
    check_more(&again);

    // One database, many collections: a second one sees none of the first's rows, and
    // answers the same suite with its own (the layout is stored once for both).
    let mut other = Store::open_at(&at("run2"), false).unwrap();
    let b2 = suite(&mut other);
    assert_ne!(b2, b);
    assert_eq!(pg.psql("conformance", "SELECT count(*) FROM layouts"), "1");
    assert_eq!(
        pg.psql("conformance", "SELECT count(*) FROM collections"),
        "2"
    );
    conformance(&Store::open_at(&at("run1"), true).unwrap(), b);

    // A collection the store does not hold is refused by a read-only open, by name.
    let e = Store::open_at(&at("never"), true)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no collection \"never\""), "{e}");
    assert!(!e.contains(pgserver::PASSWORD), "{e}");
}

#[test]
fn postgres_machines_starting_at_once_migrate_once() {
    let Some(pg) = pgserver::Postgres::start() else {
        return;
    };
    let url = pg.create_database("fresh");
    let opened: Vec<Result<i64, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let url = url.clone();
                s.spawn(move || {
                    let at = StoreLocation::parse(&url, &format!("c{}", i % 2)).unwrap();
                    Store::open_at(&at, false)
                        .and_then(|s| s.version())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &opened {
        assert_eq!(o.as_ref().ok(), Some(&2), "{opened:?}");
    }
    assert_eq!(pg.psql("fresh", "SELECT version FROM schema_version"), "2");
    assert_eq!(
        pg.psql(
            "fresh",
            "SELECT string_agg(name, ',' ORDER BY name) FROM collections"
        ),
        "c0,c1",
        "each collection created once"
    );
}

/// Regression: two compiles of different collections, each storing a new build the
/// other stores next, deadlocked (each transaction held the layout row the other
/// waited for). Layouts are now committed on their own, so both finish.
#[test]
fn postgres_writers_storing_the_same_new_builds_in_crossed_order_do_not_deadlock() {
    let Some(pg) = pgserver::Postgres::start() else {
        return;
    };
    let url = pg.create_database("crossed");
    let barrier = std::sync::Barrier::new(2);
    let compressed = compress_layout(&layout().encode()).unwrap();
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = [("c1", [1u8; 16], [2u8; 16]), ("c2", [2u8; 16], [1u8; 16])]
            .into_iter()
            .map(|(name, first, second)| {
                let (url, barrier, compressed) = (&url, &barrier, &compressed);
                s.spawn(move || {
                    let at = StoreLocation::parse(url, name).unwrap();
                    let mut store = Store::open_at(&at, false).map_err(|e| e.to_string())?;
                    store
                        .transaction(|tx| {
                            tx.insert_build(&first, LAYOUT_FORMAT, "count", 3, 8, compressed, &[])?;
                            barrier.wait();
                            tx.insert_build(
                                &second,
                                LAYOUT_FORMAT,
                                "count",
                                3,
                                8,
                                compressed,
                                &[],
                            )?;
                            Ok(())
                        })
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results, [Ok(()), Ok(())]);
    assert_eq!(pg.psql("crossed", "SELECT count(*) FROM layouts"), "2");
    assert_eq!(pg.psql("crossed", "SELECT count(*) FROM builds"), "4");
}
