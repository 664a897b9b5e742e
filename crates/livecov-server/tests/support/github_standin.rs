//! A local, stateful stand-in for GitHub's REST API: NOT GitHub. No real GitHub is
//! reachable from the tests or the bench, so this server on 127.0.0.1 records the
//! commit statuses and pull-request comments the webhook writes and serves the pull
//! requests and changed files it reads. Every answer is built from a recorded real
//! GitHub response (tests/fixtures/github/, see its README) with only the fields of
//! the request filled in, so the webhook's client parses what GitHub really sends.
//!
//! Shared by the webhook tests and the bench's load generator (`#[path = …] mod`).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// A status the webhook posted.
#[derive(Debug, Clone)]
pub struct PostedStatus {
    /// `org/repo`.
    pub repo: String,
    /// The commit.
    pub sha: String,
    /// `pending`, `success`, …
    pub state: String,
    /// The description.
    pub description: String,
    /// The link.
    pub target_url: Option<String>,
    /// The context.
    pub context: String,
    /// When it arrived.
    pub at: Instant,
}

/// A comment, with every write to it.
#[derive(Debug, Clone)]
pub struct Comment {
    /// `org/repo`.
    pub repo: String,
    /// The pull request.
    pub number: u64,
    /// The current body.
    pub body: String,
    /// `POST` then one `PATCH` per edit.
    pub writes: Vec<String>,
}

/// What the stand-in holds.
#[derive(Default)]
pub struct Recorded {
    /// Statuses in arrival order.
    pub statuses: Vec<PostedStatus>,
    /// Comments by id.
    pub comments: BTreeMap<u64, Comment>,
    /// Pull requests served by `GET pulls/N`: (org/repo, N) -> (head sha, base sha, clone url).
    pub pulls: HashMap<(String, u64), (String, String, String)>,
    /// Changed files of a pull request; `default_files` for the others.
    pub files: HashMap<(String, u64), Vec<String>>,
    /// Changed files of pull requests not in `files`.
    pub default_files: Vec<String>,
    /// Every request's `Authorization` header (None when absent), with method and path.
    pub requests: Vec<(String, String, Option<String>)>,
    /// Added before answering a status POST (a slow GitHub).
    pub status_delay: Duration,
    next_id: u64,
}

/// The running stand-in.
pub struct StandIn {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its state, to read and to set up.
    pub state: Arc<Mutex<Recorded>>,
    fixtures: Arc<Fixtures>,
}

struct Fixtures {
    status: Value,
    comment: Value,
    pull: Value,
    file: Value,
}

type Shared = (Arc<Mutex<Recorded>>, Arc<Fixtures>);

fn load(dir: &Path, name: &str) -> Value {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl StandIn {
    /// Starts on 127.0.0.1 (a free port) on the current Tokio runtime.
    pub async fn start() -> StandIn {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../livecov-server/tests/fixtures/github");
        let files: Value = load(&dir, "rest-pull-files.json");
        let fixtures = Arc::new(Fixtures {
            status: load(&dir, "rest-create-status.json"),
            comment: load(&dir, "rest-issue-comment.json"),
            pull: load(&dir, "rest-pull.json"),
            file: files[0].clone(),
        });
        let state = Arc::new(Mutex::new(Recorded {
            default_files: vec!["pkg/a.go".into()],
            next_id: 1000,
            ..Recorded::default()
        }));
        let shared: Shared = (Arc::clone(&state), Arc::clone(&fixtures));
        let app = Router::new()
            .route("/repos/{o}/{r}/statuses/{sha}", post(create_status))
            .route("/repos/{o}/{r}/commits/{sha}/statuses", get(list_statuses))
            .route("/repos/{o}/{r}/pulls/{n}", get(get_pull))
            .route("/repos/{o}/{r}/pulls/{n}/files", get(pull_files))
            .route(
                "/repos/{o}/{r}/issues/{n}/comments",
                get(list_comments).post(create_comment),
            )
            .route("/repos/{o}/{r}/issues/comments/{id}", patch(edit_comment))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StandIn {
            url,
            state,
            fixtures,
        }
    }

    /// The recorded state.
    pub fn recorded(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.state.lock().unwrap()
    }

    /// The statuses of `sha`, in arrival order.
    pub fn statuses_of(&self, sha: &str) -> Vec<PostedStatus> {
        self.recorded()
            .statuses
            .iter()
            .filter(|s| s.sha == sha)
            .cloned()
            .collect()
    }
}

fn record(s: &Shared, method: &str, path: String, headers: &HeaderMap) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.0.lock()
        .unwrap()
        .requests
        .push((method.into(), path, auth));
}

async fn create_status(
    State(s): State<Shared>,
    UrlPath((o, r, sha)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    record(
        &s,
        "POST",
        format!("/repos/{o}/{r}/statuses/{sha}"),
        &headers,
    );
    let delay = s.0.lock().unwrap().status_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Some(state) = body["state"].as_str() else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "Validation Failed"})),
        );
    };
    let mut rec = s.0.lock().unwrap();
    rec.next_id += 1;
    let id = rec.next_id;
    rec.statuses.push(PostedStatus {
        repo: format!("{o}/{r}"),
        sha: sha.clone(),
        state: state.into(),
        description: body["description"].as_str().unwrap_or_default().into(),
        target_url: body["target_url"].as_str().map(str::to_owned),
        context: body["context"].as_str().unwrap_or("default").into(),
        at: Instant::now(),
    });
    let mut answer = s.1.status.clone();
    answer["id"] = id.into();
    answer["url"] = format!("https://api.github.com/repos/{o}/{r}/statuses/{sha}").into();
    for k in ["state", "description", "target_url", "context"] {
        answer[k] = body.get(k).cloned().unwrap_or(Value::Null);
    }
    (StatusCode::CREATED, Json(answer))
}

async fn list_statuses(
    State(s): State<Shared>,
    UrlPath((o, r, sha)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Json<Value> {
    record(
        &s,
        "GET",
        format!("/repos/{o}/{r}/commits/{sha}/statuses"),
        &headers,
    );
    let rec = s.0.lock().unwrap();
    let list: Vec<Value> = rec
        .statuses
        .iter()
        .rev()
        .filter(|p| p.sha == sha)
        .map(|p| {
            let mut v = s.1.status.clone();
            v["state"] = p.state.clone().into();
            v["description"] = p.description.clone().into();
            v["context"] = p.context.clone().into();
            v["target_url"] = p.target_url.clone().into();
            v
        })
        .collect();
    Json(Value::Array(list))
}

async fn get_pull(
    State(s): State<Shared>,
    UrlPath((o, r, n)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    record(&s, "GET", format!("/repos/{o}/{r}/pulls/{n}"), &headers);
    let key = (format!("{o}/{r}"), n);
    let Some((head, base, clone)) = s.0.lock().unwrap().pulls.get(&key).cloned() else {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"})));
    };
    let mut v = s.1.pull.clone();
    v["number"] = n.into();
    v["head"]["sha"] = head.into();
    v["base"]["sha"] = base.into();
    v["base"]["repo"]["full_name"] = format!("{o}/{r}").into();
    v["base"]["repo"]["clone_url"] = clone.into();
    (StatusCode::OK, Json(v))
}

async fn pull_files(
    State(s): State<Shared>,
    UrlPath((o, r, n)): UrlPath<(String, String, u64)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Json<Value> {
    record(
        &s,
        "GET",
        format!("/repos/{o}/{r}/pulls/{n}/files"),
        &headers,
    );
    let per_page: usize = q.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(30);
    let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let rec = s.0.lock().unwrap();
    let files = rec
        .files
        .get(&(format!("{o}/{r}"), n))
        .unwrap_or(&rec.default_files);
    let list: Vec<Value> = files
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|f| {
            let mut v = s.1.file.clone();
            v["filename"] = f.clone().into();
            v
        })
        .collect();
    Json(Value::Array(list))
}

fn comment_json(s: &Shared, id: u64, c: &Comment) -> Value {
    let mut v = s.1.comment.clone();
    v["id"] = id.into();
    v["body"] = c.body.clone().into();
    v
}

async fn list_comments(
    State(s): State<Shared>,
    UrlPath((o, r, n)): UrlPath<(String, String, u64)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Json<Value> {
    record(
        &s,
        "GET",
        format!("/repos/{o}/{r}/issues/{n}/comments"),
        &headers,
    );
    let per_page: usize = q.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(30);
    let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let rec = s.0.lock().unwrap();
    let repo = format!("{o}/{r}");
    let list: Vec<Value> = rec
        .comments
        .iter()
        .filter(|(_, c)| c.repo == repo && c.number == n)
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|(id, c)| comment_json(&s, *id, c))
        .collect();
    Json(Value::Array(list))
}

async fn create_comment(
    State(s): State<Shared>,
    UrlPath((o, r, n)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    record(
        &s,
        "POST",
        format!("/repos/{o}/{r}/issues/{n}/comments"),
        &headers,
    );
    let mut rec = s.0.lock().unwrap();
    rec.next_id += 1;
    let id = rec.next_id;
    let c = Comment {
        repo: format!("{o}/{r}"),
        number: n,
        body: body["body"].as_str().unwrap_or_default().into(),
        writes: vec!["POST".into()],
    };
    let v = comment_json(&s, id, &c);
    rec.comments.insert(id, c);
    (StatusCode::CREATED, Json(v))
}

async fn edit_comment(
    State(s): State<Shared>,
    UrlPath((o, r, id)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    record(
        &s,
        "PATCH",
        format!("/repos/{o}/{r}/issues/comments/{id}"),
        &headers,
    );
    let mut rec = s.0.lock().unwrap();
    let Some(c) = rec.comments.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"})));
    };
    c.body = body["body"].as_str().unwrap_or_default().into();
    c.writes.push("PATCH".into());
    let c = c.clone();
    (StatusCode::OK, Json(comment_json(&s, id, &c)))
}
