//! Where operations send progress and problems: a front end gives a [`Reporter`] (the CLI
//! one draws progress bars on a terminal and plain lines elsewhere; a server would log
//! or stream them), and the operation never prints. It lives in the model so every
//! layer (collect's downloads, ops' compile and render) reports through the same sink.

use crate::Severity;

/// The sink of an operation's progress, notes and diagnostics. Called from worker
/// threads, so it is `Sync`.
pub trait Reporter: Sync {
    /// A problem that cost a file, a record or an input; the operation goes on. The
    /// message names the file and, where known, the byte offset or line.
    fn diagnostic(&self, severity: Severity, message: &str);
    /// Something the user should know that is not a problem (waiting for a lock, a
    /// fallback taken).
    fn note(&self, message: &str);
    /// A phase starts (`compile`, `download`, `clone-sources`, `render`), with its number
    /// of steps when known.
    fn start(&self, phase: &str, total: Option<u64>);
    /// `n` more steps of the current phase are done; `item` names the last one.
    fn advance(&self, n: u64, item: &str);
    /// The current phase is done.
    fn finish(&self);
}

/// A reporter that keeps nothing (for callers that only want the summary).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {
    fn diagnostic(&self, _: Severity, _: &str) {}
    fn note(&self, _: &str) {}
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64, _: &str) {}
    fn finish(&self) {}
}

/// A reporter that records every call, for tests and for front ends that show
/// diagnostics after the run.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Diagnostics in the order they were reported.
    pub diagnostics: std::sync::Mutex<Vec<(Severity, String)>>,
    /// Notes in the order they were reported.
    pub notes: std::sync::Mutex<Vec<String>>,
    /// Phases in the order they started.
    pub phases: std::sync::Mutex<Vec<Phase>>,
}

/// One phase as a [`Recorder`] saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// Its name, as given to [`Reporter::start`].
    pub name: String,
    /// Its announced number of steps.
    pub total: Option<u64>,
    /// The steps reported done.
    pub done: u64,
    /// Whether [`Reporter::finish`] was called.
    pub finished: bool,
}

impl Reporter for Recorder {
    fn diagnostic(&self, severity: Severity, message: &str) {
        self.diagnostics
            .lock()
            .expect("recorder lock")
            .push((severity, message.to_owned()));
    }
    fn note(&self, message: &str) {
        self.notes
            .lock()
            .expect("recorder lock")
            .push(message.to_owned());
    }
    fn start(&self, phase: &str, total: Option<u64>) {
        self.phases.lock().expect("recorder lock").push(Phase {
            name: phase.to_owned(),
            total,
            done: 0,
            finished: false,
        });
    }
    fn advance(&self, n: u64, _: &str) {
        if let Some(p) = self.phases.lock().expect("recorder lock").last_mut() {
            p.done += n;
        }
    }
    fn finish(&self) {
        if let Some(p) = self.phases.lock().expect("recorder lock").last_mut() {
            p.finished = true;
        }
    }
}
