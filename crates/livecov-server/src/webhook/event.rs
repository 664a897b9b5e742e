//! What a delivery asks for: the event's payload read into the few fields the webhook
//! uses, and the decision to queue it or to acknowledge and ignore it with a reason.
//!
//! Handled: `pull_request` with action `opened`, `synchronize`, `reopened` or
//! `ready_for_review` (draft pull requests wait for `ready_for_review`), and
//! `issue_comment` `created` on a pull request whose body has a line `/coverage`, from an
//! author whose association the repository allows. The repository must be configured.
//! The decision needs no network: deciding whether the changed files match the
//! repository's `paths` is the worker's, after the delivery is acknowledged.

use serde::{Deserialize, Serialize};

use super::config::Config;

/// The pull request a job is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// The base repository's owner.
    pub org: String,
    /// The base repository's name.
    pub repo: String,
    /// The pull request's number.
    pub number: u64,
    /// Its author's login.
    pub author: String,
    /// Its title.
    pub title: String,
    /// The base branch.
    pub base_ref: String,
    /// The base branch's commit when the event was sent.
    pub base_sha: String,
    /// The head branch.
    pub head_ref: String,
    /// The head commit: statuses go there.
    pub head_sha: String,
    /// The base repository's clone URL.
    pub clone_url: String,
    /// The base repository's web URL.
    pub repo_url: String,
    /// A draft pull request.
    pub draft: bool,
}

impl PullRequest {
    /// `org/repo`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.org, self.repo)
    }
}

/// The decision on one delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "data")]
pub enum Decision {
    /// Acknowledged, nothing to do, and why.
    Ignore(String),
    /// A pull request event: check the changed files, then start a job.
    PullRequest {
        /// The action (`opened`, `synchronize`, …).
        action: String,
        /// The pull request.
        pr: PullRequest,
    },
    /// A `/coverage` comment: fetch the pull request, then start a job.
    Comment {
        /// `org/repo`.
        org: String,
        /// The repository's name.
        repo: String,
        /// The pull request's number.
        number: u64,
        /// Who asked.
        commenter: String,
    },
}

/// Why a payload cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("the {event} payload is not what GitHub sends: {error}")]
pub struct PayloadError {
    /// The event.
    pub event: String,
    /// serde's message, with line and column.
    pub error: serde_json::Error,
}

const PR_ACTIONS: &[&str] = &["opened", "synchronize", "reopened", "ready_for_review"];

/// Decides what to do with a delivery of `event` with the JSON `body`.
pub fn decide(event: &str, body: &[u8], config: &Config) -> Result<Decision, PayloadError> {
    let bad = |error| PayloadError {
        event: event.to_owned(),
        error,
    };
    match event {
        "ping" => Ok(Decision::Ignore("ping: the webhook is set up".into())),
        "pull_request" => {
            let p: PullRequestEvent = serde_json::from_slice(body).map_err(bad)?;
            let full = p.pull_request.base.repo.full_name.clone();
            if !PR_ACTIONS.contains(&p.action.as_str()) {
                return Ok(Decision::Ignore(format!(
                    "pull_request action {} is not one of {}",
                    p.action,
                    PR_ACTIONS.join(", ")
                )));
            }
            if config.resolve(&full).is_none() {
                return Ok(not_configured(&full));
            }
            if p.pull_request.draft && p.action != "ready_for_review" {
                return Ok(Decision::Ignore(format!(
                    "{full}#{} is a draft; coverage runs when it is ready for review",
                    p.pull_request.number
                )));
            }
            Ok(Decision::PullRequest {
                action: p.action,
                pr: p.pull_request.into_pr(),
            })
        }
        "issue_comment" => {
            let c: CommentEvent = serde_json::from_slice(body).map_err(bad)?;
            let full = c.repository.full_name.clone();
            if c.action != "created" {
                return Ok(Decision::Ignore(format!(
                    "issue_comment action {} (only new comments ask for coverage)",
                    c.action
                )));
            }
            if c.issue.pull_request.is_none() {
                return Ok(Decision::Ignore(format!(
                    "{full}#{} is an issue, not a pull request",
                    c.issue.number
                )));
            }
            if !c.comment.body.lines().any(|l| l.trim() == "/coverage") {
                return Ok(Decision::Ignore("the comment has no /coverage line".into()));
            }
            let Some(resolved) = config.resolve(&full) else {
                return Ok(not_configured(&full));
            };
            if !resolved.allows(&c.comment.author_association) {
                return Ok(Decision::Ignore(format!(
                    "/coverage from {} ({}), whose association may not ask for it",
                    c.comment.user.login, c.comment.author_association
                )));
            }
            let (org, repo) = full.split_once('/').unwrap_or((&full, ""));
            Ok(Decision::Comment {
                org: org.to_owned(),
                repo: repo.to_owned(),
                number: c.issue.number,
                commenter: c.comment.user.login,
            })
        }
        other => Ok(Decision::Ignore(format!(
            "event {other} is not handled (pull_request and issue_comment are)"
        ))),
    }
}

fn not_configured(full: &str) -> Decision {
    Decision::Ignore(format!("{full} is not in the configuration's repos"))
}

#[derive(Deserialize)]
struct PullRequestEvent {
    action: String,
    pull_request: PullRequestPayload,
}

/// A pull request as GitHub sends it in events and in `GET /repos/o/r/pulls/n`.
#[derive(Deserialize)]
pub(crate) struct PullRequestPayload {
    number: u64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    draft: bool,
    user: User,
    head: Branch,
    base: Branch,
}

impl PullRequestPayload {
    pub(crate) fn into_pr(self) -> PullRequest {
        let (org, repo) = self
            .base
            .repo
            .full_name
            .split_once('/')
            .map(|(o, r)| (o.to_owned(), r.to_owned()))
            .unwrap_or_default();
        PullRequest {
            org,
            repo,
            number: self.number,
            author: self.user.login,
            title: self.title,
            base_ref: self.base.ref_,
            base_sha: self.base.sha,
            head_ref: self.head.ref_,
            head_sha: self.head.sha,
            clone_url: self.base.repo.clone_url,
            repo_url: self.base.repo.html_url,
            draft: self.draft,
        }
    }
}

#[derive(Deserialize)]
struct Branch {
    #[serde(rename = "ref")]
    ref_: String,
    sha: String,
    repo: Repository,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
    #[serde(default)]
    clone_url: String,
    #[serde(default)]
    html_url: String,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct CommentEvent {
    action: String,
    issue: Issue,
    comment: Comment,
    repository: Repository,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    pull_request: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Comment {
    body: String,
    user: User,
    author_association: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(
            "repos:\n  Codertocat/Hello-World:\n    testPackages: ['./...']\n",
            Path::new("c.yaml"),
            false,
        )
        .unwrap()
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/github")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn githubs_pull_request_opened_payload_becomes_a_pull_request() {
        let body = fixture("event-pull_request-opened.json");
        let Decision::PullRequest { action, pr } =
            decide("pull_request", &body, &config()).unwrap()
        else {
            panic!("not queued")
        };
        assert_eq!(action, "opened");
        assert_eq!(pr.full_name(), "Codertocat/Hello-World");
        assert_eq!(pr.number, 2);
        assert_eq!(pr.author, "Codertocat");
        assert_eq!(pr.base_ref, "master");
        assert_eq!(pr.base_sha, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
        assert_eq!(pr.head_sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
        assert_eq!(
            pr.clone_url,
            "https://github.com/Codertocat/Hello-World.git"
        );
    }

    #[test]
    fn other_actions_events_and_repositories_are_ignored_with_a_reason() {
        let body = fixture("event-pull_request-opened.json");
        let closed = String::from_utf8(body.clone())
            .unwrap()
            .replace("\"action\": \"opened\"", "\"action\": \"closed\"");
        assert_eq!(
            decide("pull_request", closed.as_bytes(), &config()).unwrap(),
            Decision::Ignore(
                "pull_request action closed is not one of opened, synchronize, reopened, \
                 ready_for_review"
                    .into()
            )
        );
        assert_eq!(
            decide("push", b"{}", &config()).unwrap(),
            Decision::Ignore(
                "event push is not handled (pull_request and issue_comment are)".into()
            )
        );
        let other = Config::parse(
            "repos:\n  a/b:\n    testPackages: [x]\n",
            Path::new("c"),
            false,
        )
        .unwrap();
        assert_eq!(
            decide("pull_request", &body, &other).unwrap(),
            Decision::Ignore("Codertocat/Hello-World is not in the configuration's repos".into())
        );
        let e = decide("pull_request", b"{\"action\": 1}", &config()).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("the pull_request payload is not what GitHub sends"));
    }

    /// The recorded comment, on a pull request (GitHub adds `issue.pull_request`), with
    /// `body` and `author_association` replaced.
    fn comment(raw: &[u8], body: &str, association: &str) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(raw).unwrap();
        v["issue"]["pull_request"] = serde_json::json!({
            "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1",
            "html_url": "https://github.com/Codertocat/Hello-World/pull/1",
            "diff_url": "https://github.com/Codertocat/Hello-World/pull/1.diff",
            "patch_url": "https://github.com/Codertocat/Hello-World/pull/1.patch"
        });
        v["comment"]["body"] = body.into();
        v["comment"]["author_association"] = association.into();
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn coverage_comments_from_members_are_queued_others_are_not() {
        let raw = fixture("event-issue_comment-created.json");
        assert_eq!(
            decide("issue_comment", &raw, &config()).unwrap(),
            Decision::Ignore("Codertocat/Hello-World#1 is an issue, not a pull request".into())
        );
        let member = comment(&raw, "thanks\r\n/coverage\r\n", "MEMBER");
        assert_eq!(
            decide("issue_comment", &member, &config()).unwrap(),
            Decision::Comment {
                org: "Codertocat".into(),
                repo: "Hello-World".into(),
                number: 1,
                commenter: "Codertocat".into()
            }
        );
        let outsider = comment(&raw, "/coverage", "NONE");
        assert_eq!(
            decide("issue_comment", &outsider, &config()).unwrap(),
            Decision::Ignore(
                "/coverage from Codertocat (NONE), whose association may not ask for it".into()
            )
        );
        let chat = comment(&raw, "what does /coverage do?", "OWNER");
        assert_eq!(
            decide("issue_comment", &chat, &config()).unwrap(),
            Decision::Ignore("the comment has no /coverage line".into())
        );
    }

    #[test]
    fn a_queued_decision_survives_the_handoff_file() {
        let body = fixture("event-pull_request-opened.json");
        let d = decide("pull_request", &body, &config()).unwrap();
        let line = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Decision>(&line).unwrap(), d);
    }
}
