//! The BigQuery REST calls of an ingest: datasets.insert, tables.insert, resumable load
//! jobs into staging tables, one query job (a multi-statement transaction) that replaces
//! the collection's rows, jobs.get until each job is done, tables.delete of the staging
//! tables. Requests as BigQuery's REST reference (v2) documents them.

use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::auth::{first_line, Credentials};
use super::rows::Built;
use super::BigQuerySettings;
use crate::Reporter;

/// The results table of line counts.
pub(super) const DATA_TABLE: &str = "coverage_data";
/// The table of who produced each build.
pub(super) const GENERATORS_TABLE: &str = "coverage_generators";
/// Upload chunk: a multiple of 256 KiB, as resumable uploads require.
const CHUNK: usize = 8 << 20;
/// How long a job may take before the run gives up on it.
const JOB_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// The schema of `coverage_data` (§10 of the spec: every column required but the text).
pub(super) fn data_schema() -> Value {
    json!([
        {"name": "ingestion_time", "type": "TIMESTAMP", "mode": "REQUIRED"},
        {"name": "binary_hash", "type": "STRING", "mode": "REQUIRED"},
        {"name": "collection_id", "type": "STRING", "mode": "REQUIRED"},
        {"name": "source_filename", "type": "STRING", "mode": "REQUIRED"},
        {"name": "source_line", "type": "STRING", "mode": "NULLABLE"},
        {"name": "source_line_number", "type": "INTEGER", "mode": "REQUIRED"},
        {"name": "line_executions", "type": "INTEGER", "mode": "REQUIRED"},
    ])
}

/// The schema of `coverage_generators` (the older tool's inferred schema: its scalar
/// fields were non-pointer Go fields, so required).
pub(super) fn generators_schema() -> Value {
    json!([
        {"name": "ingestion_time", "type": "TIMESTAMP", "mode": "REQUIRED"},
        {"name": "software_group", "type": "STRING", "mode": "REQUIRED"},
        {"name": "binary_hash", "type": "STRING", "mode": "REQUIRED"},
        {"name": "collection_id", "type": "STRING", "mode": "REQUIRED"},
        {"name": "source_url", "type": "STRING", "mode": "REQUIRED"},
        {"name": "software_key", "type": "STRING", "mode": "REQUIRED"},
        {"name": "source_commit", "type": "STRING", "mode": "REQUIRED"},
        {"name": "generators", "type": "RECORD", "mode": "REPEATED", "fields": [
            {"name": "namespace", "type": "STRING", "mode": "REQUIRED"},
            {"name": "owner", "type": "STRING", "mode": "REQUIRED"},
            {"name": "container", "type": "STRING", "mode": "REQUIRED"},
            {"name": "binary_name", "type": "STRING", "mode": "REQUIRED"},
        ]},
    ])
}

/// Clustering columns of each table.
fn clustering(table: &str) -> Value {
    if table == DATA_TABLE {
        json!(["binary_hash", "collection_id"])
    } else {
        json!([
            "software_group",
            "binary_hash",
            "collection_id",
            "source_url"
        ])
    }
}

/// An authenticated BigQuery client for one ingest.
pub(super) struct Client {
    http: reqwest::Client,
    endpoint: String,
    project: String,
    dataset: String,
    location: Option<String>,
    collection_id: String,
    /// Names staging tables and jobs: a hash of the collection id and the run.
    run: String,
    /// Staging tables are per collection, so two collections load side by side.
    staging: String,
    credentials: Credentials,
    token: Option<(String, Instant)>,
}

impl Client {
    pub fn new(endpoint: &str, s: &BigQuerySettings, credentials: Credentials) -> Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("livecov/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let collection = format!(
            "{:016x}",
            xxhash_rust::xxh3::xxh3_64(s.collection_id.as_bytes())
        );
        Ok(Client {
            http,
            endpoint: endpoint.to_owned(),
            project: s.project.clone(),
            dataset: s.dataset.clone(),
            location: s.location.clone(),
            collection_id: s.collection_id.clone(),
            run: format!("{collection}_{}_{}", s.ingestion_time, std::process::id()),
            staging: collection,
            credentials,
            token: None,
        })
    }

    /// Creates what is missing, loads the staging tables, replaces the collection's rows
    /// in one transaction and drops the staging tables. The names of the tables created.
    pub async fn replace_collection(
        &mut self,
        built: &Built,
        reporter: &dyn Reporter,
    ) -> Result<Vec<String>> {
        let mut created = Vec::new();
        if self.create_dataset().await? {
            created.push(self.dataset.clone());
        }
        for (table, schema) in [
            (DATA_TABLE, data_schema()),
            (GENERATORS_TABLE, generators_schema()),
        ] {
            if self.create_table(table, &schema).await? {
                created.push(format!("{}.{table}", self.dataset));
            }
        }
        let data_staging = self.staging_name(DATA_TABLE);
        let gen_staging = self.staging_name(GENERATORS_TABLE);
        let mut loaded = Vec::new();
        for (table, staging, file, rows, schema) in [
            (
                DATA_TABLE,
                &data_staging,
                &built.data,
                built.data_rows,
                data_schema(),
            ),
            (
                GENERATORS_TABLE,
                &gen_staging,
                &built.generators,
                built.generator_rows,
                generators_schema(),
            ),
        ] {
            if rows == 0 {
                continue;
            }
            reporter.note(&format!(
                "bigquery: loading {rows} {table} rows into {}.{staging}",
                self.dataset
            ));
            let job = self.load(staging, &schema, file.as_file()).await?;
            self.wait(&job, &format!("the load of {staging}")).await?;
            loaded.push(table);
        }
        let script = self.replace_script(&loaded);
        let job = format!("livecov_replace_{}", self.run);
        self.query(&job, &script).await?;
        let outcome = self
            .wait(&job, "the transaction replacing the collection's rows")
            .await;
        // The staging tables go whether the transaction committed or not; a failed drop
        // only costs storage, so it warns.
        for staging in [&data_staging, &gen_staging] {
            if let Err(e) = self.delete_table(staging).await {
                reporter.diagnostic(
                    livecov_model::Severity::Warning,
                    &format!(
                        "could not drop the staging table {}.{staging}: {e:#}",
                        self.dataset
                    ),
                );
            }
        }
        outcome?;
        Ok(created)
    }

    fn staging_name(&self, table: &str) -> String {
        format!("livecov_staging_{table}_{}", self.staging)
    }

    /// The transaction: delete the collection's rows of both tables, insert the staged
    /// rows of the tables that have any.
    pub(super) fn replace_script(&self, loaded: &[&str]) -> String {
        let mut script = String::from("BEGIN TRANSACTION;\n");
        for table in [DATA_TABLE, GENERATORS_TABLE] {
            let target = self.qualified(table);
            script.push_str(&format!(
                "DELETE FROM {target} WHERE collection_id = @collection_id;\n"
            ));
            if loaded.contains(&table) {
                script.push_str(&format!(
                    "INSERT INTO {target} SELECT * FROM {};\n",
                    self.qualified(&self.staging_name(table))
                ));
            }
        }
        script.push_str("COMMIT TRANSACTION;\n");
        script
    }

    fn qualified(&self, table: &str) -> String {
        format!("`{}.{}.{table}`", self.project, self.dataset)
    }

    fn api(&self, path: &str) -> String {
        format!(
            "{}/bigquery/v2/projects/{}{path}",
            self.endpoint, self.project
        )
    }

    async fn bearer(&mut self) -> Result<String> {
        if let Some((token, until)) = &self.token {
            if Instant::now() + Duration::from_secs(60) < *until {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.credentials.token(&self.http).await?;
        self.token = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// Sends a request, retrying 429 and 5xx answers and connection errors a few times
    /// (every request here is safe to repeat). The status and the body.
    async fn send(
        &mut self,
        what: &str,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, String)> {
        let mut delay = Duration::from_millis(250);
        for attempt in 1.. {
            let token = self.bearer().await?;
            let result = make(&self.http, &token).send().await;
            let retry = match &result {
                Ok(r) => r.status().as_u16() == 429 || r.status().is_server_error(),
                Err(e) => e.is_connect() || e.is_timeout(),
            };
            if retry && attempt < 4 {
                tokio::time::sleep(delay).await;
                delay *= 4;
                continue;
            }
            let r = result.map_err(|e| anyhow!("{what}: {e}"))?;
            let status = r.status();
            let headers = r.headers().clone();
            let body = r.text().await.unwrap_or_default();
            if status.as_u16() == 401 {
                self.token = None;
            }
            return Ok((status, headers, body));
        }
        unreachable!("the loop returns")
    }

    /// datasets.insert; false when it exists.
    async fn create_dataset(&mut self) -> Result<bool> {
        let mut body = json!({
            "datasetReference": {"projectId": self.project, "datasetId": self.dataset},
        });
        if let Some(l) = &self.location {
            body["location"] = l.clone().into();
        }
        let url = self.api("/datasets");
        let what = format!("creating the dataset {}", self.dataset);
        let (status, _, text) = self
            .send(&what, |c, t| c.post(&url).bearer_auth(t).json(&body))
            .await?;
        created_or_exists(status, &text, &what)
    }

    /// tables.insert, partitioned by day on ingestion_time; false when it exists.
    async fn create_table(&mut self, table: &str, schema: &Value) -> Result<bool> {
        let body = json!({
            "tableReference": {
                "projectId": self.project, "datasetId": self.dataset, "tableId": table,
            },
            "schema": {"fields": schema},
            "timePartitioning": {"type": "DAY", "field": "ingestion_time"},
            "clustering": {"fields": clustering(table)},
        });
        let url = self.api(&format!("/datasets/{}/tables", self.dataset));
        let what = format!("creating the table {}.{table}", self.dataset);
        let (status, _, text) = self
            .send(&what, |c, t| c.post(&url).bearer_auth(t).json(&body))
            .await?;
        created_or_exists(status, &text, &what)
    }

    /// A load job from `file` (newline-delimited JSON) into `staging`, replacing it, by
    /// a resumable upload in chunks. The job id.
    async fn load(
        &mut self,
        staging: &str,
        schema: &Value,
        mut file: &std::fs::File,
    ) -> Result<String> {
        let size = file.metadata()?.len();
        let job = format!("livecov_load_{staging}_{}", self.run);
        let mut reference = json!({"projectId": self.project, "jobId": job});
        if let Some(l) = &self.location {
            reference["location"] = l.clone().into();
        }
        let body = json!({
            "jobReference": reference,
            "configuration": {"load": {
                "destinationTable": {
                    "projectId": self.project, "datasetId": self.dataset, "tableId": staging,
                },
                "schema": {"fields": schema},
                "sourceFormat": "NEWLINE_DELIMITED_JSON",
                "writeDisposition": "WRITE_TRUNCATE",
                "createDisposition": "CREATE_IF_NEEDED",
            }},
        });
        let url = format!(
            "{}/upload/bigquery/v2/projects/{}/jobs?uploadType=resumable",
            self.endpoint, self.project
        );
        let what = format!("starting the load of {staging}");
        let (status, headers, text) = self
            .send(&what, |c, t| {
                c.post(&url)
                    .bearer_auth(t)
                    .header("X-Upload-Content-Type", "application/octet-stream")
                    .header("X-Upload-Content-Length", size.to_string())
                    .json(&body)
            })
            .await?;
        if !status.is_success() {
            bail!("{what}: HTTP {status}: {}", first_line(&text));
        }
        let session = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("{what}: the answer has no Location (upload session)"))?
            .to_owned();

        let mut offset = 0u64;
        let mut chunk = vec![0u8; CHUNK];
        loop {
            file.seek(SeekFrom::Start(offset))?;
            let mut filled = 0;
            while filled < CHUNK {
                let n = file.read(&mut chunk[filled..])?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            let end = offset + filled as u64;
            let range = if filled == 0 {
                format!("bytes */{size}")
            } else {
                format!("bytes {offset}-{}/{size}", end - 1)
            };
            let data = chunk[..filled].to_vec();
            let what = format!("uploading the rows of {staging} ({range})");
            let (status, headers, text) = self
                .send(&what, |c, t| {
                    c.put(&session)
                        .bearer_auth(t)
                        .header(reqwest::header::CONTENT_RANGE, range.clone())
                        .body(data.clone())
                })
                .await?;
            match status.as_u16() {
                200 | 201 => return Ok(job),
                308 => {
                    // The server says how much it holds: `Range: bytes=0-N`.
                    offset = headers
                        .get(reqwest::header::RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|r| r.rsplit('-').next())
                        .and_then(|n| n.parse::<u64>().ok())
                        .map_or(0, |last| last + 1);
                    if end >= size && offset >= size {
                        bail!("{what}: the upload holds every byte but did not finish");
                    }
                }
                _ => bail!("{what}: HTTP {status}: {}", first_line(&text)),
            }
        }
    }

    /// jobs.insert of a query job running `script` with the collection id as
    /// `@collection_id`. An id that already exists is the same job sent twice.
    async fn query(&mut self, job: &str, script: &str) -> Result<()> {
        let mut reference = json!({"projectId": self.project, "jobId": job});
        if let Some(l) = &self.location {
            reference["location"] = l.clone().into();
        }
        let body = json!({
            "jobReference": reference,
            "configuration": {"query": {
                "query": script,
                "useLegacySql": false,
                "parameterMode": "NAMED",
                "queryParameters": [{
                    "name": "collection_id",
                    "parameterType": {"type": "STRING"},
                    "parameterValue": {"value": self.collection_id},
                }],
            }},
        });
        let url = self.api("/jobs");
        let what = "starting the transaction that replaces the collection's rows".to_owned();
        let (status, _, text) = self
            .send(&what, |c, t| c.post(&url).bearer_auth(t).json(&body))
            .await?;
        if status.is_success() || status.as_u16() == 409 {
            return Ok(());
        }
        bail!("{what}: HTTP {status}: {}", first_line(&text))
    }

    /// jobs.get until the job is DONE; its error, when it has one.
    async fn wait(&mut self, job: &str, what: &str) -> Result<()> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(200);
        let mut url = self.api(&format!("/jobs/{job}"));
        if let Some(l) = &self.location {
            url.push_str(&format!("?location={l}"));
        }
        loop {
            let (status, _, text) = self.send(what, |c, t| c.get(&url).bearer_auth(t)).await?;
            if !status.is_success() {
                bail!(
                    "{what}: jobs.get {job}: HTTP {status}: {}",
                    first_line(&text)
                );
            }
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| anyhow!("{what}: jobs.get {job} answered no JSON: {e}"))?;
            if v["status"]["state"] == "DONE" {
                if let Some(err) = v["status"].get("errorResult") {
                    let detail: Vec<String> = v["status"]["errors"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e["message"].as_str().map(str::to_owned))
                        .take(5)
                        .collect();
                    bail!(
                        "{what} failed (job {job}): {}{}",
                        err["message"].as_str().unwrap_or("no message"),
                        if detail.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", detail.join("; "))
                        }
                    );
                }
                return Ok(());
            }
            if started.elapsed() > JOB_DEADLINE {
                bail!("{what}: job {job} was not done after 30 minutes");
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// tables.delete; a table that is not there is fine.
    async fn delete_table(&mut self, table: &str) -> Result<()> {
        let url = self.api(&format!("/datasets/{}/tables/{table}", self.dataset));
        let what = format!("dropping {table}");
        let (status, _, text) = self
            .send(&what, |c, t| c.delete(&url).bearer_auth(t))
            .await?;
        if status.is_success() || status.as_u16() == 404 {
            return Ok(());
        }
        bail!("{what}: HTTP {status}: {}", first_line(&text))
    }
}

/// 200: created; 409 (or an "alreadyExists" reason, as the older tool also accepted):
/// it was there.
fn created_or_exists(status: reqwest::StatusCode, body: &str, what: &str) -> Result<bool> {
    if status.is_success() {
        return Ok(true);
    }
    if status.as_u16() == 409 || body.contains("alreadyExists") || body.contains("Already Exists") {
        return Ok(false);
    }
    bail!("{what}: HTTP {status}: {}", first_line(body))
}
