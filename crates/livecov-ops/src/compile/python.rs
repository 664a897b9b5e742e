//! coverage.py inputs of a report directory (the contract in `../shared` issue 10):
//! data files named `.coverage` or `.coverage.<anything>`, combined as `coverage combine`
//! does, except the live writer's series pair `.coverage.livecov-1`/`-2` (one process
//! saved alternately: the newer readable one counts, the other is a superseded
//! snapshot); and `coverage.json` / `coverage-livecov-<n>.json` reports.
//!
//! Statements are not in a data file: coverage.py derives them from the source. In order:
//! the JSON report of the same save gives them (coverage.py's numbers); else the bundled
//! helper (`analysis.py`) asks coverage.py's own analysis, with the Python given by
//! `--python` / `LIVECOV_PYTHON` / `python3`, for the files whose source is found;
//! else only the executed lines are known, and a warning says so for each such file:
//! every unit is then covered and the statement totals are not coverage.py's.
//!
//! coverage.py records no counts: counters are 0/1 (set mode), so processes merge by OR
//! whatever `--merge` says.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use livecov_formats::coveragepy::{
    combine_files, read_data_file, CoverageData, LexicalProbe, Measurement, PathAliases,
};
use livecov_model::CounterMode;
use serde::Deserialize;

use super::lines::{layout_of, FileLines, LineInput, SourceFields};

/// The bundled analysis helper.
const HELPER: &str = include_str!("analysis.py");

/// The live writer's series pair, newest kept.
const SERIES: [&str; 2] = [".coverage.livecov-1", ".coverage.livecov-2"];

/// Where coverage.py and the sources are, for statements.
#[derive(Clone, Debug, Default)]
pub struct PythonSettings {
    /// The Python that has coverage.py (`--python`); `None`: `LIVECOV_PYTHON`, else
    /// `python3`.
    pub python: Option<PathBuf>,
    /// Local checkouts in which recorded source files are looked up (repo-relative
    /// paths, after `source_root` is stripped), in order; a recorded absolute path that
    /// exists is used as it is.
    pub sources: Vec<PathBuf>,
}

impl PythonSettings {
    /// The interpreter the helper runs with.
    pub fn interpreter(&self) -> PathBuf {
        self.python
            .clone()
            .or_else(|| std::env::var_os("LIVECOV_PYTHON").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("python3"))
    }

    /// What the statements of a data file depend on besides the file: the interpreter
    /// and the source directories (a change recompiles the inputs holding data files).
    pub fn key(&self) -> String {
        let mut key = format!("python:{}", self.interpreter().display());
        for s in &self.sources {
            key.push_str(&format!("\0source:{}", s.display()));
        }
        key
    }
}

/// Runs the helper; remembers, for the rest of the run, that coverage.py is not there.
pub(crate) struct Analyzer {
    python: PathBuf,
    sources: Vec<PathBuf>,
    unavailable: OnceLock<String>,
}

impl Analyzer {
    /// An analyzer for a compile run.
    pub fn new(settings: &PythonSettings) -> Analyzer {
        Analyzer {
            python: settings.interpreter(),
            sources: settings.sources.clone(),
            unavailable: OnceLock::new(),
        }
    }
}

/// Whether a directory entry is a coverage.py data file by name (SQLite's side files
/// excluded).
pub(crate) fn is_data_file(name: &str) -> bool {
    (name == ".coverage" || name.starts_with(".coverage."))
        && ![".coveragerc", "-journal", "-wal", "-shm"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// Whether a directory entry is a coverage.py JSON report by name.
pub(crate) fn is_json_report(name: &str) -> bool {
    matches!(
        name,
        "coverage.json" | "coverage-livecov-1.json" | "coverage-livecov-2.json"
    )
}

/// `coverage json` output, the parts used.
#[derive(Deserialize)]
struct JsonReport {
    #[serde(default)]
    meta: JsonMeta,
    files: BTreeMap<String, JsonFile>,
}

#[derive(Deserialize, Default)]
struct JsonMeta {
    #[serde(default)]
    timestamp: String,
}

#[derive(Deserialize)]
struct JsonFile {
    #[serde(default)]
    executed_lines: Vec<u32>,
    #[serde(default)]
    missing_lines: Vec<u32>,
    #[serde(default)]
    excluded_lines: Vec<u32>,
    #[serde(default)]
    summary: Option<JsonSummary>,
}

#[derive(Deserialize, Clone, Copy)]
struct JsonSummary {
    num_statements: u64,
}

/// What the helper answers.
#[derive(Deserialize)]
struct HelperOutput {
    #[serde(default)]
    unavailable: Option<String>,
    #[serde(default)]
    coverage_version: String,
    #[serde(default)]
    files: HashMap<String, HelperFile>,
}

#[derive(Deserialize)]
struct HelperFile {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    statements: Vec<u32>,
    #[serde(default)]
    missing: Vec<u32>,
}

/// Statements and missing lines of one file, from coverage.py.
pub(crate) struct Analysis {
    /// coverage.py's statements (first lines of the executable statements).
    pub statements: Vec<u32>,
    /// The statements that did not run.
    pub missing: BTreeSet<u32>,
}

/// Reads the coverage.py inputs of `dir` (`names`: its entries, sorted). `None` when it
/// has none. `content` receives every byte that determines the result.
pub(crate) fn read(
    dir: &Path,
    names: &[String],
    fields: &SourceFields,
    times: &HashMap<String, String>,
    analyzer: &Analyzer,
    content: &mut dyn FnMut(&[u8]),
) -> Option<Result<LineInput, String>> {
    let data_names: Vec<&String> = names
        .iter()
        .filter(|n| is_data_file(n) && dir.join(n.as_str()).is_file())
        .collect();
    let json_names: Vec<&String> = names.iter().filter(|n| is_json_report(n)).collect();
    if data_names.is_empty() && json_names.is_empty() {
        return None;
    }
    let mut warnings = Vec::new();
    let mut partial = false;
    let mut superseded = 0;
    let mut time = String::new();

    // The series pair: the newer readable file, by the object time the download
    // recorded, else the save time coverage.py wrote (`meta.when`), then the file's
    // modification time.
    let mut series: Vec<(String, std::time::SystemTime, PathBuf)> = Vec::new();
    let mut chosen_series: Option<usize> = None;
    for name in SERIES {
        if !data_names.iter().any(|n| n.as_str() == name) {
            continue;
        }
        let path = dir.join(name);
        match read_data_file(&path) {
            Ok(d) => {
                let when = times
                    .get(name)
                    .filter(|t| !t.is_empty())
                    .cloned()
                    .or_else(|| d.meta.get("when").cloned())
                    .unwrap_or_default();
                let mtime = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                series.push((when, mtime, path));
            }
            Err(e) => {
                warnings.push(format!(
                    "{e}; the other file of the live writer's series is used"
                ));
                partial = true;
            }
        }
    }
    if !series.is_empty() {
        let newest = (0..series.len())
            .max_by(|&a, &b| (&series[a].0, series[a].1).cmp(&(&series[b].0, series[b].1)))
            .unwrap_or(0);
        superseded = series.len() as i64 - 1;
        time = series[newest].0.clone();
        chosen_series = SERIES
            .iter()
            .position(|s| series[newest].2.file_name().is_some_and(|f| f == *s));
    }
    let mut files: Vec<PathBuf> = data_names
        .iter()
        .filter(|n| !SERIES.contains(&n.as_str()))
        .map(|n| dir.join(n.as_str()))
        .collect();
    if let Some(s) = chosen_series {
        files.push(dir.join(SERIES[s]));
    }
    for f in &files {
        if let Ok(b) = std::fs::read(f) {
            content(&b);
        }
    }

    // The JSON report of the same save, when there is exactly one save.
    let json_name = match (chosen_series, files.len()) {
        (Some(s), 1) => Some(format!("coverage-livecov-{}.json", s + 1)),
        (None, 0) | (None, 1) => Some("coverage.json".to_owned()),
        _ => None,
    };
    let report = json_name
        .filter(|n| json_names.contains(&n))
        .and_then(|n| {
            let path = dir.join(&n);
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| {
                    content(&b);
                    serde_json::from_slice::<JsonReport>(&b).map_err(|e| e.to_string())
                }) {
                Ok(r) => Some((path, r)),
                Err(e) => {
                    warnings.push(format!(
                        "{}: not a `coverage json` report ({e}); statements come from coverage.py's analysis instead",
                        path.display()
                    ));
                    None
                }
            }
        });

    let mut combined = CoverageData::new();
    if !files.is_empty() {
        let mut aliases = fields.aliases().unwrap_or_else(|e| {
            warnings.push(format!("{}: {e}", dir.display()));
            PathAliases::new(false, Box::new(LexicalProbe::new("/")))
        });
        match combine_files(&files, &mut aliases) {
            Ok(out) => {
                for e in out.errors {
                    warnings.push(format!("{e}; file skipped"));
                    partial = true;
                }
                warnings.extend(out.warnings);
                combined = out.data;
            }
            Err(e) => {
                if report.is_none() {
                    return Some(Err(format!("{e}")));
                }
                warnings.push(format!("{e}; only the JSON report is used"));
                partial = true;
            }
        }
    }
    if time.is_empty() {
        if let Some((_, r)) = &report {
            time.clone_from(&r.meta.timestamp);
        }
    }

    let mut by_file: FileLines = BTreeMap::new();
    let mut add = |recorded: &str, lines: Vec<(u32, u64)>, warnings: &mut Vec<String>| {
        let rel = fields.relative(recorded).unwrap_or_else(|kept| {
            warnings.push(format!(
                "{}: {kept:?} is not under source_root {:?} of metadata.json: it maps nowhere and is kept as recorded",
                dir.display(),
                fields.source_root
            ));
            kept
        });
        let entry = by_file.entry(rel).or_default();
        entry.extend(lines);
        entry.sort_unstable();
        entry.dedup_by(|a, b| {
            if a.0 == b.0 {
                b.1 = b.1.max(a.1);
                true
            } else {
                false
            }
        });
    };

    if let Some((path, r)) = &report {
        for (name, f) in &r.files {
            let excluded: BTreeSet<u32> = f.excluded_lines.iter().copied().collect();
            let missing: BTreeSet<u32> = f.missing_lines.iter().copied().collect();
            let executed: BTreeSet<u32> = f
                .executed_lines
                .iter()
                .copied()
                .filter(|l| !excluded.contains(l) && !missing.contains(l))
                .collect();
            let lines: Vec<(u32, u64)> = missing
                .iter()
                .map(|&l| (l, 0))
                .chain(executed.iter().map(|&l| (l, 1)))
                .collect();
            if let Some(s) = f.summary {
                if s.num_statements != lines.len() as u64 {
                    warnings.push(format!(
                        "{}: {name:?}: num_statements is {} but its executed and missing lines make {}; the lines are used",
                        path.display(),
                        s.num_statements,
                        lines.len()
                    ));
                }
            }
            add(name, lines, &mut warnings);
        }
    } else {
        let measured: Vec<(String, Vec<u32>)> = combined
            .files()
            .filter(|(_, f)| f.has_measurements())
            .map(|(p, _)| (p.to_owned(), combined.lines(p).unwrap_or_default()))
            .collect();
        let analyses = analyzer.analyze(dir, fields, &combined, &mut warnings);
        for (recorded, executed) in measured {
            match analyses.get(&recorded) {
                Some(a) => {
                    let lines = a
                        .statements
                        .iter()
                        .map(|&l| (l, u64::from(!a.missing.contains(&l))))
                        .collect();
                    add(&recorded, lines, &mut warnings);
                }
                None => add(
                    &recorded,
                    executed.into_iter().map(|l| (l, 1)).collect(),
                    &mut warnings,
                ),
            }
        }
    }
    if by_file.is_empty() {
        let why = if warnings.is_empty() {
            format!("{}: the coverage.py data measured no file", dir.display())
        } else {
            std::mem::take(&mut warnings).join("; ")
        };
        return Some(Err(why));
    }
    let (hash, layout, counters) =
        layout_of(&by_file, CounterMode::Set, "python", &fields.source_commit);
    Some(Ok(LineInput {
        language: "python",
        hash,
        layout,
        counters,
        superseded,
        time,
        warnings,
        partial,
    }))
}

impl Analyzer {
    /// coverage.py's analysis of every measured file whose source is found, by recorded
    /// path. Files left out get a warning saying their numbers are executed lines only.
    pub(crate) fn analyze(
        &self,
        dir: &Path,
        fields: &SourceFields,
        data: &CoverageData,
        warnings: &mut Vec<String>,
    ) -> HashMap<String, Analysis> {
        let mut out = HashMap::new();
        let branch = data.measurement() == Measurement::Arcs;
        let executed_only = |file: &str, why: &str| {
            format!(
                "{}: {file}: {} ({why}); its figures count executed lines only \
                 (every line shown is covered), not coverage.py's statements; \
                 hint: give the Python that has coverage.py (--python or LIVECOV_PYTHON) and \
                 the sources (--python-source)",
                dir.display(),
                crate::report::STATEMENTS_UNKNOWN
            )
        };
        let mut request = Vec::new();
        let mut local_of: HashMap<String, String> = HashMap::new();
        for (recorded, f) in data.files() {
            if !f.has_measurements() {
                continue;
            }
            let Some(local) = self.find_source(recorded, fields) else {
                warnings.push(executed_only(
                    recorded,
                    "its source is not found under any --python-source directory",
                ));
                continue;
            };
            let local = local.to_string_lossy().into_owned();
            let mut item = serde_json::json!({ "source": local });
            if branch {
                item["arcs"] = serde_json::json!(data.arcs(recorded).unwrap_or_default());
            } else {
                item["lines"] = serde_json::json!(data.lines(recorded).unwrap_or_default());
            }
            request.push(item);
            local_of.insert(local, recorded.to_owned());
        }
        if request.is_empty() {
            return out;
        }
        if let Some(why) = self.unavailable.get() {
            for recorded in local_of.values() {
                warnings.push(executed_only(recorded, why));
            }
            return out;
        }
        let body = serde_json::json!({ "branch": branch, "files": request }).to_string();
        let answer = match self.run_helper(&body) {
            Ok(a) => a,
            Err(why) => {
                let why = self.unavailable.get_or_init(|| why).clone();
                for recorded in local_of.values() {
                    warnings.push(executed_only(recorded, &why));
                }
                return out;
            }
        };
        if let Some(why) = answer.unavailable {
            let why = self
                .unavailable
                .get_or_init(|| {
                    format!(
                        "coverage.py is not importable by {} ({why})",
                        self.python.display()
                    )
                })
                .clone();
            for recorded in local_of.values() {
                warnings.push(executed_only(recorded, &why));
            }
            return out;
        }
        for (local, recorded) in local_of {
            match answer.files.get(&local) {
                Some(HelperFile {
                    error: None,
                    statements,
                    missing,
                }) => {
                    out.insert(
                        recorded,
                        Analysis {
                            statements: statements.clone(),
                            missing: missing.iter().copied().collect(),
                        },
                    );
                }
                Some(HelperFile { error: Some(e), .. }) => warnings.push(executed_only(
                    &recorded,
                    &format!(
                        "coverage.py {} could not analyse {local}: {e}",
                        answer.coverage_version
                    ),
                )),
                None => warnings.push(executed_only(
                    &recorded,
                    &format!("the analysis helper said nothing about {local}"),
                )),
            }
        }
        out
    }

    /// The local source of a recorded path: the path itself when it is absolute and
    /// exists, else its repo-relative form under each `--python-source` directory.
    fn find_source(&self, recorded: &str, fields: &SourceFields) -> Option<PathBuf> {
        let direct = Path::new(recorded);
        if direct.is_absolute() && direct.is_file() && fields.source_root.is_empty() {
            return Some(direct.to_owned());
        }
        let rel = fields.relative(recorded).ok()?;
        let rel = rel.trim_start_matches('/');
        self.sources
            .iter()
            .map(|d| d.join(rel))
            .find(|p| p.is_file())
            .and_then(|p| std::path::absolute(p).ok())
            .or_else(|| (direct.is_absolute() && direct.is_file()).then(|| direct.to_owned()))
    }

    /// Runs `python -c HELPER` with `body` on stdin; what ran is in the error.
    fn run_helper(&self, body: &str) -> Result<HelperOutput, String> {
        let shown = format!("{} -c <livecov analysis helper>", self.python.display());
        let mut child = Command::new(&self.python)
            .arg("-c")
            .arg(HELPER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{shown} could not start: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let body = body.to_owned();
        // Written from a thread: a large request must not deadlock against a full stdout.
        let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
        let out = child
            .wait_with_output()
            .map_err(|e| format!("{shown}: {e}"))?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(format!(
                "{shown} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "{shown} printed no analysis ({e}): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_file_names() {
        for n in [
            ".coverage",
            ".coverage.host.pid1.XAbCdEfx",
            ".coverage.livecov-2",
        ] {
            assert!(is_data_file(n), "{n}");
        }
        for n in [
            ".coveragerc",
            ".coverage-journal",
            ".coverage.x-wal",
            "coverage",
        ] {
            assert!(!is_data_file(n), "{n}");
        }
    }
}
