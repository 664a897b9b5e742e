//! `livecov demo`: the main job on real coverage data shipped inside the binary.
//!
//! The data was written by real Go programs built with `go build -cover` (the fixture
//! programs of `tests/fixtures/go`), laid out like pods of a cluster. The demo writes it
//! out, reads it natively and reports it, so a new user sees livecov work without a Go
//! toolchain or a cluster.

use std::path::Path;

use anyhow::Result;

use crate::exit::Exit;
use crate::gocmd;

/// Writes the example pods as a collection under `dir`, compiles it into the store and
/// reports it; then shows the `go tool covdata` drop-in on the same files.
pub fn run(dir: &Path) -> Result<Exit> {
    let livecov_ops::demo::Example {
        coverage,
        pod_dirs,
        source,
    } = livecov_ops::demo::write_example(dir)?;
    println!(
        "livecov demo: {} pods of real Go coverage data (3 builds of 2 programs) in {}\n",
        pod_dirs.len(),
        coverage.display()
    );
    let reporter = crate::progress::TermReporter::new();
    let summary =
        livecov_ops::compile::compile(&livecov_ops::compile::CompileSettings::new(dir), &reporter)?;
    eprintln!(
        "compiled {} inputs ({} failed); {} builds; {} owners",
        summary.compiled, summary.failed, summary.builds, summary.owners
    );
    eprintln!("store: {}", dir.join("livecov.db").display());
    if summary.failed > 0 {
        return Ok(Exit::Error);
    }
    println!();
    let status = crate::cluster::report::run(&crate::cluster::report::ReportArgs {
        collection: dir.to_path_buf(),
        format: crate::cluster::report::Format::Table,
        scenario: None,
        // The demo's own file, whatever $LIVECOV_STORE says (the compile above wrote it).
        store: crate::store::StoreArgs {
            store: Some(format!("sqlite:{}", dir.join("livecov.db").display())),
            collection_name: None,
        },
    })?;
    if status != Exit::Ok {
        return Ok(status);
    }
    let inputs = pod_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    println!("Coverage per package over the same files (livecov go percent, as go tool covdata):");
    let status = gocmd::run(&["percent".into(), format!("-i={inputs}")]);
    if status != Exit::Ok {
        return Ok(status);
    }
    println!();
    let fetch = livecov_ops::site::sources::FetchSettings {
        max_concurrency: 2,
        // The demo's own repository, beside its collection.
        allow_local_remotes: true,
        ..livecov_ops::site::sources::FetchSettings::new(dir)
    };
    match &source {
        Ok(_) => {
            let s = livecov_ops::site::sources::fetch(&fetch, &reporter)?;
            eprintln!(
                "sources: {} fetched, {} already cached, {} failed in {:.1}s",
                s.fetched, s.skipped, s.failed, s.seconds
            );
            println!("Cloned: {}, Errors: {}", s.fetched + s.skipped, s.failed);
            if s.failed > 0 {
                return Ok(Exit::Error);
            }
        }
        Err(e) => eprintln!("note: rendering without sources ({e})"),
    }
    let render = livecov_ops::site::cluster::RenderSettings {
        hide_namespace_prefixes: Vec::new(),
        ..livecov_ops::site::cluster::RenderSettings::new(dir)
    };
    let out = dir.join("html");
    let summary = livecov_ops::site::cluster::render_collection(&render, &out, &reporter)?;
    if !summary.failed.is_empty() {
        for (b, e) in &summary.failed {
            eprintln!("error: build {b}: {e}");
        }
        return Ok(Exit::Error);
    }
    let index = out.join("index.html");
    println!(
        "\nStore: {}\nNext: livecov report --collection {} --format json\n\nHTML report (open in a browser):\n{}",
        dir.join("livecov.db").display(),
        dir.display(),
        index.canonicalize().unwrap_or(index).display()
    );
    Ok(Exit::Ok)
}
