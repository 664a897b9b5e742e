//! What the server shows of itself: counters for `/metrics` (Prometheus text format
//! 0.0.4), and the queue and recent jobs for `/queue` (JSON).

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Counters, each a Prometheus counter or gauge.
#[derive(Debug, Default)]
pub struct Counters {
    /// Deliveries queued.
    pub queued: AtomicU64,
    /// Replays refused.
    pub duplicate: AtomicU64,
    /// Acknowledged and ignored.
    pub ignored: AtomicU64,
    /// Refused: signature missing, malformed or wrong.
    pub bad_signature: AtomicU64,
    /// Refused: headers or JSON malformed.
    pub bad_request: AtomicU64,
    /// Refused: body over the limit.
    pub too_large: AtomicU64,
    /// Refused: queue full.
    pub queue_full: AtomicU64,
    /// Refused: shutting down.
    pub draining: AtomicU64,
    /// Queued deliveries that started a job.
    pub jobs_started: AtomicU64,
    /// Queued deliveries that needed no job (no matching file changed).
    pub skipped: AtomicU64,
    /// Queued deliveries whose handling failed (GitHub or Kubernetes errors).
    pub failed: AtomicU64,
    /// Queued deliveries handed back at shutdown.
    pub handed_back: AtomicU64,
    /// Deliveries being handled now.
    pub in_progress: AtomicU64,
    /// Local jobs running now.
    pub jobs_running: AtomicU64,
    /// Statuses posted, by state.
    pub status_pending: AtomicU64,
    /// Final statuses posted.
    pub status_final: AtomicU64,
    /// Informational statuses of late jobs.
    pub status_late: AtomicU64,
    /// Comments created or edited.
    pub comments: AtomicU64,
    /// GitHub calls that failed.
    pub github_errors: AtomicU64,
}

/// Adds one.
pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Subtracts one.
pub fn dec(c: &AtomicU64) {
    c.fetch_sub(1, Ordering::Relaxed);
}

/// Reads.
pub fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl Counters {
    /// The Prometheus text of the counters, with the queue's gauges.
    pub fn prometheus(&self, depth: usize, capacity: usize, state: &str) -> String {
        let mut s = String::new();
        let d = [
            ("queued", &self.queued),
            ("duplicate", &self.duplicate),
            ("ignored", &self.ignored),
            ("bad_signature", &self.bad_signature),
            ("bad_request", &self.bad_request),
            ("too_large", &self.too_large),
            ("queue_full", &self.queue_full),
            ("draining", &self.draining),
        ];
        s.push_str("# HELP livecov_webhook_deliveries_total Deliveries received, by what was done with them.\n");
        s.push_str("# TYPE livecov_webhook_deliveries_total counter\n");
        for (k, v) in d {
            let _ = writeln!(
                s,
                "livecov_webhook_deliveries_total{{result=\"{k}\"}} {}",
                get(v)
            );
        }
        s.push_str("# HELP livecov_webhook_handled_total Queued deliveries handled, by outcome.\n");
        s.push_str("# TYPE livecov_webhook_handled_total counter\n");
        for (k, v) in [
            ("job_started", &self.jobs_started),
            ("skipped", &self.skipped),
            ("failed", &self.failed),
            ("handed_back", &self.handed_back),
        ] {
            let _ = writeln!(
                s,
                "livecov_webhook_handled_total{{outcome=\"{k}\"}} {}",
                get(v)
            );
        }
        s.push_str("# HELP livecov_webhook_statuses_total Commit statuses posted, by kind.\n");
        s.push_str("# TYPE livecov_webhook_statuses_total counter\n");
        for (k, v) in [
            ("pending", &self.status_pending),
            ("final", &self.status_final),
            ("late", &self.status_late),
        ] {
            let _ = writeln!(
                s,
                "livecov_webhook_statuses_total{{kind=\"{k}\"}} {}",
                get(v)
            );
        }
        let gauges = [
            (
                "livecov_webhook_comments_total",
                "counter",
                "Coverage comments created or edited.",
                get(&self.comments),
            ),
            (
                "livecov_webhook_github_errors_total",
                "counter",
                "GitHub calls that failed.",
                get(&self.github_errors),
            ),
            (
                "livecov_webhook_queue_depth",
                "gauge",
                "Deliveries waiting in the queue.",
                depth as u64,
            ),
            (
                "livecov_webhook_queue_capacity",
                "gauge",
                "The queue's bound.",
                capacity as u64,
            ),
            (
                "livecov_webhook_in_progress",
                "gauge",
                "Deliveries being handled.",
                get(&self.in_progress),
            ),
            (
                "livecov_webhook_jobs_running",
                "gauge",
                "Local jobs running.",
                get(&self.jobs_running),
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        s.push_str("# HELP livecov_webhook_draining 1 while shutting down.\n# TYPE livecov_webhook_draining gauge\n");
        let _ = writeln!(
            s,
            "livecov_webhook_draining {}",
            u8::from(state != "running")
        );
        s
    }
}

/// One job as `/queue` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    /// `org/repo#N@sha`.
    pub job: String,
    /// The delivery.
    pub delivery: String,
    /// The job's name (ProwJob name, local directory).
    pub name: String,
    /// `pending`, `running`, `submitted`, `late`, `success`, `failure`, `error`, `dry-run`.
    pub state: String,
    /// More about the state.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The last jobs, newest last, at most `cap`.
#[derive(Debug)]
pub struct Jobs {
    cap: usize,
    list: VecDeque<JobView>,
}

impl Jobs {
    /// Empty, keeping `cap` jobs.
    pub fn new(cap: usize) -> Jobs {
        Jobs {
            cap,
            list: VecDeque::new(),
        }
    }

    /// Adds or replaces the job named `view.name`.
    pub fn set(&mut self, view: JobView) {
        if let Some(v) = self.list.iter_mut().rev().find(|v| v.name == view.name) {
            *v = view;
            return;
        }
        if self.list.len() == self.cap {
            self.list.pop_front();
        }
        self.list.push_back(view);
    }

    /// The state of the job `name`, when it is still listed.
    pub fn state(&self, name: &str) -> Option<String> {
        self.list
            .iter()
            .rev()
            .find(|v| v.name == name)
            .map(|v| v.state.clone())
    }

    /// The listed jobs, oldest first.
    pub fn all(&self) -> Vec<JobView> {
        self.list.iter().cloned().collect()
    }
}
