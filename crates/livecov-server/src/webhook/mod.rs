//! The GitHub webhook (`livecov serve --webhook`): deliveries in, coverage jobs out,
//! results back on the pull request as a commit status and one comment.
//!
//! ```text
//!  POST endpoint ─> size limit ─> signature ─> payload ─> decision ─> dedup ─> queue ──┐
//!   (413)           (401)         (400)        (ignored:   (200 dup)  (503    │
//!                                               200+reason)            full)   │
//!  workers <─────────────────────────────────────────────────────────────────────┘
//!    changed files match `paths`? ─> pending status ─> runner (prowjob|local|dry-run)
//!    local: job task ─> final status + comment edited in place; late timer ─> info status
//! ```
//!
//! A delivery is answered as soon as it is queued, so GitHub never waits on a job. The
//! queue is bounded (a full queue answers 503, the delivery is not remembered and a
//! redelivery is taken); deliveries are remembered by `X-GitHub-Delivery` in bounded
//! memory ([`dedup`]). On SIGTERM the server stops taking deliveries (503), finishes the
//! queued ones within the grace period, and hands back the rest: written to the
//! hand-off file, which the next start queues again, or listed in the log when there
//! is none. `/queue` and the log say which happened.

pub mod config;
pub mod dedup;
pub mod event;
pub mod github;
mod http;
pub mod inside;
pub mod log;
pub mod report;
pub mod runner;
pub mod signature;
pub mod state;
mod worker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use self::config::Config;
use self::event::Decision;
use self::github::GitHub;
use self::runner::local::LocalRunner;
use self::runner::prowjob::ProwJobRunner;
use self::signature::Secret;
use self::state::{get, Counters, Jobs};

/// Where jobs run.
#[derive(Debug, Clone)]
pub enum Runner {
    /// ProwJobs through the Kubernetes API.
    ProwJob(ProwJobRunner),
    /// Commands on this machine.
    Local(LocalRunner),
    /// Nothing runs: the job is logged, a pending and an informational status posted.
    DryRun,
}

impl Runner {
    /// `prowjob`, `local` or `dry-run`.
    pub fn name(&self) -> &'static str {
        match self {
            Runner::ProwJob(_) => "prowjob",
            Runner::Local(_) => "local",
            Runner::DryRun => "dry-run",
        }
    }
}

/// Everything the webhook needs, resolved (no flags here).
#[derive(Debug)]
pub struct WebhookSettings {
    /// The path deliveries are POSTed to. Default `/`.
    pub endpoint: String,
    /// The webhook secret.
    pub secret: Secret,
    /// The per-repository configuration.
    pub config: Config,
    /// The GitHub client.
    pub github: GitHub,
    /// Where jobs run.
    pub runner: Runner,
    /// The plugin's `--dry-run`: nothing is written to GitHub or Kubernetes; each write
    /// is logged instead.
    pub dry_run: bool,
    /// Deliveries the queue holds. Default 4096.
    pub queue_capacity: usize,
    /// Workers taking deliveries off the queue, each waiting on GitHub for one delivery
    /// at a time (GitHub answers in ~100 ms: a burst needs many). Default 64.
    pub workers: usize,
    /// Local jobs running at once. Default 2.
    pub max_jobs: usize,
    /// Delivery ids remembered for deduplication. Default 100,000.
    pub dedup_capacity: usize,
    /// The largest body taken (GitHub caps payloads at 25 MB). Default 25 MiB.
    pub max_body_bytes: usize,
    /// On shutdown, how long queued deliveries and running jobs may take. Default 30 s.
    pub grace: Duration,
    /// Where deliveries not handled by the end of the grace period are written (JSON
    /// lines), to be queued again by the next start. Default: none (they are logged).
    pub handoff: Option<PathBuf>,
}

impl WebhookSettings {
    /// Settings with the defaults above.
    pub fn new(secret: Secret, config: Config, github: GitHub, runner: Runner) -> WebhookSettings {
        WebhookSettings {
            endpoint: "/".into(),
            secret,
            config,
            github,
            runner,
            dry_run: false,
            queue_capacity: 4096,
            workers: 64,
            max_jobs: 2,
            dedup_capacity: 100_000,
            max_body_bytes: 25 << 20,
            grace: Duration::from_secs(30),
            handoff: None,
        }
    }
}

/// A queued delivery: what the worker needs, and what a hand-off file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    /// `X-GitHub-Delivery`.
    pub delivery: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// What to do.
    pub decision: Decision,
    #[serde(skip)]
    received: Option<Instant>,
}

const RUNNING: u8 = 0;
const DRAINING: u8 = 1;
const HANDING_BACK: u8 = 2;
const STOPPED: u8 = 3;

fn state_name(s: u8) -> &'static str {
    match s {
        RUNNING => "running",
        DRAINING => "draining",
        HANDING_BACK => "handing-back",
        _ => "stopped",
    }
}

/// What shutdown did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShutdownReport {
    /// Deliveries handled during the grace period.
    pub finished: u64,
    /// Deliveries handed back, by id.
    pub handed_back: Vec<String>,
    /// Where they were written, when a hand-off file is set.
    pub handoff: Option<PathBuf>,
    /// Local jobs stopped before they ended (their status says so).
    pub jobs_stopped: Vec<String>,
}

struct Inner {
    settings: WebhookSettings,
    seen: Mutex<dedup::Seen>,
    tx: Mutex<Option<mpsc::Sender<Queued>>>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Queued>>,
    state: AtomicU8,
    counters: Counters,
    jobs: Mutex<Jobs>,
    handed_back: Mutex<Vec<Queued>>,
    /// Local jobs running: name -> (job, task).
    running: Mutex<HashMap<String, (runner::Job, tokio::task::AbortHandle)>>,
    job_slots: Arc<tokio::sync::Semaphore>,
    /// One lock per pull request, so that two results never both create a comment.
    comment_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    shutdown_report: Mutex<Option<ShutdownReport>>,
}

/// The webhook: cheap to clone, shared by the router and the workers.
#[derive(Clone)]
pub struct Webhook {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind, still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Webhook {
    /// A webhook with `settings`; deliveries of a hand-off file left by the previous run
    /// are queued again (and the file removed). Workers start with [`Webhook::start`].
    pub fn new(settings: WebhookSettings) -> anyhow::Result<Webhook> {
        let (tx, rx) = mpsc::channel(settings.queue_capacity.max(1));
        let mut seen = dedup::Seen::new(settings.dedup_capacity);
        let mut resumed = Vec::new();
        if let Some(path) = &settings.handoff {
            if path.exists() {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
                for (i, line) in text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                {
                    let q: Queued = serde_json::from_str(line).map_err(|e| {
                        anyhow::anyhow!(
                            "{}:{}: not a handed-back delivery: {e}",
                            path.display(),
                            i + 1
                        )
                    })?;
                    resumed.push(q);
                }
            }
        }
        let slots = settings.max_jobs.max(1);
        let hook = Webhook {
            inner: Arc::new(Inner {
                settings,
                seen: Mutex::new(dedup::Seen::new(0)),
                tx: Mutex::new(Some(tx)),
                rx: tokio::sync::Mutex::new(rx),
                state: AtomicU8::new(RUNNING),
                counters: Counters::default(),
                jobs: Mutex::new(Jobs::new(500)),
                handed_back: Mutex::new(Vec::new()),
                running: Mutex::new(HashMap::new()),
                job_slots: Arc::new(tokio::sync::Semaphore::new(slots)),
                comment_locks: Mutex::new(HashMap::new()),
                shutdown_report: Mutex::new(None),
            }),
        };
        let n = resumed.len();
        for mut q in resumed {
            seen.insert(&q.delivery);
            q.received = Some(Instant::now());
            if let Some(tx) = lock(&hook.inner.tx).as_ref() {
                if tx.try_send(q).is_ok() {
                    state::inc(&hook.inner.counters.queued);
                }
            }
        }
        *lock(&hook.inner.seen) = seen;
        if let Some(path) = &hook.inner.settings.handoff {
            if n > 0 {
                log::log(
                    "info",
                    &format!(
                        "queued {n} deliveries handed back by the previous run ({})",
                        path.display()
                    ),
                );
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(hook)
    }

    /// The webhook's routes: `POST <endpoint>`, `GET /healthz`, `/queue`, `/metrics`.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// Starts the workers on the current Tokio runtime.
    pub fn start(&self) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.inner.settings.workers.max(1))
            .map(|_| tokio::spawn(worker::run(self.clone())))
            .collect()
    }

    fn state(&self) -> u8 {
        self.inner.state.load(Ordering::SeqCst)
    }

    fn depth(&self) -> usize {
        lock(&self.inner.tx)
            .as_ref()
            .map_or(0, |tx| tx.max_capacity() - tx.capacity())
    }

    /// Stops taking deliveries (503), lets the workers finish the queue and the running
    /// local jobs within the grace period, then hands back what is left; `workers` are
    /// the handles [`Webhook::start`] returned.
    pub async fn shutdown(&self, workers: Vec<tokio::task::JoinHandle<()>>) -> ShutdownReport {
        let inner = &self.inner;
        let grace = inner.settings.grace;
        let handled_before = self.handled();
        inner.state.store(DRAINING, Ordering::SeqCst);
        log::log(
            "info",
            &format!(
                "shutting down: {} deliveries queued, {} being handled, {} local jobs running; \
                 finishing them within {grace:?}, new deliveries get 503",
                self.depth(),
                get(&inner.counters.in_progress),
                get(&inner.counters.jobs_running)
            ),
        );
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline
            && (self.depth() > 0
                || get(&inner.counters.in_progress) > 0
                || !lock(&inner.running).is_empty())
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        inner.state.store(HANDING_BACK, Ordering::SeqCst);
        // Dropping the sender closes the queue: the workers take what is left (handing it
        // back, see worker::run) and stop.
        drop(lock(&inner.tx).take());
        for w in workers {
            let _ = w.await;
        }
        let mut jobs_stopped = Vec::new();
        let running: Vec<_> = lock(&inner.running).drain().collect();
        for (name, (job, task)) in running {
            task.abort();
            worker::stopped(self, &job).await;
            jobs_stopped.push(name);
        }
        let handed: Vec<Queued> = std::mem::take(&mut *lock(&inner.handed_back));
        let ids: Vec<String> = handed.iter().map(|q| q.delivery.clone()).collect();
        let mut handoff = None;
        if !handed.is_empty() {
            match &inner.settings.handoff {
                Some(path) => {
                    let text: String = handed
                        .iter()
                        .filter_map(|q| serde_json::to_string(q).ok())
                        .map(|l| l + "\n")
                        .collect();
                    match std::fs::write(path, text) {
                        Ok(()) => {
                            log::log(
                                "info",
                                &format!(
                                    "handed back {} deliveries to {} (the next start queues them)",
                                    ids.len(),
                                    path.display()
                                ),
                            );
                            handoff = Some(path.clone());
                        }
                        Err(e) => log::log(
                            "error",
                            &format!(
                                "cannot write {}: {e}; deliveries not handled: {}; redeliver them \
                                 from the webhook's Recent Deliveries",
                                path.display(),
                                ids.join(", ")
                            ),
                        ),
                    }
                }
                None => log::log(
                    "warn",
                    &format!(
                        "handed back {} deliveries, not handled (no --handoff-file): {}; redeliver \
                         them from the webhook's Recent Deliveries",
                        ids.len(),
                        ids.join(", ")
                    ),
                ),
            }
        } else {
            log::log("info", "shutdown: every queued delivery was handled");
        }
        let report = ShutdownReport {
            finished: self.handled() - handled_before,
            handed_back: ids,
            handoff,
            jobs_stopped,
        };
        *lock(&inner.shutdown_report) = Some(report.clone());
        inner.state.store(STOPPED, Ordering::SeqCst);
        report
    }

    fn handled(&self) -> u64 {
        let c = &self.inner.counters;
        get(&c.jobs_started) + get(&c.skipped) + get(&c.failed)
    }
}

/// Serves `hook` on `listener` until `stop` resolves, then shuts down as
/// [`Webhook::shutdown`] does, keeping `/queue` and `/metrics` up meanwhile.
pub async fn serve(
    hook: Webhook,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<ShutdownReport> {
    let router = crate::router([hook.router()]);
    let workers = hook.start();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        crate::listen::serve(listener, router, async {
            let _ = done_rx.await;
        })
        .await
    });
    stop.await;
    let report = hook.shutdown(workers).await;
    let _ = done_tx.send(());
    server.await??;
    Ok(report)
}

/// Runs the webhook on `address:port` until SIGTERM or SIGINT, then shuts down as
/// [`serve`] does and logs what was finished and handed back. `runner` names the runner
/// in the first log line. Blocks: it owns its multi-threaded runtime.
pub fn run_until_signalled(
    settings: WebhookSettings,
    address: &str,
    port: u16,
    runner: &str,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let dry_run = settings.dry_run;
    let endpoint = settings.endpoint.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let hook = Webhook::new(settings)?;
        let listener = tokio::net::TcpListener::bind((address, port))
            .await
            .with_context(|| format!("listening on {address}:{port}"))?;
        let addr = listener.local_addr()?;
        log::log(
            "info",
            &format!(
                "livecov webhook listening on http://{addr}{endpoint} (runner {runner}{})",
                if dry_run { ", --dry-run" } else { "" }
            ),
        );
        let report = serve(hook, listener, signalled()).await?;
        log::log(
            "info",
            &format!(
                "stopped: {} deliveries finished during shutdown, {} handed back{}",
                report.finished,
                report.handed_back.len(),
                report
                    .handoff
                    .as_ref()
                    .map(|p| format!(" to {}", p.display()))
                    .unwrap_or_default()
            ),
        );
        Ok(())
    })
}

/// Resolves on SIGTERM or SIGINT.
pub(crate) async fn signalled() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => log::log("info", "SIGTERM"),
        _ = tokio::signal::ctrl_c() => log::log("info", "SIGINT"),
    }
}
