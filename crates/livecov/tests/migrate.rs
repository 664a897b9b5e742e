//! A collection compiled by the previous release (schema 2: Go meta files as layouts,
//! committed as `crates/livecov-store/tests/fixtures/schema-v2.db`, made by `livecov
//! demo`) keeps working: report and render read it after the in-place migration, the
//! pages equal those of a store compiled now (livecov's own layout format), and a
//! recompile into it works.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn livecov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The JSON of every build page of a rendered site, by build.
fn pages(html: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in fs::read_dir(html.join("b")).unwrap() {
        let dir = e.unwrap().path();
        let mut chunks: Vec<_> = fs::read_dir(dir.join("f"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        chunks.sort();
        // Paths and blocks (counts included); the source text depends on the sources
        // each collection fetched, not on the layout.
        let text: String = chunks
            .iter()
            .flat_map(|p| {
                let js = fs::read_to_string(p).unwrap();
                js.split("livecovFile(")
                    .skip(1)
                    .map(|call| {
                        let path = &call[call.find("\"path\":").unwrap()..];
                        let path = &path[..path[8..].find('"').unwrap() + 9];
                        let blocks = &call[call.find("\"blocks\":").unwrap()..];
                        let blocks = &blocks[..blocks.find("]]").unwrap_or(blocks.len() - 2) + 2];
                        format!("{path} {blocks}\n")
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        out.push((
            dir.file_name().unwrap().to_string_lossy().into_owned(),
            text,
        ));
    }
    out.sort();
    out
}

#[test]
fn a_store_of_the_previous_release_reports_renders_and_recompiles() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("fresh");
    ok(livecov(&["demo", "--dir", fresh.to_str().unwrap()]));
    let fresh_report = ok(livecov(&[
        "report",
        "--collection",
        fresh.to_str().unwrap(),
        "--format",
        "json",
    ]));

    // The same collection with the previous release's store in place of the new one.
    let old = tmp.path().join("old");
    fs::create_dir(&old).unwrap();
    fs::create_dir(old.join("coverage")).unwrap();
    for e in fs::read_dir(fresh.join("coverage")).unwrap() {
        let e = e.unwrap();
        let to = old.join("coverage").join(e.file_name());
        fs::create_dir(&to).unwrap();
        for f in fs::read_dir(e.path()).unwrap() {
            let f = f.unwrap();
            fs::copy(f.path(), to.join(f.file_name())).unwrap();
        }
    }
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../livecov-store/tests/fixtures/schema-v2.db"),
        old.join("livecov.db"),
    )
    .unwrap();
    let c = old.to_str().unwrap();
    let old_report = ok(livecov(&["report", "--collection", c, "--format", "json"]));
    let strip = |o: &Output| {
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v.as_object_mut().unwrap().remove("diagnostics");
        v
    };
    assert_eq!(strip(&old_report)["builds"], strip(&fresh_report)["builds"]);
    assert_eq!(strip(&old_report)["owners"], strip(&fresh_report)["owners"]);

    // Pages from Go layouts (old store) equal pages from livecov layouts (new store).
    ok(livecov(&["cluster", "render", "--collection", c]));
    ok(livecov(&[
        "cluster",
        "render",
        "--collection",
        fresh.to_str().unwrap(),
        "--force",
    ]));
    let (old_pages, fresh_pages) = (pages(&old.join("html")), pages(&fresh.join("html")));
    assert_eq!(old_pages.len(), 3);
    assert!(old_pages
        .iter()
        .all(|(_, t)| t.contains("\"blocks\":[[") && t.contains("\"path\":\"example.com/")));
    assert_eq!(old_pages, fresh_pages);

    // A recompile into the migrated store keeps the figures.
    ok(livecov(&[
        "cluster",
        "compile",
        "--collection",
        c,
        "--update",
        "*",
    ]));
    let again = ok(livecov(&["report", "--collection", c, "--format", "json"]));
    assert_eq!(strip(&again)["owners"], strip(&fresh_report)["owners"]);
    ok(livecov(&[
        "cluster",
        "render",
        "--collection",
        c,
        "--force",
    ]));
    assert_eq!(pages(&old.join("html")), fresh_pages);
}
