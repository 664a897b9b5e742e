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

use anyhow::{bail, Result};
use livecov_formats::coveragepy::{combinable_files, combine_files, CoverageData, Measurement};

pub use crate::pypaths::PyDataSettings;

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
pub fn py_combine(s: &PyDataSettings) -> Result<PyCombined> {
    let (_, _, mut aliases) = s.aliases()?;
    let data = s.data_paths();
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
