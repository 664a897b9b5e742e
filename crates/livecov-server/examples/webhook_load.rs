//! Load generator of bench/webhook.sh: N signed `pull_request` deliveries in flight at
//! once against a real `livecov serve --webhook --runner dry-run`, with GitHub played by
//! the tests' local stand-in (NOT GitHub: tests/support/github_standin.rs, answering
//! with recorded GitHub payloads). Measures, per delivery, the time from the request
//! being sent to its pending status arriving at the stand-in; prints p50/p90/p99/max.
//!
//!     cargo run --release -p livecov-server --example webhook_load -- \
//!         --livecov target/release/livecov [--deliveries 1000] [--rounds 3] [--workers 64]

#[path = "../tests/support/github_standin.rs"]
mod github_standin;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use github_standin::StandIn;

const SECRET: &str = "bench-secret";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn sign(body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let livecov = arg(&args, "--livecov").unwrap_or_else(|| "target/release/livecov".into());
    let n: u64 = arg(&args, "--deliveries").map_or(1000, |v| v.parse().expect("--deliveries N"));
    let rounds: u64 = arg(&args, "--rounds").map_or(3, |v| v.parse().expect("--rounds N"));
    let workers = arg(&args, "--workers").unwrap_or_else(|| "64".into());

    let standin = StandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hmac"), SECRET).unwrap();
    std::fs::write(dir.path().join("oauth"), "bench-token").unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        "repos:\n  Codertocat/Hello-World:\n    testPackages: ['./...']\n",
    )
    .unwrap();
    let mut child = Command::new(&livecov)
        .args([
            "serve",
            "--webhook",
            "--runner",
            "dry-run",
            "--address",
            "127.0.0.1",
            "--port",
            "0",
        ])
        .arg("--hmac-secret-file")
        .arg(dir.path().join("hmac"))
        .arg("--github-token-path")
        .arg(dir.path().join("oauth"))
        .args(["--github-endpoint", &standin.url])
        .args(["--workers", &workers])
        .arg("--config")
        .arg(dir.path().join("config.yaml"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{livecov}: {e}"));
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("livecov serve exited").unwrap();
        if let Some(at) = line.find("listening on http://") {
            let rest = &line[at + "listening on ".len()..];
            break rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('/')
                .to_owned();
        }
    };
    // Drain the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});

    let event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/github/event-pull_request-opened.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(2000)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut all = Vec::new();
    for round in 0..rounds {
        let mut bodies = Vec::new();
        for i in 0..n {
            let mut v = event.clone();
            let sha = format!("{:040x}", (round << 32) | i);
            v["action"] = "synchronize".into();
            v["pull_request"]["number"] = (i + 1).into();
            v["pull_request"]["head"]["sha"] = sha.clone().into();
            let body = serde_json::to_vec(&v).unwrap();
            bodies.push((sha, format!("bench-{round}-{i}"), sign(&body), body));
        }
        let before = standin.recorded().statuses.len();
        // Every request is started before any is awaited: n in flight at once.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(bodies.len()));
        let mut tasks = Vec::new();
        for (sha, id, sig, body) in bodies {
            let client = client.clone();
            let url = format!("{url}/");
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let sent = Instant::now();
                let resp = client
                    .post(url)
                    .header("X-GitHub-Event", "pull_request")
                    .header("X-GitHub-Delivery", id)
                    .header("X-Hub-Signature-256", sig)
                    .body(body)
                    .send()
                    .await
                    .expect("delivery");
                assert_eq!(resp.status().as_u16(), 200);
                (sha, sent)
            }));
        }
        let mut sent = std::collections::HashMap::new();
        for t in tasks {
            let (sha, at) = t.await.unwrap();
            sent.insert(sha, at);
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while standin.recorded().statuses.len() < before + 2 * n as usize {
            assert!(Instant::now() < deadline, "statuses missing after 120 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut lat: Vec<Duration> = standin
            .recorded()
            .statuses
            .iter()
            .filter(|s| s.state == "pending")
            .filter_map(|s| Some(s.at.duration_since(*sent.get(&s.sha)?)))
            .collect();
        assert_eq!(lat.len(), n as usize, "one pending status per delivery");
        lat.sort();
        println!(
            "round {}: {n} deliveries in flight: webhook -> pending status p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
            round + 1,
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.9)),
            ms(percentile(&lat, 0.99)),
            ms(*lat.last().unwrap())
        );
        all.extend(lat);
    }
    all.sort();
    println!(
        "all {} deliveries: p50 {} ms, p99 {} ms (target p99 < 50 ms)",
        all.len(),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99))
    );
    let _ = child.kill();
    let _ = child.wait();
}
