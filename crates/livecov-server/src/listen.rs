//! The accept loop every server of this crate runs, in place of `axum::serve`, which
//! bounds nothing: a client that opens connections and sends half a request (or nothing)
//! kept each open for ever, and enough of them used up the process's file descriptors
//! (serve attack review, 2026-12-04). Here:
//! - a request's header must arrive within [`HEADER_TIMEOUT`] of the connection being
//!   ready for one, which also closes an idle kept-alive connection after that long;
//! - at most [`MAX_CONNECTIONS`] connections are served at once; past that, new ones
//!   wait in the kernel's backlog until one ends;
//! - an accept that fails (out of descriptors) is retried after a pause instead of
//!   spinning.
//!
//! A slow request body is bounded where bodies are read (the ingest's deadline).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

/// How long a connection may take to send a request's header, or stay idle between
/// requests.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 4096;
/// How long a graceful shutdown waits for the connections' requests to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in
/// flight finish (up to 30 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, HEADER_TIMEOUT, MAX_CONNECTIONS).await
}

/// [`serve`] with its bounds given (the tests use small ones).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_timeout: Duration,
    max_connections: usize,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // EMFILE and the like: the condition passes when connections end.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client gone or too slow ends its connection; nothing to report.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Instant;

    /// A server with a 300 ms header timeout and room for 2 connections, on a thread of
    /// its own; its address.
    fn start() -> std::net::SocketAddr {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
                let never = std::future::pending::<()>();
                serve_with(listener, router, never, Duration::from_millis(300), 2)
                    .await
                    .unwrap();
            });
        });
        rx.recv().unwrap()
    }

    fn connect(addr: std::net::SocketAddr) -> std::net::TcpStream {
        let s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Reads until the server closes; what it sent.
    fn until_closed(s: &mut std::net::TcpStream) -> String {
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Attack finding (serve review, 2026-12-04): half a request header, or nothing at
    /// all, kept a connection open for ever; now it is closed after the header timeout.
    #[test]
    fn half_sent_and_idle_connections_are_closed() {
        let addr = start();
        let t = Instant::now();
        let mut half = connect(addr);
        half.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        let mut idle = connect(addr);
        until_closed(&mut half);
        until_closed(&mut idle);
        let waited = t.elapsed();
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        assert!(
            waited < Duration::from_secs(9),
            "closed by the timeout: {waited:?}"
        );
        // A kept-alive connection is closed once idle as long.
        let mut kept = connect(addr);
        kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let answer = until_closed(&mut kept);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("ok"), "{answer}");
    }

    /// Past the cap a connection waits for a slot (it is not dropped) and is served
    /// when one frees.
    #[test]
    fn connections_past_the_cap_wait_for_a_slot() {
        let addr = start();
        let _a = connect(addr);
        let _b = connect(addr);
        std::thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        let mut c = connect(addr);
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let answer = until_closed(&mut c);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // Served only once the idle two were closed by the header timeout.
        assert!(
            t.elapsed() >= Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
    }
}
