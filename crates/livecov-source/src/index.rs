//! The source index: a run's trees indexed once, and the mapping from a build's recorded
//! file paths to files in those trees.
//!
//! Rules, tried in this order; the first that finds a file wins:
//!
//! 1. [`Rule::ModulePrefix`]: the longest module (from any `go.mod`, or a tree's URL
//!    when it has no root `go.mod`) that is a whole-segment prefix of the path.
//! 2. [`Rule::Vendor`]: `<module root>/vendor/<path>` present in a tree.
//! 3. [`Rule::Gopath`]: `…/src/<import path>/…`, cut at the last `/src/` that leads to
//!    a match of rules 1, 2 or 5.
//! 4. [`Rule::BuildRoot`]: `/workspace/`, `/go/src/`, … stripped, the rest a
//!    repo-relative path.
//! 5. [`Rule::Goroot`]: a standard-library path in a tree flagged as GOROOT.
//! 6. [`Rule::Rename`]: no module declares a prefix of the path, but one tree has a
//!    file with the longest common path suffix (at least directory and file name).
//!
//! The standard library comes before the rename guess: `net/http/server.go` is a fact
//! about GOROOT, while a suffix match could land on a fork in `third_party/`.
//!
//! Among equally good candidates, trees listed in `prefer` win in that order, then
//! index order. When a preferred tree declares the very module of the path, trees that
//! declare the same module are not consulted: they are other commits of that module, and
//! the file missing at the preferred commit is a finding, not a reason to pick another.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::error::Result;
use crate::gomod;
use crate::tree::SourceTree;
use crate::url::RemoteKey;

/// Prefixes that container and CI builds compile from, stripped by [`Rule::BuildRoot`].
pub const BUILD_ROOTS: &[&str] = &[
    "/workspace/",
    "/go/src/",
    "/build/",
    "/src/",
    "/opt/app-root/src/",
    "/app/",
];

/// What a tree is: where it came from, and whether it is a GOROOT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRef {
    /// The remote URL, for git trees.
    pub url: Option<String>,
    /// The full commit id, for git trees.
    pub commit: Option<String>,
    /// How the tree is named in messages (`url@commit` or the directory).
    pub label: String,
    /// A Go installation (`GOROOT` or `GOROOT/src`): standard-library paths map into it.
    pub goroot: bool,
}

impl TreeRef {
    /// A git tree: `url` at `commit`, labelled `url@<12 digits>`.
    pub fn git(url: &str, commit: &str) -> TreeRef {
        TreeRef {
            url: Some(url.to_owned()),
            commit: Some(commit.to_owned()),
            label: format!("{url}@{}", commit.get(..12).unwrap_or(commit)),
            goroot: false,
        }
    }

    /// A local directory, labelled with its path.
    pub fn dir(path: &Path) -> TreeRef {
        TreeRef {
            url: None,
            commit: None,
            label: path.display().to_string(),
            goroot: false,
        }
    }

    /// Marks the tree as a Go installation (default: not one).
    #[must_use]
    pub fn with_goroot(mut self, goroot: bool) -> TreeRef {
        self.goroot = goroot;
        self
    }
}

/// The resolution rules, in the order they are tried (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// A module path is a whole-segment prefix of the file path.
    ModulePrefix,
    /// The file is in a module's `vendor/` directory.
    Vendor,
    /// A GOPATH-style `…/src/<import path>` path.
    Gopath,
    /// A build root such as `/workspace/` was stripped.
    BuildRoot,
    /// A standard-library file in a GOROOT tree.
    Goroot,
    /// The module was renamed: matched by the longest path suffix.
    Rename,
}

impl Rule {
    const ALL: [Rule; 6] = [
        Rule::ModulePrefix,
        Rule::Vendor,
        Rule::Gopath,
        Rule::BuildRoot,
        Rule::Goroot,
        Rule::Rename,
    ];
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::ModulePrefix => "module prefix",
            Rule::Vendor => "vendor",
            Rule::Gopath => "GOPATH",
            Rule::BuildRoot => "build root",
            Rule::Goroot => "std library",
            Rule::Rename => "module rename",
        })
    }
}

/// The old and new prefixes of a renamed module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// The prefix the build recorded (e.g. the old module path).
    pub old: String,
    /// What it is now (the module path in the tree, or a repo-relative directory).
    pub new: String,
}

/// Where a recorded file path lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The index of the tree in the [`SourceIndex`].
    pub tree: usize,
    /// The path in that tree.
    pub path: String,
    /// The rule that found it.
    pub rule: Rule,
    /// What the rule matched, in words.
    pub detail: String,
    /// For [`Rule::Rename`], the old and new prefixes.
    pub rename: Option<Rename>,
}

/// One rule's verdict in an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The rule.
    pub rule: Rule,
    /// Whether it found a file.
    pub matched: bool,
    /// What it found, or why it did not match.
    pub note: String,
}

/// Why a file path resolved as it did: every rule's verdict and the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The recorded path.
    pub file: String,
    /// Labels of the preferred trees, in order.
    pub prefer: Vec<String>,
    /// One step per rule, in rule order.
    pub steps: Vec<Step>,
    /// What [`SourceIndex::resolve`] returns.
    pub result: Option<Resolution>,
    /// The label of the result's tree.
    pub result_label: Option<String>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "file: {}", self.file)?;
        if self.prefer.is_empty() {
            writeln!(f, "preferred trees: none")?;
        } else {
            writeln!(f, "preferred trees: {}", self.prefer.join(", "))?;
        }
        for step in &self.steps {
            let mark = if step.matched { "match" } else { "no" };
            writeln!(
                f,
                "  {:<14} {mark:<5} {}",
                format!("{}:", step.rule),
                step.note
            )?;
        }
        match (&self.result, &self.result_label) {
            (Some(r), Some(label)) => write!(f, "result: {label}: {} (by {})", r.path, r.rule),
            _ => write!(f, "result: not found in any of the indexed trees"),
        }
    }
}

/// A module found in a tree.
#[derive(Debug)]
struct Module {
    path: String,
    /// The module root in the tree, `""` for the tree root.
    dir: String,
    tree: usize,
    /// The `go.work` that uses it, if any.
    work: Option<String>,
    /// Derived from the tree's URL (a GOPATH-era repository without a root go.mod).
    from_url: bool,
}

impl Module {
    /// `dir/rel`, or `rel` at the tree root.
    fn join(&self, rel: &str) -> String {
        join(&self.dir, rel)
    }

    fn describe(&self, label: &str) -> String {
        let origin = if self.from_url {
            "from the URL; no root go.mod".to_owned()
        } else if let Some(work) = &self.work {
            format!("{} via {work}", join(&self.dir, "go.mod"))
        } else {
            join(&self.dir, "go.mod")
        };
        format!("{} ({origin} in {label})", self.path)
    }
}

/// A `vendor/` directory at a module root.
#[derive(Debug)]
struct VendorRoot {
    tree: usize,
    /// `vendor/` or `<module dir>/vendor/`.
    prefix: String,
    /// From `vendor/modules.txt`, if present.
    modules: Vec<(String, String)>,
}

struct Entry {
    tree_ref: TreeRef,
    tree: Box<dyn SourceTree>,
}

/// A run's source trees, indexed once.
pub struct SourceIndex {
    trees: Vec<Entry>,
    modules: Vec<Module>,
    by_module: HashMap<String, Vec<usize>>,
    vendor_roots: Vec<VendorRoot>,
    /// File name → (tree, index into that tree's paths), for the rename rule.
    by_name: HashMap<String, Vec<(usize, usize)>>,
    warnings: Vec<String>,
}

impl fmt::Debug for SourceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceIndex")
            .field(
                "trees",
                &self
                    .trees
                    .iter()
                    .map(|e| &e.tree_ref.label)
                    .collect::<Vec<_>>(),
            )
            .field("modules", &self.modules)
            .field("vendor_roots", &self.vendor_roots)
            .finish_non_exhaustive()
    }
}

/// A candidate for one rule: tree, path, and what matched.
struct Found {
    tree: usize,
    path: String,
    detail: String,
    rename: Option<Rename>,
}

/// Rule 1's verdict.
struct ModuleMatch {
    found: Option<Found>,
    note: String,
    /// Some module declares a prefix of the path (even if the file is missing).
    declared: bool,
}

impl SourceIndex {
    /// Indexes `trees` (their order is the index order used to break ties).
    ///
    /// Unreadable or odd `go.mod`/`go.work` files do not fail the build of the index;
    /// they are reported by [`warnings`](SourceIndex::warnings).
    pub fn build(trees: Vec<(TreeRef, Box<dyn SourceTree>)>) -> SourceIndex {
        let mut index = SourceIndex {
            trees: trees
                .into_iter()
                .map(|(tree_ref, tree)| Entry { tree_ref, tree })
                .collect(),
            modules: Vec::new(),
            by_module: HashMap::new(),
            vendor_roots: Vec::new(),
            by_name: HashMap::new(),
            warnings: Vec::new(),
        };
        for t in 0..index.trees.len() {
            index.index_tree(t);
        }
        for (i, m) in index.modules.iter().enumerate() {
            index.by_module.entry(m.path.clone()).or_default().push(i);
        }
        index
    }

    fn index_tree(&mut self, t: usize) {
        let entry = &self.trees[t];
        let tree = &*entry.tree;
        let label = entry.tree_ref.label.as_str();
        let mut warnings = Vec::new();
        let mut modules = Vec::new();
        let mut works = Vec::new();
        for (i, path) in tree.paths().iter().enumerate() {
            let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
            self.by_name
                .entry(name.to_owned())
                .or_default()
                .push((t, i));
            if ignored_by_go(dir) {
                continue;
            }
            match name {
                "go.mod" => modules.extend(read_module(tree, label, t, dir, &mut warnings)),
                "go.work" => works.push((dir.to_owned(), path.clone())),
                _ => {}
            }
        }
        // Workspace members: annotate the modules, and add members Go would otherwise
        // ignore (a go.work may use a module under testdata/).
        for (work_dir, work_path) in works {
            let Some(text) = read_text(tree, label, &work_path, &mut warnings) else {
                continue;
            };
            for used in gomod::work_uses(&text) {
                let Some(dir) = crate::tree::join_relative(&work_dir, &used) else {
                    warnings.push(format!(
                        "{label}: {work_path} uses {used}, outside the tree"
                    ));
                    continue;
                };
                if let Some(m) = modules.iter_mut().find(|m| m.dir == dir) {
                    m.work = Some(work_path.clone());
                } else if tree.contains(&join(&dir, "go.mod")) {
                    if let Some(mut m) = read_module(tree, label, t, &dir, &mut warnings) {
                        m.work = Some(work_path.clone());
                        modules.push(m);
                    }
                } else {
                    warnings.push(format!(
                        "{label}: {work_path} uses {used}, which has no go.mod at this commit"
                    ));
                }
            }
        }
        if !modules.iter().any(|m| m.dir.is_empty()) {
            let import_path = entry
                .tree_ref
                .url
                .as_deref()
                .and_then(|u| RemoteKey::parse(u).ok())
                .and_then(|k| k.import_path());
            if let Some(path) = import_path {
                modules.push(Module {
                    path,
                    dir: String::new(),
                    tree: t,
                    work: None,
                    from_url: true,
                });
            }
        }
        for m in modules.iter().filter(|m| !m.from_url) {
            let prefix = join(&m.dir, "vendor/");
            let paths = tree.paths();
            let first = paths.partition_point(|p| p.as_str() < prefix.as_str());
            if paths.get(first).is_some_and(|p| p.starts_with(&prefix)) {
                let txt = format!("{prefix}modules.txt");
                let vendored = read_text(tree, label, &txt, &mut warnings)
                    .map(|s| gomod::vendored_modules(&s))
                    .unwrap_or_default();
                self.vendor_roots.push(VendorRoot {
                    tree: t,
                    prefix,
                    modules: vendored,
                });
            }
        }
        self.modules.extend(modules);
        self.warnings.extend(warnings);
    }

    /// The number of trees.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// Whether there are no trees.
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }

    /// The tree at `index`.
    pub fn tree(&self, index: usize) -> Option<&dyn SourceTree> {
        self.trees.get(index).map(|e| &*e.tree)
    }

    /// What the tree at `index` is.
    pub fn tree_ref(&self, index: usize) -> Option<&TreeRef> {
        self.trees.get(index).map(|e| &e.tree_ref)
    }

    /// The tree of `url` at `commit` (full or abbreviated; URLs compared by
    /// [`RemoteKey`]), for building `prefer` lists.
    pub fn find(&self, url: &str, commit: &str) -> Option<usize> {
        let key = RemoteKey::parse(url).ok()?;
        let commit = commit.trim().to_ascii_lowercase();
        if commit.len() < 4 {
            return None;
        }
        self.trees.iter().position(|e| {
            let same_repo = e
                .tree_ref
                .url
                .as_deref()
                .and_then(|u| RemoteKey::parse(u).ok())
                .is_some_and(|k| k == key);
            same_repo
                && e.tree_ref
                    .commit
                    .as_deref()
                    .is_some_and(|c| c.to_ascii_lowercase().starts_with(&commit))
        })
    }

    /// Every module found: (module path, tree index, directory in the tree).
    pub fn modules(&self) -> impl Iterator<Item = (&str, usize, &str)> {
        self.modules
            .iter()
            .map(|m| (m.path.as_str(), m.tree, m.dir.as_str()))
    }

    /// Problems met while indexing (unreadable go.mod, go.work using a missing
    /// directory, …), each naming the tree and file.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Reads the file a resolution points at.
    pub fn read(&self, resolution: &Resolution) -> Result<Option<Vec<u8>>> {
        match self.tree(resolution.tree) {
            Some(tree) => tree.read(&resolution.path),
            None => Ok(None),
        }
    }

    /// Maps a recorded file path to a file in one of the trees, trying the trees in
    /// `prefer` first among equally good candidates.
    pub fn resolve(&self, file: &str, prefer: &[usize]) -> Option<Resolution> {
        self.evaluate(file, prefer, false).1
    }

    /// Like [`resolve`](SourceIndex::resolve), with every rule's verdict.
    pub fn explain(&self, file: &str, prefer: &[usize]) -> Explanation {
        let (steps, result) = self.evaluate(file, prefer, true);
        Explanation {
            file: file.to_owned(),
            prefer: prefer
                .iter()
                .filter_map(|&t| self.tree_ref(t).map(|r| r.label.clone()))
                .collect(),
            steps,
            result_label: result
                .as_ref()
                .and_then(|r| self.tree_ref(r.tree).map(|t| t.label.clone())),
            result,
        }
    }

    fn evaluate(&self, file: &str, prefer: &[usize], all: bool) -> (Vec<Step>, Option<Resolution>) {
        let file = normalize(file);
        let mut steps = Vec::new();
        let mut result = None;
        let mut declared = false;
        for rule in Rule::ALL {
            if result.is_some() && !all {
                break;
            }
            let (found, note) = match rule {
                Rule::ModulePrefix => {
                    let m = self.by_module_prefix(&file, prefer);
                    declared = m.declared;
                    (m.found, m.note)
                }
                Rule::Vendor => self.by_vendor(&file, prefer),
                Rule::Gopath => self.by_gopath(&file, prefer),
                Rule::BuildRoot => self.by_build_root(&file, prefer),
                Rule::Goroot => self.by_goroot(&file, prefer),
                Rule::Rename if declared => (
                    None,
                    "not tried: a module declares a prefix of the path".to_owned(),
                ),
                Rule::Rename => self.by_rename(&file, prefer),
            };
            let matched = found.is_some();
            steps.push(Step {
                rule,
                matched,
                note: match &found {
                    Some(f) => format!("{} → {}", f.detail, f.path),
                    None => note,
                },
            });
            if let (None, Some(found)) = (&result, found) {
                result = Some(Resolution {
                    tree: found.tree,
                    path: found.path,
                    rule,
                    detail: found.detail,
                    rename: found.rename,
                });
            }
        }
        (steps, result)
    }

    fn label(&self, tree: usize) -> &str {
        self.trees
            .get(tree)
            .map_or("?", |e| e.tree_ref.label.as_str())
    }

    /// Ordering key: preferred trees in `prefer` order, then index order.
    fn rank(prefer: &[usize], tree: usize) -> (usize, usize) {
        (
            prefer.iter().position(|&p| p == tree).unwrap_or(usize::MAX),
            tree,
        )
    }

    fn has(&self, tree: usize, path: &str) -> bool {
        self.trees.get(tree).is_some_and(|e| e.tree.contains(path))
    }

    fn by_module_prefix(&self, file: &str, prefer: &[usize]) -> ModuleMatch {
        // Longest prefix first, only at segment boundaries.
        let cuts = file.match_indices('/').map(|(i, _)| i).rev();
        for cut in cuts {
            let (prefix, rest) = (&file[..cut], &file[cut + 1..]);
            let Some(ids) = self.by_module.get(prefix) else {
                continue;
            };
            let mut candidates: Vec<&Module> = ids.iter().map(|&i| &self.modules[i]).collect();
            if candidates.iter().any(|m| prefer.contains(&m.tree)) {
                candidates.retain(|m| prefer.contains(&m.tree));
            }
            candidates.sort_by_key(|m| Self::rank(prefer, m.tree));
            let hit = candidates.iter().find(|m| self.has(m.tree, &m.join(rest)));
            return match hit {
                Some(m) => ModuleMatch {
                    found: Some(Found {
                        tree: m.tree,
                        path: m.join(rest),
                        detail: format!("module {}", m.describe(self.label(m.tree))),
                        rename: None,
                    }),
                    note: String::new(),
                    declared: true,
                },
                None => ModuleMatch {
                    found: None,
                    note: format!(
                        "module {} owns the path, but no file {}",
                        candidates
                            .iter()
                            .map(|m| m.describe(self.label(m.tree)))
                            .collect::<Vec<_>>()
                            .join(", "),
                        candidates
                            .first()
                            .map_or_else(|| rest.to_owned(), |m| m.join(rest))
                    ),
                    declared: true,
                },
            };
        }
        ModuleMatch {
            found: None,
            note: self.closest_module(file, prefer),
            declared: false,
        }
    }

    /// "no module declares …; closest: …" for the explanation.
    fn closest_module(&self, file: &str, prefer: &[usize]) -> String {
        let segments: Vec<&str> = file.split('/').collect();
        let best = self
            .modules
            .iter()
            .map(|m| {
                let common = m
                    .path
                    .split('/')
                    .zip(&segments)
                    .take_while(|(a, b)| a == *b)
                    .count();
                (m, common)
            })
            .filter(|&(_, common)| common > 0)
            .min_by_key(|&(m, common)| (usize::MAX - common, Self::rank(prefer, m.tree)));
        let mut note = format!("no module declares a prefix of {file}");
        match best {
            Some((m, common)) => {
                let differs = m.path.split('/').nth(common).unwrap_or("");
                let wanted = segments.get(common).copied().unwrap_or("");
                note.push_str(&format!(
                    "; closest: {} shares {common} segment(s), then has {differs:?} where the path has {wanted:?}",
                    m.describe(self.label(m.tree))
                ));
            }
            None if self.modules.is_empty() => note.push_str(" (no modules indexed)"),
            None => note.push_str("; no module shares its first segment"),
        }
        note
    }

    fn by_vendor(&self, file: &str, prefer: &[usize]) -> (Option<Found>, String) {
        if self.vendor_roots.is_empty() {
            return (None, "no vendor directories indexed".to_owned());
        }
        let best = self
            .vendor_roots
            .iter()
            .filter(|v| self.has(v.tree, &format!("{}{file}", v.prefix)))
            .min_by_key(|v| Self::rank(prefer, v.tree));
        match best {
            Some(v) => {
                let module = v
                    .modules
                    .iter()
                    .filter(|(m, _)| is_segment_prefix(m, file))
                    .max_by_key(|(m, _)| m.len())
                    .map(|(m, ver)| format!(", module {m} {ver} in modules.txt"))
                    .unwrap_or_default();
                let found = Found {
                    tree: v.tree,
                    path: format!("{}{file}", v.prefix),
                    detail: format!(
                        "vendored in {} under {}{module}",
                        self.label(v.tree),
                        v.prefix
                    ),
                    rename: None,
                };
                (Some(found), String::new())
            }
            None => (
                None,
                format!(
                    "none of {} vendor directories has {file}",
                    self.vendor_roots.len()
                ),
            ),
        }
    }

    fn by_gopath(&self, file: &str, prefer: &[usize]) -> (Option<Found>, String) {
        let added = !file.starts_with('/');
        let padded = if added {
            format!("/{file}")
        } else {
            file.to_owned()
        };
        let cuts: Vec<usize> = padded.match_indices("/src/").map(|(i, _)| i).collect();
        if cuts.is_empty() {
            return (None, "no /src/ in the path".to_owned());
        }
        let mut tried = Vec::new();
        for &cut in cuts.iter().rev() {
            let rest = &padded[cut + 5..];
            if rest.is_empty() {
                continue;
            }
            let strong = self
                .by_module_prefix(rest, prefer)
                .found
                .or_else(|| self.by_vendor(rest, prefer).0)
                .or_else(|| self.by_goroot(rest, prefer).0);
            if let Some(mut found) = strong {
                let cut_off = &padded[usize::from(added)..cut + 5];
                found.detail = format!("cut {cut_off}, then {}", found.detail);
                return (Some(found), String::new());
            }
            tried.push(rest);
        }
        (
            None,
            format!(
                "no module, vendor or GOROOT file for {}",
                tried.join(" or ")
            ),
        )
    }

    fn by_build_root(&self, file: &str, prefer: &[usize]) -> (Option<Found>, String) {
        let padded = if file.starts_with('/') {
            file.to_owned()
        } else {
            format!("/{file}")
        };
        // A relative path that no root starts is taken as repo-relative (what compile
        // records for coverage.py and LCOV inputs once `source_root` is stripped), in the
        // build's own trees only: a Go import path must not land on a stray file.
        let (root, rest, own_trees_only) = match BUILD_ROOTS
            .iter()
            .find_map(|root| padded.strip_prefix(root).map(|rest| (*root, rest)))
        {
            Some((root, rest)) => (root, rest, false),
            None if !file.starts_with('/') && !prefer.is_empty() => ("", file, true),
            None => {
                return (
                    None,
                    format!("the path starts with none of {}", BUILD_ROOTS.join(" ")),
                )
            }
        };
        let mut hits: Vec<usize> = (0..self.trees.len())
            .filter(|&t| self.has(t, rest) && (!own_trees_only || prefer.contains(&t)))
            .collect();
        hits.sort_by_key(|&t| Self::rank(prefer, t));
        match hits.split_first() {
            Some((&t, others)) => {
                let mut detail = if own_trees_only {
                    format!("repo-relative; {} has {rest}", self.label(t))
                } else {
                    format!("stripped {root}; {} has {rest}", self.label(t))
                };
                if !others.is_empty() {
                    detail.push_str(&format!(" (as do {} other trees)", others.len()));
                }
                let found = Found {
                    tree: t,
                    path: rest.to_owned(),
                    detail,
                    rename: None,
                };
                (Some(found), String::new())
            }
            None if own_trees_only => (
                None,
                format!(
                    "the path starts with none of {}, and the build's own trees have no \
                     repo-relative {rest}",
                    BUILD_ROOTS.join(" ")
                ),
            ),
            None => (None, format!("stripped {root}; no tree has {rest}")),
        }
    }

    fn by_goroot(&self, file: &str, prefer: &[usize]) -> (Option<Found>, String) {
        let first = file.split('/').next().unwrap_or("");
        if file.starts_with('/') || first.contains('.') {
            return (None, "not a standard-library path".to_owned());
        }
        let mut roots: Vec<usize> = (0..self.trees.len())
            .filter(|&t| self.trees[t].tree_ref.goroot)
            .collect();
        if roots.is_empty() {
            return (None, "no tree is registered as GOROOT".to_owned());
        }
        roots.sort_by_key(|&t| Self::rank(prefer, t));
        for t in roots {
            for path in [format!("src/{file}"), file.to_owned()] {
                if self.has(t, &path) {
                    let found = Found {
                        tree: t,
                        detail: format!("GOROOT {}", self.label(t)),
                        path,
                        rename: None,
                    };
                    return (Some(found), String::new());
                }
            }
        }
        (None, format!("no GOROOT tree has src/{file}"))
    }

    fn by_rename(&self, file: &str, prefer: &[usize]) -> (Option<Found>, String) {
        let segments: Vec<&str> = file.split('/').filter(|s| !s.is_empty()).collect();
        let Some(name) = segments.last() else {
            return (None, "empty path".to_owned());
        };
        // Longest common suffix, in segments, of each same-named file.
        let mut best = 0;
        let mut hits: Vec<(usize, &str)> = Vec::new();
        for &(t, i) in self.by_name.get(*name).into_iter().flatten() {
            let Some(path) = self.trees[t].tree.paths().get(i) else {
                continue;
            };
            let common = path
                .rsplit('/')
                .zip(segments.iter().rev())
                .take_while(|(a, b)| a == *b)
                .count();
            if common > best {
                best = common;
                hits.clear();
            }
            if common == best {
                hits.push((t, path));
            }
        }
        if best < 2 {
            return (
                None,
                format!("no tree has a file ending in the last two segments of {file}"),
            );
        }
        hits.sort_by_key(|&(t, _)| Self::rank(prefer, t));
        let Some(&(t, path)) = hits.first() else {
            return (None, "no candidates".to_owned());
        };
        let in_same_tree = hits.iter().filter(|&&(u, _)| u == t).count();
        let tie_unbroken = hits.len() > 1 && !prefer.contains(&t);
        if in_same_tree > 1 || tie_unbroken {
            let listed: Vec<String> = hits
                .iter()
                .take(4)
                .map(|&(u, p)| format!("{}:{p}", self.label(u)))
                .collect();
            return (
                None,
                format!(
                    "ambiguous: {} files share the last {best} segments ({})",
                    hits.len(),
                    listed.join(", ")
                ),
            );
        }
        let kept = segments.len() - best;
        let old = segments[..kept].join("/");
        let path_segments: Vec<&str> = path.split('/').collect();
        let tree_prefix = path_segments[..path_segments.len() - best].join("/");
        let owner = self
            .modules
            .iter()
            .filter(|m| m.tree == t && !m.from_url && is_dir_prefix(&m.dir, &tree_prefix))
            .max_by_key(|m| m.dir.len());
        let new = match owner {
            Some(m) => {
                let below = tree_prefix
                    .strip_prefix(&m.dir)
                    .unwrap_or("")
                    .trim_start_matches('/');
                join(&m.path, below)
            }
            None => tree_prefix,
        };
        let found = Found {
            tree: t,
            path: path.to_owned(),
            detail: format!(
                "{old} is now {new} in {} (last {best} segments match)",
                self.label(t)
            ),
            rename: Some(Rename { old, new }),
        };
        (Some(found), String::new())
    }
}

/// The text of `path`, or `None` (with a warning when reading failed).
fn read_text(
    tree: &dyn SourceTree,
    label: &str,
    path: &str,
    warnings: &mut Vec<String>,
) -> Option<String> {
    match tree.read(path) {
        Ok(Some(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Ok(None) => None,
        Err(e) => {
            warnings.push(format!("{label}: cannot read {path}: {e}"));
            None
        }
    }
}

/// The module declared by `dir/go.mod`.
fn read_module(
    tree: &dyn SourceTree,
    label: &str,
    t: usize,
    dir: &str,
    warnings: &mut Vec<String>,
) -> Option<Module> {
    let go_mod = join(dir, "go.mod");
    let text = read_text(tree, label, &go_mod, warnings)?;
    let Some(path) = gomod::module_path(&text) else {
        warnings.push(format!("{label}: {go_mod} has no module directive"));
        return None;
    };
    Some(Module {
        path,
        dir: dir.to_owned(),
        tree: t,
        work: None,
        from_url: false,
    })
}

/// `a/b` from `a` and `b`, `b` alone when `a` is empty.
fn join(dir: &str, rel: &str) -> String {
    match (dir.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_owned(),
        (false, true) => dir.to_owned(),
        (false, false) => format!("{dir}/{rel}"),
    }
}

/// Whether `prefix` is `path` or a whole-segment prefix of it.
fn is_segment_prefix(prefix: &str, path: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Like [`is_segment_prefix`], with `""` the prefix of everything.
fn is_dir_prefix(dir: &str, path: &str) -> bool {
    dir.is_empty() || is_segment_prefix(dir, path)
}

/// Directories Go ignores when it looks for modules: `vendor`, `testdata`, and names
/// starting with `.` or `_`.
fn ignored_by_go(dir: &str) -> bool {
    dir.split('/').any(|seg| {
        seg == "vendor" || seg == "testdata" || seg.starts_with('.') || seg.starts_with('_')
    })
}

/// Backslashes to slashes, no `./` segments, no doubled slashes; a leading `/` kept.
fn normalize(file: &str) -> String {
    let file = file.trim().replace('\\', "/");
    let absolute = file.starts_with('/');
    let parts: Vec<&str> = file
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert!(is_segment_prefix("example.com/foo", "example.com/foo/x.go"));
        assert!(!is_segment_prefix(
            "example.com/foo",
            "example.com/foobar/x.go"
        ));
        assert!(ignored_by_go("a/testdata/m"));
        assert!(ignored_by_go("_tools"));
        assert!(!ignored_by_go(""));
        assert!(!ignored_by_go("staging/src/k8s.io/api"));
        assert_eq!(normalize(" ./a//b/./c.go "), "a/b/c.go");
        assert_eq!(normalize("C:\\src\\x.go"), "C:/src/x.go");
        assert_eq!(normalize("/go//src/x.go"), "/go/src/x.go");
    }
}
