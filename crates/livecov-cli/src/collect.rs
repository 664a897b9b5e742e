//! `livecov collect`: snapshots of live processes into a collection.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use livecov_ops::collect::{collect, CollectSettings, Stop};

use crate::exit::Exit;
use crate::progress::TermReporter;

/// Flags of `livecov collect`.
#[derive(clap::Args, Debug)]
#[command(
    about = "Collect coverage from running processes into a collection",
    long_about = "Asks coverage servers (livecov's Go and Python agents, or the \
coverage_server.go of OpenShift builds) for a snapshot, writes it into \
<collection>/coverage/ in the producer's layout (one directory per process; a restarted \
process or a new binary starts a new one) and compiles the collection, so `livecov report` \
and `livecov render` work at once.\n\n\
Targets are URLs (http://10.0.0.7:53700) or host:port, given as arguments or found by \
--scan HOST (ports 53700-53799). A target that fails is reported and, with --watch, tried \
again next round; what the others gave is kept. The exit status is 2 when a target failed \
in the last round.",
    after_help = "Examples:\n  \
livecov collect --collection run1 127.0.0.1:53700 127.0.0.1:53701\n  \
livecov collect --collection run1 --scan 10.0.0.7 --watch 10s\n  \
livecov collect --collection run1 --scan 127.0.0.1 --reset --watch 5s\n  \
livecov collect --collection run1 --scenario login --reset 127.0.0.1:53700 -- ./e2e.sh login\n  \
livecov collect --collection run1 --kubernetes -n e2e -l app=web --watch 30s"
)]
pub struct CollectArgs {
    /// The collection directory (created when missing).
    #[arg(long, value_name = "DIR")]
    pub collection: PathBuf,

    /// Coverage servers: URLs or host:port.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Scan HOST's ports 53700-53799 for coverage servers (every round; repeatable).
    #[arg(long, value_name = "HOST")]
    pub scan: Vec<String>,

    /// Keep collecting until interrupted (SIGINT/SIGTERM), rounds at most INTERVAL apart
    /// (1s, then doubling up to INTERVAL): `500ms`, `10s`, `2m`.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration)]
    pub watch: Option<Duration>,

    /// With --watch: stop after N rounds.
    #[arg(long, value_name = "N")]
    pub rounds: Option<u32>,

    /// Reset every target's counters (atomic-mode agents): right after the first
    /// snapshot, so later rounds hold only what ran since; or, with a COMMAND, before it
    /// runs, so the snapshot holds only what the command exercised.
    #[arg(long)]
    pub reset: bool,

    /// Label every snapshot of this run KEY=VALUE (repeatable): kept with the input in
    /// the store, e.g. run=nightly-42.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_label)]
    pub label: Vec<(String, String)>,

    /// The E2E scenario these snapshots belong to (the label scenario=NAME). `report
    /// --scenario NAME` and the site show what each scenario ran, and build pages say
    /// which scenarios executed each line.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,

    /// A scenario to run, after `--`: with --reset the targets are reset first, then
    /// the command runs, then one snapshot is taken, so the scenario's coverage is a
    /// delta. Its exit status is reported; the snapshot is kept even when it fails.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,

    /// Time allowed for one request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Receive snapshots that agents push (LIVECOV_PUSH_URL=http://ADDR/) on ADDR, e.g.
    /// 0.0.0.0:8431; runs until interrupted, like --watch.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,

    /// File holding the bearer token pushes must carry (with --listen). Without it any
    /// push is accepted: use that on loopback or trusted networks only.
    #[arg(long, value_name = "FILE", requires = "listen")]
    pub token_file: Option<PathBuf>,

    /// Collect from pods listed through the Kubernetes API (kubeconfig or in-cluster
    /// credentials), reached through the API server's pod proxy: no port-forward, no
    /// route to the pods needed. The token needs `list pods` and `get pods/proxy`.
    #[arg(long)]
    pub kubernetes: bool,

    /// With --kubernetes: the kubeconfig (default KUBECONFIG, ~/.kube/config, else
    /// in-cluster).
    #[arg(long, value_name = "FILE", requires = "kubernetes")]
    pub kubeconfig: Option<PathBuf>,

    /// With --kubernetes: the kubeconfig context (default its current-context).
    #[arg(long, value_name = "NAME", requires = "kubernetes")]
    pub context: Option<String>,

    /// With --kubernetes: only pods of this namespace (default all namespaces).
    #[arg(long, short = 'n', value_name = "NS", requires = "kubernetes")]
    pub namespace: Option<String>,

    /// With --kubernetes: only pods matching this label selector (app=web,tier!=db).
    #[arg(long, short = 'l', value_name = "SELECTOR", requires = "kubernetes")]
    pub selector: Option<String>,

    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,
}

/// `KEY=VALUE`, the key not empty.
fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("{s:?}: expected KEY=VALUE, e.g. run=nightly-42")),
    }
}

/// `500ms`, `10s`, `2m`, `1h`, or whole seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration like 500ms, 10s, 2m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    if d.is_zero() {
        return Err(format!("{s:?}: must be more than zero"));
    }
    Ok(d)
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// Runs `livecov collect`.
pub fn run(args: &CollectArgs) -> Result<Exit> {
    let mut settings = CollectSettings::new(&args.collection, args.targets.clone());
    settings.scan = args.scan.clone();
    settings.watch = args.watch;
    settings.rounds = args.rounds;
    settings.labels = args.label.iter().cloned().collect();
    if let Some(name) = &args.scenario {
        if name.trim().is_empty() {
            anyhow::bail!("--scenario needs a name");
        }
        if let Some(other) = settings.labels.get("scenario").filter(|v| *v != name) {
            anyhow::bail!("--scenario {name:?} and --label scenario={other:?} disagree");
        }
        settings.labels.insert("scenario".into(), name.clone());
    }
    if args.command.is_empty() {
        settings.reset_after_first = args.reset;
    } else {
        if args.watch.is_some() || args.listen.is_some() {
            anyhow::bail!(
                "a scenario COMMAND takes one snapshot after it: leave out --watch and --listen"
            );
        }
        if !args.reset {
            eprintln!(
                "note: without --reset the snapshot also holds what ran before the scenario command"
            );
        }
        settings.command = Some(args.command.clone());
        settings.reset_before_command = args.reset;
    }
    settings.timeout = args.timeout;
    settings.concurrency = args.concurrency;
    settings.listen = args.listen;
    if args.kubernetes {
        settings.kubernetes = Some(livecov_collect::kube::KubeSettings {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            namespace: args.namespace.clone(),
            selector: args.selector.clone(),
            timeout: args.timeout,
        });
    }
    if let Some(f) = &args.token_file {
        let token = std::fs::read_to_string(f)
            .with_context(|| format!("reading the token file {}", f.display()))?;
        let token = token.trim().to_owned();
        if token.is_empty() {
            anyhow::bail!("{}: the token file is empty", f.display());
        }
        settings.push_token = Some(token);
    }
    let stop = Stop::default();
    if args.watch.is_some() || args.listen.is_some() {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
            libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        }
        let stop = stop.clone();
        std::thread::spawn(move || loop {
            if SIGNALLED.load(Ordering::SeqCst) {
                stop.stop();
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        });
    }
    let reporter = TermReporter::new();
    let summary = collect(&settings, &reporter, &stop)
        .with_context(|| format!("collecting into {}", args.collection.display()))?;
    eprintln!(
        "collected {} snapshots from {} targets in {} rounds ({} process series); {} failed requests",
        summary.snapshots, summary.targets, summary.rounds, summary.series, summary.failures
    );
    if let Some(c) = &summary.compiled {
        eprintln!(
            "compiled {} inputs; {} builds; {} owners; store: {}",
            c.compiled,
            c.builds,
            c.owners,
            args.collection.join("livecov.db").display()
        );
    }
    let command_ok = summary.command_status.is_none_or(|s| s.success());
    Ok(
        if summary.failing.is_empty() && summary.snapshots > 0 && command_ok {
            Exit::Ok
        } else {
            Exit::Error
        },
    )
}
