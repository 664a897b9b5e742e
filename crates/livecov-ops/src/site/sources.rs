//! Sources for the site and the source commands: the shared git cache of a collection
//! (`cluster clone-sources`, `sources fetch`), the index built once per run over every
//! fetched repo@commit, and `sources explain`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use livecov_render::SourceStatus;
use livecov_source::{DirTree, GitCache, SourceIndex, SourceTree, TreeRef};
use livecov_store::SourceFetchRow;

use super::page::{FileSources, Found};
use crate::Reporter;
use livecov_model::Severity;

/// The sources a collection's builds need, opened once per run: one index over every
/// fetched repo@commit, so a package a build's own repo does not hold is found in the
/// repo that does.
pub struct CollectionSources {
    index: SourceIndex,
    /// (repo, commit as recorded) → tree in `index`.
    trees: BTreeMap<(String, String), usize>,
    /// (repo, commit) → why it is not available.
    unavailable: BTreeMap<(String, String), String>,
}

impl CollectionSources {
    /// Opens the cache at `dir` for these repo@commit pairs; `fetches` are the recorded
    /// outcomes of `clone-sources` (for the reason a commit is missing).
    pub fn open(
        dir: &Path,
        wanted: &BTreeSet<(String, String)>,
        fetches: &[SourceFetchRow],
    ) -> Result<CollectionSources> {
        let failed: BTreeMap<(&str, &str), &str> = fetches
            .iter()
            .filter(|f| !f.error.is_empty())
            .map(|f| ((f.repo.as_str(), f.commit.as_str()), f.error.as_str()))
            .collect();
        let mut trees = Vec::new();
        let mut by_pair = BTreeMap::new();
        let mut unavailable = BTreeMap::new();
        let cache = if dir.is_dir() {
            Some(GitCache::open(dir)?)
        } else {
            None
        };
        for (repo, commit) in wanted {
            let key = (repo.clone(), commit.clone());
            let tree = cache
                .as_ref()
                .and_then(|c| c.cached(repo, commit).ok().flatten().map(|full| (c, full)))
                .map(|(c, full)| c.tree(repo, &full).map(|t| (full, t)));
            match tree {
                Some(Ok((full, t))) => {
                    by_pair.insert(key, trees.len());
                    trees.push((
                        TreeRef::git(repo, &full),
                        Box::new(t) as Box<dyn SourceTree>,
                    ));
                }
                Some(Err(e)) => {
                    unavailable.insert(key, format!("reading {repo}@{commit}: {e}"));
                }
                None => {
                    let why = match failed.get(&(repo.as_str(), commit.as_str())) {
                        Some(e) => format!("{repo}@{commit} could not be fetched: {e}"),
                        None => format!(
                            "{repo}@{commit} is not in the source cache; run `livecov cluster \
                             clone-sources`"
                        ),
                    };
                    unavailable.insert(key, why);
                }
            }
        }
        Ok(CollectionSources {
            index: SourceIndex::build(trees),
            trees: by_pair,
            unavailable,
        })
    }

    /// Status of a build's source before reading any file.
    pub fn status(&self, repo: &str, commit: &str) -> (SourceStatus, String) {
        if repo.is_empty() || commit.is_empty() {
            return (
                SourceStatus::None,
                "no source repository and commit are known for this build".into(),
            );
        }
        let key = (repo.to_string(), commit.to_string());
        if self.trees.contains_key(&key) {
            return (SourceStatus::Ok, String::new());
        }
        let why = self
            .unavailable
            .get(&key)
            .cloned()
            .unwrap_or_else(|| format!("{repo}@{commit} is not in the source cache"));
        (SourceStatus::Unfetched, why)
    }

    /// The file lookup of one build: its own repo@commit first, then any other tree
    /// that owns the package.
    pub fn for_build(&self, repo: &str, commit: &str) -> Box<dyn FileSources + '_> {
        let own = self
            .trees
            .get(&(repo.to_string(), commit.to_string()))
            .copied();
        // When the build's own commit is not available, other commits of the same
        // repository must not stand in for it: their files would look right and be wrong.
        let forbidden = match own {
            Some(_) => None,
            None => livecov_source::RemoteKey::parse(repo)
                .ok()
                .map(|k| (k.to_string(), commit.to_string())),
        };
        Box::new(IndexLookup {
            index: &self.index,
            prefer: own.into_iter().collect(),
            forbidden,
        })
    }

    /// Every fetched repo@commit, for page keys: a tree fetched later can supply files
    /// to any build (packages its own repo does not hold).
    pub fn fingerprint(&self) -> String {
        let mut pairs: Vec<String> = (0..self.index.len())
            .filter_map(|t| self.index.tree_ref(t))
            .map(|r| r.label.clone())
            .collect();
        pairs.sort();
        pairs.join(",")
    }

    /// The index (for `sources explain`).
    pub fn index(&self) -> &SourceIndex {
        &self.index
    }

    /// The tree of a repo@commit, when fetched.
    pub fn tree_of(&self, repo: &str, commit: &str) -> Option<usize> {
        self.trees
            .get(&(repo.to_string(), commit.to_string()))
            .copied()
    }
}

/// File lookup through a source index.
struct IndexLookup<'a> {
    index: &'a SourceIndex,
    prefer: Vec<usize>,
    /// (remote key, commit) of a build whose commit is missing: trees of that remote
    /// are other commits and are never used for it.
    forbidden: Option<(String, String)>,
}

impl FileSources for IndexLookup<'_> {
    fn find(&self, path: &str) -> Found {
        let Some(r) = self.index.resolve(path, &self.prefer) else {
            return Found {
                note: if self.index.is_empty() {
                    "no sources are available for this build".into()
                } else {
                    "no fetched repository holds this file (`livecov sources explain` says \
                     which rules were tried)"
                        .into()
                },
                ..Found::default()
            };
        };
        let tree = self.index.tree_ref(r.tree);
        if let (Some((key, commit)), Some(url)) =
            (&self.forbidden, tree.and_then(|t| t.url.as_deref()))
        {
            if livecov_source::RemoteKey::parse(url).is_ok_and(|k| &k.to_string() == key) {
                return Found {
                    note: format!(
                        "the build's commit {commit} is not available; only other commits of \
                         this repository are, and they are not shown in its place"
                    ),
                    ..Found::default()
                };
            }
        }
        let label = tree.map(|t| t.label.clone()).unwrap_or_default();
        let origin = format!("{label}:{} ({})", r.path, r.rule);
        match self.index.read(&r) {
            Ok(Some(bytes)) => Found {
                bytes: Some(bytes),
                origin,
                note: String::new(),
            },
            Ok(None) => Found {
                origin,
                note: format!("{} is listed but could not be read", r.path),
                ..Found::default()
            },
            Err(e) => Found {
                origin,
                note: format!("reading {}: {e}", r.path),
                ..Found::default()
            },
        }
    }
}

/// Sources of a local checkout (the module or workspace holding `root`) and, for
/// standard-library and `cmd` packages, of GOROOT.
pub fn local_sources(root: &Path, with_goroot: bool) -> Result<Box<dyn FileSources>> {
    let root = root
        .canonicalize()
        .with_context(|| format!("source root {}", root.display()))?;
    let top = module_root(&root).unwrap_or(root);
    let goroot_src = with_goroot
        .then(goroot)
        .flatten()
        .and_then(|g| g.join("src").canonicalize().ok())
        .filter(|s| s.is_dir());
    let mut trees: Vec<(TreeRef, Box<dyn SourceTree>)> = Vec::new();
    match goroot_src {
        // Sources inside GOROOT (Go's own commands): one walk of GOROOT/src covers both.
        Some(src) if top.starts_with(&src) => {
            trees.push((
                TreeRef::dir(&src).with_goroot(true),
                Box::new(goroot_tree(&src)?),
            ));
        }
        Some(src) => {
            trees.push((TreeRef::dir(&top), Box::new(DirTree::open(&top)?)));
            trees.push((
                TreeRef::dir(&src).with_goroot(true),
                Box::new(goroot_tree(&src)?),
            ));
        }
        None => trees.push((TreeRef::dir(&top), Box::new(DirTree::open(&top)?))),
    }
    Ok(Box::new(OwnedLookup {
        index: SourceIndex::build(trees),
    }))
}

struct OwnedLookup {
    index: SourceIndex,
}

impl FileSources for OwnedLookup {
    fn find(&self, path: &str) -> Found {
        IndexLookup {
            index: &self.index,
            prefer: vec![0],
            forbidden: None,
        }
        .find(path)
    }
}

/// GOROOT/src without its `testdata` directories (never built into a package).
fn goroot_tree(src: &Path) -> Result<DirTree> {
    Ok(DirTree::open_skipping(src, &["testdata"])?)
}

/// The directory of the go.work above `dir`, else of the nearest go.mod.
fn module_root(dir: &Path) -> Option<PathBuf> {
    let mut nearest_mod = None;
    for d in dir.ancestors() {
        if d.join("go.work").is_file() {
            return Some(d.to_path_buf());
        }
        if nearest_mod.is_none() && d.join("go.mod").is_file() {
            nearest_mod = Some(d.to_path_buf());
        }
    }
    nearest_mod
}

/// `$GOROOT`, else `go env GOROOT` (one subprocess per run, none when Go is absent).
fn goroot() -> Option<PathBuf> {
    if let Some(g) = std::env::var_os("GOROOT").filter(|g| !g.is_empty()) {
        return Some(PathBuf::from(g));
    }
    let out = std::process::Command::new("go")
        .args(["env", "GOROOT"])
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// What `fetch` needs.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// The collection directory (compiled with `livecov cluster compile`).
    pub collection: PathBuf,
    /// The shared git cache (default: `<collection>/sources`). One bare repository per
    /// remote; share it between collections to fetch each commit once.
    pub sources: Option<PathBuf>,
    /// Report commits already in the cache as cached (true), or as fetched again.
    pub skip_existing: bool,
    /// Repositories fetched at the same time.
    pub max_concurrency: usize,
    /// `GIT_SSH_COMMAND` for SSH remotes (`git@host:org/repo`), e.g. a deploy key.
    pub ssh_command: Option<String>,
    /// Also fetch remotes on this machine (`file://`, absolute paths) and over plain
    /// `http://` (also on with LIVECOV_ALLOW_LOCAL_REMOTES=1).
    pub allow_local_remotes: bool,
    /// The store of the collection (default: `<collection>/livecov.db`).
    pub store: crate::StoreChoice,
}

impl FetchSettings {
    /// The defaults for a collection.
    pub fn new(collection: impl Into<PathBuf>) -> FetchSettings {
        FetchSettings {
            collection: collection.into(),
            sources: None,
            skip_existing: true,
            max_concurrency: 4,
            ssh_command: None,
            allow_local_remotes: false,
            store: crate::StoreChoice::default(),
        }
    }
}

/// What `fetch` did.
#[derive(Debug, Default, Clone)]
pub struct FetchSummary {
    /// The cache fetched into.
    pub dir: PathBuf,
    /// Commits wanted, and the repositories they are in.
    pub commits: usize,
    /// Repositories wanted.
    pub repositories: usize,
    /// Commits fetched this run.
    pub fetched: usize,
    /// Commits found in the cache.
    pub skipped: usize,
    /// Commits that could not be fetched (recorded in the store).
    pub failed: usize,
    /// Images naming a repository but no commit (not fetched).
    pub without_commit: usize,
    /// How long it took, in seconds.
    pub seconds: f64,
}

/// Whether the setting or `LIVECOV_ALLOW_LOCAL_REMOTES=1` allows local and
/// plain-http remotes.
fn allow_local_remotes(flag: bool) -> bool {
    flag || std::env::var_os("LIVECOV_ALLOW_LOCAL_REMOTES").is_some_and(|v| v == "1")
}

/// `clone-sources`: fetches every repo@commit the collection's builds need into the
/// shared cache, exactly those commits, and records each outcome in the store.
pub fn fetch(args: &FetchSettings, reporter: &dyn Reporter) -> Result<FetchSummary> {
    let started = Instant::now();
    let mut store = crate::open_compiled_for_update(&args.collection, &args.store)?;
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut without_commit = 0;
    for r in store.image_sources()? {
        if r.source_repo.is_empty() || !r.error.is_empty() {
            continue;
        }
        if r.commit_id.is_empty() {
            without_commit += 1;
            continue;
        }
        wanted
            .entry(r.source_repo.clone())
            .or_default()
            .insert(r.commit_id.clone());
    }
    let dir = args
        .sources
        .clone()
        .unwrap_or_else(|| args.collection.join("sources"));
    let mut cache =
        GitCache::open(&dir)?.allow_local_remotes(allow_local_remotes(args.allow_local_remotes));
    if let Some(cmd) = &args.ssh_command {
        cache = cache.with_ssh_command(cmd);
    }
    let total: usize = wanted.values().map(BTreeSet::len).sum();
    let repositories = wanted.len();
    reporter.note(&format!(
        "sources: {total} commits of {repositories} repositories into {}",
        dir.display()
    ));
    if without_commit > 0 {
        reporter.diagnostic(
            Severity::Warning,
            &format!(
                "{without_commit} image(s) name a repository but no commit; their sources \
                 cannot be pinned and are not fetched"
            ),
        );
    }
    reporter.start("clone-sources", Some(total as u64));
    // Spellings of one remote (`…/r`, `…/r.git`, `git@host:o/r`) share one bare
    // repository: they are fetched by the same thread, one after the other.
    let mut groups: BTreeMap<PathBuf, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for (r, c) in wanted {
        let dir = cache.repo_dir(&r).unwrap_or_else(|_| PathBuf::from(&r));
        groups
            .entry(dir)
            .or_default()
            .push((r, c.into_iter().collect()));
    }
    let groups: Vec<Vec<(String, Vec<String>)>> = groups.into_values().collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.max_concurrency.max(1))
        .build()
        .context("starting fetch threads")?;
    let results: Vec<(String, Vec<Outcome>)> = pool.install(|| {
        use rayon::prelude::*;
        groups
            .par_iter()
            .flat_map_iter(|group| group.iter())
            .map(|(repo, commits)| {
                let mut out = Vec::new();
                let mut todo = Vec::new();
                for c in commits {
                    match cache.cached(repo, c) {
                        Ok(Some(full)) if args.skip_existing => {
                            out.push((c.clone(), Ok(full), true))
                        }
                        _ => todo.push(c.clone()),
                    }
                }
                for o in cache.fetch(repo, &todo) {
                    let r = o.result.map(|f| f.commit).map_err(|e| e.to_string());
                    out.push((o.requested, r, false));
                }
                reporter.advance(out.len() as u64, repo);
                (repo.clone(), out)
            })
            .collect()
    });
    reporter.finish();
    let now = now_rfc3339();
    let (mut fetched, mut skipped, mut failed) = (0, 0, 0);
    store.transaction(|tx| {
        for (repo, outcomes) in &results {
            for (commit, r, was_cached) in outcomes {
                let row = match r {
                    Ok(full) => {
                        if *was_cached {
                            skipped += 1;
                        } else {
                            fetched += 1;
                        }
                        SourceFetchRow {
                            repo: repo.clone(),
                            commit: commit.clone(),
                            full_commit: full.clone(),
                            error: String::new(),
                            fetched_at: now.clone(),
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        reporter.diagnostic(Severity::Error, &format!("{repo}@{commit}: {e}"));
                        SourceFetchRow {
                            repo: repo.clone(),
                            commit: commit.clone(),
                            full_commit: String::new(),
                            error: e.clone(),
                            fetched_at: now.clone(),
                        }
                    }
                };
                tx.record_source_fetch(&row)?;
            }
        }
        // Pages rendered from the store show what was fetched: they are stale now.
        tx.bump_generation()
    })?;
    Ok(FetchSummary {
        dir,
        commits: total,
        repositories,
        fetched,
        skipped,
        failed,
        without_commit,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One commit's fetch: (commit as recorded, full id or error, already cached).
type Outcome = (String, std::result::Result<String, String>, bool);

/// What `explain` needs.
#[derive(Debug, Clone)]
pub struct ExplainSettings {
    /// The collection directory.
    pub collection: PathBuf,
    /// The shared git cache (default: `<collection>/sources`).
    pub sources: Option<PathBuf>,
    /// The build: its hex identity, or a unique prefix of it.
    pub build: String,
    /// The file as the build records it (e.g. `github.com/org/repo/pkg/a.go`).
    pub file: String,
    /// The store of the collection (default: `<collection>/livecov.db`).
    pub store: crate::StoreChoice,
}

/// Why a build's file maps to a source file, or why none does.
#[derive(Debug, Clone)]
pub struct Explained {
    /// The lines to show, in order: the build, its source, notes, the explanation.
    pub lines: Vec<String>,
    /// Whether a source file was found.
    pub resolved: bool,
}

/// `sources explain`: which rule maps a build's file to which file of which
/// repo@commit, or why none does.
pub fn explain(args: &ExplainSettings) -> Result<Explained> {
    let store = crate::open_compiled(&args.collection, &args.store)?;
    let builds = store.builds()?;
    let matches: Vec<_> = builds
        .iter()
        .filter(|b| {
            livecov_formats::gocovdata::hex16(&b.hash).starts_with(&args.build.to_lowercase())
        })
        .collect();
    let build = match matches.as_slice() {
        [b] => *b,
        [] => anyhow::bail!("no build {} in {}", args.build, store.location()),
        _ => anyhow::bail!(
            "build prefix {} is ambiguous: {} builds match",
            args.build,
            matches.len()
        ),
    };
    let hex = livecov_formats::gocovdata::hex16(&build.hash);
    let (repo, commit, wanted) = super::cluster::build_origins(&store, build.id)?;
    let fetches = store.source_fetches()?;
    let dir = args
        .sources
        .clone()
        .unwrap_or_else(|| args.collection.join("sources"));
    let sources = CollectionSources::open(&dir, &wanted, &fetches)?;
    let mut lines = vec![format!("build: {hex}")];
    if repo.is_empty() {
        lines.push("source: none known (no image source with a repository)".into());
    } else {
        let (status, note) = sources.status(&repo, &commit);
        lines.push(format!(
            "source: {repo}@{commit} ({status:?}{})",
            if note.is_empty() {
                String::new()
            } else {
                format!(": {note}")
            }
        ));
    }
    let files = store.build_files(build.id)?;
    if !files.iter().any(|f| f.path == args.file) {
        lines.push(format!(
            "note: build {} records no file {:?}; explaining it anyway",
            &hex[..12],
            args.file
        ));
    }
    let prefer: Vec<usize> = sources.tree_of(&repo, &commit).into_iter().collect();
    let explanation = sources.index().explain(&args.file, &prefer);
    lines.push(explanation.to_string());
    Ok(Explained {
        lines,
        resolved: explanation.result.is_some(),
    })
}

fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    livecov_collect::producer::rfc3339(now.as_secs() as i64, 0)
}
