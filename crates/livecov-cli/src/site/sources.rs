//! Sources for the site: the shared git cache of a collection (placeholder until the
//! cache is wired in).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use livecov_render::SourceStatus;

use super::page::{FileSources, NoSources};

/// The sources a collection's builds need, opened once per run.
pub struct CollectionSources {}

impl CollectionSources {
    /// Opens the cache at `dir` for these repo@commit pairs.
    pub fn open(_dir: &Path, _wanted: &BTreeSet<(String, String)>) -> Result<CollectionSources> {
        Ok(CollectionSources {})
    }

    /// Status of a build's source before reading any file.
    pub fn status(&self, repo: &str, commit: &str) -> (SourceStatus, String) {
        if repo.is_empty() || commit.is_empty() {
            return (
                SourceStatus::None,
                "no source repository or commit is known for this build".into(),
            );
        }
        (
            SourceStatus::Unfetched,
            format!("{repo}@{commit} is not in the source cache"),
        )
    }

    /// The file lookup of one build.
    pub fn for_build(&self, repo: &str, commit: &str) -> Box<dyn FileSources + '_> {
        Box::new(NoSources(self.status(repo, commit).1))
    }
}

/// Sources of a local checkout (the module or workspace at `root`) and of GOROOT.
pub fn local_sources(root: &Path) -> Result<Box<dyn FileSources>> {
    Ok(Box::new(NoSources(format!(
        "not found under {}",
        root.display()
    ))))
}
