//! `livecov export bigquery`: the older tool's `bigquery ingest` — its two tables, with the
//! same columns, partitioning and clustering — through BigQuery's REST API with
//! Application Default Credentials.
//!
//! Spec: `../shared/specs/seed-system.md` §2.7 (flags) and §10 (tables, rows, flow).
//! Differences from the older tool, on purpose:
//! - **Idempotent per collection.** The older tool streamed rows (`insertAll`) under a new
//!   `ingestion_time` on every run, so a rerun duplicated everything. livecov loads the rows
//!   into two staging tables (load jobs, which a failed run leaves unused), then replaces
//!   the collection's rows of both tables in one multi-statement transaction (`DELETE …
//!   WHERE collection_id = @collection_id; INSERT … SELECT FROM staging`) and drops the
//!   staging tables: a rerun replaces, never duplicates, and a reader never sees half a run.
//! - Load jobs instead of streaming inserts: free of the streaming-insert cost, no
//!   streaming buffer that blocks the `DELETE`, and bounded memory (the rows go to a
//!   temporary file, uploaded in chunks).
//! - Insert errors fail the run (the older tool only warned and went on).
//!
//! Rows, as the older tool made them: per build (its hash is `binary_hash`), the selected
//! owners' counters merged with the collection's rule; one `coverage_data` row per source
//! line of every file (the file's lines when its source at the exact commit is known, else
//! up to the last line a unit reaches), `line_executions` the highest count of the units
//! with statements that span the line, `-1` for lines no unit covers; one
//! `coverage_generators` row per build listing its owners, with namespace, owner and
//! container blanked for host processes and bare pods, as the older tool did.

mod api;
mod auth;
mod rows;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use livecov_model::Severity;

use crate::export::{ExportSource, Selection};
use crate::Reporter;

pub use auth::Credentials;

/// What [`ingest`] needs.
#[derive(Clone, Debug)]
pub struct BigQuerySettings {
    /// The compiled collection.
    pub collection: PathBuf,
    /// The `collection_id` column of every row, which a rerun replaces (the older tool
    /// wrote the `--collection` value as given).
    pub collection_id: String,
    /// The git cache of `clone-sources` (default: `<collection>/sources`).
    pub sources: Option<PathBuf>,
    /// GCP project of the dataset and of the jobs.
    pub project: String,
    /// Dataset; created when missing.
    pub dataset: String,
    /// Location of a dataset livecov creates and of its jobs (default: BigQuery's, US).
    pub location: Option<String>,
    /// Namespace globs (empty: all), ORed.
    pub namespaces: Vec<String>,
    /// Owner globs (empty: all), ORed; ANDed with the namespaces.
    pub owners: Vec<String>,
    /// BigQuery's base URL.
    pub endpoint: String,
    /// Build the rows and say what would be loaded; send nothing, need no credentials.
    pub dry_run: bool,
    /// The `ingestion_time` of every row, seconds since the Unix epoch (one per run).
    pub ingestion_time: i64,
    /// The store of the collection (default: `<collection>/livecov.db`).
    pub store: crate::StoreChoice,
}

impl BigQuerySettings {
    /// The defaults: every owner, BigQuery's public endpoint, a real load.
    pub fn new(
        collection: impl Into<PathBuf>,
        project: &str,
        dataset: &str,
        ingestion_time: i64,
    ) -> BigQuerySettings {
        let collection = collection.into();
        BigQuerySettings {
            collection_id: collection.display().to_string(),
            collection,
            sources: None,
            project: project.to_owned(),
            dataset: dataset.to_owned(),
            location: None,
            namespaces: Vec::new(),
            owners: Vec::new(),
            endpoint: "https://bigquery.googleapis.com".to_owned(),
            dry_run: false,
            ingestion_time,
            store: crate::StoreChoice::default(),
        }
    }
}

/// What [`ingest`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BigQuerySummary {
    /// Builds (hash groups) exported.
    pub builds: usize,
    /// Owner groups in them.
    pub owners: usize,
    /// `coverage_data` rows.
    pub data_rows: u64,
    /// Of them, lines no unit covers (`line_executions` -1).
    pub untracked_rows: u64,
    /// `coverage_generators` rows.
    pub generator_rows: u64,
    /// Files whose source was not found (their line count comes from the units).
    pub files_without_source: usize,
    /// Bytes of newline-delimited JSON loaded (or that would be).
    pub bytes: u64,
    /// Tables created by this run (they existed otherwise).
    pub created: Vec<String>,
    /// Whether the rows were only built.
    pub dry_run: bool,
}

/// Builds the rows of the selected owners and replaces the collection's rows in the two
/// tables.
pub fn ingest(settings: &BigQuerySettings, reporter: &dyn Reporter) -> Result<BigQuerySummary> {
    check_name("--project", &settings.project, true)?;
    check_name("--dataset", &settings.dataset, false)?;
    if settings.collection_id.is_empty() {
        bail!("the collection id is empty");
    }
    let endpoint = settings.endpoint.trim_end_matches('/');
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
        bail!("--bigquery-url {endpoint:?}: expected an http:// or https:// URL");
    }
    // Credentials first: a missing one should not cost the row building.
    let credentials = if settings.dry_run {
        None
    } else {
        Some(Credentials::find().context("finding Application Default Credentials")?)
    };

    let source = ExportSource::open(
        &settings.collection,
        &settings.store,
        settings.sources.clone(),
        reporter,
    )?;
    let chosen = source.select(&Selection::owners(&settings.namespaces, &settings.owners))?;
    let built = rows::build(&source, &chosen, settings, reporter)?;
    let mut summary = BigQuerySummary {
        builds: chosen.len(),
        owners: chosen.iter().map(|(_, o)| o.len()).sum(),
        data_rows: built.data_rows,
        untracked_rows: built.untracked_rows,
        generator_rows: built.generator_rows,
        files_without_source: built.files_without_source,
        bytes: built.bytes(),
        created: Vec::new(),
        dry_run: settings.dry_run,
    };
    if summary.files_without_source > 0 {
        reporter.diagnostic(
            Severity::Warning,
            &format!(
                "{} files have no source at their build's commit (run `livecov cluster \
                 clone-sources`): their rows have an empty source_line and run to the last \
                 line a unit reaches",
                summary.files_without_source
            ),
        );
    }
    let Some(credentials) = credentials else {
        return Ok(summary);
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let mut client = api::Client::new(endpoint, settings, credentials)?;
    summary.created = runtime.block_on(client.replace_collection(&built, reporter))?;
    Ok(summary)
}

/// BigQuery's rules for project and dataset ids, checked before anything is sent so a
/// typo does not turn into a URL path or a query.
fn check_name(flag: &str, value: &str, project: bool) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 1024
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric() || c == '_' || (project && matches!(c, '-' | '.' | ':'))
        });
    if !ok {
        bail!(
            "{flag} {value:?}: expected {}",
            if project {
                "a GCP project id (letters, digits, '-', '.', ':')"
            } else {
                "a BigQuery dataset id (letters, digits and '_')"
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_and_project_ids_are_checked_before_anything_is_sent() {
        assert!(check_name("--dataset", "coverage_2", false).is_ok());
        assert!(check_name("--project", "my-proj.example:p1", true).is_ok());
        for bad in ["", "a b", "x/../y", "d`; DROP", "ds-1"] {
            assert!(check_name("--dataset", bad, false).is_err(), "{bad:?}");
        }
        assert!(check_name("--project", "p/q", true).is_err());
    }
}
