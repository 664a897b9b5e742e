//! `cluster compile`, `report` and `livecov go` on damaged and hostile collections
//! (issue 8, points 5 and 11): one unreadable file costs that file only, problems are
//! printed, counted, stored and listed; a damaged layout copy never decides a build;
//! files that are not files are refused before they are read; the exclusion set is part
//! of the totals' key; concurrent compiles wait for each other; an unfinished compile is
//! reported as such. All data is real Go output from `tests/fixtures/go/golden`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use livecov_formats::gocovdata::{decode_counter_file, encode_counter_file, FuncRecord};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/golden")
}

fn livecov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn metadata(pod: &str) -> String {
    format!(
        r#"{{"pod_name": "{pod}", "namespace": "ns", "container": {{"name": "app", "image": "img"}},
           "binary_name": "prog", "collected_at": "2026-11-21T09:00:00Z", "hostname": "node-a"}}"#
    )
}

fn add_dir(collection: &Path, name: &str, scenario: &str, pod: &str) -> PathBuf {
    let dir = collection.join("coverage").join(name);
    fs::create_dir_all(&dir).unwrap();
    for e in fs::read_dir(golden().join("data").join(scenario)).unwrap() {
        let e = e.unwrap();
        if e.file_name() != ".gitkeep" {
            fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    fs::write(dir.join("metadata.json"), metadata(pod)).unwrap();
    dir
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

fn compile(c: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["cluster", "compile", "--collection", c.to_str().unwrap()];
    args.extend_from_slice(extra);
    livecov(&args)
}

fn report_json(c: &Path) -> (serde_json::Value, Output) {
    let out = livecov(&[
        "report",
        "--collection",
        c.to_str().unwrap(),
        "--format",
        "json",
    ]);
    (
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
        }),
        out,
    )
}

fn owner_covered(r: &serde_json::Value) -> Vec<(String, u64, u64)> {
    r["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["pods"][0].as_str().unwrap().to_owned(),
                o["statements"].as_u64().unwrap(),
                o["covered_statements"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A truncated newest snapshot of a process costs that file only: the previous
/// snapshot counts, the input is partial, the problem is printed with its byte offset,
/// counted, stored, listed by report, and `--strict` makes it exit status 2.
#[test]
fn a_truncated_latest_snapshot_falls_back_to_the_previous_one() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let reference = tmp.path().join("ref");
    add_dir(&reference, "snap", "atomic_snap", "api-0");
    assert!(compile(&reference, &[]).status.success());
    let dir = add_dir(c, "snap", "atomic_snap", "api-0");
    let snaps = files(&dir, "covcounters.");
    assert_eq!(snaps.len(), 3);
    // The reference: the same directory without its newest snapshot.
    fs::remove_file(
        reference
            .join("coverage/snap")
            .join(snaps[2].file_name().unwrap()),
    )
    .unwrap();
    assert!(compile(&reference, &["--update", "*"]).status.success());
    let (expected, _) = report_json(&reference);

    let bytes = fs::read(&snaps[2]).unwrap();
    fs::write(&snaps[2], &bytes[..bytes.len() - 20]).unwrap();
    let out = compile(c, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let name = snaps[2].display().to_string();
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("warning: {name}: at byte offset "))),
        "{err}"
    );
    assert!(
        err.contains("1 partial") && err.contains("1 warnings"),
        "{err}"
    );
    let (r, _) = report_json(c);
    assert_eq!(owner_covered(&r), owner_covered(&expected));
    assert!(owner_covered(&r)[0].2 > 0);
    assert_eq!(r["partial"], serde_json::json!(["snap"]));
    let diags = r["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["dir"], "snap");
    assert!(diags[0]["message"].as_str().unwrap().contains(&name));
    assert_eq!(r["complete"], true);

    // The table report keeps stdout for the tables and lists the problem on stderr.
    let out = livecov(&["report", "--collection", c.to_str().unwrap()]);
    assert!(out.status.success());
    let (table_out, table_err) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!table_out.contains("byte offset"), "{table_out}");
    assert!(table_err.contains("Diagnostics (1):"), "{table_err}");
    assert!(table_err.contains("1 inputs are partial"), "{table_err}");

    // The site lists it too (the index's data carries the diagnostics).
    let out = livecov(&["cluster", "render", "--collection", c.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let index = fs::read_to_string(c.join("html/index.html")).unwrap();
    assert!(
        index.contains("\"diagnostics\":[{\"dir\":\"snap\""),
        "{index}"
    );
    assert!(index.contains(snaps[2].file_name().unwrap().to_str().unwrap()));

    let out = compile(c, &["--strict"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--strict: the store holds 1 diagnostics"));
}

/// A record naming a function the layout does not have is ignored with a warning at
/// its byte offset (compile and `livecov go` share the rule); the file's other records
/// count.
#[test]
fn an_out_of_range_record_is_a_warning_and_the_rest_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let dir = add_dir(c, "count", "count", "web-0");
    let counter = &files(&dir, "covcounters.")[0];
    let (file, _) = decode_counter_file(&fs::read(counter).unwrap()).unwrap();
    let mut records = file.records.clone();
    records.push(FuncRecord {
        pkg: 99,
        func: 0,
        counters: vec![5],
    });
    fs::write(
        counter,
        encode_counter_file(file.meta_hash, &file.args, &records),
    )
    .unwrap();
    let out = compile(c, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("warning: {}: at byte offset ", counter.display()))
            && err.contains("names package 99")
            && err.contains("record ignored"),
        "{err}"
    );
    let (r, _) = report_json(c);
    assert!(owner_covered(&r)[0].2 > 0);
    assert_eq!(r["partial"], serde_json::json!([]), "no file was skipped");
    assert_eq!(r["diagnostics"].as_array().unwrap().len(), 1);
}

/// Issue 11.1: one damaged `covmeta` copy must not poison its build. The intact copy in
/// another directory is used for both, whichever directory comes first, every run.
#[test]
fn a_damaged_meta_copy_in_one_directory_does_not_poison_the_build() {
    let intact = tempfile::tempdir().unwrap();
    add_dir(intact.path(), "a", "count", "web-0");
    add_dir(intact.path(), "b", "count", "web-1");
    assert!(compile(intact.path(), &[]).status.success());
    let (expected, _) = report_json(intact.path());
    let go_func = |first: &Path, second: &Path| {
        livecov(&[
            "go",
            "func",
            &format!("-i={},{}", first.display(), second.display()),
        ])
    };
    let ia = intact.path().join("coverage/a");
    let expected_func = go_func(&ia, &intact.path().join("coverage/b")).stdout;

    for damaged_dir in ["a", "b"] {
        let tmp = tempfile::tempdir().unwrap();
        let c = tmp.path();
        add_dir(c, "a", "count", "web-0");
        add_dir(c, "b", "count", "web-1");
        let meta = files(&c.join("coverage").join(damaged_dir), "covmeta.").remove(0);
        let mut bytes = fs::read(&meta).unwrap();
        // A letter of a function name in the string table: the copy still decodes.
        let (m, _) = livecov_formats::gocovdata::decode_meta_file(&bytes).unwrap();
        let name = m.packages[0].functions[0].name.as_bytes().to_vec();
        let at = bytes.windows(name.len()).position(|w| w == name).unwrap();
        bytes[at] ^= 0x20;
        fs::write(&meta, &bytes).unwrap();
        for run in 0..2 {
            let out = compile(c, &["--update", "*"]);
            let err = stderr(&out);
            assert!(out.status.success(), "{err}");
            // The damaged copy is named when it was tried (it comes first); when the
            // intact one comes first, the damaged one is never needed.
            if damaged_dir == "a" {
                assert!(
                    err.contains(&format!(
                        "warning: {}: its content does not match",
                        meta.display()
                    )),
                    "run {run}: {err}"
                );
            }
            let (r, _) = report_json(c);
            assert_eq!(
                r["builds"], expected["builds"],
                "damaged {damaged_dir}, run {run}"
            );
            assert_eq!(r["owners"], expected["owners"]);
        }
        // `livecov go` keeps the intact layout whatever the order of the directories.
        let (a, b) = (c.join("coverage/a"), c.join("coverage/b"));
        for (first, second) in [(&a, &b), (&b, &a)] {
            let out = go_func(first, second);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&expected_func),
                "damaged {damaged_dir}, -i={},{}: {}",
                first.display(),
                second.display(),
                stderr(&out)
            );
        }
    }
}

/// Files that are not coverage data are refused before they are read: a FIFO (which
/// would block), a link to /dev/zero (endless), a sparse 2 GB file. The other files
/// of the directory still count.
#[test]
fn fifos_devices_and_huge_files_are_refused_without_reading_them() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let dir = add_dir(c, "count", "count", "web-0");
    let hash = files(&dir, "covmeta.")[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("covmeta.")
        .to_owned();
    let fifo = dir.join(format!("covcounters.{hash}.77.1"));
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A FIFO named like a meta file (its header is read first, by name) must not block.
    let meta_fifo = dir.join(format!("covmeta.{}", "0".repeat(32)));
    assert!(Command::new("mkfifo")
        .arg(&meta_fifo)
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink("/dev/zero", dir.join(format!("covcounters.{hash}.78.1"))).unwrap();
    let sparse = dir.join(format!("covcounters.{hash}.79.1"));
    fs::File::create(&sparse).unwrap().set_len(2 << 30).unwrap();
    // A metadata.json that is a FIFO fails its own directory, without blocking.
    let other = add_dir(c, "other", "set1", "other-0");
    fs::remove_file(other.join("metadata.json")).unwrap();
    assert!(Command::new("mkfifo")
        .arg(other.join("metadata.json"))
        .status()
        .unwrap()
        .success());
    let started = std::time::Instant::now();
    let out = compile(c, &[]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the FIFO metadata fails its directory: {err}"
    );
    assert!(err.contains("metadata.json: not a regular file"), "{err}");
    assert!(err.contains("a FIFO"), "{err}");
    assert!(err.contains("a character device"), "{err}");
    assert!(err.contains("2147483648 bytes, over the"), "{err}");
    assert!(err.contains("4 warnings"), "{err}");
    assert!(
        err.contains("covmeta.00000000000000000000000000000000: not a regular file"),
        "{err}"
    );
    // Not a timing assertion on speed: reading 2 GB or /dev/zero would not end at all
    // within the harness's patience; this only guards against a hang.
    assert!(started.elapsed().as_secs() < 120);
    let (r, _) = report_json(c);
    assert!(owner_covered(&r)[0].2 > 0);
    assert_eq!(r["partial"], serde_json::json!(["count"]));
}

/// `--exclude-file` is part of the totals' key: changing it changes the stored build
/// and owner figures, and going back restores them.
#[test]
fn changing_the_exclusion_set_recomputes_stored_totals() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    add_dir(c, "count", "count", "web-0");
    assert!(compile(c, &[]).status.success());
    let (before, _) = report_json(c);
    let store = livecov_store::Store::open(&c.join("livecov.db")).unwrap();
    let build = &store.builds().unwrap()[0];
    let files = store.build_files(build.id).unwrap();
    drop(store);
    let victim = files
        .iter()
        .find(|f| f.statements > 0 && f.covered > 0)
        .expect("a covered file");
    let base = victim.path.rsplit('/').next().unwrap().to_owned();
    let out = compile(c, &["--exclude-file", &base]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (after, _) = report_json(c);
    let s = |r: &serde_json::Value, k: &str| r["builds"][0][k].as_u64().unwrap();
    assert_eq!(
        s(&after, "statements"),
        s(&before, "statements") - victim.statements
    );
    assert_eq!(
        s(&after, "covered_statements"),
        s(&before, "covered_statements") - victim.covered
    );
    assert_eq!(
        after["owners"][0]["statements"].as_u64().unwrap(),
        before["owners"][0]["statements"].as_u64().unwrap() - victim.statements
    );
    // Back to the defaults: the first figures again (the setting does not stick).
    assert!(compile(c, &[]).status.success());
    let (again, _) = report_json(c);
    assert_eq!(again["builds"], before["builds"]);
    assert_eq!(again["owners"], before["owners"]);
}

/// Two compiles of one collection at once: the second waits for the first and says so;
/// neither fails with "database is locked".
#[test]
fn concurrent_compiles_wait_for_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    for i in 0..12 {
        add_dir(c, &format!("d{i:02}"), "atomic_snap", &format!("api-{i}"));
    }
    // Holding the lock as a running compile does: a compile started now must wait.
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(c.join("livecov.lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut waiting = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["cluster", "compile", "--collection", c.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "it waits for the lock"
    );
    lock.unlock().unwrap();
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("waiting for another compile"),
        "{}",
        stderr(&out)
    );

    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_livecov"))
            .args([
                "cluster",
                "compile",
                "--update",
                "*",
                "--collection",
                c.to_str().unwrap(),
            ])
            .output()
    };
    for _ in 0..3 {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(spawn);
            let b = s.spawn(spawn);
            (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
        });
        for o in [&a, &b] {
            assert!(o.status.success(), "{}", stderr(o));
            assert!(!stderr(o).contains("locked"), "{}", stderr(o));
        }
    }
    let (r, _) = report_json(c);
    assert_eq!(r["owners"][0]["pods"].as_array().unwrap().len(), 12);
}

/// A store whose compile did not finish (killed after marking the store) is reported
/// as incomplete, not as whatever part of it was written.
#[test]
fn a_store_of_an_unfinished_compile_is_reported_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    add_dir(c, "count", "count", "web-0");
    assert!(compile(c, &[]).status.success());
    let (r, out) = report_json(c);
    assert!(out.status.success());
    assert_eq!(r["complete"], true);
    // What a compile killed with SIGKILL leaves: the marker it set first, never reset.
    let mut store = livecov_store::Store::open(&c.join("livecov.db")).unwrap();
    store
        .transaction(|tx| tx.set_setting("compile_state", "running since unix time 1"))
        .unwrap();
    drop(store);
    let (r, out) = report_json(c);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(r["complete"], false);
    assert!(
        stderr(&out).contains("store incomplete: the last compile"),
        "{}",
        stderr(&out)
    );
    let out = livecov(&["report", "--collection", c.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("store incomplete"));
    // Attack finding F9: render said nothing on stderr (only the page showed it).
    let out = livecov(&["cluster", "render", "--collection", c.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("warning: the store is incomplete: the last compile"),
        "{}",
        stderr(&out)
    );
    // The next compile finishes and clears it.
    assert!(compile(c, &[]).status.success());
    let (r, _) = report_json(c);
    assert_eq!(r["complete"], true);
}

/// The table report on hostile metadata, end to end: a pod name over 65,535 characters
/// with a newline and an escape sequence neither panics nor splits its row; JSON keeps
/// it whole.
#[test]
fn report_table_survives_hostile_pod_names() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let dir = add_dir(c, "hostile", "count", "x");
    let pod = format!("{}\nINJECTED\u{1b}[2J", "p".repeat(70_000));
    let md = serde_json::json!({
        "pod_name": pod, "namespace": "ns", "container": {"name": "app", "image": "img"},
        "binary_name": "prog", "collected_at": "2026-11-21T09:00:00Z", "hostname": "node-a"
    });
    fs::write(dir.join("metadata.json"), md.to_string()).unwrap();
    assert!(compile(c, &[]).status.success());
    let out = livecov(&["report", "--collection", c.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "escape sequences do not reach the terminal"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("INJECTED")),
        "the row is not split"
    );
    let (r, _) = report_json(c);
    assert_eq!(r["owners"][0]["pods"][0], pod.as_str());
}

/// The build page merges its owners with the collection's rule: under `--merge max`
/// two owners that ran the same workload show the counts of one (the index's rule),
/// under the default sum twice those counts.
#[test]
fn the_build_page_merges_owners_with_the_collections_rule() {
    // (file:line.col,line.col → count) of one process (prog2_count has one), as
    // `go tool covdata textfmt` wrote it.
    let single: std::collections::BTreeMap<String, u64> =
        fs::read_to_string(golden().join("expected/prog2_count_textfmt.out"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                (f[0].to_owned(), f[2].parse().unwrap())
            })
            .collect();
    assert!(single.values().any(|&n| n > 0));
    for (rule, factor) in [("max", 1), ("sum", 2)] {
        let tmp = tempfile::tempdir().unwrap();
        let c = tmp.path();
        for (d, ns) in [("a", "ns1"), ("b", "ns2")] {
            let dir = add_dir(c, d, "prog2_count", &format!("web-{d}"));
            let md = metadata(&format!("web-{d}")).replace("\"ns\"", &format!("\"{ns}\""));
            fs::write(dir.join("metadata.json"), md).unwrap();
        }
        let out = compile(c, &["--merge", rule]);
        assert!(out.status.success(), "{}", stderr(&out));
        let (r, _) = report_json(c);
        assert_eq!(
            r["owners"].as_array().unwrap().len(),
            2,
            "two owners, one build"
        );
        let out = livecov(&["cluster", "render", "--collection", c.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let build = r["builds"][0]["build"].as_str().unwrap();
        let mut page = std::collections::BTreeMap::new();
        for e in fs::read_dir(c.join(format!("html/b/{build}/f"))).unwrap() {
            let js = fs::read_to_string(e.unwrap().path()).unwrap();
            for line in js.lines() {
                let json = &line[line.find('{').unwrap()..line.rfind('}').unwrap() + 1];
                let v: serde_json::Value = serde_json::from_str(json).unwrap();
                let path = v["path"].as_str().unwrap();
                for b in v["blocks"].as_array().unwrap() {
                    let n: Vec<u64> = b
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_u64().unwrap())
                        .collect();
                    page.insert(format!("{path}:{}.{},{}.{}", n[0], n[1], n[2], n[3]), n[5]);
                }
            }
        }
        let expected: std::collections::BTreeMap<String, u64> = single
            .iter()
            .map(|(k, &n)| (k.clone(), n * factor))
            .collect();
        assert_eq!(page, expected, "--merge {rule}");
    }
}

/// Attack finding F1: with every copy of a build's layout damaged (one bit of a line
/// table), compile used to keep it without a word, even under --strict.
#[test]
fn a_layout_no_copy_of_which_verifies_is_used_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let dir = add_dir(c, "a", "count", "web-0");
    let meta = files(&dir, "covmeta.").remove(0);
    let mut bytes = fs::read(&meta).unwrap();
    let (m, _) = livecov_formats::gocovdata::decode_meta_file(&bytes).unwrap();
    let name = m.packages[0].functions[0].name.as_bytes().to_vec();
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap();
    bytes[at] ^= 0x20;
    fs::write(&meta, &bytes).unwrap();
    let out = compile(c, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "warning: {}: its content does not match the hash",
            meta.display()
        )) && err.contains("no intact copy was found; used as it is"),
        "{err}"
    );
    assert!(err.contains("1 warnings"), "{err}");
    let (r, _) = report_json(c);
    assert!(
        r["diagnostics"].to_string().contains("no intact copy"),
        "{}",
        r["diagnostics"]
    );
    assert_eq!(
        compile(c, &["--update", "*", "--strict"]).status.code(),
        Some(2)
    );
}

/// Attack finding F2: an info.json that cannot be read or is not the producer's JSON
/// was ignored silently (the build then shows no repository, and nobody knows why).
#[test]
fn a_damaged_info_json_is_a_warning() {
    for (kind, content) in [
        ("garbage", Some(&b"{\"source_url\": "[..])),
        ("wrong types", Some(&b"{\"source_url\": 5}"[..])),
        ("directory", None),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let c = tmp.path();
        let dir = add_dir(c, "a", "count", "web-0");
        let info = dir.join("info.json");
        match content {
            Some(b) => fs::write(&info, b).unwrap(),
            None => fs::create_dir(&info).unwrap(),
        }
        let out = compile(c, &["--strict"]);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("warning: {}", info.display()))
                && err.contains("the build's source is unknown"),
            "{kind}: {err}"
        );
        assert_eq!(out.status.code(), Some(2), "{kind}: --strict: {err}");
    }
}

/// Attack finding F12: metadata without the fields owners are made of, with control
/// characters or with a time that is not one was accepted without a word; a UTF-8
/// byte-order mark was refused.
#[test]
fn metadata_that_says_too_little_is_a_warning_and_a_bom_is_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let empty = add_dir(c, "empty", "count", "web-0");
    fs::write(empty.join("metadata.json"), "{}").unwrap();
    let odd = add_dir(c, "odd", "count", "web-1");
    fs::write(
        odd.join("metadata.json"),
        r#"{"pod_name":"a\u0000b","namespace":"ns","binary_name":"prog","collected_at":"zz-not-a-date","hostname":"h"}"#,
    )
    .unwrap();
    let bom = add_dir(c, "bom", "count", "web-2");
    let mut text = b"\xef\xbb\xbf".to_vec();
    text.extend_from_slice(metadata("web-2").as_bytes());
    fs::write(bom.join("metadata.json"), text).unwrap();
    let out = compile(c, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for expected in [
        "empty/metadata.json: no binary_name",
        "empty/metadata.json: no pod_name and no hostname",
        "odd/metadata.json: pod_name holds control characters (a\\0b)",
        "odd/metadata.json: collected_at \"zz-not-a-date\" is not an RFC 3339 time",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    assert!(
        !err.contains("bom/metadata.json"),
        "a BOM is accepted: {err}"
    );
    let (r, _) = report_json(c);
    assert_eq!(r["owners"].as_array().unwrap().len(), 3, "{r:#}");
}

/// Attack finding F11: a directory name with an escape sequence reached the terminal raw
/// in compile's messages.
#[test]
fn control_characters_in_names_are_escaped_in_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    fs::create_dir_all(c.join("coverage").join("q\u{1b}[31mRED")).unwrap();
    let out = compile(c, &[]);
    let err = stderr(&out);
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains("q\\u{1b}[31mRED"), "{err}");
}

/// Attack finding F13: the compile lock was created through a symbolic link, a write
/// outside the collection.
#[test]
fn the_compile_lock_is_never_opened_through_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    add_dir(&c, "a", "count", "web-0");
    let victim = tmp.path().join("victim");
    std::os::unix::fs::symlink(&victim, c.join("livecov.lock")).unwrap();
    let out = compile(&c, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("livecov.lock: is not a regular file"),
        "{}",
        stderr(&out)
    );
    assert!(!victim.exists(), "nothing created outside the collection");
}

/// Attack finding (serve review, 2026-12-04): the collection's own store was created
/// through a symbolic link, a write outside the collection (a served root's compile).
#[test]
fn the_collections_store_is_never_written_through_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    add_dir(&c, "a", "count", "web-0");
    let victim = tmp.path().join("victim.db");
    std::os::unix::fs::symlink(&victim, c.join("livecov.db")).unwrap();
    let out = compile(&c, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("livecov.db: is a symbolic link"),
        "{}",
        stderr(&out)
    );
    assert!(!victim.exists(), "nothing created outside the collection");
    // The same file given as --store is the user's choice: it is written.
    let out = compile(&c, &["--store", victim.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(victim.is_file());
}

/// Attack finding F10: names that are not UTF-8 were converted lossily and then opened
/// under the converted name ("missing", "No such file").
#[test]
fn names_that_are_not_utf8_are_skipped_with_a_clear_warning() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let ok = add_dir(c, "ok", "count", "web-0");
    let meta = files(&ok, "covmeta.").remove(0);
    let odd = ok.join(std::ffi::OsStr::from_bytes(b"covmeta.\xff"));
    fs::copy(&meta, &odd).unwrap();
    fs::create_dir_all(
        c.join("coverage")
            .join(std::ffi::OsStr::from_bytes(b"bad\xffname")),
    )
    .unwrap();
    let out = compile(c, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("the directory name is not UTF-8; skipped"),
        "{err}"
    );
    assert!(err.contains("the name is not UTF-8; skipped"), "{err}");
    assert!(!err.contains("No such file"), "{err}");
    assert!(!err.contains("missing"), "{err}");
}
