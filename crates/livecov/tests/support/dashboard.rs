//! `livecov serve` on 127.0.0.1 for tests, and a plain HTTP/1.1 client for it.
//! Shared with `#[path = "support/dashboard.rs"] mod dashboard;` (std and serde_json).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn livecov() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_livecov"));
    c.env_remove("LIVECOV_STORE")
        .env_remove("LIVECOV_INGEST_TOKEN");
    c
}

/// A `livecov serve` on 127.0.0.1 (any free port), stopped on drop.
pub struct Served {
    child: Child,
    /// host:port.
    pub addr: String,
    /// The rest of its log (kept so its writer never blocks).
    _log: std::sync::mpsc::Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `livecov serve ARGS --listen 127.0.0.1:0`, once it printed its address.
pub fn serve(args: &[&str]) -> Served {
    let mut child = livecov()
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Killed on drop from here on, should the address never come.
    let mut served = Served {
        child,
        addr: String::new(),
        _log: rx,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while served.addr.is_empty() {
        let line = served
            ._log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("serve printed its address");
        if let Some(at) = line.find(" on http://") {
            served.addr = line[at + " on http://".len()..]
                .trim_end_matches('/')
                .to_owned();
        }
    }
    served
}

impl Served {
    /// The first line of its log from here on that contains `needle`, waiting up to
    /// `within`; `None` when none came.
    #[allow(dead_code)]
    pub fn log_line(&self, needle: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let line = self
                ._log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok()?;
            if line.contains(needle) {
                return Some(line);
            }
        }
    }
}

/// An answer: status, headers (lower-case names), body.
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request (the connection closed after it).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // A server that refuses the body (413) may close before it is all sent: its answer
    // is read all the same.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

pub fn get(addr: &str, path: &str) -> Response {
    request(addr, "GET", path, &[], b"")
}
