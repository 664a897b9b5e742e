//! Reporting from inside a coverage job: the pod a ProwJob runs posts the final commit
//! status and edits the pull request's one coverage comment itself (the ProwJob has
//! `report: false`, as the plugin's), with the same status, comment and GitHub calls the
//! server uses for its local jobs ([`report::final_status`], [`report::comment`],
//! [`GitHub::upsert_comment`]).
//!
//! What the job knows comes from its environment: Prow's decoration (`REPO_OWNER`,
//! `REPO_NAME`, `PULL_NUMBER`, `PULL_PULL_SHA`, `PULL_BASE_SHA`, `JOB_NAME`,
//! `PROW_JOB_ID`) and what [`super::runner::prowjob::prowjob`] adds (`COVERAGE_THRESHOLD`,
//! `PATCH_COVERAGE_THRESHOLD`, `LIVECOV_REPORT_URL`, `LIVECOV_TRIGGER`).

use super::config::{RepoSettings, Resolved, DEFAULT_CONTEXT, DEFAULT_THRESHOLD};
use super::event::PullRequest;
use super::github::{GitHub, GitHubError, Status};
use super::report;
use super::runner::Job;
use super::runner::Outcome;

/// The job's pull request and reporting settings, from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEnv {
    /// `REPO_OWNER`.
    pub org: String,
    /// `REPO_NAME`.
    pub repo: String,
    /// `PULL_NUMBER`.
    pub number: u64,
    /// `PULL_PULL_SHA`: the pull request's head, where the status goes.
    pub head_sha: String,
    /// `PULL_BASE_SHA`.
    pub base_sha: String,
    /// `JOB_NAME`: the status context (default `coverage-auto`).
    pub context: String,
    /// `COVERAGE_THRESHOLD` (default 70).
    pub coverage_threshold: f64,
    /// `PATCH_COVERAGE_THRESHOLD`.
    pub patch_threshold: Option<f64>,
    /// `LIVECOV_REPORT_URL`: the status and comment link.
    pub report_url: Option<String>,
    /// `LIVECOV_TRIGGER`: what started the job, for the comment's footer.
    pub trigger: String,
    /// `PROW_JOB_ID` (else `BUILD_ID`).
    pub job_name: String,
}

impl JobEnv {
    /// Reads the variables through `get` (`std::env::var` in a job). The error names
    /// every missing or malformed variable.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<JobEnv, String> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();
        let mut need = |k: &str| {
            get(k).unwrap_or_else(|| {
                problems.push(format!("{k} is not set"));
                String::new()
            })
        };
        let org = need("REPO_OWNER");
        let repo = need("REPO_NAME");
        let number = need("PULL_NUMBER");
        let head_sha = need("PULL_PULL_SHA");
        let base_sha = need("PULL_BASE_SHA");
        let number = if number.is_empty() {
            0
        } else {
            number.parse().unwrap_or_else(|_| {
                problems.push(format!("PULL_NUMBER {number:?} is not a number"));
                0
            })
        };
        let percent = |k: &str, problems: &mut Vec<String>| -> Option<f64> {
            let v = get(k)?;
            match v.parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Some(p),
                _ => {
                    problems.push(format!("{k} {v:?} is not a percentage from 0 to 100"));
                    None
                }
            }
        };
        let coverage_threshold =
            percent("COVERAGE_THRESHOLD", &mut problems).unwrap_or(DEFAULT_THRESHOLD);
        let patch_threshold = percent("PATCH_COVERAGE_THRESHOLD", &mut problems);
        if !problems.is_empty() {
            return Err(format!(
                "the job's environment: {}\nhint: --github-report runs inside a Prow \
                 presubmit (its decoration sets REPO_OWNER, REPO_NAME, PULL_NUMBER, \
                 PULL_PULL_SHA and PULL_BASE_SHA); elsewhere set them yourself",
                problems.join("; ")
            ));
        }
        Ok(JobEnv {
            org,
            repo,
            number,
            head_sha,
            base_sha,
            context: get("JOB_NAME").unwrap_or_else(|| DEFAULT_CONTEXT.to_owned()),
            coverage_threshold,
            patch_threshold,
            report_url: get("LIVECOV_REPORT_URL"),
            trigger: get("LIVECOV_TRIGGER").unwrap_or_else(|| "Prow job".to_owned()),
            job_name: get("PROW_JOB_ID")
                .or_else(|| get("BUILD_ID"))
                .unwrap_or_default(),
        })
    }

    /// The job as the server's report functions take it.
    pub fn job(&self) -> Job {
        let repo_url = format!("https://github.com/{}/{}", self.org, self.repo);
        Job {
            delivery: String::new(),
            trigger: self.trigger.clone(),
            pr: PullRequest {
                org: self.org.clone(),
                repo: self.repo.clone(),
                number: self.number,
                author: String::new(),
                title: String::new(),
                base_ref: String::new(),
                base_sha: self.base_sha.clone(),
                head_ref: String::new(),
                head_sha: self.head_sha.clone(),
                clone_url: format!("{repo_url}.git"),
                repo_url,
                draft: false,
            },
            repo: Resolved {
                repo: format!("{}/{}", self.org, self.repo),
                settings: RepoSettings {
                    patch_threshold: self.patch_threshold,
                    // Already resolved by the server: no placeholders left to fill.
                    report_url: self.report_url.clone(),
                    ..RepoSettings::default()
                },
                coverage_threshold: self.coverage_threshold,
                context: self.context.clone(),
                paths: globset::GlobSet::empty(),
                late_after: std::time::Duration::ZERO,
            },
            name: self.job_name.clone(),
        }
    }
}

/// Posts `outcome` as `job`'s final status, then writes or edits its one comment;
/// returns the status posted.
pub async fn post_result(
    github: &GitHub,
    job: &Job,
    outcome: &Outcome,
) -> Result<Status, GitHubError> {
    let pr = &job.pr;
    let status = report::final_status(job, outcome);
    github
        .create_status(&pr.org, &pr.repo, &pr.head_sha, &status)
        .await?;
    github
        .upsert_comment(
            &pr.org,
            &pr.repo,
            pr.number,
            &report::marker(job),
            &report::comment(job, outcome),
        )
        .await?;
    Ok(status)
}

/// [`post_result`] on a runtime of its own, for a command-line caller.
pub fn post_result_blocking(
    github: &GitHub,
    job: &Job,
    outcome: &Outcome,
) -> Result<Status, anyhow::Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(post_result(github, job, outcome))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn prow_env_gives_the_job_and_missing_variables_are_named() {
        let e = JobEnv::from_env(env(&[
            ("REPO_OWNER", "o"),
            ("REPO_NAME", "r"),
            ("PULL_NUMBER", "7"),
            ("PULL_PULL_SHA", "abc"),
            ("PULL_BASE_SHA", "def"),
            ("JOB_NAME", "cov"),
            ("COVERAGE_THRESHOLD", "55"),
            ("PATCH_COVERAGE_THRESHOLD", "80"),
            ("LIVECOV_REPORT_URL", "https://ci/x"),
        ]))
        .unwrap();
        let job = e.job();
        assert_eq!((job.pr.number, job.pr.head_sha.as_str()), (7, "abc"));
        assert_eq!(job.repo.context, "cov");
        assert_eq!(job.repo.coverage_threshold, 55.0);
        assert_eq!(job.repo.settings.patch_threshold, Some(80.0));
        assert_eq!(job.link().as_deref(), Some("https://ci/x"));
        assert_eq!(
            report::marker(&job),
            "<!-- livecov:coverage-comment cov -->"
        );

        let err = JobEnv::from_env(env(&[
            ("REPO_OWNER", "o"),
            ("PULL_NUMBER", "x"),
            ("COVERAGE_THRESHOLD", "170"),
        ]))
        .unwrap_err();
        for want in [
            "REPO_NAME is not set",
            "PULL_PULL_SHA is not set",
            "PULL_BASE_SHA is not set",
            "PULL_NUMBER \"x\" is not a number",
            "COVERAGE_THRESHOLD \"170\"",
        ] {
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}
