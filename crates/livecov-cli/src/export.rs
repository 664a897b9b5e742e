//! `livecov export`: flags to [`ExportSettings`], the output file or stdout, the summary
//! line on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use livecov_ops::export::{ExportFormat, ExportSettings, PathStyle, Selection};

use crate::exit::Exit;

/// Output formats of `livecov export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// LCOV tracefile: one `DA` per executable line (genhtml, Codecov, Coveralls).
    Lcov,
    /// Cobertura XML (coverage-04.dtd): GitLab, Jenkins, Azure DevOps, Codecov,
    /// diff-cover. GitLab refuses files over 10 MiB; livecov warns.
    Cobertura,
    /// Go text profile (`mode: …` then blocks): `go tool cover`, Prow's coverage lens
    /// (name it artifacts/filtered.cov). Go builds only.
    Go,
    /// SonarQube generic coverage XML (sonar.coverageReportPaths).
    Sonar,
    /// Codecov's JSON format: {"coverage": {"path": {"line": hits}}}.
    Codecov,
    /// livecov's JSON summary: totals and per-file statements and lines.
    Json,
    /// A Markdown summary for pull-request comments: the total and the files with the
    /// most uncovered statements, bounded in length.
    Markdown,
    /// Load into BigQuery (the older `bigquery ingest`): the tables coverage_data (one
    /// row per source line per build) and coverage_generators, replacing the
    /// collection's earlier rows. Needs --project and --dataset; Application Default
    /// Credentials.
    Bigquery,
}

impl Format {
    /// The file format below the command line; `None` for BigQuery, a load.
    pub fn to_ops(self) -> Option<ExportFormat> {
        Some(match self {
            Format::Lcov => ExportFormat::Lcov,
            Format::Cobertura => ExportFormat::Cobertura,
            Format::Go => ExportFormat::Go,
            Format::Sonar => ExportFormat::Sonar,
            Format::Codecov => ExportFormat::Codecov,
            Format::Json => ExportFormat::Json,
            Format::Markdown => ExportFormat::Markdown,
            Format::Bigquery => return None,
        })
    }
}

/// How paths are written (`--paths`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Paths {
    /// Import paths for `--format go` (Go's tools resolve them), repo-relative paths for
    /// every other format.
    Auto,
    /// Repo-relative where the build's repository is known: found in its repo@commit
    /// fetched by `clone-sources`, or the path starts with the import path its
    /// repository URL gives. Other paths stay as recorded.
    Repo,
    /// As the build recorded them (Go: import paths).
    Recorded,
}

/// Flags of `livecov export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Output format (also accepted as the first argument: `livecov export bigquery …`).
    #[arg(long, value_enum, required_unless_present = "format_arg")]
    pub format: Option<Format>,
    /// The output format, as `--format` gives it.
    #[arg(value_enum, value_name = "FORMAT", conflicts_with = "format")]
    pub format_arg: Option<Format>,
    /// The collection directory (compiled with `livecov cluster compile`).
    #[arg(long, default_value = ".")]
    pub collection: PathBuf,
    /// Export one build: its hash (as `livecov report` prints it) or an unambiguous prefix.
    #[arg(long, value_name = "HASH", conflicts_with_all = ["owner", "namespace", "repo"])]
    pub build: Option<String>,
    /// Export the owners whose name (or namespace/name) matches this glob, merged
    /// (`web`, `shop/web`, `web-*`). Repeatable: the globs are ORed.
    #[arg(long, value_name = "GLOB", conflicts_with = "repo")]
    pub owner: Vec<String>,
    /// Export the owners in namespaces matching this glob (`shop`, `e2e-*`), merged.
    /// Repeatable: the globs are ORed, and ANDed with --owner.
    #[arg(long, value_name = "GLOB", conflicts_with = "repo")]
    pub namespace: Vec<String>,
    /// Export the builds made from this repository at this commit (the commit may be
    /// abbreviated to 7 or more digits), e.g. https://github.com/org/repo@0123abc.
    #[arg(long, value_name = "REPO@COMMIT")]
    pub repo: Option<String>,
    /// How file paths are written.
    #[arg(long, value_enum, default_value_t = Paths::Auto)]
    pub paths: Paths,
    /// The git cache `clone-sources` filled, used to make paths repo-relative
    /// (default: <collection>/sources).
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// Cobertura only: the `<source>` directory the file names are relative to, e.g. the
    /// absolute checkout root for CI systems that rebase paths.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub cobertura_source: String,
    /// Write to FILE instead of stdout (replaced only once the export is complete).
    #[arg(short = 'o', long, value_name = "FILE", conflicts_with = "upload")]
    pub output: Option<PathBuf>,
    /// With --format codecov: upload to Codecov instead of writing, one report per
    /// repo@commit of the selected owners (the older `cluster codecov-upload`), through
    /// Codecov's upload API. The token comes from --token-file or CODECOV_TOKEN, never
    /// from the command line. Failed uploads are reported and the others still run.
    #[arg(long, conflicts_with_all = ["build", "repo"])]
    pub upload: bool,
    /// --upload: a file holding the Codecov upload token (default: the CODECOV_TOKEN
    /// environment variable).
    #[arg(long, value_name = "FILE", requires = "upload")]
    pub token_file: Option<PathBuf>,
    /// --upload: the Codecov instance (self-hosted ones have their own URL).
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://codecov.io",
        requires = "upload"
    )]
    pub codecov_url: String,
    /// --upload: use this `org/repo` slug for every upload (default: from each
    /// repository URL).
    #[arg(long, value_name = "ORG/REPO", requires = "upload")]
    pub slug: Option<String>,
    /// --upload: a Codecov flag for the uploads. Repeatable (default: openshift-e2e).
    #[arg(long = "flag", value_name = "FLAG", requires = "upload")]
    pub flags: Vec<String>,
    /// --upload: only repositories whose org (the slug's first part) matches this glob.
    /// Repeatable: the globs are ORed.
    #[arg(long, value_name = "GLOB", requires = "upload")]
    pub source_org: Vec<String>,
    /// With --upload or bigquery: print what would be uploaded (slug, commit, flags,
    /// files, lines; rows and bytes) and send nothing; no token or credentials needed.
    #[arg(long)]
    pub dry_run: bool,
    /// bigquery: the GCP project of the dataset and of the jobs.
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// bigquery: the dataset of the two tables; created when missing.
    #[arg(long, value_name = "DATASET")]
    pub dataset: Option<String>,
    /// bigquery: the location of a dataset livecov creates, and of its jobs (e.g. EU).
    #[arg(long, value_name = "LOCATION")]
    pub location: Option<String>,
    /// bigquery: the collection_id of the rows, which a rerun replaces (default: the
    /// --collection value as given, as the older tool wrote it).
    #[arg(long, value_name = "ID")]
    pub collection_id: Option<String>,
    /// bigquery: the BigQuery API endpoint.
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://bigquery.googleapis.com"
    )]
    pub bigquery_url: String,
    /// The store.
    #[command(flatten)]
    pub store: crate::store::StoreArgs,
}

impl ExportArgs {
    /// The format, from --format or the first argument.
    fn format(&self) -> Format {
        self.format.or(self.format_arg).unwrap_or(Format::Json)
    }

    fn settings(&self) -> Result<ExportSettings> {
        let selection = match (&self.build, &self.repo) {
            (Some(b), _) => Selection::Build(b.clone()),
            (_, Some(r)) => Selection::repo(r)?,
            _ => Selection::owners(&self.namespace, &self.owner),
        };
        let format = self
            .format()
            .to_ops()
            .context("the bigquery export writes no file")?;
        let mut s = ExportSettings::new(&self.collection, format);
        s.selection = selection;
        s.paths = match self.paths {
            Paths::Auto => PathStyle::Auto,
            Paths::Repo => PathStyle::Repo,
            Paths::Recorded => PathStyle::Recorded,
        };
        s.sources = self.sources.clone();
        s.cobertura_source = self.cobertura_source.clone();
        s.timestamp_ms = now_ms();
        s.store = self.store.choice();
        Ok(s)
    }
}

/// Runs `livecov export`.
pub fn run(args: &ExportArgs) -> Result<Exit> {
    if args.format() == Format::Bigquery {
        return bigquery(args);
    }
    if args.dry_run && !args.upload {
        anyhow::bail!("--dry-run goes with --upload or the bigquery format");
    }
    if args.upload {
        return upload(args);
    }
    let settings = args.settings()?;
    let summary = export_to(&settings, args.output.as_deref())?;
    eprintln!(
        "export: {} ({} files, {}/{} statements, {} builds, {} owners{}{}) {} bytes",
        settings.format.name(),
        summary.files,
        summary.covered,
        summary.statements,
        summary.builds,
        summary.owners,
        if summary.repo_relative > 0 {
            format!(", {} paths made repo-relative", summary.repo_relative)
        } else {
            String::new()
        },
        if summary.conflicts > 0 {
            format!(", {} conflicting file copies left out", summary.conflicts)
        } else {
            String::new()
        },
        summary.bytes
    );
    Ok(Exit::Ok)
}

/// `export --format codecov --upload`.
fn upload(args: &ExportArgs) -> Result<Exit> {
    use livecov_ops::codecov_upload::{Outcome, Token, UploadSettings};
    if args.format() != Format::Codecov {
        anyhow::bail!("--upload needs --format codecov");
    }
    let mut s = UploadSettings::new(&args.collection);
    s.store = args.store.choice();
    s.sources = args.sources.clone();
    s.codecov_url = args.codecov_url.clone();
    s.slug = args.slug.clone();
    if !args.flags.is_empty() {
        s.flags = args.flags.clone();
    }
    s.namespaces = args.namespace.clone();
    s.owners = args.owner.clone();
    s.source_orgs = args.source_org.clone();
    s.dry_run = args.dry_run;
    s.token = match &args.token_file {
        Some(path) => Some(Token::new(&std::fs::read_to_string(path).with_context(
            || format!("reading the Codecov token from {}", path.display()),
        )?)?),
        None => match std::env::var("CODECOV_TOKEN") {
            Ok(t) if !t.trim().is_empty() => Some(Token::new(&t).context("CODECOV_TOKEN")?),
            _ => None,
        },
    };
    let reporter = crate::progress::TermReporter::new();
    let summary = livecov_ops::codecov_upload::upload(&s, &reporter)?;
    for g in &summary.groups {
        let what = match &g.outcome {
            Outcome::DryRun => "would upload".to_owned(),
            Outcome::Uploaded(url) => format!("uploaded ({url})"),
            Outcome::Failed(_) => "FAILED".to_owned(),
        };
        println!(
            "{what}: slug {} commit {} service {} flags {} ({} owners, {} files, {} lines, {} bytes)",
            g.slug,
            g.commit,
            g.service,
            s.flags.join(","),
            g.owners,
            g.files,
            g.lines,
            g.bytes
        );
    }
    eprintln!(
        "codecov: {} uploaded, {} failed, {} dry run, {} owners without a repo@commit, {} repositories \
         left out by --source-org",
        summary.uploaded(),
        summary.failed(),
        summary.groups.len() - summary.uploaded() - summary.failed(),
        summary.without_source,
        summary.filtered_orgs
    );
    Ok(if summary.failed() == 0 {
        Exit::Ok
    } else {
        Exit::Error
    })
}

/// `export bigquery`.
fn bigquery(args: &ExportArgs) -> Result<Exit> {
    use livecov_ops::bigquery::{ingest, BigQuerySettings};
    let (Some(project), Some(dataset)) = (&args.project, &args.dataset) else {
        anyhow::bail!("the bigquery export needs --project and --dataset");
    };
    if args.output.is_some() || args.upload || args.build.is_some() || args.repo.is_some() {
        anyhow::bail!(
            "the bigquery export loads tables: -o, --upload, --build and --repo do not apply \
             (select owners with --namespace and --owner)"
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut s = BigQuerySettings::new(&args.collection, project, dataset, now);
    if let Some(id) = &args.collection_id {
        s.collection_id = id.clone();
    }
    s.sources = args.sources.clone();
    s.store = args.store.choice();
    s.location = args.location.clone();
    s.namespaces = args.namespace.clone();
    s.owners = args.owner.clone();
    s.endpoint = args.bigquery_url.clone();
    s.dry_run = args.dry_run;
    let reporter = crate::progress::TermReporter::new();
    let summary = ingest(&s, &reporter)?;
    println!(
        "{} {project}.{dataset}: collection_id {:?}: {} coverage_data rows ({} untracked \
         lines), {} coverage_generators rows, {} builds, {} owners, {} bytes{}",
        if summary.dry_run {
            "would load into"
        } else {
            "loaded into"
        },
        s.collection_id,
        summary.data_rows,
        summary.untracked_rows,
        summary.generator_rows,
        summary.builds,
        summary.owners,
        summary.bytes,
        if summary.created.is_empty() {
            String::new()
        } else {
            format!(" (created {})", summary.created.join(", "))
        }
    );
    Ok(Exit::Ok)
}

/// Exports to `output`, or to stdout. A file is written beside its final name and renamed
/// into place, so a failed export never leaves half a report where the last one was.
pub fn export_to(
    settings: &ExportSettings,
    output: Option<&Path>,
) -> Result<livecov_ops::export::ExportSummary> {
    let reporter = crate::progress::TermReporter::new();
    let Some(path) = output else {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let summary = livecov_ops::export::export(settings, &mut out, &reporter);
        return match (summary, out.flush()) {
            // A reader that stops early (`| head`) is not an error.
            (Err(e), _) if is_broken_pipe(&e) => Ok(Default::default()),
            (Err(e), _) => Err(e),
            (Ok(s), Ok(())) => Ok(s),
            (Ok(s), Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(s),
            (Ok(_), Err(e)) => Err(e.into()),
        };
    };
    let name = path
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.livecov-{}.tmp", std::process::id()));
    let result = write_file(settings, &tmp, path, &reporter);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes the export to `tmp`, then renames it to `path`.
fn write_file(
    settings: &ExportSettings,
    tmp: &Path,
    path: &Path,
    reporter: &crate::progress::TermReporter,
) -> Result<livecov_ops::export::ExportSummary> {
    let file = std::fs::File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let summary = livecov_ops::export::export(settings, &mut out, reporter)?;
    out.flush()
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(summary)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Now, in milliseconds since the Unix epoch (Cobertura's timestamp).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
