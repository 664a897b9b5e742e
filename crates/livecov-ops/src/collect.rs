//! `collect`: snapshots of live processes into a collection, then compiled, so `report`
//! and `render` work at once.
//!
//! A round asks every target for a snapshot (the meta-data file only the first time of
//! each process), writes it as the next snapshot of that process's series, and compiles
//! the collection. With a watch interval, rounds repeat until the round limit or a stop
//! request; the interval starts at one second and doubles up to the one given, as the
//! deployed producer polls young processes more often. A target that fails is reported
//! and tried again next round; what others gave is kept.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use futures::stream::{self, StreamExt};
use livecov_collect::live::{
    Client, CollectionWriter, LiveError, SnapshotData, Target, SCAN_PORTS,
};
use livecov_model::Severity;

use crate::compile::{compile, CompileSettings};
use crate::Reporter;

/// What to collect from, where to, and how often.
#[derive(Clone, Debug)]
pub struct CollectSettings {
    /// The collection: snapshots go to `<collection>/coverage/`, the store is compiled.
    pub collection: PathBuf,
    /// Targets as the user wrote them: URLs or `host:port`.
    pub targets: Vec<String>,
    /// Hosts whose ports 53700–53799 are scanned for coverage servers each round.
    pub scan: Vec<String>,
    /// Targets found elsewhere (Kubernetes discovery), with the client that reaches them.
    pub discovered: Vec<Target>,
    /// Poll until stopped, at most this far apart; `None`: one round.
    pub watch: Option<Duration>,
    /// Stop after this many rounds (with `watch`).
    pub rounds: Option<u32>,
    /// Time allowed for one request.
    pub timeout: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// `POST /coverage/reset` on every target after its snapshot of the first round, so
    /// what the next rounds collect is what ran after it (scenarios).
    pub reset_after_first: bool,
    /// Compile after each round.
    pub compile: CompileSettings,
    /// Bearer token for the targets (the API server's, for pod proxies).
    pub token: Option<String>,
    /// Extra CA certificates (PEM) for https targets.
    pub ca: Vec<Vec<u8>>,
    /// Receive agents' pushes on this address (and collect until stopped).
    pub listen: Option<std::net::SocketAddr>,
    /// The bearer token pushes must carry.
    pub push_token: Option<String>,
    /// Pods to collect from, listed through this Kubernetes API server and reached
    /// through its pod proxy (listed again every round).
    pub kubernetes: Option<livecov_collect::kube::KubeSettings>,
    /// Node mode: the coverage servers of this node's processes, found in `/proc` and
    /// named after the node's pods (see [`crate::collect_node`]).
    pub node: Option<livecov_collect::node::NodeSettings>,
    /// Also write the producer's layout to this object store (`--output`); see
    /// [`crate::collect_node::Output`].
    pub output: Option<livecov_collect::download::DownloadOptions>,
    /// Compile the collection's store after each round. Default: true; false when the
    /// collection is only a staging directory for `--output`.
    pub compile_store: bool,
    /// Labels of every snapshot written (`scenario` names the scenario that ran).
    pub labels: BTreeMap<String, String>,
    /// A scenario to run before the first snapshot: with `reset_before_command`, every
    /// target is reset first, so the snapshot is what the command exercised.
    pub command: Option<Vec<String>>,
    /// Reset every target before running `command` (instead of after the first
    /// snapshot).
    pub reset_before_command: bool,
}

impl CollectSettings {
    /// One round from `targets` into `collection`, 10 s per request, compiled with the
    /// default settings.
    pub fn new(collection: impl Into<PathBuf>, targets: Vec<String>) -> CollectSettings {
        let collection = collection.into();
        CollectSettings {
            compile: CompileSettings::new(collection.clone()),
            collection,
            targets,
            scan: Vec::new(),
            discovered: Vec::new(),
            watch: None,
            rounds: None,
            timeout: Duration::from_secs(10),
            concurrency: 16,
            reset_after_first: false,
            token: None,
            ca: Vec::new(),
            listen: None,
            push_token: None,
            kubernetes: None,
            node: None,
            output: None,
            compile_store: true,
            labels: BTreeMap::new(),
            command: None,
            reset_before_command: false,
        }
    }
}

/// What a collect run did.
#[derive(Debug, Default)]
pub struct CollectSummary {
    /// Rounds run.
    pub rounds: u32,
    /// Distinct targets asked.
    pub targets: usize,
    /// Snapshots written.
    pub snapshots: usize,
    /// Process series in the collection from this run.
    pub series: usize,
    /// Failed requests (each also reported as a diagnostic when it happened).
    pub failures: usize,
    /// Targets that failed in the last round.
    pub failing: Vec<String>,
    /// The last compile's summary.
    pub compiled: Option<crate::compile::Summary>,
    /// How the scenario command ended, when one ran.
    pub command_status: Option<std::process::ExitStatus>,
}

/// A handle that stops a watching [`collect`] after its current round.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Asks the run to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Runs the scenario command with livecov's standard streams.
fn run_command(command: &[String], reporter: &dyn Reporter) -> Result<std::process::ExitStatus> {
    let (program, args) = command
        .split_first()
        .context("the scenario command is empty")?;
    reporter.note(&format!("running the scenario: {}", command.join(" ")));
    let status = std::process::Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("running the scenario command {program:?}"))?;
    if !status.success() {
        reporter.diagnostic(
            Severity::Error,
            &format!(
                "the scenario command {program:?} failed ({status}); its coverage is collected anyway"
            ),
        );
    }
    Ok(status)
}

/// Collects as `settings` says; `stop` ends a watch after the current round.
pub fn collect(
    settings: &CollectSettings,
    reporter: &dyn Reporter,
    stop: &Stop,
) -> Result<CollectSummary> {
    let mut fixed = Vec::new();
    for word in &settings.targets {
        fixed.push(Target::parse(word)?);
    }
    fixed.extend(settings.discovered.iter().cloned());
    if fixed.is_empty()
        && settings.scan.is_empty()
        && settings.listen.is_none()
        && settings.kubernetes.is_none()
        && settings.node.is_none()
    {
        anyhow::bail!(
            "nothing to collect from: give targets (URL or host:port), --scan HOST, \
             --kubernetes, --node or --listen ADDR"
        );
    }
    let client = Client::new(
        settings.timeout,
        settings.token.clone(),
        &settings.ca,
        false,
    )?;
    let node = crate::collect_node::NodeMode::new(settings.node.as_ref(), reporter)?;
    let mut writer = CollectionWriter::new(&settings.collection)
        .with_context(|| {
            format!(
                "creating {}",
                settings.collection.join("coverage").display()
            )
        })?
        .host_name(node.as_ref().map(|n| n.node_name().to_owned()))
        .with_labels(settings.labels.clone());
    let mut output = crate::collect_node::Output::new(settings.output.as_ref(), reporter)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut pushes = None;
    if let Some(addr) = settings.listen {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .with_context(|| format!("listening on {addr} for pushes"))?;
        let bound = listener.local_addr()?;
        reporter.note(&format!("receiving pushes on http://{bound}/"));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let push = livecov_collect::push::PushSettings {
            token: settings.push_token.clone(),
            ..Default::default()
        };
        runtime.spawn(livecov_collect::push::serve(listener, push, tx));
        pushes = Some(rx);
    }
    // Identical pushes (a retry of one that landed) are written once.
    let mut pushed_seen = std::collections::HashSet::new();
    let mut summary = CollectSummary::default();
    let mut seen = std::collections::BTreeSet::new();
    let mut interval = Duration::from_secs(1);
    let mut reset_failed: Vec<String> = Vec::new();
    loop {
        summary.rounds += 1;
        let mut targets = fixed.clone();
        for host in &settings.scan {
            let found = runtime.block_on(client.scan(host, SCAN_PORTS, settings.concurrency));
            if found.is_empty() && summary.rounds == 1 {
                reporter.note(&format!(
                    "scan of {host}: no coverage server on ports {}-{}",
                    SCAN_PORTS.start,
                    SCAN_PORTS.end - 1
                ));
            }
            targets.extend(found.into_iter().map(|(t, _)| t));
        }
        // Pods, through the API server: its own client (its token goes nowhere else).
        let mut kube_client = None;
        if let Some(kube) = &settings.kubernetes {
            match runtime.block_on(livecov_collect::kube::discover(kube)) {
                Ok((c, pods)) => {
                    if pods.is_empty() && summary.rounds == 1 {
                        reporter.note("kubernetes: no running pod matched");
                    }
                    targets.extend(pods);
                    kube_client = Some(c);
                }
                Err(e) => {
                    reporter.diagnostic(Severity::Error, &format!("kubernetes: {e}"));
                    summary.failures += 1;
                }
            }
        }
        if let Some(node) = &node {
            let found = runtime.block_on(node.round(&client, summary.rounds == 1, reporter));
            summary.failures += found.failures;
            targets.extend(found.targets);
        }
        targets.sort();
        targets.dedup();
        seen.extend(targets.iter().map(|t| t.url.clone()));
        if summary.rounds == 1 {
            if let Some(command) = &settings.command {
                if settings.reset_before_command {
                    reporter.start("reset", Some(targets.len() as u64));
                    for target in &targets {
                        reporter.advance(1, &target.url);
                        let client = match (&target.pod, &kube_client) {
                            (Some(_), Some(k)) => k,
                            _ => &client,
                        };
                        match runtime.block_on(client.reset(target)) {
                            Ok(()) => writer.close_target(&target.url).with_context(|| {
                                format!("{}: ending its series after the reset", target.url)
                            })?,
                            Err(e) => {
                                reporter.diagnostic(Severity::Error, &e.to_string());
                                summary.failures += 1;
                                reset_failed.push(target.url.clone());
                            }
                        }
                    }
                    reporter.finish();
                }
                summary.command_status = Some(run_command(command, reporter)?);
            }
        }
        reporter.start("collect", Some(targets.len() as u64));
        // Every target is asked for its counters only (`?nometa=1`, a fraction of the
        // agent's work and bytes); the meta-data file is fetched once per build the
        // collection does not hold yet, from one of its processes, not from each.
        let mut results: Vec<(Target, Result<livecov_collect::live::Snapshot, LiveError>)> =
            runtime.block_on(
                stream::iter(targets.iter().cloned())
                    .map(|t| {
                        let client = match (&t.pod, &kube_client) {
                            (Some(_), Some(k)) => k,
                            _ => &client,
                        };
                        async move {
                            let r = client.snapshot(&t, true).await;
                            (t, r)
                        }
                    })
                    .buffer_unordered(settings.concurrency.max(1))
                    .collect(),
            );
        let mut metas: std::collections::HashMap<[u8; 16], Vec<u8>> =
            std::collections::HashMap::new();
        for (target, result) in &mut results {
            let Ok(snap) = result else { continue };
            let SnapshotData::Go(go) = &mut snap.data else {
                continue;
            };
            if go.meta.is_some() || writer.has_meta(target) {
                continue;
            }
            if let Some(meta) = metas
                .get(&go.hash)
                .cloned()
                .or_else(|| writer.meta_for(&go.hash))
            {
                go.meta = Some(meta);
                continue;
            }
            let client = match (&target.pod, &kube_client) {
                (Some(_), Some(k)) => k,
                _ => &client,
            };
            // A build new to the collection: this process's full snapshot.
            *result = runtime
                .block_on(client.snapshot(target, false))
                .and_then(|full| {
                    if full.lacks_meta() {
                        return Err(LiveError::Protocol {
                            url: target.url.clone(),
                            why: "answered without meta_data".into(),
                        });
                    }
                    if let SnapshotData::Go(g) = &full.data {
                        if let Some(m) = &g.meta {
                            metas.insert(g.hash, m.clone());
                        }
                    }
                    Ok(full)
                });
        }
        summary.failing.clear();
        // A target the scenario's reset did not reach fails the run.
        summary.failing.append(&mut reset_failed);
        for (target, result) in results {
            reporter.advance(1, &target.url);
            let written = match result {
                Ok(snap) => match writer.write(&target, &snap, now_secs()) {
                    Ok(_) => {
                        if let Some(w) = snap.warning() {
                            reporter.diagnostic(Severity::Warning, &format!("{}: {w}", target.url));
                        }
                        Ok(())
                    }
                    Err(_) if snap.lacks_meta() => {
                        // The process changed since the last round: ask again, with meta.
                        let client = match (&target.pod, &kube_client) {
                            (Some(_), Some(k)) => k,
                            _ => &client,
                        };
                        runtime
                            .block_on(client.snapshot(&target, false))
                            .map_err(|e| e.to_string())
                            .and_then(|s| {
                                writer
                                    .write(&target, &s, now_secs())
                                    .map(|_| ())
                                    .map_err(|e| e.to_string())
                            })
                    }
                    Err(e) => Err(format!("{}: writing the snapshot: {e}", target.url)),
                },
                Err(e) => Err(e.to_string()),
            };
            match written {
                Ok(()) => {
                    summary.snapshots += 1;
                    if settings.reset_after_first && summary.rounds == 1 {
                        let client = match (&target.pod, &kube_client) {
                            (Some(_), Some(k)) => k,
                            _ => &client,
                        };
                        match runtime.block_on(client.reset(&target)) {
                            // What it serves next is a new reading: a new series.
                            Ok(()) => writer.close_target(&target.url).with_context(|| {
                                format!("{}: ending its series after the reset", target.url)
                            })?,
                            Err(e) => {
                                // The series is left open: whether the agent reset is
                                // unknown. The run fails, so the user hears of it.
                                reporter.diagnostic(Severity::Error, &e.to_string());
                                summary.failures += 1;
                                summary.failing.push(target.url.clone());
                            }
                        }
                    }
                }
                Err(e) => {
                    reporter.diagnostic(Severity::Error, &e);
                    summary.failures += 1;
                    summary.failing.push(target.url.clone());
                }
            }
        }
        reporter.finish();
        if let Some(rx) = pushes.as_mut() {
            while let Ok(p) = rx.try_recv() {
                if !pushed_seen.insert(p.snapshot.content_key()) {
                    continue;
                }
                let target = Target {
                    url: format!("push://{}", p.remote.ip()),
                    pod: None,
                };
                seen.insert(target.url.clone());
                match writer.write(&target, &p.snapshot, now_secs()) {
                    Ok(_) => {
                        summary.snapshots += 1;
                        if let Some(w) = p.snapshot.warning() {
                            reporter.diagnostic(Severity::Warning, &format!("{}: {w}", target.url));
                        }
                    }
                    Err(e) => {
                        reporter.diagnostic(
                            Severity::Error,
                            &format!("{}: writing a pushed snapshot: {e}", target.url),
                        );
                        summary.failures += 1;
                    }
                }
            }
        }
        if let Some(out) = output.as_mut() {
            summary.failures += runtime.block_on(out.sync(&writer, reporter));
        }
        if summary.snapshots > 0 && settings.compile_store {
            summary.compiled = Some(compile(&settings.compile, reporter)?);
        }
        let done = (settings.watch.is_none() && settings.listen.is_none())
            || settings.rounds.is_some_and(|n| summary.rounds >= n)
            || stop.requested();
        if done {
            break;
        }
        let max = settings.watch.unwrap_or(Duration::from_secs(2));
        let wait = interval.min(max);
        interval = (interval * 2).min(max);
        // Sleep in small steps so a stop request is honoured promptly.
        let until = std::time::Instant::now() + wait;
        while std::time::Instant::now() < until && !stop.requested() {
            std::thread::sleep(Duration::from_millis(50).min(wait));
        }
        if stop.requested() {
            break;
        }
    }
    summary.targets = seen.len();
    summary.series = writer.series().count();
    Ok(summary)
}
