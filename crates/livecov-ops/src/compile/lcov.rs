//! LCOV inputs of a report directory: every `*.info` and `*.lcov` file, merged as
//! `lcov -a` does (hit counts summed, saturating). Paths under `metadata.json`'s
//! `source_root` become repo-relative. A record that cannot be used is a warning naming
//! the file and line; a file that cannot be read at all is left out (the input is then
//! partial) and the others still count.

use std::path::Path;

use livecov_formats::lcov::{self, read as read_tracefile, to_layout, Tracefile};

use super::lines::{build_hash, LineInput, SourceFields};

/// The largest LCOV file read (a tracefile of a big C++ project is tens of megabytes).
const MAX_LCOV_BYTES: u64 = 1 << 30;

/// Whether a directory entry is an LCOV tracefile by name.
pub(crate) fn is_lcov(name: &str) -> bool {
    name.ends_with(".info") || name.ends_with(".lcov")
}

/// Reads the LCOV inputs of `dir` (`names`: its entries, sorted). `None` when it has none.
/// `content` receives every byte that determines the result.
pub(crate) fn read(
    dir: &Path,
    names: &[String],
    fields: &SourceFields,
    content: &mut dyn FnMut(&[u8]),
) -> Option<Result<LineInput, String>> {
    let found: Vec<&String> = names
        .iter()
        .filter(|n| is_lcov(n) && dir.join(n.as_str()).is_file())
        .collect();
    if found.is_empty() {
        return None;
    }
    let mut warnings = Vec::new();
    let mut partial = false;
    let mut merged = Tracefile::default();
    for name in found {
        let path = dir.join(name);
        let shown = path.display();
        let bytes = match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_LCOV_BYTES => Err(format!(
                "{} bytes, over the {} MiB an LCOV input may have",
                m.len(),
                MAX_LCOV_BYTES >> 20
            )),
            _ => std::fs::read(&path).map_err(|e| e.to_string()),
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                warnings.push(format!("{shown}: {e}; file skipped"));
                partial = true;
                continue;
            }
        };
        content(&bytes);
        match read_tracefile(&bytes) {
            Ok((tracefile, problems)) => {
                if !problems.is_empty() {
                    partial = true;
                }
                for p in problems {
                    warnings.push(format!("{shown}: {p}; record skipped"));
                }
                for w in merged.merge_owned(tracefile) {
                    warnings.push(format!("{shown}: {w}"));
                }
            }
            Err(e) => {
                warnings.push(format!("{shown}: not an LCOV tracefile: {e}; file skipped"));
                partial = true;
            }
        }
    }
    if !fields.paths.is_empty() {
        match fields.aliases() {
            Ok(mut aliases) => {
                // Two recorded paths may map to one file: their records merge.
                let mut remapped = lcov::Accumulator::default();
                let files = std::mem::take(&mut merged.files)
                    .into_iter()
                    .map(|mut f| {
                        f.path = aliases.map(&f.path).mapped;
                        f
                    })
                    .collect();
                for w in remapped.add(Tracefile { files }) {
                    warnings.push(format!("{}: {w}", dir.display()));
                }
                merged = remapped.finish();
            }
            Err(e) => warnings.push(format!("{}: {e}", dir.display())),
        }
    }
    for f in &mut merged.files {
        match fields.relative(&f.path) {
            Ok(rel) => f.path = rel,
            Err(kept) => warnings.push(format!(
                "{}: SF:{kept} is not under source_root {:?} of metadata.json: it maps nowhere and is kept as recorded",
                dir.display(),
                fields.source_root
            )),
        }
    }
    if merged.files.is_empty() {
        let why = if warnings.is_empty() {
            format!("{}: the LCOV files hold no source file", dir.display())
        } else {
            std::mem::take(&mut warnings).join("; ")
        };
        return Some(Err(why));
    }
    // Functions kept: a unit per instrumented line, grouped by the function records.
    let (layout, counters, problems) = to_layout(&merged);
    warnings.extend(
        problems
            .into_iter()
            .map(|p| format!("{}: {p}", dir.display())),
    );
    let hash = build_hash(&layout, "lcov", &fields.source_commit);
    Some(Ok(LineInput {
        language: "lcov",
        hash,
        layout,
        counters,
        superseded: 0,
        time: String::new(),
        warnings,
        partial,
    }))
}
