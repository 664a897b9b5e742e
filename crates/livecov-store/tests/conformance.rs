//! What every implementation of `CoverageStore` must answer, written once against the
//! trait: SQLite runs it here; the PostgreSQL store will run the same `conformance`.

use livecov_model::{CounterMode, Layout, LayoutFile, LayoutFunction, MergeRule, Unit};
use livecov_store::{
    compress_counters, compress_layout, BuildFile, CoverageStore, InputRow, OwnerRow, ProcessRow,
    Store, LAYOUT_FORMAT,
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

fn owner(key: &str, pod: &str, counters: &[u32]) -> OwnerRow {
    OwnerRow {
        key: key.into(),
        namespace: "ns".into(),
        owner_type: "Deployment".into(),
        owner: key.into(),
        binary: "prog".into(),
        build_id: 1,
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

/// Writes the fixture through SQLite's writer (the write side is each database's own).
fn sqlite_store(dir: &std::path::Path) -> Store {
    let mut store = Store::open(&dir.join("livecov.db")).unwrap();
    let l = layout();
    store
        .transaction(|tx| {
            tx.insert_build(
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
            // Inserted builds start uncovered; totals come after the owners.
            tx.set_build_files(
                1,
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
                    build_id: 1,
                    pid: 1,
                    snapshot_time: String::new(),
                    superseded: 0,
                    covered: 3,
                    counters: compress_counters(&[1, 0, 4]).unwrap(),
                }],
            )?;
            tx.add_diagnostic("pod-a", "warning", "f: at byte offset 9: x")?;
            tx.upsert_owner(&owner("web", "a-0\nsecond line", &[1, 0, 4]))?;
            tx.upsert_owner(&owner("api", "b-0", &[3, 2, 0]))?;
            tx.upsert_scenario_owner("login", &owner("login|web", "a-0", &[1, 0, 0]))?;
            tx.upsert_scenario_owner("login", &owner("login|api", "b-0", &[0, 2, 0]))?;
            tx.upsert_scenario_owner("checkout", &owner("checkout|web", "a-0", &[0, 0, 4]))?;
            tx.set_setting("merge_rule", "max")
        })
        .unwrap();
    store
}

/// The answers every store must give for the fixture above.
fn conformance(store: &dyn CoverageStore) {
    let builds = store.builds().unwrap();
    assert_eq!(builds.len(), 1);
    assert_eq!(
        (builds[0].hash, builds[0].units, builds[0].statements),
        ([7; 16], 3, 8)
    );
    let stored = store.build_layout(builds[0].id).unwrap();
    assert_eq!(stored.format, LAYOUT_FORMAT);
    assert_eq!(Layout::decode(&stored.bytes).unwrap(), layout());
    assert_eq!(store.build_files(1).unwrap()[0].covered, 7);

    let inputs = store.inputs().unwrap();
    assert_eq!(inputs.len(), 1);
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
    assert_eq!(store.owners_of_build(1).unwrap(), owners);
    assert!(store.owners_of_build(2).unwrap().is_empty());

    let count = CounterMode::Count;
    assert_eq!(
        store.build_counters(1, 3, count, MergeRule::Sum).unwrap(),
        [4, 2, 4]
    );
    assert_eq!(
        store.build_counters(1, 3, count, MergeRule::Max).unwrap(),
        [3, 2, 4]
    );
    assert_eq!(
        store.build_counters(1, 3, count, MergeRule::Or).unwrap(),
        [1, 1, 1]
    );
    let profile = store.build_profile(1, &layout(), MergeRule::Sum).unwrap();
    assert_eq!(
        profile.blocks().map(|b| b.count).collect::<Vec<_>>(),
        [4, 2, 4],
        "the profile holds the merged counters by position"
    );
    assert_eq!(profile.totals().statements, 8);
    assert_eq!(profile.totals().covered, 8);

    assert_eq!(
        store.diagnostics().unwrap(),
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
    assert!(store.scenario_owners("login", Some(2)).unwrap().is_empty());
    assert_eq!(
        store
            .scenario_build_counters(1, "login", 3, count, MergeRule::Sum)
            .unwrap(),
        [1, 2, 0],
        "a scenario's counters are its own owners' only"
    );
    assert_eq!(
        store
            .scenario_build_counters(1, "nope", 3, count, MergeRule::Sum)
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
    assert!(store.image_sources().unwrap().is_empty());
    assert!(store.source_fetches().unwrap().is_empty());
}

#[test]
fn sqlite_answers_the_store_conformance_suite() {
    let tmp = tempfile::tempdir().unwrap();
    let store = sqlite_store(tmp.path());
    conformance(&store);
    // Reopened: the same answers from disk.
    drop(store);
    conformance(&Store::open(&tmp.path().join("livecov.db")).unwrap());
}
