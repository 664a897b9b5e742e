//! Source labels of container images, read from an OCI registry.
//!
//! Which repository and commit a covered binary was built from is written into its image:
//! OpenShift builds label it `io.openshift.build.source-location` and
//! `io.openshift.build.commit.id`, other builds often `org.opencontainers.image.source` and
//! `org.opencontainers.image.revision`, and ART's doozer adds the env variables
//! `__doozer_group` and `__doozer_key`. The older tool ran `oc image info` once per image,
//! sequentially, and passed refs it could not unsanitize through as they were
//! (`../shared/specs/seed-system.md` §6.7, §14 item 15). This module speaks the registry's
//! HTTP API directly instead (Docker Registry HTTP API v2 / OCI distribution spec):
//!
//! 1. `GET /v2/<repo>/manifests/<tag|digest>` accepting OCI index, OCI manifest, Docker
//!    manifest list and Docker manifest v2;
//! 2. for an index or list, pick the entry of the configured platform (linux/amd64 unless
//!    told otherwise) and fetch that manifest;
//! 3. `GET /v2/<repo>/blobs/<config digest>` and read `config.Labels` and `config.Env`.
//!
//! Every document fetched by digest is checked against its digest, and size-capped.
//! Authentication: anonymous, the Bearer token challenge (`WWW-Authenticate: Bearer
//! realm=…,service=…,scope=…`, with Basic credentials at the realm when configured) and
//! plain Basic; credentials are given per registry or read from docker/podman auth files
//! ([`crate::registry_auth`]). Plain `http://` only for hosts listed as insecure (a
//! registry on 127.0.0.1). Nothing here panics on odd JSON: unexpected shapes become
//! [`RegistryError::Json`].
//!
//! The producer writes image refs sanitized (`/`, `:`, `@` → `-`, §4.1);
//! [`unsanitize`] recovers the ones that can be recovered without guessing, and
//! [`unsanitize_candidates`] with [`RegistryClient::resolve_sanitized`] settle the others
//! against the registry, where the digest makes a hit conclusive.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::registry_auth::RegistryAuth;

/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list (schema 2) media type.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest (schema 2) media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Label: the source repository URL of an OpenShift build.
pub const LABEL_OPENSHIFT_SOURCE: &str = "io.openshift.build.source-location";
/// Label: the commit of an OpenShift build.
pub const LABEL_OPENSHIFT_COMMIT: &str = "io.openshift.build.commit.id";
/// Label: the source repository URL, OCI annotation convention.
pub const LABEL_OCI_SOURCE: &str = "org.opencontainers.image.source";
/// Label: the source revision, OCI annotation convention.
pub const LABEL_OCI_REVISION: &str = "org.opencontainers.image.revision";
/// Label: marks an OpenShift release payload image; its value is the release version.
pub const LABEL_OPENSHIFT_RELEASE: &str = "io.openshift.release";
/// Env variable: the ocp-build-data group doozer built the image for.
pub const ENV_DOOZER_GROUP: &str = "__doozer_group";
/// Env variable: the doozer distgit key of the image.
pub const ENV_DOOZER_KEY: &str = "__doozer_key";

/// Largest manifest or index read (the distribution spec suggests 4 MiB).
const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// Largest image config read.
const MAX_CONFIG_BYTES: usize = 16 << 20;
/// Largest error body or token response read.
const MAX_SMALL_BYTES: usize = 1 << 20;
/// Index → index nesting followed at most.
const MAX_INDEX_DEPTH: usize = 4;
/// Dashes of a sanitized path tried in every combination by [`unsanitize_candidates`].
const MAX_CANDIDATE_DASHES: usize = 8;

/// Sanitized prefixes of registries whose layout is known: the rest of the string up to
/// `-sha256-` is a single repository name.
const KNOWN_SANITIZED_PREFIXES: &[(&str, &str)] = &[
    (
        "quay.io-openshift-release-dev-",
        "quay.io/openshift-release-dev/",
    ),
    (
        "registry.ci.openshift.org-ocp-",
        "registry.ci.openshift.org/ocp/",
    ),
];

/// What can go wrong reading an image's labels. Each variant names the image reference.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The string is not an image reference.
    #[error("invalid image reference {input:?}: {reason}")]
    InvalidReference {
        /// The string given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the registry HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The request did not get an HTTP response (DNS, connection, TLS, timeout).
    #[error("{reference}: request to {url} failed: {source}")]
    Http {
        /// The image reference.
        reference: String,
        /// The URL requested.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with an error status.
    #[error("{reference}: {what} request {url} returned HTTP {status}{detail}")]
    Status {
        /// The image reference.
        reference: String,
        /// What was requested: `manifest`, `config blob` or `token`.
        what: &'static str,
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The registry's error codes and messages, and a hint, when there are any.
        detail: String,
    },
    /// The token endpoint or the challenge could not be used.
    #[error("{reference}: cannot authenticate at {realm}: {reason}")]
    Auth {
        /// The image reference.
        reference: String,
        /// The token realm or registry that asked for authentication.
        realm: String,
        /// What went wrong.
        reason: String,
    },
    /// A document did not have the expected JSON shape.
    #[error("{reference}: {what} is not valid: {reason}")]
    Json {
        /// The image reference.
        reference: String,
        /// Which document: `manifest`, `index`, `config blob`, `token response`.
        what: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// The manifest has a media type this client does not read (e.g. Docker schema 1).
    #[error("{reference}: unsupported manifest media type {media_type:?}")]
    UnsupportedMediaType {
        /// The image reference.
        reference: String,
        /// The media type received.
        media_type: String,
    },
    /// An index or manifest list has no entry for the wanted platform.
    #[error("{reference}: no manifest for platform {platform} (the index has: {})", available.join(", "))]
    NoMatchingPlatform {
        /// The image reference.
        reference: String,
        /// The platform wanted.
        platform: String,
        /// The platforms the index lists.
        available: Vec<String>,
    },
    /// Content fetched by digest does not hash to that digest.
    #[error("{reference}: {what} digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The image reference.
        reference: String,
        /// Which document.
        what: &'static str,
        /// The digest asked for.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// A document is larger than this client reads.
    #[error("{reference}: {what} is larger than {limit} bytes")]
    TooLarge {
        /// The image reference.
        reference: String,
        /// Which document.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// No candidate of a sanitized image string exists in the registry.
    #[error("{sanitized}: no readable image among {tried} candidate reference(s){}", last.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default())]
    Unresolved {
        /// The sanitized string.
        sanitized: String,
        /// How many candidates were tried.
        tried: usize,
        /// The error of the last candidate, if any was tried.
        last: Option<Box<RegistryError>>,
    },
}

impl RegistryError {
    /// The HTTP status of a [`RegistryError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the registry said the repository, tag or digest does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// A parsed image reference: `registry/repository[:tag][@digest]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    /// Registry host, with its port if any (`quay.io`, `127.0.0.1:5000`); `docker.io` when
    /// the reference names none.
    pub registry: String,
    /// Repository path (`openshift-release-dev/ocp-v4.0-art-dev`; `library/nginx` for
    /// Docker Hub's official images).
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest (`sha256:<64 hex>`), if given.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference the way `docker pull` does: the first path component is the
    /// registry when it contains `.` or `:` or is `localhost`, else the registry is
    /// `docker.io` (and a single-component repository gets `library/`).
    pub fn parse(input: &str) -> Result<ImageRef, RegistryError> {
        let invalid = |reason: &str| RegistryError::InvalidReference {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (name, digest) = match input.split_once('@') {
            Some((name, digest)) => {
                if !is_valid_digest(digest) {
                    return Err(invalid(
                        "the digest must be sha256:<64 hex> or sha512:<128 hex>",
                    ));
                }
                (name, Some(digest.to_string()))
            }
            None => (input, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(colon) => {
                let tag = &name[last_slash + colon + 1..];
                if !is_valid_tag(tag) {
                    return Err(invalid(
                        "the tag must be 1-128 of [A-Za-z0-9_.-], not starting with . or -",
                    ));
                }
                (&name[..last_slash + colon], Some(tag.to_string()))
            }
            None => (name, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ if name.contains('/') => ("docker.io".to_string(), name.to_string()),
            _ => ("docker.io".to_string(), format!("library/{name}")),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
            _ => registry,
        };
        if registry.is_empty() || !registry.bytes().all(is_host_byte) {
            return Err(invalid(
                "the registry host has characters outside [A-Za-z0-9.:-]",
            ));
        }
        if !repository.split('/').all(is_valid_path_component) {
            return Err(invalid(
                "each repository path component must be lowercase [a-z0-9._-], starting and ending with a letter or digit",
            ));
        }
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What the manifest is fetched by: the digest when there is one, else the tag, else
    /// `latest`.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The host the registry API is served from (`registry-1.docker.io` for `docker.io`).
    fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<ImageRef, RegistryError> {
        ImageRef::parse(s)
    }
}

/// Recovers `registry/repo@sha256:<hex>` from the producer's sanitized image string
/// (`/`, `:`, `@` replaced by `-`), when that can be done without guessing.
///
/// The string must end in `-sha256-<64 hex>` (tags cannot be told from path dashes). Then:
/// - the built-in prefixes `quay.io-openshift-release-dev-` and
///   `registry.ci.openshift.org-ocp-` map to `quay.io/openshift-release-dev/` and
///   `registry.ci.openshift.org/ocp/`, the rest being one repository name (it may contain
///   dashes: `ocp-v4.0-art-dev`);
/// - each of `known_registries` (`host[:port][/path]`, longest first) whose sanitized form
///   starts the string: with a path, the rest is one repository name; a bare host only
///   when the rest has no dash (otherwise the dashes are ambiguous: see
///   [`unsanitize_candidates`]).
///
/// Anything else gives `None`.
pub fn unsanitize(sanitized: &str, known_registries: &[impl AsRef<str>]) -> Option<ImageRef> {
    let (name, hex) = split_sanitized_digest(sanitized)?;
    let with_digest = |name: String| ImageRef::parse(&format!("{name}@sha256:{hex}")).ok();
    for (prefix, real) in KNOWN_SANITIZED_PREFIXES {
        if let Some(rest) = name.strip_prefix(prefix) {
            if is_valid_path_component(rest) {
                return with_digest(format!("{real}{rest}"));
            }
        }
    }
    for (known, rest) in known_prefix_matches(name, known_registries) {
        let one_segment = known.contains('/') || !rest.contains('-');
        if one_segment && is_valid_path_component(rest) {
            return with_digest(format!("{known}/{rest}"));
        }
    }
    None
}

/// Every reading of a sanitized digest image string that [`unsanitize`] leaves ambiguous:
/// for each matching known registry (bare host), each way of turning the dashes of the
/// path into `/` (up to 8 dashes), two-component paths first (`org/repo`, the common
/// layout), then one, then more. The unambiguous [`unsanitize`] result, when there is
/// one, comes first. Each candidate must be confirmed against the registry, which
/// [`RegistryClient::resolve_sanitized`] does; since every candidate carries the digest,
/// a manifest found is the image.
pub fn unsanitize_candidates(
    sanitized: &str,
    known_registries: &[impl AsRef<str>],
) -> Vec<ImageRef> {
    let mut out: Vec<ImageRef> = unsanitize(sanitized, known_registries)
        .into_iter()
        .collect();
    let Some((name, hex)) = split_sanitized_digest(sanitized) else {
        return out;
    };
    for (known, rest) in known_prefix_matches(name, known_registries) {
        let dashes: Vec<usize> = rest.match_indices('-').map(|(i, _)| i).collect();
        if dashes.len() > MAX_CANDIDATE_DASHES {
            continue;
        }
        let mut paths: Vec<(usize, String)> = (0u32..1 << dashes.len())
            .map(|mask| {
                let mut path = rest.as_bytes().to_vec();
                for (bit, &at) in dashes.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        path[at] = b'/';
                    }
                }
                let components = mask.count_ones() as usize + 1;
                (components, String::from_utf8(path).unwrap_or_default())
            })
            .collect();
        // 2 components first, then 1, then 3, 4, …; stable within a count.
        paths.sort_by_key(|(components, _)| match components {
            2 => 0,
            1 => 1,
            n => *n,
        });
        for (_, path) in paths {
            if let Ok(image) = ImageRef::parse(&format!("{known}/{path}@sha256:{hex}")) {
                if !out.contains(&image) {
                    out.push(image);
                }
            }
        }
    }
    out
}

/// `(name, hex)` of `<name>-sha256-<64 lowercase hex>`.
fn split_sanitized_digest(sanitized: &str) -> Option<(&str, &str)> {
    let (name, hex) = sanitized.rsplit_once("-sha256-")?;
    let is_hex = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (is_hex && !name.is_empty()).then_some((name, hex))
}

/// `(known registry, rest)` for each known registry whose sanitized form plus `-` starts
/// `name`, longest first.
fn known_prefix_matches<'a>(
    name: &'a str,
    known_registries: &[impl AsRef<str>],
) -> Vec<(String, &'a str)> {
    let mut known: Vec<String> = known_registries
        .iter()
        .map(|k| k.as_ref().trim_end_matches('/').to_string())
        .filter(|k| !k.is_empty())
        .collect();
    known.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    known.dedup();
    known
        .into_iter()
        .filter_map(|k| {
            let sanitized = k.replace(['/', ':'], "-");
            let rest = name.strip_prefix(&sanitized)?.strip_prefix('-')?;
            (!rest.is_empty()).then_some((k, rest))
        })
        .collect()
}

/// An OS and CPU architecture, as image indexes list them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// `linux`, `windows` …
    pub os: String,
    /// `amd64`, `arm64`, `s390x`, `ppc64le` …
    pub architecture: String,
    /// `v8` for arm64, `v7` for arm …; `None` matches any variant.
    pub variant: Option<String>,
}

impl Platform {
    /// A platform without a variant.
    pub fn new(os: impl Into<String>, architecture: impl Into<String>) -> Platform {
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut parts = s.split('/');
        let os = parts.next().filter(|p| !p.is_empty())?;
        let architecture = parts.next().filter(|p| !p.is_empty())?;
        let variant = parts.next().map(str::to_string);
        if parts.next().is_some() || variant.as_deref() == Some("") {
            return None;
        }
        Some(Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant,
        })
    }

    fn matches(&self, entry: &PlatformJson) -> bool {
        entry.os.as_deref() == Some(self.os.as_str())
            && entry.architecture.as_deref() == Some(self.architecture.as_str())
            && (self.variant.is_none() || entry.variant == self.variant)
    }
}

impl Default for Platform {
    /// `linux/amd64`.
    fn default() -> Platform {
        Platform::new("linux", "amd64")
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// Which label pair gave [`ImageSource::source_url`] and [`ImageSource::commit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceLabels {
    /// `io.openshift.build.source-location` and `io.openshift.build.commit.id`.
    OpenShift,
    /// `org.opencontainers.image.source` and `org.opencontainers.image.revision`.
    Oci,
}

/// What an image says about its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSource {
    /// Digest of the manifest or index the reference resolved to.
    pub digest: String,
    /// Digest of the platform manifest whose config was read (equals `digest` for a
    /// single-platform image).
    pub manifest_digest: String,
    /// Digest of the image config blob.
    pub config_digest: String,
    /// The platform of the manifest read: the index entry's, else the config's.
    pub platform: Option<Platform>,
    /// Source repository URL. The OpenShift pair is preferred; the OCI pair is used only
    /// when the OpenShift source label is missing, so that a base image's labels never
    /// pair with the image's own.
    pub source_url: Option<String>,
    /// Commit of `source_url` (from the same pair); without any source label, whichever
    /// commit label is present, OpenShift's first.
    pub commit: Option<String>,
    /// Which pair `source_url` came from.
    pub source_labels: Option<SourceLabels>,
    /// `__doozer_group` from the config's env.
    pub software_group: Option<String>,
    /// `__doozer_key` from the config's env.
    pub software_key: Option<String>,
    /// `io.openshift.release`: set on release payload images (its value is the version).
    pub release: Option<String>,
    /// Every string label of the config, for callers that want more.
    pub labels: BTreeMap<String, String>,
}

impl ImageSource {
    /// Reads the source fields from a config's labels and env (`KEY=VALUE` strings).
    /// Empty values count as missing.
    pub fn from_labels_and_env(labels: BTreeMap<String, String>, env: &[String]) -> ImageSource {
        let label = |key: &str| labels.get(key).filter(|v| !v.is_empty()).cloned();
        let env_var = |key: &str| {
            env.iter()
                .rev() // the last definition wins, as in a shell
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let openshift = (label(LABEL_OPENSHIFT_SOURCE), label(LABEL_OPENSHIFT_COMMIT));
        let oci = (label(LABEL_OCI_SOURCE), label(LABEL_OCI_REVISION));
        let (source_url, commit, source_labels) = match (openshift, oci) {
            ((Some(url), commit), _) => (Some(url), commit, Some(SourceLabels::OpenShift)),
            (_, (Some(url), commit)) => (Some(url), commit, Some(SourceLabels::Oci)),
            ((None, os_commit), (None, oci_commit)) => (None, os_commit.or(oci_commit), None),
        };
        ImageSource {
            digest: String::new(),
            manifest_digest: String::new(),
            config_digest: String::new(),
            platform: None,
            source_url,
            commit,
            source_labels,
            software_group: env_var(ENV_DOOZER_GROUP),
            software_key: env_var(ENV_DOOZER_KEY),
            release: label(LABEL_OPENSHIFT_RELEASE),
            labels,
        }
    }
}

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name (`unused` or `serviceaccount` for OpenShift token logins).
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Builds a [`RegistryClient`].
#[derive(Clone, Debug)]
pub struct RegistryClientBuilder {
    config: Config,
}

#[derive(Clone, Debug)]
struct Config {
    platform: Platform,
    insecure_hosts: BTreeSet<String>,
    credentials: BTreeMap<String, Credentials>,
    /// The auth file each registry's credentials came from, if one did.
    credentials_from: BTreeMap<String, PathBuf>,
    timeout: Duration,
}

impl Default for RegistryClientBuilder {
    fn default() -> RegistryClientBuilder {
        RegistryClientBuilder {
            config: Config {
                platform: Platform::default(),
                insecure_hosts: BTreeSet::new(),
                credentials: BTreeMap::new(),
                credentials_from: BTreeMap::new(),
                timeout: Duration::from_secs(30),
            },
        }
    }
}

impl RegistryClientBuilder {
    /// A builder with the defaults below.
    pub fn new() -> RegistryClientBuilder {
        RegistryClientBuilder::default()
    }

    /// The platform picked from indexes and manifest lists. Default: `linux/amd64`.
    pub fn platform(mut self, platform: Platform) -> RegistryClientBuilder {
        self.config.platform = platform;
        self
    }

    /// Speaks plain `http://` to this `host[:port]` (a local test registry, e.g.
    /// `127.0.0.1:5000`), and allows sending credentials to token realms on it.
    /// Default: none; every registry is reached over `https://`.
    pub fn insecure_host(mut self, host: impl Into<String>) -> RegistryClientBuilder {
        self.config.insecure_hosts.insert(host.into());
        self
    }

    /// Credentials for the registry `host[:port]` (as in [`ImageRef::registry`]), sent as
    /// Basic auth to its token realm or to the registry itself when it asks for them.
    /// Default: anonymous everywhere.
    pub fn credentials(
        mut self,
        host: impl Into<String>,
        credentials: Credentials,
    ) -> RegistryClientBuilder {
        let host = host.into();
        self.config.credentials_from.remove(&host);
        self.config.credentials.insert(host, credentials);
        self
    }

    /// Credentials for every registry that docker/podman auth files have (see
    /// [`crate::registry_auth`]), except those already given to [`Self::credentials`];
    /// an authentication error names the file they came from. Default: none.
    pub fn auth_files(mut self, auth: &RegistryAuth) -> RegistryClientBuilder {
        for (host, (credentials, path)) in auth.all() {
            if self.config.credentials.contains_key(host) {
                continue;
            }
            self.config
                .credentials
                .insert(host.to_string(), credentials.clone());
            self.config
                .credentials_from
                .insert(host.to_string(), path.to_path_buf());
        }
        self
    }

    /// Timeout of each HTTP request. Default: 30 s.
    pub fn timeout(mut self, timeout: Duration) -> RegistryClientBuilder {
        self.config.timeout = timeout;
        self
    }

    /// The client.
    pub fn build(self) -> Result<RegistryClient, RegistryError> {
        let http = reqwest::Client::builder()
            .timeout(self.config.timeout)
            .user_agent(concat!("livecov/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(RegistryError::Client)?;
        Ok(RegistryClient {
            http,
            config: self.config,
            auth_cache: Mutex::new(BTreeMap::new()),
        })
    }
}

/// Reads image labels from registries. Cheap to share: it caches tokens per registry and
/// repository, and may be used from many tasks at once.
#[derive(Debug)]
pub struct RegistryClient {
    http: reqwest::Client,
    config: Config,
    /// (registry, scope) → what to send.
    auth_cache: Mutex<BTreeMap<(String, String), Auth>>,
}

#[derive(Clone, Debug)]
enum Auth {
    Bearer(String),
    Basic(Credentials),
}

/// One fetched document.
struct Fetched {
    content_type: Option<String>,
    body: Vec<u8>,
}

impl RegistryClient {
    /// A builder; see its setters for the defaults.
    pub fn builder() -> RegistryClientBuilder {
        RegistryClientBuilder::new()
    }

    /// Reads the source labels of `image`: its manifest (the configured platform's entry
    /// of an index), then its config blob.
    pub async fn image_source(&self, image: &ImageRef) -> Result<ImageSource, RegistryError> {
        let reference = image.to_string();
        let top = self
            .get(image, &format!("manifests/{}", image.reference()), true)
            .await?;
        let top_digest = digest_sha256(&top.body);
        if let Some(expected) = &image.digest {
            verify_digest(&reference, "manifest", expected, &top.body)?;
        }

        let mut doc = top;
        let mut doc_digest = image.digest.clone().unwrap_or_else(|| top_digest.clone());
        let mut platform = None;
        let mut depth = 0;
        loop {
            match parse_manifest(&reference, &doc)? {
                ManifestKind::Image { config } => {
                    let body = self
                        .get(image, &format!("blobs/{}", config.digest), false)
                        .await?
                        .body;
                    verify_digest(&reference, "config blob", &config.digest, &body)?;
                    let parsed: ConfigJson = parse_json(&reference, "config blob", &body)?;
                    let config_platform = parsed.platform();
                    let mut source = parsed.into_source();
                    source.digest = image.digest.clone().unwrap_or(top_digest);
                    source.manifest_digest = doc_digest;
                    source.config_digest = config.digest;
                    source.platform = platform.or(config_platform);
                    return Ok(source);
                }
                ManifestKind::Index { manifests } => {
                    depth += 1;
                    if depth > MAX_INDEX_DEPTH {
                        return Err(RegistryError::Json {
                            reference,
                            what: "index",
                            reason: format!("indexes nested deeper than {MAX_INDEX_DEPTH}"),
                        });
                    }
                    let entry = self.pick_platform(&reference, manifests)?;
                    platform = entry.platform.as_ref().and_then(PlatformJson::to_platform);
                    doc = self
                        .get(image, &format!("manifests/{}", entry.digest), true)
                        .await?;
                    verify_digest(&reference, "manifest", &entry.digest, &doc.body)?;
                    doc_digest = entry.digest;
                }
            }
        }
    }

    /// Resolves a sanitized image string: tries each of [`unsanitize_candidates`] in order
    /// and returns the first whose manifest exists, with its source. A 404, 401 or 403
    /// moves on to the next candidate (registries answer 401 for repositories that do not
    /// exist); any other error stops the search.
    pub async fn resolve_sanitized(
        &self,
        sanitized: &str,
        known_registries: &[impl AsRef<str>],
    ) -> Result<(ImageRef, ImageSource), RegistryError> {
        let candidates = unsanitize_candidates(sanitized, known_registries);
        let tried = candidates.len();
        let mut last = None;
        for image in candidates {
            match self.image_source(&image).await {
                Ok(source) => return Ok((image, source)),
                Err(e) if matches!(e.status(), Some(401 | 403 | 404)) => last = Some(Box::new(e)),
                Err(e) => return Err(e),
            }
        }
        Err(RegistryError::Unresolved {
            sanitized: sanitized.to_string(),
            tried,
            last,
        })
    }

    fn pick_platform(
        &self,
        reference: &str,
        manifests: Vec<Descriptor>,
    ) -> Result<Descriptor, RegistryError> {
        let wanted = &self.config.platform;
        let mut available = Vec::new();
        for entry in manifests {
            match &entry.platform {
                Some(p) if wanted.matches(p) => return Ok(entry),
                Some(p) => available.push(
                    p.to_platform()
                        .map_or_else(|| "unknown".to_string(), |p| p.to_string()),
                ),
                None => available.push("unknown".to_string()),
            }
        }
        Err(RegistryError::NoMatchingPlatform {
            reference: reference.to_string(),
            platform: wanted.to_string(),
            available,
        })
    }

    /// GETs `/v2/<repo>/<path>`, answering an authentication challenge once.
    async fn get(
        &self,
        image: &ImageRef,
        path: &str,
        manifest: bool,
    ) -> Result<Fetched, RegistryError> {
        let reference = image.to_string();
        let (what, limit) = if manifest {
            ("manifest", MAX_MANIFEST_BYTES)
        } else {
            ("config blob", MAX_CONFIG_BYTES)
        };
        let url = format!(
            "{}://{}/v2/{}/{}",
            self.scheme(&image.registry),
            image.api_host(),
            image.repository,
            path
        );
        let cache_key = (
            image.registry.clone(),
            format!("repository:{}:pull", image.repository),
        );
        let cached = self.cached_auth(&cache_key);
        let mut response = self
            .send(&reference, &url, manifest, cached.as_ref())
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let auth = self
                .answer_challenge(image, &reference, response.headers(), &cache_key.1)
                .await?;
            if let Some(auth) = auth {
                response = self.send(&reference, &url, manifest, Some(&auth)).await?;
                if response.status().is_success() {
                    self.auth_cache
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(cache_key, auth);
                }
            }
        }
        let status = response.status();
        if !status.is_success() {
            let detail = error_detail(response, status, &image.registry, self.sent(image)).await;
            return Err(RegistryError::Status {
                reference,
                what,
                url,
                status: status.as_u16(),
                detail,
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
        let body = read_limited(response, limit, &reference, what, &url).await?;
        Ok(Fetched { content_type, body })
    }

    async fn send(
        &self,
        reference: &str,
        url: &str,
        manifest: bool,
        auth: Option<&Auth>,
    ) -> Result<Response, RegistryError> {
        let mut request = self.http.get(url);
        if manifest {
            request = request.header(
                ACCEPT,
                [
                    OCI_INDEX,
                    OCI_MANIFEST,
                    DOCKER_MANIFEST_LIST,
                    DOCKER_MANIFEST,
                ]
                .join(", "),
            );
        }
        request = match auth {
            Some(Auth::Bearer(token)) => request.bearer_auth(token),
            Some(Auth::Basic(c)) => request.basic_auth(&c.username, Some(&c.password)),
            None => request,
        };
        request.send().await.map_err(|source| RegistryError::Http {
            reference: reference.to_string(),
            url: url.to_string(),
            source,
        })
    }

    fn cached_auth(&self, key: &(String, String)) -> Option<Auth> {
        self.auth_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// What to send after a 401: a token from the Bearer realm, or the Basic credentials.
    /// `None` when the challenge cannot be answered (the 401 then becomes the error).
    async fn answer_challenge(
        &self,
        image: &ImageRef,
        reference: &str,
        headers: &HeaderMap,
        scope: &str,
    ) -> Result<Option<Auth>, RegistryError> {
        let credentials = self.config.credentials.get(&image.registry);
        let challenges: Vec<Challenge> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(parse_challenge)
            .collect();
        if let Some(bearer) = challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        {
            let token = self
                .fetch_token(image, reference, bearer, scope, credentials)
                .await?;
            return Ok(Some(Auth::Bearer(token)));
        }
        let basic = challenges
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("basic"));
        Ok(credentials
            .filter(|_| basic)
            .map(|c| Auth::Basic(c.clone())))
    }

    async fn fetch_token(
        &self,
        image: &ImageRef,
        reference: &str,
        challenge: &Challenge,
        scope: &str,
        credentials: Option<&Credentials>,
    ) -> Result<String, RegistryError> {
        let realm = challenge.params.get("realm").cloned().unwrap_or_default();
        let auth_error = |reason: String| RegistryError::Auth {
            reference: reference.to_string(),
            realm: if realm.is_empty() {
                image.registry.clone()
            } else {
                realm.clone()
            },
            reason,
        };
        let mut url = Url::parse(&realm)
            .map_err(|e| auth_error(format!("the Bearer challenge has no usable realm: {e}")))?;
        let realm_host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        let plain_http_ok =
            credentials.is_none() || self.config.insecure_hosts.contains(&realm_host);
        match url.scheme() {
            "https" => {}
            "http" if plain_http_ok => {}
            "http" => {
                return Err(auth_error(format!(
                    "refusing to send credentials over plain http; \
                     hint: add {realm_host} to the insecure hosts if that is intended"
                )))
            }
            other => {
                return Err(auth_error(format!(
                    "the token realm has the unsupported scheme {other:?}"
                )))
            }
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = challenge.params.get("service") {
                query.append_pair("service", service);
            }
            let scope = challenge.params.get("scope").map_or(scope, String::as_str);
            query.append_pair("scope", scope);
        }
        let mut request = self.http.get(url.clone());
        if let Some(c) = credentials {
            request = request.basic_auth(&c.username, Some(&c.password));
        }
        let response = request.send().await.map_err(|source| RegistryError::Http {
            reference: reference.to_string(),
            url: url.to_string(),
            source,
        })?;
        let status = response.status();
        if !status.is_success() {
            let detail = error_detail(response, status, &image.registry, self.sent(image)).await;
            return Err(RegistryError::Status {
                reference: reference.to_string(),
                what: "token",
                url: url.to_string(),
                status: status.as_u16(),
                detail,
            });
        }
        let body = read_limited(
            response,
            MAX_SMALL_BYTES,
            reference,
            "token response",
            url.as_str(),
        )
        .await?;
        let parsed: TokenJson = parse_json(reference, "token response", &body)?;
        parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                auth_error("the token response has neither token nor access_token".to_string())
            })
    }

    /// Which credentials requests to the image's registry carry, for error hints.
    fn sent(&self, image: &ImageRef) -> Sent<'_> {
        match self.config.credentials_from.get(&image.registry) {
            Some(path) => Sent::FromFile(path),
            None if self.config.credentials.contains_key(&image.registry) => Sent::Given,
            None => Sent::None,
        }
    }

    fn scheme(&self, registry: &str) -> &'static str {
        if self.config.insecure_hosts.contains(registry) {
            "http"
        } else {
            "https"
        }
    }
}

/// The credentials a request carried, as far as a hint needs to know.
#[derive(Clone, Copy)]
enum Sent<'a> {
    None,
    Given,
    FromFile(&'a Path),
}

/// The registry's error codes and messages, plus a hint for 401/403/404.
async fn error_detail(
    response: Response,
    status: StatusCode,
    registry: &str,
    sent: Sent<'_>,
) -> String {
    let mut detail = String::new();
    let body = read_limited(response, MAX_SMALL_BYTES, "", "error", "")
        .await
        .unwrap_or_default();
    if let Ok(errors) = serde_json::from_slice::<ErrorsJson>(&body) {
        let parts: Vec<String> = errors
            .errors
            .iter()
            .map(|e| {
                let code = e.code.as_str().unwrap_or("");
                let message = e.message.as_str().unwrap_or("");
                match (code.is_empty(), message.is_empty()) {
                    (false, false) => format!("{code}: {message}"),
                    (false, true) => code.to_string(),
                    _ => message.to_string(),
                }
            })
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            detail = format!(" ({})", parts.join("; "));
        }
    }
    let hint = match status.as_u16() {
        404 => " (hint: check the repository, tag or digest; the image may have been deleted)"
            .to_string(),
        401 | 403 => match sent {
            Sent::None => format!(
                " (hint: pass credentials for {registry}, or check that they may pull this \
                 repository)"
            ),
            Sent::Given => format!(
                " (hint: check the user name and password given for {registry}, and that they \
                 may pull this repository)"
            ),
            Sent::FromFile(path) => format!(
                " (hint: check the credentials for {registry} in the registry auth file {}, \
                 and that they may pull this repository)",
                path.display()
            ),
        },
        _ => String::new(),
    };
    let reason = status.canonical_reason().unwrap_or("");
    format!(" {reason}{detail}{hint}").trim_end().to_string()
}

async fn read_limited(
    mut response: Response,
    limit: usize,
    reference: &str,
    what: &'static str,
    url: &str,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = || RegistryError::TooLarge {
        reference: reference.to_string(),
        what,
        limit,
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| RegistryError::Http {
            reference: reference.to_string(),
            url: url.to_string(),
            source,
        })?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// One `WWW-Authenticate` challenge: a scheme and its `key=value` parameters.
#[derive(Debug, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    params: BTreeMap<String, String>,
}

/// Parses `Bearer realm="…",service="…",scope="repository:a/b:pull,push"`: values may be
/// quoted (with `\` escapes, and commas inside) or bare tokens.
fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((header, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_whitespace() || *c == ',')
        {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.trim().is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    Some(Challenge {
        scheme: scheme.to_string(),
        params,
    })
}

#[derive(Deserialize)]
struct TokenJson {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorsJson {
    #[serde(default)]
    errors: Vec<ErrorJson>,
}

#[derive(Deserialize)]
struct ErrorJson {
    #[serde(default)]
    code: Value,
    #[serde(default)]
    message: Value,
}

#[derive(Clone, Debug, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    platform: Option<PlatformJson>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct PlatformJson {
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    variant: Option<String>,
}

impl PlatformJson {
    fn to_platform(&self) -> Option<Platform> {
        Some(Platform {
            os: self.os.clone().filter(|s| !s.is_empty())?,
            architecture: self.architecture.clone().filter(|s| !s.is_empty())?,
            variant: self.variant.clone().filter(|s| !s.is_empty()),
        })
    }
}

#[derive(Deserialize)]
struct ManifestJson {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

enum ManifestKind {
    Image { config: Descriptor },
    Index { manifests: Vec<Descriptor> },
}

/// Reads a manifest or index, by its Content-Type, else its `mediaType`, else its shape
/// (OCI allows both to be absent from the body).
fn parse_manifest(reference: &str, doc: &Fetched) -> Result<ManifestKind, RegistryError> {
    let parsed: ManifestJson = parse_json(reference, "manifest", &doc.body)?;
    let header_type = doc
        .content_type
        .as_deref()
        .filter(|t| !t.is_empty() && *t != "application/json" && *t != "text/plain");
    let media_type = header_type
        .map(str::to_string)
        .or_else(|| parsed.media_type.clone())
        .unwrap_or_default();
    let unsupported = || RegistryError::UnsupportedMediaType {
        reference: reference.to_string(),
        media_type: media_type.clone(),
    };
    let missing = |field: &str| RegistryError::Json {
        reference: reference.to_string(),
        what: "manifest",
        reason: format!("{media_type} without {field}"),
    };
    let is_index = match media_type.as_str() {
        OCI_INDEX | DOCKER_MANIFEST_LIST => true,
        OCI_MANIFEST | DOCKER_MANIFEST => false,
        "" if parsed.manifests.is_some() => true,
        "" if parsed.config.is_some() => false,
        _ => return Err(unsupported()),
    };
    let kind = if is_index {
        let manifests = parsed.manifests.ok_or_else(|| missing("manifests"))?;
        for entry in &manifests {
            check_descriptor(reference, entry)?;
        }
        ManifestKind::Index { manifests }
    } else {
        let config = parsed.config.ok_or_else(|| missing("config"))?;
        check_descriptor(reference, &config)?;
        if config
            .media_type
            .as_deref()
            .is_some_and(|t| !t.contains("config") && !t.ends_with("+json"))
        {
            return Err(RegistryError::Json {
                reference: reference.to_string(),
                what: "manifest",
                reason: format!(
                    "the config has media type {:?}, not an image config",
                    config.media_type.as_deref().unwrap_or("")
                ),
            });
        }
        ManifestKind::Image { config }
    };
    Ok(kind)
}

/// Digests from a document go into URLs: only `algorithm:encoded` of safe characters.
fn check_descriptor(reference: &str, descriptor: &Descriptor) -> Result<(), RegistryError> {
    let safe = descriptor
        .digest
        .split_once(':')
        .is_some_and(|(algorithm, encoded)| {
            !algorithm.is_empty()
                && !encoded.is_empty()
                && algorithm
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
                && encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
        });
    if safe {
        Ok(())
    } else {
        Err(RegistryError::Json {
            reference: reference.to_string(),
            what: "manifest",
            reason: format!("invalid descriptor digest {:?}", descriptor.digest),
        })
    }
}

#[derive(Deserialize)]
struct ConfigJson {
    #[serde(default)]
    os: Option<Value>,
    #[serde(default)]
    architecture: Option<Value>,
    #[serde(default)]
    variant: Option<Value>,
    #[serde(default)]
    config: Option<ContainerConfigJson>,
    #[serde(default)]
    container_config: Option<ContainerConfigJson>,
}

#[derive(Deserialize, Default)]
struct ContainerConfigJson {
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, Value>>,
    #[serde(rename = "Env", default)]
    env: Option<Vec<Value>>,
}

impl ConfigJson {
    fn platform(&self) -> Option<Platform> {
        let text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(str::to_string);
        PlatformJson {
            os: text(&self.os),
            architecture: text(&self.architecture),
            variant: text(&self.variant),
        }
        .to_platform()
    }

    /// Labels and env of `config`; `container_config` (older Docker builders) only where
    /// `config` has none.
    fn into_source(self) -> ImageSource {
        let config = self.config.unwrap_or_default();
        let fallback = self.container_config.unwrap_or_default();
        let labels = config.labels.or(fallback.labels).unwrap_or_default();
        let env = config.env.or(fallback.env).unwrap_or_default();
        let labels = labels
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
            .collect();
        let env: Vec<String> = env
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        ImageSource::from_labels_and_env(labels, &env)
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(
    reference: &str,
    what: &'static str,
    body: &[u8],
) -> Result<T, RegistryError> {
    serde_json::from_slice(body).map_err(|e| RegistryError::Json {
        reference: reference.to_string(),
        what,
        reason: e.to_string(),
    })
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
    )
}

/// Checks `bytes` against `expected` (`sha256:` or `sha512:`); other algorithms are not
/// checked.
fn verify_digest(
    reference: &str,
    what: &'static str,
    expected: &str,
    bytes: &[u8],
) -> Result<(), RegistryError> {
    let actual = match expected.split_once(':') {
        Some(("sha256", _)) => digest_sha256(bytes),
        Some(("sha512", _)) => format!(
            "sha512:{}",
            hex(ring::digest::digest(&ring::digest::SHA512, bytes).as_ref())
        ),
        _ => return Ok(()),
    };
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(RegistryError::DigestMismatch {
            reference: reference.to_string(),
            what,
            expected: expected.to_string(),
            actual,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn is_valid_digest(digest: &str) -> bool {
    let is_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match digest.split_once(':') {
        Some(("sha256", hex)) => is_hex(hex, 64),
        Some(("sha512", hex)) => is_hex(hex, 128),
        _ => false,
    }
}

fn is_valid_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len())
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn is_valid_path_component(component: &str) -> bool {
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    edge_ok(component.bytes().next())
        && edge_ok(component.bytes().last())
        && component.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parse(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn references_parse_like_docker() {
        let r = parse("nginx");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "library/nginx")
        );
        assert_eq!(r.reference(), "latest");
        let r = parse("org/app:1.2");
        assert_eq!(r.to_string(), "docker.io/org/app:1.2");
        let r = parse("127.0.0.1:5000/team/app:v1");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let r = parse(&format!(
            "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:{HEX}"
        ));
        assert_eq!(r.repository, "openshift-release-dev/ocp-v4.0-art-dev");
        assert_eq!(r.reference(), format!("sha256:{HEX}"));
        assert_eq!(r.tag, None);
        let r = parse(&format!("localhost/app:t@sha256:{HEX}"));
        assert_eq!(r.registry, "localhost");
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.reference(), format!("sha256:{HEX}"));
        assert_eq!(
            parse("index.docker.io/library/busybox").registry,
            "docker.io"
        );
        assert_eq!(
            parse("index.docker.io/library/busybox").api_host(),
            "registry-1.docker.io"
        );
    }

    #[test]
    fn bad_references_are_rejected_with_the_input() {
        for bad in [
            "",
            "Upper/Case",
            "quay.io/org/app:",
            "quay.io/org/app@sha256:abc",
            "quay.io/org/app@md5:0123",
            "quay.io//app",
            "quay.io/org/-app",
            "quay.io/org/app:-tag",
        ] {
            match ImageRef::parse(bad) {
                Err(RegistryError::InvalidReference { input, .. }) => assert_eq!(input, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn unsanitize_known_prefixes() {
        let none: &[&str] = &[];
        let r = unsanitize(
            &format!("quay.io-openshift-release-dev-ocp-v4.0-art-dev-sha256-{HEX}"),
            none,
        )
        .expect("known prefix");
        assert_eq!(
            r.to_string(),
            format!("quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:{HEX}")
        );
        let r = unsanitize(
            &format!("registry.ci.openshift.org-ocp-4.16-sha256-{HEX}"),
            none,
        )
        .expect("known prefix");
        assert_eq!(
            r.to_string(),
            format!("registry.ci.openshift.org/ocp/4.16@sha256:{HEX}")
        );
    }

    #[test]
    fn unsanitize_refuses_to_guess() {
        let none: &[&str] = &[];
        // Tags cannot be told from dashes.
        assert_eq!(
            unsanitize(
                "quay.io-openshift-release-dev-ocp-v4.0-art-dev-latest",
                none
            ),
            None
        );
        // Unknown registry.
        assert_eq!(
            unsanitize(&format!("quay.io-org-app-sha256-{HEX}"), none),
            None
        );
        // Known bare host, but the dashes are ambiguous.
        assert_eq!(
            unsanitize(&format!("quay.io-org-app-sha256-{HEX}"), &["quay.io"]),
            None
        );
        // Short or non-hex digest.
        assert_eq!(
            unsanitize("quay.io-openshift-release-dev-ocp-sha256-abc", none),
            None
        );
        let upper = HEX.to_uppercase();
        assert_eq!(
            unsanitize(
                &format!("quay.io-openshift-release-dev-ocp-sha256-{upper}"),
                none
            ),
            None
        );
        // An image ID only.
        assert_eq!(unsanitize(&format!("sha256-{HEX}"), none), None);
        assert_eq!(unsanitize("", none), None);
    }

    #[test]
    fn unsanitize_with_known_registries() {
        let known = ["127.0.0.1:5000", "registry.redhat.io/openshift4"];
        let r = unsanitize(&format!("127.0.0.1-5000-app-sha256-{HEX}"), &known)
            .expect("bare host, one segment");
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/app@sha256:{HEX}"));
        let r = unsanitize(
            &format!("registry.redhat.io-openshift4-ose-cli-sha256-{HEX}"),
            &known,
        )
        .expect("host with path");
        assert_eq!(
            r.to_string(),
            format!("registry.redhat.io/openshift4/ose-cli@sha256:{HEX}")
        );
        // Built-in prefixes still win.
        let r = unsanitize(
            &format!("quay.io-openshift-release-dev-ocp-sha256-{HEX}"),
            &["quay.io"],
        )
        .expect("built-in");
        assert_eq!(r.repository, "openshift-release-dev/ocp");
    }

    #[test]
    fn candidates_try_org_repo_first_and_are_all_distinct() {
        let c = unsanitize_candidates(&format!("quay.io-org-my-app-sha256-{HEX}"), &["quay.io"]);
        let repos: Vec<&str> = c.iter().map(|r| r.repository.as_str()).collect();
        assert_eq!(
            repos,
            ["org/my-app", "org-my/app", "org-my-app", "org/my/app"]
        );
        assert!(c
            .iter()
            .all(|r| r.digest.as_deref() == Some(&*format!("sha256:{HEX}"))));
        // The unambiguous reading comes first and is not repeated.
        let c = unsanitize_candidates(
            &format!("quay.io-openshift-release-dev-ocp-sha256-{HEX}"),
            &["quay.io"],
        );
        assert_eq!(c[0].repository, "openshift-release-dev/ocp");
        assert_eq!(
            c.iter()
                .filter(|r| r.repository == "openshift-release-dev/ocp")
                .count(),
            1
        );
        let none: &[&str] = &[];
        assert!(unsanitize_candidates(&format!("quay.io-org-app-sha256-{HEX}"), none).is_empty());
    }

    #[test]
    fn challenges_parse_quoted_commas_and_escapes() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#,
        )
        .expect("challenge");
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(c.params["realm"], "https://auth.example.com/token");
        assert_eq!(c.params["service"], "registry.example.com");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let c = parse_challenge(r#"Basic realm="say \"hi\"", charset=UTF-8"#).expect("basic");
        assert_eq!(c.params["realm"], r#"say "hi""#);
        assert_eq!(c.params["charset"], "UTF-8");
        assert_eq!(parse_challenge("Basic").expect("bare").params.len(), 0);
        assert_eq!(parse_challenge("  "), None);
        // Unterminated quotes and stray separators do not panic.
        assert!(parse_challenge(r#"Bearer realm="x,=,"#).is_some());
        assert!(parse_challenge("Bearer ,,, =x, a=").is_some());
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn openshift_pair_wins_over_oci_pair() {
        let s = ImageSource::from_labels_and_env(
            labels(&[
                (
                    LABEL_OPENSHIFT_SOURCE,
                    "https://github.com/openshift/console",
                ),
                (LABEL_OPENSHIFT_COMMIT, "abc123"),
                (LABEL_OCI_SOURCE, "https://github.com/base/image"),
                (LABEL_OCI_REVISION, "def456"),
            ]),
            &[
                "PATH=/bin".to_string(),
                "__doozer_group=openshift-4.16".to_string(),
                "__doozer_key=ose-console".to_string(),
            ],
        );
        assert_eq!(
            s.source_url.as_deref(),
            Some("https://github.com/openshift/console")
        );
        assert_eq!(s.commit.as_deref(), Some("abc123"));
        assert_eq!(s.source_labels, Some(SourceLabels::OpenShift));
        assert_eq!(s.software_group.as_deref(), Some("openshift-4.16"));
        assert_eq!(s.software_key.as_deref(), Some("ose-console"));
        assert_eq!(s.release, None);
    }

    #[test]
    fn pairs_are_never_mixed() {
        // OpenShift source without a commit does not borrow the OCI revision.
        let s = ImageSource::from_labels_and_env(
            labels(&[
                (LABEL_OPENSHIFT_SOURCE, "https://a"),
                (LABEL_OCI_REVISION, "r"),
            ]),
            &[],
        );
        assert_eq!(
            (s.source_url.as_deref(), s.commit.as_deref()),
            (Some("https://a"), None)
        );
        // Empty OpenShift source falls back to the OCI pair.
        let s = ImageSource::from_labels_and_env(
            labels(&[
                (LABEL_OPENSHIFT_SOURCE, ""),
                (LABEL_OPENSHIFT_COMMIT, "x"),
                (LABEL_OCI_SOURCE, "https://b"),
                (LABEL_OCI_REVISION, "r"),
            ]),
            &[],
        );
        assert_eq!(
            (s.source_url.as_deref(), s.commit.as_deref()),
            (Some("https://b"), Some("r"))
        );
        assert_eq!(s.source_labels, Some(SourceLabels::Oci));
        // No source at all: keep whichever commit there is.
        let s = ImageSource::from_labels_and_env(labels(&[(LABEL_OCI_REVISION, "r")]), &[]);
        assert_eq!(
            (s.source_url, s.commit.as_deref(), s.source_labels),
            (None, Some("r"), None)
        );
    }

    #[test]
    fn env_lookups_need_the_exact_key_and_the_last_one_wins() {
        let env = [
            "__doozer_group_x=no".to_string(),
            "__doozer_group=first".to_string(),
            "__doozer_group=second".to_string(),
            "__doozer_key=".to_string(),
            "garbage".to_string(),
        ];
        let s = ImageSource::from_labels_and_env(BTreeMap::new(), &env);
        assert_eq!(s.software_group.as_deref(), Some("second"));
        assert_eq!(s.software_key, None);
    }

    #[test]
    fn odd_config_json_is_tolerated_or_rejected_without_panicking() {
        let ok: ConfigJson = serde_json::from_str(
            r#"{"config":{"Labels":{"a":"b","n":5,"io.openshift.release":"4.16.0"},"Env":["__doozer_key=k",7,null]},"os":"linux","architecture":3}"#,
        )
        .expect("tolerated");
        assert_eq!(ok.platform(), None);
        let s = ok.into_source();
        assert_eq!(s.labels.len(), 2);
        assert_eq!(s.release.as_deref(), Some("4.16.0"));
        assert_eq!(s.software_key.as_deref(), Some("k"));
        let nulls: ConfigJson = serde_json::from_str(
            r#"{"config":{"Labels":null,"Env":null},"container_config":{"Labels":{"x":"y"}}}"#,
        )
        .expect("nulls");
        assert_eq!(nulls.into_source().labels, labels(&[("x", "y")]));
        for bad in [
            "",
            "{\"config\":\"x\"}",
            "{\"config\":{\"Env\":\"x\"}}",
            "nul",
        ] {
            assert!(
                parse_json::<ConfigJson>("r", "config blob", bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }

    fn fetched(content_type: Option<&str>, body: &str) -> Fetched {
        Fetched {
            content_type: content_type.map(str::to_string),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn manifests_are_told_apart_by_header_body_or_shape() {
        let index = r#"{"manifests":[{"digest":"sha256:aa","platform":{"os":"linux","architecture":"amd64"}}]}"#;
        let image = r#"{"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:bb"}}"#;
        assert!(matches!(
            parse_manifest("r", &fetched(Some(OCI_INDEX), index)),
            Ok(ManifestKind::Index { .. })
        ));
        assert!(matches!(
            parse_manifest("r", &fetched(None, index)),
            Ok(ManifestKind::Index { .. })
        ));
        assert!(matches!(
            parse_manifest("r", &fetched(Some("application/json"), image)),
            Ok(ManifestKind::Image { .. })
        ));
        let schema1 = r#"{"schemaVersion":1,"name":"a","fsLayers":[]}"#;
        assert!(matches!(
            parse_manifest(
                "r",
                &fetched(
                    Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
                    schema1
                )
            ),
            Err(RegistryError::UnsupportedMediaType { .. })
        ));
        assert!(matches!(
            parse_manifest("r", &fetched(Some(DOCKER_MANIFEST), "{}")),
            Err(RegistryError::Json { .. })
        ));
        assert!(matches!(
            parse_manifest("r", &fetched(None, "{}")),
            Err(RegistryError::UnsupportedMediaType { .. })
        ));
        assert!(matches!(
            parse_manifest("r", &fetched(None, "[1,2]")),
            Err(RegistryError::Json { .. })
        ));
        // An artifact manifest whose config is not an image config.
        let artifact = r#"{"config":{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"sha256:bb"}}"#;
        assert!(matches!(
            parse_manifest("r", &fetched(Some(OCI_MANIFEST), artifact)),
            Err(RegistryError::Json { .. })
        ));
    }

    #[test]
    fn platforms_match_with_optional_variant() {
        let arm = PlatformJson {
            os: Some("linux".into()),
            architecture: Some("arm64".into()),
            variant: Some("v8".into()),
        };
        assert!(Platform::parse("linux/arm64").expect("p").matches(&arm));
        assert!(Platform::parse("linux/arm64/v8").expect("p").matches(&arm));
        assert!(!Platform::parse("linux/arm64/v9").expect("p").matches(&arm));
        assert!(!Platform::default().matches(&arm));
        assert!(!Platform::default().matches(&PlatformJson::default()));
        assert_eq!(Platform::parse("linux"), None);
        assert_eq!(Platform::parse("linux/arm64/"), None);
        assert_eq!(Platform::parse("a/b/c/d"), None);
        assert_eq!(Platform::default().to_string(), "linux/amd64");
    }

    #[test]
    fn digests_are_verified() {
        let body = b"{}";
        let good = digest_sha256(body);
        assert_eq!(
            good,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert!(verify_digest("r", "manifest", &good, body).is_ok());
        assert!(matches!(
            verify_digest("r", "manifest", &format!("sha256:{HEX}"), body),
            Err(RegistryError::DigestMismatch { .. })
        ));
        assert!(verify_digest("r", "manifest", "blake3:abc", body).is_ok());
    }

    #[test]
    fn credentials_do_not_leak_into_debug_output() {
        let c = Credentials::new("user", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
