//! The few GitHub REST calls the webhook makes: the pull request and its changed files,
//! commit statuses, and the one coverage comment of a pull request.
//!
//! Endpoints are tried in the order given (`--github-endpoint`, repeatable: ghproxy
//! first, api.github.com after it, as Prow deploys them); the first that answers wins
//! for that request, and one that cannot be reached is skipped. The token is read from
//! its file (or `GITHUB_TOKEN`) at each request, so a rotated token (a GitHub App's) is
//! picked up, and it goes into the `Authorization` header only: never a URL, an argument
//! or a log line.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::event::{PullRequest, PullRequestPayload};

/// Where the token comes from.
#[derive(Clone)]
pub enum TokenSource {
    /// A file (`--github-token-path`), read at each request; surrounding whitespace is
    /// dropped.
    File(PathBuf),
    /// A value taken from the environment at start (`GITHUB_TOKEN`).
    Value(String),
    /// No token (a stand-in, or public repositories read only).
    None,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::File(p) => write!(f, "File({})", p.display()),
            TokenSource::Value(_) => f.write_str("Value(<redacted>)"),
            TokenSource::None => f.write_str("None"),
        }
    }
}

/// A failed GitHub call.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// No endpoint could be reached.
    #[error("{method} {path}: no GitHub endpoint answered ({errors})")]
    Unreachable {
        /// The method.
        method: String,
        /// The API path.
        path: String,
        /// Each endpoint's error.
        errors: String,
    },
    /// GitHub answered with an error status.
    #[error("{method} {url}: {status}: {message}")]
    Status {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// GitHub's `message`, or the start of the body.
        message: String,
    },
    /// The answer is not the JSON GitHub documents.
    #[error("{url}: unexpected answer: {why}")]
    Response {
        /// The URL.
        url: String,
        /// What was wrong.
        why: String,
    },
    /// The token file cannot be read.
    #[error("reading the GitHub token {}: {error}", path.display())]
    Token {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

/// A commit status to post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// `pending`, `success`, `failure` or `error`.
    pub state: String,
    /// At most 140 characters (GitHub's limit; longer ones are cut here).
    pub description: String,
    /// The report link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// The context (`coverage-auto`).
    pub context: String,
}

/// A status as GitHub lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct PostedStatus {
    /// Its state.
    pub state: String,
    /// Its context.
    pub context: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Deserialize)]
struct IssueComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct DiffEntry {
    filename: String,
    #[serde(default)]
    previous_filename: Option<String>,
}

/// The GitHub client.
#[derive(Debug, Clone)]
pub struct GitHub {
    http: reqwest::Client,
    endpoints: Vec<String>,
    token: TokenSource,
}

/// GitHub returns at most this many files for a pull request (REST reference).
const MAX_FILES: usize = 3000;

impl GitHub {
    /// A client of `endpoints` (base URLs, e.g. `https://api.github.com`), each request
    /// limited to `timeout`.
    pub fn new(endpoints: Vec<String>, token: TokenSource, timeout: Duration) -> GitHub {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("livecov/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        GitHub {
            http,
            endpoints: endpoints
                .into_iter()
                .map(|e| e.trim_end_matches('/').to_owned())
                .collect(),
            token,
        }
    }

    /// The token for git's HTTPS fetches of the local runner; `None` when there is none
    /// or its file cannot be read (the clone then fails with git's own message).
    pub fn token_for_git(&self) -> Option<String> {
        self.token().ok().flatten()
    }

    fn token(&self) -> Result<Option<String>, GitHubError> {
        match &self.token {
            TokenSource::File(path) => std::fs::read_to_string(path)
                .map(|t| Some(t.trim().to_owned()).filter(|t| !t.is_empty()))
                .map_err(|error| GitHubError::Token {
                    path: path.clone(),
                    error,
                }),
            TokenSource::Value(v) => Ok(Some(v.clone())),
            TokenSource::None => Ok(None),
        }
    }

    /// Sends `method path` with `body` to the first endpoint that answers; returns the
    /// JSON of a 2xx answer.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, GitHubError> {
        let token = self.token()?;
        let mut errors = Vec::new();
        for endpoint in &self.endpoints {
            let url = format!("{endpoint}{path}");
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28");
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            // An endpoint that cannot be reached (or times out) is skipped for the next.
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    errors.push(format!("{endpoint}: {}", error_chain(&e)));
                    continue;
                }
            };
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| GitHubError::Response {
                url: url.clone(),
                why: error_chain(&e),
            })?;
            if !status.is_success() {
                let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| Some(v.get("message")?.as_str()?.to_owned()))
                    .unwrap_or_else(|| {
                        String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
                    });
                return Err(GitHubError::Status {
                    method: method.to_string(),
                    url,
                    status: status.as_u16(),
                    message,
                });
            }
            if bytes.is_empty() {
                return Ok(serde_json::Value::Null);
            }
            return serde_json::from_slice(&bytes).map_err(|e| GitHubError::Response {
                url,
                why: format!("not JSON: {e}"),
            });
        }
        Err(GitHubError::Unreachable {
            method: method.to_string(),
            path: path.to_owned(),
            errors: errors.join("; "),
        })
    }

    fn decode<T: serde::de::DeserializeOwned>(
        path: &str,
        value: serde_json::Value,
    ) -> Result<T, GitHubError> {
        serde_json::from_value(value).map_err(|e| GitHubError::Response {
            url: path.to_owned(),
            why: e.to_string(),
        })
    }

    /// `GET /repos/{org}/{repo}/pulls/{number}`.
    pub async fn pull_request(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<PullRequest, GitHubError> {
        let path = format!("/repos/{org}/{repo}/pulls/{number}");
        let value = self.call(reqwest::Method::GET, &path, None).await?;
        let pr: PullRequestPayload = Self::decode(&path, value)?;
        Ok(pr.into_pr())
    }

    /// The paths a pull request changes (both sides of a rename), page by page, up to
    /// GitHub's limit of 3,000 files.
    pub async fn changed_files(
        &self,
        org: &str,
        repo: &str,
        number: u64,
    ) -> Result<Vec<String>, GitHubError> {
        let mut files = Vec::new();
        for page in 1.. {
            let path = format!("/repos/{org}/{repo}/pulls/{number}/files?per_page=100&page={page}");
            let value = self.call(reqwest::Method::GET, &path, None).await?;
            let entries: Vec<DiffEntry> = Self::decode(&path, value)?;
            let n = entries.len();
            for e in entries {
                files.push(e.filename);
                files.extend(e.previous_filename);
            }
            if n < 100 || files.len() >= MAX_FILES {
                break;
            }
        }
        Ok(files)
    }

    /// `POST /repos/{org}/{repo}/statuses/{sha}`.
    pub async fn create_status(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
        status: &Status,
    ) -> Result<(), GitHubError> {
        let mut status = status.clone();
        if status.description.chars().count() > 140 {
            status.description = status.description.chars().take(139).collect::<String>() + "…";
        }
        let path = format!("/repos/{org}/{repo}/statuses/{sha}");
        let body = serde_json::to_value(&status).unwrap_or_default();
        self.call(reqwest::Method::POST, &path, Some(&body)).await?;
        Ok(())
    }

    /// The statuses of `sha`, newest first (`GET /repos/{o}/{r}/commits/{sha}/statuses`).
    pub async fn statuses(
        &self,
        org: &str,
        repo: &str,
        sha: &str,
    ) -> Result<Vec<PostedStatus>, GitHubError> {
        let path = format!("/repos/{org}/{repo}/commits/{sha}/statuses?per_page=100");
        let value = self.call(reqwest::Method::GET, &path, None).await?;
        Self::decode(&path, value)
    }

    /// Writes `body` as the pull request's coverage comment: the existing comment whose
    /// body holds `marker` is edited in place; only when there is none is one created.
    /// Returns the comment's id.
    pub async fn upsert_comment(
        &self,
        org: &str,
        repo: &str,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let mut existing = None;
        'pages: for page in 1.. {
            let path =
                format!("/repos/{org}/{repo}/issues/{number}/comments?per_page=100&page={page}");
            let value = self.call(reqwest::Method::GET, &path, None).await?;
            let comments: Vec<IssueComment> = Self::decode(&path, value)?;
            let n = comments.len();
            for c in comments {
                if c.body.as_deref().is_some_and(|b| b.contains(marker)) {
                    existing = Some(c.id);
                    break 'pages;
                }
            }
            if n < 100 {
                break;
            }
        }
        let json = serde_json::json!({ "body": body });
        let (method, path) = match existing {
            Some(id) => (
                reqwest::Method::PATCH,
                format!("/repos/{org}/{repo}/issues/comments/{id}"),
            ),
            None => (
                reqwest::Method::POST,
                format!("/repos/{org}/{repo}/issues/{number}/comments"),
            ),
        };
        let value = self.call(method, &path, Some(&json)).await?;
        let comment: IssueComment = Self::decode(&path, value)?;
        Ok(comment.id)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
