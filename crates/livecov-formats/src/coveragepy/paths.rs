//! `[paths]` remapping, as coverage.py's `files.PathAliases` does it (spec §1.11).
//!
//! Each `[paths]` entry is a list whose first value is the canonical result and whose
//! other values are glob patterns for the root of the same tree elsewhere. A path is
//! mapped by the first rule whose pattern matches its start (case-insensitively) **and**
//! whose result exists; otherwise it is left as it is. coverage.py consults the disk for
//! "exists" and for canonical (absolute, symlink-free) results; here a [`PathProbe`] does,
//! so that the caller decides between the real file system ([`FsProbe`], exact parity) and
//! a checkout-free approximation ([`LexicalProbe`]).
//!
//! With `relative_files`, a path that matches no rule and is relative with two or more
//! components makes coverage.py add a rule `*/<first component>` → `<first component>/`
//! for itself and every later path: mapping is stateful, and a path's result is fixed by
//! the first time it is mapped (coverage.py caches it). [`PathAliases::map`] keeps both
//! behaviours.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf, MAIN_SEPARATOR};

use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use super::Error;

/// What mapping needs to know about the machine doing the combine.
pub trait PathProbe: Send + Sync {
    /// The directory relative paths are relative to (coverage.py: the current directory).
    fn cwd(&self) -> &Path;
    /// Whether `path` (relative to [`PathProbe::cwd`] when relative) is a source file
    /// coverage.py would accept: an existing path, or a path inside an existing `.zip`,
    /// `.whl`, `.egg`, `.pex` or `.par`.
    fn exists(&self, path: &str) -> bool;
    /// The absolute, symlink-free form of `path` (coverage.py's `canonical_filename`,
    /// which looks a relative path up in the current directory).
    fn canonical(&self, path: &str) -> String;
}

/// The real file system, relative to `cwd`: coverage.py's behaviour exactly (except that
/// coverage.py also looks relative results up along `sys.path`).
#[derive(Clone, Debug)]
pub struct FsProbe {
    cwd: PathBuf,
}

impl FsProbe {
    /// Probes the file system, resolving relative paths against `cwd`.
    pub fn new(cwd: impl Into<PathBuf>) -> FsProbe {
        FsProbe { cwd: cwd.into() }
    }
}

impl PathProbe for FsProbe {
    fn cwd(&self) -> &Path {
        &self.cwd
    }

    fn exists(&self, path: &str) -> bool {
        let full = self.cwd.join(path);
        if full.exists() {
            return true;
        }
        // A path inside an existing archive counts, as in coverage.py's `zip_location`.
        let sep = sep_of(path);
        [".zip", ".whl", ".egg", ".pex", ".par"].iter().any(|ext| {
            path.find(&format!("{ext}{sep}"))
                .is_some_and(|at| self.cwd.join(&path[..at + ext.len()]).exists())
        })
    }

    fn canonical(&self, path: &str) -> String {
        let full = self.cwd.join(path);
        match std::fs::canonicalize(&full) {
            Ok(real) => real.to_string_lossy().into_owned(),
            // Python's non-strict realpath keeps what does not exist as written.
            Err(_) => normalize(&full.to_string_lossy()),
        }
    }
}

/// No file system: paths are made absolute against `cwd` lexically, and a path exists
/// when it is in `known` (or always, with no list). For combining without a checkout;
/// coverage.py itself would leave every path unmapped there.
#[derive(Clone, Debug)]
pub struct LexicalProbe {
    cwd: PathBuf,
    known: Option<std::collections::HashSet<String>>,
}

impl LexicalProbe {
    /// Every mapped path counts as existing.
    pub fn new(cwd: impl Into<PathBuf>) -> LexicalProbe {
        LexicalProbe {
            cwd: cwd.into(),
            known: None,
        }
    }

    /// Only the canonical paths in `known` exist (e.g. the files of a commit's tree,
    /// joined to `cwd`).
    pub fn with_known(
        cwd: impl Into<PathBuf>,
        known: impl IntoIterator<Item = String>,
    ) -> LexicalProbe {
        LexicalProbe {
            cwd: cwd.into(),
            known: Some(known.into_iter().collect()),
        }
    }
}

impl PathProbe for LexicalProbe {
    fn cwd(&self) -> &Path {
        &self.cwd
    }

    fn exists(&self, path: &str) -> bool {
        match &self.known {
            None => true,
            Some(known) => known.contains(path) || known.contains(&self.canonical(path)),
        }
    }

    fn canonical(&self, path: &str) -> String {
        normalize(&self.cwd.join(path).to_string_lossy())
    }
}

/// POSIX `normpath`: `.` and empty components dropped, `..` folded lexically.
fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// The first `/` or `\` in `s`, or the OS separator (coverage.py's `files.sep`).
fn sep_of(s: &str) -> char {
    s.chars()
        .find(|&c| c == '/' || c == '\\')
        .unwrap_or(MAIN_SEPARATOR)
}

/// Absolute on POSIX or on Windows (`/x`, `\x`, `C:\x`, `C:/x`, `\\server\share`).
fn is_abs_anywhere(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(b'/' | b'\\'))
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'/' | b'\\'))
}

/// One rule: a pattern (as configured) and its result.
#[derive(Clone, Debug)]
pub struct AliasRule {
    /// The pattern as configured, e.g. `/app/src`, or `*/pkg` for a generated rule.
    pub pattern: String,
    /// The result root, ending in exactly one separator.
    pub result: String,
    /// True for the rules coverage.py adds by itself with `relative_files`.
    pub generated: bool,
    regex: Regex,
}

/// What happened to one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapResult {
    /// The path as recorded in the data file.
    pub original: String,
    /// The path after mapping (equal to `original` when nothing applied).
    pub mapped: String,
    /// The index into [`PathAliases::rules`] of the rule that produced `mapped`.
    pub rule: Option<usize>,
    /// Rules whose pattern matched but whose result does not exist: (rule index, the
    /// path it would have produced), in the order tried.
    pub rejected: Vec<(usize, String)>,
}

/// coverage.py's `PathAliases`: ordered rules, each a glob pattern and a result root.
pub struct PathAliases {
    rules: Vec<AliasRule>,
    relative: bool,
    /// Leave a path no configured rule maps as it is: no relative form, no generated
    /// rule (for mapping outside a coverage.py run, where no current directory applies).
    rules_only: bool,
    probe: Box<dyn PathProbe>,
    cache: HashMap<String, MapResult>,
}

impl fmt::Debug for PathAliases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PathAliases")
            .field("rules", &self.rules)
            .field("relative", &self.relative)
            .field("cwd", &self.probe.cwd())
            .finish()
    }
}

impl PathAliases {
    /// No rules yet. `relative` is `[run] relative_files`; `probe` answers for the disk.
    pub fn new(relative: bool, probe: Box<dyn PathProbe>) -> PathAliases {
        PathAliases {
            rules: Vec::new(),
            relative,
            rules_only: false,
            probe,
            cache: HashMap::new(),
        }
    }

    /// Only the configured rules apply: a path none of them maps stays exactly as
    /// recorded (no `relative_files` form, no generated rule). Results are as the rules
    /// give them when `relative`.
    pub fn rules_only(mut self) -> PathAliases {
        self.rules_only = true;
        self
    }

    /// Rules from `[paths]` entries, in configuration order: each entry's first value is
    /// the result of the patterns that follow it.
    pub fn from_entries<S: AsRef<str>>(
        entries: &[Vec<S>],
        relative: bool,
        probe: Box<dyn PathProbe>,
    ) -> Result<PathAliases, Error> {
        let mut aliases = PathAliases::new(relative, probe);
        for entry in entries {
            if let Some((result, patterns)) = entry.split_first() {
                for pattern in patterns {
                    aliases.add(pattern.as_ref(), result.as_ref())?;
                }
            }
        }
        Ok(aliases)
    }

    /// The rules, configured and generated, in the order they are tried.
    pub fn rules(&self) -> &[AliasRule] {
        &self.rules
    }

    /// The probe the rules consult.
    pub fn probe(&self) -> &dyn PathProbe {
        self.probe.as_ref()
    }

    /// Adds a rule, as `PathAliases.add`: trailing separators dropped from the pattern,
    /// a pattern ending in `*` refused, a relative pattern not starting with `*` made
    /// absolute (unless `relative`), one separator appended; the result must hold no
    /// wildcard and gets exactly one trailing separator of its own style.
    pub fn add(&mut self, pattern: &str, result: &str) -> Result<(), Error> {
        let refuse = |message: String| Error::Alias {
            pattern: pattern.to_owned(),
            message,
        };
        let pattern_sep = sep_of(pattern);
        let mut prepared = if pattern.chars().count() > 1 {
            pattern.trim_end_matches(['/', '\\']).to_owned()
        } else {
            pattern.to_owned()
        };
        if prepared.ends_with('*') {
            return Err(refuse("a pattern must not end with wildcards".into()));
        }
        if !self.relative
            && !prepared.starts_with('*')
            && !is_abs_anywhere(&format!("{prepared}{pattern_sep}"))
        {
            prepared = self.probe.canonical(&prepared);
        }
        if !prepared.ends_with(pattern_sep) {
            prepared.push(pattern_sep);
        }
        let source = glob_to_regex(&prepared).map_err(refuse)?;
        let regex = build_regex(&source, true).map_err(refuse)?;
        if result.contains(['*', '?']) {
            return Err(refuse(format!(
                "the result {result:?} must not contain wildcards"
            )));
        }
        let result_sep = sep_of(result);
        let result = format!("{}{result_sep}", result.trim_end_matches(['/', '\\']));
        self.rules.push(AliasRule {
            pattern: pattern.to_owned(),
            result,
            generated: false,
            regex,
        });
        Ok(())
    }

    /// Maps `path`, as coverage.py's combine does (`functools.cache(aliases.map)`): the
    /// first result for a path is kept, whatever rules are generated later.
    pub fn map(&mut self, path: &str) -> MapResult {
        if let Some(done) = self.cache.get(path) {
            return done.clone();
        }
        let mut result = MapResult {
            original: path.to_owned(),
            mapped: path.to_owned(),
            rule: None,
            rejected: Vec::new(),
        };
        self.map_uncached(path, &mut result);
        self.cache.insert(path.to_owned(), result.clone());
        result
    }

    fn map_uncached(&mut self, path: &str, out: &mut MapResult) {
        for (index, rule) in self.rules.iter().enumerate() {
            let input = Input::new(path).anchored(Anchored::Yes);
            let Some(m) = rule.regex.find(input) else {
                continue;
            };
            let mut new = format!("{}{}", rule.result, &path[m.end()..]);
            let (from, to) = (sep_of(path), sep_of(&rule.result));
            if from != to {
                new = new.replace(from, &to.to_string());
            }
            if !self.relative {
                new = self.probe.canonical(&new);
            }
            let dot_start = (rule.result.starts_with("./") || rule.result.starts_with(".\\"))
                && rule.result.len() > 2;
            if (new.starts_with("./") || new.starts_with(".\\")) && !dot_start {
                new.drain(..2);
            }
            if !self.probe.exists(&new) {
                out.rejected.push((index, new));
                continue;
            }
            out.mapped = new;
            out.rule = Some(index);
            return;
        }
        let mut path = path.to_owned();
        if self.relative && !self.rules_only {
            path = self.relative_to_cwd(&path);
            if !is_abs_anywhere(&path) {
                let mut parts = path.split(['/', '\\']);
                let first = parts.next().unwrap_or_default().to_owned();
                let pattern = format!("*/{first}");
                if parts.next().is_some() && !self.rules.iter().any(|r| r.pattern == pattern) {
                    let source = format!(r"(.*[\\/])?{}[\\/]", regex_syntax::escape(&first));
                    // A generated rule matches case-sensitively, unlike configured ones.
                    if let Ok(regex) = build_regex(&source, false) {
                        self.rules.push(AliasRule {
                            pattern,
                            result: format!("{first}{MAIN_SEPARATOR}"),
                            generated: true,
                            regex,
                        });
                        return self.map_uncached(&path, out);
                    }
                }
            }
        }
        out.mapped = path;
    }

    /// coverage.py's `relative_filename`: the path without the current directory prefix.
    fn relative_to_cwd(&self, path: &str) -> String {
        let mut cwd = self.probe.cwd().to_string_lossy().into_owned();
        if !cwd.ends_with(MAIN_SEPARATOR) {
            cwd.push(MAIN_SEPARATOR);
        }
        path.strip_prefix(&cwd).unwrap_or(path).to_owned()
    }
}

fn build_regex(source: &str, case_insensitive: bool) -> Result<Regex, String> {
    Regex::builder()
        .syntax(syntax::Config::new().case_insensitive(case_insensitive))
        .build(source)
        .map_err(|e| format!("cannot build its regex {source:?}: {e}"))
}

/// coverage.py's `_glob_to_regex`, token for token (see `G2RX_TOKENS` in `files.py`).
/// The regex matches a prefix when searched anchored at the start.
fn glob_to_regex(pattern: &str) -> Result<String, String> {
    const SEP: &str = r"[/\\]";
    const NOT_SEP: &str = r"[^/\\]";
    const ANY_DIRS: &str = r"(.*[/\\])?";
    let mut pattern = pattern.replace('\\', "/");
    if !pattern.contains('/') {
        pattern = format!("**/{pattern}");
    }
    let chars: Vec<char> = pattern.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let refuse = |what: &str| Err(format!("a file pattern can't include {what:?}"));
    let mut rx = String::new();
    let mut pos = 0;
    while pos < chars.len() {
        let rest: String = chars[pos..].iter().collect();
        let stars = chars[pos..].iter().take_while(|&&c| c == '*').count();
        let segment: Vec<char> = chars[pos..]
            .iter()
            .copied()
            .take_while(|&c| c != '/')
            .collect();
        if stars >= 3 {
            return refuse(&"*".repeat(stars));
        }
        if segment.len() >= 3 && segment[1..].windows(2).any(|w| w == ['*', '*']) {
            // `[^/]+\*\*+`: something before `**` in one component.
            return refuse(&segment.iter().collect::<String>());
        }
        if stars == 2 && at(pos + 2).is_some_and(|c| c != '/') {
            return refuse(&segment.iter().collect::<String>());
        }
        if rest.starts_with("**/**") {
            return refuse("**/**");
        }
        if pos == 0 && stars >= 1 && at(stars) == Some('/') {
            rx.push_str(ANY_DIRS);
            pos = stars + 1;
        } else if chars[pos] == '/'
            && chars.len() > pos + 1
            && chars[pos + 1..].iter().all(|&c| c == '*')
        {
            rx.push_str(SEP);
            rx.push_str(".*");
            pos = chars.len();
        } else if stars == 2 && at(pos + 2) == Some('/') {
            rx.push_str(ANY_DIRS);
            pos += 3;
        } else if chars[pos] == '/' {
            rx.push_str(SEP);
            pos += 1;
        } else if stars >= 1 {
            rx.push_str(NOT_SEP);
            rx.push('*');
            pos += 1;
        } else if chars[pos] == '?' {
            rx.push_str(NOT_SEP);
            pos += 1;
        } else if chars[pos] == '[' {
            let Some(len) = chars[pos + 1..].iter().position(|&c| c == ']') else {
                return refuse("[");
            };
            rx.push_str(&class_to_regex(&chars[pos + 1..pos + 1 + len])?);
            pos += len + 2;
        } else if chars[pos] == ']' {
            return refuse("]");
        } else {
            let c = chars[pos];
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                rx.push(c);
            } else {
                rx.push_str(&regex_syntax::escape(&c.to_string()));
            }
            pos += 1;
        }
    }
    Ok(rx)
}

/// A glob `[...]` class body (passed verbatim to Python's `re`) as a Rust regex class:
/// `^` first negates, `-` between characters is a range, every other character literal.
fn class_to_regex(body: &[char]) -> Result<String, String> {
    if body.is_empty() {
        return Err("a file pattern can't include an empty class \"[]\"".into());
    }
    let mut out = String::from("[");
    for (i, &c) in body.iter().enumerate() {
        match c {
            '^' if i == 0 => out.push('^'),
            '-' if i > 0 && i + 1 < body.len() => out.push('-'),
            c if c.is_alphanumeric() => out.push(c),
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    out.push(']');
    Ok(out)
}

/// Every path of a set of data files and what `[paths]` did with it, for
/// `livecov py explain-paths`.
#[derive(Clone, Debug, Default)]
pub struct PathsExplanation {
    /// The rules in the order tried, generated ones included: (pattern, result, generated).
    pub rules: Vec<(String, String, bool)>,
    /// Paths a rule mapped, in the order coverage.py maps them.
    pub mapped: Vec<MapResult>,
    /// Paths no rule mapped (left as recorded, or only made relative).
    pub unmatched: Vec<MapResult>,
}

impl PathAliases {
    /// Maps every path in order and explains what happened to each.
    pub fn explain<'a>(&mut self, paths: impl IntoIterator<Item = &'a str>) -> PathsExplanation {
        let results: Vec<MapResult> = paths.into_iter().map(|p| self.map(p)).collect();
        PathsExplanation::new(self, results)
    }
}

impl PathsExplanation {
    /// Splits `results` into mapped and unmatched, with the rules of `aliases`.
    pub fn new(
        aliases: &PathAliases,
        results: impl IntoIterator<Item = MapResult>,
    ) -> PathsExplanation {
        let mut out = PathsExplanation {
            rules: aliases
                .rules()
                .iter()
                .map(|r| (r.pattern.clone(), r.result.clone(), r.generated))
                .collect(),
            ..PathsExplanation::default()
        };
        for r in results {
            if r.rule.is_some() {
                out.mapped.push(r);
            } else {
                out.unmatched.push(r);
            }
        }
        out
    }
}

impl fmt::Display for PathsExplanation {
    /// One line per rule, per mapping and per unmatched path; paths are printed with
    /// Rust's string escapes so that a newline in a recorded path cannot forge a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (pattern, result, generated)) in self.rules.iter().enumerate() {
            let origin = if *generated { " (generated)" } else { "" };
            writeln!(f, "rule {}: {pattern:?} -> {result:?}{origin}", i + 1)?;
        }
        for m in &self.mapped {
            let rule = m.rule.map_or(0, |r| r + 1);
            writeln!(
                f,
                "mapped: {:?} -> {:?} by rule {rule}",
                m.original, m.mapped
            )?;
            for (r, candidate) in &m.rejected {
                writeln!(
                    f,
                    "  rule {} gave {candidate:?}, which does not exist",
                    r + 1
                )?;
            }
        }
        for m in &self.unmatched {
            if m.mapped == m.original {
                writeln!(f, "unmatched: {:?}", m.original)?;
            } else {
                writeln!(
                    f,
                    "unmatched: {:?} (made relative: {:?})",
                    m.original, m.mapped
                )?;
            }
            for (r, candidate) in &m.rejected {
                writeln!(
                    f,
                    "  rule {} gave {candidate:?}, which does not exist",
                    r + 1
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases(relative: bool, rules: &[(&str, &str)], known: &[&str]) -> PathAliases {
        let probe = LexicalProbe::with_known("/work", known.iter().map(|s| s.to_string()));
        let mut a = PathAliases::new(relative, Box::new(probe));
        for (pattern, result) in rules {
            a.add(pattern, result).unwrap();
        }
        a
    }

    #[test]
    fn glob_tokens_translate_as_coverage_py_does() {
        assert_eq!(
            glob_to_regex("/a/*/b/").unwrap(),
            r"[/\\]a[/\\][^/\\]*[/\\]b[/\\]"
        );
        assert_eq!(glob_to_regex("*/src/").unwrap(), r"(.*[/\\])?src[/\\]");
        assert_eq!(
            glob_to_regex("/x/**/y/").unwrap(),
            r"[/\\]x[/\\](.*[/\\])?y[/\\]"
        );
        assert_eq!(glob_to_regex("/a.b?/").unwrap(), r"[/\\]a\.b[^/\\][/\\]");
        assert_eq!(glob_to_regex("/v[0-9]/").unwrap(), r"[/\\]v[0-9][/\\]");
        for bad in ["/a/***/", "/a**/", "/**a/", "/a/[b/", "/a]/"] {
            assert!(glob_to_regex(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spec_worked_examples() {
        let probe = LexicalProbe::with_known("/work", ["/work/src/pkg/a.py".to_owned()]);
        let entries = vec![vec!["src/", "/jenkins/build/*/src", r"c:\myproj\src"]];
        let mut a = PathAliases::from_entries(&entries, false, Box::new(probe)).unwrap();
        let cases = [
            ("/jenkins/build/1234/src/pkg/a.py", "/work/src/pkg/a.py"),
            ("/JENKINS/Build/9/SRC/pkg/a.py", "/work/src/pkg/a.py"),
            (r"C:\MyProj\src\pkg\a.py", "/work/src/pkg/a.py"),
            (
                "/jenkins/build/1/2/src/pkg/a.py",
                "/jenkins/build/1/2/src/pkg/a.py",
            ),
            (
                "/jenkins/build/1/src/pkg/missing.py",
                "/jenkins/build/1/src/pkg/missing.py",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(a.map(input).mapped, want, "{input}");
        }
        let missing = a.map("/jenkins/build/1/src/pkg/missing.py");
        assert_eq!(missing.rule, None);
        assert_eq!(
            missing.rejected,
            [(0, "/work/src/pkg/missing.py".to_owned())]
        );
    }

    #[test]
    fn first_existing_result_wins() {
        let known = ["/work/b/m.py"];
        let mut a = aliases(false, &[("/ci/*/app", "a/"), ("/ci/*/app", "b/")], &known);
        let r = a.map("/ci/7/app/m.py");
        assert_eq!((r.mapped.as_str(), r.rule), ("/work/b/m.py", Some(1)));
        assert_eq!(r.rejected.len(), 1);
    }

    #[test]
    fn patterns_ending_in_wildcards_and_wild_results_are_refused() {
        let mut a = aliases(false, &[], &[]);
        assert!(a.add("/app/*", "src").is_err());
        assert!(a.add("/app/*/", "src").is_err());
        assert!(a.add("/app", "src/*").is_err());
        assert!(a.add("/app", "src").is_ok());
    }

    #[test]
    fn relative_files_generate_a_rule_for_the_first_component() {
        let known = ["pkg/mod.py", "pkg/other.py"];
        let mut a = aliases(true, &[], &known);
        // Unmapped absolute path, before any rule exists: unchanged, and cached so.
        assert_eq!(a.map("/ci/x/pkg/other.py").mapped, "/ci/x/pkg/other.py");
        // A relative path makes the rule `*/pkg`…
        assert_eq!(a.map("pkg/mod.py").mapped, "pkg/mod.py");
        assert!(a.rules()[0].generated);
        assert_eq!(a.rules()[0].pattern, "*/pkg");
        // …which later paths use, while the cached result above stays.
        assert_eq!(a.map("/ci/y/pkg/other.py").mapped, "pkg/other.py");
        assert_eq!(a.map("/ci/x/pkg/other.py").mapped, "/ci/x/pkg/other.py");
        // The current directory prefix is stripped.
        assert_eq!(a.map("/work/pkg/mod.py").mapped, "pkg/mod.py");
    }

    #[test]
    fn explanation_escapes_newlines() {
        let mut a = aliases(false, &[("/app", "src")], &["/work/src/x.py"]);
        let results = vec![a.map("/app/x.py"), a.map("/elsewhere/a\nb.py")];
        let text = PathsExplanation::new(&a, results).to_string();
        assert_eq!(
            text,
            "rule 1: \"/app\" -> \"src/\"\n\
             mapped: \"/app/x.py\" -> \"/work/src/x.py\" by rule 1\n\
             unmatched: \"/elsewhere/a\\nb.py\"\n"
        );
    }
}
