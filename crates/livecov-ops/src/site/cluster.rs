//! A collection's site (`livecov cluster render`, `livecov render --collection`): the index of owner
//! groups and one page per build, from a compiled store and the sources fetched by
//! `clone-sources`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use livecov_formats::gocovdata::hex16;
use livecov_model::MergeRule;
use livecov_render::{
    default_levels, Block, BuildData, BuildPage, IndexBuild, IndexData, IndexDiagnostic,
    IndexOwner, PageOwner, PageSource, RenderOptions, ScenarioTotal, SourceInfo, SourceStatus,
    MAX_PAGE_SCENARIOS,
};
use livecov_store::{decompress_counters, BuildRow, ImageSourceRow, OwnerRow, Store};

use super::page::{assemble, source_counts};
use super::sources::CollectionSources;
use crate::Reporter;

/// Namespace prefixes the index hides by default (each has a checkbox).
pub const DEFAULT_HIDDEN_PREFIXES: &[&str] = &["e2e-", "openshift-must-gather-"];

/// What `render_collection` needs.
#[derive(Debug, Clone)]
pub struct RenderSettings {
    /// The collection directory (compiled with `livecov cluster compile`).
    pub collection: PathBuf,
    /// Write only index.html. Build pages written earlier are kept as they are (never
    /// deleted); builds without a page show "No page".
    pub skip_build_pages: bool,
    /// Namespace prefixes hidden by default in the index (each has a checkbox).
    pub hide_namespace_prefixes: Vec<String>,
    /// Re-render every page even when nothing it shows changed.
    pub force: bool,
    /// The shared git cache written by `clone-sources` (default: `<collection>/sources`).
    pub sources: Option<PathBuf>,
    /// The store of the collection (default: `<collection>/livecov.db`).
    pub store: crate::StoreChoice,
}

impl RenderSettings {
    /// The defaults for a collection.
    pub fn new(collection: impl Into<PathBuf>) -> RenderSettings {
        RenderSettings {
            collection: collection.into(),
            skip_build_pages: false,
            hide_namespace_prefixes: DEFAULT_HIDDEN_PREFIXES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            force: false,
            sources: None,
            store: crate::StoreChoice::default(),
        }
    }
}

/// One build of the collection, ready to be turned into a page on demand.
struct BuildSource<'r> {
    /// Told of each page built.
    reporter: &'r dyn Reporter,
    id: String,
    build: BuildRow,
    owners: Vec<OwnerRow>,
    /// The build's owner groups per scenario, by scenario name (at most
    /// [`MAX_PAGE_SCENARIOS`] kept).
    scenarios: Vec<(String, Vec<OwnerRow>)>,
    /// Scenarios that ran the build but are not on its page.
    scenarios_left_off: usize,
    excluded: BTreeSet<String>,
    /// How the collection's compile merged owners: the page merges them the same way,
    /// so its figures agree with the index.
    rule: MergeRule,
    repo: String,
    commit: String,
    store_at: livecov_store::StoreLocation,
    sources: Arc<CollectionSources>,
    generator: String,
    /// The owners' counters were dropped ([`CollectionSite::drop_counters`]): read them
    /// from the store.
    counters_in_store: bool,
}

/// A collection's site ready to render: the index and one page source per build
/// (assembled only when asked for). Written to a directory by [`render_collection`];
/// served page by page by `livecov serve`.
pub struct CollectionSite<'r> {
    /// The index, each build's `page` link still unset.
    pub index: IndexData,
    pages: Vec<BuildSource<'r>>,
}

impl<'r> CollectionSite<'r> {
    /// Every build's page source, by build id.
    pub fn pages(&self) -> Vec<&dyn PageSource> {
        self.pages.iter().map(|p| p as &dyn PageSource).collect()
    }

    /// Drops the owner groups' counters held for the pages (most of a prepared site's
    /// memory): each page reads its build's counters from the store when it is
    /// assembled. For a server holding many collections.
    pub fn drop_counters(&mut self) {
        for p in &mut self.pages {
            p.counters_in_store = true;
            let scenario_owners = p.scenarios.iter_mut().flat_map(|(_, list)| list);
            for o in p.owners.iter_mut().chain(scenario_owners) {
                o.counters = Vec::new();
            }
        }
    }

    /// The page source of one build (hex id), if the collection has it.
    pub fn page(&self, build: &str) -> Option<&dyn PageSource> {
        self.pages
            .iter()
            .find(|p| p.id == build)
            .map(|p| p as &dyn PageSource)
    }
}

/// Renders the collection's site into `out`.
pub fn render_collection(
    args: &RenderSettings,
    out: &Path,
    reporter: &dyn Reporter,
) -> Result<livecov_render::RenderSummary> {
    let site = prepare_site(args, reporter)?;
    let refs = site.pages();
    let opts = RenderOptions {
        out_dir: out.to_path_buf(),
        skip_build_pages: args.skip_build_pages,
        force: args.force,
    };
    reporter.start("render", None);
    let summary = livecov_render::render_site(&opts, &site.index, &refs);
    reporter.finish();
    Ok(summary?)
}

/// Reads what the collection's site shows from its store and sources: the index data
/// and one page source per build (see [`CollectionSite`]).
pub fn prepare_site<'r>(
    args: &RenderSettings,
    reporter: &'r dyn Reporter,
) -> Result<CollectionSite<'r>> {
    let store_at = args.store.location(&args.collection)?;
    let store = crate::open_compiled(&args.collection, &args.store)?;
    let builds = store.builds()?;
    let rule = crate::compile::stored_rule(&store)?;
    let owners = store.owners()?;
    // Each scenario's owner groups, by build.
    let mut scenarios_of: BTreeMap<i64, Vec<(String, Vec<OwnerRow>)>> = BTreeMap::new();
    for name in store.scenarios()? {
        let mut per_build: BTreeMap<i64, Vec<OwnerRow>> = BTreeMap::new();
        for o in store.scenario_owners(&name, None)? {
            per_build.entry(o.build_id).or_default().push(o);
        }
        for (build, list) in per_build {
            scenarios_of
                .entry(build)
                .or_default()
                .push((name.clone(), list));
        }
    }
    let images: BTreeMap<String, ImageSourceRow> = store
        .image_sources()?
        .into_iter()
        .map(|r| (r.image.clone(), r))
        .collect();
    let cache = args
        .sources
        .clone()
        .unwrap_or_else(|| args.collection.join("sources"));
    let generator = format!("livecov {}", env!("CARGO_PKG_VERSION"));

    let mut by_build: BTreeMap<i64, Vec<OwnerRow>> = BTreeMap::new();
    for o in owners {
        by_build.entry(o.build_id).or_default().push(o);
    }
    // repo@commit of each build: the first owner image with a known source.
    // Every fetched repo@commit is indexed: a package the build's own repo does not
    // hold is found in the repo that does.
    let wanted: BTreeSet<(String, String)> = images
        .values()
        .filter(|r| !r.source_repo.is_empty() && r.error.is_empty() && !r.commit_id.is_empty())
        .map(|r| (r.source_repo.clone(), r.commit_id.clone()))
        .collect();
    let mut origin_of: BTreeMap<i64, (String, String)> = BTreeMap::new();
    for (id, list) in &by_build {
        let found = list
            .iter()
            .flat_map(image_keys)
            .filter_map(|k| images.get(&k))
            .find(|r| !r.source_repo.is_empty() && r.error.is_empty());
        if let Some(r) = found {
            origin_of.insert(*id, (r.source_repo.clone(), r.commit_id.clone()));
        }
    }
    let sources = Arc::new(CollectionSources::open(
        &cache,
        &wanted,
        &store.source_fetches()?,
    )?);

    // Rendered all the same (the site says so too), but a user must not miss it.
    let incomplete = crate::compile::incomplete(&args.collection, &store)?;
    if let Some(why) = &incomplete {
        reporter.diagnostic(
            livecov_model::Severity::Warning,
            &format!("the store is incomplete: {why}; the site shows what it holds"),
        );
    }
    let mut index = IndexData {
        generator: generator.clone(),
        title: "Coverage by owner".into(),
        collection: match &args.store.name {
            Some(name) => name.clone(),
            None => collection_name(&args.collection),
        },
        hide_namespace_prefixes: args
            .hide_namespace_prefixes
            .iter()
            .filter(|p| !p.is_empty())
            .cloned()
            .collect(),
        levels: default_levels(),
        builds: BTreeMap::new(),
        owners: Vec::new(),
        diagnostics: store
            .diagnostics()?
            .into_iter()
            .map(|(dir, severity, message)| IndexDiagnostic {
                dir,
                severity,
                message,
            })
            .collect(),
        incomplete: incomplete.clone().unwrap_or_default(),
    };
    let mut pages = Vec::new();
    for b in builds {
        let Some(list) = by_build.remove(&b.id) else {
            continue;
        };
        let id = hex16(&b.hash);
        let files = store.build_files(b.id)?;
        let excluded: BTreeSet<String> = files
            .iter()
            .filter(|f| f.excluded)
            .map(|f| f.path.clone())
            .collect();
        let (statements, covered) = files
            .iter()
            .filter(|f| !f.excluded)
            .fold((0, 0), |(s, c), f| (s + f.statements, c + f.covered));
        let (repo, commit) = origin_of.get(&b.id).cloned().unwrap_or_default();
        let (status, note) = sources.status(&repo, &commit);
        let mut scenarios = scenarios_of.remove(&b.id).unwrap_or_default();
        let mut scenario_covered = BTreeMap::new();
        for (name, _) in &scenarios {
            scenario_covered.insert(
                name.clone(),
                crate::report::scenario_covered(&store, b.id, name)?,
            );
        }
        let scenarios_left_off = scenarios.len().saturating_sub(MAX_PAGE_SCENARIOS);
        scenarios.truncate(MAX_PAGE_SCENARIOS);
        index.builds.insert(
            id.clone(),
            IndexBuild {
                statements,
                covered,
                page: None,
                binary: list
                    .iter()
                    .map(|o| o.binary.clone())
                    .find(|s| !s.is_empty())
                    .unwrap_or_default(),
                language: b.language.clone(),
                repo: repo.clone(),
                commit: commit.clone(),
                source: status,
                source_note: note,
                scenarios: scenario_covered,
            },
        );
        for o in &list {
            index.owners.push(IndexOwner {
                namespace: o.namespace.clone(),
                owner_type: o.owner_type.clone(),
                owner: o.owner.clone(),
                binary: o.binary.clone(),
                containers: o.containers.clone(),
                pods: o.pods.clone(),
                hosts: o.hosts.clone(),
                images: o.images.clone(),
                build: id.clone(),
                statements: o.statements,
                covered: o.covered,
                first_seen: o.first_seen.clone(),
                last_seen: o.last_seen.clone(),
            });
        }
        pages.push(BuildSource {
            reporter,
            id,
            build: b,
            owners: list,
            scenarios,
            scenarios_left_off,
            excluded,
            rule,
            repo,
            commit,
            store_at: store_at.clone(),
            sources: sources.clone(),
            generator: generator.clone(),
            counters_in_store: false,
        });
    }
    index.owners.sort_by(|a, b| {
        (&a.namespace, &a.owner_type, &a.owner, &a.binary).cmp(&(
            &b.namespace,
            &b.owner_type,
            &b.owner,
            &b.binary,
        ))
    });
    Ok(CollectionSite { index, pages })
}

/// (repo, commit) of a build, and every (repo, commit) of the collection.
pub type BuildOrigins = (String, String, BTreeSet<(String, String)>);

/// The repo@commit of one build (its first owner image with a known source), and
/// every repo@commit of the collection (the index covers them all, for packages the
/// build's own repo does not hold).
pub fn build_origins(store: &Store, build_id: i64) -> Result<BuildOrigins> {
    let images: BTreeMap<String, ImageSourceRow> = store
        .image_sources()?
        .into_iter()
        .map(|r| (r.image.clone(), r))
        .collect();
    let wanted = images
        .values()
        .filter(|r| !r.source_repo.is_empty() && r.error.is_empty() && !r.commit_id.is_empty())
        .map(|r| (r.source_repo.clone(), r.commit_id.clone()))
        .collect();
    let found = store
        .owners()?
        .iter()
        .filter(|o| o.build_id == build_id)
        .flat_map(image_keys)
        .filter_map(|k| images.get(&k))
        .find(|r| !r.source_repo.is_empty() && r.error.is_empty())
        .map(|r| (r.source_repo.clone(), r.commit_id.clone()))
        .unwrap_or_default();
    Ok((found.0, found.1, wanted))
}

/// The image_sources keys of an owner: its images, or `host:<binary>` for host processes.
fn image_keys(o: &OwnerRow) -> Vec<String> {
    let mut keys: Vec<String> = o.images.iter().filter(|i| !i.is_empty()).cloned().collect();
    if keys.is_empty() || o.owner_type == "Host" {
        keys.push(format!("host:{}", o.binary));
    }
    keys
}

fn collection_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl PageSource for BuildSource<'_> {
    fn build(&self) -> &str {
        &self.id
    }

    fn key(&self) -> String {
        let mut key = String::new();
        let scenario_owners = self.scenarios.iter().flat_map(|(_, list)| list);
        for o in self.owners.iter().chain(scenario_owners) {
            key.push_str(&o.key);
            key.push('=');
            key.push_str(&o.input_hash);
            key.push(';');
        }
        let (status, note) = self.sources.status(&self.repo, &self.commit);
        key.push_str(&format!(
            "|{}@{}|{status:?}|{note}|{}|{}",
            self.repo,
            self.commit,
            self.sources.fingerprint(),
            self.excluded.iter().cloned().collect::<Vec<_>>().join(",")
        ));
        key.push_str(self.rule.name());
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(key.as_bytes()))
    }

    fn page(&self) -> Result<BuildPage, String> {
        let page = self.build_page();
        self.reporter.advance(1, &self.id);
        page
    }
}

impl BuildSource<'_> {
    fn build_page(&self) -> Result<BuildPage, String> {
        // Each page reads its own layout: pages are built in parallel and only for the
        // builds that changed, so nothing else is held in memory.
        // (An SQLite store opens as it always has; a shared one read-only.)
        let store =
            Store::open_at(&self.store_at, self.store_at.is_shared()).map_err(|e| e.to_string())?;
        let layout =
            crate::compile::stored_layout(&store, self.build.id).map_err(|e| e.to_string())?;
        let total = layout.units.len();
        let mode = layout.mode;
        // The counters as held, or as the store has them (by owner key; a group the
        // store no longer has is an error: the page is of another generation).
        let stored: BTreeMap<String, Vec<u8>> = if self.counters_in_store {
            let mut by_key: BTreeMap<String, Vec<u8>> = store
                .owners_of_build(self.build.id)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|o| (o.key, o.counters))
                .collect();
            for (name, _) in &self.scenarios {
                for o in store
                    .scenario_owners(name, Some(self.build.id))
                    .map_err(|e| e.to_string())?
                {
                    by_key.insert(format!("{name}\u{0}{}", o.key), o.counters);
                }
            }
            by_key
        } else {
            BTreeMap::new()
        };
        let counters_of = |scenario: Option<&str>, o: &OwnerRow| -> Result<Vec<u8>, String> {
            if !self.counters_in_store {
                return Ok(o.counters.clone());
            }
            let key = match scenario {
                Some(name) => format!("{name}\u{0}{}", o.key),
                None => o.key.clone(),
            };
            stored
                .get(&key)
                .cloned()
                .ok_or_else(|| format!("owner group {} is no longer in the store", o.key))
        };
        let mut merged = vec![0u32; total];
        for o in &self.owners {
            let blob = counters_of(None, o)?;
            let counters = decompress_counters(&blob, total)
                .map_err(|e| format!("counters of owner {}: {e}", o.key))?;
            self.rule.merge(mode, &mut merged, &counters);
        }
        // Bit i of a unit: scenario i executed it.
        let mut scenario_bits = vec![0u32; if self.scenarios.is_empty() { 0 } else { total }];
        let mut scenario_totals = Vec::new();
        for (i, (name, list)) in self.scenarios.iter().enumerate() {
            let mut counters = vec![0u32; total];
            for o in list {
                let blob = counters_of(Some(name), o)?;
                let c = decompress_counters(&blob, total)
                    .map_err(|e| format!("counters of scenario group {}: {e}", o.key))?;
                self.rule.merge(mode, &mut counters, &c);
            }
            let mut covered = 0;
            for f in 0..layout.functions.len() {
                let skip = self.excluded.contains(&layout.file_of(f).path);
                for k in layout.function_units(f) {
                    if counters[k] > 0 {
                        scenario_bits[k] |= 1 << i;
                        if !skip {
                            covered += u64::from(layout.units[k].stmts);
                        }
                    }
                }
            }
            scenario_totals.push(ScenarioTotal {
                name: name.clone(),
                covered,
            });
        }
        let mut files: BTreeMap<String, Vec<Block>> = BTreeMap::new();
        for f in 0..layout.functions.len() {
            let path = &layout.file_of(f).path;
            if self.excluded.contains(path) {
                continue;
            }
            let blocks = files.entry(path.clone()).or_default();
            for k in layout.function_units(f) {
                let u = &layout.units[k];
                blocks.push(Block {
                    start_line: u.start_line,
                    start_col: u.start_col,
                    end_line: u.end_line,
                    end_col: u.end_col,
                    stmts: u.stmts,
                    count: merged[k],
                    scenarios: scenario_bits.get(k).copied().unwrap_or(0),
                });
            }
        }
        let pods: BTreeSet<&String> = self.owners.iter().flat_map(|o| &o.pods).collect();
        let title = self
            .owners
            .iter()
            .map(|o| o.binary.as_str())
            .find(|s| !s.is_empty())
            .unwrap_or("build")
            .to_string();
        let (status, note) = self.sources.status(&self.repo, &self.commit);
        let data = BuildData {
            generator: self.generator.clone(),
            build: self.id.clone(),
            title,
            subtitle: format!(
                "Combined coverage across {} owner group{} · {} pod{} · {} files",
                self.owners.len(),
                plural(self.owners.len()),
                pods.len(),
                plural(pods.len()),
                files.len()
            ),
            mode: mode.to_string(),
            language: self.build.language.clone(),
            index: None,
            source: SourceInfo {
                repo: self.repo.clone(),
                commit: self.commit.clone(),
                status,
                note,
            },
            owners: self
                .owners
                .iter()
                .map(|o| PageOwner {
                    namespace: o.namespace.clone(),
                    owner_type: o.owner_type.clone(),
                    owner: o.owner.clone(),
                    binary: o.binary.clone(),
                    containers: o.containers.clone(),
                    pods: o.pods.clone(),
                    hosts: o.hosts.clone(),
                })
                .collect(),
            scenarios: scenario_totals,
            scenarios_left_off: self.scenarios_left_off,
            ..BuildData::default()
        };
        let lookup = self.sources.for_build(&self.repo, &self.commit);
        let mut page = assemble(data, files, lookup.as_ref());
        if page.data.source.status == SourceStatus::Ok {
            let (_, missing, mismatch) = source_counts(&page);
            if mismatch > 0 {
                page.data.source.status = SourceStatus::Mismatch;
                page.data.source.note = format!(
                    "{mismatch} file(s) do not match the binary: the source at {} is not the \
                     one it was built from",
                    short(&self.commit)
                );
            } else if missing > 0 {
                page.data.source.status = SourceStatus::Missing;
                page.data.source.note = format!("{missing} file(s) not found in the sources");
            }
        }
        Ok(page)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
