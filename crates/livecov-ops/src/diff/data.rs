//! The coverage data a diff is measured against: a profile file of any format livecov
//! reads (Go text, LCOV, Cobertura, coverage.py's `.coverage`), or a compiled collection (all of it, or its builds made at one commit), and
//! the mapping from the data's recorded paths to repository paths.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use livecov_formats::coveragepy::{combine_files, LexicalProbe, PathAliases};
use livecov_formats::diffcov::Ratio;
use livecov_formats::{cobertura, goprofile, lcov};
use livecov_model::{CounterMode, Profile, Severity};
use livecov_store::OwnerRow;

use crate::compile::lines::{layout_of, SourceFields};
use crate::compile::python::Analyzer;
use crate::compile::PythonSettings;
use crate::export::{ExportSource, PathStyle};
use crate::Reporter;

/// Where coverage data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoverageInput {
    /// A profile file: a Go text profile (`go tool covdata textfmt`, `go test
    /// -coverprofile`), an LCOV tracefile, Cobertura XML or a coverage.py data file.
    Profile(PathBuf),
    /// A compiled collection directory (`livecov cluster compile`).
    Collection {
        /// The collection directory.
        dir: PathBuf,
        /// The git cache of `clone-sources` that makes paths repo-relative (default:
        /// `<dir>/sources`).
        sources: Option<PathBuf>,
        /// Its store (default: `<dir>/livecov.db`).
        store: crate::StoreChoice,
    },
}

impl CoverageInput {
    /// The path the user gave.
    pub fn path(&self) -> &Path {
        match self {
            CoverageInput::Profile(p) => p,
            CoverageInput::Collection { dir, .. } => dir,
        }
    }
}

/// The profile of `input` (a whole collection), and the collection when it is one.
pub(crate) fn load(
    input: &CoverageInput,
    python: &PythonSettings,
    reporter: &dyn Reporter,
) -> Result<(Profile, Option<CollectionData>)> {
    match input {
        CoverageInput::Profile(p) => Ok((read_profile_file(p, python, reporter)?, None)),
        CoverageInput::Collection {
            dir,
            sources,
            store,
        } => {
            let c = CollectionData::open(dir, store, sources.clone(), reporter)?;
            let p = c
                .profile(None, reporter)?
                .with_context(|| format!("{}: the collection has no owners", dir.display()))?;
            Ok((p, Some(c)))
        }
    }
}

/// Reads a profile file, telling the format by its content: a Go text profile, an LCOV
/// tracefile, Cobertura XML or a coverage.py data file (whose statements come from
/// coverage.py's analysis of the sources `python` names).
pub fn read_profile_file(
    path: &Path,
    python: &PythonSettings,
    reporter: &dyn Reporter,
) -> Result<Profile> {
    if path.is_dir() {
        bail!(
            "{} is a directory, not a profile file\nhint: for Go coverage files (covmeta.*, \
             covcounters.*) write a profile with `livecov go textfmt -i={} -o=profile.txt`, \
             or compile a collection and give --collection",
            path.display(),
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&bytes[..0], |i| &bytes[i..]);
    let start = start.strip_prefix(b"\xef\xbb\xbf").unwrap_or(start);
    if start.starts_with(b"mode:") {
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{}: not UTF-8 at byte {} (a Go text profile is text)",
                path.display(),
                e.valid_up_to()
            )
        })?;
        let (profile, _warnings) =
            goprofile::parse(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok(profile);
    }
    if start.starts_with(b"TN:") || start.starts_with(b"SF:") {
        let (tracefile, _warnings) =
            lcov::read(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return profile_of_tracefile(&tracefile, path);
    }
    if bytes.starts_with(b"SQLite format 3\0") {
        return read_coveragepy(path, python, reporter);
    }
    if start.starts_with(b"<") {
        let report = cobertura::read(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: Cobertura XML, {e}", path.display()))?;
        let files = report
            .files
            .iter()
            .map(|(name, lines)| (cobertura_path(&report.sources, name), lines.clone()))
            .collect();
        return profile_of_lines(files, path);
    }
    bail!(
        "{}: not a profile livecov reads: expected a Go text profile (first line `mode: set|\
         count|atomic`), an LCOV tracefile (`TN:` or `SF:` records), Cobertura XML \
         (`<coverage>`) or a coverage.py data file (SQLite)",
        path.display()
    )
}

/// The file a Cobertura class names: `class@filename` under the `<source>` it exists in
/// (the first source when none has it, as when the report was made on another machine),
/// or as written when there is no source or the source is `.`; `--strip-prefix` and the
/// checkout's path then make it repository-relative.
fn cobertura_path(sources: &[String], filename: &str) -> String {
    let filename = filename.replace('\\', "/");
    if Path::new(&filename).is_absolute() {
        return filename;
    }
    let joined = |s: &str| -> Option<String> {
        let s = s.replace('\\', "/");
        let s = s.trim_end_matches('/');
        (!s.is_empty() && s != ".").then(|| format!("{s}/{filename}"))
    };
    sources
        .iter()
        .filter_map(|s| joined(s))
        .find(|p| Path::new(p).is_file())
        .or_else(|| sources.first().and_then(|s| joined(s)))
        .unwrap_or(filename)
}

/// A profile of per-line results (Cobertura, coverage.py): one whole-line unit per line,
/// the conversion LCOV and compile use.
fn profile_of_lines(files: BTreeMap<String, Vec<(u32, u64)>>, path: &Path) -> Result<Profile> {
    let (_, layout, counters) = layout_of(&files, CounterMode::Count, "", "");
    Profile::from_layout(&layout, &counters).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn profile_of_tracefile(tracefile: &lcov::Tracefile, path: &Path) -> Result<Profile> {
    let (layout, counters, _warnings) = lcov::to_layout(tracefile);
    Profile::from_layout(&layout, &counters).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// A coverage.py data file: its executed lines, and coverage.py's own statements for
/// each measured file whose source is found (`python`'s interpreter runs the analysis).
/// A file without statements is left out with a warning: its executed lines alone would
/// show every changed line as covered.
fn read_coveragepy(
    path: &Path,
    python: &PythonSettings,
    reporter: &dyn Reporter,
) -> Result<Profile> {
    let mut aliases = PathAliases::new(false, Box::new(LexicalProbe::new("/")));
    let combined = combine_files(&[path.to_owned()], &mut aliases)
        .with_context(|| format!("reading the coverage.py data file {}", path.display()))?;
    if let Some(e) = combined.errors.first() {
        bail!("{}: {e}", path.display());
    }
    let data = combined.data;
    let fields = SourceFields::default();
    let mut warnings = Vec::new();
    let analyses = Analyzer::new(python).analyze(path, &fields, &data, &mut warnings);
    let mut files: BTreeMap<String, Vec<(u32, u64)>> = BTreeMap::new();
    for (recorded, f) in data.files() {
        if !f.has_measurements() {
            continue;
        }
        if let Some(a) = analyses.get(recorded) {
            files.insert(
                recorded.to_owned(),
                a.statements
                    .iter()
                    .map(|&l| (l, u64::from(!a.missing.contains(&l))))
                    .collect(),
            );
        }
    }
    if files.is_empty() {
        let why = if warnings.is_empty() {
            "it measured no file".to_owned()
        } else {
            warnings.join("; ")
        };
        bail!(
            "{}: no coverage.py statements for any measured file: {why}",
            path.display()
        );
    }
    for w in warnings {
        reporter.diagnostic(
            Severity::Warning,
            &format!("{w}; livecov diff leaves the file out (it has no data)"),
        );
    }
    profile_of_lines(files, path)
}

/// A compiled collection opened once, asked for the profile of the builds made at a
/// commit.
pub(crate) struct CollectionData {
    source: ExportSource,
    /// The commits its builds name.
    commits: BTreeSet<String>,
}

impl CollectionData {
    pub(crate) fn open(
        dir: &Path,
        store: &crate::StoreChoice,
        sources: Option<PathBuf>,
        reporter: &dyn Reporter,
    ) -> Result<CollectionData> {
        let source = ExportSource::open(dir, store, sources, reporter)?;
        let commits = source
            .owners()
            .iter()
            .map(|o| source.origin(o.build_id).1.to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        Ok(CollectionData { source, commits })
    }

    /// The commits the collection's builds name.
    pub(crate) fn commits(&self) -> &BTreeSet<String> {
        &self.commits
    }

    /// The opened collection.
    pub(crate) fn source(&self) -> &ExportSource {
        &self.source
    }

    /// Whether some build was made at `commit`.
    pub(crate) fn has(&self, commit: &str) -> bool {
        self.commits
            .iter()
            .any(|c| crate::export::same_commit(c, commit))
    }

    /// The profile of the builds made at `commit` (every build for `None`), paths
    /// repo-relative where the collection knows the repository; `None` when no build
    /// matches.
    pub(crate) fn profile(
        &self,
        commit: Option<&str>,
        reporter: &dyn Reporter,
    ) -> Result<Option<Profile>> {
        let mut by_build: std::collections::BTreeMap<i64, Vec<&OwnerRow>> =
            std::collections::BTreeMap::new();
        for o in self.source.owners() {
            let at = self.source.origin(o.build_id).1;
            if commit.is_none_or(|c| crate::export::same_commit(at, c)) {
                by_build.entry(o.build_id).or_default().push(o);
            }
        }
        if by_build.is_empty() {
            return Ok(None);
        }
        let chosen: Vec<(i64, Vec<&OwnerRow>)> = by_build.into_iter().collect();
        let (profile, _) = self.source.profile(&chosen, PathStyle::Repo, reporter)?;
        Ok(Some(profile))
    }
}

/// How recorded paths become repository paths: a recorded path is taken as is when the
/// change names it, else with the first of `roots` it starts with replaced (a Go module
/// path by its directory, an absolute checkout directory by nothing).
#[derive(Clone, Debug, Default)]
pub struct PathRoots {
    roots: Vec<(String, String)>,
}

impl PathRoots {
    /// Adds a root: recorded paths starting with `prefix/` are `dir/` + the rest (`dir`
    /// may be `""`). Longer prefixes are tried first.
    pub fn add(&mut self, prefix: &str, dir: &str) {
        let prefix = prefix.trim_end_matches('/').to_owned();
        if prefix.is_empty() || self.roots.iter().any(|(p, _)| *p == prefix) {
            return;
        }
        self.roots
            .push((prefix, dir.trim_end_matches('/').to_owned()));
        self.roots
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.cmp(b)));
    }

    /// The repository path of `recorded`: with the longest root it starts with replaced,
    /// or as recorded.
    pub fn map(&self, recorded: &str) -> String {
        self.candidates(recorded)
            .nth(1)
            .unwrap_or_else(|| recorded.to_owned())
    }

    /// The repository paths `recorded` may stand for, most specific first.
    fn candidates<'a>(&'a self, recorded: &'a str) -> impl Iterator<Item = String> + 'a {
        std::iter::once(recorded.to_owned()).chain(self.roots.iter().filter_map(
            move |(prefix, dir)| {
                let rest = recorded.strip_prefix(prefix.as_str())?.strip_prefix('/')?;
                Some(if dir.is_empty() {
                    rest.to_owned()
                } else {
                    format!("{dir}/{rest}")
                })
            },
        ))
    }
}

/// The executable lines of the files a change touched, keyed by repository path.
pub(crate) struct LineData {
    /// Repository path → (recorded path, (line, hits) in line order).
    pub(crate) files: HashMap<String, (String, Vec<(u32, u32)>)>,
    /// Every executable line of the data.
    pub(crate) total: Ratio,
}

impl LineData {
    /// Indexes `profile` for the repository paths in `wanted`; the total is over every
    /// file. Two recorded files that map to one repository path keep the first, with a
    /// warning.
    pub(crate) fn new(
        profile: &Profile,
        wanted: &BTreeSet<&str>,
        roots: &PathRoots,
        reporter: &dyn Reporter,
    ) -> LineData {
        let mut files: HashMap<String, (String, Vec<(u32, u32)>)> = HashMap::new();
        let mut total = Ratio::default();
        for recorded in profile.files() {
            let hits = profile.line_hits(recorded);
            total.add(Ratio {
                lines: hits.len() as u64,
                covered: hits.iter().filter(|(_, h)| *h > 0).count() as u64,
            });
            let Some(repo_path) = roots
                .candidates(recorded)
                .find(|c| wanted.contains(c.as_str()))
            else {
                continue;
            };
            match files.get(&repo_path) {
                Some((first, _)) => reporter.diagnostic(
                    Severity::Warning,
                    &format!(
                        "{repo_path}: the coverage data has it as {first} and as {recorded}; \
                         {first} is used"
                    ),
                ),
                None => {
                    files.insert(repo_path, (recorded.to_owned(), hits));
                }
            }
        }
        LineData { files, total }
    }

    /// The total over the files whose repository path (or recorded path) `matches`.
    pub(crate) fn total_where(
        profile: &Profile,
        roots: &PathRoots,
        matches: impl Fn(&str) -> bool,
    ) -> Ratio {
        let mut total = Ratio::default();
        for recorded in profile.files() {
            if !roots.candidates(recorded).any(|c| matches(&c)) {
                continue;
            }
            let hits = profile.line_hits(recorded);
            total.add(Ratio {
                lines: hits.len() as u64,
                covered: hits.iter().filter(|(_, h)| *h > 0).count() as u64,
            });
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_map_to_their_directories_longest_first() {
        let mut roots = PathRoots::default();
        roots.add("example.com/m", "");
        roots.add("example.com/m/sub", "sub");
        let c: Vec<String> = roots.candidates("example.com/m/sub/x.go").collect();
        assert_eq!(c, ["example.com/m/sub/x.go", "sub/x.go", "sub/x.go"]);
        let c: Vec<String> = roots.candidates("example.com/mx/y.go").collect();
        assert_eq!(c, ["example.com/mx/y.go"]);
    }
}
