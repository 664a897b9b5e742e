//! `livecov serve`: the dashboard over a store (the site rendered on demand, a JSON API)
//! or, with `--webhook`, the GitHub webhook server, with the Prow coverage plugin's flags
//! (so its Deployment runs unchanged) and livecov's own.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use livecov_server::webhook::config::Config;
use livecov_server::webhook::github::{GitHub, TokenSource};
use livecov_server::webhook::runner::local::LocalRunner;
use livecov_server::webhook::runner::prowjob::ProwJobRunner;
use livecov_server::webhook::signature::Secret;
use livecov_server::webhook::{log::log, Runner, WebhookSettings};

use crate::exit::Exit;

/// Where jobs run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunnerKind {
    /// ProwJobs through the Kubernetes API (the plugin's way).
    Prowjob,
    /// Commands on this machine: git checkout, the test command, `livecov diff`.
    Local,
    /// Nothing runs; a pending and an informational status are posted.
    DryRun,
}

/// Flags of `livecov serve`.
#[derive(clap::Args, Debug)]
#[command(
    about = "Serve livecov over HTTP: the dashboard of a store, or the GitHub webhook",
    long_about = "Serve livecov over HTTP.\n\n\
Without --webhook: the dashboard. GET / lists the collections (--root DIR: every \
subdirectory holding a livecov.db; --collection DIR: one; --store postgres://…: every \
collection of the database), /c/NAME/ is a collection's site \
(the same index and build pages as `cluster render` writes, rendered on demand from the \
store and cached; a compile or a sources fetch shows within a second), and /api/... answers \
in JSON: /api/collections, /api/collections/NAME (summary and diagnostics), …/builds, \
…/owners, …/builds/ID/files, …/builds/ID/lines?file=PATH, …/export?format=lcov&build=ID. \
Listens on 127.0.0.1:8080 unless --listen says otherwise; the pages and the API have no \
authentication, so put it behind one before listening on other addresses.\n\n\
With --ingest-token-file: POST /api/ingest/NAME takes an agent's pushed snapshot \
(LIVECOV_PUSH_URL=http://HOST:8080/api/ingest/NAME), PUT /api/ingest/NAME/files/DIR/FILE \
one file of a report directory (CI uploads), POST /api/ingest/NAME/compile compiles now; \
otherwise a compile runs half a second after the last write. Each needs \
`Authorization: Bearer TOKEN`; bodies over --max-upload-bytes get 413; what is already held \
is not written again.\n\n\
With --webhook: GitHub deliveries (pull_request \
opened, synchronize, reopened, ready_for_review; issue_comment `/coverage` from an allowed \
member) are checked (X-Hub-Signature-256), deduplicated by X-GitHub-Delivery and queued; \
each starts a coverage job (a ProwJob, a local command or a dry run) with a pending commit \
status at once, then the result as a status with patch and total coverage and one pull \
request comment edited in place.\n\n\
Also serves GET /healthz, /queue (JSON) and /metrics (Prometheus). On SIGTERM the queued \
deliveries are finished within --shutdown-grace and the rest handed back (--handoff-file, \
or listed in the log).\n\n\
Secrets are read from files (or GITHUB_TOKEN / GITHUB_WEBHOOK_SECRET), never from the \
command line.",
    after_help = "Examples:\n  \
livecov serve --webhook --hmac-secret-file /etc/webhook/hmac --github-token-path /etc/github/oauth \\\n    \
--github-endpoint http://ghproxy --github-endpoint https://api.github.com \\\n    \
--jobs-namespace kubevirt-prow-jobs --config /etc/coverage/config.yaml\n  \
livecov serve --webhook --runner local --config coverage.yaml --port 9901\n  \
livecov serve --root /data/collections --listen 127.0.0.1:8080\n  \
livecov serve --collection run1 --sources /var/cache/livecov-sources\n  \
livecov serve --store postgres://livecov@db/coverage --data-dir /data/ingest --sources /data/sources"
)]
pub struct ServeArgs {
    /// Serve the GitHub webhook instead of the dashboard.
    #[arg(long)]
    pub webhook: bool,
    /// Dashboard: serve every collection under this directory (each subdirectory that
    /// holds a livecov.db).
    #[arg(long, value_name = "DIR", help_heading = "Dashboard", conflicts_with_all = ["collection"])]
    pub root: Option<PathBuf>,
    /// Dashboard: serve this one collection directory.
    #[arg(long, value_name = "DIR", help_heading = "Dashboard", conflicts_with_all = ["store"])]
    pub collection: Option<PathBuf>,
    /// Dashboard: serve every collection of this store: `postgres://USER@HOST/DB` (the
    /// password from the URL, PGPASSWORD or ~/.pgpass) or `sqlite:PATH` [default:
    /// $LIVECOV_STORE when neither --root nor --collection is given].
    #[arg(long, value_name = "URL", help_heading = "Dashboard", conflicts_with_all = ["root"])]
    pub store: Option<String>,
    /// Dashboard with a PostgreSQL store: where ingest writes each collection's raw files
    /// (`DIR/NAME/coverage/`), and the collections' sources/ unless --sources.
    #[arg(long, value_name = "DIR", help_heading = "Dashboard")]
    pub data_dir: Option<PathBuf>,
    /// Dashboard: the address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        help_heading = "Dashboard"
    )]
    pub listen: String,
    /// Dashboard: the git cache of `clone-sources` shared by the collections [default:
    /// each collection's sources/].
    #[arg(long, value_name = "DIR", help_heading = "Dashboard")]
    pub sources: Option<PathBuf>,
    /// Dashboard: bytes of rendered build pages kept in memory, gzipped. Over it, the
    /// file scripts of the least recently used pages go first and their HTML stays.
    #[arg(long, value_name = "BYTES", default_value_t = 512 << 20, help_heading = "Dashboard")]
    pub cache_bytes: usize,
    /// Dashboard: a namespace prefix the index hides by default (repeatable) [default:
    /// e2e- and openshift-must-gather-].
    #[arg(long, value_name = "PREFIX", help_heading = "Dashboard")]
    pub hide_namespace_prefix: Vec<String>,
    /// Dashboard: turn on ingest (/api/ingest/NAME for agents' pushes and CI uploads);
    /// every request must carry `Authorization: Bearer <the file's token>`. Without the
    /// file, LIVECOV_INGEST_TOKEN.
    #[arg(long, value_name = "FILE", help_heading = "Dashboard")]
    pub ingest_token_file: Option<PathBuf>,
    /// Dashboard: the largest ingest body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20, help_heading = "Dashboard")]
    pub max_upload_bytes: usize,
    /// The port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 9901)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub address: String,
    /// The path GitHub POSTs deliveries to.
    #[arg(long, default_value = "/")]
    pub endpoint: String,
    /// The file holding the webhook's secret (a trailing newline is ignored). Without
    /// the file, GITHUB_WEBHOOK_SECRET.
    #[arg(long, value_name = "FILE", default_value = "/etc/webhook/hmac")]
    pub hmac_secret_file: PathBuf,
    /// The file holding the GitHub token, read at each request. Without it, GITHUB_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub github_token_path: Option<PathBuf>,
    /// A GitHub API endpoint (repeatable, tried in order: the first that answers wins).
    #[arg(long, value_name = "URL", default_value = "https://api.github.com")]
    pub github_endpoint: Vec<String>,
    /// The namespace of the ProwJobs, unless a repository's `namespace` says otherwise.
    #[arg(long, value_name = "NS", default_value = "default")]
    pub jobs_namespace: String,
    /// A kubeconfig for the ProwJob runner [default: KUBECONFIG, ~/.kube/config, or
    /// in-cluster].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Write nothing to GitHub or Kubernetes: log each write instead. Takes
    /// `--dry-run=false` as the plugin's Deployment passes it.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false",
          value_name = "BOOL", require_equals = true)]
    pub dry_run: bool,
    /// The per-repository configuration (YAML: defaults, repos.<org/repo> overrides).
    #[arg(long, value_name = "FILE", default_value = "/etc/coverage/config.yaml")]
    pub config: PathBuf,
    /// Where jobs run.
    #[arg(long, value_enum, default_value = "prowjob")]
    pub runner: RunnerKind,
    /// The plugin's --coverage-dirs: test packages of repositories whose configuration
    /// has none (comma-separated).
    #[arg(long, value_name = "PKGS", value_delimiter = ',')]
    pub coverage_dirs: Vec<String>,
    /// Local runner: where job directories go.
    #[arg(long, value_name = "DIR", default_value = "/var/tmp/livecov-webhook")]
    pub work_dir: PathBuf,
    /// Local runner: the livecov binary that runs `diff` and `render` [default: this one].
    #[arg(long, value_name = "FILE", hide = true)]
    pub livecov_bin: Option<PathBuf>,
    /// Local runner: jobs running at once.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub max_jobs: usize,
    /// Deliveries the queue holds; more get 503.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub queue_size: usize,
    /// Workers taking deliveries off the queue (each waits on GitHub for one delivery
    /// at a time, so a burst needs many).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub workers: usize,
    /// The largest delivery body taken, in bytes (GitHub sends at most 25 MB).
    #[arg(long, value_name = "BYTES", default_value_t = 25 << 20)]
    pub max_body_bytes: usize,
    /// Delivery ids remembered to refuse replays.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub dedup_size: usize,
    /// On SIGTERM, how long queued deliveries and running jobs may take: 0s, 500ms, 30s.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_grace)]
    pub shutdown_grace: Duration,
    /// Where deliveries not handled by the end of the grace period are written; the
    /// next start queues them again.
    #[arg(long, value_name = "FILE")]
    pub handoff_file: Option<PathBuf>,
    /// The time limit of each GitHub request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_grace)]
    pub github_timeout: Duration,
}

fn parse_grace(s: &str) -> Result<Duration, String> {
    if s.trim_end_matches(['s', 'm', 'h'])
        .trim_end_matches("ms")
        .chars()
        .all(|c| c == '0')
        && !s.is_empty()
    {
        return Ok(Duration::ZERO);
    }
    crate::collect::parse_duration(s)
}

/// Runs `livecov serve`.
pub fn run(args: &ServeArgs) -> Result<Exit> {
    if !args.webhook {
        return dashboard(args);
    }
    let secret = match std::fs::read(&args.hmac_secret_file) {
        Ok(bytes) => bytes,
        Err(e) => match std::env::var("GITHUB_WEBHOOK_SECRET") {
            Ok(v) if !v.is_empty() => v.into_bytes(),
            _ => {
                return Err(e).with_context(|| {
                    format!(
                        "reading the webhook secret {}\nhint: pass --hmac-secret-file FILE or set \
                         GITHUB_WEBHOOK_SECRET",
                        args.hmac_secret_file.display()
                    )
                })
            }
        },
    };
    if secret.trim_ascii().is_empty() {
        anyhow::bail!(
            "the webhook secret is empty ({})",
            args.hmac_secret_file.display()
        );
    }
    let prow = args.runner == RunnerKind::Prowjob;
    let config = Config::load(&args.config, prow, &args.coverage_dirs)?;
    let token = match &args.github_token_path {
        Some(p) => {
            std::fs::metadata(p).with_context(|| format!("the GitHub token {}", p.display()))?;
            TokenSource::File(p.clone())
        }
        None => match std::env::var("GITHUB_TOKEN") {
            Ok(v) if !v.trim().is_empty() => TokenSource::Value(v.trim().to_owned()),
            _ => TokenSource::None,
        },
    };
    if matches!(token, TokenSource::None) {
        log(
            "warn",
            "no GitHub token (--github-token-path or GITHUB_TOKEN): GitHub calls are anonymous",
        );
    }
    let github = GitHub::new(args.github_endpoint.clone(), token, args.github_timeout);
    let runner = match args.runner {
        RunnerKind::DryRun => Runner::DryRun,
        RunnerKind::Local => Runner::Local(LocalRunner {
            work_dir: args.work_dir.clone(),
            livecov: match &args.livecov_bin {
                Some(p) => p.clone(),
                None => std::env::current_exe().context("finding the livecov binary")?,
            },
            timeout: Duration::from_secs(120 * 60),
        }),
        RunnerKind::Prowjob => {
            let settings = livecov_collect::kube::KubeSettings {
                kubeconfig: args.kubeconfig.clone(),
                ..Default::default()
            };
            let conn = if args.dry_run {
                // Nothing is created; credentials may be absent.
                livecov_collect::kube::Connection::from_settings(&settings).unwrap_or_else(|_| {
                    livecov_collect::kube::Connection {
                        server: String::new(),
                        ca_pem: Vec::new(),
                        token: String::new(),
                        insecure: false,
                        namespace: None,
                        origin: "none (--dry-run)".into(),
                    }
                })
            } else {
                livecov_collect::kube::Connection::from_settings(&settings)?
            };
            log(
                "info",
                &format!("ProwJobs go to {} ({})", conn.server, conn.origin),
            );
            Runner::ProwJob(ProwJobRunner::new(conn, args.jobs_namespace.clone()))
        }
    };
    let mut settings = WebhookSettings::new(Secret::new(&secret), config, github, runner);
    settings.endpoint = args.endpoint.clone();
    settings.dry_run = args.dry_run;
    settings.queue_capacity = args.queue_size;
    settings.workers = args.workers;
    settings.max_jobs = args.max_jobs;
    settings.dedup_capacity = args.dedup_size;
    settings.max_body_bytes = args.max_body_bytes;
    settings.grace = args.shutdown_grace;
    settings.handoff = args.handoff_file.clone();
    let runner = match args.runner {
        RunnerKind::Prowjob => "prowjob",
        RunnerKind::Local => "local",
        RunnerKind::DryRun => "dry-run",
    };
    livecov_server::webhook::run_until_signalled(settings, &args.address, args.port, runner)?;
    Ok(Exit::Ok)
}

/// `livecov serve` without `--webhook`: the dashboard.
fn dashboard(args: &ServeArgs) -> Result<Exit> {
    use livecov_server::dashboard::Catalog;
    use livecov_server::dashboard::{Collections, DashboardSettings};
    let store = args.store.clone().or_else(|| {
        (args.root.is_none() && args.collection.is_none())
            .then(|| std::env::var("LIVECOV_STORE").ok())
            .flatten()
            .filter(|s| !s.is_empty())
    });
    let catalog = match (&args.root, &args.collection, store) {
        (Some(root), _, _) => {
            std::fs::read_dir(root)
                .with_context(|| format!("reading the collections under {}", root.display()))?;
            Catalog::Directory(root.clone())
        }
        (None, Some(dir), _) => {
            let db = dir.join("livecov.db");
            if !db.is_file() {
                anyhow::bail!(
                    "{} does not exist\nhint: run `livecov cluster compile --collection {}` first",
                    db.display(),
                    dir.display()
                );
            }
            Catalog::File(db)
        }
        (None, None, Some(url)) => Catalog::parse(&url).map_err(anyhow::Error::msg)?,
        (None, None, None) => anyhow::bail!(
            "nothing to serve\nhint: pass --root DIR (every collection under it), --collection \
             DIR or --store URL for the dashboard, or --webhook for the GitHub webhook"
        ),
    };
    let collections = Collections::new(catalog, args.data_dir.clone());
    let mut settings = DashboardSettings::new(collections);
    settings.sources = args.sources.clone();
    settings.cache_bytes = args.cache_bytes;
    if !args.hide_namespace_prefix.is_empty() {
        settings.hide_namespace_prefixes = args.hide_namespace_prefix.clone();
    }
    let token = match &args.ingest_token_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("reading the ingest token {}", p.display()))?,
        ),
        None => std::env::var("LIVECOV_INGEST_TOKEN").ok(),
    };
    if let Some(token) = token {
        let token = token.trim().to_owned();
        if token.is_empty() {
            anyhow::bail!("the ingest token is empty");
        }
        let mut ingest = livecov_server::dashboard::IngestSettings::new(token);
        ingest.max_body = args.max_upload_bytes;
        settings.ingest = Some(ingest);
    }
    livecov_server::dashboard::run_until_signalled(settings, &args.listen)?;
    Ok(Exit::Ok)
}
