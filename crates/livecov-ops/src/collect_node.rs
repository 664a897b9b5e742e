//! The parts of `collect` for a DaemonSet: node mode (`--node`, targets found in `/proc`
//! and named after the node's pods) and the object-store output (`--output URL`, the
//! producer's layout, so `cluster download` and `compile` read it unchanged). Kept apart
//! from the round loop of [`crate::collect`], which calls each once per round.

use anyhow::{Context, Result};
use livecov_collect::download::upload::Uploader;
use livecov_collect::download::DownloadOptions;
use livecov_collect::kube::Connection;
use livecov_collect::live::{Client, CollectionWriter, Target};
use livecov_collect::node::{self, NodeSettings};
use livecov_model::Severity;

use crate::Reporter;

/// Node mode's state across rounds.
#[derive(Debug)]
pub struct NodeMode {
    settings: NodeSettings,
    node: String,
    conn: Option<Connection>,
}

/// What a round of node mode adds to the round's targets.
#[derive(Debug, Default)]
pub struct NodeTargets {
    /// Confirmed coverage servers.
    pub targets: Vec<Target>,
    /// Problems reported this round (each also went to the reporter).
    pub failures: usize,
}

impl NodeMode {
    /// Node mode for `settings`, `None` without. The API credentials are resolved once;
    /// without any, only host processes are collected (the producer's "bootstrap mode"),
    /// which is reported.
    pub fn new(
        settings: Option<&NodeSettings>,
        reporter: &dyn Reporter,
    ) -> Result<Option<NodeMode>> {
        let Some(settings) = settings else {
            return Ok(None);
        };
        let node = settings.resolved_node_name();
        let conn = match Connection::from_settings(&settings.kube) {
            Ok(c) => Some(c),
            Err(e) => {
                reporter.diagnostic(
                    Severity::Warning,
                    &format!(
                        "node {node}: no Kubernetes API ({e}); collecting host processes \
                         only, processes in containers are left out"
                    ),
                );
                None
            }
        };
        reporter.note(&format!(
            "node mode: node {node}, processes from {}",
            settings.proc_root.display()
        ));
        Ok(Some(NodeMode {
            settings: settings.clone(),
            node,
            conn,
        }))
    }

    /// The node's name, which host processes are recorded under.
    pub fn node_name(&self) -> &str {
        &self.node
    }

    /// One round of discovery; `first` reports what was not confirmed (once, not every
    /// round).
    pub async fn round(
        &self,
        client: &Client,
        first: bool,
        reporter: &dyn Reporter,
    ) -> NodeTargets {
        let found = node::discover(&self.settings, &self.node, self.conn.as_ref(), client).await;
        let mut out = NodeTargets {
            failures: found.problems.len(),
            ..NodeTargets::default()
        };
        for p in &found.problems {
            reporter.diagnostic(Severity::Error, &format!("node {}: {p}", self.node));
        }
        if first {
            if found.targets.is_empty() {
                reporter.note(&format!(
                    "node {}: no coverage server among the processes' listening sockets",
                    self.node
                ));
            }
            for u in &found.unconfirmed {
                reporter.note(&format!("node {}: not a coverage server: {u}", self.node));
            }
        }
        if found.unmatched > 0 {
            reporter.diagnostic(
                Severity::Warning,
                &format!(
                    "node {}: {} processes in containers left out this round: the API does \
                     not list their pods (yet)",
                    self.node, found.unmatched
                ),
            );
        }
        out.targets = found.targets;
        out
    }
}

/// `--output`: the collection's series uploaded after each round.
#[derive(Debug)]
pub struct Output {
    uploader: Uploader,
}

impl Output {
    /// An output to `opts`'s URL, `None` without.
    pub fn new(opts: Option<&DownloadOptions>, reporter: &dyn Reporter) -> Result<Option<Output>> {
        let Some(opts) = opts else { return Ok(None) };
        let uploader = Uploader::new(opts).context("setting up --output")?;
        reporter.note(&format!(
            "writing the producer's layout to {}",
            uploader.base()
        ));
        Ok(Some(Output { uploader }))
    }

    /// Uploads what changed in `writer`'s series; returns the failed files (each
    /// reported).
    pub async fn sync(&mut self, writer: &CollectionWriter, reporter: &dyn Reporter) -> usize {
        let series: Vec<(String, std::path::PathBuf)> = writer
            .series()
            .map(|s| (s.instance.key_dir(), s.dir.clone()))
            .collect();
        let done = self.uploader.sync(&series).await;
        for e in &done.errors {
            reporter.diagnostic(Severity::Error, &format!("--output: {e}"));
        }
        done.errors.len()
    }
}
