//! The demo's example collection: real coverage data shipped inside the binary.
//!
//! The data was written by real Go programs built with `go build -cover` (the fixture
//! programs of `tests/fixtures/go`), laid out like pods of a cluster, with the programs'
//! sources committed into a git repository beside it. `livecov demo` writes it, then
//! runs the operations on it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

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

/// The programs' sources, committed into a git repository beside the collection so the
/// demo shows annotated sources fetched at the exact commit.
const SOURCES: &[(&str, &str)] = &[
    (
        "go.mod",
        include_str!("../../../tests/fixtures/go/programs/go.mod"),
    ),
    (
        "main.go",
        include_str!("../../../tests/fixtures/go/programs/main.go"),
    ),
    (
        "cmd/prog2/main.go",
        include_str!("../../../tests/fixtures/go/programs/cmd/prog2/main.go"),
    ),
    (
        "dep/dep.go",
        include_str!("../../../tests/fixtures/go/programs/dep/dep.go"),
    ),
    (
        "gen/gen.go",
        include_str!("../../../tests/fixtures/go/programs/gen/gen.go"),
    ),
    (
        "ties/ties.go",
        include_str!("../../../tests/fixtures/go/programs/ties/ties.go"),
    ),
    (
        "twoinit/a.go",
        include_str!("../../../tests/fixtures/go/programs/twoinit/a.go"),
    ),
    (
        "twoinit/b.go",
        include_str!("../../../tests/fixtures/go/programs/twoinit/b.go"),
    ),
    (
        "types/types.go",
        include_str!("../../../tests/fixtures/go/programs/types/types.go"),
    ),
];

/// Commits the demo sources into `<dir>/repo` and returns (file:// URL, commit id), or
/// why it could not (no git on PATH: the demo then renders without sources).
fn source_repo(dir: &Path) -> Result<(String, String), String> {
    let repo = dir.join("repo");
    for (rel, text) in SOURCES {
        let path = repo.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let git = |args: &[&str]| -> Result<String, String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            // A fixed identity and date: the same commit id on every machine.
            .env("GIT_AUTHOR_NAME", "livecov demo")
            .env("GIT_AUTHOR_EMAIL", "demo@livecov.invalid")
            .env("GIT_COMMITTER_NAME", "livecov demo")
            .env("GIT_COMMITTER_EMAIL", "demo@livecov.invalid")
            .env("GIT_AUTHOR_DATE", "2026-11-21T09:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-11-21T09:00:00Z")
            .output()
            .map_err(|e| format!("running git: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    git(&["init", "--quiet", "--initial-branch=main"])?;
    git(&["add", "-A"])?;
    if git(&["rev-parse", "--verify", "HEAD"]).is_err() {
        git(&[
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--quiet",
            "-m",
            "demo programs",
        ])?;
    }
    let commit = git(&["rev-parse", "HEAD"])?;
    let abs = repo
        .canonicalize()
        .map_err(|e| format!("{}: {e}", repo.display()))?;
    Ok((format!("file://{}", abs.display()), commit))
}

/// The origin of each demo pod, as `livecov cluster download` records it.
const PODS: &[(&str, &str, &str, &str, &str, &str)] = &[
    // (directory, namespace, pod, container, node, image)
    (
        "shop-frontend-7d9f8-app",
        "shop",
        "frontend-7d9f8b6c4-x2x9z",
        "app",
        "worker-a",
        "registry.example.com/shop/frontend@sha256:1111",
    ),
    (
        "shop-frontend-7d9f8-app-restarted",
        "shop",
        "frontend-7d9f8b6c4-k8p2m",
        "app",
        "worker-b",
        "registry.example.com/shop/frontend@sha256:1111",
    ),
    (
        "billing-worker-0-worker",
        "billing",
        "worker-0",
        "worker",
        "worker-a",
        "registry.example.com/billing/worker@sha256:2222",
    ),
    (
        "ingest-5c6b-api",
        "ingest",
        "api-5c6b7d8f9-q4w7r",
        "api",
        "worker-b",
        "registry.example.com/ingest/api@sha256:3333",
    ),
];

/// What [`write_example`] wrote.
pub struct Example {
    /// `<dir>/coverage`.
    pub coverage: PathBuf,
    /// One report directory per pod.
    pub pod_dirs: Vec<PathBuf>,
    /// The sources repository (file:// URL, commit), or why git could not make it (the
    /// demo then renders without sources).
    pub source: std::result::Result<(String, String), String>,
}

/// The file that marks a directory as the demo's own output: `repo/` and `coverage/`
/// are only written into when it is there (or when neither exists yet).
const MARKER: &str = ".livecov-demo";

/// Refuses to write into `dir/repo` or `dir/coverage` when either is a symbolic link,
/// or exists but was not made by the demo (no [`MARKER`]): the demo overwrites and
/// `git add`s files there, which would lose a user's work. Then writes the marker.
fn claim(dir: &Path) -> Result<()> {
    let marked = dir.join(MARKER).is_file();
    for name in ["repo", "coverage"] {
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => anyhow::bail!(
                "{}: is a symbolic link; livecov demo does not write through links\n\
                 hint: remove it, or give another --dir",
                path.display()
            ),
            Ok(_) if !marked => anyhow::bail!(
                "{} exists and was not made by livecov demo (no {}); the demo would \
                 overwrite files there\nhint: give an empty or new --dir",
                path.display(),
                dir.join(MARKER).display()
            ),
            _ => {}
        }
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let marker = dir.join(MARKER);
    fs::write(
        &marker,
        "written by `livecov demo`; repo/ and coverage/ here are its own\n",
    )
    .with_context(|| format!("writing {}", marker.display()))
}

/// Writes the example pods as a collection under `dir` (`coverage/<pod>/` with their
/// Go files, `metadata.json` and `info.json`) and the sources repository `repo/`.
/// A `repo/` or `coverage/` there that the demo did not make, or a link, is refused.
pub fn write_example(dir: &Path) -> Result<Example> {
    claim(dir)?;
    let coverage = dir.join("coverage");
    let mut pod_dirs: Vec<PathBuf> = Vec::new();
    for (rel, bytes) in FILES {
        let path = coverage.join(rel);
        let parent = path.parent().expect("demo paths have a pod directory");
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        if !pod_dirs.iter().any(|d| d == parent) {
            pod_dirs.push(parent.to_path_buf());
        }
    }
    for (name, ns, pod, container, node, image) in PODS {
        let binary = if *ns == "billing" { "prog2" } else { "prog" };
        let metadata = format!(
            "{{\n  \"pod_name\": \"{pod}\",\n  \"namespace\": \"{ns}\",\n  \"container\": {{\"name\": \"{container}\", \"image\": \"{image}\"}},\n  \"binary_name\": \"{binary}\",\n  \"collected_at\": \"2026-11-21T09:00:00Z\",\n  \"hostname\": \"{node}\",\n  \"host_process\": false\n}}\n"
        );
        let path = coverage.join(name).join("metadata.json");
        fs::write(&path, metadata).with_context(|| format!("writing {}", path.display()))?;
    }
    let source = source_repo(dir);
    if let Ok((url, commit)) = &source {
        // What the producer records from the image's labels: repo and commit.
        for d in &pod_dirs {
            let info = format!("{{\"source_url\": \"{url}\", \"source_commit\": \"{commit}\"}}\n");
            fs::write(d.join("info.json"), info)
                .with_context(|| format!("writing info.json in {}", d.display()))?;
        }
    }
    Ok(Example {
        coverage,
        pod_dirs,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_refuses_a_repo_it_did_not_create() {
        let d = tempfile::tempdir().unwrap();
        let repo = d.path().join("repo");
        fs::create_dir_all(&repo).unwrap();
        fs::write(repo.join("main.go"), "package main // MY CODE\n").unwrap();
        let err = format!("{:#}", write_example(d.path()).err().expect("refused"));
        assert!(err.contains(&repo.display().to_string()), "{err}");
        assert!(err.contains("not made by livecov demo"), "{err}");
        assert_eq!(
            fs::read_to_string(repo.join("main.go")).unwrap(),
            "package main // MY CODE\n"
        );
        assert!(!d.path().join("coverage").exists());
    }

    #[test]
    fn demo_refuses_symlinked_repo_or_coverage() {
        for name in ["repo", "coverage"] {
            let d = tempfile::tempdir().unwrap();
            let dir = d.path().join("demo");
            write_example(&dir).unwrap();
            let elsewhere = d.path().join("elsewhere");
            fs::create_dir_all(&elsewhere).unwrap();
            let link = dir.join(name);
            fs::remove_dir_all(&link).unwrap();
            std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
            let err = format!("{:#}", write_example(&dir).err().expect("refused"));
            assert!(
                err.contains(&link.display().to_string()) && err.contains("symbolic link"),
                "{err}"
            );
            assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0, "{name}");
        }
    }

    #[test]
    fn demo_rewrites_its_own_output() {
        let d = tempfile::tempdir().unwrap();
        let first = write_example(d.path()).unwrap();
        let again = write_example(d.path()).unwrap();
        assert_eq!(first.pod_dirs, again.pod_dirs);
        assert_eq!(first.source.is_ok(), again.source.is_ok());
        if let (Ok(a), Ok(b)) = (&first.source, &again.source) {
            assert_eq!(a, b);
        }
    }
}
