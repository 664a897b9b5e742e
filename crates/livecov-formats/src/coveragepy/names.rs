//! Parallel-mode data file names and finding the files `coverage combine` would combine
//! (spec §1.9; upstream `sqldata.py` `filename_suffix`, `SUFFIX_PATTERN` and `data.py`
//! `combinable_files`).

use std::fs;
use std::path::{Path, PathBuf};

use super::Error;

/// The part of a parallel data file's name after `<data_file>.`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParallelSuffix<'a> {
    /// coverage.py 7.13.1 and later: `<host>.pid<pid>.X<6 letters or digits>x`, then
    /// `.H<10 characters>h` once the file is saved. The host has every `.` replaced by
    /// `_`. This is the form coverage.py's `filename_match` recognises.
    Hashed {
        /// The host name, dots replaced by `_`.
        host: &'a str,
        /// The writer's process id.
        pid: u64,
        /// The six random characters between `X` and `x`.
        random: &'a str,
        /// The ten hash characters between `H` and `h`, when present. coverage.py skips a
        /// file whose hash it has already combined.
        hash: Option<&'a str>,
    },
    /// Up to 7.13.0: `<host>.<pid>.<random>`, where the random part is six digits (up to
    /// 7.3.2) or `X<6 letters>x` (7.3.3–7.13.0). The host keeps its dots.
    Legacy {
        /// The host name.
        host: &'a str,
        /// The writer's process id.
        pid: u64,
        /// The random part as written (`799674` or `XAbCdEx`).
        random: &'a str,
    },
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits a file name into its parallel-mode suffix: `file_name` is a name like
/// `.coverage.myhost.pid42.XAbC12x.H0123456789h` and `basename` the data file's name
/// (`.coverage`). `None` when the name is not `<basename>.<suffix>` with a suffix of a
/// form coverage.py writes (such files are still combined; only their hash is unknown).
pub fn parse_parallel_suffix<'a>(file_name: &'a str, basename: &str) -> Option<ParallelSuffix<'a>> {
    let suffix = file_name.strip_prefix(basename)?.strip_prefix('.')?;
    parse_hashed(suffix).or_else(|| parse_legacy(suffix))
}

/// The `.H<hash>h` part of a data file's name, searched at its end as coverage.py's
/// `filename_match` does, whatever the prefix.
pub(crate) fn hash_in_name(file_name: &str) -> Option<&str> {
    match parse_hashed(file_name)? {
        ParallelSuffix::Hashed { hash, .. } => hash,
        ParallelSuffix::Legacy { .. } => None,
    }
}

/// coverage.py's `SUFFIX_PATTERN`, searched at the end of the name:
/// `\.[^.]+\.pid\d+\.X\w{6}x(\.H\w{10}h)?$`. The host is taken as everything before
/// `.pid` (coverage.py's own names have no dot in it).
fn parse_hashed(suffix: &str) -> Option<ParallelSuffix<'_>> {
    let (rest, last) = suffix.rsplit_once('.')?;
    let (rest, hash, random) = match last.strip_prefix('H').and_then(|h| h.strip_suffix('h')) {
        Some(hash) => {
            let (rest, random) = rest.rsplit_once('.')?;
            (rest, Some(hash), random)
        }
        None => (rest, None, last),
    };
    let random = random.strip_prefix('X')?.strip_suffix('x')?;
    let (host, pid) = rest.rsplit_once('.')?;
    let pid = pid.strip_prefix("pid")?;
    let word = |s: &str, n: usize| s.chars().count() == n && s.chars().all(is_word);
    if host.is_empty() || !is_pid(pid) || !word(random, 6) || hash.is_some_and(|h| !word(h, 10)) {
        return None;
    }
    Some(ParallelSuffix::Hashed {
        host,
        pid: pid.parse().ok()?,
        random,
        hash,
    })
}

/// `<host>.<pid>.<6 digits>` or `<host>.<pid>.X<6 letters>x`, the host possibly dotted.
fn parse_legacy(suffix: &str) -> Option<ParallelSuffix<'_>> {
    let (rest, random) = suffix.rsplit_once('.')?;
    let (host, pid) = rest.rsplit_once('.')?;
    let digits = random.len() == 6 && random.bytes().all(|b| b.is_ascii_digit());
    let letters = random
        .strip_prefix('X')
        .and_then(|r| r.strip_suffix('x'))
        .is_some_and(|r| r.len() == 6 && r.bytes().all(|b| b.is_ascii_alphabetic()));
    if host.is_empty() || !is_pid(pid) || !(digits || letters) {
        return None;
    }
    Some(ParallelSuffix::Legacy {
        host,
        pid: pid.parse().ok()?,
        random,
    })
}

fn is_pid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The data files `coverage combine` would combine, sorted as coverage.py sorts them.
///
/// `data_file` is the configured data file (`.coverage`, or `[run] data_file`); its name
/// is the prefix. With no `data_paths`, its directory is searched; otherwise each path is
/// taken as it is when it is a file, and searched when it is a directory. Searching a
/// directory yields every entry named `<prefix>.*` (so `.coverage.*`, never
/// `.coveragerc`) except directories. Names ending in `-journal` are dropped. A path that
/// does not exist is an error, as in coverage.py.
pub fn combinable_files(data_file: &Path, data_paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let io = |path: &Path, source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let data_file = std::path::absolute(data_file).map_err(|e| io(data_file, e))?;
    let prefix = match data_file.file_name() {
        Some(name) => format!("{}.", name.to_string_lossy()),
        None => {
            return Err(io(
                &data_file,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the data file has no file name",
                ),
            ))
        }
    };
    let default_dir = [data_file.parent().unwrap_or(Path::new("/")).to_path_buf()];
    let searched = if data_paths.is_empty() {
        &default_dir[..]
    } else {
        data_paths
    };
    let mut found = Vec::new();
    for p in searched {
        let meta = fs::metadata(p).map_err(|e| {
            io(
                p,
                std::io::Error::new(e.kind(), format!("couldn't combine from this path: {e}")),
            )
        })?;
        let abs = std::path::absolute(p).map_err(|e| io(p, e))?;
        if !meta.is_dir() {
            found.push(abs);
            continue;
        }
        for entry in fs::read_dir(&abs).map_err(|e| io(&abs, e))? {
            let entry = entry.map_err(|e| io(&abs, e))?;
            let name = entry.file_name();
            let matches = name.to_str().is_some_and(|n| n.starts_with(&prefix));
            let is_dir = fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
            if matches && !is_dir {
                found.push(entry.path());
            }
        }
    }
    found.retain(|p| !p.as_os_str().as_encoded_bytes().ends_with(b"-journal"));
    found.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_names_with_and_without_hash() {
        assert_eq!(
            parse_parallel_suffix(".coverage.vm.pid22529.XBAbcQbx.HrmyQAsRpuah", ".coverage"),
            Some(ParallelSuffix::Hashed {
                host: "vm",
                pid: 22529,
                random: "BAbcQb",
                hash: Some("rmyQAsRpua"),
            })
        );
        assert_eq!(
            parse_parallel_suffix(".coverage.my_host_local.pid7.X0a1B2cx", ".coverage"),
            Some(ParallelSuffix::Hashed {
                host: "my_host_local",
                pid: 7,
                random: "0a1B2c",
                hash: None,
            })
        );
    }

    #[test]
    fn old_names_keep_dotted_hosts() {
        assert_eq!(
            parse_parallel_suffix(".coverage.myhost.local.8044.799674", ".coverage"),
            Some(ParallelSuffix::Legacy {
                host: "myhost.local",
                pid: 8044,
                random: "799674",
            })
        );
        assert_eq!(
            parse_parallel_suffix("cov.data.myhost.8044.XAbCdEfx", "cov.data"),
            Some(ParallelSuffix::Legacy {
                host: "myhost",
                pid: 8044,
                random: "XAbCdEfx",
            })
        );
    }

    #[test]
    fn other_names_are_not_parallel_suffixes() {
        for name in [
            ".coveragerc",
            ".coverage",
            ".coverage.",
            ".coverage.host.pidx.XAbCdEfx",
            ".coverage.host.pid1.XAbCdEx",
            ".coverage.host.pid1.XAbCdEfx.Hshorth",
            ".coverage.host.12.1234567",
            ".coverage.custom-suffix",
            ".coverage.host.pid1.XAbCdEfx-journal",
        ] {
            assert_eq!(parse_parallel_suffix(name, ".coverage"), None, "{name}");
        }
    }

    #[test]
    fn combinable_files_globs_sorts_and_drops_journals() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            ".coverage",
            ".coveragerc",
            ".coverage.b.pid2.XAAAAAAx",
            ".coverage.a.1.123456",
            ".coverage.a.1.123456-journal",
            "other.coverage.x",
        ] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        fs::create_dir(dir.path().join(".coverage.dir")).unwrap();
        let found = combinable_files(&dir.path().join(".coverage"), &[]).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, [".coverage.a.1.123456", ".coverage.b.pid2.XAAAAAAx"]);
        // A named file is taken as is, whatever its name.
        let named = combinable_files(
            Path::new(".coverage"),
            &[dir.path().join("other.coverage.x")],
        )
        .unwrap();
        assert_eq!(named, [dir.path().join("other.coverage.x")]);
        assert!(combinable_files(Path::new(".coverage"), &[dir.path().join("missing")]).is_err());
    }
}
