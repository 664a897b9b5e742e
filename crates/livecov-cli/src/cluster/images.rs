//! Registry flags of `cluster compile` (the lookup is `livecov_ops::images`).

use std::path::PathBuf;

/// Registry options of `cluster compile`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// Read source labels of images whose source is unknown from their registry.
    #[arg(long)]
    pub registry_lookup: bool,
    /// A registry (`host[:port]`) to reach over plain http, e.g. a local test registry.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Registries (`host` or `host/org`) used to recover references from the producer's
    /// sanitized image strings (`quay.io-org-repo-sha256-…`).
    #[arg(long = "known-registry", value_name = "HOST")]
    pub known_registries: Vec<String>,
    /// A docker/podman auth file ({"auths": {"host": {"auth": …}}}) with registry
    /// credentials, searched first. Then: $REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json, $DOCKER_CONFIG/config.json (else
    /// ~/.docker/config.json); a registry without an entry is read anonymously.
    #[arg(long, value_name = "PATH", requires = "registry_lookup")]
    pub registry_auth_file: Option<PathBuf>,
}

impl RegistryArgs {
    /// The operation's settings.
    pub fn settings(&self) -> livecov_ops::images::RegistrySettings {
        livecov_ops::images::RegistrySettings {
            registry_lookup: self.registry_lookup,
            insecure_registries: self.insecure_registries.clone(),
            known_registries: self.known_registries.clone(),
            registry_auth_file: self.registry_auth_file.clone(),
        }
    }
}
