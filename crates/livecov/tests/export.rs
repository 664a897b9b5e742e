//! `livecov export` read back by the consumers of each format: `go tool cover -func` on
//! the Go text profile, Debian's `genhtml` on the LCOV tracefile, `xmllint` (against
//! Cobertura's coverage-04.dtd and Sonar's generic coverage schema, both under
//! `tests/data/export/`), diff-cover (PyPI) on the Cobertura XML; and snapshots of the
//! JSON and Markdown summaries.
//!
//! The collection: two real Go programs (`tests/fixtures/go/golden`, module
//! `example.com/prog`, written by `go build -cover` binaries) compiled by
//! `livecov cluster compile`, with `info.json` naming their repository, so paths become
//! repo-relative (`dep/dep.go`) and the fixture module is the checkout.

#[path = "support/external.rs"]
mod external;
#[path = "support/http.rs"]
mod http;
#[path = "support/tree.rs"]
mod tree;

use tree::copy_tree;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/golden")
}

/// The checkout the fixture programs were built from (module `example.com/prog`).
fn programs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/programs")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/export")
        .join(name)
}

fn livecov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .output()
        .unwrap()
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

const REPO: &str = "https://example.com/prog";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Copies a golden scenario into `<collection>/coverage/<name>` as one pod of `owner`.
fn add_pod(collection: &Path, name: &str, scenario: &str, owner: &str) {
    add_pod_from(collection, name, scenario, owner, REPO, COMMIT);
}

/// [`add_pod`] with the repo@commit its `info.json` names.
fn add_pod_from(
    collection: &Path,
    name: &str,
    scenario: &str,
    owner: &str,
    repo: &str,
    commit: &str,
) {
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
        format!(r#"{{"binary": "{owner}", "source_url": "{repo}", "source_commit": "{commit}"}}"#),
    )
    .unwrap();
}

/// A compiled collection of two programs sharing the packages `dep` and `types`.
fn collection() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("run1");
    add_pod(&c, "web", "count", "web");
    add_pod(&c, "worker", "prog2_count", "worker");
    ok(&livecov(&[
        "cluster",
        "compile",
        "--collection",
        c.to_str().unwrap(),
    ]));
    (tmp, c)
}

fn export(c: &Path, format: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "export",
        "--collection",
        c.to_str().unwrap(),
        "--format",
        format,
    ];
    args.extend_from_slice(extra);
    ok(&livecov(&args))
}

fn summary(c: &Path, extra: &[&str]) -> serde_json::Value {
    serde_json::from_str(&export(c, "json", extra)).unwrap()
}

fn found(program: &str) -> Option<()> {
    Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| ())
}

/// Go's `%.1f` of a percentage.
fn pct(covered: u64, total: u64) -> String {
    format!("{:.1}", 100.0 * covered as f64 / total.max(1) as f64)
}

/// `go tool cover -func=<profile>` run in the fixture module.
fn cover_func(profile: &Path) -> String {
    let out = go()
        .args(["tool", "cover", &format!("-func={}", profile.display())])
        .current_dir(programs())
        .output()
        .unwrap();
    ok(&out)
}

fn go() -> Command {
    let mut cmd = Command::new("go");
    cmd.env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOWORK", "off");
    cmd
}

fn total_line(func: &str) -> &str {
    func.lines()
        .find(|l| l.starts_with("total:"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no total line in {func}"))
}

#[test]
fn go_export_reads_in_go_tool_cover_as_covdatas_own_profile_does() {
    let have_go = go()
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if external::require("`go` on PATH", have_go.then_some(())).is_none() {
        return;
    }
    let (tmp, c) = collection();
    let text = export(&c, "go", &[]);
    assert!(text.starts_with("mode: count\n"), "{text}");
    // Import paths, as Go's tools want them.
    assert!(text.contains("\nexample.com/prog/dep/dep.go:"), "{text}");
    let ours = tmp.path().join("filtered.cov");
    fs::write(&ours, &text).unwrap();

    // The whole collection: the same report as for covdata's merge of the two programs'
    // coverage directories, function by function.
    let theirs = tmp.path().join("covdata.cov");
    let dirs = format!(
        "{},{}",
        golden().join("data/count").display(),
        golden().join("data/prog2_count").display()
    );
    ok(&go()
        .args(["tool", "covdata", "textfmt", &format!("-i={dirs}")])
        .arg(format!("-o={}", theirs.display()))
        .output()
        .unwrap());
    assert_eq!(cover_func(&ours), cover_func(&theirs));

    // One build: cover's total is livecov's. (The web program's package-level function
    // literal is outside every function declaration, which `go tool cover -func` leaves
    // out of its total, formats.md §4.3; the worker program has none.)
    let worker = tmp.path().join("worker.cov");
    fs::write(&worker, export(&c, "go", &["--owner", "worker"])).unwrap();
    let s = summary(&c, &["--owner", "worker"]);
    let t = &s["totals"];
    let expected = pct(
        t["covered"].as_u64().unwrap(),
        t["statements"].as_u64().unwrap(),
    );
    let func = cover_func(&worker);
    assert_eq!(total_line(&func), format!("{expected}%"), "{func}");
    // Not a vacuous 0 or 100: the fixture leaves code unrun.
    assert!(t["covered"].as_u64() < t["statements"].as_u64(), "{s}");
    assert!(t["covered"].as_u64() > Some(0), "{s}");
}

#[test]
fn lcov_export_is_accepted_by_genhtml_with_livecovs_line_totals() {
    if external::require(
        "genhtml (Debian lcov; run .ci/install-llvm.sh)",
        found("genhtml"),
    )
    .is_none()
    {
        return;
    }
    let (tmp, c) = collection();
    let info = tmp.path().join("coverage.info");
    let out = livecov(&[
        "export",
        "--collection",
        c.to_str().unwrap(),
        "--format",
        "lcov",
        "-o",
        info.to_str().unwrap(),
    ]);
    ok(&out);
    let text = fs::read_to_string(&info).unwrap();
    assert!(text.contains("SF:dep/dep.go\n"), "{text}");

    // Run where the repo-relative paths resolve: genhtml reads every source file.
    let html = tmp.path().join("html");
    let out = Command::new("genhtml")
        .args(["-o", html.to_str().unwrap(), info.to_str().unwrap()])
        .current_dir(programs())
        .output()
        .unwrap();
    let log = ok(&out);
    assert!(html.join("index.html").is_file());
    let line = log
        .lines()
        .find(|l| l.trim_start().starts_with("lines"))
        .unwrap_or_else(|| panic!("no lines summary in {log}"));

    let t = summary(&c, &[])["totals"].clone();
    let (hit, found) = (
        t["lines_hit"].as_u64().unwrap(),
        t["lines"].as_u64().unwrap(),
    );
    assert_eq!(
        line.trim(),
        format!("lines......: {}% ({hit} of {found} lines)", pct(hit, found)),
        "{log}"
    );
    assert!(hit > 0 && hit < found, "{t}");
}

#[test]
fn cobertura_export_is_valid_and_diff_cover_reads_livecovs_percentages() {
    let Some(()) = external::require(
        "xmllint (Debian libxml2-utils; run .ci/install-export-tools.sh)",
        found("xmllint"),
    ) else {
        return;
    };
    let diff_cover = std::env::var_os("LIVECOV_DIFF_COVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/lc-venv-covpy/bin/diff-cover"));
    let Some(()) = external::require(
        "diff-cover (PyPI; run .ci/install-export-tools.sh or set LIVECOV_DIFF_COVER)",
        found(diff_cover.to_str().unwrap()),
    ) else {
        return;
    };
    let (tmp, c) = collection();
    let xml = tmp.path().join("coverage.xml");
    fs::write(&xml, export(&c, "cobertura", &[])).unwrap();

    let out = Command::new("xmllint")
        .args(["--noout", "--dtdvalid"])
        .arg(data("coverage-04.dtd"))
        .arg(&xml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xmllint: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A checkout whose every file is new since the base commit, so diff-cover measures
    // whole files.
    let repo = tmp.path().join("checkout");
    fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        ok(&out);
    };
    git(&["init", "-q", "-b", "main"]);
    fs::write(repo.join("README"), "base\n").unwrap();
    git(&["add", "README"]);
    git(&["commit", "-q", "-m", "base"]);
    copy_tree(&programs(), &repo);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "programs"]);
    let report = tmp.path().join("diff-cover.json");
    let out = Command::new(&diff_cover)
        .arg(&xml)
        .arg("--compare-branch=HEAD~1")
        .arg(format!("--json-report={}", report.display()))
        .current_dir(&repo)
        .output()
        .unwrap();
    ok(&out);
    let dc: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let stats = dc["src_stats"].as_object().unwrap();

    let s = summary(&c, &[]);
    let files = s["files"].as_array().unwrap();
    let measured: Vec<&serde_json::Value> = files
        .iter()
        .filter(|f| f["lines"].as_u64() > Some(0))
        .collect();
    assert_eq!(stats.len(), measured.len(), "{dc:#}");
    for f in measured {
        let path = f["path"].as_str().unwrap();
        let st = stats
            .get(path)
            .unwrap_or_else(|| panic!("diff-cover has no {path}: {dc:#}"));
        let (hit, lines) = (
            f["lines_hit"].as_u64().unwrap(),
            f["lines"].as_u64().unwrap(),
        );
        let percent = st["percent_covered"].as_f64().unwrap();
        assert!(
            (percent - 100.0 * hit as f64 / lines as f64).abs() < 1e-6,
            "{path}: diff-cover {percent}, livecov {hit}/{lines}"
        );
        assert_eq!(
            st["violation_lines"].as_array().unwrap().len() as u64,
            lines - hit,
            "{path}"
        );
    }
}

#[test]
fn sonar_export_validates_against_the_generic_coverage_schema() {
    let Some(()) = external::require(
        "xmllint (Debian libxml2-utils; run .ci/install-export-tools.sh)",
        found("xmllint"),
    ) else {
        return;
    };
    let (tmp, c) = collection();
    let xml = tmp.path().join("sonar.xml");
    let text = export(&c, "sonar", &[]);
    fs::write(&xml, &text).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(data("sonar-generic-coverage.xsd"))
        .arg(&xml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xmllint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One lineToCover per line of the summary, covered where hit.
    let t = summary(&c, &[])["totals"].clone();
    assert_eq!(
        text.matches("<lineToCover ").count() as u64,
        t["lines"].as_u64().unwrap()
    );
    assert_eq!(
        text.matches(r#"covered="true""#).count() as u64,
        t["lines_hit"].as_u64().unwrap()
    );
    // The schema check can fail: a line 0 is refused.
    let bad = tmp.path().join("bad.xml");
    let at = text.find("lineNumber=\"").unwrap() + "lineNumber=\"".len();
    let end = at + text[at..].find('"').unwrap();
    fs::write(&bad, format!("{}0{}", &text[..at], &text[end..])).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(data("sonar-generic-coverage.xsd"))
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn json_and_markdown_summaries_of_a_fixed_collection() {
    let (_tmp, c) = collection();
    insta::assert_snapshot!("export_json", export(&c, "json", &[]));
    insta::assert_snapshot!("export_markdown", export(&c, "markdown", &[]));
    // Codecov's JSON agrees with the summary line for line.
    let cc: serde_json::Value = serde_json::from_str(&export(&c, "codecov", &[])).unwrap();
    let s = summary(&c, &[]);
    for f in s["files"].as_array().unwrap() {
        let lines = cc["coverage"][f["path"].as_str().unwrap()]
            .as_object()
            .unwrap();
        assert_eq!(lines.len() as u64, f["lines"].as_u64().unwrap());
        let hit = lines.values().filter(|h| h.as_u64() > Some(0)).count() as u64;
        assert_eq!(hit, f["lines_hit"].as_u64().unwrap());
    }
}

#[test]
fn selections_pick_builds_owners_and_repo_at_commit() {
    let (_tmp, c) = collection();
    let all = summary(&c, &[]);
    let files = |v: &serde_json::Value| -> Vec<String> {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(files(&all).contains(&"main.go".to_owned()));
    assert!(files(&all).contains(&"cmd/prog2/main.go".to_owned()));

    // The worker's build: prog2 and the packages it uses, not the web program.
    let worker = summary(&c, &["--owner", "shop/worker"]);
    assert!(files(&worker).contains(&"cmd/prog2/main.go".to_owned()));
    assert!(!files(&worker).contains(&"main.go".to_owned()));
    let r: serde_json::Value = serde_json::from_str(&ok(&livecov(&[
        "report",
        "--collection",
        c.to_str().unwrap(),
        "--format",
        "json",
    ])))
    .unwrap();
    let w = r["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["owner"] == "worker")
        .unwrap();
    assert_eq!(worker["totals"]["statements"], w["statements"]);
    assert_eq!(worker["totals"]["covered"], w["covered_statements"]);

    let hash = w["build"].as_str().unwrap();
    assert_eq!(summary(&c, &["--build", &hash[..8]]), worker);

    // Both builds come from the one repo@commit.
    assert_eq!(
        summary(&c, &["--repo", &format!("{REPO}.git@{}", &COMMIT[..10])]),
        all
    );

    // What matches nothing is an error that says so.
    for (flag, value, says) in [
        (
            "--owner",
            "nobody",
            "no owner matches --namespace [] and --owner [\"nobody\"]",
        ),
        (
            "--build",
            "ffffffffff",
            "no build of this collection has a hash starting with",
        ),
        (
            "--repo",
            "https://example.com/other@0123456789",
            "no build of this collection was made from",
        ),
    ] {
        let out = livecov(&[
            "export",
            "--collection",
            c.to_str().unwrap(),
            "--format",
            "json",
            flag,
            value,
        ]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
}

#[test]
fn report_format_writes_what_export_writes_and_recorded_paths_stay() {
    let (_tmp, c) = collection();
    let cs = c.to_str().unwrap();
    for format in ["lcov", "go", "sonar", "codecov", "markdown"] {
        let report = ok(&livecov(&[
            "report",
            "--collection",
            cs,
            "--format",
            format,
        ]));
        assert_eq!(report, export(&c, format, &[]), "{format}");
    }
    let recorded = summary(&c, &["--paths", "recorded"]);
    assert!(recorded["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["path"].as_str().unwrap().starts_with("example.com/prog/")));
    let go_repo = export(&c, "go", &["--paths", "repo"]);
    assert!(go_repo.contains("\ndep/dep.go:"), "{go_repo}");
}

use http::Request as Seen;

/// A stand-in for Codecov on 127.0.0.1 (no real Codecov is reachable from the tests): it
/// answers `POST /upload/v4` as Codecov's documented upload endpoint does (a result URL
/// and a storage URL, one per line) and `PUT /storage/…` with 200, and records both
/// requests for the test to check their shape.
///
/// With `refuse`, it answers the POST with 401 as Codecov does for a bad token, and the
/// upload ends there.
fn codecov_stand_in(refuse: bool) -> (String, std::thread::JoinHandle<Vec<Seen>>) {
    use std::io::{BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let storage = format!("{base}/storage/report-1");
    let url = base.clone();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let wanted = if refuse { 1 } else { 2 };
        while seen.len() < wanted {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            // Keep-alive: several requests may come on one connection.
            while let Some(request) = http::read_request(&mut reader) {
                let (status, reply) = match (request.method.as_str(), refuse) {
                    ("POST", true) => {
                        ("401 Unauthorized", "Could not find a repository".to_owned())
                    }
                    ("POST", false) => {
                        ("200 OK", format!("{base}/result/example/prog\n{storage}\n"))
                    }
                    _ => ("200 OK", "ok".to_owned()),
                };
                let mut out = &stream;
                write!(
                    out,
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{reply}",
                    reply.len()
                )
                .unwrap();
                seen.push(request);
                if seen.len() == wanted {
                    break;
                }
            }
        }
        seen
    });
    (url, handle)
}

#[test]
fn codecov_upload_speaks_the_upload_api_with_the_token_in_a_header_only() {
    let (tmp, c) = collection();
    let token_file = tmp.path().join("token");
    fs::write(&token_file, "s3cr3t-t0ken\n").unwrap();
    let (url, server) = codecov_stand_in(false);
    let out = livecov(&[
        "export",
        "--collection",
        c.to_str().unwrap(),
        "--format",
        "codecov",
        "--upload",
        "--token-file",
        token_file.to_str().unwrap(),
        "--codecov-url",
        &url,
        "--slug",
        "example/prog",
        "--flag",
        "e2e",
        "--flag",
        "nightly",
    ]);
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stdout.contains("s3cr3t") && !stderr.contains("s3cr3t"));
    assert!(stdout.contains("uploaded"), "{stdout}");
    let seen = server.join().unwrap();

    let post = &seen[0];
    assert_eq!(post.method, "POST");
    let (path, query) = post.target.split_once('?').unwrap();
    assert_eq!(path, "/upload/v4");
    let query: std::collections::BTreeMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    assert_eq!(query["commit"], COMMIT);
    assert_eq!(query["slug"], "example%2Fprog");
    assert_eq!(query["flags"], "e2e%2Cnightly");
    assert!(query["package"].starts_with("livecov-"));
    assert!(!post.target.contains("s3cr3t"), "{}", post.target);
    assert_eq!(post.header("x-upload-token"), Some("s3cr3t-t0ken"));

    let put = &seen[1];
    assert_eq!(
        (put.method.as_str(), put.target.as_str()),
        ("PUT", "/storage/report-1")
    );
    assert_eq!(put.header("x-upload-token"), None);
    let body = String::from_utf8(put.body.clone()).unwrap();
    let (network, report) = body.split_once("<<<<<< network\n").unwrap();
    assert!(network.lines().any(|l| l == "dep/dep.go"), "{network}");
    let json = report
        .strip_prefix("# path=livecov-codecov.json\n")
        .and_then(|r| r.strip_suffix("<<<<<< EOF\n"))
        .unwrap();
    // The report is the Codecov export of the same owners.
    assert_eq!(json, export(&c, "codecov", &[]));
}

#[test]
fn codecov_dry_run_needs_no_token_and_sends_nothing() {
    let (_tmp, c) = collection();
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args([
            "export",
            "--collection",
            c.to_str().unwrap(),
            "--format",
            "codecov",
            "--upload",
            "--dry-run",
            "--codecov-url",
            // Nothing listens here: a request would fail the run.
            "http://127.0.0.1:9",
            "--slug",
            "example/prog",
            "--owner",
            "worker",
        ])
        .env_remove("CODECOV_TOKEN")
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(
        stdout.starts_with(&format!(
            "would upload: slug example/prog commit {COMMIT} service github_enterprise flags openshift-e2e (1 owners, "
        )),
        "{stdout}"
    );
    // Without a token and without --dry-run: a clear refusal before anything is read.
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args([
            "export",
            "--collection",
            c.to_str().unwrap(),
            "--format",
            "codecov",
            "--upload",
        ])
        .env_remove("CODECOV_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Codecov token"));
}

#[test]
fn paths_are_repo_relative_through_the_fetched_sources() {
    // A repository holding the module in a subdirectory: only the source index (go.mod at
    // go/) can know that example.com/prog/dep/dep.go is go/dep/dep.go.
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs::create_dir_all(repo.join("go")).unwrap();
    copy_tree(&programs(), &repo.join("go"));
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
    add_pod_from(&c, "web", "count", "web", &url, &commit);
    let cs = c.to_str().unwrap();
    ok(&livecov(&["cluster", "compile", "--collection", cs]));
    ok(&livecov(&[
        "cluster",
        "clone-sources",
        "--allow-local-remotes",
        "--collection",
        cs,
    ]));
    let s = summary(&c, &[]);
    let paths: Vec<&str> = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"go/dep/dep.go"), "{paths:?}");
    assert!(paths.contains(&"go/main.go"), "{paths:?}");
    assert!(paths.iter().all(|p| p.starts_with("go/")), "{paths:?}");
    // The stderr summary says how many were mapped.
    let out = livecov(&["export", "--collection", cs, "--format", "lcov"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{} paths made repo-relative", paths.len())),
        "{stderr}"
    );
}

#[test]
fn a_refused_codecov_upload_fails_the_run_and_never_prints_the_token() {
    let (_tmp, c) = collection();
    let (url, server) = codecov_stand_in(true);
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args([
            "export",
            "--collection",
            c.to_str().unwrap(),
            "--format",
            "codecov",
            "--upload",
            "--codecov-url",
            &url,
            "--slug",
            "example/prog",
        ])
        .env("CODECOV_TOKEN", "s3cr3t-t0ken")
        .output()
        .unwrap();
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-upload-token"), Some("s3cr3t-t0ken"));
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.starts_with("FAILED: slug example/prog"), "{stdout}");
    assert!(
        stderr.contains("codecov upload of example/prog@") && stderr.contains("401 Unauthorized"),
        "{stderr}"
    );
    assert!(stderr.contains("0 uploaded, 1 failed"), "{stderr}");
    assert!(!stdout.contains("s3cr3t") && !stderr.contains("s3cr3t"));
}
