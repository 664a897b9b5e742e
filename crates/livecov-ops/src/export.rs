//! `livecov export` and `report --format lcov|…`: the profile of a collection, a build, an
//! owner or a repo@commit, written in one of the exchange formats of `livecov-formats`.
//!
//! The profile: the selected owners' counters of each build merged with the rule the
//! collection was compiled with (as the index and build pages merge them), infrastructure
//! files left out (as every total leaves them out), then the builds merged by file path
//! with the same rule. A file may only be merged across builds where its units agree
//! (same source); where they do not, the later build's copy is left out with a warning
//! naming both builds — nothing is silently mixed.
//!
//! Paths: repo-relative where the source mapping knows the build's repository (the
//! source index of `clone-sources` finds the file in the build's own repo@commit, or the
//! recorded path starts with the import path its repository URL gives), otherwise as the
//! build recorded them. A Go text profile keeps the recorded import paths by default,
//! because Go's tools resolve files by import path.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Result};
use livecov_formats::gocovdata::hex16;
use livecov_formats::summary::Summary;
use livecov_formats::{cobertura, codecov, goprofile, json, lcov, markdown, sonar};
use livecov_model::{CounterMode, MergeRule, Profile, ProfileError, Severity};
use livecov_store::{decompress_counters, BuildRow, ImageSourceRow, OwnerRow};

use crate::site::sources::CollectionSources;
use crate::Reporter;

/// The formats `livecov export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExportFormat {
    /// LCOV tracefile (lcov 2.x grammar, read by genhtml, Codecov, Coveralls).
    Lcov,
    /// Cobertura XML (GitLab, Jenkins, Azure DevOps, Codecov, diff-cover).
    Cobertura,
    /// Go text profile (`go tool cover`, Prow's coverage lens); Go builds only.
    Go,
    /// SonarQube generic coverage XML.
    Sonar,
    /// Codecov's JSON format.
    Codecov,
    /// livecov's JSON summary (totals and per-file figures).
    Json,
    /// A Markdown summary for pull-request comments.
    Markdown,
}

impl ExportFormat {
    /// Every format.
    pub const ALL: [ExportFormat; 7] = [
        ExportFormat::Lcov,
        ExportFormat::Cobertura,
        ExportFormat::Go,
        ExportFormat::Sonar,
        ExportFormat::Codecov,
        ExportFormat::Json,
        ExportFormat::Markdown,
    ];

    /// The name flags use.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Lcov => "lcov",
            ExportFormat::Cobertura => "cobertura",
            ExportFormat::Go => "go",
            ExportFormat::Sonar => "sonar",
            ExportFormat::Codecov => "codecov",
            ExportFormat::Json => "json",
            ExportFormat::Markdown => "markdown",
        }
    }
}

/// Which coverage to export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every owner of the collection.
    Collection,
    /// One build: its hex hash or an unambiguous prefix of it.
    Build(String),
    /// The owners matching these globs, merged: an owner is picked when its namespace
    /// matches one of `namespaces` (or the list is empty) and its name, or
    /// `namespace/name`, matches one of `owners` (or the list is empty).
    Owners {
        /// Namespace globs (`shop`, `e2e-*`), ORed.
        namespaces: Vec<String>,
        /// Owner globs (`web`, `shop/web*`), ORed; ANDed with the namespaces.
        owners: Vec<String>,
    },
    /// The builds made from this repository at this commit (full or abbreviated).
    Repo {
        /// Repository URL, in any form `clone-sources` accepts.
        url: String,
        /// Commit id or a prefix of it (at least 7 digits).
        commit: String,
    },
}

impl Selection {
    /// The owners matching the globs; the whole collection when both lists are empty.
    pub fn owners(namespaces: &[String], owners: &[String]) -> Selection {
        if namespaces.is_empty() && owners.is_empty() {
            Selection::Collection
        } else {
            Selection::Owners {
                namespaces: namespaces.to_vec(),
                owners: owners.to_vec(),
            }
        }
    }

    /// Parses `R@COMMIT` (the commit after the last `@`, so `git@host:org/repo@abc1234`
    /// works).
    pub fn repo(spec: &str) -> Result<Selection> {
        match spec.rsplit_once('@') {
            Some((url, commit)) if !url.is_empty() && commit.len() >= 7 => Ok(Selection::Repo {
                url: url.to_owned(),
                commit: commit.to_ascii_lowercase(),
            }),
            _ => bail!(
                "--repo {spec:?}: expected REPO@COMMIT with a commit of at least 7 hex digits, \
                 e.g. https://github.com/org/repo@0123abc"
            ),
        }
    }
}

/// How file paths are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PathStyle {
    /// Recorded paths for the Go text profile (Go's tools resolve import paths),
    /// repo-relative paths for every other format.
    #[default]
    Auto,
    /// Repo-relative where the source mapping knows the repository.
    Repo,
    /// As the build recorded them (Go: import paths).
    Recorded,
}

/// What [`export`] needs.
#[derive(Clone, Debug)]
pub struct ExportSettings {
    /// The compiled collection directory.
    pub collection: PathBuf,
    /// The output format.
    pub format: ExportFormat,
    /// Which coverage.
    pub selection: Selection,
    /// How paths are written.
    pub paths: PathStyle,
    /// The git cache of `clone-sources` (default: `<collection>/sources`).
    pub sources: Option<PathBuf>,
    /// Cobertura's `<source>`: the directory the paths are relative to.
    pub cobertura_source: String,
    /// Cobertura's `timestamp`, in milliseconds since the Unix epoch (the clock is the
    /// caller's).
    pub timestamp_ms: u64,
    /// The store of the collection (default: `<collection>/livecov.db`).
    pub store: crate::StoreChoice,
}

impl ExportSettings {
    /// The whole collection in `format`, paths by [`PathStyle::Auto`], Cobertura source
    /// `.`, timestamp 0 (set it: Codecov refuses stale Cobertura reports).
    pub fn new(collection: impl Into<PathBuf>, format: ExportFormat) -> ExportSettings {
        ExportSettings {
            collection: collection.into(),
            format,
            selection: Selection::Collection,
            paths: PathStyle::Auto,
            sources: None,
            cobertura_source: ".".to_owned(),
            timestamp_ms: 0,
            store: crate::StoreChoice::default(),
        }
    }
}

/// What [`export`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Builds merged into the export.
    pub builds: usize,
    /// Owner groups whose counters were used.
    pub owners: usize,
    /// Files written.
    pub files: usize,
    /// Statements of the export.
    pub statements: u64,
    /// Covered statements.
    pub covered: u64,
    /// Files whose path was made repo-relative.
    pub repo_relative: usize,
    /// Copies of a file left out because another build has a different version of it.
    pub conflicts: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes the selected coverage to `out` in the chosen format.
pub fn export(
    settings: &ExportSettings,
    out: &mut dyn Write,
    reporter: &dyn Reporter,
) -> Result<ExportSummary> {
    let (profile, mut summary) = export_profile(settings, reporter)?;
    let mut counted = CountingWriter {
        inner: out,
        bytes: 0,
    };
    write_profile(settings, &profile, &mut counted)?;
    summary.bytes = counted.bytes;
    if settings.format == ExportFormat::Cobertura && summary.bytes > cobertura::GITLAB_MAX_BYTES {
        reporter.diagnostic(
            Severity::Warning,
            &format!(
                "the Cobertura report is {} bytes; GitLab refuses files over {} bytes (10 MiB): \
                 export smaller parts (--build, --owner, --repo) and give GitLab a wildcard path",
                summary.bytes,
                cobertura::GITLAB_MAX_BYTES
            ),
        );
    }
    Ok(summary)
}

/// Writes `profile` in `settings.format`.
pub fn write_profile(
    settings: &ExportSettings,
    profile: &Profile,
    out: &mut dyn Write,
) -> Result<()> {
    let mut out = out;
    match settings.format {
        ExportFormat::Lcov => lcov::write(&lcov::from_profile(profile), &mut out)?,
        ExportFormat::Cobertura => {
            cobertura::CoberturaWriter::new(settings.timestamp_ms)
                .source(settings.cobertura_source.clone())
                .write(profile, &mut out)?;
        }
        ExportFormat::Go => {
            goprofile::check_go_shaped(profile)?;
            let mut sorted = profile.clone();
            goprofile::sort_textfmt(&mut sorted);
            goprofile::write(&sorted, &mut out)?;
        }
        ExportFormat::Sonar => sonar::write(profile, &mut out)?,
        ExportFormat::Codecov => codecov::write(profile, &mut out)?,
        ExportFormat::Json => json::write(&Summary::of(profile), &mut out)?,
        ExportFormat::Markdown => {
            markdown::MarkdownWriter::new().write(&Summary::of(profile), &mut out)?
        }
    }
    Ok(())
}

/// The selected coverage as one profile, paths mapped as `settings.paths` says.
pub fn export_profile(
    settings: &ExportSettings,
    reporter: &dyn Reporter,
) -> Result<(Profile, ExportSummary)> {
    let mut source = ExportSource::open(
        &settings.collection,
        &settings.store,
        settings.sources.clone(),
        reporter,
    )?;
    if settings.format == ExportFormat::Go {
        source = source.one_mode();
    }
    let chosen = source.select(&settings.selection)?;
    let style = match (settings.paths, settings.format) {
        (PathStyle::Auto, ExportFormat::Go) | (PathStyle::Recorded, _) => PathStyle::Recorded,
        _ => PathStyle::Repo,
    };
    source.profile(&chosen, style, reporter)
}

/// A compiled collection opened for exports: its owners, the repo@commit of each build
/// (the first owner image with a known source, as the site finds it) and the merge rule
/// it was compiled with.
pub struct ExportSource {
    store: livecov_store::Store,
    rule: MergeRule,
    builds: Vec<BuildRow>,
    owners: Vec<OwnerRow>,
    origins: BTreeMap<i64, (String, String)>,
    sources_dir: PathBuf,
    /// Builds of another mode than the first are left out (Go's text format has one
    /// mode line); otherwise the export counts.
    one_mode: bool,
}

/// Owners picked for an export, grouped by build id.
pub type Chosen<'a> = Vec<(i64, Vec<&'a OwnerRow>)>;

impl ExportSource {
    /// Opens the store of `collection` read-only; `sources` is the git cache of
    /// `clone-sources` (default: `<collection>/sources`). Warns when the store is
    /// incomplete.
    pub fn open(
        collection: &std::path::Path,
        store: &crate::StoreChoice,
        sources: Option<PathBuf>,
        reporter: &dyn Reporter,
    ) -> Result<ExportSource> {
        let store = crate::open_compiled(collection, store)?;
        if let Some(why) = crate::compile::incomplete(collection, &store)? {
            reporter.diagnostic(
                Severity::Warning,
                &format!("the store is incomplete: {why}; the export holds what it has"),
            );
        }
        let rule = crate::compile::stored_rule(&store)?;
        let builds = store.builds()?;
        let images: BTreeMap<String, ImageSourceRow> = store
            .image_sources()?
            .into_iter()
            .map(|r| (r.image.clone(), r))
            .collect();
        let owners = store.owners()?;
        let mut by_build: BTreeMap<i64, Vec<&OwnerRow>> = BTreeMap::new();
        for o in &owners {
            by_build.entry(o.build_id).or_default().push(o);
        }
        let origins = by_build
            .iter()
            .map(|(id, list)| {
                let found = list
                    .iter()
                    .flat_map(|o| image_keys(o))
                    .filter_map(|k| images.get(&k))
                    .find(|r| !r.source_repo.is_empty() && r.error.is_empty())
                    .map(|r| (r.source_repo.clone(), r.commit_id.clone()))
                    .unwrap_or_default();
                (*id, found)
            })
            .collect();
        Ok(ExportSource {
            store,
            rule,
            builds,
            owners,
            origins,
            sources_dir: sources.unwrap_or_else(|| collection.join("sources")),
            one_mode: false,
        })
    }

    /// Keeps the export in its first build's mode, leaving builds of other modes out
    /// with a warning: Go's text format has one `mode:` line for the whole profile.
    pub fn one_mode(mut self) -> ExportSource {
        self.one_mode = true;
        self
    }

    /// Every owner group, in key order.
    pub fn owners(&self) -> &[OwnerRow] {
        &self.owners
    }

    /// The (repository, commit) a build was made from; empty strings when unknown.
    pub fn origin(&self, build_id: i64) -> (&str, &str) {
        self.origins
            .get(&build_id)
            .map_or(("", ""), |(r, c)| (r.as_str(), c.as_str()))
    }

    /// The owners `selection` picks, grouped by build; an error when it picks none.
    pub fn select(&self, selection: &Selection) -> Result<Chosen<'_>> {
        let mut by_build: BTreeMap<i64, Vec<&OwnerRow>> = BTreeMap::new();
        for o in &self.owners {
            by_build.entry(o.build_id).or_default().push(o);
        }
        select(selection, &self.builds, &by_build, &self.origins)
    }

    /// The profile of `chosen`: each build's owners merged with the collection's rule,
    /// infrastructure files left out, paths mapped by `style` ([`PathStyle::Auto`] means
    /// repo-relative here), builds merged by file.
    pub fn profile(
        &self,
        chosen: &[(i64, Vec<&OwnerRow>)],
        style: PathStyle,
        reporter: &dyn Reporter,
    ) -> Result<(Profile, ExportSummary)> {
        let sources = if style == PathStyle::Recorded {
            None
        } else {
            Some(self.sources_for(chosen)?)
        };

        let mut summary = ExportSummary::default();
        let mut total: Option<Profile> = None;
        let mut mixed = false;
        // Mapped file → the build whose copy is in `total`, for conflict messages.
        let mut first_of: BTreeMap<String, String> = BTreeMap::new();
        let hex_of: BTreeMap<i64, String> =
            self.builds.iter().map(|b| (b.id, hex16(&b.hash))).collect();
        for (build_id, members) in chosen {
            let hex = &hex_of[build_id];
            let (layout, excluded, counters) = self.merged(*build_id, members)?;
            let (repo, commit) = self.origins.get(build_id).cloned().unwrap_or_default();
            let mapper = PathMapper::new(sources.as_ref(), &repo, &commit);
            let mut profile = Profile::new(layout.mode);
            let mut mapped_names: BTreeMap<&str, String> = BTreeMap::new();
            for f in 0..layout.functions.len() {
                let recorded = layout.file_of(f).path.as_str();
                if excluded.contains(recorded) {
                    continue;
                }
                let name = mapped_names
                    .entry(recorded)
                    .or_insert_with(|| mapper.map(recorded));
                for k in layout.function_units(f) {
                    if let Err(e) = profile.add(name, layout.units[k], counters[k]) {
                        reporter.diagnostic(
                            Severity::Warning,
                            &format!("build {hex}: {recorded}: {e}; the unit is left out"),
                        );
                    }
                }
            }
            summary.repo_relative += mapped_names
                .iter()
                .filter(|(recorded, mapped)| *recorded != mapped)
                .count();
            let Some(total) = total.as_mut() else {
                // The first build is the export so far: none of its files can conflict,
                // so it is taken whole instead of merged file by file into nothing.
                for f in profile.files() {
                    first_of.insert(f.to_owned(), hex.to_owned());
                }
                summary.builds += 1;
                summary.owners += members.len();
                total = Some(profile);
                continue;
            };
            if total.mode() != profile.mode() && !self.one_mode {
                // A line format takes builds of every mode: counts stay counts and a
                // set-mode build's 0/1 says whether a line ran, as its own tool writes it.
                if !mixed {
                    mixed = true;
                    reporter.note(&format!(
                        "build {hex} counts in {} mode and the export so far in {} mode: \
                             the export counts, a set-mode line that ran counting 1",
                        profile.mode(),
                        total.mode()
                    ));
                }
                total.read_as_counts();
                profile.read_as_counts();
            }
            if total.mode() != profile.mode() {
                reporter.diagnostic(
                    Severity::Warning,
                    &format!(
                        "build {hex} counts in {} mode and the export in {} mode (its first \
                         build's); it is left out: export it on its own with --build {hex}",
                        profile.mode(),
                        total.mode()
                    ),
                );
                continue;
            }
            summary.builds += 1;
            summary.owners += members.len();
            merge_by_file(
                total,
                &profile,
                self.rule,
                hex,
                &mut first_of,
                &mut summary,
                reporter,
            );
        }
        let profile = total.unwrap_or_else(|| Profile::new(CounterMode::Set));
        let totals = profile.totals();
        summary.files = profile.files().count();
        summary.statements = totals.statements;
        summary.covered = totals.covered;
        Ok((profile, summary))
    }
}

impl ExportSource {
    /// The source cache opened for the repo@commits of `chosen`'s builds.
    pub(crate) fn sources_for(
        &self,
        chosen: &[(i64, Vec<&OwnerRow>)],
    ) -> Result<CollectionSources> {
        let wanted: BTreeSet<(String, String)> = chosen
            .iter()
            .filter_map(|(id, _)| self.origins.get(id))
            .filter(|(r, c)| !r.is_empty() && !c.is_empty())
            .cloned()
            .collect();
        CollectionSources::open(&self.sources_dir, &wanted, &self.store.source_fetches()?)
    }

    /// One build's layout, its excluded (infrastructure) files and the counters of
    /// `members` merged with the collection's rule.
    pub(crate) fn merged(
        &self,
        build_id: i64,
        members: &[&OwnerRow],
    ) -> Result<(livecov_model::Layout, BTreeSet<String>, Vec<u32>)> {
        let layout = crate::compile::stored_layout(&self.store, build_id)?;
        let excluded: BTreeSet<String> = self
            .store
            .build_files(build_id)?
            .into_iter()
            .filter(|f| f.excluded)
            .map(|f| f.path)
            .collect();
        let units = layout.units.len();
        let mut counters = vec![0u32; units];
        for o in members {
            let c = decompress_counters(&o.counters, units).map_err(|e| {
                anyhow::anyhow!("the store is damaged: counters of owner {}: {e}", o.key)
            })?;
            self.rule.merge(layout.mode, &mut counters, &c);
        }
        Ok((layout, excluded, counters))
    }

    /// The image sources of the collection, by image key.
    pub(crate) fn image_sources(&self) -> Result<BTreeMap<String, ImageSourceRow>> {
        Ok(self
            .store
            .image_sources()?
            .into_iter()
            .map(|r| (r.image.clone(), r))
            .collect())
    }

    /// The build's hash in hex.
    pub(crate) fn build_hex(&self, build_id: i64) -> String {
        self.builds
            .iter()
            .find(|b| b.id == build_id)
            .map(|b| hex16(&b.hash))
            .unwrap_or_default()
    }
}

/// Merges `build`'s files into `total` one file at a time, so a file that differs between
/// builds costs only that file.
fn merge_by_file(
    total: &mut Profile,
    build: &Profile,
    rule: MergeRule,
    hex: &str,
    first_of: &mut BTreeMap<String, String>,
    summary: &mut ExportSummary,
    reporter: &dyn Reporter,
) {
    for file in build.files() {
        let mut one = Profile::new(build.mode());
        for b in build.file_blocks(file) {
            // Cannot fail: the blocks come from a profile.
            let _ = one.add(b.file, b.unit, b.count);
        }
        match total.merge_with(&one, rule) {
            Ok(_) => {
                first_of
                    .entry(file.to_owned())
                    .or_insert_with(|| hex.to_owned());
            }
            Err(ProfileError::InconsistentStmts { unit, previous, .. }) => {
                summary.conflicts += 1;
                reporter.diagnostic(
                    Severity::Warning,
                    &format!(
                        "{file}: build {hex} has {} statements at {}.{},{}.{} where build {} \
                         has {previous}: they were built from different versions of the file, \
                         so build {hex}'s copy is left out (export it alone with --build {hex})",
                        unit.stmts,
                        unit.start_line,
                        unit.start_col,
                        unit.end_line,
                        unit.end_col,
                        first_of.get(file).map_or("?", String::as_str)
                    ),
                );
            }
            Err(e) => reporter.diagnostic(
                Severity::Warning,
                &format!("{file}: build {hex}: {e}; left out"),
            ),
        }
    }
}

/// The owners to export, grouped by build (build id order).
fn select<'a>(
    selection: &Selection,
    builds: &[BuildRow],
    by_build: &BTreeMap<i64, Vec<&'a OwnerRow>>,
    origins: &BTreeMap<i64, (String, String)>,
) -> Result<Vec<(i64, Vec<&'a OwnerRow>)>> {
    let chosen: Vec<(i64, Vec<&OwnerRow>)> = match selection {
        Selection::Collection => by_build.iter().map(|(id, l)| (*id, l.clone())).collect(),
        Selection::Build(prefix) => {
            let prefix = prefix.to_ascii_lowercase();
            let matches: Vec<&BuildRow> = builds
                .iter()
                .filter(|b| hex16(&b.hash).starts_with(&prefix))
                .collect();
            match matches.as_slice() {
                [] => bail!(
                    "no build of this collection has a hash starting with {prefix:?}\n\
                     hint: `livecov report --collection …` lists the builds"
                ),
                [b] => vec![(b.id, by_build.get(&b.id).cloned().unwrap_or_default())],
                many => bail!(
                    "{prefix:?} is the start of {} build hashes ({}); give more digits",
                    many.len(),
                    many.iter()
                        .map(|b| hex16(&b.hash))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        Selection::Owners { namespaces, owners } => {
            let namespaces = globs(namespaces, "--namespace")?;
            let owners = globs(owners, "--owner")?;
            by_build
                .iter()
                .map(|(id, l)| {
                    let mine: Vec<&OwnerRow> = l
                        .iter()
                        .copied()
                        .filter(|o| {
                            namespaces.as_ref().is_none_or(|g| g.is_match(&o.namespace))
                                && owners.as_ref().is_none_or(|g| {
                                    g.is_match(&o.owner)
                                        || g.is_match(format!("{}/{}", o.namespace, o.owner))
                                })
                        })
                        .collect();
                    (*id, mine)
                })
                .filter(|(_, l)| !l.is_empty())
                .collect()
        }
        Selection::Repo { url, commit } => by_build
            .iter()
            .filter(|(id, _)| {
                origins
                    .get(id)
                    .is_some_and(|(r, c)| same_repo(r, url) && same_commit(c, commit))
            })
            .map(|(id, l)| (*id, l.clone()))
            .collect(),
    };
    if chosen.is_empty() {
        match selection {
            Selection::Collection => bail!("the collection has no owners: nothing to export"),
            Selection::Build(_) => bail!("the build has no owners: nothing to export"),
            Selection::Owners { namespaces, owners } => bail!(
                "no owner matches --namespace {namespaces:?} and --owner {owners:?} (an owner \
                 glob matches the name or namespace/name)\n\
                 hint: `livecov report --collection …` lists the owners"
            ),
            Selection::Repo { url, commit } => bail!(
                "no build of this collection was made from {url}@{commit} (its image sources \
                 name other repositories or commits)"
            ),
        }
    }
    Ok(chosen)
}

/// One matcher for a list of globs; `None` for an empty list (everything matches).
pub fn globs(patterns: &[String], flag: &str) -> Result<Option<globset::GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = globset::GlobSetBuilder::new();
    for p in patterns {
        set.add(
            globset::GlobBuilder::new(p)
                .literal_separator(false)
                .build()
                .map_err(|e| anyhow::anyhow!("{flag} {p:?}: not a glob: {e}"))?,
        );
    }
    Ok(Some(set.build()?))
}

fn same_repo(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (
        livecov_source::RemoteKey::parse(a),
        livecov_source::RemoteKey::parse(b),
    ) {
        (Ok(x), Ok(y)) => x.to_string().eq_ignore_ascii_case(&y.to_string()),
        _ => false,
    }
}

/// Either commit id is a prefix of the other (recorded ids are often abbreviated).
pub(crate) fn same_commit(recorded: &str, wanted: &str) -> bool {
    let (r, w) = (recorded.to_ascii_lowercase(), wanted.to_ascii_lowercase());
    !r.is_empty() && (r.starts_with(&w) || w.starts_with(&r))
}

/// The image_sources keys of an owner: its images, or `host:<binary>` for host processes
/// (as the site looks them up).
pub(crate) fn image_keys(o: &OwnerRow) -> Vec<String> {
    let mut keys: Vec<String> = o.images.iter().filter(|i| !i.is_empty()).cloned().collect();
    if keys.is_empty() || o.owner_type == "Host" {
        keys.push(format!("host:{}", o.binary));
    }
    keys
}

/// Maps one build's recorded paths to repo-relative ones.
pub(crate) struct PathMapper<'a> {
    sources: Option<&'a CollectionSources>,
    /// The build's own tree in the source index.
    tree: Option<usize>,
    /// `host/org/repo/` of the build's repository URL.
    prefix: Option<String>,
}

impl<'a> PathMapper<'a> {
    pub(crate) fn new(
        sources: Option<&'a CollectionSources>,
        repo: &str,
        commit: &str,
    ) -> PathMapper<'a> {
        let prefix = livecov_source::RemoteKey::parse(repo)
            .ok()
            .and_then(|k| k.import_path())
            .map(|p| format!("{p}/"));
        PathMapper {
            sources,
            tree: sources.and_then(|s| s.tree_of(repo, commit)),
            prefix: prefix.filter(|_| sources.is_some()),
        }
    }

    /// The path in the build's repository, or `recorded` when it is not known to be in it.
    pub(crate) fn map(&self, recorded: &str) -> String {
        if let (Some(sources), Some(tree)) = (self.sources, self.tree) {
            if let Some(r) = sources.index().resolve(recorded, &[tree]) {
                if r.tree == tree {
                    return r.path;
                }
            }
        }
        if let Some(rest) = self
            .prefix
            .as_deref()
            .and_then(|p| recorded.strip_prefix(p))
        {
            if !rest.is_empty() {
                return rest.to_owned();
            }
        }
        recorded.to_owned()
    }
}

/// Counts what passes through.
struct CountingWriter<'a> {
    inner: &'a mut dyn Write,
    bytes: u64,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_specs_take_the_commit_after_the_last_at() {
        assert_eq!(
            Selection::repo("git@github.com:org/r@ABCDEF0").unwrap(),
            Selection::Repo {
                url: "git@github.com:org/r".into(),
                commit: "abcdef0".into()
            }
        );
        assert!(Selection::repo("https://github.com/org/r").is_err());
        assert!(Selection::repo("https://github.com/org/r@abc").is_err());
    }

    #[test]
    fn repos_and_commits_match_in_their_usual_spellings() {
        assert!(same_repo(
            "https://github.com/Org/Repo.git",
            "git@github.com:org/repo"
        ));
        assert!(!same_repo(
            "https://github.com/org/a",
            "https://github.com/org/b"
        ));
        assert!(same_commit("0123456789abcdef", "0123456"));
        assert!(same_commit("0123456", "0123456789abcdef"));
        assert!(!same_commit("", "0123456"));
        assert!(!same_commit("0123456789", "0123457"));
    }

    #[test]
    fn a_file_that_differs_between_builds_keeps_the_first_copy_and_says_so() {
        use livecov_model::{Recorder, Unit};
        let u = |stmts| Unit {
            start_line: 3,
            start_col: 2,
            end_line: 5,
            end_col: 9,
            stmts,
        };
        let mut a = Profile::new(CounterMode::Count);
        a.add("dep/dep.go", u(2), 4).unwrap();
        a.add("main.go", u(1), 1).unwrap();
        let mut b = Profile::new(CounterMode::Count);
        b.add("dep/dep.go", u(2), 3).unwrap();
        b.add("main.go", u(7), 1).unwrap();
        b.add("other.go", u(1), 0).unwrap();

        let mut total = Profile::new(CounterMode::Count);
        let mut first = BTreeMap::new();
        let mut summary = ExportSummary::default();
        let rec = Recorder::default();
        merge_by_file(
            &mut total,
            &a,
            MergeRule::Sum,
            "aaaa",
            &mut first,
            &mut summary,
            &rec,
        );
        merge_by_file(
            &mut total,
            &b,
            MergeRule::Sum,
            "bbbb",
            &mut first,
            &mut summary,
            &rec,
        );

        // dep.go agrees and is summed; main.go differs and keeps build aaaa's copy.
        let counts: Vec<(&str, u32, u32)> = total
            .blocks()
            .map(|b| (b.file, b.unit.stmts, b.count))
            .collect();
        assert_eq!(
            counts,
            [("dep/dep.go", 2, 7), ("main.go", 1, 1), ("other.go", 1, 0)]
        );
        assert_eq!(summary.conflicts, 1);
        let d = rec.diagnostics.lock().unwrap();
        assert_eq!(d.len(), 1);
        assert!(
            d[0].1.starts_with(
                "main.go: build bbbb has 7 statements at 3.2,5.9 where build aaaa has 1:"
            ),
            "{}",
            d[0].1
        );
    }

    #[test]
    fn without_sources_the_url_prefix_is_not_stripped() {
        let m = PathMapper::new(None, "https://github.com/example/prog", "0123456");
        assert_eq!(
            m.map("github.com/example/prog/a/b.go"),
            "github.com/example/prog/a/b.go"
        );
    }
}
