//! The git cache against real repositories served over file://, git:// (a real
//! `git daemon` on 127.0.0.1) and ssh (git's ssh transport through a local stand-in for
//! ssh, since no sshd can run here).

mod common;

use common::{fake_ssh, Daemon, Repo};
use livecov_source::{check_remote, Error, FetchMethod, GitCache, SourceTree};

/// Three commits of one file, plus a file that only the third has.
fn three_commits(path: std::path::PathBuf) -> (Repo, [String; 3]) {
    let repo = Repo::init(path);
    repo.write("go.mod", "module example.com/three\n")
        .write("pkg/a.go", "package pkg\n\n// version 1\n");
    let c1 = repo.commit("one");
    repo.write("pkg/a.go", "package pkg\n\n// version 2\n");
    let c2 = repo.commit("two");
    repo.write("pkg/a.go", "package pkg\n\n// version 3\n")
        .write("pkg/new.go", "package pkg\n");
    let c3 = repo.commit("three");
    (repo, [c1, c2, c3])
}

fn read(tree: &dyn SourceTree, path: &str) -> String {
    String::from_utf8(tree.read(path).unwrap().expect("file exists")).unwrap()
}

#[test]
fn fetches_exactly_the_requested_commit_over_file_url() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, [c1, c2, c3]) = three_commits(tmp.path().join("three"));
    let cache = GitCache::open(&tmp.path().join("cache"))
        .unwrap()
        .allow_local_remotes(true);
    let url = repo.file_url();

    let outcomes = cache.fetch(&url, std::slice::from_ref(&c2));
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].requested, c2);
    let fetched = outcomes[0].result.as_ref().unwrap();
    assert_eq!(fetched.commit, c2);
    assert_eq!(fetched.method, FetchMethod::ById);

    // Commit 2's content, not HEAD's; commit 3's file is absent.
    let tree = cache.tree(&url, &c2).unwrap();
    assert_eq!(tree.commit(), c2);
    assert_eq!(tree.paths(), ["go.mod", "pkg/a.go"]);
    assert_eq!(read(&tree, "pkg/a.go"), "package pkg\n\n// version 2\n");
    assert_eq!(tree.read("pkg/new.go").unwrap(), None);
    assert_eq!(tree.label(), format!("{url}@{}", &c2[..12]));
    // Many reads through the one cat-file process stay in step.
    for _ in 0..50 {
        assert_eq!(read(&tree, "go.mod"), "module example.com/three\n");
    }

    // HEAD (commit 3) was never fetched.
    assert!(matches!(
        cache.tree(&url, &c3),
        Err(Error::NotFetched { .. })
    ));

    // The pinned ref exists, and a second fetch is free.
    let repo_dir = cache.repo_dir(&url).unwrap();
    assert!(
        repo_dir.starts_with(tmp.path().join("cache/file")),
        "{}",
        repo_dir.display()
    );
    assert!(repo_dir.ends_with("three.git"), "{}", repo_dir.display());
    let pinned = common::git(&repo_dir, &["rev-parse", &format!("refs/livecov/{c2}")]);
    assert_eq!(pinned, c2);
    let again = cache.fetch(&url, &[c2.clone(), c1.clone()]);
    assert_eq!(
        again[0].result.as_ref().unwrap().method,
        FetchMethod::Cached
    );
    let first = again[1].result.as_ref().unwrap();
    assert_eq!(
        (first.commit.as_str(), first.method),
        (c1.as_str(), FetchMethod::ById)
    );
    assert_eq!(
        read(&cache.tree(&url, &c1).unwrap(), "pkg/a.go"),
        "package pkg\n\n// version 1\n"
    );
}

#[test]
fn unfetchable_commit_is_an_error_never_another_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, [_, c2, _]) = three_commits(tmp.path().join("three"));
    let cache = GitCache::open(&tmp.path().join("cache"))
        .unwrap()
        .allow_local_remotes(true);
    let url = repo.file_url();
    let missing = "0123456789abcdef0123456789abcdef01234567".to_owned();

    let outcomes = cache.fetch(&url, &[missing.clone(), c2.clone(), "deadbeef".to_owned()]);
    let err = outcomes[0].result.as_ref().unwrap_err().to_string();
    assert!(err.contains(&missing) && err.contains(&url), "{err}");
    assert!(
        err.contains("no branch or tag of the remote contains it"),
        "{err}"
    );
    // The other commits of the same call are unaffected.
    assert_eq!(outcomes[1].result.as_ref().unwrap().commit, c2);
    assert!(outcomes[2].result.is_err());
    // Nothing was pinned for the missing commit, and no tree is offered for it.
    let repo_dir = cache.repo_dir(&url).unwrap();
    let refs = common::git(
        &repo_dir,
        &["for-each-ref", "--format=%(refname)", "refs/livecov/"],
    );
    assert_eq!(refs, format!("refs/livecov/{c2}"));
    let err = cache.tree(&url, &missing).unwrap_err();
    assert!(matches!(err, Error::NotFetched { .. }), "{err}");

    // Odd ids and URLs are errors, not panics, and git never sees them.
    let odd = cache.fetch(
        &url,
        &["--upload-pack=touch /tmp/x".to_owned(), "HEAD".to_owned()],
    );
    assert!(odd
        .iter()
        .all(|o| matches!(o.result, Err(Error::InvalidCommit { .. }))));
    let bad_url = cache.fetch("ext::sh -c touch% /tmp/x", std::slice::from_ref(&c2));
    assert!(matches!(bad_url[0].result, Err(Error::InvalidUrl { .. })));
    let unreachable = cache.fetch("file:///nonexistent/repo", &[c2]);
    let err = unreachable[0].result.as_ref().unwrap_err().to_string();
    assert!(
        err.contains("file:///nonexistent/repo") && err.contains("fatal:"),
        "{err}"
    );
}

#[test]
fn abbreviated_id_falls_back_to_branches_and_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, [c1, c2, _]) = three_commits(tmp.path().join("three"));
    // A commit reachable only from a tag.
    common::git(&repo.path, &["checkout", "--quiet", "-b", "side", &c1]);
    repo.write("side.txt", "side\n");
    let side = repo.commit("side");
    common::git(&repo.path, &["tag", "v-side"]);
    common::git(&repo.path, &["checkout", "--quiet", "main"]);
    common::git(&repo.path, &["branch", "--quiet", "-D", "side"]);

    let cache = GitCache::open(&tmp.path().join("cache"))
        .unwrap()
        .allow_local_remotes(true);
    let url = repo.file_url();
    // First a shallow fetch of commit 2, so the fallback must deepen past it to commit 1.
    assert_eq!(
        cache.fetch(&url, std::slice::from_ref(&c2))[0]
            .result
            .as_ref()
            .unwrap()
            .commit,
        c2
    );
    let outcomes = cache.fetch(&url, &[c1[..8].to_owned(), side[..10].to_uppercase()]);
    let got: Vec<_> = outcomes
        .iter()
        .map(|o| {
            o.result
                .as_ref()
                .map(|f| (f.commit.clone(), f.method))
                .unwrap()
        })
        .collect();
    assert_eq!(
        got,
        // The tags came with the first fallback fetch, so the second id was already there.
        [
            (c1.clone(), FetchMethod::FromBranches),
            (side.clone(), FetchMethod::Cached)
        ]
    );
    assert_eq!(
        read(&cache.tree(&url, &c1[..8]).unwrap(), "pkg/a.go"),
        "package pkg\n\n// version 1\n"
    );
    assert_eq!(
        read(&cache.tree(&url, &side).unwrap(), "side.txt"),
        "side\n"
    );
    assert_eq!(cache.cached(&url, &side[..7]).unwrap(), Some(side));
}

#[test]
fn fetches_over_git_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    let (_repo, [c1, c2, c3]) = three_commits(served.join("org/three"));
    let daemon = Daemon::start(&served);
    // git:// is plain TCP: opt-in, like http://.
    let cache = GitCache::open(&tmp.path().join("cache"))
        .unwrap()
        .allow_local_remotes(true);
    let url = daemon.url("org/three");

    let outcomes = cache.fetch(&url, &[c2.clone(), c3[..9].to_owned()]);
    let fetched = outcomes[0].result.as_ref().unwrap();
    assert_eq!(
        (fetched.commit.as_str(), fetched.method),
        (c2.as_str(), FetchMethod::ById)
    );
    let head = outcomes[1].result.as_ref().unwrap();
    assert_eq!(
        (head.commit.as_str(), head.method),
        (c3.as_str(), FetchMethod::FromBranches)
    );
    assert_eq!(
        read(&cache.tree(&url, &c2).unwrap(), "pkg/a.go"),
        "package pkg\n\n// version 2\n"
    );
    assert_eq!(
        read(&cache.tree(&url, &c3).unwrap(), "pkg/new.go"),
        "package pkg\n"
    );
    assert_eq!(
        cache.repo_dir(&url).unwrap(),
        tmp.path().join("cache/127.0.0.1/org/three.git")
    );

    // A commit the server does not have is an error naming it.
    let missing = c1.replace(|c: char| c != '0', "1");
    let err = cache.fetch(&url, std::slice::from_ref(&missing))[0]
        .result
        .as_ref()
        .unwrap_err()
        .to_string();
    assert!(err.contains(&missing) && err.contains(&url), "{err}");
    drop(daemon);
}

#[test]
fn fetches_over_ssh_transport_with_a_local_ssh_stand_in() {
    // No sshd can run here: GIT_SSH_COMMAND points at a script that runs the requested
    // `git-upload-pack '<path>'` locally, so git's real ssh transport is exercised.
    let tmp = tempfile::tempdir().unwrap();
    let (repo, [c1, c2, _]) = three_commits(tmp.path().join("org/three"));
    let ssh = fake_ssh(tmp.path());
    let cache = GitCache::open(&tmp.path().join("cache"))
        .unwrap()
        .with_ssh_command(&ssh);
    let path = repo.path.display().to_string();
    let ssh_url = format!("ssh://git@localhost{path}");
    let scp_url = format!("git@localhost:{path}");
    assert_eq!(
        cache.repo_dir(&ssh_url).unwrap(),
        cache.repo_dir(&scp_url).unwrap()
    );

    let by_ssh = cache.fetch(&ssh_url, std::slice::from_ref(&c2));
    let fetched = by_ssh[0].result.as_ref().unwrap();
    assert_eq!(
        (fetched.commit.as_str(), fetched.method),
        (c2.as_str(), FetchMethod::ById)
    );
    let by_scp = cache.fetch(&scp_url, &[c2.clone(), c1.clone()]);
    assert_eq!(
        by_scp[0].result.as_ref().unwrap().method,
        FetchMethod::Cached
    );
    assert_eq!(by_scp[1].result.as_ref().unwrap().commit, c1);
    assert_eq!(
        read(&cache.tree(&scp_url, &c2).unwrap(), "pkg/a.go"),
        "package pkg\n\n// version 2\n"
    );
    assert_eq!(
        read(&cache.tree(&ssh_url, &c1).unwrap(), "pkg/a.go"),
        "package pkg\n\n// version 1\n"
    );
}

#[test]
fn git_tree_lists_blobs_only_and_resolves_file_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path().join("links"));
    repo.write("dir/real.go", "package dir\n")
        .write("b.txt", "b\n");
    std::os::unix::fs::symlink("real.go", repo.path.join("dir/link.go")).unwrap();
    std::os::unix::fs::symlink("dir", repo.path.join("dirlink")).unwrap();
    std::os::unix::fs::symlink("../../outside", repo.path.join("dir/out")).unwrap();
    let c = repo.commit("links");
    let cache = GitCache::open(&tmp.path().join("cache"))
        .unwrap()
        .allow_local_remotes(true);
    let url = repo.file_url();
    assert!(cache.fetch(&url, std::slice::from_ref(&c))[0]
        .result
        .is_ok());
    let tree = cache.tree(&url, &c).unwrap();
    assert_eq!(tree.paths(), ["b.txt", "dir/link.go", "dir/real.go"]);
    assert_eq!(read(&tree, "dir/link.go"), "package dir\n");
}

#[test]
fn local_plain_http_and_git_protocol_remotes_are_refused_by_default() {
    // A remote comes from an image label or info.json, written by whoever built the
    // image: by default it may not make livecov read a repository on this machine.
    let tmp = tempfile::tempdir().unwrap();
    let (repo, [_, c2, _]) = three_commits(tmp.path().join("three"));
    let cache = GitCache::open(&tmp.path().join("cache")).unwrap();
    let path = repo.path.display().to_string();
    for url in [
        repo.file_url(),
        path.clone(),
        format!("http://127.0.0.1:1{path}"),
        format!("git://127.0.0.1:1{path}"),
    ] {
        let outcome = cache.fetch(&url, std::slice::from_ref(&c2)).remove(0);
        let err = outcome.result.unwrap_err();
        assert!(
            matches!(err, Error::RemoteNotAllowed { .. }),
            "{url}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!("{url:?}"))
                && text.contains("--allow-local-remotes")
                && text.contains("LIVECOV_ALLOW_LOCAL_REMOTES=1"),
            "{text}"
        );
        // Refused before git ran: no cache repository was made for it.
        assert!(!cache.repo_dir(&url).unwrap().exists(), "{url}");
    }
    // Network transports pass the check (they are not fetched here).
    for url in [
        "https://github.com/org/repo",
        "ssh://git@github.com/org/repo",
        "git+ssh://git@github.com/org/repo",
        "git@github.com:org/repo.git",
    ] {
        assert!(check_remote(url, false).is_ok(), "{url}");
    }
    assert!(check_remote("git://github.com/org/repo", false).is_err());
    assert!(check_remote("git://github.com/org/repo", true).is_ok());
    assert!(check_remote("file:///srv/r", true).is_ok());
    assert!(check_remote("/srv/r", true).is_ok());

    // Allowed, the same file:// remote is fetched.
    let allowed = cache.allow_local_remotes(true);
    let fetched = allowed.fetch(&repo.file_url(), std::slice::from_ref(&c2));
    assert_eq!(fetched[0].result.as_ref().unwrap().commit, c2);
}
