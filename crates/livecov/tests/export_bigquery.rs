//! `livecov export bigquery` (the older `bigquery ingest`) against a stand-in.
//!
//! No real BigQuery can run here, so the tests start a **stand-in** on 127.0.0.1: a small
//! stateful server that answers the REST calls the export makes (OAuth token exchange,
//! datasets.insert, tables.insert, resumable load jobs, jobs.insert of a query, jobs.get,
//! tables.delete) in the shapes BigQuery's REST reference (v2) documents, keeps the rows of
//! each table, and runs the one transaction script shape the export sends (DELETE of a
//! collection, INSERT … SELECT * from a staging table). The tests check the request shapes
//! (schemas, partitioning, clustering, job configurations, the RS256 JWT of the service
//! account, verified with the key's public half) and the rows: every source line of every
//! file, the counts equal to livecov's own LCOV export of the same build, untracked lines
//! -1, and a rerun replacing the collection's rows instead of duplicating them.

#[path = "support/http.rs"]
mod http;
#[path = "support/tree.rs"]
mod tree;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use http::Request;
use serde_json::{json, Value};
use tree::copy_tree;

fn livecov(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_livecov"));
    c.args(args)
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("HOME", "/nonexistent-livecov-home")
        .env("GCE_METADATA_HOST", "127.0.0.1:9");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/golden")
}

fn programs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/programs")
}

/// One pod of `owner` from a golden scenario, its info.json naming `repo`@`commit`.
fn add_pod(collection: &Path, name: &str, scenario: &str, owner: &str, repo: &str, commit: &str) {
    let dir = collection.join("coverage").join(name);
    fs::create_dir_all(&dir).unwrap();
    for e in fs::read_dir(golden().join("data").join(scenario)).unwrap() {
        let e = e.unwrap();
        if e.file_name() != ".gitkeep" {
            fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    fs::write(
        dir.join("metadata.json"),
        format!(
            r#"{{"pod_name": "{owner}-7d9f8b6c4-x2x9z", "namespace": "shop",
                "container": {{"name": "app", "image": "img/{owner}"}},
                "binary_name": "{owner}", "collected_at": "2026-11-21T09:00:00Z",
                "hostname": "node-a", "host_process": false,
                "owner_kind": "Deployment", "owner_name": "{owner}"}}"#
        ),
    )
    .unwrap();
    fs::write(
        dir.join("info.json"),
        format!(
            r#"{{"binary": "{owner}", "source_url": "{repo}", "source_commit": "{commit}",
                "software_group": "grp", "software_key": "key-{owner}"}}"#
        ),
    )
    .unwrap();
}

/// A compiled collection of two programs whose sources are in a git repository fetched by
/// clone-sources, so rows carry the source text.
struct Fixture {
    tmp: tempfile::TempDir,
    collection: PathBuf,
    key: PathBuf,
    public_der: Vec<u8>,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_tree(&programs(), &repo);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        ok(&out)
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "programs"]);
    let commit = git(&["rev-parse", "HEAD"]).trim().to_owned();
    let url = format!("file://{}", repo.display());
    let c = tmp.path().join("run1");
    add_pod(&c, "web", "count", "web", &url, &commit);
    add_pod(&c, "worker", "prog2_count", "worker", &url, &commit);
    let cs = c.to_str().unwrap();
    ok(&livecov(&["cluster", "compile", "--collection", cs], &[]));
    ok(&livecov(
        &[
            "cluster",
            "clone-sources",
            "--allow-local-remotes",
            "--collection",
            cs,
        ],
        &[],
    ));

    // A service account key: RSA 2048 in PKCS#8, as Google issues them.
    let pem = tmp.path().join("key.pem");
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&pem)
        .output()
        .unwrap();
    assert!(status.status.success(), "openssl genpkey: {status:?}");
    let public = Command::new("openssl")
        .args(["rsa", "-RSAPublicKey_out", "-outform", "DER", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    assert!(public.status.success(), "openssl rsa: {public:?}");
    Fixture {
        key: pem,
        public_der: public.stdout,
        collection: c,
        tmp,
    }
}

impl Fixture {
    /// A service account key file whose token_uri is the stand-in's.
    fn key_file(&self, base: &str) -> PathBuf {
        let path = self.tmp.path().join("sa.json");
        let key = json!({
            "type": "service_account",
            "project_id": "proj",
            "private_key_id": "kid-1",
            "private_key": fs::read_to_string(&self.key).unwrap(),
            "client_email": "ingest@proj.iam.gserviceaccount.com",
            "token_uri": format!("{base}/token"),
        });
        fs::write(&path, key.to_string()).unwrap();
        path
    }
}

/// One build's rows: (file, line) → (line_executions, source_line).
type BuildRows = BTreeMap<(String, u32), (i64, String)>;

/// What the stand-in holds and saw.
#[derive(Default)]
struct State {
    /// Every request: method, target, headers, body.
    seen: Vec<Request>,
    datasets: Vec<String>,
    /// Table → its tables.insert body.
    tables: BTreeMap<String, Value>,
    /// Table → rows.
    rows: BTreeMap<String, Vec<Value>>,
    /// Upload session → (load configuration, bytes so far).
    sessions: BTreeMap<String, (Value, Vec<u8>)>,
    /// Job id → (times polled, error).
    jobs: BTreeMap<String, (u32, Option<String>)>,
    /// Fail the load jobs of this table (with an errorResult, as BigQuery does).
    fail_loads_of: Option<String>,
    /// Answer the first upload chunk with 308 and half of it stored.
    resume_once: bool,
    tokens_issued: u32,
    public_der: Vec<u8>,
}

struct StandIn {
    base: String,
    state: Arc<Mutex<State>>,
}

impl StandIn {
    fn start(public_der: Vec<u8>) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            public_der,
            resume_once: true,
            ..State::default()
        }));
        let (s, b) = (state.clone(), base.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (s, b) = (s.clone(), b.clone());
                std::thread::spawn(move || serve(stream, &s, &b));
            }
        });
        StandIn { base, state }
    }

    fn rows(&self, table: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .rows
            .get(table)
            .cloned()
            .unwrap_or_default()
    }
}

/// One connection: requests until the client closes it.
fn serve(stream: std::net::TcpStream, state: &Mutex<State>, base: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    while let Some(request) = http::read_request(&mut reader) {
        let (status, extra, reply) = {
            let mut st = state.lock().unwrap();
            let answer = answer(&mut st, &request, base);
            st.seen.push(request);
            answer
        };
        let mut out = &stream;
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{reply}",
            reply.len()
        )
        .unwrap();
    }
}

const TOKEN: &str = "ya29.stand-in-token";

fn answer(st: &mut State, request: &Request, base: &str) -> (&'static str, String, String) {
    let (method, target, body) = (
        request.method.as_str(),
        request.target.as_str(),
        &request.body[..],
    );
    let err = |code: &'static str, reason: &str| {
        (
            code,
            String::new(),
            json!({"error": {"code": code[..3].parse::<u32>().unwrap(), "message": reason,
                "errors": [{"reason": reason}]}})
            .to_string(),
        )
    };
    if method == "POST" && target == "/token" {
        let form: BTreeMap<String, String> = String::from_utf8_lossy(body)
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), percent_decode(v)))
            .collect();
        assert_eq!(
            form["grant_type"],
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        check_jwt(&form["assertion"], &st.public_der, &format!("{base}/token"));
        st.tokens_issued += 1;
        return (
            "200 OK",
            String::new(),
            json!({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}).to_string(),
        );
    }
    if request.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return err("401 Unauthorized", "unauthorized");
    }
    let json_body = || serde_json::from_slice::<Value>(body).unwrap();
    let api = "/bigquery/v2/projects/proj";
    if method == "POST" && target == format!("{api}/datasets") {
        let b = json_body();
        assert_eq!(b["datasetReference"]["projectId"], "proj");
        let id = b["datasetReference"]["datasetId"]
            .as_str()
            .unwrap()
            .to_owned();
        if st.datasets.contains(&id) {
            return err("409 Conflict", "duplicate");
        }
        st.datasets.push(id);
        return ("200 OK", String::new(), b.to_string());
    }
    if method == "POST" && target == format!("{api}/datasets/cov/tables") {
        let b = json_body();
        let id = b["tableReference"]["tableId"].as_str().unwrap().to_owned();
        if st.tables.contains_key(&id) {
            return err("409 Conflict", "duplicate");
        }
        st.tables.insert(id, b.clone());
        return ("200 OK", String::new(), b.to_string());
    }
    if method == "POST" && target == "/upload/bigquery/v2/projects/proj/jobs?uploadType=resumable" {
        let b = json_body();
        let session = format!("s{}", st.sessions.len());
        st.sessions.insert(session.clone(), (b, Vec::new()));
        return (
            "200 OK",
            format!("Location: {base}/upload/session/{session}\r\n"),
            String::new(),
        );
    }
    if method == "PUT" && target.starts_with("/upload/session/") {
        let session = target.trim_start_matches("/upload/session/").to_owned();
        let range = request.header("content-range").unwrap().to_owned();
        // `bytes a-b/total` or `bytes */total`.
        let (span, total) = range.trim_start_matches("bytes ").split_once('/').unwrap();
        let total: usize = total.parse().unwrap();
        let start: usize = span.split('-').next().unwrap().parse().unwrap_or(0);
        let resume = std::mem::take(&mut st.resume_once);
        let (config, data) = st.sessions.get_mut(&session).unwrap();
        assert_eq!(start, data.len(), "the client resumed at the wrong offset");
        let take = if resume { body.len() / 2 } else { body.len() };
        data.extend_from_slice(&body[..take]);
        if data.len() < total {
            let held = data.len();
            return (
                "308 Resume Incomplete",
                format!("Range: bytes=0-{}\r\n", held - 1),
                String::new(),
            );
        }
        let config = config.clone();
        let data = std::mem::take(data);
        let load = &config["configuration"]["load"];
        let job = config["jobReference"]["jobId"].as_str().unwrap().to_owned();
        let table = load["destinationTable"]["tableId"]
            .as_str()
            .unwrap()
            .to_owned();
        let failing = st
            .fail_loads_of
            .as_deref()
            .is_some_and(|t| table.contains(t));
        if failing {
            st.jobs.insert(
                job.clone(),
                (0, Some("Provided Schema does not match".into())),
            );
        } else {
            assert_eq!(load["writeDisposition"], "WRITE_TRUNCATE");
            assert_eq!(load["sourceFormat"], "NEWLINE_DELIMITED_JSON");
            let rows: Vec<Value> = String::from_utf8(data)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let fields = load["schema"]["fields"].as_array().unwrap();
            for r in &rows {
                for f in fields {
                    if f["mode"] == "REQUIRED" {
                        assert!(!r[f["name"].as_str().unwrap()].is_null(), "{f} in {r}");
                    }
                }
            }
            st.rows.insert(table, rows);
            st.jobs.insert(job.clone(), (0, None));
        }
        return (
            "200 OK",
            String::new(),
            json!({"jobReference": {"projectId": "proj", "jobId": job},
                "status": {"state": "RUNNING"}})
            .to_string(),
        );
    }
    if method == "POST" && target == format!("{api}/jobs") {
        let b = json_body();
        let job = b["jobReference"]["jobId"].as_str().unwrap().to_owned();
        let q = &b["configuration"]["query"];
        assert_eq!(q["useLegacySql"], false);
        assert_eq!(q["queryParameters"][0]["name"], "collection_id");
        let collection = q["queryParameters"][0]["parameterValue"]["value"]
            .as_str()
            .unwrap()
            .to_owned();
        run_script(st, q["query"].as_str().unwrap(), &collection);
        st.jobs.insert(job.clone(), (0, None));
        return ("200 OK", String::new(), b.to_string());
    }
    if method == "GET" && target.starts_with(&format!("{api}/jobs/")) {
        let job = target.trim_start_matches(&format!("{api}/jobs/"));
        let Some((polls, error)) = st.jobs.get_mut(job) else {
            return err("404 Not Found", "notFound");
        };
        *polls += 1;
        // Running on the first look, as a real job often is.
        let status = match (*polls, error) {
            (1, _) => json!({"state": "RUNNING"}),
            (_, Some(e)) => json!({"state": "DONE", "errorResult": {"reason": "invalid",
                "message": e}, "errors": [{"message": e}]}),
            (_, None) => json!({"state": "DONE"}),
        };
        return (
            "200 OK",
            String::new(),
            json!({"jobReference": {"jobId": job}, "status": status}).to_string(),
        );
    }
    if method == "DELETE" && target.starts_with(&format!("{api}/datasets/cov/tables/")) {
        let table = target.rsplit('/').next().unwrap();
        return if st.rows.remove(table).is_some() {
            ("204 No Content", String::new(), String::new())
        } else {
            err("404 Not Found", "notFound")
        };
    }
    err("404 Not Found", "no such call in the stand-in")
}

/// Runs the transaction script the export sends, statement by statement: the only two
/// kinds it has.
fn run_script(st: &mut State, script: &str, collection: &str) {
    let mut lines = script.lines();
    assert_eq!(lines.next(), Some("BEGIN TRANSACTION;"));
    let name = |quoted: &str| {
        quoted
            .trim_matches('`')
            .strip_prefix("proj.cov.")
            .unwrap()
            .to_owned()
    };
    let mut committed = false;
    for l in lines {
        let words: Vec<&str> = l.trim_end_matches(';').split(' ').collect();
        match words.as_slice() {
            ["DELETE", "FROM", t, "WHERE", "collection_id", "=", "@collection_id"] => {
                let t = name(t);
                assert!(st.tables.contains_key(&t), "{t} was never created");
                st.rows
                    .entry(t)
                    .or_default()
                    .retain(|r| r["collection_id"] != collection);
            }
            ["INSERT", "INTO", t, "SELECT", "*", "FROM", s] => {
                let staged = st.rows.get(&name(s)).cloned().unwrap();
                st.rows.entry(name(t)).or_default().extend(staged);
            }
            ["COMMIT", "TRANSACTION"] => committed = true,
            other => panic!("a statement the stand-in does not know: {other:?}"),
        }
    }
    assert!(committed, "{script}");
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The service account's JWT: RS256 over header.claims, verified with the public key,
/// and the claims Google's token endpoint requires.
fn check_jwt(jwt: &str, public_der: &[u8], audience: &str) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let decode = |p: &str| b64url(p);
    let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
    let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "kid-1");
    assert_eq!(claims["iss"], "ingest@proj.iam.gserviceaccount.com");
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/bigquery");
    assert_eq!(claims["aud"], audience);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        public_der,
    );
    key.verify(
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &decode(parts[2]),
    )
    .expect("the JWT's signature verifies with the service account's public key");
}

fn b64url(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = A.iter().position(|&a| a == c).unwrap() as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn ingest(f: &Fixture, s: &StandIn, extra: &[&str]) -> Output {
    let key = f.key_file(&s.base);
    let mut args = vec![
        "export",
        "bigquery",
        "--collection",
        f.collection.to_str().unwrap(),
        "--project",
        "proj",
        "--dataset",
        "cov",
        "--bigquery-url",
        &s.base,
    ];
    args.extend_from_slice(extra);
    livecov(
        &args,
        &[("GOOGLE_APPLICATION_CREDENTIALS", key.to_str().unwrap())],
    )
}

/// The builds of the collection (hash, binary) from `report --format json`.
fn builds(c: &Path) -> Vec<(String, String)> {
    let out = ok(&livecov(
        &[
            "report",
            "--collection",
            c.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut found: Vec<(String, String)> = v["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["build"].as_str().unwrap().to_owned(),
                o["binary"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// `DA` lines of livecov's LCOV export of one build: (file, line) → count.
fn lcov_lines(c: &Path, build: &str) -> BTreeMap<(String, u32), i64> {
    let out = ok(&livecov(
        &[
            "export",
            "--collection",
            c.to_str().unwrap(),
            "--format",
            "lcov",
            "--build",
            build,
        ],
        &[],
    ));
    let mut file = String::new();
    let mut lines = BTreeMap::new();
    for l in out.lines() {
        if let Some(f) = l.strip_prefix("SF:") {
            file = f.to_owned();
        } else if let Some(da) = l.strip_prefix("DA:") {
            let mut p = da.split(',');
            let line: u32 = p.next().unwrap().parse().unwrap();
            let count: i64 = p.next().unwrap().parse().unwrap();
            lines.insert((file.clone(), line), count);
        }
    }
    lines
}

#[test]
fn rows_are_every_source_line_with_the_lcov_counts_and_a_rerun_replaces_them() {
    let f = fixture();
    let s = StandIn::start(f.public_der.clone());
    let out = ingest(&f, &s, &["--collection-id", "run-1"]);
    let stdout = ok(&out);
    assert!(
        stdout.contains("created cov, cov.coverage_data, cov.coverage_generators"),
        "{stdout}"
    );

    // The tables as the older tool made them.
    {
        let st = s.state.lock().unwrap();
        let data = &st.tables["coverage_data"];
        assert_eq!(
            data["timePartitioning"],
            json!({"type": "DAY", "field": "ingestion_time"})
        );
        assert_eq!(
            data["clustering"]["fields"],
            json!(["binary_hash", "collection_id"])
        );
        let columns: Vec<(&str, &str, &str)> = data["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap(),
                    f["type"].as_str().unwrap(),
                    f["mode"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            columns,
            [
                ("ingestion_time", "TIMESTAMP", "REQUIRED"),
                ("binary_hash", "STRING", "REQUIRED"),
                ("collection_id", "STRING", "REQUIRED"),
                ("source_filename", "STRING", "REQUIRED"),
                ("source_line", "STRING", "NULLABLE"),
                ("source_line_number", "INTEGER", "REQUIRED"),
                ("line_executions", "INTEGER", "REQUIRED"),
            ]
        );
        let gens = &st.tables["coverage_generators"];
        assert_eq!(
            gens["clustering"]["fields"],
            json!([
                "software_group",
                "binary_hash",
                "collection_id",
                "source_url"
            ])
        );
        assert_eq!(gens["schema"]["fields"][7]["name"], "generators");
        assert_eq!(gens["schema"]["fields"][7]["mode"], "REPEATED");
        // One token for the whole run; the staging tables are gone.
        assert_eq!(st.tokens_issued, 1);
        assert_eq!(
            st.rows.keys().collect::<Vec<_>>(),
            ["coverage_data", "coverage_generators"]
        );
        // The key never travels: only the signed JWT does.
        let key = fs::read_to_string(&f.key).unwrap();
        let secret_line = key.lines().nth(3).unwrap();
        for r in &st.seen {
            assert!(!String::from_utf8_lossy(&r.body).contains(secret_line));
        }
    }

    let rows = s.rows("coverage_data");
    let builds = builds(&f.collection);
    assert_eq!(builds.len(), 2, "{builds:?}");
    let mut per_build: BTreeMap<String, BuildRows> = BTreeMap::new();
    let at = rows[0]["ingestion_time"].as_str().unwrap().to_owned();
    for r in &rows {
        assert_eq!(r["collection_id"], "run-1");
        assert_eq!(
            r["ingestion_time"],
            at.as_str(),
            "one ingestion_time per run"
        );
        per_build
            .entry(r["binary_hash"].as_str().unwrap().to_owned())
            .or_default()
            .insert(
                (
                    r["source_filename"].as_str().unwrap().to_owned(),
                    r["source_line_number"].as_u64().unwrap() as u32,
                ),
                (
                    r["line_executions"].as_i64().unwrap(),
                    r["source_line"].as_str().unwrap().to_owned(),
                ),
            );
    }
    assert_eq!(per_build.len(), 2);
    for (hash, _) in &builds {
        let mine = &per_build[hash];
        let lcov = lcov_lines(&f.collection, hash);
        assert!(!lcov.is_empty());
        // Every executable line has the LCOV export's count; every other line is -1.
        for ((file, line), (count, _)) in mine {
            assert_eq!(
                *count,
                lcov.get(&(file.clone(), *line)).copied().unwrap_or(-1),
                "{hash} {file}:{line}"
            );
        }
        for key in lcov.keys() {
            assert!(mine.contains_key(key), "{hash}: {key:?} has no row");
        }
        // Every line of every file, with its text at the commit.
        let files: std::collections::BTreeSet<&String> = mine.keys().map(|(f, _)| f).collect();
        for file in files {
            let text = fs::read_to_string(programs().join(file)).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let got: Vec<&str> = (1..=lines.len() as u32)
                .map(|n| mine[&(file.clone(), n)].1.as_str())
                .collect();
            assert_eq!(got, lines, "{hash} {file}");
            assert!(!mine.contains_key(&(file.clone(), lines.len() as u32 + 1)));
        }
    }

    // The generators: one row per build, owners listed.
    let gens = s.rows("coverage_generators");
    assert_eq!(gens.len(), 2);
    let web = gens
        .iter()
        .find(|g| g["generators"][0]["binary_name"] == "web")
        .unwrap();
    assert_eq!(
        web["generators"],
        json!([{"namespace": "shop", "owner": "web", "container": "app", "binary_name": "web"}])
    );
    assert_eq!(web["software_key"], "key-web");
    assert_eq!(web["software_group"], "grp");
    assert!(web["source_url"].as_str().unwrap().starts_with("file://"));

    // A second collection beside it, then a rerun of the first: replaced, not duplicated,
    // and the second collection untouched.
    ok(&ingest(&f, &s, &["--collection-id", "run-2"]));
    assert_eq!(s.rows("coverage_data").len(), 2 * rows.len());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = ok(&ingest(&f, &s, &["--collection-id", "run-1"]));
    assert!(!again.contains("created"), "{again}");
    let after = s.rows("coverage_data");
    assert_eq!(after.len(), 2 * rows.len());
    let run1: Vec<&Value> = after
        .iter()
        .filter(|r| r["collection_id"] == "run-1")
        .collect();
    assert_eq!(run1.len(), rows.len());
    assert!(run1.iter().all(|r| r["ingestion_time"] != at.as_str()));
    assert_eq!(s.rows("coverage_generators").len(), 4);
}

#[test]
fn a_failed_load_fails_the_run_and_leaves_the_earlier_rows() {
    let f = fixture();
    let s = StandIn::start(f.public_der.clone());
    ok(&ingest(&f, &s, &[]));
    let before = s.rows("coverage_data");
    s.state.lock().unwrap().fail_loads_of = Some("coverage_generators".into());
    let out = ingest(&f, &s, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the load of livecov_staging_coverage_generators_")
            && stderr.contains("Provided Schema does not match"),
        "{stderr}"
    );
    // The transaction never ran: the rows are those of the first run.
    assert_eq!(s.rows("coverage_data"), before);
    // The default collection_id is the --collection value, as the older tool wrote it.
    assert_eq!(before[0]["collection_id"], f.collection.to_str().unwrap());
}

#[test]
fn a_dry_run_needs_no_credentials_and_sends_nothing() {
    let f = fixture();
    let out = livecov(
        &[
            "export",
            "--format",
            "bigquery",
            "--collection",
            f.collection.to_str().unwrap(),
            "--project",
            "proj",
            "--dataset",
            "cov",
            "--bigquery-url",
            "http://127.0.0.1:9",
            "--dry-run",
            "--owner",
            "web",
        ],
        &[],
    );
    let stdout = ok(&out);
    assert!(stdout.starts_with("would load into proj.cov"), "{stdout}");
    assert!(
        stdout.contains("1 coverage_generators rows, 1 builds, 1 owners"),
        "{stdout}"
    );
}

#[test]
fn missing_credentials_and_bad_names_are_clear_errors() {
    let f = fixture();
    let c = f.collection.to_str().unwrap();
    let base = ["export", "bigquery", "--collection", c, "--project", "proj"];
    let out = livecov(&[&base[..], &["--dataset", "cov"]].concat(), &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no Application Default Credentials")
            && stderr.contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{stderr}"
    );
    let out = livecov(&[&base[..], &["--dataset", "a-b"]].concat(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--dataset \"a-b\": expected a BigQuery dataset id"),
        "{stderr}"
    );
    let out = livecov(&base, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs --project and --dataset"), "{stderr}");
}
