//! The workers: a queued delivery becomes a job (or a reason not to run one), a pending
//! status at once, then the runner; local jobs report their result here.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::event::{Decision, PullRequest};
use super::github::Status;
use super::runner::{self, Job, Outcome};
use super::state::{dec, inc, JobView};
use super::{lock, log, report, Queued, Runner, Webhook, HANDING_BACK};

/// Takes deliveries until the queue is closed; once handing back, takes them into the
/// hand-back list instead of handling them.
pub(super) async fn run(hook: Webhook) {
    loop {
        let next = { hook.inner.rx.lock().await.recv().await };
        let Some(q) = next else { return };
        if hook.inner.state.load(Ordering::SeqCst) >= HANDING_BACK {
            inc(&hook.inner.counters.handed_back);
            lock(&hook.inner.handed_back).push(q);
            continue;
        }
        inc(&hook.inner.counters.in_progress);
        let id = q.delivery.clone();
        if let Err(e) = handle(&hook, q).await {
            inc(&hook.inner.counters.failed);
            log::log("error", &format!("delivery {id}: {e:#}"));
        }
        dec(&hook.inner.counters.in_progress);
    }
}

async fn handle(hook: &Webhook, q: Queued) -> anyhow::Result<()> {
    let inner = &hook.inner;
    let gh = &inner.settings.github;
    let (pr, trigger) = match q.decision {
        Decision::PullRequest { action, pr } => (pr, action),
        Decision::Comment {
            org,
            repo,
            number,
            commenter,
        } => {
            let pr = gh
                .pull_request(&org, &repo, number)
                .await
                .inspect_err(|_| {
                    inc(&inner.counters.github_errors);
                })?;
            (pr, format!("/coverage by {commenter}"))
        }
        Decision::Ignore(_) => return Ok(()),
    };
    let Some(resolved) = inner.settings.config.resolve(&pr.full_name()) else {
        inc(&inner.counters.skipped);
        return Ok(());
    };
    if !trigger.starts_with("/coverage") {
        let files = gh
            .changed_files(&pr.org, &pr.repo, pr.number)
            .await
            .inspect_err(|_| inc(&inner.counters.github_errors))?;
        if !files.iter().any(|f| resolved.paths.is_match(f)) {
            inc(&inner.counters.skipped);
            log::log(
                "info",
                &format!(
                    "delivery {}: {}#{}: none of its {} changed files matches the paths that \
                     start a job; no job",
                    q.delivery,
                    pr.full_name(),
                    pr.number,
                    files.len()
                ),
            );
            return Ok(());
        }
    }
    let job = Job {
        delivery: q.delivery.clone(),
        trigger,
        pr,
        repo: resolved,
        name: runner::uuid(),
    };
    let what = match &inner.settings.runner {
        Runner::ProwJob(_) => "coverage job submitted to Prow",
        Runner::Local(_) => "coverage job queued",
        Runner::DryRun => "dry run: no coverage job will run",
    };
    post_status(hook, &job, &report::pending(&job, what)).await?;
    inc(&inner.counters.status_pending);
    set_job(hook, &job, "pending", "");
    match &inner.settings.runner {
        Runner::DryRun => {
            log::log(
                "info",
                &format!(
                    "delivery {}: dry run: would run the coverage job of {} ({})",
                    job.delivery,
                    job.label(),
                    job.trigger
                ),
            );
            let status = Status {
                state: "success".into(),
                description: "informational: dry run, no coverage job was run".into(),
                target_url: None,
                context: job.repo.context.clone(),
            };
            post_status(hook, &job, &status).await?;
            inc(&inner.counters.status_final);
            set_job(hook, &job, "dry-run", "");
        }
        Runner::ProwJob(prow) => {
            let object = runner::prowjob::prowjob(&job, &prow.namespace_of(&job));
            if inner.settings.dry_run {
                log::log("info", &format!("--dry-run: would create ProwJob {object}"));
            } else {
                match prow.submit(&job).await {
                    Ok(name) => {
                        log::log(
                            "info",
                            &format!(
                                "delivery {}: {}: created ProwJob {}/{name}",
                                job.delivery,
                                job.label(),
                                prow.namespace_of(&job)
                            ),
                        );
                    }
                    Err(e) => {
                        let status = Status {
                            state: "error".into(),
                            description: "livecov: the coverage job could not be created".into(),
                            target_url: None,
                            context: job.repo.context.clone(),
                        };
                        let _ = post_status(hook, &job, &status).await;
                        set_job(hook, &job, "error", &e.to_string());
                        anyhow::bail!("{}: creating the ProwJob: {e}", job.label());
                    }
                }
            }
            set_job(hook, &job, "submitted", "");
            spawn_late_check(hook, &job);
        }
        Runner::Local(local) => {
            let local = local.clone();
            let h = hook.clone();
            let j = job.clone();
            let slots = Arc::clone(&inner.job_slots);
            inc(&inner.counters.jobs_running);
            let task = tokio::spawn(async move {
                let _slot = slots.acquire_owned().await;
                set_job(&h, &j, "running", "");
                let token = h.inner.settings.github.token_for_git();
                let outcome = local.run(&j, token.as_deref()).await;
                finish(&h, &j, &outcome).await;
                lock(&h.inner.running).remove(&j.name);
                dec(&h.inner.counters.jobs_running);
            });
            lock(&inner.running).insert(job.name.clone(), (job.clone(), task.abort_handle()));
            spawn_late_check(hook, &job);
        }
    }
    inc(&inner.counters.jobs_started);
    Ok(())
}

fn set_job(hook: &Webhook, job: &Job, state: &str, detail: &str) {
    lock(&hook.inner.jobs).set(JobView {
        job: job.label(),
        delivery: job.delivery.clone(),
        name: job.name.clone(),
        state: state.into(),
        detail: detail.into(),
    });
}

async fn post_status(hook: &Webhook, job: &Job, status: &Status) -> anyhow::Result<()> {
    let pr = &job.pr;
    if hook.inner.settings.dry_run {
        log::log(
            "info",
            &format!(
                "--dry-run: would post status {} {:?} to {}",
                status.state,
                status.description,
                job.label()
            ),
        );
        return Ok(());
    }
    hook.inner
        .settings
        .github
        .create_status(&pr.org, &pr.repo, &pr.head_sha, status)
        .await
        .inspect_err(|_| inc(&hook.inner.counters.github_errors))?;
    Ok(())
}

/// Posts a finished local job's status and edits its comment.
async fn finish(hook: &Webhook, job: &Job, outcome: &Outcome) {
    let status = report::final_status(job, outcome);
    log::log(
        "info",
        &format!(
            "{}: {} {}{}",
            job.label(),
            status.state,
            status.description,
            outcome
                .error
                .as_deref()
                .map(|e| format!("\n{e}"))
                .unwrap_or_default()
        ),
    );
    set_job(hook, job, &status.state, &status.description);
    match post_status(hook, job, &status).await {
        Ok(()) => inc(&hook.inner.counters.status_final),
        Err(e) => log::log(
            "error",
            &format!("{}: posting the status: {e:#}", job.label()),
        ),
    }
    if let Err(e) = comment(hook, job, &report::comment(job, outcome)).await {
        log::log(
            "error",
            &format!("{}: writing the comment: {e:#}", job.label()),
        );
    }
}

async fn comment(hook: &Webhook, job: &Job, body: &str) -> anyhow::Result<()> {
    let pr: &PullRequest = &job.pr;
    if hook.inner.settings.dry_run {
        log::log(
            "info",
            &format!(
                "--dry-run: would write the coverage comment of {}",
                job.label()
            ),
        );
        return Ok(());
    }
    let key = format!("{}#{}", pr.full_name(), pr.number);
    let pr_lock = Arc::clone(lock(&hook.inner.comment_locks).entry(key).or_default());
    let _held = pr_lock.lock().await;
    hook.inner
        .settings
        .github
        .upsert_comment(&pr.org, &pr.repo, pr.number, &report::marker(job), body)
        .await
        .inspect_err(|_| inc(&hook.inner.counters.github_errors))?;
    inc(&hook.inner.counters.comments);
    Ok(())
}

/// After the repository's deadline, an informational status when the job has no
/// result yet: a local job still listed as pending or running; a ProwJob whose latest
/// status in the context is still pending.
fn spawn_late_check(hook: &Webhook, job: &Job) {
    let hook = hook.clone();
    let job = job.clone();
    tokio::spawn(async move {
        tokio::time::sleep(job.repo.late_after).await;
        let late = match &hook.inner.settings.runner {
            Runner::ProwJob(_) => {
                let pr = &job.pr;
                match hook
                    .inner
                    .settings
                    .github
                    .statuses(&pr.org, &pr.repo, &pr.head_sha)
                    .await
                {
                    Ok(list) => list
                        .iter()
                        .find(|s| s.context == job.repo.context)
                        .is_some_and(|s| s.state == "pending"),
                    Err(e) => {
                        log::log("warn", &format!("{}: reading statuses: {e}", job.label()));
                        false
                    }
                }
            }
            _ => lock(&hook.inner.jobs)
                .state(&job.name)
                .is_some_and(|s| s == "pending" || s == "running"),
        };
        if late {
            let after = report::after(job.repo.late_after);
            if post_status(&hook, &job, &report::late(&job)).await.is_ok() {
                inc(&hook.inner.counters.status_late);
                set_job(&hook, &job, "late", &format!("no result after {after}"));
                log::log(
                    "warn",
                    &format!(
                        "{}: no result after {after}; posted an informational status",
                        job.label()
                    ),
                );
            }
        }
    });
}

/// The status of a local job stopped by shutdown.
pub(super) async fn stopped(hook: &Webhook, job: &Job) {
    let status = Status {
        state: "error".into(),
        description:
            "livecov: the server stopped before the job ended; comment /coverage to run it again"
                .into(),
        target_url: job.link(),
        context: job.repo.context.clone(),
    };
    set_job(hook, job, "error", "stopped by shutdown");
    let _ = post_status(hook, job, &status).await;
}
