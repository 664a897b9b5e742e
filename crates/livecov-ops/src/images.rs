//! Image sources from registry labels (a compile's registry lookup).
//!
//! For each image of the collection whose source is not yet known (no repository or no
//! commit), read its labels from the registry: the OpenShift build labels, else the OCI
//! ones, and the doozer group/key from its environment. Values fill empty fields only,
//! so a good value from `info.json` is never replaced by an empty one; a failed lookup
//! is recorded on the image and retried on the next compile.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use futures::stream::{self, StreamExt};
use livecov_collect::registry::{ImageRef, RegistryClient};
use livecov_collect::registry_auth::RegistryAuth;
use livecov_model::Severity;
use livecov_store::{ImageSourceRow, Store};

use crate::Reporter;

/// Registry options of a compile.
#[derive(Debug, Clone, Default)]
pub struct RegistrySettings {
    /// Read source labels of images whose source is unknown from their registry.
    pub registry_lookup: bool,
    /// Registries (`host[:port]`) to reach over plain http, e.g. a local test registry.
    pub insecure_registries: Vec<String>,
    /// Registries (`host` or `host/org`) used to recover references from the producer's
    /// sanitized image strings (`quay.io-org-repo-sha256-…`).
    pub known_registries: Vec<String>,
    /// A docker/podman auth file searched first for credentials; then
    /// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
    /// `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`).
    pub registry_auth_file: Option<PathBuf>,
}

/// Looks up every image lacking a source. Returns (resolved, failed).
pub fn lookup(
    store: &mut Store,
    args: &RegistrySettings,
    reporter: &dyn Reporter,
) -> Result<(usize, usize)> {
    if !args.registry_lookup {
        return Ok((0, 0));
    }
    let auth = RegistryAuth::discover(args.registry_auth_file.as_deref())?;
    // Done: a source with repository and commit, or a registry answer without error
    // (an image without labels does not gain them by asking again).
    let known: BTreeSet<String> = store
        .image_sources()?
        .into_iter()
        .filter(|s| {
            (!s.source_repo.is_empty() && !s.commit_id.is_empty())
                || (s.error.is_empty() && s.origin.contains("registry"))
        })
        .map(|s| s.image)
        .collect();
    let images: BTreeSet<String> = store
        .inputs()?
        .into_iter()
        .filter(|i| !i.is_host && !i.image.is_empty() && !known.contains(&i.image))
        .map(|i| i.image)
        .collect();
    if images.is_empty() {
        return Ok((0, 0));
    }
    let mut builder = RegistryClient::builder()
        .timeout(Duration::from_secs(20))
        .auth_files(&auth);
    for h in &args.insecure_registries {
        builder = builder.insecure_host(h.clone());
    }
    let client = builder.build()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let known_registries = args.known_registries.clone();
    let results: Vec<(String, Result<ImageSourceRow, String>)> = runtime.block_on(async {
        stream::iter(images)
            .map(|image| {
                let client = &client;
                let known_registries = &known_registries;
                async move {
                    // The producer writes references with `/`, `:` and `@` replaced by
                    // `-`; anything else is a reference as is (`nginx:1.27` included).
                    let sanitized = !image.contains(['/', ':', '@']) && image.contains("-sha256-");
                    let looked = if sanitized {
                        client
                            .resolve_sanitized(&image, known_registries)
                            .await
                            .map(|(_, s)| s)
                    } else {
                        match ImageRef::parse(&image) {
                            Ok(r) => client.image_source(&r).await,
                            Err(e) => Err(e),
                        }
                    };
                    let row = looked
                        .map(|s| ImageSourceRow {
                            image: image.clone(),
                            source_repo: s.source_url.unwrap_or_default(),
                            commit_id: s.commit.unwrap_or_default(),
                            software_group: s.software_group.unwrap_or_default(),
                            software_key: s.software_key.unwrap_or_default(),
                            origin: "registry".into(),
                            error: String::new(),
                        })
                        .map_err(|e| e.to_string());
                    (image, row)
                }
            })
            .buffer_unordered(8)
            .collect()
            .await
    });
    let (mut ok, mut failed) = (0, 0);
    store.transaction(|tx| {
        for (image, r) in &results {
            match r {
                Ok(row) => {
                    ok += 1;
                    tx.fill_image_source(row)?;
                }
                Err(e) => {
                    failed += 1;
                    reporter.diagnostic(Severity::Warning, e);
                    tx.fill_image_source(&ImageSourceRow {
                        image: image.clone(),
                        error: e.clone(),
                        ..ImageSourceRow::default()
                    })?;
                }
            }
        }
        Ok(())
    })?;
    Ok((ok, failed))
}
