//! Receiving snapshots that agents push (`LIVECOV_PUSH_URL`), for processes nothing can
//! reach (NAT, one-way firewalls): an HTTP/1.1 endpoint that takes `POST` bodies of the
//! `GET /coverage` JSON (Go's or Python's) with the agent's `X-Art-Coverage-*` headers.
//!
//! Untrusted by default: with a token configured, a request without `Authorization:
//! Bearer <token>` (compared in constant time) is refused with 401; bodies over the limit
//! get 413 before they are read whole; a body that is not a snapshot gets 400 with the
//! reason. Accepted snapshots go to a channel; the caller writes them.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::live::{parse_snapshot, ServerInfo, Snapshot, MAX_BODY};

/// How the endpoint checks what it is sent.
#[derive(Clone, Debug)]
pub struct PushSettings {
    /// The bearer token pushes must carry; `None` accepts any push (loopback and trusted
    /// networks only).
    pub token: Option<String>,
    /// The largest body accepted.
    pub max_body: usize,
}

impl Default for PushSettings {
    fn default() -> PushSettings {
        PushSettings {
            token: None,
            max_body: MAX_BODY,
        }
    }
}

/// One accepted push.
#[derive(Debug)]
pub struct Pushed {
    /// Who sent it.
    pub remote: SocketAddr,
    /// The snapshot.
    pub snapshot: Snapshot,
}

/// Equal lengths and bytes, in time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn reply(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *r.status_mut() = status;
    r
}

async fn handle(
    req: Request<Incoming>,
    remote: SocketAddr,
    settings: Arc<PushSettings>,
    tx: mpsc::UnboundedSender<Pushed>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if req.method() != hyper::Method::POST {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST a coverage snapshot here",
        ));
    }
    if let Some(token) = &settings.token {
        let given = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_secret(given.as_bytes(), token.as_bytes()) {
            return Ok(reply(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is needed",
            ));
        }
    }
    if let Some(len) = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > settings.max_body as u64 {
            return Ok(reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("over the {}-byte limit", settings.max_body),
            ));
        }
    }
    let server = ServerInfo::from_headers(
        req.headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
    );
    let Some(server) = server else {
        return Ok(reply(
            StatusCode::BAD_REQUEST,
            "no X-Art-Coverage-Server: 1 header; not a coverage agent",
        ));
    };
    let body = match Limited::new(req.into_body(), settings.max_body)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let too_big = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return Ok(if too_big {
                reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("over the {}-byte limit", settings.max_body),
                )
            } else {
                reply(StatusCode::BAD_REQUEST, &format!("reading the body: {e}"))
            });
        }
    };
    let url = format!("push from {remote}");
    match parse_snapshot(&url, server, &body) {
        Ok(snapshot) if !snapshot.lacks_meta() => {
            let _ = tx.send(Pushed { remote, snapshot });
            Ok(reply(StatusCode::OK, "stored"))
        }
        Ok(_) => Ok(reply(
            StatusCode::BAD_REQUEST,
            "a push carries the meta-data file (meta_data) every time",
        )),
        Err(e) => Ok(reply(StatusCode::BAD_REQUEST, &e.to_string())),
    }
}

/// Serves pushes on `listener` until the task is dropped, sending accepted snapshots to
/// `tx`. Connection errors end that connection only.
pub async fn serve(
    listener: TcpListener,
    settings: PushSettings,
    tx: mpsc::UnboundedSender<Pushed>,
) -> std::io::Result<()> {
    let settings = Arc::new(settings);
    loop {
        let (stream, remote) = listener.accept().await?;
        let settings = settings.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                handle(req, remote, settings.clone(), tx.clone())
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"x"));
    }
}
