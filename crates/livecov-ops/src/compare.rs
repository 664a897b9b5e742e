//! `livecov compare A B`: what changed between two coverage readings (collections or
//! profiles): lines newly covered and newly uncovered per file, statements per owner and
//! per build, and — with the change between them — direct (files the change touched)
//! against indirect (files it did not, where coverage moved without the code moving).
//!
//! Lines are compared by number within a file of one path, so in a file the change
//! touched a moved line shows as uncovered at its old number and covered at its new
//! one; that is why those files are set apart as direct.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use livecov_formats::compare::{CompareReport, FileChange, GroupChange};
use livecov_formats::diffcov::Ratio;
use livecov_model::Profile;
use livecov_store::OwnerRow;

use crate::diff::data::{load, CollectionData};
use crate::diff::{Changes, CoverageInput};
use crate::export::PathStyle;
use crate::Reporter;

/// What [`compare`] needs.
#[derive(Clone, Debug)]
pub struct CompareSettings {
    /// The earlier reading.
    pub a: CoverageInput,
    /// The later reading.
    pub b: CoverageInput,
    /// The change between them, for the direct/indirect split.
    pub changes: Option<Changes>,
    /// Recorded-path prefixes to strip (as `livecov diff --strip-prefix`).
    pub strip_prefixes: Vec<String>,
    /// For coverage.py data files, as [`crate::diff::DiffSettings::python`].
    pub python: crate::compile::PythonSettings,
}

/// Compares the two readings.
pub fn compare(settings: &CompareSettings, reporter: &dyn Reporter) -> Result<CompareReport> {
    let (repo, head, touched) = match &settings.changes {
        Some(c) => {
            let (repo, commits, files) = crate::diff::load_changes(c)?;
            let touched: BTreeSet<String> = files
                .iter()
                .flat_map(|f| [f.old_path.clone(), f.new_path.clone()])
                .flatten()
                .collect();
            (repo, commits.head, Some(touched))
        }
        None => (None, None, None),
    };
    let roots = crate::diff::path_roots(repo.as_ref(), head.as_deref(), &settings.strip_prefixes)?;
    let mut python = settings.python.clone();
    if python.sources.is_empty() {
        python
            .sources
            .extend(repo.as_ref().and_then(|r| r.toplevel()));
    }
    let (pa, ca) = load(&settings.a, &python, reporter)?;
    let (pb, cb) = load(&settings.b, &python, reporter)?;

    let lines_of = |p: &Profile| -> BTreeMap<String, Vec<(u32, u32)>> {
        p.files().map(|f| (roots.map(f), p.line_hits(f))).collect()
    };
    let la = lines_of(&pa);
    let lb = lines_of(&pb);
    let ratio = |hits: &[(u32, u32)]| Ratio {
        lines: hits.len() as u64,
        covered: hits.iter().filter(|(_, h)| *h > 0).count() as u64,
    };
    let mut report = CompareReport {
        a_label: settings.a.path().display().to_string(),
        b_label: settings.b.path().display().to_string(),
        a: Ratio::default(),
        b: Ratio::default(),
        files: Vec::new(),
        owners: Vec::new(),
        builds: Vec::new(),
        change_given: touched.is_some(),
    };
    let paths: BTreeSet<&String> = la.keys().chain(lb.keys()).collect();
    for path in paths {
        let a = la.get(path);
        let b = lb.get(path);
        if let Some(a) = a {
            report.a.add(ratio(a));
        }
        if let Some(b) = b {
            report.b.add(ratio(b));
        }
        let covered = |hits: Option<&Vec<(u32, u32)>>| -> BTreeSet<u32> {
            hits.map(|h| h.iter().filter(|(_, n)| *n > 0).map(|(l, _)| *l).collect())
                .unwrap_or_default()
        };
        let (ca_lines, cb_lines) = (covered(a), covered(b));
        let newly_covered: Vec<u32> = cb_lines.difference(&ca_lines).copied().collect();
        let newly_uncovered: Vec<u32> = ca_lines.difference(&cb_lines).copied().collect();
        let same_lines = a.map(|h| h.iter().map(|(l, _)| *l).collect::<Vec<_>>())
            == b.map(|h| h.iter().map(|(l, _)| *l).collect::<Vec<_>>());
        if newly_covered.is_empty() && newly_uncovered.is_empty() && same_lines {
            continue;
        }
        report.files.push(FileChange {
            path: path.clone(),
            direct: touched.as_ref().map(|t| t.contains(path.as_str())),
            a: a.map(|h| ratio(h)),
            b: b.map(|h| ratio(h)),
            newly_covered,
            newly_uncovered,
        });
    }
    if let (Some(ca), Some(cb)) = (&ca, &cb) {
        report.owners = groups(owner_totals(ca), owner_totals(cb));
        report.builds = groups(build_totals(ca, reporter)?, build_totals(cb, reporter)?);
    }
    Ok(report)
}

type Totals = BTreeMap<String, (u64, u64)>;

fn groups(a: Totals, b: Totals) -> Vec<GroupChange> {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names
        .into_iter()
        .map(|n| GroupChange {
            name: n.clone(),
            a: a.get(n).copied(),
            b: b.get(n).copied(),
        })
        .filter(|g| g.a != g.b)
        .collect()
}

/// Statements per owner (`namespace/kind/name/binary`, the owner key without its build,
/// so an owner redeployed with a new build is still one owner), summed over its builds.
fn owner_totals(c: &CollectionData) -> Totals {
    let mut out = Totals::new();
    for o in c.source().owners() {
        let e = out.entry(owner_name(o)).or_default();
        e.0 += o.statements;
        e.1 += o.covered;
    }
    out
}

fn owner_name(o: &OwnerRow) -> String {
    format!("{}/{}/{}/{}", o.namespace, o.owner_type, o.owner, o.binary)
}

/// Statements per build, its owners merged as the collection merges them.
fn build_totals(c: &CollectionData, reporter: &dyn Reporter) -> Result<Totals> {
    let source = c.source();
    let mut by_build: BTreeMap<i64, Vec<&OwnerRow>> = BTreeMap::new();
    for o in source.owners() {
        by_build.entry(o.build_id).or_default().push(o);
    }
    let mut out = Totals::new();
    for (id, owners) in by_build {
        let (profile, _) = source.profile(&[(id, owners)], PathStyle::Recorded, reporter)?;
        let t = profile.totals();
        out.insert(source.build_hex(id), (t.statements, t.covered));
    }
    Ok(out)
}
