//! `livecov serve --webhook` end to end: the real binary on 127.0.0.1, real HTTP
//! deliveries signed as GitHub signs them, and — because no real GitHub is reachable
//! here — a local stateful STAND-IN for GitHub's REST API
//! (crates/livecov-server/tests/support/github_standin.rs) that records the statuses and
//! comments the webhook writes and answers with recorded real GitHub payloads
//! (crates/livecov-server/tests/fixtures/github/).
//!
//! A ProwJob's pod reports itself: `livecov diff --github-report` with Prow's job
//! environment posts the status and edits the one comment on the same STAND-IN, with
//! the values the server's own report code gives for the same diff; and
//! deploy/webhook/coverage-job.sh, the job script that does it, runs real `go test`.
//!
//! The local-runner test uses real git and a real Go toolchain (`go test -coverprofile`),
//! and `livecov diff` of this binary when it has that command (otherwise a clearly
//! labelled stand-in script that prints diff's documented JSON).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/external.rs"]
mod external;
#[path = "../../livecov-server/tests/support/github_standin.rs"]
mod github_standin;

use github_standin::StandIn;

const SECRET: &str = "webhook-test-secret";
/// Must never appear in a log line, an answer, or an argument.
const TOKEN: &str = "ghp_livecovTESTtoken0123456789abcdef";
const REPO: &str = "Codertocat/Hello-World";

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../livecov-server/tests/fixtures/github")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn sign(body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The recorded `pull_request` payload with `action`, number and commits replaced.
fn pr_event(action: &str, number: u64, head: &str, base: &str, clone_url: &str) -> Vec<u8> {
    let mut v = fixture("event-pull_request-opened.json");
    v["action"] = action.into();
    v["number"] = number.into();
    v["pull_request"]["number"] = number.into();
    v["pull_request"]["head"]["sha"] = head.into();
    v["pull_request"]["base"]["sha"] = base.into();
    v["pull_request"]["base"]["repo"]["clone_url"] = clone_url.into();
    serde_json::to_vec(&v).unwrap()
}

fn sha_of(i: u64) -> String {
    format!("{i:040x}")
}

/// The livecov server, stopped (SIGKILL) on drop if still running.
struct Server {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
    dir: tempfile::TempDir,
}

struct Options<'a> {
    runner: &'a str,
    config: String,
    extra: Vec<String>,
}

impl Server {
    fn start(standin: &StandIn, o: Options<'_>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Server::start_in(standin, o, dir)
    }

    fn start_in(standin: &StandIn, o: Options<'_>, dir: tempfile::TempDir) -> Server {
        std::fs::write(dir.path().join("hmac"), format!("{SECRET}\n")).unwrap();
        std::fs::write(dir.path().join("oauth"), format!("{TOKEN}\n")).unwrap();
        std::fs::write(dir.path().join("config.yaml"), &o.config).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_livecov"));
        cmd.args([
            "serve",
            "--webhook",
            "--address",
            "127.0.0.1",
            "--port",
            "0",
        ])
        .arg("--hmac-secret-file")
        .arg(dir.path().join("hmac"))
        .arg("--github-token-path")
        .arg(dir.path().join("oauth"))
        // The first endpoint is unreachable: the second answers.
        .args(["--github-endpoint", "http://127.0.0.1:9"])
        .args(["--github-endpoint", &standin.url])
        .arg("--config")
        .arg(dir.path().join("config.yaml"))
        .args(["--runner", o.runner, "--dry-run=false"])
        .args(&o.extra)
        .env_remove("GITHUB_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("starting livecov serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("listening on http://") {
                    let rest = &line[at + "listening on ".len()..];
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(url.trim_end_matches('/').to_owned());
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                panic!("livecov serve did not start:\n{}", log.lock().unwrap());
            }
        };
        Server {
            child,
            url,
            log,
            dir,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "livecov serve did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dry_config() -> String {
    format!("repos:\n  {REPO}:\n    testPackages: ['./...']\n")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn deliver(
    c: &reqwest::Client,
    url: &str,
    event: &str,
    id: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let sig = sign(&body);
    let resp = c
        .post(format!("{url}/"))
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", sig)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get_json(c: &reqwest::Client, url: &str) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

/// Polls `cond` every 20 ms for up to 60 s (a bound against hangs, not a timing check).
async fn wait_for(what: &str, server: &Server, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "waited 60 s for {what}; server log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_are_queued_badly_signed_ones_refused() {
    let standin = StandIn::start().await;
    let server = Server::start(
        &standin,
        Options {
            runner: "dry-run",
            config: dry_config(),
            extra: vec![],
        },
    );
    let c = client();
    let body = pr_event(
        "opened",
        7,
        &sha_of(7),
        &sha_of(1),
        "https://example.invalid/r.git",
    );

    let (status, answer) = deliver(&c, &server.url, "pull_request", "d-ok", body.clone()).await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (200, Some("queued")),
        "{answer}"
    );

    let post = |sig: Option<&str>, event: Option<&str>, body: Vec<u8>| {
        let mut r = c
            .post(format!("{}/", server.url))
            .header("X-GitHub-Delivery", "d-bad");
        if let Some(s) = sig {
            r = r.header("X-Hub-Signature-256", s.to_owned());
        }
        if let Some(e) = event {
            r = r.header("X-GitHub-Event", e.to_owned());
        }
        r.body(body)
    };
    let wrong_key = {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"another secret");
        let tag = ring::hmac::sign(&key, &body);
        format!(
            "sha256={}",
            tag.as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    };
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "no signature",
            post(None, Some("pull_request"), body.clone()),
            401,
            "no X-Hub-Signature-256 header",
        ),
        (
            "sha1 signature",
            post(Some("sha1=0123"), Some("pull_request"), body.clone()),
            401,
            "not sha256=",
        ),
        (
            "other secret",
            post(Some(&wrong_key), Some("pull_request"), body.clone()),
            401,
            "does not match",
        ),
        (
            "body changed",
            post(Some(&sign(&body)), Some("pull_request"), tampered),
            401,
            "does not match",
        ),
        (
            "no event",
            post(Some(&sign(&body)), None, body.clone()),
            400,
            "no X-GitHub-Event",
        ),
        (
            "not JSON",
            post(
                Some(&sign(b"{nope")),
                Some("pull_request"),
                b"{nope".to_vec(),
            ),
            400,
            "not what GitHub sends",
        ),
    ];
    for (what, req, want, reason) in cases {
        let resp = req.send().await.unwrap();
        let code = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(code, want, "{what}: {answer}");
        assert!(
            answer["reason"].as_str().unwrap().contains(reason),
            "{what}: {answer}"
        );
    }
    let get = c.get(format!("{}/", server.url)).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405, "GET on the endpoint");

    // Only the signed delivery reached GitHub: its pending status, then the dry run's.
    wait_for("two statuses", &server, || {
        standin.statuses_of(&sha_of(7)).len() == 2
    })
    .await;
    let states: Vec<String> = standin
        .statuses_of(&sha_of(7))
        .iter()
        .map(|s| s.state.clone())
        .collect();
    assert_eq!(states, ["pending", "success"]);
    let metrics = c
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(
            &metrics,
            "livecov_webhook_deliveries_total{result=\"queued\"}"
        ),
        1
    );
    assert_eq!(
        metric(
            &metrics,
            "livecov_webhook_deliveries_total{result=\"bad_signature\"}"
        ),
        4
    );
    assert_eq!(
        metric(
            &metrics,
            "livecov_webhook_deliveries_total{result=\"bad_request\"}"
        ),
        2
    );
    assert_eq!(
        metric(&metrics, "livecov_webhook_statuses_total{kind=\"pending\"}"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_delivery_is_handled_once() {
    let standin = StandIn::start().await;
    let server = Server::start(
        &standin,
        Options {
            runner: "dry-run",
            config: dry_config(),
            extra: vec![],
        },
    );
    let c = client();
    let body = pr_event(
        "synchronize",
        8,
        &sha_of(8),
        &sha_of(1),
        "https://example.invalid/r.git",
    );
    let (s1, a1) = deliver(&c, &server.url, "pull_request", "same-id", body.clone()).await;
    let (s2, a2) = deliver(&c, &server.url, "pull_request", "same-id", body.clone()).await;
    assert_eq!((s1, a1["result"].as_str()), (200, Some("queued")));
    assert_eq!(
        (s2, a2["result"].as_str()),
        (200, Some("duplicate")),
        "{a2}"
    );
    // Another id for the same commit is another delivery (GitHub sends a new id per event).
    let (s3, a3) = deliver(&c, &server.url, "pull_request", "other-id", body).await;
    assert_eq!((s3, a3["result"].as_str()), (200, Some("queued")));
    wait_for("4 statuses", &server, || {
        standin.statuses_of(&sha_of(8)).len() == 4
    })
    .await;
    let q = get_json(&c, &format!("{}/queue", server.url)).await;
    assert_eq!(q["deliveries"]["duplicate"], 1, "{q}");
    assert_eq!(q["handled"]["job_started"], 2, "{q}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_events_are_acknowledged_and_ignored_with_a_reason() {
    let standin = StandIn::start().await;
    // Only Go files start a job (the default paths); PR 10 changes a README only.
    standin
        .recorded()
        .files
        .insert((REPO.into(), 10), vec!["README.md".into()]);
    let server = Server::start(
        &standin,
        Options {
            runner: "dry-run",
            config: dry_config(),
            extra: vec![],
        },
    );
    let c = client();
    let url = &server.url;
    let mut other_repo = fixture("event-pull_request-opened.json");
    other_repo["pull_request"]["base"]["repo"]["full_name"] = "someone/else".into();
    let cases = [
        (
            "push",
            json!({"ref": "refs/heads/main"}),
            "event push is not handled",
        ),
        (
            "ping",
            json!({"zen": "Keep it logically awesome.", "hook_id": 1}),
            "ping",
        ),
        (
            "pull_request",
            serde_json::from_slice(&pr_event("closed", 9, &sha_of(9), &sha_of(1), "x")).unwrap(),
            "action closed is not one of",
        ),
        (
            "pull_request",
            serde_json::from_slice(&pr_event("labeled", 9, &sha_of(9), &sha_of(1), "x")).unwrap(),
            "action labeled",
        ),
        (
            "pull_request",
            other_repo,
            "someone/else is not in the configuration's repos",
        ),
        (
            "issue_comment",
            fixture("event-issue_comment-created.json"),
            "is an issue, not a pull request",
        ),
    ];
    for (i, (event, body, reason)) in cases.into_iter().enumerate() {
        let (status, answer) = deliver(
            &c,
            url,
            event,
            &format!("ign-{i}"),
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{event}: {answer}");
        assert_eq!(answer["result"], "ignored", "{event}: {answer}");
        assert!(
            answer["reason"].as_str().unwrap().contains(reason),
            "{event}: {answer}"
        );
    }
    // Queued, but no file matches the paths: no status at all.
    let body = pr_event("opened", 10, &sha_of(10), &sha_of(1), "x");
    let (status, answer) = deliver(&c, url, "pull_request", "readme-only", body).await;
    assert_eq!((status, answer["result"].as_str()), (200, Some("queued")));
    wait_for("the skip", &server, || {
        server.log().contains("none of its 1 changed files matches")
    })
    .await;
    assert!(standin.statuses_of(&sha_of(10)).is_empty());
    assert!(standin.recorded().statuses.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coverage_comment_from_a_member_starts_a_job_for_the_pull_requests_head() {
    let standin = StandIn::start().await;
    standin.recorded().pulls.insert(
        (REPO.into(), 1),
        (
            sha_of(0xc0),
            sha_of(0xba),
            "https://example.invalid/r.git".into(),
        ),
    );
    let server = Server::start(
        &standin,
        Options {
            runner: "dry-run",
            config: dry_config(),
            extra: vec![],
        },
    );
    let c = client();
    let mut body = fixture("event-issue_comment-created.json");
    body["issue"]["pull_request"] =
        json!({"url": format!("https://api.github.com/repos/{REPO}/pulls/1")});
    body["comment"]["body"] = "/coverage".into();
    body["comment"]["author_association"] = "MEMBER".into();
    let (status, answer) = deliver(
        &c,
        &server.url,
        "issue_comment",
        "c-1",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (200, Some("queued")),
        "{answer}"
    );
    body["comment"]["author_association"] = "CONTRIBUTOR".into();
    let (_, answer) = deliver(
        &c,
        &server.url,
        "issue_comment",
        "c-2",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(answer["result"], "ignored", "{answer}");
    wait_for("statuses", &server, || {
        standin.statuses_of(&sha_of(0xc0)).len() == 2
    })
    .await;
    let first = &standin.statuses_of(&sha_of(0xc0))[0];
    assert_eq!(
        (first.state.as_str(), first.context.as_str()),
        ("pending", "coverage-auto")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_bodies_get_413() {
    let standin = StandIn::start().await;
    let server = Server::start(
        &standin,
        Options {
            runner: "dry-run",
            config: dry_config(),
            extra: vec!["--max-body-bytes".into(), "40000".into()],
        },
    );
    let c = client();
    let mut v = fixture("event-pull_request-opened.json");
    v["pull_request"]["body"] = "x".repeat(50_000).into();
    let big = serde_json::to_vec(&v).unwrap();
    let resp = c
        .post(format!("{}/", server.url))
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", "big")
        .header("X-Hub-Signature-256", sign(&big))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    // The body was not read to its end, so the connection is closed and the answer says
    // so: a client that pooled it would send its next request into a closing socket and
    // lose it (a clean CI run lost the streamed delivery below that way).
    assert_eq!(
        resp.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["reason"], "the body is over 40000 bytes");
    // The same, streamed without a Content-Length.
    let big = serde_json::to_vec(&v).unwrap();
    let sig = sign(&big);
    let stream = futures_stream(big);
    let sent = c
        .post(format!("{}/", server.url))
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", "big-chunked")
        .header("X-Hub-Signature-256", sig)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    // The server answers 413 without reading the rest, and closes the connection: the
    // client sees the 413 or, when the close wins the race, an incomplete message. The
    // server's counter says which it was either way.
    if let Ok(resp) = sent {
        assert_eq!(resp.status().as_u16(), 413);
    }
    // When the close won, the server may count the refusal just after the client gave
    // up: read the counters until it has (or a deadline passes).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let metrics = loop {
        let m = c
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metric(&m, "livecov_webhook_deliveries_total{result=\"too_large\"}") >= 2
            || std::time::Instant::now() > deadline
        {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        metric(
            &metrics,
            "livecov_webhook_deliveries_total{result=\"too_large\"}"
        ),
        2
    );
    assert_eq!(
        metric(
            &metrics,
            "livecov_webhook_deliveries_total{result=\"queued\"}"
        ),
        0
    );
    // A normal delivery still goes through.
    let body = pr_event("opened", 11, &sha_of(11), &sha_of(1), "x");
    assert!(body.len() < 40_000);
    let (status, _) = deliver(&c, &server.url, "pull_request", "small", body).await;
    assert_eq!(status, 200);
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct Chunks(Vec<Vec<u8>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(if self.0.is_empty() {
                None
            } else {
                Some(Ok(self.0.remove(0)))
            })
        }
    }
    Chunks(bytes.chunks(8192).map(<[u8]>::to_vec).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_deliveries_is_handled_once_each_and_none_is_lost() {
    let standin = StandIn::start().await;
    let server = Server::start(
        &standin,
        Options {
            runner: "dry-run",
            config: dry_config(),
            extra: vec![],
        },
    );
    let c = client();
    let url = server.url.clone();
    // 1,000 deliveries in flight at once, and 200 replays of some of them among them.
    let mut tasks = Vec::new();
    for i in 0..1200u64 {
        let n = if i < 1000 { i } else { (i * 7) % 1000 };
        let c = c.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let body = pr_event(
                "synchronize",
                100 + n,
                &sha_of(0x10_0000 + n),
                &sha_of(1),
                "x",
            );
            deliver(&c, &url, "pull_request", &format!("burst-{n}"), body).await
        }));
    }
    let mut queued = 0;
    let mut duplicate = 0;
    for t in tasks {
        let (status, answer) = t.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        match answer["result"].as_str() {
            Some("queued") => queued += 1,
            Some("duplicate") => duplicate += 1,
            other => panic!("unexpected {other:?}: {answer}"),
        }
    }
    assert_eq!((queued, duplicate), (1000, 200));
    wait_for("2,000 statuses", &server, || {
        standin.recorded().statuses.len() >= 2000
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    {
        let rec = standin.recorded();
        assert_eq!(
            rec.statuses.len(),
            2000,
            "one pending and one final status per delivery"
        );
        let mut per_sha = std::collections::HashMap::<&str, Vec<&str>>::new();
        for s in &rec.statuses {
            per_sha.entry(&s.sha).or_default().push(&s.state);
        }
        assert_eq!(per_sha.len(), 1000);
        for (sha, states) in per_sha {
            assert_eq!(states, ["pending", "success"], "{sha}");
        }
    }
    let q = get_json(&c, &format!("{url}/queue")).await;
    assert_eq!(q["handled"]["job_started"], 1000, "{q}");
    assert_eq!(q["queued"], 0, "{q}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_burst_hands_back_the_queue_and_the_next_start_handles_it() {
    let standin = StandIn::start().await;
    // A slow GitHub keeps a backlog in the queue when SIGTERM comes.
    standin.recorded().status_delay = Duration::from_millis(20);
    let dir = tempfile::tempdir().unwrap();
    let handoff = dir.path().join("handoff.jsonl");
    let extra = vec![
        "--workers".to_owned(),
        "1".into(),
        "--shutdown-grace".into(),
        "0s".into(),
        "--handoff-file".into(),
        handoff.display().to_string(),
    ];
    let mut server = Server::start(
        &standin,
        Options {
            runner: "dry-run",
            config: dry_config(),
            extra: extra.clone(),
        },
    );
    let c = client();
    let mut accepted = Vec::new();
    for n in 0..300u64 {
        let body = pr_event("opened", 2000 + n, &sha_of(0x20_0000 + n), &sha_of(1), "x");
        let (status, answer) =
            deliver(&c, &server.url, "pull_request", &format!("sd-{n}"), body).await;
        assert_eq!(status, 200, "{answer}");
        accepted.push(sha_of(0x20_0000 + n));
    }
    let status = server.terminate();
    assert!(status.success(), "{status}\n{}", server.log());
    let log = server.log();
    assert!(log.contains("shutting down:"), "{log}");
    let handed: Vec<Value> = std::fs::read_to_string(&handoff)
        .unwrap_or_else(|e| panic!("{}: {e}\n{log}", handoff.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        !handed.is_empty(),
        "the queue was not empty at SIGTERM\n{log}"
    );
    assert!(
        log.contains(&format!("handed back {} deliveries to", handed.len())),
        "{log}"
    );
    let handed_shas: std::collections::BTreeSet<String> = handed
        .iter()
        .map(|q| {
            q["decision"]["data"]["pr"]["head_sha"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let pending: std::collections::BTreeSet<String> = standin
        .recorded()
        .statuses
        .iter()
        .filter(|s| s.state == "pending")
        .map(|s| s.sha.clone())
        .collect();
    // Every accepted delivery was either handled or handed back, never both.
    assert!(handed_shas.is_disjoint(&pending));
    let all: std::collections::BTreeSet<String> = handed_shas.union(&pending).cloned().collect();
    assert_eq!(all, accepted.iter().cloned().collect());

    // The next start queues what was handed back; replays of it are still refused.
    let before = standin.recorded().statuses.len();
    standin.recorded().status_delay = Duration::ZERO;
    let server = Server::start_in(
        &standin,
        Options {
            runner: "dry-run",
            config: dry_config(),
            extra,
        },
        dir,
    );
    wait_for("the handed-back deliveries", &server, || {
        standin.recorded().statuses.len() == before + 2 * handed.len()
    })
    .await;
    let id = handed[0]["delivery"].as_str().unwrap();
    let n: u64 = id.trim_start_matches("sd-").parse().unwrap();
    let body = pr_event("opened", 2000 + n, &sha_of(0x20_0000 + n), &sha_of(1), "x");
    let (_, answer) = deliver(&c, &server.url, "pull_request", id, body).await;
    assert_eq!(answer["result"], "duplicate", "{answer}");
    let rec = standin.recorded();
    for sha in &accepted {
        let pendings = rec
            .statuses
            .iter()
            .filter(|s| &s.sha == sha && s.state == "pending")
            .count();
        assert_eq!(pendings, 1, "{sha}");
    }
    assert!(
        !server.dir.path().join("handoff.jsonl").exists(),
        "the hand-off file is consumed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_time_finishes_the_queue() {
    let standin = StandIn::start().await;
    standin.recorded().status_delay = Duration::from_millis(5);
    let mut server = Server::start(
        &standin,
        Options {
            runner: "dry-run",
            config: dry_config(),
            extra: vec![
                "--workers".into(),
                "1".into(),
                "--shutdown-grace".into(),
                "60s".into(),
            ],
        },
    );
    let c = client();
    for n in 0..100u64 {
        let body = pr_event("opened", 3000 + n, &sha_of(0x30_0000 + n), &sha_of(1), "x");
        let (status, _) = deliver(&c, &server.url, "pull_request", &format!("f-{n}"), body).await;
        assert_eq!(status, 200);
    }
    let status = server.terminate();
    assert!(status.success());
    let log = server.log();
    assert!(
        log.contains("shutdown: every queued delivery was handled"),
        "{log}"
    );
    assert_eq!(
        standin
            .recorded()
            .statuses
            .iter()
            .filter(|s| s.state == "pending")
            .count(),
        100
    );
}

// --- the local runner: real git, real Go ----------------------------------------------

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn go_found() -> Option<()> {
    Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(())
}

/// `livecov diff` of this binary when it has that command; otherwise a stand-in script
/// (NOT livecov diff) printing diff's documented JSON for the one changed function.
fn livecov_for_jobs(dir: &Path) -> (PathBuf, bool) {
    let real = PathBuf::from(env!("CARGO_BIN_EXE_livecov"));
    let has_diff = Command::new(&real)
        .args(["diff", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_diff {
        return (real, true);
    }
    let script = dir.join("livecov-diff-standin.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# STAND-IN for `livecov diff` until it lands: prints its JSON shape.\n\
             if [ \"$1\" = diff ]; then\n\
             echo '{{\"base\": \"'\"$5\"'\", \"head\": \"'\"$7\"'\", \"base_reason\": \"merge-base\", \
             \"patch\": {{\"lines\": 4, \"covered\": 2, \"percent\": 50.0}}, \
             \"files\": [{{\"path\": \"calc.go\", \"lines\": 4, \"covered\": 2, \"uncovered_lines\": [12, 13]}}]}}'\n\
             exit 0\nfi\nexec {} \"$@\"\n",
            real.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_runner_reports_pending_then_the_result_and_edits_one_comment() {
    if external::require("go (a Go toolchain on PATH)", go_found()).is_none() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("origin");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("go.mod"), "module example.com/calc\n\ngo 1.20\n").unwrap();
    std::fs::write(
        repo.join("calc.go"),
        "package calc\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("calc_test.go"),
        "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(1, 2) != 3 {\n\t\tt.Fatal(\"add\")\n\t}\n}\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "-qb", "feature"]);
    std::fs::write(
        repo.join("calc.go"),
        "package calc\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\n// Sub is new and not tested.\nfunc Sub(a, b int) int {\n\tif a < b {\n\t\treturn -(b - a)\n\t}\n\treturn a - b\n}\n",
    )
    .unwrap();
    git(&repo, &["commit", "-qam", "sub"]);
    let head1 = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(
        repo.join("more.go"),
        "package calc\n\nfunc Mul(a, b int) int { return a * b }\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "mul"]);
    let head2 = git(&repo, &["rev-parse", "HEAD"]);

    let (livecov, real_diff) = livecov_for_jobs(work.path());
    let env_dump = work.path().join("job-env.txt");
    let config = format!(
        "defaults:\n  lateAfterMinutes: 0.01\n  coverageThreshold: 10\n  \
         reportUrl: 'https://ci.example.invalid/{{org}}/{{repo}}/{{pr}}/{{sha}}'\n  \
         testCommand: 'env > {dump}; sleep 2; go test -coverprofile=\"$COVERAGE_PROFILE\" $TEST_PACKAGES'\n\
         repos:\n  {REPO}:\n    testPackages: ['./...']\n",
        dump = env_dump.display()
    );
    let standin = StandIn::start().await;
    let server = Server::start(
        &standin,
        Options {
            runner: "local",
            config,
            extra: vec![
                "--work-dir".into(),
                work.path().join("jobs").display().to_string(),
                "--livecov-bin".into(),
                livecov.display().to_string(),
                "--max-jobs".into(),
                "1".into(),
            ],
        },
    );
    let c = client();
    let clone_url = repo.display().to_string();
    let (s1, _) = deliver(
        &c,
        &server.url,
        "pull_request",
        "l-1",
        pr_event("opened", 5, &head1, &base, &clone_url),
    )
    .await;
    assert_eq!(s1, 200);
    // The pending status comes before the job has run (its test command sleeps 2 s).
    wait_for("pending", &server, || {
        !standin.statuses_of(&head1).is_empty()
    })
    .await;
    assert_eq!(standin.statuses_of(&head1)[0].state, "pending");
    wait_for("the first result", &server, || {
        standin
            .statuses_of(&head1)
            .iter()
            .any(|s| s.state != "pending" && !s.description.starts_with("informational"))
    })
    .await;
    let (s2, _) = deliver(
        &c,
        &server.url,
        "pull_request",
        "l-2",
        pr_event("synchronize", 5, &head2, &base, &clone_url),
    )
    .await;
    assert_eq!(s2, 200);
    wait_for("the second result", &server, || {
        standin
            .statuses_of(&head2)
            .iter()
            .any(|s| s.state != "pending" && !s.description.starts_with("informational"))
    })
    .await;

    for head in [&head1, &head2] {
        let statuses = standin.statuses_of(head);
        let log = server.log();
        assert_eq!(statuses[0].state, "pending", "{statuses:?}");
        // The job sleeps past the 0.6 s deadline: an informational status, then the result.
        assert_eq!(statuses[1].state, "success", "{statuses:?}\n{log}");
        assert!(
            statuses[1]
                .description
                .starts_with("informational: no coverage result after 1 s"),
            "{statuses:?}"
        );
        let last = statuses.last().unwrap();
        assert_eq!(last.state, "success", "{statuses:?}\n{log}");
        assert!(last.description.contains("total "), "{}", last.description);
        assert_eq!(
            last.target_url.as_deref(),
            Some(format!("https://ci.example.invalid/Codertocat/Hello-World/5/{head}").as_str())
        );
        if !real_diff {
            assert!(
                last.description.starts_with("patch 50.0% (2/4), total "),
                "{}",
                last.description
            );
        }
    }
    // One comment, created for the first push and edited for the second (the comment is
    // written after the status).
    wait_for("the comment's second write", &server, || {
        standin
            .recorded()
            .comments
            .values()
            .map(|c| c.writes.len())
            .sum::<usize>()
            >= 2
    })
    .await;
    let (comments, requests) = {
        let rec = standin.recorded();
        (rec.comments.clone(), rec.requests.clone())
    };
    assert_eq!(comments.len(), 1, "{comments:?}");
    let comment = comments.values().next().unwrap();
    assert_eq!(comment.writes, ["POST", "PATCH"]);
    assert!(
        comment
            .body
            .starts_with("<!-- livecov:coverage-comment coverage-auto -->\n"),
        "{}",
        comment.body
    );
    assert!(comment.body.contains(&head2[..12]), "{}", comment.body);
    assert!(
        comment.body.contains("`calc.go`") || real_diff,
        "{}",
        comment.body
    );
    // Artifacts for Prow's coverage lens and the site.
    let artifacts = work
        .path()
        .join("jobs")
        .join(format!("Codertocat_Hello-World_5_{}", &head2[..12]))
        .join("artifacts");
    for f in [
        "filtered.cov",
        "filtered.html",
        "diff.json",
        "test.log",
        "site/index.html",
    ] {
        assert!(
            artifacts.join(f).is_file(),
            "{} is missing",
            artifacts.join(f).display()
        );
    }
    assert!(std::fs::read_to_string(artifacts.join("filtered.cov"))
        .unwrap()
        .starts_with("mode: "));
    // Every GitHub call carried the token; it appears nowhere else.
    assert!(requests
        .iter()
        .all(|(_, _, auth)| auth.as_deref() == Some(&format!("Bearer {TOKEN}"))));
    assert!(!server.log().contains(TOKEN));
    assert!(
        !std::fs::read_to_string(&env_dump).unwrap().contains(TOKEN),
        "the test command got the token"
    );
    let q = c
        .get(format!("{}/queue", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let m = c
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!q.contains(TOKEN) && !m.contains(TOKEN));
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.child.id())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(TOKEN));
}

/// Runs `livecov diff --github-report` as a ProwJob's pod would: Prow's job environment,
/// the token in a mounted file, GitHub at the STAND-IN's address.
fn job_report(dir: &Path, env: &[(&str, String)], args: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_livecov"));
    c.arg("diff").args(args).current_dir(dir);
    for k in [
        "REPO_OWNER",
        "REPO_NAME",
        "PULL_NUMBER",
        "PULL_PULL_SHA",
        "PULL_BASE_SHA",
        "JOB_NAME",
        "COVERAGE_THRESHOLD",
        "PATCH_COVERAGE_THRESHOLD",
        "LIVECOV_REPORT_URL",
        "GITHUB_TOKEN",
        "LIVECOV_GITHUB_ENDPOINT",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prow_job_posts_its_own_status_and_edits_the_one_comment() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("src");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("go.mod"), "module example.com/calc\n\ngo 1.20\n").unwrap();
    std::fs::write(
        repo.join("calc.go"),
        "package calc\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(
        repo.join("calc.go"),
        "package calc\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\n// Sub is new.\nfunc Sub(a, b int) int {\n\tif a < b {\n\t\treturn b - a\n\t}\n\treturn a - b\n}\n",
    )
    .unwrap();
    git(&repo, &["commit", "-qam", "sub"]);
    let head1 = git(&repo, &["rev-parse", "HEAD"]);
    // The job's profile, in Go's text format (what `go test -coverprofile` writes): Sub
    // ran, its `if` body did not.
    let profile = work.path().join("pr.cov");
    std::fs::write(
        &profile,
        "mode: set\nexample.com/calc/calc.go:3.24,5.2 1 1\nexample.com/calc/calc.go:8.24,9.11 1 1\n\
         example.com/calc/calc.go:9.11,11.3 1 0\nexample.com/calc/calc.go:12.2,12.14 1 1\n",
    )
    .unwrap();
    let token_file = work.path().join("oauth");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();

    let standin = StandIn::start().await;
    let prow_env = |head: &str| {
        vec![
            ("REPO_OWNER", "Codertocat".to_owned()),
            ("REPO_NAME", "Hello-World".to_owned()),
            ("PULL_NUMBER", "5".to_owned()),
            ("PULL_PULL_SHA", head.to_owned()),
            ("PULL_BASE_SHA", base.clone()),
            ("JOB_NAME", "coverage-auto".to_owned()),
            ("COVERAGE_THRESHOLD", "10".to_owned()),
            ("PATCH_COVERAGE_THRESHOLD", "90".to_owned()),
            (
                "LIVECOV_REPORT_URL",
                format!("https://ci.example.invalid/5/{head}"),
            ),
        ]
    };
    let p = profile.display().to_string();
    let t = token_file.display().to_string();
    let report_args = |code: &'static str| {
        vec![
            "--profile".to_owned(),
            p.clone(),
            "--github-report".to_owned(),
            "--github-endpoint".to_owned(),
            standin.url.clone(),
            "--github-token-path".to_owned(),
            t.clone(),
            "--tests-exit-code".to_owned(),
            code.to_owned(),
        ]
    };

    // What the server's own report code makes of the same diff.
    let expected_status = |head: &str, tests_passed: bool| {
        let json = job_report(
            &repo,
            &[],
            &["--profile", &p, "--base", &base, "--format", "json"],
        );
        let outcome =
            livecov_server::webhook::runner::Outcome::from_diff_json(&json.stdout, tests_passed)
                .unwrap();
        let env: Vec<(String, String)> = prow_env(head)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let job_env = livecov_server::webhook::inside::JobEnv::from_env(|k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
        .unwrap();
        let job = job_env.job();
        (
            livecov_server::webhook::report::final_status(&job, &outcome),
            livecov_server::webhook::report::comment(&job, &outcome),
        )
    };

    // The first push: tests passed, the patch misses its 90% (the `if` body never ran).
    let (dir, env, args) = (repo.clone(), prow_env(&head1), report_args("0"));
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        job_report(&dir, &env, &args)
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // The gate of --fail-under-patch is not given: diff itself exits 0.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("posted failure"), "{stderr}");
    let statuses = standin.statuses_of(&head1);
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    let (want, want_comment) = expected_status(&head1, true);
    assert_eq!(statuses[0].state, "failure");
    assert_eq!(statuses[0].state, want.state);
    assert_eq!(statuses[0].description, want.description);
    assert!(
        statuses[0].description.contains("-- patch below 90%"),
        "{statuses:?}"
    );
    assert_eq!(statuses[0].context, "coverage-auto");
    assert_eq!(
        statuses[0].target_url.as_deref(),
        Some(format!("https://ci.example.invalid/5/{head1}").as_str())
    );
    {
        let rec = standin.recorded();
        assert_eq!(rec.comments.len(), 1);
        let c = rec.comments.values().next().unwrap();
        assert_eq!((c.repo.as_str(), c.number), (REPO, 5));
        assert_eq!(c.writes, ["POST"]);
        assert_eq!(c.body, want_comment);
        assert!(c.body.contains("| `calc.go` |"), "{}", c.body);
    }

    // The second push, its tests failing: the same comment is edited, not a new one.
    std::fs::write(repo.join("more.go"), "package calc\n\nvar Unused = 1\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "more"]);
    let head2 = git(&repo, &["rev-parse", "HEAD"]);
    let (dir, env, args) = (repo.clone(), prow_env(&head2), report_args("1"));
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        job_report(&dir, &env, &args)
    })
    .await
    .unwrap();
    let stderr2 = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr2}");
    let statuses = standin.statuses_of(&head2);
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0].state, "failure");
    assert!(
        statuses[0].description.ends_with("-- tests failed"),
        "{statuses:?}"
    );
    {
        let rec = standin.recorded();
        assert_eq!(rec.comments.len(), 1, "one comment per pull request");
        let c = rec.comments.values().next().unwrap();
        assert_eq!(c.writes, ["POST", "PATCH"]);
        assert!(c.body.contains(&head2[..12]), "{}", c.body);
        assert!(c
            .body
            .starts_with("<!-- livecov:coverage-comment coverage-auto -->\n"));
        // The token went only into the Authorization header.
        assert!(rec
            .requests
            .iter()
            .all(|(_, _, auth)| auth.as_deref() == Some(&format!("Bearer {TOKEN}"))));
    }
    assert!(!stderr.contains(TOKEN) && !stderr2.contains(TOKEN));

    // Outside a Prow job: every missing variable named, exit 2, nothing posted.
    let before = standin.recorded().requests.len();
    let (dir, args) = (repo.clone(), report_args("0"));
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        job_report(&dir, &[("REPO_OWNER", "Codertocat".into())], &args)
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for v in ["REPO_NAME", "PULL_NUMBER", "PULL_PULL_SHA", "PULL_BASE_SHA"] {
        assert!(err.contains(&format!("{v} is not set")), "{err}");
    }
    assert_eq!(standin.recorded().requests.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_script_runs_the_tests_and_reports_itself() {
    if external::require("go (a Go toolchain on PATH)", go_found()).is_none() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("src");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("go.mod"), "module example.com/calc\n\ngo 1.20\n").unwrap();
    std::fs::write(
        repo.join("calc.go"),
        "package calc\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("calc_test.go"),
        "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(1, 2) != 3 {\n\t\tt.Fatal(\"add\")\n\t}\n}\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(
        repo.join("calc.go"),
        "package calc\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\nfunc Sub(a, b int) int {\n\treturn a - b\n}\n",
    )
    .unwrap();
    git(&repo, &["commit", "-qam", "sub"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);

    let standin = StandIn::start().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/webhook/coverage-job.sh");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_livecov"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let artifacts = work.path().join("artifacts");
    let (dir, url, h, b, a) = (
        repo.clone(),
        standin.url.clone(),
        head.clone(),
        base.clone(),
        artifacts.clone(),
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg(&script)
            .arg("./...")
            .current_dir(&dir)
            .env("PATH", path)
            .env("GOTOOLCHAIN", "local")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("ARTIFACTS", &a)
            .env("REPO_OWNER", "Codertocat")
            .env("REPO_NAME", "Hello-World")
            .env("PULL_NUMBER", "9")
            .env("PULL_PULL_SHA", &h)
            .env("PULL_BASE_SHA", &b)
            .env("JOB_NAME", "coverage-auto")
            .env("COVERAGE_THRESHOLD", "10")
            .env("LIVECOV_GITHUB_ENDPOINT", &url)
            .env("GITHUB_TOKEN", TOKEN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Sub never ran: its block's three lines (7-9, Go's line view) are the patch, all
    // uncovered; the tests passed and the total (Add's half of the lines) is over 10%.
    let statuses = standin.statuses_of(&head);
    assert_eq!(statuses.len(), 1, "{statuses:?}\n{stderr}");
    assert_eq!(statuses[0].state, "success", "{statuses:?}");
    assert!(
        statuses[0].description == "patch 0.0% (0/3), total 50.0% | threshold: 10%",
        "{statuses:?}"
    );
    let rec = standin.recorded();
    assert_eq!(rec.comments.len(), 1);
    assert!(rec
        .comments
        .values()
        .next()
        .unwrap()
        .body
        .contains("| `calc.go` | 3 | 0 | 7, 8, 9 |"));
    for f in ["filtered.cov", "test.log", "coverage.md", "site/index.html"] {
        assert!(artifacts.join(f).is_file(), "{f} is missing\n{stderr}");
    }
    assert!(!stderr.contains(TOKEN));
}
