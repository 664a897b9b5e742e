//! The rows of the two tables, written as newline-delimited JSON (a load job's input) to
//! temporary files, one build at a time, so memory holds one build's profile, not the
//! collection's rows.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};

use anyhow::{Context, Result};
use livecov_model::{Profile, Severity};
use livecov_store::OwnerRow;
use serde::Serialize;

use super::BigQuerySettings;
use crate::export::{image_keys, ExportSource, PathMapper};
use crate::Reporter;

/// The two row files and what they hold.
pub(super) struct Built {
    pub data: tempfile::NamedTempFile,
    pub generators: tempfile::NamedTempFile,
    pub data_rows: u64,
    pub untracked_rows: u64,
    pub generator_rows: u64,
    pub files_without_source: usize,
    pub data_bytes: u64,
    pub generator_bytes: u64,
}

impl Built {
    pub fn bytes(&self) -> u64 {
        self.data_bytes + self.generator_bytes
    }
}

/// One `coverage_data` row.
#[derive(Serialize)]
struct DataRow<'a> {
    ingestion_time: &'a str,
    binary_hash: &'a str,
    collection_id: &'a str,
    source_filename: &'a str,
    source_line: &'a str,
    source_line_number: u32,
    line_executions: i64,
}

/// One `coverage_generators` row.
#[derive(Serialize)]
struct GeneratorRow<'a> {
    ingestion_time: &'a str,
    software_group: &'a str,
    binary_hash: &'a str,
    collection_id: &'a str,
    source_url: &'a str,
    software_key: &'a str,
    source_commit: &'a str,
    generators: Vec<Generator<'a>>,
}

/// One owner of a build, in `coverage_generators.generators`.
#[derive(Serialize, Debug, PartialEq, Eq)]
struct Generator<'a> {
    namespace: &'a str,
    owner: &'a str,
    container: String,
    binary_name: &'a str,
}

/// The timestamp BigQuery's JSON loader reads: `YYYY-MM-DD HH:MM:SS UTC`.
pub(super) fn timestamp(secs: i64) -> String {
    let t = livecov_collect::producer::rfc3339(secs, 0);
    // `2026-12-04T01:02:03Z` → `2026-12-04 01:02:03 UTC`
    format!("{} UTC", t.trim_end_matches('Z').replacen('T', " ", 1))
}

/// Writes the rows of `chosen`'s builds.
pub(super) fn build(
    source: &ExportSource,
    chosen: &[(i64, Vec<&OwnerRow>)],
    settings: &BigQuerySettings,
    reporter: &dyn Reporter,
) -> Result<Built> {
    let sources = source.sources_for(chosen)?;
    let images = source.image_sources()?;
    let at = timestamp(settings.ingestion_time);
    let collection_id = settings.collection_id.as_str();
    let data = tempfile::NamedTempFile::new().context("creating a temporary file for rows")?;
    let generators =
        tempfile::NamedTempFile::new().context("creating a temporary file for rows")?;
    let mut data_out = BufWriter::with_capacity(1 << 20, data.as_file());
    let mut gen_out = BufWriter::new(generators.as_file());
    let mut built_rows = (0u64, 0u64, 0u64, 0usize);

    reporter.start("bigquery rows", Some(chosen.len() as u64));
    for (build_id, members) in chosen {
        let hex = source.build_hex(*build_id);
        let (repo, commit) = source.origin(*build_id);
        let (layout, excluded, counters) = source.merged(*build_id, members)?;
        let mut profile = Profile::new(layout.mode);
        for f in 0..layout.functions.len() {
            let recorded = layout.file_of(f).path.as_str();
            if excluded.contains(recorded) {
                continue;
            }
            for k in layout.function_units(f) {
                if let Err(e) = profile.add(recorded, layout.units[k], counters[k]) {
                    reporter.diagnostic(
                        Severity::Warning,
                        &format!("build {hex}: {recorded}: {e}; the unit is left out"),
                    );
                }
            }
        }
        let lookup = sources.for_build(repo, commit);
        let mapper = PathMapper::new(Some(&sources), repo, commit);
        for file in profile.files() {
            let hits: BTreeMap<u32, u32> = profile.line_hits(file).into_iter().collect();
            let last_unit_line = profile
                .file_blocks(file)
                .map(|b| b.unit.end_line.max(b.unit.start_line))
                .max()
                .unwrap_or(0);
            let found = lookup.find(file);
            if found.bytes.is_none() {
                built_rows.3 += 1;
            }
            let text = found
                .bytes
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let mut lines: Vec<&str> = text.split('\n').collect();
            // A final newline ends the last line; it does not start another.
            if lines.last() == Some(&"") {
                lines.pop();
            }
            let count = (lines.len() as u32).max(last_unit_line);
            let name = mapper.map(file);
            for n in 1..=count {
                let line = lines.get(n as usize - 1).copied().unwrap_or("");
                let executions = hits.get(&n).map_or(-1, |&h| i64::from(h));
                if executions < 0 {
                    built_rows.1 += 1;
                }
                let row = DataRow {
                    ingestion_time: &at,
                    binary_hash: &hex,
                    collection_id,
                    source_filename: &name,
                    source_line: line.strip_suffix('\r').unwrap_or(line),
                    source_line_number: n,
                    line_executions: executions,
                };
                serde_json::to_writer(&mut data_out, &row)?;
                data_out.write_all(b"\n")?;
                built_rows.0 += 1;
            }
        }

        // The build's software group and key: from the first owner image with a known
        // source, the image the origin came from.
        let image = members
            .iter()
            .flat_map(|o| image_keys(o))
            .filter_map(|k| images.get(&k))
            .find(|r| !r.source_repo.is_empty() && r.error.is_empty());
        let row = GeneratorRow {
            ingestion_time: &at,
            software_group: image.map_or("", |r| r.software_group.as_str()),
            binary_hash: &hex,
            collection_id,
            source_url: repo,
            software_key: image.map_or("", |r| r.software_key.as_str()),
            source_commit: commit,
            generators: members.iter().map(|o| generator(o)).collect(),
        };
        serde_json::to_writer(&mut gen_out, &row)?;
        gen_out.write_all(b"\n")?;
        built_rows.2 += 1;
        reporter.advance(1, &hex);
    }
    reporter.finish();
    data_out.flush().context("writing the coverage_data rows")?;
    gen_out
        .flush()
        .context("writing the coverage_generators rows")?;
    drop((data_out, gen_out));
    let data_bytes = data.as_file().metadata()?.len();
    let generator_bytes = generators.as_file().metadata()?.len();
    Ok(Built {
        data,
        generators,
        data_rows: built_rows.0,
        untracked_rows: built_rows.1,
        generator_rows: built_rows.2,
        files_without_source: built_rows.3,
        data_bytes,
        generator_bytes,
    })
}

/// An owner as `generators` lists it. Host processes and bare pods have their namespace,
/// owner and container blanked, as the older tool did (their names are per machine or
/// per pod and would split the group).
fn generator(o: &OwnerRow) -> Generator<'_> {
    let blank = matches!(o.owner_type.as_str(), "Host" | "Pod");
    Generator {
        namespace: if blank { "" } else { &o.namespace },
        owner: if blank { "" } else { &o.owner },
        container: if blank {
            String::new()
        } else {
            o.containers.join(",")
        },
        binary_name: &o.binary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_in_the_form_the_json_loader_reads() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(timestamp(1_796_000_000), "2026-11-30 00:53:20 UTC");
    }

    #[test]
    fn host_and_bare_pod_generators_are_blanked_like_the_older_tool() {
        let mut o = OwnerRow {
            namespace: "shop".into(),
            owner_type: "Deployment".into(),
            owner: "web".into(),
            binary: "web".into(),
            containers: vec!["a".into(), "b".into()],
            ..OwnerRow::default()
        };
        assert_eq!(
            generator(&o),
            Generator {
                namespace: "shop",
                owner: "web",
                container: "a,b".into(),
                binary_name: "web"
            }
        );
        o.owner_type = "Pod".into();
        assert_eq!(
            generator(&o),
            Generator {
                namespace: "",
                owner: "",
                container: String::new(),
                binary_name: "web"
            }
        );
    }
}
