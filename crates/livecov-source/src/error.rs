//! The crate's error type: every variant names the repository, commit or path involved.

use std::path::PathBuf;

/// Everything that can go wrong while fetching, listing or reading sources.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A remote URL that livecov cannot map to a cache directory.
    #[error("invalid git URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A remote whose transport is not allowed: a local repository (`file://`, a path) or
    /// plain `http://`, refused unless the cache allows local remotes.
    #[error(
        "remote {url:?} is not allowed: {reason}; if you trust the collection's image labels \
         and info.json, pass --allow-local-remotes or set LIVECOV_ALLOW_LOCAL_REMOTES=1"
    )]
    RemoteNotAllowed {
        /// The URL as given.
        url: String,
        /// What it is and why that is refused.
        reason: String,
    },
    /// A commit id that is not 4 to 64 hexadecimal digits.
    #[error("invalid commit id {commit:?} for {url}: {reason}")]
    InvalidCommit {
        /// The remote the commit was asked of.
        url: String,
        /// The id as given.
        commit: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A git command that ran and failed.
    #[error("{what}: `{command}` {status}: {stderr}")]
    Git {
        /// What livecov was doing, naming the repository and commit.
        what: String,
        /// The command line that ran.
        command: String,
        /// How it ended, e.g. `exited with 128`.
        status: String,
        /// The last lines of git's standard error.
        stderr: String,
    },
    /// A commit that neither fetching it by id nor fetching the remote's branches and
    /// tags brought into the cache. No other commit is used in its place.
    #[error("commit {commit} cannot be fetched from {url}: {}", reasons.join("; "))]
    Unfetchable {
        /// The remote.
        url: String,
        /// The commit as requested.
        commit: String,
        /// What each attempt ran and what git said.
        reasons: Vec<String>,
    },
    /// A git command that could not be started or talked to.
    #[error("{what}: `{command}`: {source}")]
    Spawn {
        /// What livecov was doing.
        what: String,
        /// The command line.
        command: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A commit that is not in the cache (fetch it first).
    #[error("commit {commit} of {url} is not in the cache at {repo}; fetch it first")]
    NotFetched {
        /// The remote.
        url: String,
        /// The commit as asked.
        commit: String,
        /// The bare repository that was searched.
        repo: PathBuf,
    },
    /// Reading a file or directory failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What livecov was doing.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// `git cat-file --batch` answered something livecov did not expect.
    #[error("reading {path} from {label}: {message}")]
    Object {
        /// The tree's label (`url@commit`).
        label: String,
        /// The path in the tree.
        path: String,
        /// What was wrong.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
