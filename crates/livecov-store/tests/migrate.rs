//! A store written by the previous release (schema 2, made by `livecov demo` before
//! schema 3 existed and committed as `tests/fixtures/schema-v2.db`) opens and migrates in
//! place, keeping every row.

use std::path::Path;

use livecov_store::{Store, SCHEMA_VERSION};

fn fixture_copy(dir: &Path) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-v2.db");
    let dst = dir.join("livecov.db");
    std::fs::copy(&src, &dst).expect("copy fixture");
    dst
}

#[test]
fn a_schema_2_store_migrates_in_place_and_keeps_its_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture_copy(tmp.path());
    let mut store = Store::open(&db).expect("open an older store");
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    let inputs = store.inputs().unwrap();
    assert_eq!(
        inputs.iter().map(|i| i.dir.as_str()).collect::<Vec<_>>(),
        [
            "billing-worker-0-worker",
            "ingest-5c6b-api",
            "shop-frontend-7d9f8-app",
            "shop-frontend-7d9f8-app-restarted"
        ]
    );
    assert!(
        inputs.iter().all(|i| !i.partial),
        "old inputs are not partial"
    );
    let owners = store.owners().unwrap();
    let figures: Vec<(&str, u64, u64)> = owners
        .iter()
        .map(|o| (o.key.as_str(), o.statements, o.covered))
        .collect();
    assert_eq!(
        figures,
        [
            (
                "billing/StatefulSet/worker/prog2/da4ea8542a4ab76ec42b3129b9de1f22",
                19,
                14
            ),
            (
                "ingest/Deployment/api/prog/5fcaa8db72b07e6944278552f0a988a7",
                185,
                76
            ),
            (
                "shop/Deployment/frontend/prog/fb5d9fb229349f9b25b93ba370b3e169",
                185,
                60
            )
        ]
    );
    assert_eq!(store.builds().unwrap().len(), 3);
    assert_eq!(store.processes("ingest-5c6b-api").unwrap().len(), 1);
    // The new table works, and a second open does not migrate again.
    assert_eq!(store.setting("exclude_files").unwrap(), None);
    store
        .transaction(|tx| tx.set_setting("exclude_files", "a.go"))
        .unwrap();
    drop(store);
    let store = Store::open(&db).unwrap();
    assert_eq!(
        store.setting("exclude_files").unwrap().as_deref(),
        Some("a.go")
    );
    assert_eq!(store.owners().unwrap().len(), 3);
}
