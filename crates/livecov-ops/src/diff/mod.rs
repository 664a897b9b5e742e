//! `livecov diff`: coverage of the lines a change added, and the gates on it.
//!
//! - The change: one `git diff -M` between a base and a head of a checkout, or a unified
//!   diff given as bytes. Removed lines are never measured (they are not in the head);
//!   renamed files are measured under their new path; deleted and binary files are listed,
//!   not measured.
//! - The base is explicit: with `--base B` the merge-base of B and the head (what a pull
//!   request shows); without it the head's first parent (for a merge commit: the branch it
//!   was merged into). When the coverage data has nothing at that commit (a collection of
//!   builds at several commits), the nearest first-parent ancestor that has is the base
//!   of the totals; the patch stays the change alone. [`DiffReport::base_reason`] says
//!   which and why.
//! - Measured lines: an added line counts when the coverage data has it as executable
//!   (inside a unit with statements, the line view every export writes) and its text is
//!   not blank or only a comment (the `lines` module).
//! - Gates: minimum patch and total coverage, a largest drop from the base, per component
//!   (path globs) too; a gate that cannot be measured fails. Informational runs report the
//!   gates and never fail.
//!
//! The command line and the webhook server are the two callers: settings in, a
//! [`DiffReport`] out ([`run`]), written by [`write()`].

pub(crate) mod data;
mod lines;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use livecov_formats::diffcov::{self, Component, DiffReport, FileDiff, Gate, Ratio};
use livecov_model::{Profile, Severity};
use livecov_source::patch::{self, FilePatch, FileStatus};
use livecov_source::LocalRepo;

pub use data::{read_profile_file, CoverageInput, PathRoots};

use crate::Reporter;

/// How many first-parent ancestors are searched for one with coverage data.
pub const ANCESTOR_LIMIT: usize = 1000;

/// Where the change comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changes {
    /// Between two commits of a checkout.
    Git {
        /// The checkout (any directory inside it).
        repo: PathBuf,
        /// The base revision; `None`: the head's first parent.
        base: Option<String>,
        /// The head revision (`HEAD` usually).
        head: String,
    },
    /// A unified diff already made (a file, stdin, a code-review tool's patch).
    Patch {
        /// The diff's bytes.
        text: Vec<u8>,
        /// Where it came from, for messages (`diff.patch`, `stdin`).
        label: String,
        /// The checkout it applies to, when known (for Go module paths and commit ids).
        repo: Option<PathBuf>,
        /// The commits it was made between, when known (as given; resolved in `repo`).
        base: Option<String>,
        /// See `base`.
        head: Option<String>,
    },
}

/// A component: files picked by globs, with its own thresholds (or the run's).
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentSpec {
    /// Its name.
    pub name: String,
    /// Globs over repository paths (`pkg/api/**`).
    pub globs: Vec<String>,
    /// Minimum patch coverage; `None`: the run's `fail_under_patch`.
    pub fail_under_patch: Option<f64>,
    /// Minimum total coverage; `None`: the run's `fail_under_total`.
    pub fail_under_total: Option<f64>,
}

/// The thresholds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gates {
    /// Minimum patch coverage, in percent.
    pub fail_under_patch: Option<f64>,
    /// Minimum total coverage of the head, in percent.
    pub fail_under_total: Option<f64>,
    /// Largest drop of the total from the base, in percentage points.
    pub max_drop: Option<f64>,
}

/// What [`run`] needs.
#[derive(Clone, Debug)]
pub struct DiffSettings {
    /// The head's coverage data.
    pub coverage: CoverageInput,
    /// The base's coverage data; `None`: for a collection, its builds at the base commit
    /// (or the nearest ancestor that has builds); for a profile, no base data.
    pub base_coverage: Option<CoverageInput>,
    /// The change.
    pub changes: Changes,
    /// Recorded-path prefixes to strip (`example.com/mod`, `/home/ci/src/repo`) on top of
    /// the checkout's Go modules and absolute path.
    pub strip_prefixes: Vec<String>,
    /// Components.
    pub components: Vec<ComponentSpec>,
    /// Thresholds.
    pub gates: Gates,
    /// Report the gates but never fail.
    pub informational: bool,
    /// A link to a line: `{path}`, `{line}`, `{commit}` are replaced.
    pub link_template: Option<String>,
    /// The Python with coverage.py and the source directories, for the statements of a
    /// coverage.py data file; no sources: the checkout's top directory.
    pub python: crate::compile::PythonSettings,
}

impl DiffSettings {
    /// Settings with no base data, no gates and no components.
    pub fn new(coverage: CoverageInput, changes: Changes) -> DiffSettings {
        DiffSettings {
            coverage,
            base_coverage: None,
            changes,
            strip_prefixes: Vec::new(),
            components: Vec::new(),
            gates: Gates::default(),
            informational: false,
            link_template: None,
            python: crate::compile::PythonSettings::default(),
        }
    }
}

/// The output formats of a [`DiffReport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    /// The terminal table.
    Table,
    /// The JSON document of [`diffcov::to_json`].
    Json,
    /// A pull-request comment.
    Markdown,
    /// GitHub Actions workflow commands (annotations on the changed lines).
    Github,
}

/// Writes `report` in `format`.
pub fn write(report: &DiffReport, format: DiffFormat, out: &mut dyn Write) -> Result<()> {
    let mut out = out;
    match format {
        DiffFormat::Table => diffcov::write_table(report, &mut out)?,
        DiffFormat::Json => diffcov::write_json(report, &mut out)?,
        DiffFormat::Markdown => diffcov::write_markdown(report, 60_000, &mut out)?,
        DiffFormat::Github => diffcov::write_github(report, &mut out)?,
    }
    Ok(())
}

/// Whether `dir` is inside a git repository (a diff read from a file then takes its Go
/// modules and commit ids from it).
pub fn is_checkout(dir: &std::path::Path) -> bool {
    LocalRepo::open(dir).is_ok()
}

/// The commits of a run: where the patch starts, where the totals' base is, and why.
pub(crate) struct Commits {
    diff_base: Option<String>,
    pub(crate) head: Option<String>,
    reason: String,
}

/// Measures the change against the coverage data and checks the gates.
pub fn run(settings: &DiffSettings, reporter: &dyn Reporter) -> Result<DiffReport> {
    let (repo, commits, files) = load_changes(&settings.changes)?;
    let roots = path_roots(
        repo.as_ref(),
        commits.head.as_deref(),
        &settings.strip_prefixes,
    )?;

    // Coverage data: the head's, and the base's when there is a source for it.
    let mut python = settings.python.clone();
    if python.sources.is_empty() {
        python
            .sources
            .extend(repo.as_ref().and_then(|r| r.toplevel()));
    }
    let (head_profile, collection) =
        head_data(settings, &python, commits.head.as_deref(), reporter)?;
    let (base, base_reason, base_profile) = base_data(
        settings,
        &python,
        repo.as_ref(),
        &commits,
        collection.as_ref(),
        reporter,
    )?;

    let wanted: BTreeSet<&str> = files
        .iter()
        .filter(|f| f.status != FileStatus::Deleted && !f.binary)
        .filter_map(|f| f.new_path.as_deref())
        .collect();
    let head_lines = data::LineData::new(&head_profile, &wanted, &roots, reporter);
    let base_total = base_profile
        .as_ref()
        .map(|p| data::LineData::new(p, &BTreeSet::new(), &roots, reporter).total);

    let mut report = DiffReport {
        base: base.clone(),
        head: commits.head.clone(),
        diff_base: commits
            .diff_base
            .clone()
            .filter(|d| Some(d) != base.as_ref()),
        base_reason,
        patch: Ratio::default(),
        total: head_lines.total,
        base_total,
        files: Vec::new(),
        no_data: Vec::new(),
        deleted: Vec::new(),
        binary: Vec::new(),
        components: Vec::new(),
        gates: Vec::new(),
        informational: settings.informational,
        link_template: settings.link_template.clone(),
    };
    for f in &files {
        measure(f, &head_lines, &mut report);
    }
    report.files.sort_by(|a, b| a.path.cmp(&b.path));
    report.no_data.sort();
    report.deleted.sort();
    report.binary.sort();

    for spec in &settings.components {
        let set = crate::export::globs(&spec.globs, &format!("--component {}", spec.name))?
            .context("a component needs at least one glob")?;
        let mut patch = Ratio::default();
        for f in report.files.iter().filter(|f| set.is_match(&f.path)) {
            patch.add(f.patch);
        }
        let total = data::LineData::total_where(&head_profile, &roots, |p| set.is_match(p));
        report.components.push(Component {
            name: spec.name.clone(),
            globs: spec.globs.clone(),
            patch,
            total,
        });
    }
    report.gates = gates(settings, &report);
    Ok(report)
}

/// The checkout, the commits and the files of a change.
pub(crate) fn load_changes(
    changes: &Changes,
) -> Result<(Option<LocalRepo>, Commits, Vec<FilePatch>)> {
    let (repo, diff_text, commits) = diff_of(changes)?;
    let label = match changes {
        Changes::Patch { label, .. } => label.clone(),
        Changes::Git { .. } => "the git diff".to_owned(),
    };
    let files = patch::parse(&String::from_utf8_lossy(&diff_text))
        .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
    Ok((repo, commits, files))
}

/// How recorded paths map to the checkout's: its Go modules at `head`, its absolute
/// path, and the prefixes the user gave.
pub(crate) fn path_roots(
    repo: Option<&LocalRepo>,
    head: Option<&str>,
    strip_prefixes: &[String],
) -> Result<PathRoots> {
    let mut roots = PathRoots::default();
    if let Some(repo) = repo {
        if let Some(head) = head {
            for (dir, module) in repo.go_modules(head, 200)? {
                roots.add(&module, &dir);
            }
        }
        if let Some(top) = repo.toplevel() {
            roots.add(&top.to_string_lossy(), "");
        }
    }
    for p in strip_prefixes {
        roots.add(p, "");
    }
    Ok(roots)
}

/// The change's diff, the checkout, and the commits it names.
fn diff_of(changes: &Changes) -> Result<(Option<LocalRepo>, Vec<u8>, Commits)> {
    match changes {
        Changes::Git { repo, base, head } => {
            let repo = LocalRepo::open(repo)?;
            let head_id = repo.commit_of(head)?;
            let (diff_base, reason) = match base {
                Some(b) => {
                    let base_id = repo.commit_of(b)?;
                    let Some(mb) = repo.merge_base(&base_id, &head_id)? else {
                        bail!(
                            "{b} and {head} share no history: there is no merge-base to \
                             measure the change from\nhint: give a --base that {head} \
                             descends from"
                        );
                    };
                    let reason = if mb == base_id {
                        format!("--base {b}, an ancestor of {head}")
                    } else {
                        format!("merge-base of {b} ({}) and {head}", short(&base_id))
                    };
                    (mb, reason)
                }
                None => {
                    let parents = repo.parents(&head_id)?;
                    match parents.as_slice() {
                        [] => bail!(
                            "{head} is a root commit: it has no parent to measure the change \
                             from\nhint: give --base"
                        ),
                        [p] => (p.clone(), format!("parent of {head} (no --base given)")),
                        [p, ..] => (
                            p.clone(),
                            format!(
                                "first parent of the merge commit {head}: the branch it was \
                                 merged into (no --base given)"
                            ),
                        ),
                    }
                }
            };
            let text = repo.diff(&diff_base, &head_id)?;
            Ok((
                Some(repo),
                text,
                Commits {
                    diff_base: Some(diff_base),
                    head: Some(head_id),
                    reason,
                },
            ))
        }
        Changes::Patch {
            text,
            label,
            repo,
            base,
            head,
        } => {
            let repo = repo.as_deref().map(LocalRepo::open).transpose()?;
            let resolve = |rev: &Option<String>| -> Result<Option<String>> {
                match (rev, &repo) {
                    (Some(r), Some(repo)) => Ok(Some(repo.commit_of(r)?)),
                    (Some(r), None) => Ok(Some(r.clone())),
                    (None, _) => Ok(None),
                }
            };
            Ok((
                repo.clone(),
                text.clone(),
                Commits {
                    diff_base: resolve(base)?,
                    head: resolve(head)?,
                    reason: format!("the diff in {label}"),
                },
            ))
        }
    }
}

/// The head's profile, and the collection it came from when it is one: the builds made at
/// the head commit when there are any, else the whole collection.
fn head_data(
    settings: &DiffSettings,
    python: &crate::compile::PythonSettings,
    head: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<(Profile, Option<data::CollectionData>)> {
    let (dir, sources, store) = match &settings.coverage {
        CoverageInput::Profile(p) => {
            return Ok((read_profile_file(p, python, reporter)?, None));
        }
        CoverageInput::Collection {
            dir,
            sources,
            store,
        } => (dir, sources, store),
    };
    let c = data::CollectionData::open(dir, store, sources.clone(), reporter)?;
    if let Some(h) = head.filter(|h| c.has(h)) {
        if let Some(p) = c.profile(Some(h), reporter)? {
            return Ok((p, Some(c)));
        }
    }
    let commits = c.commits().len();
    if commits > 1 {
        reporter.diagnostic(
            Severity::Warning,
            &format!(
                "no build of {} was made at the head {}: the whole collection (builds at \
                 {commits} commits) is the head's data",
                dir.display(),
                head.unwrap_or("(unknown)"),
            ),
        );
    }
    let p = c
        .profile(None, reporter)?
        .with_context(|| format!("{}: the collection has no owners", dir.display()))?;
    Ok((p, Some(c)))
}

/// The base commit, why, and its coverage profile (when there is a source of base data).
fn base_data(
    settings: &DiffSettings,
    python: &crate::compile::PythonSettings,
    repo: Option<&LocalRepo>,
    commits: &Commits,
    collection: Option<&data::CollectionData>,
    reporter: &dyn Reporter,
) -> Result<(Option<String>, String, Option<Profile>)> {
    let diff_base = commits.diff_base.clone();
    match &settings.base_coverage {
        Some(CoverageInput::Profile(p)) => Ok((
            diff_base,
            format!("{}; its coverage from {}", commits.reason, p.display()),
            Some(read_profile_file(p, python, reporter)?),
        )),
        Some(CoverageInput::Collection {
            dir,
            sources,
            store,
        }) => {
            let c = data::CollectionData::open(dir, store, sources.clone(), reporter)?;
            nearest_with_data(&c, repo, commits, reporter)
        }
        None => match collection {
            Some(c) => nearest_with_data(c, repo, commits, reporter),
            None => Ok((diff_base, commits.reason.clone(), None)),
        },
    }
}

/// The base commit when it has builds in `c`, else its nearest first-parent ancestor that
/// has, with the reason.
fn nearest_with_data(
    c: &data::CollectionData,
    repo: Option<&LocalRepo>,
    commits: &Commits,
    reporter: &dyn Reporter,
) -> Result<(Option<String>, String, Option<Profile>)> {
    let Some(base) = commits.diff_base.clone() else {
        return Ok((None, commits.reason.clone(), None));
    };
    if c.has(&base) {
        let profile = c.profile(Some(&base), reporter)?;
        return Ok((Some(base), commits.reason.clone(), profile));
    }
    let Some(repo) = repo else {
        return Ok((
            Some(base.clone()),
            format!(
                "{}; {} has no coverage data and without a checkout (--repo) its ancestors \
                 cannot be searched",
                commits.reason,
                short(&base)
            ),
            None,
        ));
    };
    let line = repo.first_parent_line(&base, ANCESTOR_LIMIT)?;
    for (distance, commit) in line.iter().enumerate().skip(1) {
        if c.has(commit) {
            let profile = c.profile(Some(commit), reporter)?;
            return Ok((
                Some(commit.clone()),
                format!(
                    "{}; {} has no coverage data, so its nearest first-parent ancestor with \
                     data, {} ({distance} commit{} back), is the base of the totals (the \
                     patch is still measured from {})",
                    commits.reason,
                    short(&base),
                    short(commit),
                    if distance == 1 { "" } else { "s" },
                    short(&base)
                ),
                profile,
            ));
        }
    }
    Ok((
        Some(base.clone()),
        format!(
            "{}; neither {} nor its {} nearest first-parent ancestors have coverage data, so \
             there is no base to compare totals with",
            commits.reason,
            short(&base),
            line.len().saturating_sub(1)
        ),
        None,
    ))
}

/// Adds one file of the change to the report.
fn measure(f: &FilePatch, head: &data::LineData, report: &mut DiffReport) {
    let path = f.path().to_owned();
    if f.status == FileStatus::Deleted {
        report.deleted.push(path);
        return;
    }
    if f.binary {
        report.binary.push(path);
        return;
    }
    let Some((recorded, hits)) = head.files.get(&path) else {
        report.no_data.push(path);
        return;
    };
    let skip = lines::non_code(&path, &f.added);
    let mut file = FileDiff {
        path,
        old_path: f.old_path.clone().filter(|_| {
            matches!(
                f.status,
                FileStatus::Renamed { .. } | FileStatus::Copied { .. }
            )
        }),
        status: f.status.name().to_owned(),
        data_path: recorded.clone(),
        patch: Ratio::default(),
        uncovered_lines: Vec::new(),
        comment_lines: 0,
    };
    for (a, non_code) in f.added.iter().zip(skip) {
        let Ok(k) = hits.binary_search_by_key(&a.line, |(l, _)| *l) else {
            continue;
        };
        if non_code {
            file.comment_lines += 1;
            continue;
        }
        file.patch.lines += 1;
        if hits[k].1 > 0 {
            file.patch.covered += 1;
        } else {
            file.uncovered_lines.push(a.line);
        }
    }
    report.patch.add(file.patch);
    report.files.push(file);
}

/// Checks every threshold of `settings` against `report`.
fn gates(settings: &DiffSettings, report: &DiffReport) -> Vec<Gate> {
    let g = &settings.gates;
    let mut out = Vec::new();
    // A minimum over `r`; with `need_lines`, no line at all fails (no data is no pass).
    let mut minimum = |name: String, flag: &str, threshold: f64, r: Ratio, need_lines: bool| {
        let what = if need_lines { "lines" } else { "changed lines" };
        let (actual, passed, detail) = if r.lines == 0 && need_lines {
            (
                None,
                false,
                "the coverage data has no executable line here".to_owned(),
            )
        } else {
            let passed = r.covered as f64 * 100.0 >= threshold * r.lines as f64;
            (
                Some(r.percent()),
                passed,
                format!(
                    "{}% ({} of {} {what}), {} {threshold}%",
                    r.percent_text(),
                    r.covered,
                    r.lines,
                    if passed { "at least" } else { "under" }
                ),
            )
        };
        out.push(Gate {
            name,
            flag: flag.to_owned(),
            threshold,
            actual,
            passed,
            detail,
        });
    };
    if let Some(t) = g.fail_under_patch {
        minimum("patch".into(), "--fail-under-patch", t, report.patch, false);
    }
    if let Some(t) = g.fail_under_total {
        minimum("total".into(), "--fail-under-total", t, report.total, true);
    }
    for (spec, c) in settings.components.iter().zip(&report.components) {
        if let Some(t) = spec.fail_under_patch.or(g.fail_under_patch) {
            minimum(
                format!("{} patch", c.name),
                "--component …;patch=",
                t,
                c.patch,
                false,
            );
        }
        if let Some(t) = spec.fail_under_total.or(g.fail_under_total) {
            minimum(
                format!("{} total", c.name),
                "--component …;total=",
                t,
                c.total,
                true,
            );
        }
    }
    if let Some(max) = g.max_drop {
        let gate = match (report.base_total, report.drop()) {
            (Some(b), Some(drop)) => Gate {
                name: "drop".into(),
                flag: "--max-drop".into(),
                threshold: max,
                actual: Some(drop),
                passed: drop <= max + 1e-9,
                detail: format!(
                    "total {}% against {}% at the base: {:+.1} points, {} -{max}",
                    report.total.percent_text(),
                    b.percent_text(),
                    -drop,
                    if drop <= max + 1e-9 {
                        "within"
                    } else {
                        "beyond"
                    }
                ),
            },
            _ => Gate {
                name: "drop".into(),
                flag: "--max-drop".into(),
                threshold: max,
                actual: None,
                passed: false,
                detail: "no coverage data at the base to compare with (see base_reason); \
                         give --base-profile or --base-collection"
                    .into(),
            },
        };
        out.push(gate);
    }
    out
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
