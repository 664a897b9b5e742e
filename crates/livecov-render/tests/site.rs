//! The site writer: incremental re-rendering, the manifest, and safe clean-up.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use livecov_render::*;

struct Fake {
    id: String,
    key: String,
    files: usize,
    assembled: AtomicUsize,
}

impl Fake {
    fn new(id: &str, key: &str, files: usize) -> Fake {
        Fake {
            id: id.into(),
            key: key.into(),
            files,
            assembled: AtomicUsize::new(0),
        }
    }
}

impl PageSource for Fake {
    fn build(&self) -> &str {
        &self.id
    }
    fn key(&self) -> String {
        self.key.clone()
    }
    fn page(&self) -> Result<BuildPage, String> {
        self.assembled.fetch_add(1, Ordering::SeqCst);
        if self.key == "broken" {
            return Err("layout unreadable".into());
        }
        let files = (0..self.files)
            .map(|i| FileData {
                path: format!("example.com/m/p{i}/f.go"),
                text: Some("package p\n\nfunc F() {\n\tx := 1 < 2 && true\n}\n".into()),
                origin: "repo@abc:p/f.go (module prefix)".into(),
                blocks: vec![Block {
                    start_line: 3,
                    start_col: 11,
                    end_line: 5,
                    end_col: 2,
                    stmts: 1,
                    count: i as u32,
                    scenarios: 0,
                }],
                source: FileSource::Ok,
                note: String::new(),
            })
            .collect();
        Ok(BuildPage::new(
            BuildData {
                generator: "livecov test".into(),
                build: self.id.clone(),
                title: format!("bin <{}>", self.id),
                ..BuildData::default()
            },
            files,
        ))
    }
}

fn index(builds: &[&str]) -> IndexData {
    IndexData {
        generator: "livecov test".into(),
        title: "Coverage by owner".into(),
        collection: "c".into(),
        hide_namespace_prefixes: vec!["e2e-".into()],
        levels: default_levels(),
        builds: builds
            .iter()
            .map(|b| {
                (
                    b.to_string(),
                    IndexBuild {
                        statements: 10,
                        covered: 5,
                        ..IndexBuild::default()
                    },
                )
            })
            .collect(),
        owners: builds
            .iter()
            .map(|b| IndexOwner {
                namespace: "ns".into(),
                owner: "o</script>".into(),
                build: b.to_string(),
                ..IndexOwner::default()
            })
            .collect(),
        diagnostics: vec![IndexDiagnostic {
            dir: "pod-</script>".into(),
            severity: "warning".into(),
            message: "covcounters.x: at byte offset 9: <b>bad</b>".into(),
        }],
        incomplete: String::new(),
    }
}

fn render(out: &Path, builds: &[&Fake], skip: bool) -> RenderSummary {
    let ids: Vec<&str> = builds.iter().map(|b| b.id.as_str()).collect();
    let refs: Vec<&dyn PageSource> = builds.iter().map(|b| *b as &dyn PageSource).collect();
    let opts = RenderOptions {
        out_dir: out.to_path_buf(),
        skip_build_pages: skip,
        force: false,
    };
    render_site(&opts, &index(&ids), &refs).unwrap()
}

/// Makes `out` a directory livecov rendered into before (an empty manifest), so files
/// planted there test what a later render does with them.
fn mark_ours(out: &Path) {
    fs::create_dir_all(out).unwrap();
    fs::write(out.join(".livecov-manifest.json"), "{}").unwrap();
}

fn index_data(out: &Path) -> serde_json::Value {
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    let start = html.find("type=\"application/json\">").unwrap() + 24;
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[test]
fn writes_pages_per_file_scripts_and_escapes_data() {
    let dir = tempfile::tempdir().unwrap();
    let a = Fake::new("aa", "k1", 3);
    let s = render(dir.path(), &[&a], false);
    assert_eq!((s.rendered, s.unchanged, s.removed), (1, 0, 0));
    for f in [
        "index.html",
        "assets/index.js",
        "assets/build.js",
        "assets/livecov.css",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    // Small files share one chunk script, one livecovFile call per file.
    let chunk = fs::read_to_string(dir.path().join("b/aa/f/0.js")).unwrap();
    assert_eq!(chunk.matches("livecovFile(").count(), 3);
    let start = chunk.find("livecovFile(1, ").unwrap();
    let end = chunk.find("livecovFile(2, ").unwrap();
    assert_eq!(
        &chunk[start..end],
        "livecovFile(1, {\"path\":\"example.com/m/p1/f.go\",\"text\":`package p\n\nfunc F() {\n\tx := 1 < 2 && true\n}\n`,\"origin\":\"repo@abc:p/f.go (module prefix)\",\"blocks\":[[3,11,5,2,1,1]]});\n"
    );
    // Data that looks like markup cannot close the script element.
    let html = fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(!html.contains("o</script>"));
    assert!(html.contains("o\\u003c/script\\u003e"));
    let data = index_data(dir.path());
    assert_eq!(data["builds"]["aa"]["page"], "b/aa/index.html");
    assert_eq!(data["owners"][0]["owner"], "o</script>");
    let page = fs::read_to_string(dir.path().join("b/aa/index.html")).unwrap();
    assert!(page.contains("bin &lt;aa&gt;"), "title is escaped");
    assert!(page.contains("../../assets/build.js"));
}

#[test]
fn unchanged_builds_are_not_assembled_again_and_changed_ones_are() {
    let dir = tempfile::tempdir().unwrap();
    let a = Fake::new("aa", "k1", 2);
    let b = Fake::new("bb", "k1", 100);
    render(dir.path(), &[&a, &b], false);
    // 100 files: two chunks of at most 64 files, named in the page's file table.
    let page = fs::read_to_string(dir.path().join("b/bb/index.html")).unwrap();
    assert!(page.contains("\"chunk\":1"));
    let second = fs::read_to_string(dir.path().join("b/bb/f/1.js")).unwrap();
    assert!(second.starts_with("livecovFile(64, "), "{}", &second[..40]);
    let b2 = Fake::new("bb", "k2", 10);
    let s = render(dir.path(), &[&a, &b2], false);
    assert_eq!((s.rendered, s.unchanged), (1, 1));
    assert_eq!(a.assembled.load(Ordering::SeqCst), 1);
    assert_eq!(b2.assembled.load(Ordering::SeqCst), 1);
    // bb shrank to ten files, one chunk: the second chunk is stale and removed.
    assert_eq!(s.removed, 1);
    assert!(!dir.path().join("b/bb/f/1.js").exists());
    assert!(dir.path().join("b/bb/f/0.js").exists());
}

#[test]
fn a_page_deleted_by_hand_is_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let a = Fake::new("aa", "k1", 2);
    render(dir.path(), &[&a], false);
    fs::remove_file(dir.path().join("b/aa/f/0.js")).unwrap();
    let s = render(dir.path(), &[&a], false);
    assert_eq!(s.rendered, 1);
    assert!(dir.path().join("b/aa/f/0.js").exists());
}

#[test]
fn skipping_build_pages_never_deletes_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = Fake::new("aa", "k1", 2);
    let b = Fake::new("bb", "k1", 2);
    render(dir.path(), &[&a, &b], false);
    // The older tool's bug: with pages skipped, every page counted as stale.
    let a2 = Fake::new("aa", "k2", 2);
    let c = Fake::new("cc", "k1", 2);
    let s = render(dir.path(), &[&a2, &c], true);
    assert_eq!(
        (s.rendered, s.kept, s.without_page, s.removed),
        (0, 1, 1, 0)
    );
    assert_eq!(a2.assembled.load(Ordering::SeqCst), 0);
    for f in ["b/aa/index.html", "b/bb/index.html", "b/bb/f/0.js"] {
        assert!(dir.path().join(f).exists(), "{f} kept");
    }
    let data = index_data(dir.path());
    assert_eq!(data["builds"]["aa"]["page"], "b/aa/index.html");
    assert!(data["builds"]["cc"]["page"].is_null());
    // The next full render brings everything up to date and then removes bb.
    let s = render(dir.path(), &[&a2, &c], false);
    assert_eq!(s.rendered, 2);
    assert!(!dir.path().join("b/bb").exists());
}

#[test]
fn only_files_livecov_wrote_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let a = Fake::new("aa", "k1", 1);
    let b = Fake::new("bb", "k1", 1);
    mark_ours(dir.path());
    fs::create_dir_all(dir.path().join("b/bb")).unwrap();
    fs::write(dir.path().join("notes.html"), "mine").unwrap();
    fs::write(dir.path().join("b/bb/mine.txt"), "mine").unwrap();
    render(dir.path(), &[&a, &b], false);
    let s = render(dir.path(), &[&a], false);
    assert_eq!(s.removed, 2, "bb's page and its one file");
    assert!(dir.path().join("notes.html").exists());
    assert!(
        dir.path().join("b/bb/mine.txt").exists(),
        "a directory with other files stays"
    );
    // A doctored manifest cannot point the clean-up outside the site.
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    fs::write(&victim, "keep").unwrap();
    let manifest = dir.path().join(MANIFEST);
    let mut m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    m["files"]
        .as_array_mut()
        .unwrap()
        .push(victim.to_string_lossy().into());
    m["files"]
        .as_array_mut()
        .unwrap()
        .push("../victim.txt".into());
    // Nor at a user's file inside it, nor through a symbolic link.
    m["files"].as_array_mut().unwrap().push("notes.html".into());
    m["builds"]["aa"]["files"]
        .as_array_mut()
        .unwrap()
        .push("b/bb/mine.txt".into());
    std::os::unix::fs::symlink(outside.path(), dir.path().join("b/ff")).unwrap();
    fs::write(outside.path().join("index.html"), "keep").unwrap();
    m["builds"]["aa"]["files"]
        .as_array_mut()
        .unwrap()
        .push("b/ff/index.html".into());
    fs::write(&manifest, serde_json::to_string(&m).unwrap()).unwrap();
    // Re-render aa (new key) so its old file list is compared with the new one.
    let a2 = Fake::new("aa", "k2", 1);
    render(dir.path(), &[&a2], false);
    assert!(victim.exists());
    assert!(dir.path().join("notes.html").exists());
    assert!(dir.path().join("b/bb/mine.txt").exists());
    assert!(outside.path().join("index.html").exists());
}

#[test]
fn a_page_that_fails_keeps_the_one_written_before() {
    let dir = tempfile::tempdir().unwrap();
    let a = Fake::new("aa", "k1", 2);
    render(dir.path(), &[&a], false);
    let broken = Fake::new("aa", "broken", 2);
    let s = render(dir.path(), &[&broken], false);
    assert_eq!(s.failed.len(), 1);
    assert_eq!(s.removed, 0);
    assert!(dir.path().join("b/aa/f/0.js").exists());
    assert_eq!(
        index_data(dir.path())["builds"]["aa"]["page"],
        "b/aa/index.html"
    );
}

#[test]
fn placeholders_in_values_are_not_substituted_again() {
    let dir = tempfile::tempdir().unwrap();
    let a = Fake::new("{{DATA}}", "k1", 1);
    render(dir.path(), &[&a], false);
    let page = fs::read_to_string(dir.path().join("b/{{DATA}}/index.html")).unwrap();
    assert!(
        page.contains("<title>bin &lt;{{DATA}}&gt;"),
        "{}",
        &page[..300]
    );
    assert!(!page.contains("\"files\":[]}</title>"));
    assert_eq!(page.matches("livecovFile").count(), 0);
}

#[test]
fn a_build_that_fails_is_reported_and_the_others_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let a = Fake::new("aa", "k1", 1);
    let bad = Fake::new("bb", "broken", 1);
    let s = render(dir.path(), &[&a, &bad], false);
    assert_eq!(s.rendered, 1);
    assert_eq!(
        s.failed,
        vec![("bb".to_string(), "layout unreadable".to_string())]
    );
    assert!(index_data(dir.path())["builds"]["bb"]["page"].is_null());
}

#[test]
fn a_new_renderer_version_re_renders() {
    // The key the manifest stores starts with the renderer's version.
    let dir = tempfile::tempdir().unwrap();
    let a = Fake::new("aa", "k1", 1);
    render(dir.path(), &[&a], false);
    let manifest = dir.path().join(MANIFEST);
    let text = fs::read_to_string(&manifest).unwrap();
    assert!(text.contains(&renderer_version()));
    fs::write(&manifest, text.replace(&renderer_version(), "0.0.0-old")).unwrap();
    let s = render(dir.path(), &[&a], false);
    assert_eq!(s.rendered, 1);
}

#[test]
fn render_never_writes_through_a_symbolic_link_in_the_output() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("html");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    mark_ours(&out);
    fs::create_dir_all(out.join("b")).unwrap();
    // A build's directory, the assets directory and one page file planted as links.
    symlink(&outside, out.join("b/aa")).unwrap();
    symlink(&outside, out.join("assets")).unwrap();
    fs::write(outside.join("victim"), "keep me").unwrap();
    symlink(outside.join("victim"), out.join("index.html")).unwrap();
    let a = Fake::new("aa", "k1", 2);
    let refs: Vec<&dyn PageSource> = vec![&a];
    let opts = RenderOptions {
        out_dir: out.clone(),
        skip_build_pages: false,
        force: false,
    };
    let e = render_site(&opts, &index(&["aa"]), &refs)
        .expect_err("links in the output are refused")
        .to_string();
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!(
        fs::read_to_string(outside.join("victim")).unwrap(),
        "keep me"
    );
    let written: Vec<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, ["victim"], "nothing written outside the output");

    // With the links removed the same render succeeds.
    for l in ["b/aa", "assets", "index.html"] {
        fs::remove_file(out.join(l)).unwrap();
    }
    let s = render_site(&opts, &index(&["aa"]), &refs).unwrap();
    assert_eq!(s.rendered, 1);
    assert!(out.join("b/aa/f/0.js").is_file());
}

#[test]
fn a_planted_temporary_file_link_is_not_written_through() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("html");
    mark_ours(&out);
    fs::write(tmp.path().join("victim"), "keep me").unwrap();
    symlink(tmp.path().join("victim"), out.join("index.livecov-tmp")).unwrap();
    let a = Fake::new("aa", "k1", 1);
    render(&out, &[&a], false);
    assert_eq!(
        fs::read_to_string(tmp.path().join("victim")).unwrap(),
        "keep me"
    );
    assert!(fs::read_to_string(out.join("index.html"))
        .unwrap()
        .contains("livecov-data"));
}

#[test]
fn a_non_empty_directory_livecov_did_not_write_is_refused_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("userdir");
    fs::create_dir_all(out.join("assets")).unwrap();
    fs::write(out.join("index.html"), "<h1>MY SITE</h1>").unwrap();
    let a = Fake::new("aa", "k1", 2);
    let refs: Vec<&dyn PageSource> = vec![&a];
    let mut opts = RenderOptions {
        out_dir: out.clone(),
        skip_build_pages: false,
        force: false,
    };
    let e = render_site(&opts, &index(&["aa"]), &refs)
        .expect_err("a directory livecov did not write is refused")
        .to_string();
    assert!(
        e.contains(&out.display().to_string()) && e.contains(".livecov-manifest.json"),
        "{e}"
    );
    assert!(e.contains("--force"), "{e}");
    assert_eq!(
        fs::read_to_string(out.join("index.html")).unwrap(),
        "<h1>MY SITE</h1>"
    );
    assert!(!out.join("assets/livecov.css").exists());
    // The single-page site of `livecov go html` / `render --go-profile` likewise.
    let page = a.page().unwrap();
    let e = render_single(&out, &page, false)
        .expect_err("refused")
        .to_string();
    assert!(e.contains(".livecov-manifest.json"), "{e}");
    assert_eq!(
        fs::read_to_string(out.join("index.html")).unwrap(),
        "<h1>MY SITE</h1>"
    );

    // An empty directory, or one livecov wrote, is fine; so is any with --force.
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    render(&empty, &[&a], false);
    render(&empty, &[&a], false);
    opts.force = true;
    render_site(&opts, &index(&["aa"]), &refs).unwrap();
    assert!(out.join(".livecov-manifest.json").is_file());
}
