//! Job runners: where a pull request's coverage job runs.
//!
//! - [`prowjob`]: a ProwJob custom resource with the fields the Prow coverage plugin
//!   sets; Prow runs the pod, and its script reports the result as the plugin's does.
//! - [`local`]: a command on the server's machine (teams without Prow): checkout, tests
//!   with coverage, `livecov diff` against the base, artifacts; the server reports.
//! - dry-run: logs what would run and reports an informational result.

pub mod local;
pub mod prowjob;

use serde::{Deserialize, Serialize};

use super::config::Resolved;
use super::event::PullRequest;

/// One coverage job: a pull request at one head commit, with its repository's settings.
#[derive(Debug, Clone)]
pub struct Job {
    /// The delivery that asked for it (`X-GitHub-Delivery`).
    pub delivery: String,
    /// What asked for it: the action, or `/coverage by LOGIN`.
    pub trigger: String,
    /// The pull request.
    pub pr: PullRequest,
    /// Its repository's settings.
    pub repo: Resolved,
    /// A unique name: the ProwJob's name, the local run's directory.
    pub name: String,
}

impl Job {
    /// The report link from the repository's `reportUrl`, `None` when it has none.
    pub fn link(&self) -> Option<String> {
        let template = self.repo.settings.report_url.as_deref()?;
        let bucket = self
            .repo
            .settings
            .gcs
            .as_ref()
            .and_then(|g| g.bucket.clone())
            .unwrap_or_default();
        Some(
            template
                .replace("{org}", &self.pr.org)
                .replace("{repo}", &self.pr.repo)
                .replace("{pr}", &self.pr.number.to_string())
                .replace("{sha}", &self.pr.head_sha)
                .replace("{job}", &self.repo.context)
                .replace("{build}", &self.name)
                .replace("{bucket}", &bucket),
        )
    }

    /// `org/repo#N@abcdef1`, for logs.
    pub fn label(&self) -> String {
        format!(
            "{}#{}@{}",
            self.pr.full_name(),
            self.pr.number,
            short(&self.pr.head_sha)
        )
    }
}

/// The first 12 characters of a commit id.
pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Coverage figures of a finished job.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcome {
    /// The tests exited 0.
    pub tests_passed: bool,
    /// Changed executable lines and how many ran (`livecov diff`'s `patch`).
    pub patch: Option<Patch>,
    /// Total statement coverage of the head, percent.
    pub total: Option<f64>,
    /// The base the patch was measured against, and why that one.
    pub base: Option<String>,
    /// `livecov diff`'s `base_reason`.
    pub base_reason: Option<String>,
    /// Per file: path, changed lines, covered, uncovered line numbers.
    pub files: Vec<FileRow>,
    /// What failed, when the job could not produce figures.
    pub error: Option<String>,
    /// Where the artifacts are.
    pub artifacts: Option<String>,
}

/// `livecov diff --format json`, the fields a job's report uses.
#[derive(Deserialize)]
struct DiffJson {
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    base_reason: Option<String>,
    patch: DiffPatch,
    #[serde(default)]
    total: Option<DiffTotal>,
    #[serde(default)]
    files: Vec<DiffFile>,
}

#[derive(Deserialize)]
struct DiffPatch {
    lines: u64,
    covered: u64,
    #[serde(default)]
    percent: Option<f64>,
}

#[derive(Deserialize)]
struct DiffTotal {
    percent: f64,
}

#[derive(Deserialize)]
struct DiffFile {
    path: String,
    lines: u64,
    covered: u64,
    #[serde(default)]
    uncovered_lines: Vec<u64>,
}

impl Outcome {
    /// The figures of `livecov diff --format json` output; `tests_passed` says how the
    /// tests ended. One reading for the local runner and for a job reporting itself.
    pub fn from_diff_json(json: &[u8], tests_passed: bool) -> Result<Outcome, String> {
        let d: DiffJson =
            serde_json::from_slice(json).map_err(|e| format!("not livecov diff's JSON: {e}"))?;
        Ok(Outcome {
            tests_passed,
            patch: Some(Patch {
                lines: d.patch.lines,
                covered: d.patch.covered,
                percent: d.patch.percent.unwrap_or(if d.patch.lines == 0 {
                    100.0
                } else {
                    100.0 * d.patch.covered as f64 / d.patch.lines as f64
                }),
            }),
            total: d.total.map(|t| t.percent),
            base: d.base,
            base_reason: d.base_reason,
            files: d
                .files
                .into_iter()
                .map(|f| FileRow {
                    path: f.path,
                    lines: f.lines,
                    covered: f.covered,
                    uncovered_lines: f.uncovered_lines,
                })
                .collect(),
            error: None,
            artifacts: None,
        })
    }
}

/// Patch coverage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Patch {
    /// Changed executable lines.
    pub lines: u64,
    /// Of those, lines that ran.
    pub covered: u64,
    /// `covered / lines` in percent; 100 when nothing executable changed.
    pub percent: f64,
}

/// One file of the patch.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileRow {
    /// Repository path.
    pub path: String,
    /// Changed executable lines.
    pub lines: u64,
    /// Of those, lines that ran.
    pub covered: u64,
    /// Changed lines that did not run.
    pub uncovered_lines: Vec<u64>,
}

/// A random version-4 UUID, the form of Prow's job names.
pub fn uuid() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    // SystemRandom only fails where the OS has no random source at all.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_are_version_4_and_differ() {
        let a = super::uuid();
        let b = super::uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }
}
