//! A working git repository (a CI checkout, a developer's clone) asked the questions a
//! diff-coverage run needs: which commit a revision names, the merge-base, a commit's
//! parents and ancestors, and one `git diff` between two commits.
//!
//! Every question is one git subprocess ([`crate::process`]), never one per file; a
//! failure names the command that ran and what git said.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::process::Git;

/// A repository with a work tree (or a bare one) that livecov only reads.
#[derive(Clone, Debug)]
pub struct LocalRepo {
    dir: PathBuf,
}

impl LocalRepo {
    /// The repository at or above `dir`. Fails with git's message when `dir` is not in a
    /// repository.
    pub fn open(dir: &Path) -> Result<LocalRepo> {
        let repo = LocalRepo {
            dir: dir.to_path_buf(),
        };
        repo.git(["rev-parse", "--git-dir"])
            .run(|| format!("{} is not a git repository", dir.display()))?;
        Ok(repo)
    }

    /// The directory it was opened at.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The top directory of the work tree, `None` for a bare repository.
    pub fn toplevel(&self) -> Option<PathBuf> {
        let out = self
            .git(["rev-parse", "--show-toplevel"])
            .run(String::new)
            .ok()?;
        let top = first_line(&out.stdout);
        (!top.is_empty()).then(|| PathBuf::from(top))
    }

    fn git<const N: usize>(&self, args: [&str; N]) -> Git {
        Git::in_worktree(&self.dir).args(args)
    }

    /// The full commit id `rev` names (a branch, a tag, `HEAD~2`, an abbreviated id).
    pub fn commit_of(&self, rev: &str) -> Result<String> {
        let spec = format!("{rev}^{{commit}}");
        let out = self
            .git([
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])
            .run(|| {
                format!(
                    "{rev:?} names no commit of {} (fetch it, or give a full commit id)",
                    self.dir.display()
                )
            })?;
        Ok(first_line(&out.stdout))
    }

    /// The parents of `commit`, first parent first (none for a root commit).
    pub fn parents(&self, commit: &str) -> Result<Vec<String>> {
        let out = self
            .git(["rev-list", "--parents", "-n", "1", commit, "--"])
            .run(|| format!("listing the parents of {commit}"))?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect())
    }

    /// The best common ancestor of `a` and `b`, `None` when they share no history.
    pub fn merge_base(&self, a: &str, b: &str) -> Result<Option<String>> {
        let git = self.git(["merge-base", a, b]);
        let out = git
            .command()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .output()
            .map_err(|source| Error::Spawn {
                what: format!("the merge-base of {a} and {b}"),
                command: git.to_string(),
                source,
            })?;
        match out.status.code() {
            Some(0) => Ok(Some(first_line(&out.stdout))),
            // Exit 1 with nothing on stderr: no common ancestor.
            Some(1) if out.stderr.is_empty() => Ok(None),
            _ => Err(git.failure(format!("the merge-base of {a} and {b}"), &out)),
        }
    }

    /// `commit` and its first-parent ancestors, nearest first, at most `limit` of them.
    pub fn first_parent_line(&self, commit: &str, limit: usize) -> Result<Vec<String>> {
        let max = format!("--max-count={limit}");
        let out = self
            .git(["rev-list", "--first-parent", &max, commit, "--"])
            .run(|| format!("listing the ancestors of {commit}"))?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// The unified diff from `base` to `head` with renames followed (`-M`), the `a/` and
    /// `b/` prefixes whatever the user's configuration says, no colour, no external diff
    /// or text conversion, and no context lines (only changed lines are measured).
    pub fn diff(&self, base: &str, head: &str) -> Result<Vec<u8>> {
        let out = self
            .git([
                "-c",
                "diff.noprefix=false",
                "-c",
                "diff.mnemonicPrefix=false",
                "-c",
                "diff.relative=false",
                "diff",
                "--no-color",
                "--no-ext-diff",
                "--no-textconv",
                "-M",
                "--unified=0",
                "--src-prefix=a/",
                "--dst-prefix=b/",
                base,
                head,
                "--",
            ])
            .run(|| format!("diffing {base}..{head} in {}", self.dir.display()))?;
        Ok(out.stdout)
    }

    /// The Go modules of `commit`: `(directory, module path)` of every `go.mod` outside
    /// `vendor/` and `testdata/` (the directory is `""` at the root), at most `limit`,
    /// read with one `git ls-tree` and one `git cat-file` per module.
    pub fn go_modules(&self, commit: &str, limit: usize) -> Result<Vec<(String, String)>> {
        let out = self
            .git(["ls-tree", "-r", "-z", "--name-only", "--full-tree", commit])
            .run(|| format!("listing the files of {commit}"))?;
        let mut modules = Vec::new();
        for path in out.stdout.split(|&b| b == 0) {
            let path = String::from_utf8_lossy(path);
            let dir = if path == "go.mod" {
                ""
            } else if let Some(dir) = path.strip_suffix("/go.mod") {
                dir
            } else {
                continue;
            };
            let skipped = dir
                .split('/')
                .any(|part| part == "vendor" || part == "testdata");
            if skipped || modules.len() >= limit {
                continue;
            }
            if let Some(text) = self.show(commit, &path)? {
                if let Some(module) = crate::gomod::module_path(&String::from_utf8_lossy(&text)) {
                    modules.push((dir.to_owned(), module));
                }
            }
        }
        Ok(modules)
    }

    /// The text of `path` at `commit`, `None` when it has no such file.
    pub fn show(&self, commit: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let spec = format!("{commit}:{path}");
        let git = self.git(["cat-file", "blob", &spec]);
        let out = git
            .command()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .output()
            .map_err(|source| Error::Spawn {
                what: format!("reading {path} at {commit}"),
                command: git.to_string(),
                source,
            })?;
        Ok(out.status.success().then_some(out.stdout))
    }
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}
