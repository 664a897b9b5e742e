//! `livecov diff`: flags to [`DiffSettings`], the report on stdout (or `-o`), the gates'
//! outcome as the exit status (1 a gate failed, 2 an error).

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use livecov_ops::diff::{Changes, ComponentSpec, CoverageInput, DiffFormat, DiffSettings, Gates};

use crate::exit::Exit;

/// Output formats of `livecov diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Per-file table, patch and total coverage, gates, uncovered lines with links.
    Table,
    /// JSON: base, head, base_reason, patch {lines, covered, percent}, files[] {path,
    /// lines, covered, uncovered_lines[]}, gates[]…
    Json,
    /// A Markdown pull-request comment.
    Markdown,
    /// GitHub Actions workflow commands: an annotation per range of uncovered lines.
    Github,
}

/// Flags of `livecov diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The head's coverage: a Go text profile, an LCOV tracefile, Cobertura XML or a
    /// coverage.py data file (.coverage; told apart by content).
    #[arg(long, value_name = "FILE", required_unless_present = "collection")]
    pub profile: Option<PathBuf>,
    /// The head's coverage: a compiled collection (its builds made at the head commit
    /// when it has any, else all of it).
    #[arg(long, value_name = "DIR", conflicts_with = "profile")]
    pub collection: Option<PathBuf>,
    /// The git cache of `clone-sources`, which makes a collection's paths repo-relative
    /// (default: <collection>/sources).
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// The store of --collection (and of --base-collection).
    #[command(flatten)]
    pub store: crate::store::StoreArgs,
    /// The base's coverage, as a profile file (for --max-drop). Default: with
    /// --collection, its builds at the base commit or the nearest ancestor that has
    /// builds; with --profile, none.
    #[arg(long, value_name = "FILE")]
    pub base_profile: Option<PathBuf>,
    /// The base's coverage, as a compiled collection (searched like --collection).
    #[arg(long, value_name = "DIR", conflicts_with = "base_profile")]
    pub base_collection: Option<PathBuf>,
    /// The checkout (any directory in it).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The branch or commit the change is measured against: the patch is taken from the
    /// merge-base of BASE and --head. Default: the head's first parent (for a merge
    /// commit, the branch it was merged into).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// The commit of the change.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub head: String,
    /// Read the change from a unified diff instead of git (`-` for stdin); --base and
    /// --head then only name its commits (resolved in --repo when it is a checkout).
    #[arg(long, value_name = "FILE")]
    pub diff: Option<PathBuf>,
    /// A recorded-path prefix to strip, so the data's paths match the diff's (a Go module
    /// path, an absolute build directory). Repeatable. The checkout's go.mod modules and
    /// its absolute path are always tried.
    #[arg(long, value_name = "PREFIX")]
    pub strip_prefix: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Fail (exit 1) when the patch coverage is under PERCENT.
    #[arg(long, value_name = "PERCENT")]
    pub fail_under_patch: Option<f64>,
    /// Fail when the head's total coverage is under PERCENT.
    #[arg(long, value_name = "PERCENT")]
    pub fail_under_total: Option<f64>,
    /// Fail when the total dropped from the base by more than POINTS (fails too when the
    /// base has no coverage data).
    #[arg(long, value_name = "POINTS")]
    pub max_drop: Option<f64>,
    /// A component: `NAME=GLOB[,GLOB…][;patch=PERCENT][;total=PERCENT]`, e.g.
    /// `api=pkg/api/**;patch=90`. Reported on its own; gated by its thresholds, or by
    /// --fail-under-patch/--fail-under-total when it has none. Repeatable.
    #[arg(long, value_name = "SPEC")]
    pub component: Vec<String>,
    /// Report the gates but exit 0 even when one fails.
    #[arg(long)]
    pub informational: bool,
    /// A link for each uncovered line: `{path}`, `{line}` and `{commit}` are replaced,
    /// e.g. https://github.com/org/repo/blob/{commit}/{path}#L{line}.
    #[arg(long, value_name = "URL")]
    pub link_template: Option<String>,
    /// For coverage.py data files.
    #[command(flatten)]
    pub python: PythonArgs,
    /// Reporting from inside a coverage job.
    #[command(flatten)]
    pub github: GithubReportArgs,
}

/// `--github-report`: the job posts its own status and comment.
#[derive(clap::Args, Debug, Default)]
pub struct GithubReportArgs {
    /// Post the result as the coverage job's commit status and write or edit the pull
    /// request's one coverage comment, as `livecov serve --webhook` does for its jobs.
    /// The pull request comes from Prow's job environment (REPO_OWNER, REPO_NAME,
    /// PULL_NUMBER, PULL_PULL_SHA, PULL_BASE_SHA; JOB_NAME is the status context),
    /// thresholds from COVERAGE_THRESHOLD and PATCH_COVERAGE_THRESHOLD, the link from
    /// LIVECOV_REPORT_URL. Without --base the change is measured from PULL_BASE_SHA.
    #[arg(long)]
    pub github_report: bool,
    /// The tests' exit status, for --github-report: non-zero posts a failure.
    #[arg(
        long,
        value_name = "CODE",
        default_value_t = 0,
        requires = "github_report"
    )]
    pub tests_exit_code: i32,
    /// A GitHub API base URL, for --github-report (repeatable; the first that answers
    /// wins) [default: $LIVECOV_GITHUB_ENDPOINT (comma-separated), else
    /// https://api.github.com].
    #[arg(long, value_name = "URL", requires = "github_report")]
    pub github_endpoint: Vec<String>,
    /// The file holding the GitHub token, for --github-report, read at each request
    /// [default: /etc/github-commenter/oauth when it exists, else $GITHUB_TOKEN].
    #[arg(long, value_name = "FILE", requires = "github_report")]
    pub github_token_path: Option<PathBuf>,
}

impl GithubReportArgs {
    fn github(&self) -> livecov_server::webhook::github::GitHub {
        use livecov_server::webhook::github::{GitHub, TokenSource};
        let mut endpoints = self.github_endpoint.clone();
        if endpoints.is_empty() {
            endpoints = std::env::var("LIVECOV_GITHUB_ENDPOINT")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if endpoints.is_empty() {
            endpoints.push("https://api.github.com".to_owned());
        }
        let default_file = PathBuf::from(livecov_server::webhook::runner::prowjob::TOKEN_FILE);
        let token = match &self.github_token_path {
            Some(p) => TokenSource::File(p.clone()),
            None if default_file.is_file() => TokenSource::File(default_file),
            None => match std::env::var("GITHUB_TOKEN") {
                Ok(v) if !v.trim().is_empty() => TokenSource::Value(v.trim().to_owned()),
                _ => TokenSource::None,
            },
        };
        GitHub::new(endpoints, token, std::time::Duration::from_secs(30))
    }
}

/// Where coverage.py's statements come from, for a coverage.py data file.
#[derive(clap::Args, Debug, Default)]
pub struct PythonArgs {
    /// The Python interpreter that has coverage.py: its analysis gives the statements of
    /// a coverage.py data file (default: $LIVECOV_PYTHON, else python3).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// A directory holding the sources of coverage.py data (repeatable; default: the
    /// checkout). Not needed when the recorded absolute paths exist here.
    #[arg(long = "python-source", value_name = "DIR")]
    pub python_sources: Vec<PathBuf>,
}

impl PythonArgs {
    fn settings(&self) -> livecov_ops::compile::PythonSettings {
        livecov_ops::compile::PythonSettings {
            python: self.python.clone(),
            sources: self.python_sources.clone(),
        }
    }
}

impl DiffArgs {
    fn settings(&self) -> Result<DiffSettings> {
        let coverage = match (&self.profile, &self.collection) {
            (Some(p), _) => CoverageInput::Profile(p.clone()),
            (_, Some(c)) => CoverageInput::Collection {
                dir: c.clone(),
                sources: self.sources.clone(),
                store: self.store.choice(),
            },
            (None, None) => bail!("give --profile FILE or --collection DIR"),
        };
        let changes = match &self.diff {
            Some(path) => {
                let (text, label) = read_diff(path)?;
                let repo = livecov_ops::diff::is_checkout(&self.repo).then(|| self.repo.clone());
                Changes::Patch {
                    text,
                    label,
                    head: repo.as_ref().map(|_| self.head.clone()),
                    base: self.base.clone(),
                    repo,
                }
            }
            None => Changes::Git {
                repo: self.repo.clone(),
                base: self.base.clone(),
                head: self.head.clone(),
            },
        };
        let mut s = DiffSettings::new(coverage, changes);
        s.base_coverage = match (&self.base_profile, &self.base_collection) {
            (Some(p), _) => Some(CoverageInput::Profile(p.clone())),
            (_, Some(c)) => Some(CoverageInput::Collection {
                dir: c.clone(),
                sources: self.sources.clone(),
                store: self.store.choice(),
            }),
            _ => None,
        };
        s.strip_prefixes = self.strip_prefix.clone();
        s.components = self
            .component
            .iter()
            .map(|c| parse_component(c))
            .collect::<Result<_>>()?;
        for (flag, v) in [
            ("--fail-under-patch", self.fail_under_patch),
            ("--fail-under-total", self.fail_under_total),
            ("--max-drop", self.max_drop),
        ] {
            if let Some(v) = v {
                check_percent(flag, v)?;
            }
        }
        s.gates = Gates {
            fail_under_patch: self.fail_under_patch,
            fail_under_total: self.fail_under_total,
            max_drop: self.max_drop,
        };
        s.informational = self.informational;
        s.link_template = self.link_template.clone();
        s.python = self.python.settings();
        Ok(s)
    }
}

fn check_percent(flag: &str, v: f64) -> Result<()> {
    if !(0.0..=100.0).contains(&v) {
        bail!("{flag} {v}: expected a percentage from 0 to 100");
    }
    Ok(())
}

/// `NAME=GLOB[,GLOB…][;patch=N][;total=N]`.
fn parse_component(spec: &str) -> Result<ComponentSpec> {
    let mut parts = spec.split(';');
    let head = parts.next().unwrap_or("");
    let Some((name, globs)) = head.split_once('=') else {
        bail!("--component {spec:?}: expected NAME=GLOB[,GLOB…][;patch=PERCENT][;total=PERCENT]");
    };
    let globs: Vec<String> = globs
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    if name.trim().is_empty() || globs.is_empty() {
        bail!("--component {spec:?}: a component needs a name and at least one glob");
    }
    let mut c = ComponentSpec {
        name: name.trim().to_owned(),
        globs,
        fail_under_patch: None,
        fail_under_total: None,
    };
    for p in parts {
        let (key, value) = p.split_once('=').unwrap_or((p, ""));
        let v: f64 = value.trim().parse().map_err(|_| {
            anyhow::anyhow!("--component {spec:?}: {p:?}: expected patch=PERCENT or total=PERCENT")
        })?;
        check_percent(&format!("--component {}: {key}", c.name), v)?;
        match key.trim() {
            "patch" => c.fail_under_patch = Some(v),
            "total" => c.fail_under_total = Some(v),
            other => bail!("--component {spec:?}: unknown threshold {other:?} (patch or total)"),
        }
    }
    Ok(c)
}

/// Runs `livecov diff`.
pub fn run(args: &DiffArgs) -> Result<Exit> {
    // The job's environment first: a job that cannot report should fail before the work.
    let job_env = if args.github.github_report {
        Some(
            livecov_server::webhook::inside::JobEnv::from_env(|k| std::env::var(k).ok())
                .map_err(anyhow::Error::msg)?,
        )
    } else {
        None
    };
    let mut settings = args.settings()?;
    if let Some(env) = &job_env {
        match &mut settings.changes {
            Changes::Git { base, .. } | Changes::Patch { base, .. } if base.is_none() => {
                *base = Some(env.base_sha.clone());
            }
            _ => {}
        }
    }
    let reporter = crate::progress::TermReporter::new();
    let report = livecov_ops::diff::run(&settings, &reporter)?;
    let format = match args.format {
        Format::Table => DiffFormat::Table,
        Format::Json => DiffFormat::Json,
        Format::Markdown => DiffFormat::Markdown,
        Format::Github => DiffFormat::Github,
    };
    let mut bytes = Vec::new();
    livecov_ops::diff::write(&report, format, &mut bytes)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes).context("writing the report")?;
            out.flush().context("writing the report")?;
        }
    }
    if let Some(env) = &job_env {
        let mut json = Vec::new();
        livecov_ops::diff::write(&report, DiffFormat::Json, &mut json)?;
        let outcome = livecov_server::webhook::runner::Outcome::from_diff_json(
            &json,
            args.github.tests_exit_code == 0,
        )
        .map_err(anyhow::Error::msg)?;
        let job = env.job();
        let status = livecov_server::webhook::inside::post_result_blocking(
            &args.github.github(),
            &job,
            &outcome,
        )
        .with_context(|| format!("reporting to {}", job.label()))?;
        eprintln!(
            "livecov diff: posted {} {:?} to {} ({}) and updated its coverage comment",
            status.state,
            status.description,
            job.label(),
            status.context
        );
    }
    if report.passed() || report.informational {
        Ok(Exit::Ok)
    } else {
        Ok(Exit::GateFailed)
    }
}

/// Output formats of `livecov compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// Totals, the direct/indirect split, files, owners and builds.
    Table,
    /// The same as JSON.
    Json,
}

/// Flags of `livecov compare`.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The earlier reading: a collection directory (with livecov.db), a profile file, or
    /// with --store a collection's name in that store.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The later reading.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// The checkout, for --base/--head and its Go module paths.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// With --head: the change from the merge-base of BASE and HEAD splits files into
    /// direct (touched by it) and indirect.
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// The commit of the change (with --base).
    #[arg(long, value_name = "REV", requires = "base")]
    pub head: Option<String>,
    /// The change as a unified diff (`-` for stdin), for the direct/indirect split.
    #[arg(long, value_name = "FILE", conflicts_with = "base")]
    pub diff: Option<PathBuf>,
    /// A recorded-path prefix to strip (as `livecov diff --strip-prefix`). Repeatable.
    #[arg(long, value_name = "PREFIX")]
    pub strip_prefix: Vec<String>,
    /// The git cache of `clone-sources` for collections' paths (default:
    /// <collection>/sources).
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// A shared store (`postgres://…`, `sqlite:PATH`) holding both collections: A and B
    /// are then collection names in it (a directory stands for the collection named
    /// after it; a file is still a profile) [default: $LIVECOV_STORE].
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// For coverage.py data files.
    #[command(flatten)]
    pub python: PythonArgs,
}

/// Runs `livecov compare`.
pub fn compare(args: &CompareArgs) -> Result<Exit> {
    let store = crate::store::StoreArgs {
        store: args.store.clone(),
        collection_name: None,
    }
    .choice();
    let input = |p: &PathBuf| {
        if store.url.is_some() && !p.is_file() {
            // A directory is the collection named after it (its sources/ cache is used);
            // anything else is a name in the store.
            let name = (!p.is_dir()).then(|| p.to_string_lossy().into_owned());
            CoverageInput::Collection {
                dir: p.clone(),
                sources: args.sources.clone(),
                store: livecov_ops::StoreChoice {
                    url: store.url.clone(),
                    name,
                },
            }
        } else if p.join("livecov.db").exists() {
            CoverageInput::Collection {
                dir: p.clone(),
                sources: args.sources.clone(),
                store: livecov_ops::StoreChoice::default(),
            }
        } else {
            CoverageInput::Profile(p.clone())
        }
    };
    let changes = match (&args.diff, &args.base) {
        (Some(path), _) => Some(Changes::Patch {
            text: read_diff(path)?.0,
            label: path.display().to_string(),
            repo: livecov_ops::diff::is_checkout(&args.repo).then(|| args.repo.clone()),
            base: None,
            head: None,
        }),
        (None, Some(base)) => Some(Changes::Git {
            repo: args.repo.clone(),
            base: Some(base.clone()),
            head: args.head.clone().unwrap_or_else(|| "HEAD".to_owned()),
        }),
        (None, None) => None,
    };
    let settings = livecov_ops::compare::CompareSettings {
        a: input(&args.a),
        b: input(&args.b),
        changes,
        strip_prefixes: args.strip_prefix.clone(),
        python: args.python.settings(),
    };
    let reporter = crate::progress::TermReporter::new();
    let report = livecov_ops::compare::compare(&settings, &reporter)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        CompareFormat::Table => livecov_formats::compare::write_table(&report, &mut out),
        CompareFormat::Json => livecov_formats::compare::write_json(&report, &mut out),
    }
    .context("writing the report")?;
    Ok(Exit::Ok)
}

/// The bytes of a diff file (`-`: stdin) and its label.
fn read_diff(path: &std::path::Path) -> Result<(Vec<u8>, String)> {
    if path.as_os_str() == "-" {
        let mut text = Vec::new();
        std::io::stdin()
            .read_to_end(&mut text)
            .context("reading the diff from stdin")?;
        Ok((text, "stdin".to_owned()))
    } else {
        Ok((
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
            path.display().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_specs() {
        let c = parse_component("api=pkg/api/**, cmd/api/**;patch=90;total=50").unwrap();
        assert_eq!(c.name, "api");
        assert_eq!(c.globs, ["pkg/api/**", "cmd/api/**"]);
        assert_eq!(
            (c.fail_under_patch, c.fail_under_total),
            (Some(90.0), Some(50.0))
        );
        assert!(parse_component("api").is_err());
        assert!(parse_component("api=x;branch=3").is_err());
        assert!(parse_component("api=x;patch=300").is_err());
    }
}
