//! `livecov diff` against real git repositories made here in a tempdir: renames,
//! deletions, binary files, comment-only edits, a merge commit as head, a base without
//! coverage data (the nearest ancestor with data is used and the reason printed), the
//! gates' exit statuses and the JSON shape; and the patch coverage of a real Go program
//! (built with `go build -cover`, run, its profile from `go tool covdata textfmt`) equal
//! to diff-cover's (PyPI) on livecov's Cobertura export, with that export read back as
//! `--profile` too; and a real Python program run under coverage.py, its `.coverage`
//! data file and the Cobertura file `coverage xml` writes of it both given as `--profile`,
//! against diff-cover on that XML.
//!
//! `livecov compare --store URL run1 run2` reads two collections of one real PostgreSQL
//! 15 store (started by the test on 127.0.0.1) and gives what comparing their SQLite
//! stores gives.
//!
//! Where a test is about diff parsing only, the Go text profile is written by hand.

#[path = "support/external.rs"]
mod external;
#[path = "support/postgres.rs"]
mod pgserver;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn livecov(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(out)
}

/// A git repository in a tempdir, committed to with a fixed identity.
struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    scratch: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        let scratch = tmp.path().join("scratch");
        fs::create_dir_all(&dir).unwrap();
        fs::create_dir_all(&scratch).unwrap();
        let r = Repo {
            _tmp: tmp,
            dir,
            scratch,
        };
        r.git(&["init", "-q", "-b", "main"]);
        r
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .unwrap();
        ok(&out).trim().to_owned()
    }

    fn write(&self, path: &str, text: &str) {
        let p = self.dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A file outside the repository (profiles, reports).
    fn scratch_file(&self, name: &str, text: &str) -> String {
        let p = self.scratch.join(name);
        fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    }

    fn diff(&self, args: &[&str]) -> Output {
        let mut all = vec!["diff"];
        all.extend_from_slice(args);
        livecov(&all, &self.dir)
    }

    fn diff_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--format", "json"]);
        let out = self.diff(&all);
        assert!(
            out.status.code() == Some(0) || out.status.code() == Some(1),
            "status {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

const A_BASE: &str = "package m

func A() int {
\tx := 1
\treturn x
}
";

const A_HEAD: &str = "package m

func A() int {
\tx := 1
\ty := 2
\treturn x + y
}

func B() int {
\treturn 3
}
";

const OLD: &str = "package m

func Old(a int) int {
\tif a > 0 {
\t\treturn a
\t}
\treturn -a
}
";

const MOVED: &str = "package moved

func Old(a int) int {
\tif a > 0 {
\t\treturn a
\t}
\treturn 0 - a
}
";

/// The head's profile of [`changed_repo`], written by hand in Go's text format (import
/// paths, as `go tool covdata textfmt` writes them).
const HEAD_PROFILE: &str = "mode: set
example.com/m/a.go:3.14,7.2 3 1
example.com/m/a.go:9.14,11.2 1 0
example.com/m/moved/new.go:3.21,4.11 1 1
example.com/m/moved/new.go:4.11,6.3 1 1
example.com/m/moved/new.go:7.2,7.14 1 0
";

/// base: a.go, old.go, gone.go, README.md; head: a.go edited, old.go renamed to
/// moved/new.go and edited, gone.go deleted, README.md edited, logo.png added.
fn changed_repo() -> (Repo, String, String) {
    let r = Repo::new();
    r.write("go.mod", "module example.com/m\n\ngo 1.22\n");
    r.write("a.go", A_BASE);
    r.write("old.go", OLD);
    r.write("gone.go", "package m\n\nvar Gone = 1\n");
    r.write("README.md", "# m\n");
    let base = r.commit("base");
    r.write("a.go", A_HEAD);
    fs::remove_file(r.dir.join("old.go")).unwrap();
    r.write("moved/new.go", MOVED);
    fs::remove_file(r.dir.join("gone.go")).unwrap();
    r.write("README.md", "# m\n\nMore.\n");
    fs::write(r.dir.join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0binary").unwrap();
    let head = r.commit("head");
    (r, base, head)
}

#[test]
fn json_shape_renames_deletions_binaries_and_files_without_data() {
    let (r, base, head) = changed_repo();
    let profile = r.scratch_file("head.txt", HEAD_PROFILE);
    let v = r.diff_json(&["--profile", &profile, "--base", "main~1"]);
    let expected = json!({
        "format": "livecov-diff",
        "version": 1,
        "base": base,
        "head": head,
        "diff_base": null,
        "base_reason": "--base main~1, an ancestor of HEAD",
        "patch": {"lines": 6, "covered": 3, "percent": 50.0},
        "total": {"lines": 13, "covered": 9, "percent": 69.2},
        "base_total": null,
        "drop": null,
        "files": [
            {"path": "a.go", "old_path": null, "status": "modified",
             "data_path": "example.com/m/a.go", "lines": 5, "covered": 3, "percent": 60.0,
             "uncovered_lines": [9, 10], "comment_lines": 0},
            {"path": "moved/new.go", "old_path": "old.go", "status": "renamed",
             "data_path": "example.com/m/moved/new.go", "lines": 1, "covered": 0,
             "percent": 0.0, "uncovered_lines": [7], "comment_lines": 0},
        ],
        "no_data": ["README.md"],
        "deleted": ["gone.go"],
        "binary": ["logo.png"],
        "components": [],
        "gates": [],
        "passed": true,
        "informational": false,
    });
    assert_eq!(v, expected, "{v:#}");

    // The same change read from a unified diff on stdin (no git run by livecov): same
    // files and lines; the base is named only as given.
    let diff = r.git(&["diff", "-M", &base, &head]) + "\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args([
            "diff",
            "--profile",
            &profile,
            "--diff",
            "-",
            "--strip-prefix",
            "example.com/m",
            "--repo",
            r.scratch.to_str().unwrap(),
            "--format",
            "json",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(diff.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let from_patch: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(from_patch["files"], expected["files"]);
    assert_eq!(from_patch["patch"], expected["patch"]);
    assert_eq!(from_patch["base_reason"], json!("the diff in stdin"));
    assert_eq!(from_patch["base"], Value::Null);
}

#[test]
fn comment_only_edits_have_no_executable_lines() {
    let r = Repo::new();
    r.write("go.mod", "module example.com/m\n\ngo 1.22\n");
    r.write("a.go", A_BASE);
    r.commit("base");
    // A doc comment above the function (outside every unit), a comment and a blank line
    // inside its body (inside the unit that spans lines 4-8).
    r.write(
        "a.go",
        "package m

// A returns one.
func A() int {
\t// x is one.

\tx := 1
\treturn x
}
",
    );
    r.commit("comments");
    let profile = r.scratch_file("p.txt", "mode: set\nexample.com/m/a.go:4.14,9.2 2 0\n");
    let v = r.diff_json(&["--profile", &profile, "--fail-under-patch", "100"]);
    assert_eq!(
        v["patch"],
        json!({"lines": 0, "covered": 0, "percent": 100.0})
    );
    assert_eq!(v["files"][0]["path"], json!("a.go"));
    assert_eq!(v["files"][0]["comment_lines"], json!(2));
    assert_eq!(v["files"][0]["uncovered_lines"], json!([]));
    assert_eq!(v["passed"], json!(true));
    assert_eq!(v["base_reason"], json!("parent of HEAD (no --base given)"));
}

#[test]
fn a_merge_commit_as_head_is_measured_against_its_first_parent() {
    let r = Repo::new();
    r.write("go.mod", "module example.com/m\n\ngo 1.22\n");
    r.write("a.go", A_BASE);
    r.write("README.md", "# m\n");
    r.commit("base");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("a.go", A_HEAD);
    r.commit("feature: B");
    r.git(&["checkout", "-q", "main"]);
    r.write("README.md", "# m\n\nOn main.\n");
    let main_tip = r.commit("main: readme");
    r.git(&["merge", "-q", "--no-ff", "-m", "merge feature", "feature"]);
    let merge = r.git(&["rev-parse", "HEAD"]);
    let profile = r.scratch_file("p.txt", HEAD_PROFILE);

    for args in [
        vec!["--profile", profile.as_str()],
        vec!["--profile", profile.as_str(), "--base", "main~1"],
    ] {
        let v = r.diff_json(&args);
        assert_eq!(v["base"], json!(main_tip), "{v:#}");
        assert_eq!(v["head"], json!(merge));
        // Only the feature's lines: main's README edit is not part of the change.
        let files: Vec<&str> = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(files, ["a.go"]);
        assert_eq!(v["no_data"], json!([]));
        assert_eq!(
            v["patch"],
            json!({"lines": 5, "covered": 3, "percent": 60.0})
        );
    }
    let v = r.diff_json(&["--profile", &profile]);
    assert_eq!(
        v["base_reason"],
        json!(
            "first parent of the merge commit HEAD: the branch it was merged into (no --base \
             given)"
        )
    );
}

#[test]
fn gates_exit_1_when_they_fail_0_when_informational_and_2_on_errors() {
    let (r, _base, _head) = changed_repo();
    let profile = r.scratch_file("head.txt", HEAD_PROFILE);
    let code = |args: &[&str]| {
        let mut all = vec!["--profile", profile.as_str()];
        all.extend_from_slice(args);
        r.diff(&all).status.code()
    };
    // Patch 3/6 = 50% (git pairs the old closing brace with the new last one, so lines
    // 5-10 of a.go are the added ones), total 9/13 = 69.2%.
    assert_eq!(code(&["--fail-under-patch", "50"]), Some(0));
    assert_eq!(code(&["--fail-under-patch", "50.1"]), Some(1));
    assert_eq!(
        code(&["--fail-under-patch", "51", "--informational"]),
        Some(0)
    );
    assert_eq!(code(&["--fail-under-total", "69.2"]), Some(0));
    assert_eq!(code(&["--fail-under-total", "69.3"]), Some(1));
    // No base data: the drop cannot be measured, so the gate fails.
    assert_eq!(code(&["--max-drop", "5"]), Some(1));
    // A base profile of 12/13 (92.3%): the total dropped 23.1 points.
    let base_profile = r.scratch_file(
        "base.txt",
        "mode: set\nexample.com/m/a.go:3.14,7.2 3 1\nexample.com/m/a.go:9.14,11.2 1 1\n\
         example.com/m/moved/new.go:3.21,4.11 1 1\nexample.com/m/moved/new.go:4.11,6.3 1 1\n\
         example.com/m/moved/new.go:7.2,7.14 1 0\n",
    );
    assert_eq!(
        code(&["--max-drop", "23.1", "--base-profile", &base_profile]),
        Some(0)
    );
    assert_eq!(
        code(&["--max-drop", "23", "--base-profile", &base_profile]),
        Some(1)
    );
    // Components: moved/ is 0/1 of the patch.
    assert_eq!(code(&["--component", "moved=moved/**;patch=1"]), Some(1));
    // `*` crosses `/` (as every livecov glob): 3/6 of the patch.
    assert_eq!(code(&["--component", "all=*.go;patch=50"]), Some(0));
    let v = r.diff_json(&[
        "--profile",
        &profile,
        "--component",
        "moved=moved/**;patch=1",
        "--fail-under-patch",
        "30",
    ]);
    assert_eq!(
        v["components"],
        json!([{"name": "moved", "globs": ["moved/**"],
                "patch": {"lines": 1, "covered": 0, "percent": 0.0},
                "total": {"lines": 5, "covered": 4, "percent": 80.0}}])
    );
    let gates: Vec<(&str, bool)> = v["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["name"].as_str().unwrap(), g["passed"].as_bool().unwrap()))
        .collect();
    assert_eq!(gates, [("patch", true), ("moved patch", false)]);
    assert_eq!(v["passed"], json!(false));

    // Errors: a missing profile, a bad base, a profile that is not one, a bad threshold.
    assert_eq!(code(&["--base", "no-such-branch"]), Some(2));
    let out = r.diff(&["--profile", "/nonexistent/p.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/p.txt"));
    let junk = r.scratch_file("junk.txt", "hello\n");
    let out = r.diff(&["--profile", &junk]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected a Go text profile"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(code(&["--fail-under-patch", "120"]), Some(2));
    let bad_diff = r.scratch_file("bad.diff", "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n x\n");
    let out = r.diff(&["--profile", &profile, "--diff", &bad_diff]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 4: the diff ends inside a hunk"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The table and the other formats of the same run.
    let out = r.diff(&[
        "--profile",
        &profile,
        "--link-template",
        "https://example.com/m/blob/{commit}/{path}#L{line}",
    ]);
    let table = ok(&out);
    assert!(
        table.contains("patch coverage: 50.0% (3 of 6 changed executable lines)"),
        "{table}"
    );
    assert!(
        table.contains("a.go               5        3    60.0%  9-10"),
        "{table}"
    );
    assert!(
        table.contains("no coverage data for 1 changed file: README.md"),
        "{table}"
    );
    assert!(
        table.contains("uncovered moved/new.go:7 https://example.com/m/blob/"),
        "{table}"
    );
    let md = ok(&r.diff(&["--profile", &profile, "--format", "markdown"]));
    assert!(
        md.starts_with("### Patch coverage: 50.0% (3 of 6 changed lines)\n"),
        "{md}"
    );
    let gh = ok(&r.diff(&["--profile", &profile, "--format", "github"]));
    assert!(
        gh.starts_with(
            "::warning file=a.go,line=9,endLine=10,title=Uncovered change::Changed lines 9-10 \
             are not covered.\n"
        ),
        "{gh}"
    );
}

// ---- collections: a base without data ----

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/golden")
}

fn programs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/programs")
}

fn copy_tree(from: &Path, to: &Path) {
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            fs::create_dir_all(&dest).unwrap();
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// One pod of a golden scenario in `<collection>/coverage/<name>`, its `info.json`
/// naming `repo` at `commit`.
fn add_pod(collection: &Path, name: &str, scenario: &str, repo: &str, commit: &str) {
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
            r#"{{"pod_name": "{name}-7d9f8b6c4-x2x9z", "namespace": "shop",
                "container": {{"name": "app", "image": "img/{name}"}},
                "binary_name": "{name}", "collected_at": "2026-11-21T09:00:00Z",
                "hostname": "node-a", "host_process": false,
                "owner_kind": "Deployment", "owner_name": "{name}"}}"#
        ),
    )
    .unwrap();
    fs::write(
        dir.join("info.json"),
        format!(r#"{{"binary": "{name}", "source_url": "{repo}", "source_commit": "{commit}"}}"#),
    )
    .unwrap();
}

#[test]
fn a_base_without_data_uses_the_nearest_ancestor_with_data_and_says_so() {
    const URL: &str = "https://example.com/prog";
    let r = Repo::new();
    copy_tree(&programs(), &r.dir);
    let with_data = r.commit("programs");
    r.write("NOTES.md", "no build of this commit\n");
    let no_data = r.commit("notes");
    r.git(&["checkout", "-q", "-b", "change"]);
    let dep = fs::read_to_string(r.dir.join("dep/dep.go")).unwrap();
    r.write(
        "dep/dep.go",
        &dep.replace("\treturn x + 1\n", "\treturn x + 2\n"),
    );
    let head = r.commit("change");

    let collection = r.scratch.join("collection");
    add_pod(&collection, "web", "count", URL, &with_data);
    add_pod(&collection, "worker", "prog2_count", URL, &head);
    ok(&livecov(
        &[
            "cluster",
            "compile",
            "--collection",
            collection.to_str().unwrap(),
        ],
        &r.dir,
    ));

    let v = r.diff_json(&[
        "--collection",
        collection.to_str().unwrap(),
        "--base",
        "main",
    ]);
    assert_eq!(v["base"], json!(with_data), "{v:#}");
    assert_eq!(v["diff_base"], json!(no_data));
    assert_eq!(v["head"], json!(head));
    let reason = v["base_reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "--base main, an ancestor of HEAD; {} has no coverage data, so its nearest \
             first-parent ancestor with data, {} (1 commit back), is the base of the totals",
            &no_data[..12],
            &with_data[..12]
        )),
        "{reason}"
    );
    assert!(v["base_total"]["lines"].as_u64().unwrap() > 0, "{v:#}");
    // The patch is the change alone: one line of dep/dep.go, measured in the head's build.
    assert_eq!(v["files"][0]["path"], json!("dep/dep.go"), "{v:#}");
    assert_eq!(v["patch"]["lines"], json!(1));
    assert_eq!(v["no_data"], json!([]));

    // With no ancestor at all having data, the report says there is no base for totals.
    let lonely = r.scratch.join("lonely");
    add_pod(&lonely, "worker", "prog2_count", URL, &head);
    ok(&livecov(
        &[
            "cluster",
            "compile",
            "--collection",
            lonely.to_str().unwrap(),
        ],
        &r.dir,
    ));
    let v = r.diff_json(&["--collection", lonely.to_str().unwrap(), "--base", "main"]);
    assert_eq!(v["base"], json!(no_data));
    assert_eq!(v["base_total"], Value::Null);
    assert!(
        v["base_reason"]
            .as_str()
            .unwrap()
            .contains("nearest first-parent ancestors have coverage data"),
        "{v:#}"
    );
}

// ---- a real Go program against diff-cover ----

fn found(program: &str) -> Option<()> {
    Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| ())
}

fn go() -> Command {
    let mut cmd = Command::new("go");
    cmd.env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOWORK", "off");
    cmd
}

const CALC_BASE: &str = "package main

import (
\t\"fmt\"
\t\"os\"
)

func add(a, b int) int {
\treturn a + b
}

func main() {
\tfmt.Println(add(1, 2))
\tif len(os.Args) > 5 {
\t\tfmt.Println(\"many\")
\t}
}
";

const CALC_HEAD: &str = "package main

import (
\t\"fmt\"
\t\"os\"
)

func add(a, b int) int {
\treturn a + b
}

func sub(a, b int) int {
\tif a < b {
\t\treturn b - a
\t}
\treturn a - b
}

func never(x int) int {
\tx = x * 2
\treturn x + 1
}

func main() {
\tfmt.Println(add(1, 2))
\tfmt.Println(sub(5, 3))
\tif len(os.Args) > 5 {
\t\tfmt.Println(\"many\", never(3))
\t}
}
";

const CALC_UTIL: &str = "package main

func util(n int) int {
\tif n > 100 {
\t\treturn 100
\t}
\treturn n
}

func init() {
\t_ = util(7)
}
";

#[test]
fn patch_coverage_equals_diff_covers_on_a_real_go_program() {
    let Some(()) = external::require(
        "go (the Go toolchain)",
        found("go").or_else(|| {
            // `go --version` is not a Go flag; `go version` is.
            go().arg("version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|_| ())
        }),
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
    const URL: &str = "https://example.com/calc";
    let r = Repo::new();
    r.write("go.mod", "module example.com/calc\n\ngo 1.22\n");
    r.write("main.go", CALC_BASE);
    r.commit("base");
    r.write("main.go", CALC_HEAD);
    r.write("util.go", CALC_UTIL);
    let head = r.commit("sub, never, util");

    // Build with -cover outside the checkout, run once, keep the coverage files.
    let bin = r.scratch.join("calc");
    let out = go()
        .args(["build", "-cover", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&r.dir)
        .env("GOCACHE", r.scratch.join("gocache"))
        .output()
        .unwrap();
    ok(&out);
    let pod = r.scratch.join("collection/coverage/calc");
    fs::create_dir_all(&pod).unwrap();
    let run = Command::new(&bin).env("GOCOVERDIR", &pod).output().unwrap();
    ok(&run);
    fs::write(
        pod.join("metadata.json"),
        r#"{"pod_name": "calc-7d9f8b6c4-x2x9z", "namespace": "ci",
            "container": {"name": "calc", "image": "img/calc"}, "binary_name": "calc",
            "collected_at": "2026-11-21T09:00:00Z", "hostname": "node-a",
            "host_process": false, "owner_kind": "Deployment", "owner_name": "calc"}"#,
    )
    .unwrap();
    fs::write(
        pod.join("info.json"),
        format!(r#"{{"binary": "calc", "source_url": "{URL}", "source_commit": "{head}"}}"#),
    )
    .unwrap();
    let collection = r.scratch.join("collection");
    let c = collection.to_str().unwrap();
    ok(&livecov(&["cluster", "compile", "--collection", c], &r.dir));

    // livecov's Cobertura export is diff-cover's input.
    let xml = r.scratch.join("coverage.xml");
    ok(&livecov(
        &[
            "export",
            "--collection",
            c,
            "--format",
            "cobertura",
            "-o",
            xml.to_str().unwrap(),
        ],
        &r.dir,
    ));
    let report = r.scratch.join("diff-cover.json");
    let out = Command::new(&diff_cover)
        .arg(&xml)
        .arg("--compare-branch=HEAD~1")
        .arg(format!("--json-report={}", report.display()))
        .current_dir(&r.dir)
        .output()
        .unwrap();
    ok(&out);
    let dc: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();

    // The Go text profile of the same run, from Go's own tool, as --profile.
    let profile = r.scratch.join("profile.txt");
    let out = go()
        .args(["tool", "covdata", "textfmt", "-i"])
        .arg(&pod)
        .arg("-o")
        .arg(&profile)
        .output()
        .unwrap();
    ok(&out);

    // The same figures from the collection, Go's text profile and livecov's own
    // Cobertura export read back (the file diff-cover read).
    for input in [
        vec!["--collection", c],
        vec!["--profile", profile.to_str().unwrap()],
        vec!["--profile", xml.to_str().unwrap()],
    ] {
        let mut args = input.clone();
        args.extend_from_slice(&["--base", "HEAD~1"]);
        let v = r.diff_json(&args);
        let lines = v["patch"]["lines"].as_u64().unwrap();
        let covered = v["patch"]["covered"].as_u64().unwrap();
        assert!(
            lines >= 10,
            "the change should have executable lines: {v:#}"
        );
        assert!(covered > 0 && covered < lines, "{v:#}");
        assert_eq!(
            (lines, lines - covered),
            (
                dc["total_num_lines"].as_u64().unwrap(),
                dc["total_num_violations"].as_u64().unwrap()
            ),
            "{input:?}: livecov {v:#}\ndiff-cover {dc:#}"
        );
        for f in v["files"].as_array().unwrap() {
            let path = f["path"].as_str().unwrap();
            let st = &dc["src_stats"][path];
            let violations: Vec<u64> = st["violation_lines"]
                .as_array()
                .unwrap_or_else(|| panic!("diff-cover has no {path}: {dc:#}"))
                .iter()
                .map(|l| l.as_u64().unwrap())
                .collect();
            let ours: Vec<u64> = f["uncovered_lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_u64().unwrap())
                .collect();
            assert_eq!(ours, violations, "{path}");
        }
    }
}

// ---- a real Python program under coverage.py against diff-cover ----

fn coveragepy_python() -> Option<PathBuf> {
    std::env::var_os("LIVECOV_COVERAGEPY_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/var/tmp/lc-venv-covpy/bin/python3")])
        .find(|python| {
            Command::new(python)
                .args(["-c", "import coverage"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

const PY_CALC_BASE: &str = r#""""Calculator."""


def add(a, b):
    return a + b


def sign(x):
    if x < 0:
        return -1
    return 1
"#;

/// A comment-only edit (line 5), a new branch half run (13 never runs), a multi-line
/// statement (18-21, one statement for coverage.py), a function never called (26, 27).
const PY_CALC_HEAD: &str = r#""""Calculator."""


def add(a, b):
    # adds two numbers
    return a + b


def sign(x):
    if x < 0:
        return -1
    if x == 0:
        return 0
    return 1


def total(values):
    result = sum(
        v * 2
        for v in values
    )
    return result


def never(x):
    y = x + 1
    return y
"#;

#[test]
fn coveragepy_data_and_its_cobertura_xml_give_diff_covers_patch_coverage() {
    let Some(python) = external::require(
        "coverage.py (run .ci/install-coveragepy.sh or set LIVECOV_COVERAGEPY_PYTHON)",
        coveragepy_python(),
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
    let r = Repo::new();
    r.write("pkg/__init__.py", "");
    r.write("pkg/calc.py", PY_CALC_BASE);
    r.write(
        "main.py",
        "from pkg.calc import add, sign\n\nprint(add(1, 2), sign(5))\n",
    );
    r.commit("base");
    r.write("pkg/calc.py", PY_CALC_HEAD);
    r.write(
        "main.py",
        "from pkg.calc import add, sign, total\n\nprint(add(1, 2), sign(5), total([1, 2]))\n",
    );
    r.commit("sign of zero, total, never");

    // coverage.py runs the head; its data file and `coverage xml` land outside the
    // checkout.
    let data = r.scratch.join(".coverage");
    let xml = r.scratch.join("coverage.xml");
    for args in [
        vec!["run", "main.py"],
        vec!["xml", "-o", xml.to_str().unwrap()],
    ] {
        let out = Command::new(&python)
            .args(["-m", "coverage"])
            .args(&args)
            .current_dir(&r.dir)
            .env("COVERAGE_FILE", &data)
            .output()
            .unwrap();
        ok(&out);
    }
    let report = r.scratch.join("diff-cover.json");
    ok(&Command::new(&diff_cover)
        .arg(&xml)
        .arg("--compare-branch=HEAD~1")
        .arg(format!("--json-report={}", report.display()))
        .current_dir(&r.dir)
        .output()
        .unwrap());
    let dc: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(
        dc["src_stats"]["pkg/calc.py"]["violation_lines"],
        json!([13, 26, 27]),
        "{dc:#}"
    );

    let py = python.to_str().unwrap();
    for input in [data.to_str().unwrap(), xml.to_str().unwrap()] {
        let v = r.diff_json(&["--profile", input, "--python", py, "--base", "HEAD~1"]);
        assert_eq!(
            (v["patch"]["lines"].as_u64(), v["patch"]["covered"].as_u64()),
            (
                dc["total_num_lines"].as_u64(),
                dc["total_num_lines"]
                    .as_u64()
                    .zip(dc["total_num_violations"].as_u64())
                    .map(|(l, v)| l - v)
            ),
            "{input}: livecov {v:#}\ndiff-cover {dc:#}"
        );
        let files: Vec<(&str, &Value)> = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["path"].as_str().unwrap(), &f["uncovered_lines"]))
            .collect();
        assert_eq!(
            files,
            [
                ("main.py", &json!([])),
                ("pkg/calc.py", &json!([13, 26, 27]))
            ],
            "{input}: {v:#}"
        );
        for (path, uncovered) in files {
            assert_eq!(
                uncovered, &dc["src_stats"][path]["violation_lines"],
                "{input}: {path}"
            );
        }
    }

    // Without coverage.py's analysis the statements are unknown: the file is left out
    // (no data), never shown as all covered.
    let out = r.diff(&[
        "--profile",
        data.to_str().unwrap(),
        "--python",
        "/nonexistent/python3",
        "--base",
        "HEAD~1",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/python3") && err.contains("no coverage.py statements"),
        "{err}"
    );
}

// ---- livecov compare ----

#[test]
fn compare_splits_direct_from_indirect_changes() {
    let (r, _base, _head) = changed_repo();
    // A: the base's run; B: the head's. other.go is not in the change, yet a line of it
    // stopped running (an indirect change).
    let a = r.scratch_file(
        "a.txt",
        "mode: set\nexample.com/m/a.go:3.14,6.2 2 1\nexample.com/m/other.go:3.2,3.9 1 1\n\
         example.com/m/other.go:4.2,4.9 1 0\n",
    );
    let b = r.scratch_file(
        "b.txt",
        "mode: set\nexample.com/m/a.go:3.14,7.2 3 1\nexample.com/m/a.go:9.14,11.2 1 0\n\
         example.com/m/other.go:3.2,3.9 1 0\nexample.com/m/other.go:4.2,4.9 1 1\n",
    );
    let out = livecov(
        &["compare", &a, &b, "--base", "main~1", "--format", "json"],
        &r.dir,
    );
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        v["direct"],
        json!({"files": 1, "newly_covered": 1, "newly_uncovered": 0})
    );
    assert_eq!(
        v["indirect"],
        json!({"files": 1, "newly_covered": 1, "newly_uncovered": 1})
    );
    assert_eq!(
        v["files"],
        json!([
            {"path": "a.go", "direct": true,
             "a": {"lines": 4, "covered": 4, "percent": 100.0},
             "b": {"lines": 8, "covered": 5, "percent": 62.5},
             "newly_covered": [7], "newly_uncovered": []},
            {"path": "other.go", "direct": false,
             "a": {"lines": 2, "covered": 1, "percent": 50.0},
             "b": {"lines": 2, "covered": 1, "percent": 50.0},
             "newly_covered": [4], "newly_uncovered": [3]},
        ])
    );
    let table = ok(&livecov(&["compare", &a, &b, "--base", "main~1"], &r.dir));
    assert!(
        table.contains("  indirect (files it did not touch): +1 -1 lines in 1 files"),
        "{table}"
    );
}

#[test]
fn compare_collections_per_owner_and_build() {
    const URL: &str = "https://example.com/prog";
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let commit = "0123456789abcdef0123456789abcdef01234567";
    add_pod(&a, "web", "count", URL, commit);
    add_pod(&b, "web", "count", URL, commit);
    add_pod(&b, "worker", "prog2_count", URL, commit);
    for c in [&a, &b] {
        ok(&livecov(
            &["cluster", "compile", "--collection", c.to_str().unwrap()],
            tmp.path(),
        ));
    }
    let out = livecov(
        &[
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--format",
            "json",
        ],
        tmp.path(),
    );
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    // Only the new owner and its build differ; web is the same on both sides.
    let owners = v["owners"].as_array().unwrap();
    assert_eq!(owners.len(), 1, "{v:#}");
    assert_eq!(owners[0]["name"], json!("shop/Deployment/worker/worker"));
    assert_eq!(owners[0]["a"], Value::Null);
    assert!(owners[0]["b"]["statements"].as_u64().unwrap() > 0);
    let builds = v["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 1, "{v:#}");
    assert_eq!(builds[0]["name"], json!("da4ea8542a4ab76ec42b3129b9de1f22"));
    assert_eq!(v["direct"], Value::Null);
}

#[test]
fn compare_two_collections_of_a_shared_postgres_store_by_name() {
    const URL: &str = "https://example.com/prog";
    let Some(pg) = pgserver::Postgres::start() else {
        return;
    };
    let url = pg.create_database("compare");
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let commit = "0123456789abcdef0123456789abcdef01234567";
    add_pod(&a, "web", "count", URL, commit);
    // The same build run another way: some lines change.
    add_pod(&b, "web", "osexit", URL, commit);
    add_pod(&b, "worker", "prog2_count", URL, commit);
    for (c, name) in [(&a, "run1"), (&b, "run2")] {
        let c = c.to_str().unwrap();
        // Into the shared store under a name, and into the collection's own SQLite file.
        ok(&livecov(
            &[
                "cluster",
                "compile",
                "--collection",
                c,
                "--store",
                &url,
                "--collection-name",
                name,
            ],
            tmp.path(),
        ));
        ok(&livecov(
            &["cluster", "compile", "--collection", c],
            tmp.path(),
        ));
    }
    let sqlite = ok(&livecov(
        &[
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--format",
            "json",
        ],
        tmp.path(),
    ));
    // From a directory holding neither collection: only the store has them.
    let elsewhere = tmp.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    let shared = ok(&livecov(
        &[
            "compare", "--store", &url, "run1", "run2", "--format", "json",
        ],
        &elsewhere,
    ));
    let v: Value = serde_json::from_str(&shared).unwrap();
    assert_eq!(
        (&v["a"]["path"], &v["b"]["path"]),
        (&json!("run1"), &json!("run2"))
    );
    // The same report as the SQLite stores', but for the names of the two sides.
    let mut expected: Value = serde_json::from_str(&sqlite).unwrap();
    expected["a"]["path"] = json!("run1");
    expected["b"]["path"] = json!("run2");
    assert_eq!(v, expected);
    let owners: Vec<&str> = v["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(owners.contains(&"shop/Deployment/worker/worker"), "{v:#}");
    assert!(
        v["files"].as_array().is_some_and(|f| !f.is_empty()),
        "osexit against count changes some lines: {v:#}"
    );

    // An unknown name is an error that names it and keeps the password out.
    let out = livecov(&["compare", "--store", &url, "run1", "run9"], &elsewhere);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run9"), "{err}");
    assert!(!err.contains(pgserver::PASSWORD), "{err}");
}
