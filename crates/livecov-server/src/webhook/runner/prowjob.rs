//! The ProwJob runner: a `prow.k8s.io/v1` ProwJob with the fields the Prow coverage
//! plugin sets (`pjutil.NewPresubmit` plus the plugin's pod spec, decoration and
//! reporting; seed-system.md section 12), created through the API server.
//!
//! The API client is livecov-collect's ([`livecov_collect::kube`]): it already resolves
//! kubeconfigs and in-cluster service accounts (token, CA) for discovery, and one POST
//! does not justify a second client (the kube crate and its k8s-openapi types would
//! double the build for this one call). The service account needs only `create` on
//! `prowjobs` in the jobs namespace (deploy/webhook/rbac.yaml).
//!
//! Prow runs the pod; its script posts the final status and the comment itself (the
//! ProwJob's `report: false`, the plugin's `SkipReport: true`), so this runner only
//! submits. A job script that ends with `livecov diff … --github-report` does that with
//! the server's own status and comment ([`crate::webhook::inside`]), from Prow's
//! environment plus `COVERAGE_THRESHOLD`, `PATCH_COVERAGE_THRESHOLD` and
//! `LIVECOV_REPORT_URL` set here.

use std::collections::BTreeMap;
use std::time::Duration;

use livecov_collect::kube::{Connection, KubeError};
use serde_json::{json, Value};

use super::Job;

/// The RBAC rule the webhook's token needs, for the 403 message.
const RBAC: &str = "grant create on prowjobs.prow.k8s.io in the jobs namespace: rules: \
                    [{apiGroups: [prow.k8s.io], resources: [prowjobs], verbs: [create]}] \
                    (deploy/webhook/rbac.yaml)";

/// The plugin's container command.
pub const DEFAULT_COMMAND: &[&str] = &["/usr/local/bin/entrypoint.sh", "/bin/sh", "-ce"];
/// The plugin's job script, before the test packages.
pub const DEFAULT_ARGS: &[&str] = &["/usr/local/bin/coverage-report.sh"];
/// Where the plugin mounts the commenter's GitHub token.
pub const TOKEN_MOUNT: &str = "/etc/github-commenter";
/// The token file inside the job: the secret's `oauth` key under [`TOKEN_MOUNT`] (the
/// commenter's convention), read by `livecov diff --github-report`.
pub const TOKEN_FILE: &str = "/etc/github-commenter/oauth";
/// The plugin's default token secret.
pub const DEFAULT_TOKEN_SECRET: &str = "commenter-oauth-token";

/// Creates ProwJobs.
#[derive(Debug, Clone)]
pub struct ProwJobRunner {
    conn: Connection,
    /// `--jobs-namespace`: where ProwJobs go unless the repository's `namespace` says.
    namespace: String,
    timeout: Duration,
}

impl ProwJobRunner {
    /// A runner over a resolved connection; `namespace` is `--jobs-namespace`.
    pub fn new(conn: Connection, namespace: String) -> ProwJobRunner {
        ProwJobRunner {
            conn,
            namespace,
            timeout: Duration::from_secs(15),
        }
    }

    /// The namespace `job` goes to: the repository's `namespace`, else
    /// `--jobs-namespace`.
    pub fn namespace_of(&self, job: &Job) -> String {
        job.repo
            .settings
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.namespace.clone())
    }

    /// Creates `job`'s ProwJob; returns its name.
    pub async fn submit(&self, job: &Job) -> Result<String, KubeError> {
        let namespace = self.namespace_of(job);
        let object = prowjob(job, &namespace);
        let path = format!("/apis/prow.k8s.io/v1/namespaces/{namespace}/prowjobs");
        let created =
            livecov_collect::kube::create(&self.conn, self.timeout, &path, &object, RBAC).await?;
        Ok(created["metadata"]["name"]
            .as_str()
            .unwrap_or(&job.name)
            .to_owned())
    }
}

/// Prow's duration text (`2h0m0s`, `15s`), the form its `decoration_config` takes.
fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// The ProwJob object of `job` in `namespace`.
pub fn prowjob(job: &Job, namespace: &str) -> Value {
    let s = &job.repo.settings;
    let pr = &job.pr;
    let name = &job.repo.context;
    let mut env: Vec<Value> = s
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    env.push(
        json!({"name": "COVERAGE_THRESHOLD", "value": format!("{}", job.repo.coverage_threshold)}),
    );
    if let Some(p) = s.patch_threshold {
        env.push(json!({"name": "PATCH_COVERAGE_THRESHOLD", "value": format!("{p}")}));
    }
    // The link the status and comment carry, resolved here, for a job that reports
    // itself (`livecov diff --github-report`); absent without `reportUrl`, so the object
    // stays the plugin's.
    if let Some(link) = job.link() {
        env.push(json!({"name": "LIVECOV_REPORT_URL", "value": link}));
    }
    let command: Vec<String> = if s.command.is_empty() {
        DEFAULT_COMMAND.iter().map(|c| c.to_string()).collect()
    } else {
        s.command.clone()
    };
    let script: Vec<String> = if s.args.is_empty() {
        DEFAULT_ARGS.iter().map(|c| c.to_string()).collect()
    } else {
        s.args.clone()
    };
    // `sh -ce` takes one script string: the script and the packages, as the plugin's.
    let args = vec![script
        .iter()
        .chain(&s.test_packages)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")];
    let gcs = s.gcs.clone().unwrap_or_default();
    let u = s.utility_images.clone().unwrap_or_default();
    let repo_link = format!("https://github.com/{}/{}", pr.org, pr.repo);
    json!({
        "apiVersion": "prow.k8s.io/v1",
        "kind": "ProwJob",
        "metadata": {
            "name": job.name,
            "namespace": namespace,
            "labels": {
                "created-by-prow": "true",
                "prow.k8s.io/type": "presubmit",
                "prow.k8s.io/job": name,
                "prow.k8s.io/refs.org": pr.org,
                "prow.k8s.io/refs.repo": pr.repo,
                "prow.k8s.io/refs.base_ref": pr.base_ref,
                "prow.k8s.io/refs.pull": pr.number.to_string(),
                "prow.k8s.io/context": name,
                "event-GUID": job.delivery,
                "coverage-plugin": "true",
            },
            "annotations": {
                "prow.k8s.io/job": name,
                "prow.k8s.io/context": name,
            },
        },
        "spec": {
            "type": "presubmit",
            "agent": "kubernetes",
            "cluster": s.cluster.clone().unwrap_or_default(),
            "namespace": namespace,
            "job": name,
            "context": name,
            "report": false,
            "rerun_command": "/coverage",
            "refs": {
                "org": pr.org,
                "repo": pr.repo,
                "repo_link": repo_link,
                "base_ref": pr.base_ref,
                "base_sha": pr.base_sha,
                "base_link": format!("{repo_link}/commit/{}", pr.base_sha),
                "pulls": [{
                    "number": pr.number,
                    "author": pr.author,
                    "sha": pr.head_sha,
                    "title": pr.title,
                    "ref": pr.head_ref,
                    "link": format!("{repo_link}/pull/{}", pr.number),
                    "commit_link": format!("{repo_link}/pull/{}/commits/{}", pr.number, pr.head_sha),
                    "author_link": format!("https://github.com/{}", pr.author),
                }],
            },
            "decoration_config": {
                "timeout": go_duration(60 * s.timeout_minutes.unwrap_or(120)),
                "grace_period": go_duration(s.grace_period_seconds.unwrap_or(15)),
                "utility_images": {
                    "clonerefs": u.clone_refs.unwrap_or_default(),
                    "initupload": u.init_upload.unwrap_or_default(),
                    "entrypoint": u.entrypoint.unwrap_or_default(),
                    "sidecar": u.sidecar.unwrap_or_default(),
                },
                "gcs_configuration": {
                    "bucket": gcs.bucket.unwrap_or_default(),
                    "path_strategy": gcs.path_strategy.unwrap_or_else(|| "explicit".to_owned()),
                },
                "gcs_credentials_secret": gcs.credentials_secret.unwrap_or_default(),
            },
            "pod_spec": {
                "containers": [{
                    "name": "test",
                    "image": s.image.clone().unwrap_or_default(),
                    "command": command,
                    "args": args,
                    "env": env,
                    "volumeMounts": [{
                        "name": "github-token",
                        "mountPath": TOKEN_MOUNT,
                        "readOnly": true,
                    }],
                }],
                "volumes": [{
                    "name": "github-token",
                    "secret": {
                        "secretName": s.github_token_secret.clone()
                            .unwrap_or_else(|| DEFAULT_TOKEN_SECRET.to_owned()),
                    },
                }],
            },
        },
        "status": {
            "state": "triggered",
            "startTime": crate::webhook::log::rfc3339(std::time::SystemTime::now()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_as_prow_reads_them() {
        assert_eq!(go_duration(7200), "2h0m0s");
        assert_eq!(go_duration(15), "15s");
        assert_eq!(go_duration(90), "1m30s");
    }
}
