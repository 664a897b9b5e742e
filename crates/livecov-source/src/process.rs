//! A git subprocess as a value: it knows its command line, so a failure prints exactly
//! what ran.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

/// Variables that would redirect a git command away from the repository it is given.
const SCRUBBED_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_COMMON_DIR",
];

/// One git invocation against a bare repository.
#[derive(Clone)]
pub(crate) struct Git {
    args: Vec<OsString>,
    ssh_command: Option<OsString>,
    protocols: &'static str,
}

impl Git {
    /// `git --git-dir=<repo> <args…>` with no pager, no prompts, protocol v2 and no
    /// automatic maintenance (a background gc must not outlive the command).
    pub(crate) fn new(repo: &Path, ssh_command: Option<&OsStr>) -> Git {
        let mut git_dir = OsString::from("--git-dir=");
        git_dir.push(repo);
        let args = ["--no-pager", "-c", "protocol.version=2", "-c", "gc.auto=0"]
            .iter()
            .map(OsString::from)
            .chain([
                OsString::from("-c"),
                OsString::from("maintenance.auto=false"),
                git_dir,
            ])
            .collect();
        Git {
            args,
            ssh_command: ssh_command.map(OsStr::to_os_string),
            protocols: crate::url::NETWORK_PROTOCOLS,
        }
    }

    /// `git -C <dir> <args…>` in a working repository (a checkout, not the cache), with
    /// the same settings as [`Git::new`]; local transports only, as nothing is fetched.
    pub(crate) fn in_worktree(dir: &Path) -> Git {
        let args = [
            "--no-pager",
            "-c",
            "gc.auto=0",
            "-c",
            "maintenance.auto=false",
            "-c",
            "core.quotePath=true",
            "-C",
        ]
        .iter()
        .map(OsString::from)
        .chain([dir.as_os_str().to_os_string()])
        .collect();
        Git {
            args,
            ssh_command: None,
            protocols: "file",
        }
    }

    /// The transports git may use (`GIT_ALLOW_PROTOCOL`, which also binds redirects and
    /// `ext::`). Default: `https:ssh:git`.
    pub(crate) fn allow_protocols(mut self, protocols: &'static str) -> Git {
        self.protocols = protocols;
        self
    }

    /// Appends arguments.
    pub(crate) fn args<I, S>(mut self, args: I) -> Git
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// The `Command` to spawn, with a scrubbed, non-interactive environment.
    pub(crate) fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.args(&self.args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_PAGER", "cat")
            .env("LC_ALL", "C")
            .env("GIT_ALLOW_PROTOCOL", self.protocols)
            .stdin(Stdio::null());
        for name in SCRUBBED_ENV {
            cmd.env_remove(name);
        }
        if let Some(ssh) = &self.ssh_command {
            cmd.env("GIT_SSH_COMMAND", ssh);
        }
        cmd
    }

    /// Runs to completion; a non-zero exit becomes [`Error::Git`] with `what` as context.
    pub(crate) fn run(&self, what: impl FnOnce() -> String) -> Result<Output> {
        let out = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output();
        match out {
            Ok(out) if out.status.success() => Ok(out),
            Ok(out) => Err(self.failed(what(), &out)),
            Err(source) => Err(Error::Spawn {
                what: what(),
                command: self.to_string(),
                source,
            }),
        }
    }

    /// Runs and reports only whether it succeeded (for probes such as `rev-parse --verify`).
    pub(crate) fn succeeds(&self) -> bool {
        self.command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The error of a run that ended with `out`, for callers that read the status
    /// themselves.
    pub(crate) fn failure(&self, what: String, out: &Output) -> Error {
        self.failed(what, out)
    }

    fn failed(&self, what: String, out: &Output) -> Error {
        let status = match out.status.code() {
            Some(code) => format!("exited with {code}"),
            None => "was killed by a signal".to_owned(),
        };
        Error::Git {
            what,
            command: self.to_string(),
            status,
            stderr: summarize_stderr(&out.stderr),
        }
    }
}

impl fmt::Display for Git {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("git")?;
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'') {
                write!(f, " '{}'", arg.replace('\'', r"'\''"))?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

/// The informative part of git's stderr: `fatal:`/`error:` lines when there are any, else
/// the last lines, joined with `; ` and capped in length.
pub(crate) fn summarize_stderr(stderr: &[u8]) -> String {
    const MAX: usize = 600;
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let important: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .collect();
    let chosen = if important.is_empty() {
        &lines[lines.len().saturating_sub(3)..]
    } else {
        &important[..]
    };
    let mut summary = chosen.join("; ");
    if summary.is_empty() {
        summary.push_str("(no error output)");
    }
    if summary.len() > MAX {
        let mut cut = MAX;
        while !summary.is_char_boundary(cut) {
            cut -= 1;
        }
        summary.truncate(cut);
        summary.push('…');
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_summary_prefers_fatal_lines() {
        let s = summarize_stderr(b"remote: counting\nfatal: remote error: not our ref\n\n");
        assert_eq!(s, "fatal: remote error: not our ref");
        assert_eq!(summarize_stderr(b""), "(no error output)");
        assert_eq!(summarize_stderr(b"a\nb\nc\nd\n"), "b; c; d");
    }

    #[test]
    fn display_quotes_odd_arguments() {
        let g = Git::new(Path::new("/c/x.git"), None).args(["log", "a b"]);
        assert!(
            g.to_string().ends_with("--git-dir=/c/x.git log 'a b'"),
            "{g}"
        );
    }
}
