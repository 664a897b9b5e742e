//! Sources at the exact commit, end to end through the `livecov` binary: real git
//! repositories (the demo's, plus commits made here) served through `file://` and a real
//! `git daemon` on 127.0.0.1; `clone-sources`, `sources explain`, and what the rendered
//! pages say (insta snapshots of their structure, volatile parts normalised).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn livecov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The JSON a page embeds in `<script id="livecov-data" type="application/json">`.
fn page_data(path: &Path) -> Value {
    let html = fs::read_to_string(path).unwrap();
    let start = html.find("type=\"application/json\">").unwrap() + 24;
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// The demo: a collection whose sources live in a git repository beside it.
fn demo(dir: &Path) {
    let out = livecov(&["demo", "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}

const PROG: &str = "fb5d9fb229349f9b25b93ba370b3e169";

/// A new collection holding the demo's coverage, with every info.json pointing at
/// `url`@`commit`, compiled.
fn collection_at(demo: &Path, dir: &Path, url: &str, commit: &str) {
    collection_at_with(demo, dir, url, commit, None)
}

/// Like [`collection_at`], with one pod directory pointing at another commit.
fn collection_at_with(
    demo: &Path,
    dir: &Path,
    url: &str,
    commit: &str,
    except: Option<(&str, &str)>,
) {
    let cov = dir.join("coverage");
    for pod in fs::read_dir(demo.join("coverage")).unwrap() {
        let pod = pod.unwrap().path();
        let to = cov.join(pod.file_name().unwrap());
        fs::create_dir_all(&to).unwrap();
        for f in fs::read_dir(&pod).unwrap() {
            let f = f.unwrap().path();
            fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
        let commit = match except {
            Some((pod_dir, other)) if to.ends_with(pod_dir) => other,
            _ => commit,
        };
        fs::write(
            to.join("info.json"),
            format!("{{\"source_url\": \"{url}\", \"source_commit\": \"{commit}\"}}"),
        )
        .unwrap();
    }
    let out = livecov(&["cluster", "compile", "--collection", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn demo_sources_are_fetched_at_the_commit_and_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("demo");
    demo(&d);
    // Every file of every build is shown with its source.
    for b in fs::read_dir(d.join("html/b")).unwrap() {
        let data = page_data(&b.unwrap().path().join("index.html"));
        assert_eq!(data["source"]["status"], "ok", "{}", data["source"]);
        for f in data["files"].as_array().unwrap() {
            assert_eq!(f["source"], "ok", "{f}");
        }
    }
    let index = page_data(&d.join("html/index.html"));
    assert_eq!(index["builds"][PROG]["source"], "ok");
    let commit = git(&d.join("repo"), &["rev-parse", "HEAD"]);
    assert_eq!(index["builds"][PROG]["commit"], commit.as_str());

    // The chunk holding dep.go carries the file as committed.
    let page = page_data(&d.join(format!("html/b/{PROG}/index.html")));
    let files = page["files"].as_array().unwrap();
    let n = files
        .iter()
        .position(|f| f["path"] == "example.com/prog/dep/dep.go")
        .unwrap();
    let chunk = files[n]["chunk"].as_u64().unwrap();
    let script = fs::read_to_string(d.join(format!("html/b/{PROG}/f/{chunk}.js"))).unwrap();
    let dep = fs::read_to_string(d.join("repo/dep/dep.go")).unwrap();
    // A template literal: the text as committed (it has no backquote or backslash).
    assert!(!dep.contains('`') && !dep.contains('\\'));
    assert!(script.contains(&format!("`{dep}`")));
    assert!(script.contains(&format!("livecovFile({n}, ")));

    let out = livecov(&[
        "sources",
        "explain",
        "--collection",
        d.to_str().unwrap(),
        &PROG[..8],
        "example.com/prog/dep/dep.go",
    ]);
    let s = text(&out);
    assert!(out.status.success(), "{s}");
    assert!(s.contains(&format!("build: {PROG}")), "{s}");
    assert!(s.contains(&format!("@{commit}")), "{s}");
    assert!(s.contains("module prefix"), "{s}");
    assert!(s.contains(": dep/dep.go (by module prefix)"), "{s}");

    // A file no repository holds: explain says so and exits 2.
    let out = livecov(&[
        "sources",
        "explain",
        "--collection",
        d.to_str().unwrap(),
        PROG,
        "example.org/other/x.go",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("result: not found"), "{}", text(&out));

    // clone-sources again: already cached, nothing fetched.
    let out = livecov(&[
        "cluster",
        "clone-sources",
        "--allow-local-remotes",
        "--collection",
        d.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(
        text(&out).contains("0 fetched, 1 already cached, 0 failed"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_commit_that_cannot_be_fetched_is_shown_as_such_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("demo");
    demo(&d);
    let repo = d.join("repo").canonicalize().unwrap();
    let url = format!("file://{}", repo.display());
    let c = tmp.path().join("c");
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let good = git(&repo, &["rev-parse", "HEAD"]);
    // prog2's pod comes from a commit that exists: the same repository is then in the
    // cache at another commit, which must not stand in for the missing one.
    collection_at_with(
        &d,
        &c,
        &url,
        missing,
        Some(("billing-worker-0-worker", &good)),
    );
    let out = livecov(&[
        "cluster",
        "clone-sources",
        "--allow-local-remotes",
        "--collection",
        c.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("error: {url}@{missing}")),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("Cloned: 1, Errors: 1"),
        "{}",
        text(&out)
    );
    let out = livecov(&["cluster", "render", "--collection", c.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let index = page_data(&c.join("html/index.html"));
    let b = &index["builds"][PROG];
    assert_eq!(b["source"], "unfetched", "{b}");
    assert!(
        b["source_note"]
            .as_str()
            .unwrap()
            .contains("could not be fetched"),
        "{b}"
    );
    let page = page_data(&c.join(format!("html/b/{PROG}/index.html")));
    for f in page["files"].as_array().unwrap() {
        assert_eq!(
            f["source"], "missing",
            "another commit must not stand in: {f}"
        );
        assert!(f["note"].as_str().unwrap().contains("not available"), "{f}");
    }
    let prog2 = page_data(&c.join("html/b/da4ea8542a4ab76ec42b3129b9de1f22/index.html"));
    assert_eq!(prog2["source"]["status"], "ok");
}

#[test]
fn a_file_remote_from_info_json_is_refused_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("demo");
    demo(&d);
    let repo = d.join("repo").canonicalize().unwrap();
    let url = format!("file://{}", repo.display());
    let good = git(&repo, &["rev-parse", "HEAD"]);
    let c = tmp.path().join("c");
    collection_at(&d, &c, &url, &good);
    let clone = |env: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_livecov"));
        cmd.args(["cluster", "clone-sources", "--collection"])
            .arg(&c)
            .env_remove("LIVECOV_ALLOW_LOCAL_REMOTES");
        if let Some(v) = env {
            cmd.env("LIVECOV_ALLOW_LOCAL_REMOTES", v);
        }
        cmd.output().unwrap()
    };
    let out = clone(None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!(
            "error: {url}@{good}: remote {url:?} is not allowed"
        )) && t.contains("--allow-local-remotes"),
        "{t}"
    );
    assert!(t.contains("Cloned: 0, Errors: 1"), "{t}");
    assert!(!c.join("sources/file").exists(), "nothing was fetched");
    let out = clone(Some("0"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = clone(Some("1"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Cloned: 1, Errors: 0"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_wrong_commit_is_detected_from_the_units() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("demo");
    demo(&d);
    // A later commit rewrites main.go: the binary was not built from it.
    let repo = d.join("repo");
    fs::write(repo.join("main.go"), "package main\n\nfunc main() {}\n").unwrap();
    git(&repo, &["commit", "-qam", "rewrite"]);
    let wrong = git(&repo, &["rev-parse", "HEAD"]);
    let url = format!("file://{}", repo.canonicalize().unwrap().display());
    let c = tmp.path().join("c");
    collection_at(&d, &c, &url, &wrong);
    let out = livecov(&[
        "cluster",
        "clone-sources",
        "--allow-local-remotes",
        "--collection",
        c.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = livecov(&["cluster", "render", "--collection", c.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let page = page_data(&c.join(format!("html/b/{PROG}/index.html")));
    assert_eq!(page["source"]["status"], "mismatch", "{}", page["source"]);
    let main = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "example.com/prog/main.go")
        .unwrap();
    assert_eq!(main["source"], "mismatch");
    assert!(
        main["note"]
            .as_str()
            .unwrap()
            .contains("do not fit the source"),
        "{main}"
    );
    let index = page_data(&c.join("html/index.html"));
    assert_eq!(index["builds"][PROG]["source"], "mismatch");
}

/// A `git daemon` on 127.0.0.1 serving `base`, stopped on drop.
struct Daemon {
    child: Child,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn git_daemon(base: &Path) -> Daemon {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // git-daemon itself, not the `git daemon` wrapper, so killing it stops the server.
    let exec = String::from_utf8(
        Command::new("git")
            .arg("--exec-path")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let bin = PathBuf::from(exec.trim()).join("git-daemon");
    let child = Command::new(bin)
        .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "git daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Daemon { child, port }
}

#[test]
fn clone_sources_over_git_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("demo");
    demo(&d);
    let commit = git(&d.join("repo"), &["rev-parse", "HEAD"]);
    let daemon = git_daemon(&d);
    let url = format!("git://127.0.0.1:{}/repo", daemon.port);
    let c = tmp.path().join("c");
    collection_at(&d, &c, &url, &commit);
    let shared = tmp.path().join("cache");
    let fetch = |allow: &[&str]| {
        let mut args = vec![
            "sources",
            "fetch",
            "--collection",
            c.to_str().unwrap(),
            "--sources",
            shared.to_str().unwrap(),
        ];
        args.extend_from_slice(allow);
        livecov(&args)
    };
    // git:// is plain TCP: refused unless allowed, like http://.
    let out = fetch(&[]);
    assert!(
        text(&out).contains("0 fetched, 0 already cached, 1 failed")
            && text(&out).contains("git://"),
        "{}",
        text(&out)
    );
    let out = fetch(&["--allow-local-remotes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("1 fetched, 0 already cached, 0 failed"),
        "{}",
        text(&out)
    );
    // One bare repository per remote, keyed by host and path.
    assert!(shared.join("127.0.0.1/repo.git/HEAD").is_file());
    let out = livecov(&[
        "cluster",
        "render",
        "--collection",
        c.to_str().unwrap(),
        "--sources",
        shared.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let index = page_data(&c.join("html/index.html"));
    assert_eq!(index["builds"][PROG]["source"], "ok");
}

/// Replaces what changes between runs (temporary paths, versions) for snapshots.
fn normalise(s: &str, tmp: &Path) -> String {
    let real = tmp.canonicalize().unwrap();
    s.replace(&real.display().to_string(), "[TMP]")
        .replace(&tmp.display().to_string(), "[TMP]")
        .replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

fn pretty_page(path: &Path, tmp: &Path) -> String {
    let html = fs::read_to_string(path).unwrap();
    let start = html.find("type=\"application/json\">").unwrap() + 24;
    let end = start + html[start..].find("</script>").unwrap();
    let data: Value = serde_json::from_str(&html[start..end]).unwrap();
    let shell = format!("{}{{{{DATA}}}}{}", &html[..start], &html[end..]);
    normalise(
        &format!(
            "{shell}\n----- data -----\n{}",
            serde_json::to_string_pretty(&data).unwrap()
        ),
        tmp,
    )
}

#[test]
fn rendered_pages_keep_their_structure() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("demo");
    demo(&d);
    let commit = git(&d.join("repo"), &["rev-parse", "HEAD"]);
    let norm = |s: String| {
        s.replace(&commit, "[COMMIT]")
            .replace(&commit[..12], "[COMMIT12]")
    };
    insta::assert_snapshot!(
        "index_html",
        norm(pretty_page(&d.join("html/index.html"), tmp.path()))
    );
    insta::assert_snapshot!(
        "build_page_html",
        norm(pretty_page(
            &d.join("html/b/da4ea8542a4ab76ec42b3129b9de1f22/index.html"),
            tmp.path()
        ))
    );
    let chunk =
        fs::read_to_string(d.join("html/b/da4ea8542a4ab76ec42b3129b9de1f22/f/0.js")).unwrap();
    insta::assert_snapshot!("build_chunk_js", norm(normalise(&chunk, tmp.path())));
    let mut manifest: Value =
        serde_json::from_str(&fs::read_to_string(d.join("html/.livecov-manifest.json")).unwrap())
            .unwrap();
    // Keys hash the inputs; their presence is what matters here.
    for b in manifest["builds"].as_object_mut().unwrap().values_mut() {
        b["key"] = Value::String("[KEY]".into());
    }
    insta::assert_snapshot!(
        "manifest",
        norm(normalise(
            &serde_json::to_string_pretty(&manifest).unwrap(),
            tmp.path()
        ))
    );
}

/// The repository root (for the committed fixtures).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (statements, covered) per file of a text profile, as `go tool cover` counts them.
fn profile_totals(text: &str) -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines().skip(1) {
        let (file, rest) = line.rsplit_once(':').unwrap();
        let mut it = rest.split(' ').skip(1);
        let stmts: u64 = it.next().unwrap().parse().unwrap();
        let count: u64 = it.next().unwrap().parse().unwrap();
        let e = out.entry(file.to_string()).or_insert((0, 0));
        e.0 += stmts;
        if count > 0 {
            e.1 += stmts;
        }
    }
    out
}

fn page_totals(data: &Value) -> std::collections::BTreeMap<String, (u64, u64)> {
    data["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                (
                    f["statements"].as_u64().unwrap(),
                    f["covered"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn go_html_and_render_profile_show_a_local_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let data = repo_root().join("tests/fixtures/go/golden/data/count");
    let programs = repo_root().join("tests/fixtures/go/programs");
    let out = tmp.path().join("html");
    let o = livecov(&[
        "go",
        "html",
        &format!("-i={}", data.display()),
        &format!("-o={}", out.display()),
        &format!("-src={}", programs.display()),
    ]);
    let s = text(&o);
    assert!(o.status.success(), "{s}");
    assert!(
        s.contains("html: 6 files (6 with source, 0 not found, 0 not matching)"),
        "{s}"
    );
    assert!(
        s.contains(&out.join("index.html").display().to_string()),
        "{s}"
    );
    let page = page_data(&out.join("index.html"));
    assert_eq!(page["build"], PROG);
    assert!(
        page["index"].is_null(),
        "a single page has no index to go back to"
    );

    // Same figures as the text profile go tool covdata writes for the same data.
    let prof = tmp.path().join("prof.txt");
    let o = livecov(&[
        "go",
        "textfmt",
        &format!("-i={}", data.display()),
        &format!("-o={}", prof.display()),
    ]);
    assert!(o.status.success());
    let text_profile = fs::read_to_string(&prof).unwrap();
    assert_eq!(page_totals(&page), profile_totals(&text_profile));

    // render --go-profile: the same page from the text profile.
    let out2 = tmp.path().join("html2");
    let o = livecov(&[
        "render",
        "--go-profile",
        prof.to_str().unwrap(),
        "--output-dir",
        out2.to_str().unwrap(),
        "--source-root",
        programs.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let page2 = page_data(&out2.join("index.html"));
    assert_eq!(page_totals(&page2), page_totals(&page));
    assert!(page2["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["source"] == "ok"));

    // Without the sources, every file still shows its numbers, with the reason.
    let out3 = tmp.path().join("html3");
    let o = livecov(&[
        "render",
        "--go-profile",
        prof.to_str().unwrap(),
        "--output-dir",
        out3.to_str().unwrap(),
        "--source-root",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("6 not found"), "{}", text(&o));
    let page3 = page_data(&out3.join("index.html"));
    assert_eq!(page_totals(&page3), page_totals(&page));

    // A damaged profile is an error naming the line.
    fs::write(&prof, "mode: count\nexample.com/x.go:1.1,2.2 1\n").unwrap();
    let o = livecov(&["render", "--profile", prof.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("line 2"), "{}", text(&o));
}
