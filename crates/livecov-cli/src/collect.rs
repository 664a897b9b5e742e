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
livecov collect --collection run1 --kubernetes -n e2e -l app=web --watch 30s\n  \
livecov collect --node --output s3://bucket/coverage/my-cluster --watch 10s   # a DaemonSet"
)]
#[command(group(clap::ArgGroup::new("api").args(["kubernetes", "node"]).multiple(true)))]
pub struct CollectArgs {
    /// The collection directory (created when missing). Optional with --output, which
    /// then stages the snapshots in a temporary directory and compiles nothing.
    #[arg(long, value_name = "DIR", required_unless_present = "output")]
    pub collection: Option<PathBuf>,

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

    /// Reset every target's counters (Go agents in atomic mode; Python agents forget
    /// the lines run so far): right after the first snapshot, so later rounds hold only
    /// what ran since; or, with a COMMAND, before it runs, so the snapshot holds only what
    /// the command exercised.
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

    /// With --kubernetes or --node: the kubeconfig (default KUBECONFIG, ~/.kube/config,
    /// else in-cluster).
    #[arg(long, value_name = "FILE", requires = "api")]
    pub kubeconfig: Option<PathBuf>,

    /// With --kubernetes or --node: the kubeconfig context (default its current-context).
    #[arg(long, value_name = "NAME", requires = "api")]
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

    #[command(flatten)]
    pub node: Box<NodeArgs>,
}

/// The flags of node mode and `--output` (a DaemonSet's collector).
#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    /// Node mode, for a DaemonSet (hostPID, hostNetwork): find the coverage servers of
    /// this node's processes from /proc (listening sockets on 53700-53799, the process's
    /// COVERAGE_PORT or its pod's declared coverage ports, confirmed with GET /health),
    /// name each after its pod (cgroup container id matched to the containerStatuses of
    /// the node's pods, listed through the API with spec.nodeName) and reach it directly
    /// at its pod IP (127.0.0.1 for host processes and hostNetwork pods). Processes in
    /// no pod are collected as host processes of the node. The token needs list pods
    /// cluster-wide; reading other processes' /proc/PID/fd needs root or CAP_SYS_PTRACE.
    #[arg(long, conflicts_with = "kubernetes")]
    pub node: bool,

    /// With --node: the node's name as the API knows it (default NODE_NAME, which the
    /// manifests in deploy/ set from spec.nodeName, else the host name).
    #[arg(long, value_name = "NAME", requires = "node")]
    pub node_name: Option<String>,

    /// With --node: where the node's /proc is mounted (default /proc).
    #[arg(long, value_name = "DIR", requires = "node", default_value = "/proc")]
    pub proc: PathBuf,

    /// Also write the producer's layout (what `cluster download URL` reads) to an object
    /// store after each round: s3://bucket/prefix, gs://bucket/prefix,
    /// az://container/prefix, file:///abs/dir or a local directory. Credentials as for
    /// `cluster download` (AWS_*, ~/.aws profiles, GOOGLE_*, AZURE_*).
    #[arg(long, value_name = "URL")]
    pub output: Option<String>,

    /// With --output: endpoint of an S3-compatible server, GCS emulator or Azure account
    /// URL (as `cluster download --endpoint`).
    #[arg(long, value_name = "URL", requires = "output")]
    pub endpoint: Option<String>,

    /// With --output: AWS region (s3:// only).
    #[arg(long, value_name = "REGION", requires = "output")]
    pub region: Option<String>,

    /// With --output: AWS profile from ~/.aws/credentials and ~/.aws/config (s3:// only).
    #[arg(long, value_name = "NAME", requires = "output")]
    pub profile: Option<String>,

    /// With --output: an object_store option for the provider, e.g.
    /// aws_access_key_id=… (repeatable).
    #[arg(long = "store-option", value_name = "KEY=VALUE", requires = "output")]
    pub store_options: Vec<String>,
}

impl NodeArgs {
    /// Node mode's and --output's settings.
    fn apply(&self, args: &CollectArgs, settings: &mut CollectSettings) -> Result<()> {
        if self.node {
            settings.node = Some(livecov_collect::node::NodeSettings {
                node_name: self.node_name.clone(),
                proc_root: self.proc.clone(),
                kube: livecov_collect::kube::KubeSettings {
                    kubeconfig: args.kubeconfig.clone(),
                    context: args.context.clone(),
                    timeout: args.timeout,
                    ..Default::default()
                },
                concurrency: args.concurrency,
            });
        }
        if let Some(url) = &self.output {
            let mut opts = livecov_collect::download::DownloadOptions::new(url, "")
                .endpoint(self.endpoint.clone())
                .region(self.region.clone())
                .profile(self.profile.clone());
            for o in &self.store_options {
                match o.split_once('=') {
                    Some((k, v)) if !k.trim().is_empty() => opts = opts.store_option(k.trim(), v),
                    _ => anyhow::bail!("--store-option {o:?} is not KEY=VALUE"),
                }
            }
            settings.output = Some(opts);
        }
        Ok(())
    }
}

/// `KEY=VALUE`, the key not empty.
fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("{s:?}: expected KEY=VALUE, e.g. run=nightly-42")),
    }
}

/// `500ms`, `10s`, `2m`, `1h`, or whole seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
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

/// A staging directory, removed when the run ends.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `livecov collect`.
pub fn run(args: &CollectArgs) -> Result<Exit> {
    // With --output alone, the snapshots are staged in a directory of their own.
    let (collection, _staging) = match &args.collection {
        Some(c) => (c.clone(), None),
        None => {
            let dir = std::env::temp_dir().join(format!("livecov-collect-{}", std::process::id()));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the staging directory {}", dir.display()))?;
            (dir.clone(), Some(Staging(dir)))
        }
    };
    let mut settings = CollectSettings::new(&collection, args.targets.clone());
    settings.compile_store = args.collection.is_some();
    args.node.apply(args, &mut settings)?;
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
        .with_context(|| format!("collecting into {}", collection.display()))?;
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
            collection.join("livecov.db").display()
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
