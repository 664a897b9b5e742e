//! The local runner: the job as commands on the server's machine, for teams without
//! Prow. In a directory of its own per job: `git clone` of the base repository, checkout
//! of the head commit, the repository's `testCommand` (`sh -c`, writing a Go text profile
//! to `$COVERAGE_PROFILE`), `livecov diff` against the base, `livecov render` of the
//! profile; then `artifacts/` holds `filtered.cov` and `filtered.html` (the names
//! Prow's coverage lens reads), `diff.json`, `test.log` and the site in `site/`.
//!
//! The GitHub token reaches git through `GIT_CONFIG_*` environment variables (an
//! `http.extraHeader`), never through a URL or an argument, and the test command does
//! not get it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::{short, Job, Outcome};

/// Where and how local jobs run.
#[derive(Debug, Clone)]
pub struct LocalRunner {
    /// Each job gets `<work_dir>/<org>_<repo>_<pr>_<sha>`.
    pub work_dir: PathBuf,
    /// The livecov binary that runs `diff` and `render`. Default: this program.
    pub livecov: PathBuf,
    /// A job's time limit (the repository's `timeoutMinutes`, else this).
    pub timeout: Duration,
}

/// One command, as it ran: shown whole when it fails.
struct Cmd {
    program: String,
    args: Vec<String>,
    dir: PathBuf,
    env: Vec<(String, String)>,
    /// Environment variables set but not shown (credentials).
    secret_env: Vec<(String, String)>,
}

impl Cmd {
    fn new(program: impl Into<String>, dir: &Path) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            dir: dir.to_owned(),
            env: Vec::new(),
            secret_env: Vec::new(),
        }
    }

    fn arg(mut self, a: impl AsRef<str>) -> Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }

    fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, a: I) -> Cmd {
        self.args
            .extend(a.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    fn env(mut self, k: &str, v: impl Into<String>) -> Cmd {
        self.env.push((k.to_owned(), v.into()));
        self
    }

    fn shown(&self) -> String {
        let mut s = format!("(cd {} && ", self.dir.display());
        for (k, v) in &self.env {
            s.push_str(&format!("{k}={v:?} "));
        }
        s.push_str(&self.program);
        for a in &self.args {
            s.push_str(&format!(" {a:?}"));
        }
        s.push(')');
        s
    }

    /// Runs to the end within `timeout`; stdout and stderr go to `log` when given,
    /// otherwise stdout is returned. Err says what ran and how it ended.
    async fn run(&self, timeout: Duration, log: Option<&Path>) -> Result<(bool, Vec<u8>), String> {
        let mut c = tokio::process::Command::new(&self.program);
        c.args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .env("GIT_TERMINAL_PROMPT", "0");
        for (k, v) in self.env.iter().chain(&self.secret_env) {
            c.env(k, v);
        }
        match log {
            Some(path) => {
                let file =
                    std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let err = file
                    .try_clone()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                c.stdout(file).stderr(err);
            }
            None => {
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        let child = c
            .spawn()
            .map_err(|e| format!("{}: cannot start: {e}", self.shown()))?;
        let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Err(_) => {
                return Err(format!(
                    "{}: still running after {timeout:?}; killed",
                    self.shown()
                ))
            }
            Ok(Err(e)) => return Err(format!("{}: {e}", self.shown())),
            Ok(Ok(o)) => o,
        };
        if log.is_none() && !out.status.success() && out.stdout.is_empty() {
            return Err(format!(
                "{} exited with {}: {}",
                self.shown(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok((out.status.success(), out.stdout))
    }

    /// [`Cmd::run`], where anything but exit 0 is an error.
    async fn check(&self, timeout: Duration) -> Result<Vec<u8>, String> {
        let (ok, out) = self.run(timeout, None).await?;
        if !ok {
            return Err(format!("{} failed", self.shown()));
        }
        Ok(out)
    }
}

impl LocalRunner {
    /// The directory of `job`.
    pub fn dir_of(&self, job: &Job) -> PathBuf {
        self.work_dir.join(format!(
            "{}_{}_{}_{}",
            job.pr.org,
            job.pr.repo,
            job.pr.number,
            short(&job.pr.head_sha)
        ))
    }

    /// Runs `job` to the end; `token` authenticates git to GitHub.
    pub async fn run(&self, job: &Job, token: Option<&str>) -> Outcome {
        let dir = self.dir_of(job);
        let artifacts = dir.join("artifacts");
        let mut outcome = Outcome {
            artifacts: Some(artifacts.display().to_string()),
            ..Outcome::default()
        };
        if let Err(e) = self.steps(job, token, &dir, &artifacts, &mut outcome).await {
            outcome.error = Some(e);
        }
        outcome
    }

    async fn steps(
        &self,
        job: &Job,
        token: Option<&str>,
        dir: &Path,
        artifacts: &Path,
        outcome: &mut Outcome,
    ) -> Result<(), String> {
        let timeout = job
            .repo
            .settings
            .timeout_minutes
            .map_or(self.timeout, |m| Duration::from_secs(60 * m));
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(artifacts).map_err(|e| format!("{}: {e}", artifacts.display()))?;
        let src = dir.join("src");
        let pr = &job.pr;
        let git = |args: &[&str]| {
            let mut c = Cmd::new("git", dir).args(args);
            if let (Some(t), true) = (token, pr.clone_url.starts_with("https://")) {
                c.secret_env = vec![
                    ("GIT_CONFIG_COUNT".into(), "1".into()),
                    ("GIT_CONFIG_KEY_0".into(), "http.extraHeader".into()),
                    (
                        "GIT_CONFIG_VALUE_0".into(),
                        format!("Authorization: Bearer {t}"),
                    ),
                ];
            }
            c
        };
        let src_s = src.display().to_string();
        git(&["clone", "--quiet", "--no-checkout", &pr.clone_url, &src_s])
            .check(timeout)
            .await?;
        // The head may be in a fork: GitHub keeps it under refs/pull/N/head of the base.
        let pull_ref = format!("+refs/pull/{}/head:refs/remotes/origin/pr", pr.number);
        let _ = git(&["-C", &src_s, "fetch", "--quiet", "origin", &pull_ref])
            .run(timeout, None)
            .await;
        git(&[
            "-C",
            &src_s,
            "checkout",
            "--quiet",
            "--detach",
            &pr.head_sha,
        ])
        .check(timeout)
        .await?;

        let profile = artifacts.join("pr.cov");
        let command =
            job.repo.settings.test_command.clone().unwrap_or_else(|| {
                "go test -coverprofile=\"$COVERAGE_PROFILE\" $TEST_PACKAGES".into()
            });
        let (passed, _) = Cmd::new("sh", &src)
            .arg("-c")
            .arg(&command)
            .env("ARTIFACTS", artifacts.display().to_string())
            .env("COVERAGE_PROFILE", profile.display().to_string())
            .env("TEST_PACKAGES", job.repo.settings.test_packages.join(" "))
            .run(timeout, Some(&artifacts.join("test.log")))
            .await?;
        outcome.tests_passed = passed;
        let text = std::fs::read_to_string(&profile).map_err(|e| {
            format!(
                "the test command wrote no coverage profile ({}: {e}); see {}",
                profile.display(),
                artifacts.join("test.log").display()
            )
        })?;
        std::fs::copy(&profile, artifacts.join("filtered.cov"))
            .map_err(|e| format!("{}: {e}", artifacts.display()))?;

        let livecov = self.livecov.display().to_string();
        let diff = Cmd::new(&livecov, &src)
            .args([
                "diff",
                "--repo",
                &src_s,
                "--base",
                &pr.base_sha,
                "--head",
                &pr.head_sha,
            ])
            .arg("--profile")
            .arg(profile.display().to_string())
            .args(["--format", "json"]);
        // Exit 1 is a failed gate, which the report decides itself; 2 is an error.
        let (_, json) = diff.run(timeout, None).await?;
        std::fs::write(artifacts.join("diff.json"), &json)
            .map_err(|e| format!("{}: {e}", artifacts.display()))?;
        let figures =
            Outcome::from_diff_json(&json, passed).map_err(|e| format!("{}: {e}", diff.shown()))?;
        let total = figures.total;
        *outcome = Outcome {
            artifacts: outcome.artifacts.take(),
            ..figures
        };
        if total.is_none() {
            outcome.total = Some(
                livecov_formats::goprofile::parse(&text)
                    .map_err(|e| format!("{}: {e}", profile.display()))?
                    .0
                    .totals()
                    .percent(),
            );
        }

        Cmd::new(&livecov, &src)
            .args(["render", "--go-profile"])
            .arg(profile.display().to_string())
            .args(["--source-root", &src_s, "--force", "--output-dir"])
            .arg(artifacts.join("site").display().to_string())
            .check(timeout)
            .await?;
        std::fs::write(artifacts.join("filtered.html"), summary_html(job, outcome))
            .map_err(|e| format!("{}: {e}", artifacts.display()))?;
        Ok(())
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `filtered.html`: the figures and the changed files, linking to the site.
fn summary_html(job: &Job, o: &Outcome) -> String {
    let mut rows = String::new();
    for f in &o.files {
        let uncovered: Vec<String> = f.uncovered_lines.iter().map(u64::to_string).collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&f.path),
            f.lines,
            f.covered,
            escape(&uncovered.join(", "))
        ));
    }
    let patch = o.patch.map_or("n/a".to_owned(), |p| {
        format!("{:.1}% ({} of {} lines)", p.percent, p.covered, p.lines)
    });
    let total = o.total.map_or("n/a".to_owned(), |t| format!("{t:.1}%"));
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Coverage of {label}</title></head>\n\
<body><h1>Coverage of {label}</h1>\n<p>Patch coverage: {patch}. Total: {total}. Base: {base}{reason}.</p>\n\
<p><a href=\"site/index.html\">Coverage of every file</a></p>\n\
<table><tr><th>file</th><th>changed lines</th><th>covered</th><th>uncovered lines</th></tr>\n{rows}</table>\n\
</body></html>\n",
        label = escape(&job.label()),
        base = escape(o.base.as_deref().unwrap_or(&job.pr.base_sha)),
        reason = o
            .base_reason
            .as_deref()
            .map(|r| format!(" ({})", escape(r)))
            .unwrap_or_default(),
    )
}
