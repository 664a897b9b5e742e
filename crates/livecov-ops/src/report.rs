//! What a compiled collection covers, per owner and per build, with every problem the
//! compile recorded: the data of `livecov report` (table or JSON) and of any front end.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use livecov_store::CoverageStore;
use serde::Serialize;

/// One build in the JSON report.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct BuildReport {
    /// Hex of the build's identity: the Go meta-file hash, or for Python and LCOV the
    /// layout hash plus source commit.
    pub build: String,
    /// What recorded it: `go`, `python` (coverage.py) or `lcov`.
    pub language: String,
    /// Counter mode (`set` for coverage.py: it records whether a line ran, not how
    /// often).
    pub mode: String,
    /// Statements (infrastructure files excluded).
    pub statements: u64,
    /// Statements covered by any process of the build.
    pub covered_statements: u64,
    /// Owner groups running the build.
    pub owners: usize,
    /// Distinct pods running the build.
    pub pods: usize,
    /// What the figures mean when they are not plain statement coverage (coverage.py
    /// counts nothing; statements unknown without coverage.py's analysis); empty
    /// otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// One owner group in the JSON report.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct OwnerReport {
    /// Namespace (`host` for host processes).
    pub namespace: String,
    /// Owner type.
    pub owner_type: String,
    /// Owner name.
    pub owner: String,
    /// Binary name.
    pub binary: String,
    /// Hex of the build's hash.
    pub build: String,
    /// What recorded the build: `go`, `python` or `lcov`.
    pub language: String,
    /// Statements of the build.
    pub statements: u64,
    /// Statements covered by the owner's processes.
    pub covered_statements: u64,
    /// Pod names.
    pub pods: Vec<String>,
    /// Containers.
    pub containers: Vec<String>,
    /// Nodes.
    pub hosts: Vec<String>,
    /// Images.
    pub images: Vec<String>,
    /// Earliest collection time.
    pub first_seen: String,
    /// Latest collection time.
    pub last_seen: String,
}

/// The whole JSON report.
#[derive(Serialize, Debug)]
pub struct Report {
    /// Builds, by hash.
    pub builds: Vec<BuildReport>,
    /// Owner groups, by key.
    pub owners: Vec<OwnerReport>,
    /// Inputs that failed to compile: (directory, error).
    pub errors: Vec<(String, String)>,
    /// Inputs that lost some files (listed in `diagnostics`) but still count.
    pub partial: Vec<String>,
    /// Every problem the compile recorded, by input directory.
    pub diagnostics: Vec<DiagnosticReport>,
    /// False when the last compile did not finish (killed, or still running): the
    /// figures may be missing inputs.
    pub complete: bool,
    /// Why the store is not complete, when it is not.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub incomplete: String,
    /// The scenarios the collection holds (inputs labelled `scenario=NAME`).
    pub scenarios: Vec<String>,
    /// The scenario the builds and owners are limited to, when one was asked for: their
    /// figures are then what that scenario's snapshots covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
}

/// One diagnostic in the JSON report.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct DiagnosticReport {
    /// The input directory it concerns.
    pub dir: String,
    /// `warning` (a file or record left out) or `error` (the input failed).
    pub severity: String,
    /// What is wrong, naming the file and byte offset.
    pub message: String,
}

/// The words compile's diagnostics use for a coverage.py file compiled without
/// coverage.py's analysis.
pub const STATEMENTS_UNKNOWN: &str = "statements unknown";

/// Reads the report out of a compiled store.
pub fn build_report(store: &dyn CoverageStore) -> Result<Report> {
    build_report_of(store, None)
}

/// Statements covered in one build by one scenario (its owner groups merged with the
/// collection's rule), files left out by the exclusion set not counted.
pub(crate) fn scenario_covered(
    store: &dyn CoverageStore,
    build_id: i64,
    scenario: &str,
) -> Result<u64> {
    let layout = crate::compile::stored_layout(store, build_id)?;
    let rule = crate::compile::stored_rule(store)?;
    let counters =
        store.scenario_build_counters(build_id, scenario, layout.units.len(), layout.mode, rule)?;
    let excluded: BTreeSet<String> = store
        .build_files(build_id)?
        .into_iter()
        .filter(|f| f.excluded)
        .map(|f| f.path)
        .collect();
    let mut covered = 0;
    for f in 0..layout.functions.len() {
        if excluded.contains(&layout.file_of(f).path) {
            continue;
        }
        for u in layout.function_units(f) {
            if counters.get(u).is_some_and(|&c| c > 0) {
                covered += u64::from(layout.units[u].stmts);
            }
        }
    }
    Ok(covered)
}

/// Reads the report out of a compiled store; with `scenario`, builds and owners are
/// what that scenario's snapshots covered (builds it did not run are left out).
pub fn build_report_of(store: &dyn CoverageStore, scenario: Option<&str>) -> Result<Report> {
    let scenarios = store.scenarios()?;
    let mut builds = store.builds()?;
    let owners = match scenario {
        None => store.owners()?,
        Some(name) => {
            if !scenarios.iter().any(|s| s == name) {
                anyhow::bail!(
                    "no scenario {name:?} in this collection (it has: {}); snapshots get one \
                     from `livecov collect --scenario NAME`",
                    if scenarios.is_empty() {
                        "none".to_owned()
                    } else {
                        scenarios.join(", ")
                    }
                );
            }
            let owners = store.scenario_owners(name, None)?;
            let ran: BTreeSet<i64> = owners.iter().map(|o| o.build_id).collect();
            builds.retain(|b| ran.contains(&b.id));
            owners
        }
    };
    let hex_of: BTreeMap<i64, String> = builds
        .iter()
        .map(|b| (b.id, livecov_formats::gocovdata::hex16(&b.hash)))
        .collect();
    let language_of: BTreeMap<i64, String> =
        builds.iter().map(|b| (b.id, b.language.clone())).collect();
    let inputs = store.inputs()?;
    let diagnostics = store.diagnostics()?;
    // Builds some of whose statements are unknown: an input of theirs was compiled
    // without coverage.py's analysis for some file.
    let mut unknown: BTreeSet<i64> = BTreeSet::new();
    let dirs: BTreeSet<&str> = diagnostics
        .iter()
        .filter(|(_, _, m)| m.contains(STATEMENTS_UNKNOWN))
        .map(|(d, _, _)| d.as_str())
        .collect();
    for d in dirs {
        unknown.extend(store.processes(d)?.into_iter().map(|p| p.build_id));
    }
    let mut build_rows = Vec::new();
    for b in &builds {
        let files = store.build_files(b.id)?;
        let (statements, mut covered) = files
            .iter()
            .filter(|f| !f.excluded)
            .fold((0, 0), |(s, c), f| (s + f.statements, c + f.covered));
        if let Some(name) = scenario {
            covered = scenario_covered(store, b.id, name)?;
        }
        let mine: Vec<_> = owners.iter().filter(|o| o.build_id == b.id).collect();
        let pods: BTreeSet<&String> = mine.iter().flat_map(|o| &o.pods).collect();
        let mut note = Vec::new();
        if b.language == "python" {
            note.push("coverage.py records no counts: hits are 0/1");
        }
        if unknown.contains(&b.id) {
            note.push(
                "statements unknown for some files (coverage.py or the sources were not \
                 available to compile): those count executed lines only, each covered",
            );
        }
        build_rows.push(BuildReport {
            build: hex_of[&b.id].clone(),
            language: b.language.clone(),
            mode: b.mode.clone(),
            statements,
            covered_statements: covered,
            owners: mine.len(),
            pods: pods.len(),
            note: note.join("; "),
        });
    }
    let owner_rows = owners
        .into_iter()
        .map(|o| OwnerReport {
            build: hex_of.get(&o.build_id).cloned().unwrap_or_default(),
            language: language_of.get(&o.build_id).cloned().unwrap_or_default(),
            namespace: o.namespace,
            owner_type: o.owner_type,
            owner: o.owner,
            binary: o.binary,
            statements: o.statements,
            covered_statements: o.covered,
            pods: o.pods,
            containers: o.containers,
            hosts: o.hosts,
            images: o.images,
            first_seen: o.first_seen,
            last_seen: o.last_seen,
        })
        .collect();
    let partial = inputs
        .iter()
        .filter(|i| i.partial)
        .map(|i| i.dir.clone())
        .collect();
    let errors = inputs
        .into_iter()
        .filter(|i| !i.error.is_empty())
        .map(|i| (i.dir, i.error))
        .collect();
    let diagnostics = diagnostics
        .into_iter()
        .map(|(dir, severity, message)| DiagnosticReport {
            dir,
            severity,
            message,
        })
        .collect();
    Ok(Report {
        builds: build_rows,
        owners: owner_rows,
        errors,
        partial,
        diagnostics,
        complete: true,
        incomplete: String::new(),
        scenarios,
        scenario: scenario.map(str::to_owned),
    })
}

/// The report of the collection at `collection`, including whether its last compile
/// finished.
pub fn report(
    collection: &std::path::Path,
    store: &crate::StoreChoice,
    scenario: Option<&str>,
) -> Result<Report> {
    let store = crate::open_compiled(collection, store)?;
    let mut report = build_report_of(&store, scenario)?;
    if let Some(why) = crate::compile::incomplete(collection, &store)? {
        report.complete = false;
        report.incomplete = why;
    }
    Ok(report)
}
