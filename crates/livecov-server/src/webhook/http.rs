//! The webhook's HTTP side: deliveries in, answers out, and the server's own state.
//! Every refusal becomes an HTTP status here and only here ([`Answer`]).

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::event::{decide, Decision};
use super::signature::SignatureError;
use super::state::inc;
use super::{lock, log, state_name, Queued, Webhook, RUNNING};

/// What a delivery got.
enum Answer {
    Queued(String),
    Duplicate(String),
    Ignored(String, String),
    BadSignature(SignatureError),
    BadRequest(String),
    TooLarge(usize),
    QueueFull(usize),
    Draining,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        // A body refused for its size was not read to its end, so the connection cannot
        // carry another request: say so, or a client that pools connections sends its next
        // request into a socket the server is closing and loses it.
        let close = matches!(self, Answer::TooLarge(_));
        let (status, body) = match self {
            Answer::Queued(id) => (StatusCode::OK, json!({"result": "queued", "delivery": id})),
            Answer::Duplicate(id) => (
                StatusCode::OK,
                json!({"result": "duplicate", "delivery": id,
                       "reason": "this delivery id was already taken; it is handled once"}),
            ),
            Answer::Ignored(id, reason) => (
                StatusCode::OK,
                json!({"result": "ignored", "delivery": id, "reason": reason}),
            ),
            Answer::BadSignature(e) => (
                StatusCode::UNAUTHORIZED,
                json!({"result": "refused", "reason": e.to_string()}),
            ),
            Answer::BadRequest(why) => (
                StatusCode::BAD_REQUEST,
                json!({"result": "refused", "reason": why}),
            ),
            Answer::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"result": "refused", "reason": format!("the body is over {limit} bytes")}),
            ),
            Answer::QueueFull(cap) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"result": "refused", "reason": format!(
                    "the queue is full ({cap} deliveries); redeliver later")}),
            ),
            Answer::Draining => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"result": "refused", "reason": "the server is shutting down; redeliver later"}),
            ),
        };
        let mut response = (status, Json(body)).into_response();
        if close {
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

pub(super) fn router(hook: Webhook) -> Router {
    let endpoint = hook.inner.settings.endpoint.clone();
    Router::new()
        .route(&endpoint, post(deliver))
        .route("/healthz", get(healthz))
        .route("/queue", get(queue))
        .route("/metrics", get(metrics))
        .with_state(hook)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn deliver(State(hook): State<Webhook>, headers: HeaderMap, body: Body) -> Answer {
    let inner = &hook.inner;
    let c = &inner.counters;
    let answer = take(&hook, &headers, body).await;
    match &answer {
        Answer::Queued(_) => inc(&c.queued),
        Answer::Duplicate(_) => inc(&c.duplicate),
        Answer::Ignored(id, reason) => {
            inc(&c.ignored);
            log::log("info", &format!("delivery {id}: ignored: {reason}"));
        }
        Answer::BadSignature(e) => {
            inc(&c.bad_signature);
            log::log("warn", &format!("refused a delivery: {e}"));
        }
        Answer::BadRequest(why) => {
            inc(&c.bad_request);
            log::log("warn", &format!("refused a delivery: {why}"));
        }
        Answer::TooLarge(_) => inc(&c.too_large),
        Answer::QueueFull(_) => inc(&c.queue_full),
        Answer::Draining => inc(&c.draining),
    }
    answer
}

async fn take(hook: &Webhook, headers: &HeaderMap, body: Body) -> Answer {
    let inner = &hook.inner;
    let limit = inner.settings.max_body_bytes;
    let declared = header(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Answer::TooLarge(limit);
    }
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return Answer::TooLarge(limit);
    };
    if let Err(e) = inner.settings.secret.verify(
        headers.get("x-hub-signature-256").map(|v| v.as_bytes()),
        &bytes,
    ) {
        return Answer::BadSignature(e);
    }
    let Some(event) = header(headers, "x-github-event") else {
        return Answer::BadRequest("no X-GitHub-Event header".into());
    };
    let Some(id) = header(headers, "x-github-delivery").filter(|d| !d.is_empty()) else {
        return Answer::BadRequest("no X-GitHub-Delivery header".into());
    };
    if inner.state.load(Ordering::SeqCst) != RUNNING {
        return Answer::Draining;
    }
    let decision = match decide(event, &bytes, &inner.settings.config) {
        Ok(d) => d,
        Err(e) => return Answer::BadRequest(format!("delivery {id}: {e}")),
    };
    if !lock(&inner.seen).insert(id) {
        return Answer::Duplicate(id.to_owned());
    }
    if let Decision::Ignore(reason) = decision {
        return Answer::Ignored(id.to_owned(), reason);
    }
    let queued = Queued {
        delivery: id.to_owned(),
        event: event.to_owned(),
        decision,
        received: Some(Instant::now()),
    };
    let sent = match lock(&inner.tx).as_ref() {
        Some(tx) => tx
            .try_send(queued)
            .map_err(|e| matches!(e, tokio::sync::mpsc::error::TrySendError::Full(_))),
        None => Err(false),
    };
    match sent {
        Ok(()) => Answer::Queued(id.to_owned()),
        Err(full) => {
            // Not taken: forget it, so that a redelivery is.
            lock(&inner.seen).remove(id);
            if full {
                Answer::QueueFull(inner.settings.queue_capacity)
            } else {
                Answer::Draining
            }
        }
    }
}

async fn healthz(State(hook): State<Webhook>) -> impl IntoResponse {
    let state = hook.state();
    let code = if state == RUNNING {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, state_name(state))
}

async fn queue(State(hook): State<Webhook>) -> Json<serde_json::Value> {
    let inner = &hook.inner;
    let c = &inner.counters;
    use super::state::get;
    let handed: Vec<String> = lock(&inner.handed_back)
        .iter()
        .map(|q| q.delivery.clone())
        .collect();
    let shutdown = lock(&inner.shutdown_report).clone();
    Json(json!({
        "state": state_name(hook.state()),
        "runner": inner.settings.runner.name(),
        "dry_run": inner.settings.dry_run,
        "queued": hook.depth(),
        "capacity": inner.settings.queue_capacity,
        "in_progress": get(&c.in_progress),
        "jobs_running": get(&c.jobs_running),
        "deliveries": {
            "queued": get(&c.queued),
            "duplicate": get(&c.duplicate),
            "ignored": get(&c.ignored),
            "refused": get(&c.bad_signature) + get(&c.bad_request) + get(&c.too_large)
                + get(&c.queue_full) + get(&c.draining),
        },
        "handled": {
            "job_started": get(&c.jobs_started),
            "skipped": get(&c.skipped),
            "failed": get(&c.failed),
            "handed_back": get(&c.handed_back),
        },
        "handing_back": handed,
        "shutdown": shutdown,
        "remembered_deliveries": lock(&inner.seen).len(),
        "jobs": lock(&inner.jobs).all(),
    }))
}

async fn metrics(State(hook): State<Webhook>) -> impl IntoResponse {
    let text = hook.inner.counters.prometheus(
        hook.depth(),
        hook.inner.settings.queue_capacity,
        state_name(hook.state()),
    );
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
}
