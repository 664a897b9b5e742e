//! Copying a producer bucket into a collection: `livecov cluster download`.
//!
//! Sources are read through `object_store`: `s3://bucket/prefix` (and `s3a://`),
//! `gs://bucket/prefix`, `az://container/prefix` (and `azure://`, `adl://`, `abfs[s]://`),
//! the `https://` forms object_store recognises for S3 and Azure, `file:///abs/path`, and
//! plain local paths. Every kind goes through the same listing, parsing and transfer
//! code below; only `build_store` differs. The tests run it against real servers on
//! 127.0.0.1: moto for S3, fake-gcs-server for GCS and Azurite for Azure (all reached
//! through `endpoint`), and against local directories. The credential chains are
//! object_store's own (`GOOGLE_*`, `AZURE_*` variables).
//!
//! What a download guarantees:
//! - every process instance (every `discoveryTime`) gets its own directory
//!   `<collection>/coverage/<dir name>/` (see [`crate::producer`]);
//! - both counter toggles (`.1`, `.2`) are kept: compile takes the newer snapshot;
//! - `.livecov-objects.json` records size, ETag and Last-Modified of every object, and an
//!   object whose size and ETag are unchanged is not transferred again; each file's mtime
//!   is its object's Last-Modified;
//! - `metadata.json` is rewritten whenever its content would change (new objects, a newer
//!   Last-Modified), unlike the older tool, which never refreshed it;
//! - an instance directory of the collection that is a symbolic link is not written
//!   through: its instance is an error naming the link, and the others go on;
//! - an object over what compile reads ([`MAX_COVERAGE_BYTES`], [`MAX_INFO_BYTES`]), by its
//!   listed size, is not transferred but listed in [`Summary::skipped_keys`], and no more
//!   than the listed size of any object is written;
//! - a failed object is retried, then reported with its URL; the other objects go on, and
//!   [`Summary::failed`] tells the caller to exit non-zero;
//! - a local directory is listed and copied by its own code (`download/local.rs`), not
//!   object_store's `LocalFileSystem`: no link is followed (none can reach outside the
//!   tree or loop), only regular files are copied, no wider readable than their source,
//!   and links, special files and bad names are skipped and listed in
//!   [`Summary::skipped_keys`].
//!
//! Credentials: object_store's environment chains (`AWS_*`, incl. `AWS_ENDPOINT_URL`,
//! web identity, ECS and instance metadata; `GOOGLE_*`; `AZURE_*`). object_store does not
//! read AWS shared config files, so named profiles (`--profile`, `AWS_PROFILE`, else the
//! `default` profile when no `AWS_ACCESS_KEY_ID` is set) are read here: static keys,
//! `credential_process`, `region` and `endpoint_url`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use futures::stream::{self, StreamExt, TryStreamExt};
use livecov_model::{Reporter, Silent};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreScheme, RetryConfig};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use url::Url;

mod local;
pub mod upload;

/// The largest coverage file (`covmeta.*`, `covcounters.*`) downloaded: compile reads
/// no more (`livecov_formats::gocovdata::read::MAX_FILE_BYTES`; livecov-ops checks the
/// two agree), so a bigger object would only fill the disk.
pub const MAX_COVERAGE_BYTES: u64 = 512 << 20;
/// The largest `info.json` downloaded, the most compile reads of it.
pub const MAX_INFO_BYTES: u64 = 1 << 20;

/// The limit an object of this key is over, judged by its listed size.
fn over_limit(key: &str, size: u64) -> Option<SkipReason> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let limit = match FileKind::of(name)? {
        FileKind::Info => MAX_INFO_BYTES,
        FileKind::Meta | FileKind::Counters { .. } => MAX_COVERAGE_BYTES,
    };
    (size > limit).then_some(SkipReason::TooLarge { size, limit })
}

use crate::producer::{
    self, FileKind, Instance, InstanceFiles, Layout, Manifest, ObjectRecord, SkipReason,
    SkippedKey, MANIFEST_FILE, METADATA_FILE,
};

/// An error of a download: a fatal one (returned by [`download`]) or one object's failure
/// (collected in [`Summary::errors`]). Each names the URL or path it is about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source URL or an option for it is unusable.
    #[error("source {url}: {reason}")]
    Source {
        /// The source as given.
        url: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// object_store could not set up a client for the source.
    #[error("source {url}: {error}")]
    Store {
        /// The source as given.
        url: String,
        /// object_store's error.
        error: object_store::Error,
    },
    /// An AWS profile could not be used.
    #[error("AWS profile {profile:?}: {reason}")]
    Profile {
        /// The profile name.
        profile: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// Listing the source failed.
    #[error("listing {url} failed: {error}{hint}")]
    List {
        /// The listed URL.
        url: String,
        /// object_store's error.
        error: object_store::Error,
        /// A suggestion (starts with a newline) or nothing.
        hint: String,
    },
    /// Transferring one object failed.
    #[error("downloading {url} failed after {attempts} attempt(s): {error}")]
    Get {
        /// The object's URL.
        url: String,
        /// How many times it was tried.
        attempts: u32,
        /// object_store's error of the last attempt.
        error: object_store::Error,
    },
    /// The store sent fewer or more bytes than the object's size.
    #[error("downloading {url}: received {got} bytes, the object has {want}")]
    Length {
        /// The object's URL.
        url: String,
        /// Bytes received.
        got: u64,
        /// The object's size.
        want: u64,
    },
    /// A transferred object could not be saved.
    #[error("saving {url} to {}: {action} failed: {error}", path.display())]
    Save {
        /// The object's URL.
        url: String,
        /// The local path.
        path: PathBuf,
        /// What was being done ("writing", "renaming", …).
        action: &'static str,
        /// The I/O error.
        error: std::io::Error,
    },
    /// An instance directory in the collection is a symbolic link: it is not written
    /// through, as render does not write through links in its output directory.
    #[error(
        "{}: is a symbolic link; livecov does not write through links inside a \
         collection; remove it and download again",
        path.display()
    )]
    Link {
        /// The link.
        path: PathBuf,
    },
    /// A local file could not be read or written.
    #[error("{action} {}: {error}", path.display())]
    Io {
        /// What was being done ("writing", "creating directory", …).
        action: &'static str,
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
}

/// What to download, from where, and how. A builder: `DownloadOptions::new(src, dir)`
/// then setters; each setter documents its default.
#[derive(Clone, Debug)]
pub struct DownloadOptions {
    source: String,
    collection: PathBuf,
    region: Option<String>,
    endpoint: Option<String>,
    profile: Option<String>,
    aws_credentials_file: Option<PathBuf>,
    aws_config_file: Option<PathBuf>,
    store_options: Vec<(String, String)>,
    skip_existing: bool,
    max_concurrency: usize,
    attempts: u32,
    retry_delay: Duration,
}

impl DownloadOptions {
    /// Downloads `source` (a URL or a local path, see the module docs) into
    /// `<collection>/coverage/`.
    pub fn new(source: impl Into<String>, collection: impl Into<PathBuf>) -> Self {
        DownloadOptions {
            source: source.into(),
            collection: collection.into(),
            region: None,
            endpoint: None,
            profile: None,
            aws_credentials_file: None,
            aws_config_file: None,
            store_options: Vec::new(),
            skip_existing: false,
            max_concurrency: 8,
            attempts: 3,
            retry_delay: Duration::from_secs(1),
        }
    }

    /// The S3 region. Default: `AWS_REGION`/`AWS_DEFAULT_REGION`, the profile's
    /// `region`, else `us-east-1`.
    pub fn region(mut self, region: Option<String>) -> Self {
        self.region = region;
        self
    }

    /// A custom endpoint: for S3-compatible servers (path-style requests; `http://` is
    /// allowed when the endpoint uses it); for `gs://`, a GCS emulator such as
    /// fake-gcs-server, asked without OAuth tokens; for `az://`, the account URL, e.g.
    /// Azurite's `http://127.0.0.1:10000/devstoreaccount1` (with its account name and key as
    /// store options). Default: `AWS_ENDPOINT_URL` or the profile's `endpoint_url` for S3,
    /// else the provider's endpoint.
    pub fn endpoint(mut self, endpoint: Option<String>) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// The AWS profile to take credentials and region from. Default: `AWS_PROFILE`, else
    /// `default` when no `AWS_ACCESS_KEY_ID` is set, else none.
    pub fn profile(mut self, profile: Option<String>) -> Self {
        self.profile = profile;
        self
    }

    /// The AWS shared credentials file. Default: `AWS_SHARED_CREDENTIALS_FILE`, else
    /// `~/.aws/credentials`.
    pub fn aws_credentials_file(mut self, path: Option<PathBuf>) -> Self {
        self.aws_credentials_file = path;
        self
    }

    /// The AWS config file. Default: `AWS_CONFIG_FILE`, else `~/.aws/config`.
    pub fn aws_config_file(mut self, path: Option<PathBuf>) -> Self {
        self.aws_config_file = path;
        self
    }

    /// Adds an object_store configuration option for the source's provider, e.g.
    /// `aws_skip_signature=true` or `timeout=5m` (the keys of object_store's
    /// `AmazonS3ConfigKey`, `GoogleConfigKey`, `AzureConfigKey`). Applied after the
    /// environment and the profile. Default: none.
    pub fn store_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.store_options.push((key.into(), value.into()));
        self
    }

    /// Skips an instance whose directory already has `metadata.json` and a `covmeta.*`,
    /// as the older tool's `--skip-existing`. Default: false (unchanged objects are
    /// skipped anyway, by size and ETag).
    pub fn skip_existing(mut self, yes: bool) -> Self {
        self.skip_existing = yes;
        self
    }

    /// The most object transfers at once (at least 1). Default: 8.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    /// How many times a whole object transfer is tried before it counts as failed (at
    /// least 1), on top of object_store's retries of single requests. Default: 3.
    pub fn attempts(mut self, n: u32) -> Self {
        self.attempts = n.max(1);
        self
    }

    /// The pause before the second attempt of an object; it grows linearly. Default: 1 s.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }
}

/// What a download did. Its `Display` is the summary printed at the end of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// The source URL every entry's `source` starts with.
    pub source: String,
    /// Distinct hostnames.
    pub hostnames: usize,
    /// Distinct pod containers (hostname, namespace, pod, container, binary).
    pub pod_entries: usize,
    /// Distinct host processes (hostname, binary).
    pub host_entries: usize,
    /// Process instances of pod containers (one directory each).
    pub pod_instances: usize,
    /// Process instances of host processes (one directory each).
    pub host_instances: usize,
    /// Instances left alone by `--skip-existing`.
    pub instances_skipped_existing: usize,
    /// Objects transferred.
    pub files_downloaded: usize,
    /// Objects already present with the same size and ETag.
    pub files_unchanged: usize,
    /// Objects that could not be transferred (see `errors`).
    pub files_failed: usize,
    /// Bytes transferred.
    pub bytes_downloaded: u64,
    /// Keys under the prefix that belong to no instance, with the reason, sorted.
    pub skipped_keys: Vec<SkippedKey>,
    /// Per-object and per-directory errors, sorted by message.
    pub errors: Vec<Error>,
    /// Problems that were worked around (an unreadable manifest was replaced), sorted.
    pub warnings: Vec<String>,
}

impl Summary {
    /// Whether anything failed, so the run must exit with an error status.
    pub fn failed(&self) -> bool {
        self.files_failed > 0 || !self.errors.is_empty()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("{n} {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        writeln!(f, "Download summary for {}", self.source)?;
        writeln!(f, "  hostnames:     {}", self.hostnames)?;
        writeln!(
            f,
            "  pod entries:   {} ({})",
            self.pod_entries,
            plural(self.pod_instances, "instance")
        )?;
        writeln!(
            f,
            "  host entries:  {} ({})",
            self.host_entries,
            plural(self.host_instances, "instance")
        )?;
        if self.instances_skipped_existing > 0 {
            writeln!(
                f,
                "  skipped:       {} (--skip-existing)",
                plural(self.instances_skipped_existing, "instance")
            )?;
        }
        writeln!(
            f,
            "  files:         {} downloaded ({}), {} unchanged, {} failed",
            self.files_downloaded,
            human_bytes(self.bytes_downloaded),
            self.files_unchanged,
            self.files_failed
        )?;
        if !self.skipped_keys.is_empty() {
            writeln!(
                f,
                "  skipped keys:  {} (not downloaded)",
                self.skipped_keys.len()
            )?;
            let mut by_reason: BTreeMap<String, Vec<&str>> = BTreeMap::new();
            for k in &self.skipped_keys {
                by_reason
                    .entry(k.reason.to_string())
                    .or_default()
                    .push(&k.key);
            }
            const SHOWN: usize = 5;
            for (reason, keys) in by_reason {
                writeln!(f, "    {}: {reason}", keys.len())?;
                for key in keys.iter().take(SHOWN) {
                    writeln!(f, "      {key}")?;
                }
                if keys.len() > SHOWN {
                    writeln!(f, "      … and {} more", keys.len() - SHOWN)?;
                }
            }
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        if !self.errors.is_empty() {
            writeln!(f, "  errors:        {}", self.errors.len())?;
        }
        Ok(())
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Downloads every instance under the source into `<collection>/coverage/`.
///
/// Returns `Err` only when nothing could be done (an unusable source, a failed listing,
/// an uncreatable collection directory); failures of single objects or directories are
/// in the [`Summary`]. Reports no progress; see [`download_with`].
pub async fn download(opts: &DownloadOptions) -> Result<Summary, Error> {
    download_with(opts, &Silent).await
}

/// [`download`], with progress (the listing, then one step per object) sent to
/// `reporter`.
pub async fn download_with(
    opts: &DownloadOptions,
    reporter: &dyn Reporter,
) -> Result<Summary, Error> {
    let source = Source::parse(&opts.source)?;
    let backend = build_store(&source, opts)?;

    let coverage_dir = opts.collection.join("coverage");
    std::fs::create_dir_all(&coverage_dir).map_err(|error| Error::Io {
        action: "creating directory",
        path: coverage_dir.clone(),
        error,
    })?;

    reporter.start(&format!("listing {}", source.base), None);
    let (listed, local_skipped) = match &backend {
        Backend::Store(store) => {
            let listed: Vec<ObjectMeta> = store
                .list(source.prefix_opt())
                .inspect_ok(|meta| reporter.advance(1, meta.location.as_ref()))
                .try_collect()
                .await
                .map_err(|error| list_error(&source.base, error))?;
            (listed, Vec::new())
        }
        Backend::Local(root) => {
            let dir = root.clone();
            tokio::task::spawn_blocking(move || local::list(&dir))
                .await
                .map_err(|e| Error::Io {
                    action: "listing",
                    path: root.clone(),
                    error: std::io::Error::other(e),
                })?
        }
    };
    if matches!(backend, Backend::Local(_)) {
        reporter.advance(listed.len() as u64, &source.base);
    }
    reporter.finish();

    let mut too_large = Vec::new();
    let layout = Layout::from_keys(listed.into_iter().filter_map(|meta| {
        let key = source.relative(&meta.location);
        match over_limit(&key, meta.size) {
            Some(reason) => {
                too_large.push(SkippedKey { key, reason });
                None
            }
            None => Some((key, meta)),
        }
    }));
    let (pod_entries, host_entries, hostnames) = layout.entry_counts();
    let mut skipped_keys = layout.skipped.clone();
    skipped_keys.extend(local_skipped);
    skipped_keys.extend(too_large);
    skipped_keys.sort();
    let mut summary = Summary {
        source: source.base.clone(),
        hostnames,
        pod_entries,
        host_entries,
        skipped_keys,
        ..Summary::default()
    };
    for instance in layout.instances.keys() {
        if instance.is_host() {
            summary.host_instances += 1;
        } else {
            summary.pod_instances += 1;
        }
    }

    let total: usize = layout.instances.values().map(|f| f.files.len()).sum();
    reporter.start("download", Some(total as u64));
    let ctx = Ctx {
        backend,
        base: source.base.clone(),
        coverage_dir,
        transfers: Semaphore::new(opts.max_concurrency),
        opts,
        reporter,
    };
    let outcomes: Vec<InstanceOutcome> = stream::iter(&layout.instances)
        .map(|(instance, files)| ctx.sync_instance(instance, files))
        .buffer_unordered(opts.max_concurrency)
        .collect()
        .await;
    reporter.finish();

    for o in outcomes {
        summary.instances_skipped_existing += usize::from(o.skipped_existing);
        summary.files_downloaded += o.downloaded;
        summary.files_unchanged += o.unchanged;
        summary.files_failed += o.failed;
        summary.bytes_downloaded += o.bytes;
        summary.errors.extend(o.errors);
        summary.warnings.extend(o.warnings);
    }
    summary.errors.sort_by_cached_key(ToString::to_string);
    summary.warnings.sort();
    Ok(summary)
}

fn list_error(url: &str, error: object_store::Error) -> Error {
    let text = error.to_string();
    let hint = if text.contains("NoSuchBucket")
        || matches!(error, object_store::Error::NotFound { .. })
    {
        "\nhint: the bucket (or container, or directory) does not exist; check its name, \
         --region and --endpoint"
    } else if matches!(
        error,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || text.contains("AccessDenied")
        || text.contains("InvalidAccessKeyId")
        || text.contains("SignatureDoesNotMatch")
    {
        "\nhint: check the credentials (--profile, AWS_PROFILE, AWS_ACCESS_KEY_ID, \
         GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*) and that they may list the prefix"
    } else {
        ""
    };
    Error::List {
        url: url.to_string(),
        error,
        hint: hint.to_string(),
    }
}

/// Which provider a remote source is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Provider {
    S3,
    Gcs,
    Azure,
}

/// Where a source's objects are.
#[derive(Debug, PartialEq, Eq)]
enum Location {
    /// In a bucket; the URL is for object_store's builders.
    Remote(Provider, Url),
    /// In a local directory (canonical path).
    Local(PathBuf),
}

/// A parsed source: where to list, and the URL that names it in outputs.
#[derive(Debug)]
struct Source {
    location: Location,
    /// The prefix inside the bucket (empty for local sources, which list their root).
    prefix: Path,
    /// The source as a URL without a trailing slash: `s3://bucket/prefix`,
    /// `file:///abs/dir`. Object URLs are `{base}/{relative key}`.
    base: String,
}

impl Source {
    fn parse(given: &str) -> Result<Source, Error> {
        let bad = |reason: String| Error::Source {
            url: given.to_string(),
            reason,
        };
        if !given.contains("://") {
            return Source::local(given, PathBuf::from(given));
        }
        let url = Url::parse(given).map_err(|e| bad(format!("not a valid URL: {e}")))?;
        let provider = match url.scheme() {
            "s3" | "s3a" => Provider::S3,
            "gs" => Provider::Gcs,
            "az" | "azure" | "adl" | "abfs" | "abfss" => Provider::Azure,
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| bad("not a local absolute path".into()))?;
                return Source::local(given, path);
            }
            "https" => match ObjectStoreScheme::parse(&url) {
                Ok((ObjectStoreScheme::AmazonS3, prefix)) => {
                    return Ok(Source::remote(Provider::S3, url, prefix, given))
                }
                Ok((ObjectStoreScheme::MicrosoftAzure, prefix)) => {
                    return Ok(Source::remote(Provider::Azure, url, prefix, given))
                }
                _ => {
                    return Err(bad("an https:// URL must be an S3 or Azure storage URL; \
                         for another S3-compatible server use s3://bucket/prefix with \
                         --endpoint"
                        .into()))
                }
            },
            other => {
                return Err(bad(format!(
                    "unsupported scheme {other}://; use s3://, gs://, az://, file:// or a \
                     local path"
                )))
            }
        };
        if url.host_str().unwrap_or("").is_empty() {
            return Err(bad("the URL names no bucket or container".into()));
        }
        // The path after the bucket is the prefix (object_store's own URL parsing drops a
        // segment of az:// paths, so it is not used for these schemes).
        let prefix = Path::from_url_path(url.path().trim_matches('/'))
            .map_err(|e| bad(format!("invalid prefix: {e}")))?;
        Ok(Source::remote(provider, url, prefix, given))
    }

    fn remote(provider: Provider, url: Url, prefix: Path, given: &str) -> Source {
        let base = given
            .split(['?', '#'])
            .next()
            .unwrap_or(given)
            .trim_end_matches('/')
            .to_string();
        Source {
            location: Location::Remote(provider, url),
            prefix,
            base,
        }
    }

    fn local(given: &str, path: PathBuf) -> Result<Source, Error> {
        let bad = |reason: String| Error::Source {
            url: given.to_string(),
            reason,
        };
        let root = std::path::absolute(&path)
            .and_then(std::fs::canonicalize)
            .map_err(|e| bad(format!("cannot open directory {}: {e}", path.display())))?;
        if !root.is_dir() {
            return Err(bad(format!("{} is not a directory", root.display())));
        }
        let base = Url::from_directory_path(&root)
            .map(|u| u.to_string().trim_end_matches('/').to_string())
            .map_err(|()| bad(format!("{} cannot be a file:// URL", root.display())))?;
        Ok(Source {
            location: Location::Local(root),
            prefix: Path::default(),
            base,
        })
    }

    fn prefix_opt(&self) -> Option<&Path> {
        (!self.prefix.as_ref().is_empty()).then_some(&self.prefix)
    }

    /// The key of `location` relative to the prefix.
    fn relative(&self, location: &Path) -> String {
        let key = location.as_ref();
        let prefix = self.prefix.as_ref();
        if prefix.is_empty() {
            return key.to_string();
        }
        key.strip_prefix(prefix)
            .and_then(|k| k.strip_prefix('/'))
            .unwrap_or(key)
            .to_string()
    }
}

/// How a source's objects are read.
enum Backend {
    /// Through object_store.
    Store(Arc<dyn ObjectStore>),
    /// From a local directory (canonical path), by [`local`], which follows no links.
    Local(PathBuf),
}

/// Sets up how a source is read: object_store, with the options that apply to its
/// provider, for a remote source; the directory itself for a local one.
fn build_store(source: &Source, opts: &DownloadOptions) -> Result<Backend, Error> {
    let bad = |reason: String| Error::Source {
        url: opts.source.clone(),
        reason,
    };
    let store_err = |error| Error::Store {
        url: opts.source.clone(),
        error,
    };
    let is_s3 = matches!(source.location, Location::Remote(Provider::S3, _));
    for (what, given) in [
        ("--region", opts.region.is_some()),
        ("--profile", opts.profile.is_some()),
    ] {
        if given && !is_s3 {
            return Err(bad(format!("{what} applies to s3:// sources only")));
        }
    }
    let (provider, url) = match &source.location {
        Location::Remote(provider, url) => (*provider, url.as_str()),
        Location::Local(root) => {
            if opts.endpoint.is_some() || !opts.store_options.is_empty() {
                return Err(bad(
                    "--endpoint and store options do not apply to local sources".into(),
                ));
            }
            return Ok(Backend::Local(root.clone()));
        }
    };
    let parse_err = |key: &str, e: object_store::Error| {
        bad(format!(
            "unknown store option {key:?} for this provider ({e}); see object_store's \
             configuration keys"
        ))
    };
    let retry = RetryConfig::default();
    let store: Arc<dyn ObjectStore> = match provider {
        Provider::S3 => {
            let mut b = s3_builder(opts)?.with_url(url);
            for (k, v) in &opts.store_options {
                b = b.with_config(k.parse().map_err(|e| parse_err(k, e))?, v);
            }
            if let Some(region) = &opts.region {
                b = b.with_region(region);
            }
            if let Some(endpoint) = &opts.endpoint {
                b = b.with_endpoint(endpoint);
            }
            let endpoint = b.get_config_value(&AmazonS3ConfigKey::Endpoint);
            if endpoint.is_some_and(|e| e.starts_with("http://")) {
                b = b.with_allow_http(true);
            }
            Arc::new(b.with_retry(retry).build().map_err(store_err)?)
        }
        Provider::Gcs => {
            let mut b = GoogleCloudStorageBuilder::from_env().with_url(url);
            if let Some(endpoint) = &opts.endpoint {
                // object_store takes a base URL only from a service account key, and an
                // emulator needs no OAuth token.
                let key = serde_json::json!({
                    "gcs_base_url": endpoint.trim_end_matches('/'),
                    "disable_oauth": true,
                    "client_email": "",
                    "private_key": "",
                    "private_key_id": "",
                });
                b = b.with_service_account_key(key.to_string());
            }
            for (k, v) in &opts.store_options {
                b = b.with_config(k.parse().map_err(|e| parse_err(k, e))?, v);
            }
            Arc::new(b.with_retry(retry).build().map_err(store_err)?)
        }
        Provider::Azure => {
            let mut b = MicrosoftAzureBuilder::from_env().with_url(url);
            for (k, v) in &opts.store_options {
                b = b.with_config(k.parse().map_err(|e| parse_err(k, e))?, v);
            }
            if let Some(endpoint) = &opts.endpoint {
                b = b.with_endpoint(endpoint.clone());
                if endpoint.starts_with("http://") {
                    b = b.with_allow_http(true);
                }
            }
            Arc::new(b.with_retry(retry).build().map_err(store_err)?)
        }
    };
    Ok(Backend::Store(store))
}

/// `AmazonS3Builder::from_env`, plus an AWS profile from the shared files.
fn s3_builder(opts: &DownloadOptions) -> Result<AmazonS3Builder, Error> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let given_keys = opts
        .store_options
        .iter()
        .any(|(k, _)| matches!(k.as_str(), "aws_access_key_id" | "access_key_id"));
    let profile = aws_profile::resolve(
        opts.profile.as_deref(),
        env("AWS_PROFILE").as_deref(),
        given_keys || env("AWS_ACCESS_KEY_ID").is_some(),
        &aws_profile::Files::new(
            opts.aws_credentials_file.clone(),
            opts.aws_config_file.clone(),
        ),
    )?;
    let has_keys = profile.as_ref().is_some_and(|p| p.keys.is_some());
    let mut b = AmazonS3Builder::new();
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    for (key, value) in vars {
        if !key.starts_with("AWS_") {
            continue;
        }
        // A profile's keys replace the environment's, as with the AWS CLI's --profile.
        let credential = matches!(
            key.as_str(),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN"
        );
        if has_keys && credential {
            continue;
        }
        if let Ok(k) = key.to_ascii_lowercase().parse() {
            b = b.with_config(k, value);
        }
    }
    if let Some(p) = profile {
        if let Some(keys) = p.keys {
            b = b
                .with_access_key_id(keys.access_key_id)
                .with_secret_access_key(keys.secret_access_key);
            if let Some(token) = keys.session_token {
                b = b.with_token(token);
            }
        }
        if b.get_config_value(&AmazonS3ConfigKey::Region).is_none() {
            if let Some(region) = p.region {
                b = b.with_region(region);
            }
        }
        if b.get_config_value(&AmazonS3ConfigKey::Endpoint).is_none() {
            if let Some(endpoint) = p.endpoint_url {
                b = b.with_endpoint(endpoint);
            }
        }
    }
    Ok(b)
}

/// Shared state of one download.
struct Ctx<'a> {
    backend: Backend,
    base: String,
    coverage_dir: PathBuf,
    transfers: Semaphore,
    opts: &'a DownloadOptions,
    reporter: &'a dyn Reporter,
}

#[derive(Default)]
struct InstanceOutcome {
    skipped_existing: bool,
    downloaded: usize,
    unchanged: usize,
    failed: usize,
    bytes: u64,
    errors: Vec<Error>,
    warnings: Vec<String>,
}

/// What happened to one object.
enum FileOutcome {
    /// Present with the manifest's size and ETag: `(record, modified)`.
    Unchanged(ObjectRecord, (i64, u32)),
    /// Transferred: `(record, modified)`.
    Downloaded(ObjectRecord, (i64, u32)),
    Failed(Error),
}

impl Ctx<'_> {
    async fn sync_instance(
        &self,
        instance: &Instance,
        files: &InstanceFiles<ObjectMeta>,
    ) -> InstanceOutcome {
        let mut out = InstanceOutcome::default();
        let dir = self.coverage_dir.join(&files.dir_name);
        let source = format!("{}/{}/", self.base, instance.key_dir());
        let is_link = tokio::fs::symlink_metadata(&dir)
            .await
            .is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            self.reporter
                .advance(files.files.len() as u64, &files.dir_name);
            out.failed = files.files.len();
            out.errors.push(Error::Link { path: dir });
            return out;
        }
        if self.opts.skip_existing && is_complete(&dir) {
            self.reporter
                .advance(files.files.len() as u64, &files.dir_name);
            out.skipped_existing = true;
            return out;
        }
        if let Err(error) = tokio::fs::create_dir_all(&dir).await {
            self.reporter
                .advance(files.files.len() as u64, &files.dir_name);
            out.failed = files.files.len();
            out.errors.push(Error::Io {
                action: "creating directory",
                path: dir,
                error,
            });
            return out;
        }

        let manifest_path = dir.join(MANIFEST_FILE);
        let old = match read_json::<Manifest>(&manifest_path).await {
            Ok(m) => m.unwrap_or_default(),
            Err(e) => {
                out.warnings.push(format!(
                    "ignored unreadable {}: {e}; its objects were downloaded again",
                    manifest_path.display()
                ));
                Manifest::default()
            }
        };

        let outcomes = futures::future::join_all(files.files.iter().map(|(name, meta)| {
            let url = format!("{source}{name}");
            self.sync_file(url, dir.join(name), meta, old.objects.get(name))
        }))
        .await;

        let mut manifest = Manifest {
            source: source.clone(),
            objects: old.objects.clone(),
        };
        let mut newest: Option<(i64, u32)> = None;
        for ((name, _), outcome) in files.files.iter().zip(outcomes) {
            let (record, modified) = match outcome {
                FileOutcome::Unchanged(r, m) => {
                    out.unchanged += 1;
                    (r, m)
                }
                FileOutcome::Downloaded(r, m) => {
                    out.downloaded += 1;
                    out.bytes += r.size;
                    (r, m)
                }
                FileOutcome::Failed(e) => {
                    out.failed += 1;
                    out.errors.push(e);
                    continue;
                }
            };
            newest = newest.max(Some(modified));
            manifest.objects.insert(name.clone(), record);
        }
        if manifest != old {
            if let Err(e) = write_json(&manifest_path, &manifest).await {
                out.errors.push(e);
            }
        }
        // A directory gets metadata.json once it holds something (with --skip-existing,
        // metadata.json and a covmeta mean "complete").
        if let Some((secs, nanos)) = newest {
            let metadata = instance.metadata(&source, Some(producer::rfc3339(secs, nanos)));
            let path = dir.join(METADATA_FILE);
            let current = read_json::<producer::Metadata>(&path).await.ok().flatten();
            if current.as_ref() != Some(&metadata) {
                if let Err(e) = write_json(&path, &metadata).await {
                    out.errors.push(e);
                }
            }
        }
        out
    }

    async fn sync_file(
        &self,
        url: String,
        path: PathBuf,
        listed: &ObjectMeta,
        old: Option<&ObjectRecord>,
    ) -> FileOutcome {
        let outcome = if let Some(record) = old.filter(|r| unchanged(r, listed, &path)) {
            let record = ObjectRecord {
                url,
                ..record.clone()
            };
            FileOutcome::Unchanged(record, timestamp(listed))
        } else {
            let _permit = self.transfers.acquire().await;
            let mut attempt = 1;
            loop {
                match self.fetch(&url, listed, &path).await {
                    Ok(meta) => {
                        // The next run compares with a listing, and Azure's and GCS's
                        // listings spell ETags unlike their GETs: keep the listed one.
                        let record = ObjectRecord {
                            etag: listed.e_tag.clone(),
                            ..record_of(&url, &meta)
                        };
                        break FileOutcome::Downloaded(record, timestamp(&meta));
                    }
                    Err(e) if attempt >= self.opts.attempts || !retryable(&e) => {
                        break FileOutcome::Failed(match e {
                            Error::Get { url, error, .. } => Error::Get {
                                url,
                                attempts: attempt,
                                error,
                            },
                            other => other,
                        })
                    }
                    Err(_) => {
                        tokio::time::sleep(self.opts.retry_delay * attempt).await;
                        attempt += 1;
                    }
                }
            }
        };
        self.reporter.advance(1, listed.location.as_ref());
        outcome
    }

    /// Transfers one object to `path` through a temporary file, sets its mtime to the
    /// object's Last-Modified, and returns the object's metadata as served. No more than
    /// the listed size (checked against the limits) is written.
    async fn fetch(
        &self,
        url: &str,
        listed: &ObjectMeta,
        path: &FsPath,
    ) -> Result<ObjectMeta, Error> {
        let location = &listed.location;
        let store = match &self.backend {
            Backend::Store(store) => store,
            Backend::Local(root) => {
                let (root, location, dest, url) = (
                    root.clone(),
                    location.clone(),
                    path.to_path_buf(),
                    url.to_string(),
                );
                return tokio::task::spawn_blocking(move || {
                    local::copy(&root, &location, &dest, &url)
                })
                .await
                .unwrap_or_else(|e| {
                    Err(Error::Io {
                        action: "copying",
                        path: path.to_path_buf(),
                        error: std::io::Error::other(e),
                    })
                });
            }
        };
        let get_err = |error| Error::Get {
            url: url.to_string(),
            attempts: 1,
            error,
        };
        let result = store.get(location).await.map_err(get_err)?;
        let meta = result.meta.clone();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let tmp = path.with_file_name(format!(".{}.livecov-part", name.unwrap_or_default()));
        let io = |action: &'static str| {
            move |error| Error::Save {
                url: url.to_string(),
                path: path.to_path_buf(),
                action,
                error,
            }
        };
        let written = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(io("creating a temporary file"))?;
            let mut stream = result.into_stream();
            let mut got = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(get_err)?;
                got += chunk.len() as u64;
                if got > listed.size {
                    return Err(Error::Length {
                        url: url.to_string(),
                        got,
                        want: listed.size,
                    });
                }
                file.write_all(&chunk).await.map_err(io("writing"))?;
            }
            file.flush().await.map_err(io("writing"))?;
            if got != meta.size || got != listed.size {
                return Err(Error::Length {
                    url: url.to_string(),
                    got,
                    want: listed.size,
                });
            }
            let file = file.into_std().await;
            let (secs, nanos) = timestamp(&meta);
            if let Ok(secs) = u64::try_from(secs) {
                let mtime = UNIX_EPOCH + Duration::new(secs, nanos);
                file.set_modified(mtime).map_err(io("setting the mtime"))?;
            }
            drop(file);
            tokio::fs::rename(&tmp, path)
                .await
                .map_err(io("renaming the temporary file"))
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        written.map(|()| meta)
    }
}

fn retryable(e: &Error) -> bool {
    match e {
        Error::Get { error, .. } => !matches!(
            error,
            object_store::Error::NotFound { .. }
                | object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ),
        Error::Length { .. } => true,
        _ => false,
    }
}

/// Whether the local file is the listed object: the manifest has its size and ETag (or,
/// without an ETag, its Last-Modified) and the file is there with that size.
fn unchanged(record: &ObjectRecord, listed: &ObjectMeta, path: &FsPath) -> bool {
    let same = record.size == listed.size
        && match &listed.e_tag {
            Some(tag) => record.etag.as_ref() == Some(tag),
            None => {
                let (s, n) = timestamp(listed);
                record.last_modified == producer::rfc3339(s, n)
            }
        };
    same && std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == listed.size)
}

fn timestamp(meta: &ObjectMeta) -> (i64, u32) {
    (
        meta.last_modified.timestamp(),
        meta.last_modified.timestamp_subsec_nanos(),
    )
}

fn record_of(url: &str, meta: &ObjectMeta) -> ObjectRecord {
    let (s, n) = timestamp(meta);
    ObjectRecord {
        url: url.to_string(),
        size: meta.size,
        etag: meta.e_tag.clone(),
        last_modified: producer::rfc3339(s, n),
    }
}

/// The older tool's `--skip-existing` test: `metadata.json` and at least one `covmeta.*`.
fn is_complete(dir: &FsPath) -> bool {
    dir.join(METADATA_FILE).is_file()
        && std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("covmeta."))
        })
}

/// Reads a JSON file; `Ok(None)` when it does not exist.
async fn read_json<T: serde::de::DeserializeOwned>(path: &FsPath) -> Result<Option<T>, String> {
    match tokio::fs::read(path).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Writes pretty JSON (with a final newline) through a temporary file and a rename.
async fn write_json<T: serde::Serialize>(path: &FsPath, value: &T) -> Result<(), Error> {
    let io = |action, error| Error::Io {
        action,
        path: path.to_path_buf(),
        error,
    };
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| io("serialising", std::io::Error::other(e)))?;
    bytes.push(b'\n');
    let tmp = path.with_extension("json.livecov-part");
    tokio::fs::write(&tmp, &bytes)
        .await
        .map_err(|e| io("writing", e))?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| io("writing", e))
}

/// AWS shared config and credentials files (object_store does not read them).
mod aws_profile {
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::process::Command;

    use super::Error;

    /// Static or process-provided credentials.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct Keys {
        pub access_key_id: String,
        pub secret_access_key: String,
        pub session_token: Option<String>,
    }

    /// What a profile gives object_store.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct Profile {
        pub keys: Option<Keys>,
        pub region: Option<String>,
        pub endpoint_url: Option<String>,
    }

    /// The two files, from options, the standard variables or `~/.aws`.
    pub(super) struct Files {
        credentials: Option<PathBuf>,
        config: Option<PathBuf>,
    }

    impl Files {
        pub(super) fn new(credentials: Option<PathBuf>, config: Option<PathBuf>) -> Files {
            let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws"));
            let pick = |given: Option<PathBuf>, var: &str, name: &str| {
                given
                    .or_else(|| std::env::var_os(var).map(PathBuf::from))
                    .or_else(|| home.as_ref().map(|h| h.join(name)))
            };
            Files {
                credentials: pick(credentials, "AWS_SHARED_CREDENTIALS_FILE", "credentials"),
                config: pick(config, "AWS_CONFIG_FILE", "config"),
            }
        }
    }

    /// The profile to use, if any: `explicit` (an error if unusable), else `env_profile`
    /// (`AWS_PROFILE`) or `default`, unless the environment holds keys (then `None`).
    pub(super) fn resolve(
        explicit: Option<&str>,
        env_profile: Option<&str>,
        env_has_keys: bool,
        files: &Files,
    ) -> Result<Option<Profile>, Error> {
        let (name, required) = match (explicit, env_profile) {
            (Some(p), _) => (p, true),
            (None, _) if env_has_keys => return Ok(None),
            (None, Some(p)) => (p, true),
            (None, None) => ("default", false),
        };
        let err = |reason: String| Error::Profile {
            profile: name.to_string(),
            reason,
        };
        let read =
            |p: &Option<PathBuf>| -> Result<BTreeMap<String, BTreeMap<String, String>>, Error> {
                match p {
                    Some(p) => match std::fs::read_to_string(p) {
                        Ok(text) => Ok(parse_ini(&text)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
                        Err(e) => Err(err(format!("cannot read {}: {e}", p.display()))),
                    },
                    None => Ok(BTreeMap::new()),
                }
            };
        let creds = read(&files.credentials)?;
        let config = read(&files.config)?;
        let mut merged: BTreeMap<String, String> = BTreeMap::new();
        let config_section = if name == "default" {
            config
                .get("default")
                .or_else(|| config.get("profile default"))
        } else {
            config.get(&format!("profile {name}"))
        };
        let found = config_section.is_some() || creds.contains_key(name);
        if let Some(s) = config_section {
            merged.extend(s.clone());
        }
        if let Some(s) = creds.get(name) {
            merged.extend(s.clone());
        }
        if !found {
            if !required {
                return Ok(None);
            }
            let show = |p: &Option<PathBuf>| {
                p.as_ref()
                    .map_or("(no file)".to_string(), |p| p.display().to_string())
            };
            return Err(err(format!(
                "not found in {} or {}; create it with `aws configure --profile {name}` or \
                 export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                show(&files.credentials),
                show(&files.config)
            )));
        }
        let get = |k: &str| merged.get(k).filter(|v| !v.is_empty()).cloned();
        let keys = match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(access_key_id), Some(secret_access_key)) => Some(Keys {
                access_key_id,
                secret_access_key,
                session_token: get("aws_session_token"),
            }),
            _ => match get("credential_process") {
                Some(cmd) => Some(run_credential_process(&cmd).map_err(err)?),
                None => {
                    let other = [
                        "role_arn",
                        "sso_session",
                        "sso_start_url",
                        "web_identity_token_file",
                    ]
                    .into_iter()
                    .find(|k| merged.contains_key(*k));
                    match other {
                        Some(kind) if required => {
                            return Err(err(format!(
                                "uses {kind}, which livecov cannot resolve by itself; run \
                                 `eval \"$(aws configure export-credentials --profile {name} \
                                 --format env)\"` and drop --profile"
                            )))
                        }
                        // object_store's own chain (web identity, instance metadata) may
                        // still find credentials.
                        _ => None,
                    }
                }
            },
        };
        Ok(Some(Profile {
            keys,
            region: get("region"),
            endpoint_url: get("endpoint_url"),
        }))
    }

    /// Runs a profile's `credential_process` and reads its JSON answer.
    fn run_credential_process(cmd: &str) -> Result<Keys, String> {
        let out = Command::new("sh")
            .args(["-c", cmd])
            .output()
            .map_err(|e| format!("running credential_process `sh -c {cmd:?}`: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "credential_process `sh -c {cmd:?}` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("credential_process `{cmd}` printed no JSON: {e}"))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        match (field("AccessKeyId"), field("SecretAccessKey")) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Keys {
                access_key_id,
                secret_access_key,
                session_token: field("SessionToken"),
            }),
            _ => Err(format!(
                "credential_process `{cmd}` printed no AccessKeyId and SecretAccessKey"
            )),
        }
    }

    /// The INI dialect of the AWS files: `[section]`, `key = value`, `#`/`;` comments.
    /// Indented lines (nested settings such as `s3 =` blocks) are ignored.
    pub(super) fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut section: Option<String> = None;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                out.entry(name.clone()).or_default();
                section = Some(name);
                continue;
            }
            if raw.starts_with([' ', '\t']) {
                continue;
            }
            if let (Some(s), Some((k, v))) = (&section, line.split_once('=')) {
                out.entry(s.clone())
                    .or_default()
                    .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use std::path::Path;

        use super::*;

        fn files(dir: &Path, creds: &str, config: &str) -> Files {
            std::fs::write(dir.join("credentials"), creds).unwrap();
            std::fs::write(dir.join("config"), config).unwrap();
            Files::new(Some(dir.join("credentials")), Some(dir.join("config")))
        }

        #[test]
        fn reads_static_keys_region_and_endpoint() {
            let d = tempfile::tempdir().unwrap();
            let f = files(
                d.path(),
                "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n\
                 [ci]\naws_access_key_id=AK\naws_secret_access_key = SK\n\
                 aws_session_token = T # not a comment\n",
                "# c\n[profile ci]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:9\n\
                 s3 =\n  addressing_style = path\n[default]\nregion=us-west-2\n",
            );
            let p = resolve(Some("ci"), None, true, &f).unwrap().unwrap();
            assert_eq!(
                p.keys,
                Some(Keys {
                    access_key_id: "AK".into(),
                    secret_access_key: "SK".into(),
                    session_token: Some("T # not a comment".into()),
                })
            );
            assert_eq!(p.region.as_deref(), Some("eu-west-1"));
            assert_eq!(p.endpoint_url.as_deref(), Some("http://127.0.0.1:9"));

            // Environment keys win over AWS_PROFILE and the default profile.
            assert_eq!(resolve(None, Some("ci"), true, &f).unwrap(), None);
            let p = resolve(None, None, false, &f).unwrap().unwrap();
            assert_eq!(p.keys.unwrap().access_key_id, "D");
            assert_eq!(p.region.as_deref(), Some("us-west-2"));
        }

        #[test]
        fn missing_and_unsupported_profiles() {
            let d = tempfile::tempdir().unwrap();
            let f = files(d.path(), "", "[profile sso]\nsso_session = x\n");
            let e = resolve(Some("nope"), None, false, &f)
                .unwrap_err()
                .to_string();
            assert!(e.contains("\"nope\": not found in"), "{e}");
            assert_eq!(resolve(None, None, false, &f).unwrap(), None);
            let e = resolve(Some("sso"), None, false, &f)
                .unwrap_err()
                .to_string();
            assert!(e.contains("export-credentials --profile sso"), "{e}");
        }

        #[test]
        fn runs_credential_process() {
            let d = tempfile::tempdir().unwrap();
            let f = files(
                d.path(),
                "",
                "[profile p]\ncredential_process = echo '{\"Version\":1,\"AccessKeyId\":\"A\",\
                 \"SecretAccessKey\":\"S\",\"SessionToken\":\"T\"}'\n",
            );
            let p = resolve(Some("p"), None, false, &f).unwrap().unwrap();
            assert_eq!(p.keys.unwrap().session_token.as_deref(), Some("T"));
            let f = files(d.path(), "", "[profile p]\ncredential_process = exit 3\n");
            let e = resolve(Some("p"), None, false, &f).unwrap_err().to_string();
            assert!(e.contains("failed"), "{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        let s = Source::parse("s3://bucket/openshift-ci/coverage/c1/").unwrap();
        assert!(matches!(s.location, Location::Remote(Provider::S3, _)));
        assert_eq!(s.prefix.as_ref(), "openshift-ci/coverage/c1");
        assert_eq!(s.base, "s3://bucket/openshift-ci/coverage/c1");
        let s = Source::parse("az://container/p/q").unwrap();
        assert!(matches!(s.location, Location::Remote(Provider::Azure, _)));
        assert_eq!(s.prefix.as_ref(), "p/q");
        let s = Source::parse("gs://b").unwrap();
        assert!(matches!(s.location, Location::Remote(Provider::Gcs, _)));
        assert_eq!(s.prefix.as_ref(), "");
        assert_eq!(s.base, "gs://b");
        let s = Source::parse("https://s3.us-east-1.amazonaws.com/bucket/a/b").unwrap();
        assert!(matches!(s.location, Location::Remote(Provider::S3, _)));
        assert_eq!(s.prefix.as_ref(), "a/b");

        let d = tempfile::tempdir().unwrap();
        let plain = Source::parse(d.path().to_str().unwrap()).unwrap();
        let url = Url::from_directory_path(d.path()).unwrap().to_string();
        let file = Source::parse(&url).unwrap();
        assert_eq!(plain.base, file.base);
        assert_eq!(plain.location, file.location);
        assert!(matches!(plain.location, Location::Local(_)));

        for bad in ["ftp://x/y", "https://example.com/x", "s3:///x"] {
            let e = Source::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("source {bad}: ")), "{e}");
        }
        let e = Source::parse("/definitely/not/here")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot open directory /definitely/not/here"),
            "{e}"
        );
    }

    #[test]
    fn options_that_do_not_apply_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let local = d.path().to_str().unwrap();
        let src = Source::parse(local).unwrap();
        let e = build_store(
            &src,
            &DownloadOptions::new(local, d.path()).region(Some("x".into())),
        )
        .err()
        .unwrap();
        assert!(e
            .to_string()
            .contains("--region applies to s3:// sources only"));
        let src = Source::parse("s3://b/p").unwrap();
        let opts = DownloadOptions::new("s3://b/p", d.path()).store_option("no_such_key", "1");
        let e = build_store(&src, &opts).err().unwrap().to_string();
        assert!(e.contains("unknown store option \"no_such_key\""), "{e}");
    }

    #[test]
    fn summary_lists_skipped_keys_by_reason() {
        let s = Summary {
            source: "s3://b/p".into(),
            files_downloaded: 3,
            bytes_downloaded: 2048,
            skipped_keys: vec![SkippedKey {
                key: "n/x/covmeta.1".into(),
                reason: producer::SkipReason::Depth {
                    segments: 2,
                    host: false,
                },
            }],
            ..Summary::default()
        };
        let text = s.to_string();
        assert!(
            text.contains("3 downloaded (2.0 KiB), 0 unchanged, 0 failed"),
            "{text}"
        );
        assert!(
            text.contains("1: pod entry 2 directories below the prefix"),
            "{text}"
        );
        assert!(text.contains("      n/x/covmeta.1\n"), "{text}");
        assert!(!s.failed());
    }
}
