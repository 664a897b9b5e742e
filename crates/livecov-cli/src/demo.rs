//! `livecov demo`: the main job on real coverage data shipped inside the binary.
//!
//! The data was written by real Go programs built with `go build -cover` (the fixture
//! programs of `tests/fixtures/go`), laid out like pods of a cluster. The demo writes it
//! out, reads it natively and reports it, so a new user sees livecov work without a Go
//! toolchain or a cluster.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::exit::Exit;
use crate::gocmd;

/// (path inside the demo directory, bytes).
const FILES: &[(&str, &[u8])] = &[
    (
        "shop-frontend-7d9f8-app/covcounters.fb5d9fb229349f9b25b93ba370b3e169.1.1",
        include_bytes!("../../../tests/fixtures/go/golden/data/count/covcounters.fb5d9fb229349f9b25b93ba370b3e169.1.1"),
    ),
    (
        "shop-frontend-7d9f8-app/covcounters.fb5d9fb229349f9b25b93ba370b3e169.2.1",
        include_bytes!("../../../tests/fixtures/go/golden/data/count/covcounters.fb5d9fb229349f9b25b93ba370b3e169.2.1"),
    ),
    (
        "shop-frontend-7d9f8-app/covmeta.fb5d9fb229349f9b25b93ba370b3e169",
        include_bytes!("../../../tests/fixtures/go/golden/data/count/covmeta.fb5d9fb229349f9b25b93ba370b3e169"),
    ),
    (
        "shop-frontend-7d9f8-app-restarted/covcounters.fb5d9fb229349f9b25b93ba370b3e169.1.1",
        include_bytes!("../../../tests/fixtures/go/golden/data/count/covcounters.fb5d9fb229349f9b25b93ba370b3e169.1.1"),
    ),
    (
        "shop-frontend-7d9f8-app-restarted/covcounters.fb5d9fb229349f9b25b93ba370b3e169.2.1",
        include_bytes!("../../../tests/fixtures/go/golden/data/count/covcounters.fb5d9fb229349f9b25b93ba370b3e169.2.1"),
    ),
    (
        "shop-frontend-7d9f8-app-restarted/covmeta.fb5d9fb229349f9b25b93ba370b3e169",
        include_bytes!("../../../tests/fixtures/go/golden/data/count/covmeta.fb5d9fb229349f9b25b93ba370b3e169"),
    ),
    (
        "billing-worker-0-worker/covcounters.da4ea8542a4ab76ec42b3129b9de1f22.1.1",
        include_bytes!("../../../tests/fixtures/go/golden/data/prog2_count/covcounters.da4ea8542a4ab76ec42b3129b9de1f22.1.1"),
    ),
    (
        "billing-worker-0-worker/covmeta.da4ea8542a4ab76ec42b3129b9de1f22",
        include_bytes!("../../../tests/fixtures/go/golden/data/prog2_count/covmeta.da4ea8542a4ab76ec42b3129b9de1f22"),
    ),
    (
        "ingest-5c6b-api/covcounters.5fcaa8db72b07e6944278552f0a988a7.1.1",
        include_bytes!("../../../tests/fixtures/go/golden/data/atomic_snap/covcounters.5fcaa8db72b07e6944278552f0a988a7.1.1"),
    ),
    (
        "ingest-5c6b-api/covcounters.5fcaa8db72b07e6944278552f0a988a7.1.2",
        include_bytes!("../../../tests/fixtures/go/golden/data/atomic_snap/covcounters.5fcaa8db72b07e6944278552f0a988a7.1.2"),
    ),
    (
        "ingest-5c6b-api/covcounters.5fcaa8db72b07e6944278552f0a988a7.1.3",
        include_bytes!("../../../tests/fixtures/go/golden/data/atomic_snap/covcounters.5fcaa8db72b07e6944278552f0a988a7.1.3"),
    ),
    (
        "ingest-5c6b-api/covmeta.5fcaa8db72b07e6944278552f0a988a7",
        include_bytes!("../../../tests/fixtures/go/golden/data/atomic_snap/covmeta.5fcaa8db72b07e6944278552f0a988a7"),
    ),
];

/// Writes the example pods under `dir`, then runs the reports over them.
pub fn run(dir: &Path) -> Result<Exit> {
    let pods = dir.join("pods");
    let mut pod_dirs: Vec<PathBuf> = Vec::new();
    for (rel, bytes) in FILES {
        let path = pods.join(rel);
        let parent = path.parent().expect("demo paths have a pod directory");
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        if !pod_dirs.iter().any(|d| d == parent) {
            pod_dirs.push(parent.to_path_buf());
        }
    }
    let inputs = pod_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    println!(
        "livecov demo: {} pods of real Go coverage data (3 builds of 2 programs) in {}\n",
        pod_dirs.len(),
        pods.display()
    );
    let steps: [(&str, Vec<String>); 3] = [
        (
            "Coverage per package, all pods merged (livecov go percent):",
            vec!["percent".into(), format!("-i={inputs}")],
        ),
        (
            "\nCoverage per function (livecov go func):",
            vec!["func".into(), format!("-i={inputs}")],
        ),
        (
            "",
            vec![
                "textfmt".into(),
                "-each".into(),
                format!("-i={inputs}"),
                format!("-o={}", dir.join("profiles").display()),
            ],
        ),
    ];
    for (title, args) in steps {
        if !title.is_empty() {
            println!("{title}");
        }
        let status = gocmd::run(&args);
        if status != Exit::Ok {
            return Ok(status);
        }
    }
    println!(
        "\nText profiles, one per pod (go tool cover -func/-html read them): {}",
        dir.join("profiles").display()
    );
    println!("Next: livecov go func -i={}", pod_dirs[0].display());
    Ok(Exit::Ok)
}
