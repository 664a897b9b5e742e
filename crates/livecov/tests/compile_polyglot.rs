//! One collection, three languages: report directories holding Go coverage, coverage.py
//! data files and LCOV files side by side, compiled into one store, reported and rendered.
//!
//! The default run uses golden files the real tools made (Go's `covdata` outputs,
//! coverage.py 7.17.5's `.coverage` and `coverage json`, llvm-cov's and lcov's tracefiles,
//! all under `tests/fixtures/go/golden` and `crates/livecov-formats/tests/data`). With
//! coverage.py installed (`.ci/install-coveragepy.sh`, or `LIVECOV_COVERAGEPY_PYTHON`),
//! the `live_` tests run real Python programs under it, in line and branch mode, and
//! compare compile's per-file numbers with `coverage json` on the same data; under CI they
//! must run.

#[path = "support/external.rs"]
mod external;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use livecov_store::{CoverageStore, Store};
use serde_json::Value;

fn livecov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn formats_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../livecov-formats/tests/data")
}

fn go_golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/golden")
}

/// `<collection>/coverage/<name>` holding `files` (source path, name in the directory)
/// and a metadata.json for pod `name` with `extra` fields.
fn add_dir(collection: &Path, name: &str, files: &[(PathBuf, &str)], extra: &str) -> PathBuf {
    let dir = collection.join("coverage").join(name);
    fs::create_dir_all(&dir).unwrap();
    for (from, to) in files {
        fs::copy(from, dir.join(to)).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
    fs::write(
        dir.join("metadata.json"),
        format!(
            r#"{{"pod_name": "{name}-0", "namespace": "shop", "container": "app",
               "binary_name": "{name}", "hostname": "node-a",
               "collected_at": "2026-12-03T12:00:00Z"{extra}}}"#
        ),
    )
    .unwrap();
    dir
}

fn compile(c: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["cluster", "compile", "--collection", c.to_str().unwrap()];
    args.extend_from_slice(extra);
    livecov(&args)
}

fn report(c: &Path) -> Value {
    let out = livecov(&[
        "report",
        "--collection",
        c.to_str().unwrap(),
        "--format",
        "json",
    ]);
    // The exit status says whether an input failed; the JSON is printed either way.
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

/// The build of the owner whose binary is `binary`, from the JSON report.
fn build_of<'a>(r: &'a Value, binary: &str) -> &'a Value {
    let owner = r["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["binary"] == binary)
        .unwrap_or_else(|| panic!("no owner {binary}: {r:#}"));
    r["builds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["build"] == owner["build"])
        .unwrap()
}

/// Per file of the build `hex`: (statements, covered, lines whose counter is 0, counts
/// per line).
type Files = BTreeMap<String, (u64, u64, Vec<u32>, BTreeMap<u32, u32>)>;

fn stored_files(c: &Path, hex: &str) -> Files {
    let store = Store::open_read_only(&c.join("livecov.db")).unwrap();
    let b = store
        .builds()
        .unwrap()
        .into_iter()
        .find(|b| livecov_formats::gocovdata::hex16(&b.hash) == hex)
        .unwrap();
    let layout = store.model_layout(b.id).unwrap().unwrap();
    let counters = store
        .build_counters(
            b.id,
            layout.units.len(),
            layout.mode,
            livecov_model::MergeRule::Sum,
        )
        .unwrap();
    let mut out = Files::new();
    for f in store.build_files(b.id).unwrap() {
        out.insert(
            f.path.clone(),
            (f.statements, f.covered, Vec::new(), BTreeMap::new()),
        );
    }
    for func in 0..layout.functions.len() {
        let path = &layout.file_of(func).path;
        let entry = out.get_mut(path).unwrap();
        for k in layout.function_units(func) {
            let line = layout.units[k].start_line;
            if counters[k] == 0 {
                entry.2.push(line);
            }
            entry.3.insert(line, counters[k]);
        }
    }
    for e in out.values_mut() {
        e.2.sort_unstable();
    }
    out
}

/// Asserts that the stored files of build `hex` have `coverage json`'s numbers.
fn assert_equals_coverage_json(c: &Path, hex: &str, json: &Value, strip: &str) {
    let stored = stored_files(c, hex);
    let files = json["files"].as_object().unwrap();
    assert_eq!(stored.len(), files.len(), "{stored:?}");
    for (name, f) in files {
        let name = name.strip_prefix(strip).unwrap_or(name);
        let (statements, covered, missing, _) = &stored[name];
        assert_eq!(
            *statements, f["summary"]["num_statements"],
            "{name}: statements"
        );
        assert_eq!(*covered, f["summary"]["covered_lines"], "{name}: covered");
        let expected: Vec<u32> = f["missing_lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(*missing, expected, "{name}: missing lines");
    }
}

/// (LF, LH) per `SF:` of a tracefile as its producer wrote them.
fn lcov_summaries(path: &Path) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    let mut sf = String::new();
    for l in fs::read_to_string(path).unwrap().lines() {
        if let Some(p) = l.strip_prefix("SF:") {
            sf = p.to_owned();
        } else if let Some(n) = l.strip_prefix("LF:") {
            out.entry(sf.clone()).or_insert((0, 0)).0 = n.parse().unwrap();
        } else if let Some(n) = l.strip_prefix("LH:") {
            out.entry(sf.clone()).or_insert((0, 0)).1 = n.parse().unwrap();
        }
    }
    out
}

/// (line, count) of every `DA` record of a tracefile.
fn lcov_counts(path: &Path) -> BTreeMap<u32, u32> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("DA:"))
        .map(|d| {
            let mut f = d.split(',');
            (
                f.next().unwrap().parse().unwrap(),
                f.next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// The JSON a page embeds in `<script id="livecov-data" type="application/json">`.
fn page_data(path: &Path) -> Value {
    let html = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let marker = "<script id=\"livecov-data\" type=\"application/json\">";
    let start = html.find(marker).unwrap() + marker.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// A collection of one Go pod, two coverage.py pods (line and branch mode, each with the
/// `coverage json` report of the same save) and two LCOV pods (llvm-cov's export; gcc's
/// capture twice, to be merged like `lcov -a`).
fn polyglot(c: &Path) {
    let py = formats_data().join("coveragepy");
    let lcov = formats_data().join("lcov");
    let go: Vec<(PathBuf, &str)> = fs::read_dir(go_golden().join("data/count"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name: &'static str = p.file_name().unwrap().to_string_lossy().into_owned().leak();
            (p, name)
        })
        .collect();
    add_dir(c, "goapp", &go, "");
    add_dir(
        c,
        "pylines",
        &[
            (py.join("lines/.coverage"), ".coverage"),
            (py.join("lines/coverage.json"), "coverage.json"),
        ],
        r#", "language": "python", "source_repo": "https://example.com/py", "source_commit": "1111""#,
    );
    add_dir(
        c,
        "pybranch",
        &[
            (py.join("branch/.coverage"), ".coverage"),
            (py.join("branch/coverage.json"), "coverage.json"),
        ],
        r#", "language": "python", "source_commit": "2222""#,
    );
    add_dir(
        c,
        "clang",
        &[(lcov.join("llvm-cov-export.info"), "lcov.info")],
        r#", "language": "lcov", "source_root": "/var/tmp/lc-gold/clang""#,
    );
    add_dir(
        c,
        "gcc",
        &[
            (lcov.join("gcc-lcov-capture.info"), "a.info"),
            (lcov.join("gcc-lcov-capture.info"), "b.lcov"),
        ],
        r#", "source_root": "/var/tmp/lc-gold/gcc/""#,
    );
}

#[test]
fn go_python_and_lcov_compile_report_and_render_together() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("run");
    polyglot(&c);
    let out = compile(&c, &["--python", "/nonexistent/python3"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("compiled 5 inputs"), "{stderr}");
    let r = report(&c);
    assert_eq!(r["errors"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["diagnostics"], serde_json::json!([]), "{r:#}");

    // Go: covdata's totals.
    let go = build_of(&r, "goapp");
    assert_eq!(go["language"], "go");
    let textfmt = fs::read_to_string(go_golden().join("expected/count_textfmt.out")).unwrap();
    let (stmts, covered) = textfmt.lines().skip(1).fold((0u64, 0u64), |(t, c), l| {
        let f: Vec<&str> = l.split(' ').collect();
        let s: u64 = f[1].parse().unwrap();
        (t + s, c + if f[2] != "0" { s } else { 0 })
    });
    assert_eq!(go["statements"], stmts);
    assert_eq!(go["covered_statements"], covered);

    // coverage.py: `coverage json`'s numbers, file by file; set mode, and said so.
    let py = formats_data().join("coveragepy");
    for (binary, case) in [("pylines", "lines"), ("pybranch", "branch")] {
        let b = build_of(&r, binary);
        assert_eq!(b["language"], "python", "{binary}");
        assert_eq!(b["mode"], "set", "{binary}");
        assert!(b["note"].as_str().unwrap().contains("hits are 0/1"), "{b}");
        let json: Value =
            serde_json::from_slice(&fs::read(py.join(case).join("coverage.json")).unwrap())
                .unwrap();
        assert_equals_coverage_json(&c, b["build"].as_str().unwrap(), &json, "");
        let totals = &json["totals"];
        assert_eq!(b["statements"], totals["num_statements"], "{binary}");
        assert_eq!(b["covered_statements"], totals["covered_lines"], "{binary}");
    }
    let owner = r["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["binary"] == "pylines")
        .unwrap();
    assert_eq!(owner["language"], "python");

    // LCOV: the producers' LF/LH per file; gcc's two files summed as `lcov -a` sums them.
    let lcov = formats_data().join("lcov");
    let clang = build_of(&r, "clang");
    assert_eq!(clang["language"], "lcov");
    assert_eq!(clang["mode"], "count");
    let files = stored_files(&c, clang["build"].as_str().unwrap());
    let expected = lcov_summaries(&lcov.join("llvm-cov-export.info"));
    assert_eq!(files.len(), expected.len());
    for (sf, (lf, lh)) in &expected {
        let rel = sf.strip_prefix("/var/tmp/lc-gold/clang/").unwrap();
        assert_eq!((files[rel].0, files[rel].1), (*lf, *lh), "{rel}");
    }
    let gcc = build_of(&r, "gcc");
    let files = stored_files(&c, gcc["build"].as_str().unwrap());
    let twice = lcov_summaries(&lcov.join("gcc-lcov-add-twice.info"));
    let (lf, lh) = twice["/var/tmp/lc-gold/gcc/prog.c"];
    assert_eq!((files["prog.c"].0, files["prog.c"].1), (lf, lh));
    assert_eq!(
        files["prog.c"].3,
        lcov_counts(&lcov.join("gcc-lcov-add-twice.info")),
        "counts summed as lcov -a sums them"
    );

    // The table names each owner's language.
    let out = livecov(&["report", "--collection", c.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&out.stdout);
    for lang in ["go", "python", "lcov"] {
        assert!(table.contains(&format!("  {lang}  ")), "{table}");
    }

    // The site: every build in the index with its language and totals, and a build page
    // with the same totals.
    let out = livecov(&["cluster", "render", "--collection", c.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let html = c.join("html");
    let index = page_data(&html.join("index.html"));
    for b in r["builds"].as_array().unwrap() {
        let hex = b["build"].as_str().unwrap();
        let entry = &index["builds"][hex];
        assert_eq!(entry["language"], b["language"], "{hex}");
        assert_eq!(entry["statements"], b["statements"], "{hex}");
        assert_eq!(entry["covered"], b["covered_statements"], "{hex}");
        let page = page_data(&html.join(format!("b/{hex}/index.html")));
        assert_eq!(page["language"], b["language"], "{hex}");
        assert_eq!(page["statements"], b["statements"], "{hex}");
        assert_eq!(page["covered"], b["covered_statements"], "{hex}");
    }

    // Nothing changed: nothing recompiled; another Python recompiles the coverage.py
    // inputs (their statements may come from it).
    let out = compile(&c, &["--python", "/nonexistent/python3"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("compiled 0 inputs (5 unchanged"),
        "{}",
        text(&out)
    );
    let out = compile(&c, &["--python", "/other/python3"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("compiled 2 inputs (3 unchanged"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_python_build_is_its_layout_plus_the_source_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("run");
    let py = formats_data().join("coveragepy/lines");
    let files = [
        (py.join(".coverage"), ".coverage"),
        (py.join("coverage.json"), "coverage.json"),
    ];
    add_dir(&c, "a", &files, r#", "source_commit": "aaaa""#);
    add_dir(&c, "b", &files, r#", "source_commit": "aaaa""#);
    add_dir(&c, "d", &files, r#", "source_commit": "dddd""#);
    let out = compile(&c, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let r = report(&c);
    assert_eq!(build_of(&r, "a")["build"], build_of(&r, "b")["build"]);
    assert_ne!(build_of(&r, "a")["build"], build_of(&r, "d")["build"]);
    assert_eq!(r["builds"].as_array().unwrap().len(), 2);
}

#[test]
fn without_coverage_py_statements_are_unknown_and_said_so() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("run");
    let py = formats_data().join("coveragepy/lines");
    add_dir(&c, "py", &[(py.join(".coverage"), ".coverage")], "");
    let out = compile(
        &c,
        &[
            "--python",
            "/nonexistent/python3",
            "--python-source",
            py.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("lines_prog.py: statements unknown")
            && stderr.contains("/nonexistent/python3")
            && stderr.contains("executed lines only"),
        "{stderr}"
    );
    let r = report(&c);
    let b = build_of(&r, "py");
    assert!(
        b["note"].as_str().unwrap().contains("statements unknown"),
        "{b}"
    );
    // Executed lines only: what coverage.py recorded, each covered.
    let raw: Value = serde_json::from_slice(&fs::read(py.join("raw.json")).unwrap()).unwrap();
    let executed = raw[".coverage"]["files"]["lines_prog.py"]["lines"]
        .as_array()
        .unwrap()
        .len() as u64;
    assert_eq!(b["statements"], executed);
    assert_eq!(b["covered_statements"], executed);
}

/// Writes a coverage.py-shaped SQLite file whose schema version is `version`.
fn data_file_of_version(path: &Path, version: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE coverage_schema (version integer); INSERT INTO coverage_schema VALUES ({version});
         CREATE TABLE meta (key text, value text, unique (key));"
    ))
    .unwrap();
}

#[test]
fn bad_python_and_lcov_inputs_are_reported_by_file_and_line_and_the_rest_compiles() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("run");
    let py = formats_data().join("coveragepy");
    let lcov = formats_data().join("lcov");
    // A good directory beside the bad ones.
    add_dir(
        &c,
        "good",
        &[
            (py.join("lines/.coverage"), ".coverage"),
            (py.join("lines/coverage.json"), "coverage.json"),
        ],
        "",
    );
    // A corrupt SQLite file next to a good parallel file: the good one still counts.
    let corrupt = add_dir(
        &c,
        "corrupt",
        &[(py.join("lines/.coverage"), ".coverage.host.pid1.XAbCdEfx")],
        "",
    );
    let mut bytes = fs::read(py.join("lines/.coverage")).unwrap();
    bytes.truncate(bytes.len() / 3);
    bytes[100..200].fill(0xff);
    fs::write(corrupt.join(".coverage.host.pid2.XAbCdEgx"), bytes).unwrap();
    // A data file of schema version 6, alone: the input fails and says why.
    let old = add_dir(&c, "schema6", &[], "");
    data_file_of_version(&old.join(".coverage"), 6);
    // The live writer's series: the newer one is damaged, so the older counts (partial).
    let series = add_dir(
        &c,
        "series",
        &[(py.join("lines/.coverage"), ".coverage.livecov-1")],
        "",
    );
    fs::write(
        series.join(".coverage.livecov-2"),
        b"SQLite format 3\0garbage",
    )
    .unwrap();
    // LCOV with malformed records, and a path that maps nowhere.
    let mut info = fs::read_to_string(lcov.join("llvm-cov-export.info")).unwrap();
    info = info.replacen(
        "SF:/var/tmp/lc-gold/clang/prog.c\n",
        "SF:/var/tmp/lc-gold/clang/prog.c\nDA:notanumber,1\n",
        1,
    );
    info.push_str("SF:/elsewhere/other.c\nDA:1,1\nDA:x\nend_of_record\n");
    let bad_lcov = add_dir(
        &c,
        "badlcov",
        &[],
        r#", "source_root": "/var/tmp/lc-gold/clang""#,
    );
    fs::write(bad_lcov.join("lcov.info"), &info).unwrap();
    fs::write(bad_lcov.join("empty.lcov"), "not a tracefile\n").unwrap();

    let out = compile(&c, &["--python", "/nonexistent/python3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // One input failed (schema 6): exit 2, the four others compiled.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("compiled 4 inputs (0 unchanged, 1 failed, 3 partial"),
        "{stderr}"
    );
    let r = report(&c);
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0][0], "schema6");
    let e = errors[0][1].as_str().unwrap();
    assert!(
        e.contains("schema6/.coverage") && e.contains("schema version 6"),
        "{e}"
    );
    let diags: Vec<(String, String)> = r["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["dir"].as_str().unwrap().to_owned(),
                d["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let has = |dir: &str, parts: &[&str]| {
        diags
            .iter()
            .any(|(d, m)| d == dir && parts.iter().all(|p| m.contains(p)))
    };
    assert!(
        has(
            "corrupt",
            &[
                ".coverage.host.pid2.XAbCdEgx",
                "not a readable SQLite database"
            ]
        ),
        "{diags:#?}"
    );
    assert!(
        has("series", &[".coverage.livecov-2", "the other file"]),
        "{diags:#?}"
    );
    assert!(
        has(
            "badlcov",
            &["lcov.info: line 2:", "notanumber", "record skipped"]
        ),
        "{diags:#?}"
    );
    assert!(
        has(
            "badlcov",
            &[
                "lcov.info: line 63:",
                "SF:/elsewhere/other.c",
                "found \"x\""
            ]
        ),
        "{diags:#?}"
    );
    assert!(
        has(
            "badlcov",
            &["empty.lcov", "not an LCOV tracefile", "file skipped"]
        ),
        "{diags:#?}"
    );
    assert!(
        has("badlcov", &["/elsewhere/other.c", "maps nowhere"]),
        "{diags:#?}"
    );
    let partial: Vec<&str> = r["partial"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(partial, ["badlcov", "corrupt", "series"]);

    // What was readable counts: the corrupt dir's good file and the series' older file
    // have the good directory's numbers.
    let good = build_of(&r, "good");
    for dir in ["corrupt", "series"] {
        let b = build_of(&r, dir);
        assert_eq!(b["language"], "python");
        // Without coverage.py and sources these are executed lines only...
        assert!(
            b["note"].as_str().unwrap().contains("statements unknown"),
            "{b}"
        );
        // ...which are the good file's covered statements.
        assert_eq!(b["covered_statements"], good["covered_statements"], "{dir}");
    }
    let owners = r["owners"].as_array().unwrap();
    let series_owner = owners.iter().find(|o| o["binary"] == "series").unwrap();
    assert_eq!(series_owner["pods"], serde_json::json!(["series-0"]));
    // The LCOV file's good records are all there: LF/LH of prog.c as llvm-cov wrote them
    // (the malformed DA line is the only one dropped, and it was an addition).
    let b = build_of(&r, "badlcov");
    let files = stored_files(&c, b["build"].as_str().unwrap());
    let expected = lcov_summaries(&lcov.join("llvm-cov-export.info"));
    let (lf, lh) = expected["/var/tmp/lc-gold/clang/prog.c"];
    assert_eq!((files["prog.c"].0, files["prog.c"].1), (lf, lh));
    assert_eq!(
        (files["/elsewhere/other.c"].0, files["/elsewhere/other.c"].1),
        (1, 1)
    );

    // Errors are not sticky: fixed, the input compiles.
    fs::remove_file(old.join(".coverage")).unwrap();
    fs::copy(py.join("lines/.coverage"), old.join(".coverage")).unwrap();
    fs::copy(py.join("lines/coverage.json"), old.join("coverage.json")).unwrap();
    let out = compile(&c, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report(&c)["errors"], serde_json::json!([]));
}

// ---- live, against coverage.py from PyPI ----

/// The Python of a venv holding coverage.py: `LIVECOV_COVERAGEPY_PYTHON`, or the venv
/// `.ci/install-coveragepy.sh` makes.
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

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
    out
}

/// Runs `program` (a fixture of livecov-formats) under coverage.py in a fresh `/app`-like
/// directory `root` (branch mode when `branch`), and returns `coverage json`'s report.
fn run_under_coverage(python: &Path, root: &Path, program: &str, branch: bool) -> Value {
    fs::create_dir_all(root.join("pkg")).unwrap();
    let src = formats_data().join("coveragepy/programs").join(program);
    fs::copy(&src, root.join("pkg").join(program)).unwrap();
    let mut run = Command::new(python);
    run.current_dir(root)
        .args(["-m", "coverage", "run"])
        .args(branch.then_some("--branch"))
        .arg(format!("pkg/{program}"))
        .env_remove("COVERAGE_FILE")
        .env_remove("COVERAGE_RCFILE")
        .env_remove("COVERAGE_PROCESS_START");
    run_ok(&mut run);
    run_ok(Command::new(python).current_dir(root).args([
        "-m",
        "coverage",
        "json",
        "-o",
        "coverage.json",
    ]));
    serde_json::from_slice(&fs::read(root.join("coverage.json")).unwrap()).unwrap()
}

#[test]
fn live_statements_from_coverage_py_equal_coverage_json() {
    let Some(python) = external::require(
        "coverage.py (run .ci/install-coveragepy.sh or set LIVECOV_COVERAGEPY_PYTHON)",
        coveragepy_python(),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("run");
    // Each program runs as if in a container at <app>, its data recording absolute paths
    // there; compile finds the sources in a checkout elsewhere through source_root.
    for (name, program, branch) in [
        ("lines", "lines_prog.py", false),
        ("branch", "branch_prog.py", true),
    ] {
        let app = tmp.path().join(format!("app-{name}"));
        let json = run_under_coverage(&python, &app, program, branch);
        let checkout = tmp.path().join(format!("checkout-{name}"));
        fs::create_dir_all(checkout.join("pkg")).unwrap();
        fs::copy(
            app.join("pkg").join(program),
            checkout.join("pkg").join(program),
        )
        .unwrap();
        // Only the data file: statements must come from coverage.py's analysis.
        add_dir(
            &c,
            name,
            &[(app.join(".coverage"), ".coverage")],
            &format!(r#", "source_root": "{}""#, app.display()),
        );
        let out = compile(
            &c,
            &[
                "--python",
                python.to_str().unwrap(),
                "--python-source",
                checkout.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        let r = report(&c);
        assert_eq!(r["diagnostics"], serde_json::json!([]), "{r:#}");
        let b = build_of(&r, name);
        assert!(!b["note"].as_str().unwrap().contains("unknown"), "{b}");
        let prefix = format!("{}/", app.display());
        let relative: Value = serde_json::json!({
            "files": json["files"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.strip_prefix(&prefix).unwrap_or(k).to_owned(), v.clone()))
                .collect::<serde_json::Map<_, _>>()
        });
        assert_equals_coverage_json(&c, b["build"].as_str().unwrap(), &relative, "");
        assert_eq!(b["statements"], json["totals"]["num_statements"], "{name}");
        assert_eq!(
            b["covered_statements"], json["totals"]["covered_lines"],
            "{name}"
        );
    }

    // The committed goldens are what this coverage.py makes of the same programs.
    for case in ["lines", "branch"] {
        let golden: Value = serde_json::from_slice(
            &fs::read(
                formats_data()
                    .join("coveragepy")
                    .join(case)
                    .join("coverage.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let live: Value = serde_json::from_slice(
            &fs::read(tmp.path().join(format!("app-{case}/coverage.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(golden["totals"], live["totals"], "{case}");
    }
}

#[test]
fn of_the_live_writers_series_the_newer_save_counts_with_its_own_json_report() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("run");
    let py = formats_data().join("coveragepy");
    // `-1` saved last (by the object times the download recorded), with its report;
    // `-2` is the older save of the same process, with its own report.
    let dir = add_dir(
        &c,
        "live",
        &[
            (py.join("branch/.coverage"), ".coverage.livecov-1"),
            (py.join("branch/coverage.json"), "coverage-livecov-1.json"),
            (py.join("lines/.coverage"), ".coverage.livecov-2"),
            (py.join("lines/coverage.json"), "coverage-livecov-2.json"),
        ],
        "",
    );
    fs::write(
        dir.join(".livecov-objects.json"),
        r#"{"p/.coverage.livecov-1": {"last_modified": "2026-12-03T10:00:00Z"},
            "p/.coverage.livecov-2": {"last_modified": "2026-12-03T09:00:00Z"}}"#,
    )
    .unwrap();
    let out = compile(&c, &["--python", "/nonexistent/python3"]);
    assert!(out.status.success(), "{}", text(&out));
    let r = report(&c);
    assert_eq!(r["diagnostics"], serde_json::json!([]), "{r:#}");
    let b = build_of(&r, "live");
    let json: Value =
        serde_json::from_slice(&fs::read(py.join("branch/coverage.json")).unwrap()).unwrap();
    assert_equals_coverage_json(&c, b["build"].as_str().unwrap(), &json, "");
    let store = Store::open_read_only(&c.join("livecov.db")).unwrap();
    let procs = store.processes("live").unwrap();
    assert_eq!(procs.len(), 1);
    assert_eq!(procs[0].superseded, 1);
    assert_eq!(procs[0].snapshot_time, "2026-12-03T10:00:00Z");
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_python_builds_sources_are_shown_at_its_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let py = formats_data().join("coveragepy/lines");
    fs::create_dir_all(repo.join("pkg")).unwrap();
    fs::copy(py.join("lines_prog.py"), repo.join("pkg/lines_prog.py")).unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "prog"]);
    let commit = git(&repo, &["rev-parse", "HEAD"]);
    // The data recorded `lines_prog.py` relative to /app/pkg: a JSON report of absolute
    // paths under source_root /app.
    let c = tmp.path().join("run");
    let dir = add_dir(
        &c,
        "py",
        &[],
        &format!(
            r#", "source_root": "/app", "source_repo": "file://{}", "source_commit": "{commit}""#,
            repo.display()
        ),
    );
    let report: String = fs::read_to_string(py.join("coverage.json"))
        .unwrap()
        .replace("\"lines_prog.py\"", "\"/app/pkg/lines_prog.py\"");
    fs::write(dir.join("coverage.json"), report).unwrap();
    let out = compile(&c, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let cs = c.to_str().unwrap();
    let out = livecov(&[
        "cluster",
        "clone-sources",
        "--collection",
        cs,
        "--allow-local-remotes",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = livecov(&["cluster", "render", "--collection", cs]);
    assert!(out.status.success(), "{}", text(&out));
    let r = self::report(&c);
    let b = build_of(&r, "py");
    assert_eq!(
        (b["statements"].as_u64(), b["covered_statements"].as_u64()),
        (Some(15), Some(12))
    );
    let hex = b["build"].as_str().unwrap();
    let page = page_data(&c.join(format!("html/b/{hex}/index.html")));
    assert_eq!(page["source"]["status"], "ok", "{page:#}");
    assert_eq!(page["files"][0]["path"], "pkg/lines_prog.py");
    assert_eq!(page["files"][0]["source"], "ok", "{page:#}");
    let chunk = fs::read_to_string(c.join(format!("html/b/{hex}/f/0.js"))).unwrap();
    assert!(chunk.contains("def never_called():"), "{chunk}");
}

/// Paths of the compiled collection's JSON export, with their (covered, statements).
fn exported_files(c: &Path) -> BTreeMap<String, (u64, u64)> {
    let out = livecov(&[
        "export",
        "--collection",
        c.to_str().unwrap(),
        "--format",
        "json",
        "--paths",
        "recorded",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                (
                    f["covered"].as_u64().unwrap_or_default(),
                    f["statements"].as_u64().unwrap_or_default(),
                ),
            )
        })
        .collect()
}

#[test]
fn paths_entries_of_metadata_remap_lcov_and_coverage_py_paths_like_coverage_py() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("run");
    // One C file built in two build directories: [paths] makes them one file, whose
    // counts add up.
    let info = tmp.path().join("a.info");
    fs::write(
        &info,
        "SF:/build/7f3a/src/a.c\nDA:1,1\nDA:2,0\nend_of_record\n\
         SF:/build/99bc/src/a.c\nDA:1,2\nDA:2,3\nend_of_record\n\
         SF:/elsewhere/b.c\nDA:1,1\nend_of_record\n",
    )
    .unwrap();
    add_dir(
        &c,
        "cbin",
        &[(info, "coverage.info")],
        r#", "language": "lcov", "paths": [["src/", "/build/*/src/"]]"#,
    );
    // A coverage.py data file recorded under a builder's directory.
    let data = tmp.path().join(".coverage");
    fs::copy(formats_data().join("coveragepy/lines/.coverage"), &data).unwrap();
    let db = rusqlite::Connection::open(&data).unwrap();
    db.execute(
        "UPDATE file SET path = '/build/x1/app/lines_prog.py' WHERE path = 'lines_prog.py'",
        [],
    )
    .unwrap();
    drop(db);
    add_dir(
        &c,
        "pysvc",
        &[(data, ".coverage")],
        r#", "paths": [["pkg/", "/build/*/app/"]]"#,
    );
    let out = compile(&c, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let store = Store::open_read_only(&c.join("livecov.db")).unwrap();
    let mut stored: Vec<String> = Vec::new();
    for b in store.builds().unwrap() {
        stored.extend(store.build_files(b.id).unwrap().into_iter().map(|f| f.path));
    }
    stored.sort();
    // A path no pattern matches stays as recorded.
    assert_eq!(
        stored,
        ["/elsewhere/b.c", "pkg/lines_prog.py", "src/a.c"],
        "{}",
        text(&out)
    );
    // The two copies of a.c are one file: 2 of its 2 lines covered. The export holds the
    // set-mode Python build and the counting LCOV build together, whichever compile
    // stored first (it once left the second out).
    let files = exported_files(&c);
    assert_eq!(files.get("src/a.c"), Some(&(2, 2)), "{files:?}");
    assert_eq!(files.get("/elsewhere/b.c"), Some(&(1, 1)), "{files:?}");
    assert_eq!(files.get("pkg/lines_prog.py"), Some(&(12, 12)), "{files:?}");
    // LCOV keeps the C counts (1+2 and 0+3) and a Python line that ran counts 1.
    let out = livecov(&[
        "export",
        "--collection",
        c.to_str().unwrap(),
        "--format",
        "lcov",
        "--paths",
        "recorded",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let lcov = String::from_utf8(out.stdout).unwrap();
    let a = lcov.split("SF:src/a.c\n").nth(1).unwrap();
    assert!(a.starts_with("DA:1,3\nDA:2,3\n"), "{lcov}");
    let py = lcov.split("SF:pkg/lines_prog.py\n").nth(1).unwrap();
    let py = &py[..py.find("end_of_record").unwrap()];
    assert!(
        py.lines()
            .filter(|l| l.starts_with("DA:"))
            .all(|l| l.ends_with(",1") || l.ends_with(",0")),
        "{py}"
    );
}
