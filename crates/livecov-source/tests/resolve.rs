//! Path resolution over real repositories fetched into the cache, plus a local GOROOT.

mod common;

use common::Repo;
use livecov_source::{
    check_units, DirTree, GitCache, MismatchReason, Rename, Rule, SourceIndex, SourceTree, TreeRef,
};

struct World {
    _tmp: tempfile::TempDir,
    index: SourceIndex,
    app_c1: usize,
    app_c2: usize,
    ws: usize,
    svc: usize,
    plugins: usize,
    short: usize,
    goroot: usize,
}

fn go(package: &str, body: &str) -> String {
    format!("package {package}\n\n{body}")
}

/// Builds every repository, fetches the commits through file:// and indexes them once.
fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();

    // The image's repo, at two commits; it vendors a dependency.
    let app = Repo::init(root.join("src/app"));
    app.write(
        "go.mod",
        "module github.com/acme/app // the app\n\ngo 1.22\n",
    )
    .write("main.go", &go("main", "func main() {}\n"))
    .write("pkg/a.go", &go("pkg", "func A() int {\n\treturn 1\n}\n"))
    .write("pkg/gob/google.go", &go("gob", "var G = 1\n"))
    .write(
        "vendor/modules.txt",
        "# github.com/dep/lib v1.2.3\n## explicit\ngithub.com/dep/lib\n",
    )
    .write(
        "vendor/github.com/dep/lib/lib.go",
        &go("lib", "func L() {}\n"),
    );
    let app_c1 = app.commit("app 1");
    app.write(
        "pkg/a.go",
        &go(
            "pkg",
            "// A returns one.\nfunc A() int {\n\tx := 1\n\treturn x\n}\n",
        ),
    )
    .write("pkg/new.go", &go("pkg", "func N() {}\n"));
    let app_c2 = app.commit("app 2");

    // A go.work workspace with two modules (and a use of a directory that is gone).
    let ws = Repo::init(root.join("src/ws"));
    ws.write(
        "go.work",
        "go 1.22\n\nuse (\n\t./a // first\n\t\"./b\"\n\t./c\n)\n",
    )
    .write("a/go.mod", "module example.com/ws/a\n")
    .write("a/pkg/x.go", &go("pkg", "var X = 1\n"))
    .write("b/go.mod", "module \"example.com/ws/b\"\n")
    .write("b/cmd/main.go", &go("main", "func main() {}\n"));
    let ws_c = ws.commit("workspace");

    // A module renamed in a later commit.
    let svc = Repo::init(root.join("src/svc"));
    svc.write("go.mod", "module example.com/old/svc\n")
        .write("pkg/h/h.go", &go("h", "func H() {}\n"));
    svc.commit("old name");
    svc.write("go.mod", "module example.com/new/svc\n");
    let svc_c = svc.commit("renamed");

    // One repo holding two modules; the image's repo does not own these packages.
    let plugins = Repo::init(root.join("src/plugins"));
    plugins
        .write("go.mod", "module github.com/acme/plugins\n")
        .write("ipam/ipam.go", &go("ipam", "func I() {}\n"))
        .write("tools/go.mod", "module github.com/acme/plugins/tools\n")
        .write("tools/gen/gen.go", &go("gen", "func G() {}\n"))
        .write("pkg/a.go", &go("pkg", "var Same = 1\n"));
    let plugins_c = plugins.commit("plugins");

    // A module whose path is a string prefix (but not a segment prefix) of another.
    let short = Repo::init(root.join("src/foo"));
    short
        .write("go.mod", "module example.com/foo\n")
        .write("x.go", &go("foo", "var X = 1\n"));
    let short_c = short.commit("foo");

    let cache = GitCache::open(&root.join("cache"))
        .unwrap()
        .allow_local_remotes(true);
    let mut trees: Vec<(TreeRef, Box<dyn SourceTree>)> = Vec::new();
    let mut add = |repo: &Repo, commit: &str| {
        let url = repo.file_url();
        let outcome = cache.fetch(&url, &[commit.to_owned()]).remove(0);
        assert_eq!(outcome.result.unwrap().commit, commit);
        trees.push((
            TreeRef::git(&url, commit),
            Box::new(cache.tree(&url, commit).unwrap()),
        ));
        trees.len() - 1
    };
    let app_c1 = add(&app, &app_c1);
    let app_c2 = add(&app, &app_c2);
    let ws = add(&ws, &ws_c);
    let svc = add(&svc, &svc_c);
    let plugins = add(&plugins, &plugins_c);
    let short = add(&short, &short_c);

    // A GOROOT checkout on disk.
    let goroot_dir = root.join("goroot");
    std::fs::create_dir_all(goroot_dir.join("src/net/http")).unwrap();
    std::fs::write(goroot_dir.join("src/net/http/server.go"), go("http", "")).unwrap();
    let goroot_tree = DirTree::open(&goroot_dir).unwrap();
    trees.push((
        TreeRef::dir(&goroot_dir).with_goroot(true),
        Box::new(goroot_tree),
    ));
    let goroot = trees.len() - 1;

    let index = SourceIndex::build(trees);
    World {
        _tmp: tmp,
        index,
        app_c1,
        app_c2,
        ws,
        svc,
        plugins,
        short,
        goroot,
    }
}

fn resolved(w: &World, file: &str, prefer: &[usize]) -> (usize, String, Rule) {
    let r = w
        .index
        .resolve(file, prefer)
        .unwrap_or_else(|| panic!("{file} unresolved:\n{}", w.index.explain(file, prefer)));
    (r.tree, r.path, r.rule)
}

#[test]
fn resolution_rules_over_real_repositories() {
    let w = world();
    let app = [w.app_c2];

    // Module prefix at the repo root, and the finder used to build prefer lists.
    assert_eq!(w.index.find("file://x/none", "abcd"), None);
    assert_eq!(
        resolved(&w, "github.com/acme/app/pkg/a.go", &app),
        (w.app_c2, "pkg/a.go".to_owned(), Rule::ModulePrefix)
    );

    // go.work: each used module maps to its directory.
    let ws = resolved(&w, "example.com/ws/b/cmd/main.go", &app);
    assert_eq!(ws, (w.ws, "b/cmd/main.go".to_owned(), Rule::ModulePrefix));
    let r = w
        .index
        .resolve("example.com/ws/b/cmd/main.go", &app)
        .unwrap();
    assert!(r.detail.contains("b/go.mod via go.work"), "{}", r.detail);
    assert_eq!(
        resolved(&w, "example.com/ws/a/pkg/x.go", &[]),
        (w.ws, "a/pkg/x.go".to_owned(), Rule::ModulePrefix)
    );
    assert!(
        w.index
            .warnings()
            .iter()
            .any(|m| m.contains("go.work uses c, which has no go.mod")),
        "{:?}",
        w.index.warnings()
    );

    // One image, binaries from several repos: the preferred repo does not own the
    // package, the repo that does is chosen; the nested module wins over its parent.
    assert_eq!(
        resolved(&w, "github.com/acme/plugins/ipam/ipam.go", &app),
        (w.plugins, "ipam/ipam.go".to_owned(), Rule::ModulePrefix)
    );
    let r = w
        .index
        .resolve("github.com/acme/plugins/tools/gen/gen.go", &app)
        .unwrap();
    assert_eq!((r.tree, r.path.as_str()), (w.plugins, "tools/gen/gen.go"));
    assert!(
        r.detail
            .contains("github.com/acme/plugins/tools (tools/go.mod"),
        "{}",
        r.detail
    );

    // Vendor: the dependency's import path, found in the preferred repo's vendor/.
    let r = w.index.resolve("github.com/dep/lib/lib.go", &app).unwrap();
    assert_eq!(
        (r.tree, r.path.as_str(), r.rule),
        (w.app_c2, "vendor/github.com/dep/lib/lib.go", Rule::Vendor)
    );
    assert!(
        r.detail.contains("module github.com/dep/lib v1.2.3"),
        "{}",
        r.detail
    );

    // GOPATH-style, cut at the /src/ that leads to a match; `/go` substrings survive.
    for file in [
        "/go/src/github.com/acme/app/pkg/gob/google.go",
        "/home/u/src/github.com/acme/app/pkg/gob/google.go",
        "/root/go/src/github.com/acme/app/src/x/src/github.com/acme/app/pkg/gob/google.go",
    ] {
        let (tree, path, rule) = resolved(&w, file, &app);
        assert_eq!(
            (tree, path.as_str(), rule),
            (w.app_c2, "pkg/gob/google.go", Rule::Gopath),
            "{file}"
        );
    }
    let r = w
        .index
        .resolve("/go/src/github.com/acme/app/pkg/a.go", &app)
        .unwrap();
    assert!(
        r.detail
            .starts_with("cut /go/src/, then module github.com/acme/app"),
        "{}",
        r.detail
    );

    // Build roots: the rest is a repo-relative path; prefer decides between trees.
    assert_eq!(
        resolved(&w, "/workspace/pkg/a.go", &[w.plugins]),
        (w.plugins, "pkg/a.go".to_owned(), Rule::BuildRoot)
    );
    let r = w
        .index
        .resolve("/opt/app-root/src/pkg/new.go", &[])
        .unwrap();
    assert_eq!((r.tree, r.rule), (w.app_c2, Rule::BuildRoot));
    let r = w.index.resolve("/workspace/pkg/a.go", &[]).unwrap();
    assert_eq!(r.tree, w.app_c1, "index order among equals");
    assert!(r.detail.contains("as do 2 other trees"), "{}", r.detail);

    // Standard library in the GOROOT tree.
    assert_eq!(
        resolved(&w, "net/http/server.go", &app),
        (w.goroot, "src/net/http/server.go".to_owned(), Rule::Goroot)
    );

    // Module renamed in a later commit.
    let r = w
        .index
        .resolve("example.com/old/svc/pkg/h/h.go", &app)
        .unwrap();
    assert_eq!(
        (r.tree, r.path.as_str(), r.rule),
        (w.svc, "pkg/h/h.go", Rule::Rename)
    );
    assert_eq!(
        r.rename,
        Some(Rename {
            old: "example.com/old/svc".to_owned(),
            new: "example.com/new/svc".to_owned()
        })
    );

    // Segment-aware: example.com/foo does not own example.com/foobar/x.go.
    assert_eq!(w.index.resolve("example.com/foobar/x.go", &[w.short]), None);
    assert_eq!(
        resolved(&w, "example.com/foo/x.go", &[]),
        (w.short, "x.go".to_owned(), Rule::ModulePrefix)
    );
}

#[test]
fn prefer_picks_the_commit_and_never_falls_back_to_another_one() {
    let w = world();
    let file = "github.com/acme/app/pkg/a.go";
    assert_eq!(resolved(&w, file, &[w.app_c1]).0, w.app_c1);
    assert_eq!(resolved(&w, file, &[w.app_c2]).0, w.app_c2);
    assert_eq!(resolved(&w, file, &[w.app_c2, w.app_c1]).0, w.app_c2);
    assert_eq!(
        resolved(&w, file, &[]).0,
        w.app_c1,
        "index order without prefer"
    );
    assert_eq!(
        resolved(&w, file, &[99, w.app_c2]).0,
        w.app_c2,
        "unknown indices are ignored"
    );

    // pkg/new.go exists only at commit 2: with commit 1 preferred it is not found,
    // rather than silently read from the other commit.
    assert_eq!(
        w.index
            .resolve("github.com/acme/app/pkg/new.go", &[w.app_c1]),
        None
    );
    let text = w
        .index
        .explain("github.com/acme/app/pkg/new.go", &[w.app_c1])
        .to_string();
    assert!(
        text.contains("owns the path, but no file pkg/new.go"),
        "{text}"
    );
    assert!(text.contains("module rename: no    not tried"), "{text}");
    assert_eq!(
        resolved(&w, "github.com/acme/app/pkg/new.go", &[]).0,
        w.app_c2
    );

    // The index's own view of its modules and the tree finder.
    let url = w.index.tree_ref(w.app_c2).unwrap().url.clone().unwrap();
    let c2 = w.index.tree_ref(w.app_c2).unwrap().commit.clone().unwrap();
    assert_eq!(w.index.find(&url, &c2[..8]), Some(w.app_c2));
    assert_eq!(
        w.index.find(&format!("{url}.git"), &c2.to_uppercase()),
        Some(w.app_c2)
    );
    let mods: Vec<_> = w
        .index
        .modules()
        .filter(|&(_, t, _)| t == w.ws)
        .map(|(m, _, d)| (m, d))
        .collect();
    assert_eq!(mods, [("example.com/ws/a", "a"), ("example.com/ws/b", "b")]);
}

#[test]
fn explain_says_what_each_rule_found() {
    let w = world();
    let e = w.index.explain("example.com/foobar/x.go", &[w.short]);
    assert_eq!(e.result, None);
    assert_eq!(e.steps.len(), 6);
    let text = e.to_string();
    for expected in [
        "file: example.com/foobar/x.go",
        "preferred trees: file://",
        "no module declares a prefix of example.com/foobar/x.go; closest: example.com/foo (go.mod in file://",
        "shares 1 segment(s), then has \"foo\" where the path has \"foobar\"",
        "none of 2 vendor directories has example.com/foobar/x.go",
        "GOPATH:        no    no /src/ in the path",
        "std library:   no    not a standard-library path",
        "no tree has a file ending in the last two segments",
        "result: not found in any of the indexed trees",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // With a match, later rules are still reported, and the result names the tree.
    let e = w.index.explain("github.com/dep/lib/lib.go", &[w.app_c2]);
    let text = e.to_string();
    assert_eq!(e.result.as_ref().map(|r| r.rule), Some(Rule::Vendor));
    assert!(
        text.contains("vendor:        match vendored in file://"),
        "{text}"
    );
    assert!(
        text.contains("→ vendor/github.com/dep/lib/lib.go"),
        "{text}"
    );
    assert!(
        text.ends_with(": vendor/github.com/dep/lib/lib.go (by vendor)"),
        "{text}"
    );
    assert_eq!(
        e.result_label.as_deref(),
        Some(w.index.tree_ref(w.app_c2).unwrap().label.as_str())
    );
}

#[test]
fn wrong_commit_is_detected_from_unit_positions() {
    let w = world();
    // Units of pkg/a.go as built from commit 2 (A's body spans lines 4 to 7).
    let units_c2 = [(4, 14, 7, 2), (5, 2, 5, 8), (6, 2, 6, 10)];
    let r = w
        .index
        .resolve("github.com/acme/app/pkg/a.go", &[w.app_c2])
        .unwrap();
    let c2_text = w.index.read(&r).unwrap().unwrap();
    assert_eq!(check_units(&c2_text, &units_c2), None);

    // The same layout against commit 1's file: commit 1 has 5 lines.
    let r = w
        .index
        .resolve("github.com/acme/app/pkg/a.go", &[w.app_c1])
        .unwrap();
    let c1_text = w.index.read(&r).unwrap().unwrap();
    let m = check_units(&c1_text, &units_c2).unwrap();
    assert_eq!((m.bad_units, m.total_units, m.first_index), (3, 3, 0));
    assert_eq!(m.reason, MismatchReason::PastLastLine { lines: 5 });
    assert!(
        m.to_string()
            .contains("ends on line 7, but the file has 5 lines"),
        "{m}"
    );
}

#[test]
fn repository_without_go_mod_takes_its_import_path_from_the_url() {
    // A GOPATH-era checkout: no go.mod, so the URL names the import path.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old");
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("pkg/x.go"), go("pkg", "")).unwrap();
    let tree_ref = TreeRef::git(
        "git@github.com:acme/old.git",
        "0123456789abcdef0123456789abcdef01234567",
    );
    assert_eq!(tree_ref.label, "git@github.com:acme/old.git@0123456789ab");
    let tree: Box<dyn SourceTree> = Box::new(DirTree::open(&dir).unwrap());
    let index = SourceIndex::build(vec![(tree_ref, tree)]);
    for file in [
        "github.com/acme/old/pkg/x.go",
        "/go/src/github.com/acme/old/pkg/x.go",
    ] {
        let r = index.resolve(file, &[0]).unwrap();
        assert_eq!(r.path, "pkg/x.go", "{file}");
        assert!(
            r.detail.contains("from the URL; no root go.mod"),
            "{}",
            r.detail
        );
    }
    assert_eq!(
        index.find("https://github.com/acme/old", "0123456"),
        Some(0)
    );
}
