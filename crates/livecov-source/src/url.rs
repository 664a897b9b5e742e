//! Remote URL normalisation: every spelling of one repository maps to one cache key.
//!
//! `https://github.com/org/repo(.git)`, `git@github.com:org/repo.git`,
//! `ssh://git@github.com/org/repo` and `git://github.com/org/repo` are all
//! `github.com/org/repo`; `file:///abs/path` (or a bare absolute path) is
//! `file/abs/path`. User names, passwords and ports are not part of the key: one host
//! serves one set of repositories whichever transport reaches it. The host is
//! lower-cased; the path keeps its case because most forges other than GitHub are
//! case-sensitive.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// The normalised identity of a remote repository: a host (`file` for local paths) and
/// the path segments below it, without a `.git` suffix.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RemoteKey {
    host: String,
    segments: Vec<String>,
}

impl RemoteKey {
    /// Parses a git remote URL; never panics, rejects what it cannot map safely.
    pub fn parse(url: &str) -> Result<RemoteKey> {
        let err = |reason: &str| Error::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err(err("empty URL"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(err("contains control characters"));
        }
        if trimmed.starts_with('-') {
            return Err(err("starts with '-'"));
        }
        let (host, path) = if let Some((scheme, rest)) = trimmed.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            match scheme.as_str() {
                "file" => {
                    let path = rest
                        .strip_prefix("localhost")
                        .unwrap_or(rest)
                        .strip_prefix('/')
                        .ok_or_else(|| err("file URL must name an absolute path"))?;
                    ("file".to_owned(), path)
                }
                "https" | "http" | "ssh" | "git" | "git+ssh" | "ssh+git" => {
                    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                    (parse_authority(authority).map_err(|r| err(&r))?, path)
                }
                _ => return Err(err(&format!("unsupported scheme {scheme:?}"))),
            }
        } else if let Some(path) = trimmed.strip_prefix('/') {
            ("file".to_owned(), path)
        } else if let Some((authority, path)) = scp_like(trimmed) {
            (parse_authority(authority).map_err(|r| err(&r))?, path)
        } else {
            return Err(err(
                "expected scheme://host/path, user@host:path or an absolute path",
            ));
        };
        if path.contains(['?', '#']) {
            return Err(err("query strings and fragments are not supported"));
        }
        let mut raw: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if let Some(last) = raw.last_mut() {
            *last = last.strip_suffix(".git").unwrap_or(last);
            if last.is_empty() {
                return Err(err("repository name is only '.git'"));
            }
        }
        if raw.iter().any(|seg| *seg == "." || *seg == "..") {
            return Err(err("path contains '.' or '..' segments"));
        }
        let segments: Vec<String> = raw.into_iter().map(sanitize).collect();
        if segments.is_empty() {
            return Err(err("no repository path"));
        }
        Ok(RemoteKey { host, segments })
    }

    /// The host, lower-cased, or `file` for local repositories.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The repository path below the host, `/`-separated, without `.git`.
    pub fn path(&self) -> String {
        self.segments.join("/")
    }

    /// The cache directory below the cache root: `<host>/<path>.git`.
    pub fn relative_dir(&self) -> PathBuf {
        let mut dir = PathBuf::from(&self.host);
        if let Some((last, parents)) = self.segments.split_last() {
            dir.extend(parents);
            dir.push(format!("{last}.git"));
        }
        dir
    }

    /// The Go import path this repository would have in GOPATH mode (`host/path`), or
    /// `None` for local repositories.
    pub fn import_path(&self) -> Option<String> {
        (self.host != "file").then(|| format!("{}/{}", self.host, self.path()))
    }
}

impl fmt::Display for RemoteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.path())
    }
}

/// The transports allowed to git when local remotes are not ([`GIT_ALLOW_PROTOCOL`]
/// syntax), matching [`check_remote`].
///
/// [`GIT_ALLOW_PROTOCOL`]: https://git-scm.com/docs/git#Documentation/git.txt-GITALLOWPROTOCOL
pub(crate) const NETWORK_PROTOCOLS: &str = "https:ssh";
/// The transports allowed to git when local remotes are.
pub(crate) const ALL_PROTOCOLS: &str = "https:ssh:git:file:http";

/// Checks that a remote uses a transport that metadata written by someone else may name:
/// `https://` or ssh (`ssh://`, `git+ssh://`, `ssh+git://`, `user@host:path`).
/// A local repository (`file://`, an absolute path) would let an image label make livecov
/// read, and publish, a repository of this machine; plain `http://` and `git://` (plain
/// TCP, unauthenticated) can be tampered with in transit, and a short commit id is
/// resolved against the branches the remote sends. All are refused unless `allow_local`. URLs that are not valid remotes
/// at all are left to [`RemoteKey::parse`].
pub fn check_remote(url: &str, allow_local: bool) -> Result<()> {
    let trimmed = url.trim();
    let refused = if let Some((scheme, _)) = trimmed.split_once("://") {
        match scheme.to_ascii_lowercase().as_str() {
            "file" => Some("a file:// URL names a repository on this machine"),
            "http" => Some("plain http:// can be altered in transit; use https://"),
            "git" => Some("git:// is unauthenticated and can be altered in transit; use https://"),
            _ => None,
        }
    } else if trimmed.starts_with('/') {
        Some("a path names a repository on this machine")
    } else {
        None
    };
    match refused {
        Some(reason) if !allow_local => Err(Error::RemoteNotAllowed {
            url: url.to_owned(),
            reason: reason.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// `[user@]host:path`, the scp-like SSH syntax: a colon before any slash.
fn scp_like(url: &str) -> Option<(&str, &str)> {
    let colon = url.find(':')?;
    // `transport::address` is git's remote-helper syntax (`ext::…`), never a host.
    if url[..colon].contains('/') || url[colon + 1..].starts_with(':') {
        return None;
    }
    Some((&url[..colon], &url[colon + 1..]))
}

/// `[user[:password]@]host[:port]` → the lower-cased host.
fn parse_authority(authority: &str) -> std::result::Result<String, String> {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        // An IPv6 literal: [::1]:22.
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in host".to_owned())?;
        if !(after.is_empty() || after.starts_with(':')) {
            return Err("junk after IPv6 host".to_owned());
        }
        inside.replace(':', "_")
    } else {
        let (host, port) = host_port.split_once(':').unwrap_or((host_port, ""));
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid port {port:?}"));
        }
        host.to_owned()
    };
    if host.is_empty() {
        return Err("no host".to_owned());
    }
    let valid = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    // A leading '-' would reach git, and ssh, as an option.
    if !valid || host.starts_with(['.', '-']) {
        return Err(format!("invalid host {host:?}"));
    }
    Ok(host.to_ascii_lowercase())
}

/// Keeps a path segment safe as a directory name: anything but `[A-Za-z0-9._-]` becomes
/// `_`, and a leading `.` (hidden or `..`-like) becomes `_` too.
fn sanitize(seg: &str) -> String {
    let mut out: String = seg
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with('.') {
        out.replace_range(..1, "_");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str) -> String {
        RemoteKey::parse(url)
            .map(|k| k.relative_dir().display().to_string())
            .unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn spellings_of_one_github_repo_share_a_key() {
        for url in [
            "https://github.com/org/repo",
            "https://github.com/org/repo.git",
            "https://github.com/org/repo/",
            "https://user:token@GitHub.com/org/repo.git",
            "http://github.com:443/org/repo",
            "git@github.com:org/repo.git",
            "git@github.com:/org/repo",
            "ssh://git@github.com/org/repo",
            "ssh://git@github.com:22/org/repo.git",
            "git+ssh://git@github.com/org/repo",
            "git://github.com/org/repo",
        ] {
            assert_eq!(key(url), "github.com/org/repo.git", "{url}");
        }
    }

    #[test]
    fn git_protocol_is_refused_by_default_like_http() {
        let err = check_remote("git://github.com/org/repo", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("git://") && err.contains("https://"), "{err}");
        assert!(check_remote("GIT://github.com/org/repo", false).is_err());
        assert!(check_remote("git://github.com/org/repo", true).is_ok());
        assert!(!NETWORK_PROTOCOLS.split(':').any(|p| p == "git"));
        assert!(ALL_PROTOCOLS.split(':').any(|p| p == "git"));
    }

    #[test]
    fn local_paths_live_under_file() {
        assert_eq!(key("file:///srv/git/repo.git"), "file/srv/git/repo.git");
        assert_eq!(
            key("file://localhost/srv/git/repo"),
            "file/srv/git/repo.git"
        );
        assert_eq!(key("/srv/git/repo"), "file/srv/git/repo.git");
        assert_eq!(key("file:///tmp/a b/.hidden"), "file/tmp/a_b/_hidden.git");
    }

    #[test]
    fn deep_paths_and_ipv6_hosts() {
        assert_eq!(
            key("https://gitlab.example.com/group/sub/repo.git"),
            "gitlab.example.com/group/sub/repo.git"
        );
        assert_eq!(key("ssh://git@[::1]:2222/org/r"), "__1/org/r.git");
        let k = RemoteKey::parse("git@github.com:org/repo.git").unwrap();
        assert_eq!(k.import_path().as_deref(), Some("github.com/org/repo"));
        assert_eq!(k.to_string(), "github.com/org/repo");
        assert_eq!(RemoteKey::parse("file:///x/y").unwrap().import_path(), None);
    }

    #[test]
    fn odd_urls_are_rejected_not_panicked_on() {
        for url in [
            "",
            "   ",
            "github.com/org/repo",
            "relative/path",
            "https://",
            "https://github.com",
            "https:///org/repo",
            "https://github.com/../etc",
            "https://github.com/org/./repo",
            "https://github.com/org/repo?x=1",
            "https://host:abc/org/repo",
            "https://[::1/org/repo",
            "ext::sh -c touch% /tmp/pwned",
            "-uupload-pack=evil:x",
            "ftp://host/org/repo",
            "file://relative",
            "git@:org/repo",
            "https://github.com/.git",
            "https://ho st/org/repo",
            "ssh://git@github.com/org/\u{0}repo",
            "git://-x/y",
            "https://-oProxyCommand=x/y",
            "ssh://git@-x/y",
            "git@-x:y",
        ] {
            assert!(RemoteKey::parse(url).is_err(), "{url:?} should be rejected");
        }
        let err = RemoteKey::parse("ftp://h/o/r").unwrap_err().to_string();
        assert!(
            err.contains("ftp://h/o/r") && err.contains("unsupported scheme"),
            "{err}"
        );
    }
}
