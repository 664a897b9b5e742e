//! `livecov py combine`: combines coverage.py data files natively (formats::coveragepy's
//! combine, with the `[paths]` remapping `coverage combine` applies) and writes the
//! measured lines and arcs of every file as deterministic JSON, to compare with what
//! coverage.py's `CoverageData` holds after `coverage combine`.
//!
//! The output, one object:
//! `{"measurement": "lines"|"arcs"|"unknown", "files": {PATH: {"executed_lines": [..],
//! "arcs": [[FROM, TO], ..]}}}`: paths sorted, lines and arcs sorted and unique, unioned
//! over every context (as `CoverageData.lines()` / `.arcs()` return them); `arcs` only in
//! branch mode.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use livecov_formats::coveragepy::{
    combinable_files, combine_files, CoverageData, FsProbe, Measurement, PathAliases,
};

use crate::pypaths::{find_config, read_config};

/// What to combine.
#[derive(Clone, Debug, Default)]
pub struct PyCombineSettings {
    /// Data files, or directories searched for `.coverage.*` as `coverage combine`
    /// searches them; none: `.coverage.*` of `cwd`.
    pub data: Vec<PathBuf>,
    /// The configuration file with `[paths]`; `None`: `$COVERAGE_RCFILE`, else the one
    /// coverage.py would find in `cwd`.
    pub rcfile: Option<PathBuf>,
    /// More `[paths]` entries, after the configuration's.
    pub paths: Vec<Vec<String>>,
    /// Overrides `[run] relative_files`.
    pub relative_files: Option<bool>,
    /// The directory coverage.py would run in.
    pub cwd: PathBuf,
}

/// What [`py_combine`] did.
#[derive(Debug)]
pub struct PyCombined {
    /// The combined data.
    pub data: CoverageData,
    /// The inputs combined, in order.
    pub combined: Vec<PathBuf>,
    /// Inputs skipped as duplicates of one already combined.
    pub skipped: Vec<PathBuf>,
    /// Inputs that could not be read, each message naming its file.
    pub errors: Vec<String>,
    /// Oddities in readable inputs.
    pub warnings: Vec<String>,
}

/// Finds and combines the data files.
pub fn py_combine(s: &PyCombineSettings) -> Result<PyCombined> {
    let config = match &s.rcfile {
        Some(f) => Some(f.clone()),
        None => match std::env::var_os("COVERAGE_RCFILE") {
            Some(f) => Some(PathBuf::from(f)),
            None => find_config(&s.cwd)?,
        },
    };
    let mut cfg = match &config {
        Some(path) => read_config(path)?,
        None => Default::default(),
    };
    cfg.entries.extend(s.paths.iter().cloned());
    let relative = s.relative_files.unwrap_or(cfg.relative_files);
    let mut aliases =
        PathAliases::from_entries(&cfg.entries, relative, Box::new(FsProbe::new(&s.cwd)))
            .context("[paths]")?;
    let data: Vec<PathBuf> = s.data.iter().map(|d| s.cwd.join(d)).collect();
    let files = combinable_files(&s.cwd.join(".coverage"), &data)?;
    if files.is_empty() {
        bail!(
            "no coverage.py data files found (looked for .coverage.* in {}); \
             hint: name the data files or their directories",
            if data.is_empty() {
                s.cwd.display().to_string()
            } else {
                "the paths given".to_owned()
            }
        );
    }
    let outcome = combine_files(&files, &mut aliases)?;
    Ok(PyCombined {
        data: outcome.data,
        combined: outcome.combined,
        skipped: outcome.skipped,
        errors: outcome.errors.iter().map(ToString::to_string).collect(),
        warnings: outcome.warnings,
    })
}

/// Writes the combined lines and arcs as the JSON described in the module docs.
pub fn write_json(data: &CoverageData, out: &mut impl Write) -> std::io::Result<()> {
    let measurement = match data.measurement() {
        Measurement::Lines => "lines",
        Measurement::Arcs => "arcs",
        Measurement::Unknown => "unknown",
    };
    write!(out, "{{\"measurement\": \"{measurement}\", \"files\": {{")?;
    for (i, (path, _)) in data.files().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let name = serde_json::to_string(path).map_err(std::io::Error::other)?;
        write!(out, "{sep}\n  {name}: {{\"executed_lines\": [")?;
        for (j, l) in data.lines(path).unwrap_or_default().iter().enumerate() {
            write!(out, "{}{l}", if j == 0 { "" } else { ", " })?;
        }
        out.write_all(b"]")?;
        if let Some(arcs) = data.arcs(path) {
            out.write_all(b", \"arcs\": [")?;
            for (j, (a, b)) in arcs.iter().enumerate() {
                write!(out, "{}[{a}, {b}]", if j == 0 { "" } else { ", " })?;
            }
            out.write_all(b"]")?;
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"\n}}\n")
}
