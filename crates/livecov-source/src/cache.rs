//! The shared git cache: one bare repository per remote, holding exactly the commits
//! that builds were made from.
//!
//! Each fetched commit is kept alive by `refs/livecov/<full id>`. A commit that cannot
//! be fetched is an error for that commit: the cache never substitutes another commit
//! (the older tool kept the default branch's HEAD and annotated the wrong sources).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::process::Git;
use crate::tree::GitTree;
use crate::url::{check_remote, RemoteKey, ALL_PROTOCOLS, NETWORK_PROTOCOLS};

/// Where fetched commits' refs live.
const COMMIT_REFS: &str = "refs/livecov/";
/// Where the fallback fetch keeps the remote's branches and tags.
const BRANCH_REFS: &str = "refs/livecov-remote/";

/// A directory of bare repositories, one per remote (see [`RemoteKey`]).
#[derive(Debug, Clone)]
pub struct GitCache {
    root: PathBuf,
    ssh_command: Option<OsString>,
    allow_local: bool,
}

/// How a commit came to be in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchMethod {
    /// It was already there; nothing was fetched.
    Cached,
    /// `git fetch --depth=1 <url> <id>` fetched exactly that commit.
    ById,
    /// The remote's branches and tags were fetched and the id resolved among them
    /// (an abbreviated id, or a server that refuses ids it does not advertise).
    FromBranches,
}

/// A commit that is in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The full commit id.
    pub commit: String,
    /// How it got there.
    pub method: FetchMethod,
}

/// The result of fetching one requested commit.
#[derive(Debug)]
pub struct FetchOutcome {
    /// The commit id as requested.
    pub requested: String,
    /// The full id on success; git's stderr, summarised, on failure.
    pub result: Result<Fetched>,
}

impl GitCache {
    /// Opens (creating if needed) the cache rooted at `root`.
    pub fn open(root: &Path) -> Result<GitCache> {
        fs::create_dir_all(root).map_err(|source| Error::Io {
            what: "creating the git cache",
            path: root.to_path_buf(),
            source,
        })?;
        Ok(GitCache {
            root: root.to_path_buf(),
            ssh_command: None,
            allow_local: false,
        })
    }

    /// Sets `GIT_SSH_COMMAND` for every git process of this cache (for a deploy key, or
    /// a wrapper). Default: none, so git's environment and configuration decide.
    #[must_use]
    pub fn with_ssh_command(mut self, command: impl Into<OsString>) -> GitCache {
        self.ssh_command = Some(command.into());
        self
    }

    /// Allows remotes on this machine (`file://`, absolute paths) and plain `http://`,
    /// which [`check_remote`] refuses otherwise: remotes come from image labels and
    /// info.json, which whoever built the image wrote. Default: false.
    #[must_use]
    pub fn allow_local_remotes(mut self, yes: bool) -> GitCache {
        self.allow_local = yes;
        self
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bare repository that holds `url`'s commits (it may not exist yet).
    pub fn repo_dir(&self, url: &str) -> Result<PathBuf> {
        Ok(self.root.join(RemoteKey::parse(url)?.relative_dir()))
    }

    fn git(&self, repo: &Path) -> Git {
        let protocols = if self.allow_local {
            ALL_PROTOCOLS
        } else {
            NETWORK_PROTOCOLS
        };
        Git::new(repo, self.ssh_command.as_deref()).allow_protocols(protocols)
    }

    /// Fetches each of `commits` from `url`, skipping those already cached. A remote
    /// that [`check_remote`] refuses is an error for each commit, before git runs.
    ///
    /// Returns one outcome per requested commit, in order. A full id is fetched alone
    /// (`--depth=1`); when that fails, or the id is abbreviated, the remote's branches
    /// and tags are fetched once and the id is looked up among them.
    pub fn fetch(&self, url: &str, commits: &[String]) -> Vec<FetchOutcome> {
        let url = url.trim();
        let mut branches_fetched = None;
        commits
            .iter()
            .map(|requested| FetchOutcome {
                requested: requested.clone(),
                result: check_remote(url, self.allow_local)
                    .and_then(|()| self.repo_dir(url))
                    .and_then(|repo| {
                        self.init(url, &repo)?;
                        self.fetch_one(url, &repo, requested, &mut branches_fetched)
                    }),
            })
            .collect()
    }

    /// Creates the bare repository on first use.
    fn init(&self, url: &str, repo: &Path) -> Result<()> {
        if !repo.join("HEAD").is_file() {
            fs::create_dir_all(repo).map_err(|source| Error::Io {
                what: "creating the cache repository",
                path: repo.to_path_buf(),
                source,
            })?;
            self.git(repo)
                .args(["init", "--bare", "--quiet"])
                .run(|| format!("creating the cache repository for {url}"))?;
        }
        Ok(())
    }

    fn fetch_one(
        &self,
        url: &str,
        repo: &Path,
        requested: &str,
        branches_fetched: &mut Option<std::result::Result<(), String>>,
    ) -> Result<Fetched> {
        let id = normalize_commit(url, requested)?;
        if let Some(commit) = self.lookup(repo, &id) {
            self.keep(url, repo, &commit)?;
            return Ok(Fetched {
                commit,
                method: FetchMethod::Cached,
            });
        }
        let mut by_id_error = None;
        if id.len() == 40 || id.len() == 64 {
            let fetched = self
                .git(repo)
                .args(["fetch", "--quiet", "--depth=1", "--no-tags"])
                .args(["--no-write-fetch-head", url])
                .args([format!("+{id}:{COMMIT_REFS}{id}")])
                .run(|| format!("fetching commit {id} from {url}"));
            match fetched {
                Ok(_) => {
                    if let Some(commit) = self.lookup(repo, &id) {
                        return Ok(Fetched {
                            commit,
                            method: FetchMethod::ById,
                        });
                    }
                    // The id names a tree or blob: drop the ref, report below.
                    let _ = self
                        .git(repo)
                        .args(["update-ref", "-d", &format!("{COMMIT_REFS}{id}")])
                        .run(String::new);
                    by_id_error = Some(format!("{id} is not a commit"));
                }
                Err(e) => by_id_error = Some(brief(&e)),
            }
        }
        let branches = branches_fetched
            .get_or_insert_with(|| self.fetch_branches(url, repo).map_err(|e| e.to_string()));
        if let Some(commit) = self.lookup(repo, &id) {
            self.keep(url, repo, &commit)?;
            return Ok(Fetched {
                commit,
                method: FetchMethod::FromBranches,
            });
        }
        let mut reasons = Vec::new();
        if let Some(e) = by_id_error {
            reasons.push(format!("fetching the id: {e}"));
        }
        reasons.push(match branches {
            Ok(()) => "no branch or tag of the remote contains it".to_owned(),
            Err(e) => format!("fetching branches and tags: {e}"),
        });
        Err(Error::Unfetchable {
            url: url.to_owned(),
            commit: requested.to_owned(),
            reasons,
        })
    }

    /// Fetches all branches and tags (full history: the commit may be old).
    fn fetch_branches(&self, url: &str, repo: &Path) -> Result<()> {
        let shallow = self
            .git(repo)
            .args(["rev-parse", "--is-shallow-repository"])
            .run(String::new)
            .is_ok_and(|o| o.stdout.starts_with(b"true"));
        let mut git = self.git(repo).args([
            "fetch",
            "--quiet",
            "--no-tags",
            "--prune",
            "--no-write-fetch-head",
        ]);
        if shallow {
            git = git.args(["--unshallow"]);
        }
        git.args([
            url.to_owned(),
            format!("+refs/heads/*:{BRANCH_REFS}heads/*"),
            format!("+refs/tags/*:{BRANCH_REFS}tags/*"),
        ])
        .run(|| format!("fetching the branches and tags of {url}"))?;
        Ok(())
    }

    /// The full id of `id` if the commit is in `repo`.
    fn lookup(&self, repo: &Path, id: &str) -> Option<String> {
        let out = self
            .git(repo)
            .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .args([format!("{id}^{{commit}}")])
            .run(String::new)
            .ok()?;
        let full = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (full.len() >= 40 && full.bytes().all(|b| b.is_ascii_hexdigit())).then_some(full)
    }

    /// Pins `commit` with `refs/livecov/<commit>` so no gc drops it.
    fn keep(&self, url: &str, repo: &Path, commit: &str) -> Result<()> {
        let name = format!("{COMMIT_REFS}{commit}");
        if self
            .git(repo)
            .args(["rev-parse", "--verify", "--quiet", &name])
            .succeeds()
        {
            return Ok(());
        }
        self.git(repo)
            .args(["update-ref", &name, commit])
            .run(|| format!("pinning commit {commit} of {url}"))?;
        Ok(())
    }

    /// Whether `commit` of `url` is already cached; returns its full id.
    pub fn cached(&self, url: &str, commit: &str) -> Result<Option<String>> {
        let repo = self.repo_dir(url)?;
        let id = normalize_commit(url, commit)?;
        if !repo.join("HEAD").is_file() {
            return Ok(None);
        }
        Ok(self.lookup(&repo, &id))
    }

    /// The files of `commit` of `url`, which must have been fetched.
    pub fn tree(&self, url: &str, commit: &str) -> Result<GitTree> {
        let url = url.trim();
        let repo = self.repo_dir(url)?;
        let full = self.cached(url, commit)?.ok_or_else(|| Error::NotFetched {
            url: url.to_owned(),
            commit: commit.to_owned(),
            repo: repo.clone(),
        })?;
        let short = &full[..12.min(full.len())];
        GitTree::list(self.git(&repo), format!("{url}@{short}"), full)
    }
}

/// What ran and what git said, without the context the caller already gives.
fn brief(e: &Error) -> String {
    match e {
        Error::Git {
            command,
            status,
            stderr,
            ..
        } => format!("`{command}` {status}: {stderr}"),
        other => other.to_string(),
    }
}

/// Checks that `commit` is 4 to 64 hex digits and lower-cases it; anything else (an
/// option, a ref name, a revision expression) is refused before git sees it.
fn normalize_commit(url: &str, commit: &str) -> Result<String> {
    let id = commit.trim();
    let reason = if id.len() < 4 || id.len() > 64 {
        Some("must be 4 to 64 hexadecimal digits")
    } else if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some("is not hexadecimal")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidCommit {
            url: url.to_owned(),
            commit: commit.to_owned(),
            reason: reason.to_owned(),
        }),
        None => Ok(id.to_ascii_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_ids_are_checked_before_git_sees_them() {
        assert_eq!(normalize_commit("u", " ABCDEF12 ").unwrap(), "abcdef12");
        for bad in [
            "",
            "abc",
            "--upload-pack=x",
            "HEAD",
            "main",
            "abcd^{tree}",
            &"a".repeat(65),
        ] {
            let err = normalize_commit("https://h/o/r", bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains("https://h/o/r"), "{err}");
        }
    }
}
