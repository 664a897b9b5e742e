//! `livecov py explain-paths`: what coverage.py's `[paths]` remapping does with the paths
//! recorded in a set of data files, rule by rule, as `coverage combine` would map them
//! (formats::coveragepy::PathAliases on the real file system, in combine's order).
//!
//! The rules come from a configuration file (`.coveragerc`, `setup.cfg`, `tox.ini`,
//! `pyproject.toml`, found as coverage.py finds it) and from `--paths` entries given
//! on the command line, which come after the file's.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use livecov_formats::coveragepy::{
    combinable_files, combine_files, FsProbe, PathAliases, PathsExplanation,
};

/// The inputs of a coverage.py-like command (`explain-paths`, `combine`): data files and
/// the `[paths]` configuration they are mapped with.
#[derive(Clone, Debug, Default)]
pub struct PyDataSettings {
    /// Data files, or directories searched for `.coverage.*` as `coverage combine`
    /// searches them; none: `.coverage.*` of `cwd` (and, for `explain-paths`,
    /// `.coverage`).
    pub data: Vec<PathBuf>,
    /// The configuration file; `None`: `$COVERAGE_RCFILE`, else the first of
    /// `.coveragerc`, `setup.cfg`, `tox.ini`, `pyproject.toml` in `cwd` that configures
    /// coverage.py.
    pub rcfile: Option<PathBuf>,
    /// More `[paths]` entries, after the configuration's: each a canonical result and
    /// its patterns.
    pub paths: Vec<Vec<String>>,
    /// Overrides `[run] relative_files`.
    pub relative_files: Option<bool>,
    /// The directory coverage.py would run in (relative paths and existence checks).
    pub cwd: PathBuf,
}

/// What [`explain_paths`] found.
#[derive(Debug)]
pub struct ExplainedPaths {
    /// The configuration file read, if any.
    pub config: Option<PathBuf>,
    /// `[run] relative_files` as applied.
    pub relative_files: bool,
    /// The data files read.
    pub files: Vec<PathBuf>,
    /// Data files that could not be read, each naming its file.
    pub errors: Vec<String>,
    /// Every rule, every mapping and every path that matched nothing.
    pub explanation: PathsExplanation,
}

/// The `[paths]` entries and `relative_files` of a configuration.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PathsConfig {
    /// Entries in file order: canonical result first, then patterns.
    pub entries: Vec<Vec<String>>,
    /// `[run] relative_files`.
    pub relative_files: bool,
}

/// Explains the mapping of every path recorded in the data files.
pub fn explain_paths(s: &PyDataSettings) -> Result<ExplainedPaths> {
    let (config, relative, mut aliases) = s.aliases()?;
    let base = s.cwd.join(".coverage");
    let data = s.data_paths();
    let mut files = combinable_files(&base, &data)?;
    if data.is_empty() && base.is_file() {
        files.insert(0, base);
    }
    if files.is_empty() {
        bail!(
            "no coverage.py data files found (looked for .coverage and .coverage.* in {}); \
             hint: name the data files or their directories",
            s.cwd.display()
        );
    }
    let outcome = combine_files(&files, &mut aliases)?;
    Ok(ExplainedPaths {
        config,
        relative_files: relative,
        files: outcome.combined,
        errors: outcome.errors.iter().map(ToString::to_string).collect(),
        explanation: outcome.paths,
    })
}

impl PyDataSettings {
    /// The configuration file read (`rcfile`, else `$COVERAGE_RCFILE`, else the one
    /// coverage.py would find in `cwd`), `relative_files` as applied, and the `[paths]`
    /// aliases: the configuration's entries, then `paths`.
    pub(crate) fn aliases(&self) -> Result<(Option<PathBuf>, bool, PathAliases)> {
        let config = match &self.rcfile {
            Some(f) => Some(f.clone()),
            None => match std::env::var_os("COVERAGE_RCFILE") {
                Some(f) => Some(PathBuf::from(f)),
                None => find_config(&self.cwd)?,
            },
        };
        let mut cfg = match &config {
            Some(path) => read_config(path)?,
            None => PathsConfig::default(),
        };
        cfg.entries.extend(self.paths.iter().cloned());
        let relative = self.relative_files.unwrap_or(cfg.relative_files);
        let aliases =
            PathAliases::from_entries(&cfg.entries, relative, Box::new(FsProbe::new(&self.cwd)))
                .context("[paths]")?;
        Ok((config, relative, aliases))
    }

    /// The data paths, relative ones taken from `cwd`.
    pub(crate) fn data_paths(&self) -> Vec<PathBuf> {
        self.data.iter().map(|d| self.cwd.join(d)).collect()
    }
}

/// The first configuration file coverage.py would read in `dir`: `.coveragerc` always,
/// the others only when they hold a coverage section.
pub(crate) fn find_config(dir: &Path) -> Result<Option<PathBuf>> {
    for name in [".coveragerc", "setup.cfg", "tox.ini", "pyproject.toml"] {
        let path = dir.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let configures = match name {
            ".coveragerc" => true,
            "pyproject.toml" => text.contains("[tool.coverage"),
            _ => text.contains("[coverage:"),
        };
        if configures {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Reads the `[paths]` entries and `[run] relative_files` of a configuration file: INI
/// (`[paths]`, or `[coverage:paths]` as setup.cfg and tox.ini spell it) or, for a
/// `.toml` file, `[tool.coverage.paths]`.
pub fn read_config(path: &Path) -> Result<PathsConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the coverage.py configuration {}", path.display()))?;
    let toml = path.extension().is_some_and(|e| e == "toml");
    let parsed = if toml {
        parse_toml(&text)
    } else {
        parse_ini(&text, path.file_name().is_some_and(|n| n == ".coveragerc"))
    };
    parsed.map_err(|(line, why)| anyhow::anyhow!("{}:{line}: {why}", path.display()))
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "yes" | "true" | "on"
    )
}

/// configparser's syntax, as coverage.py reads it: `[section]`, `key = value` or
/// `key: value`, indented continuation lines, `#` and `;` comment lines. A list value is
/// split on newlines and commas (coverage.py's `getlist`).
fn parse_ini(text: &str, plain_sections: bool) -> Result<PathsConfig, (usize, String)> {
    let mut out = PathsConfig::default();
    let mut section = String::new();
    let mut current: Option<(String, String)> = None; // (key, value) in [paths]
    let finish = |cur: &mut Option<(String, String)>, out: &mut PathsConfig| {
        if let Some((_, value)) = cur.take() {
            let values: Vec<String> = value
                .split('\n')
                .flat_map(|l| l.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect();
            if !values.is_empty() {
                out.entries.push(values);
            }
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match &mut current {
                Some((_, v)) => {
                    v.push('\n');
                    v.push_str(trimmed);
                }
                None if section_is(&section, "paths", plain_sections) => {
                    return Err((i + 1, "a continuation line with no key before it".into()))
                }
                None => {}
            }
            continue;
        }
        finish(&mut current, &mut out);
        if let Some(name) = trimmed.strip_prefix('[') {
            let Some(name) = name.strip_suffix(']') else {
                return Err((
                    i + 1,
                    format!("expected a section header like [paths], found {trimmed:?}"),
                ));
            };
            section = name.trim().to_owned();
            continue;
        }
        let Some(at) = trimmed.find(['=', ':']) else {
            if section_is(&section, "paths", plain_sections) {
                return Err((
                    i + 1,
                    format!("expected `name = result, pattern…`, found {trimmed:?}"),
                ));
            }
            continue;
        };
        let (key, value) = (trimmed[..at].trim(), trimmed[at + 1..].trim());
        if section_is(&section, "paths", plain_sections) {
            current = Some((key.to_owned(), value.to_owned()));
        } else if section_is(&section, "run", plain_sections) && key == "relative_files" {
            out.relative_files = truthy(value);
        }
    }
    finish(&mut current, &mut out);
    Ok(out)
}

fn section_is(section: &str, name: &str, plain: bool) -> bool {
    (plain && section == name) || section.strip_prefix("coverage:") == Some(name)
}

/// The part of TOML coverage.py configuration uses: `[tool.coverage.paths]` with
/// `name = ["result", "pattern", …]` (arrays may span lines; basic and literal strings),
/// and `relative_files` in `[tool.coverage.run]`.
fn parse_toml(text: &str) -> Result<PathsConfig, (usize, String)> {
    let mut out = PathsConfig::default();
    let mut section = String::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            section = line
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match section.as_str() {
            "tool.coverage.paths" => {
                let mut value = value.trim().to_owned();
                // An array runs until its closing bracket, outside strings.
                while !array_closed(&value) {
                    match lines.next() {
                        Some((_, more)) => {
                            value.push('\n');
                            value.push_str(more);
                        }
                        None => {
                            return Err((
                                i + 1,
                                format!("the array of {} is not closed", key.trim()),
                            ))
                        }
                    }
                }
                out.entries.push(
                    toml_strings(&value).map_err(|e| (i + 1, format!("{}: {e}", key.trim())))?,
                );
            }
            "tool.coverage.run" if key.trim() == "relative_files" => {
                out.relative_files = value.trim() == "true";
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Whether `s` (starting with `[`) has its closing `]` outside strings.
fn array_closed(s: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                ']' => return true,
                '#' => {}
                _ => {}
            },
        }
    }
    false
}

/// The strings of a TOML array of strings.
fn toml_strings(s: &str) -> Result<Vec<String>, String> {
    let body = s
        .trim()
        .strip_prefix('[')
        .ok_or("expected an array of strings, like [\"src/\", \"/app/src/\"]")?;
    let mut out = Vec::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut v = String::new();
                loop {
                    match chars.next().ok_or("a string is not closed")? {
                        '"' => break,
                        '\\' => match chars.next().ok_or("a string is not closed")? {
                            'n' => v.push('\n'),
                            't' => v.push('\t'),
                            other => v.push(other),
                        },
                        other => v.push(other),
                    }
                }
                out.push(v);
            }
            '\'' => {
                let v: String = chars.by_ref().take_while(|&c| c != '\'').collect();
                out.push(v);
            }
            ']' => return Ok(out),
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            c if c.is_whitespace() || c == ',' => {}
            other => return Err(format!("expected a string, found {other:?}")),
        }
    }
    Err("the array is not closed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_paths_split_on_lines_and_commas() {
        let cfg = parse_ini(
            "[run]\nrelative_files = True\n\n[paths]\nsource =\n    src/\n    /app/src/, */site-packages\n# c\nother: lib/\n  /opt/lib\n",
            true,
        )
        .unwrap();
        assert!(cfg.relative_files);
        assert_eq!(
            cfg.entries,
            vec![
                vec![
                    "src/".to_owned(),
                    "/app/src/".into(),
                    "*/site-packages".into()
                ],
                vec!["lib/".to_owned(), "/opt/lib".into()],
            ]
        );
        // setup.cfg spells it coverage:paths, and a plain [paths] is someone else's.
        let cfg = parse_ini("[paths]\na = x\n[coverage:paths]\nb = y, z\n", false).unwrap();
        assert_eq!(cfg.entries, vec![vec!["y".to_owned(), "z".into()]]);
        assert_eq!(parse_ini("[paths]\nnonsense\n", true).unwrap_err().0, 2);
    }

    #[test]
    fn toml_paths() {
        let cfg = parse_toml(
            "[tool.coverage.run]\nrelative_files = true\n[tool.coverage.paths]\nsource = [\n  \"src/\", # here\n  '/app/src/',\n]\nx = [\"a\", \"b\"]\n[tool.other]\ny = 1\n",
        )
        .unwrap();
        assert!(cfg.relative_files);
        assert_eq!(
            cfg.entries,
            vec![
                vec!["src/".to_owned(), "/app/src/".into()],
                vec!["a".to_owned(), "b".into()]
            ]
        );
        assert_eq!(
            parse_toml("[tool.coverage.paths]\nsource = [\"src/\"\n")
                .unwrap_err()
                .0,
            2
        );
    }
}
