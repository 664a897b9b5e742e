//! A real registry for tests: Debian's `docker-registry` (distribution 2.8), started on
//! 127.0.0.1 with a random port and a temporary storage directory, and a pusher that
//! uploads images with plain HTTP API calls (monolithic blob uploads, manifest PUTs), so
//! what a client reads is what a registry really serves.
//!
//! The binary is `$LIVECOV_REGISTRY_BIN`, else `/usr/bin/docker-registry`
//! (`.ci/install-registry.sh` installs it). When it is missing, [`registry_bin`] panics if
//! `$CI` is set and otherwise prints a message and returns `None` (the test skips): the
//! rule of `crates/livecov/tests/support/external.rs`.
//!
//! Shared by several test crates with `#[path = …] mod registry_harness;`, so it depends
//! only on what every includer has as dev-dependencies: `reqwest`, `ring`, `serde_json`,
//! `tempfile` (and a tokio runtime to drive the pusher). Each includer uses a part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

// Relative to this file's directory, whichever test crate includes it.
#[path = "../../../livecov/tests/support/external.rs"]
mod external;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

// ---------------------------------------------------------------------------------------
// The registry process

/// The registry binary, or `None` (after a message) when it is missing outside CI.
pub fn registry_bin() -> Option<PathBuf> {
    let bin = std::env::var_os("LIVECOV_REGISTRY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"));
    let what = format!(
        "{} (Debian's docker-registry: run .ci/install-registry.sh or set LIVECOV_REGISTRY_BIN)",
        bin.display()
    );
    external::require(&what, bin.is_file().then_some(bin))
}

/// A running registry; stopped when dropped.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    dir: TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Registry {
    /// A registry without authentication, or `None` when the binary is missing (see
    /// [`registry_bin`]).
    pub fn anonymous() -> Option<Registry> {
        Some(Registry::start(&registry_bin()?, "", &[]))
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the registry wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Kills the registry and waits for it; its port then refuses connections. Stopping
    /// twice is harmless.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a registry with `auth` (a YAML block, or "") in its config; `files` are
    /// written into its directory first (`{dir}` in `auth` is replaced by that directory).
    pub fn start(bin: &Path, auth: &str, files: &[(&str, &str)]) -> Registry {
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            for (name, content) in files {
                std::fs::write(dir.path().join(name), content).expect("write file");
            }
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let dir_str = dir.path().display().to_string();
            // Nothing here reaches the network: filesystem storage, no proxy, no
            // notifications, no redis, no reporting.
            let config = format!(
                "version: 0.1\n\
                 log:\n  level: info\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {dir_str}/data\n  \
                 maintenance:\n    uploadpurging:\n      enabled: false\n\
                 http:\n  addr: {addr}\n\
                 health:\n  storagedriver:\n    enabled: false\n\
                 {auth}",
                auth = auth.replace("{dir}", &dir_str),
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).expect("write config");
            let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
            let mut command = Command::new(bin);
            command
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log);
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("REGISTRY_") {
                    command.env_remove(key);
                }
            }
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut registry = Registry { child, addr, dir };
            if registry.wait_ready() {
                return registry;
            }
            last_log = registry.log();
        }
        panic!("the registry did not come up; its log:\n{last_log}");
    }

    /// Waits until `/v2/` answers (200 or 401); false if the process exited.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut stream) = TcpStream::connect(&self.addr) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let request = format!(
                    "GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.addr
                );
                let mut response = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut response).is_ok()
                    && (response.starts_with("HTTP/1.1 200")
                        || response.starts_with("HTTP/1.1 401"))
                {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

// ---------------------------------------------------------------------------------------
// Pushing images with plain API calls

/// `sha256:<hex>` of `bytes`, computed here rather than by the code under test.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The producer's `_prodSanitizePath`: `/`, `:` and `@` become `-`.
pub fn sanitize(image: &str) -> String {
    image
        .replace(['/', ':', '@'], "-")
        .trim_start_matches('-')
        .to_string()
}

pub struct Pusher {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
}

/// What was pushed.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub manifest_digest: String,
    pub config_digest: String,
    pub size: usize,
}

/// An image to push: one layer, a config with `labels` and `env`.
pub struct ImageSpec<'a> {
    pub arch: &'a str,
    pub labels: &'a [(&'a str, &'a str)],
    pub env: &'a [&'a str],
    /// OCI media types, else Docker's.
    pub oci: bool,
}

impl Pusher {
    /// Pushes to `registry`, sending `authorization` (a whole header value) if given.
    pub fn new(registry: &Registry, authorization: Option<String>) -> Pusher {
        Pusher {
            http: reqwest::Client::new(),
            base: registry.base(),
            authorization,
        }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.authorization {
            Some(value) => request.header("Authorization", value),
            None => request,
        }
    }

    /// Monolithic upload: POST to start, PUT the bytes with the digest.
    pub async fn blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256_digest(bytes);
        let start = self
            .request(
                reqwest::Method::POST,
                &format!("{}/v2/{repo}/blobs/uploads/", self.base),
            )
            .send()
            .await
            .expect("start upload");
        assert_eq!(start.status().as_u16(), 202, "start upload: {start:?}");
        let location = start
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .expect("Location")
            .to_string();
        let mut url = reqwest::Url::parse(&self.base)
            .and_then(|base| base.join(&location))
            .expect("upload URL");
        url.query_pairs_mut().append_pair("digest", &digest);
        let put = self
            .request(reqwest::Method::PUT, url.as_str())
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload");
        assert_eq!(
            put.status().as_u16(),
            201,
            "upload: {}",
            put.text().await.unwrap_or_default()
        );
        digest
    }

    /// PUTs a manifest (or index) under `reference`; returns its digest.
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let put = self
            .request(
                reqwest::Method::PUT,
                &format!("{}/v2/{repo}/manifests/{reference}", self.base),
            )
            .header("Content-Type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .expect("put manifest");
        let status = put.status().as_u16();
        assert_eq!(
            status,
            201,
            "put manifest: {}",
            put.text().await.unwrap_or_default()
        );
        sha256_digest(body)
    }

    /// Pushes a config and a layer, then the manifest under `reference` (a tag, or the
    /// manifest's own digest when `None`).
    pub async fn image(&self, repo: &str, reference: Option<&str>, spec: &ImageSpec<'_>) -> Pushed {
        let labels: serde_json::Map<String, Value> = spec
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let layer = format!("layer of {repo} for {}", spec.arch).into_bytes();
        let layer_digest = self.blob(repo, &layer).await;
        let config = json!({
            "architecture": spec.arch,
            "os": "linux",
            "config": {
                "Labels": if labels.is_empty() { Value::Null } else { Value::Object(labels) },
                "Env": spec.env,
            },
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        });
        let config = serde_json::to_vec(&config).expect("config json");
        let config_digest = self.blob(repo, &config).await;
        let (media_type, config_type, layer_type) = if spec.oci {
            (
                OCI_MANIFEST,
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (
                DOCKER_MANIFEST,
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": config_type, "size": config.len(), "digest": config_digest},
            "layers": [{"mediaType": layer_type, "size": layer.len(), "digest": layer_digest}],
        });
        let manifest = serde_json::to_vec_pretty(&manifest).expect("manifest json");
        let digest = sha256_digest(&manifest);
        let pushed = self
            .manifest(repo, reference.unwrap_or(&digest), media_type, &manifest)
            .await;
        assert_eq!(pushed, digest);
        Pushed {
            manifest_digest: digest,
            config_digest,
            size: manifest.len(),
        }
    }

    /// Pushes an index or manifest list of `entries` (arch, pushed child) under `tag`;
    /// returns its digest. `arm64` entries get variant `v8`.
    pub async fn index(
        &self,
        repo: &str,
        tag: &str,
        oci: bool,
        entries: &[(&str, &Pushed)],
    ) -> String {
        let (media_type, child_type) = if oci {
            (OCI_INDEX, OCI_MANIFEST)
        } else {
            (DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
        };
        let manifests: Vec<Value> = entries
            .iter()
            .map(|(arch, child)| {
                let mut platform = json!({"architecture": arch, "os": "linux"});
                if *arch == "arm64" {
                    platform["variant"] = json!("v8");
                }
                json!({
                    "mediaType": child_type,
                    "size": child.size,
                    "digest": child.manifest_digest,
                    "platform": platform,
                })
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests});
        let body = serde_json::to_vec(&index).expect("index json");
        self.manifest(repo, tag, media_type, &body).await
    }
}
