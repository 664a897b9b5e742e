//! Collecting from live processes: the coverage-server protocol (livecov's Go agent, the
//! Python agent, and the `coverage_server.go` deployed in OpenShift builds), spoken as a
//! client, and the snapshots written into a collection in the producer's layout, so
//! compile reads them like downloaded ones.
//!
//! Protocol (`../shared/specs/seed-system.md` §11.2): `GET /health` answers 200 with
//! `X-Art-Coverage-Server: 1`; `GET /coverage` answers JSON `{meta_filename, meta_data
//! (base64), counters_filename, counters_data (base64), timestamp}`; `?nometa=1` leaves
//! the meta out. Every response carries `X-Art-Coverage-Pid`, `X-Art-Coverage-Binary` and
//! optional `X-Art-Coverage-*` identity headers.
//!
//! A Python agent (`X-Art-Coverage-Language: python`, `"language": "python"` in the
//! body) answers the same requests with a coverage.py save instead: `{language,
//! data_filename, data (base64 of the SQLite data file), report_json (base64 of `coverage
//! json` of the same save, or empty), coverage_version, timestamp, source_root?}`. The
//! [`CollectionWriter`] keeps one directory per process for both languages; a Python
//! series alternates `.coverage.livecov-1`/`-2`, each with the `coverage-livecov-N.json`
//! of the same save (the report directory contract compile reads).
//!
//! Nothing from a server is trusted: bodies are bounded, the build identity is read from
//! the meta-data header (never from the file names the server sends), and the counters
//! must belong to that build; a Python data file must be an SQLite file and its report a
//! JSON object.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

use crate::producer::{self, Instance, ProcessKind, INFO_FILE, METADATA_FILE};

/// The largest response body read from a coverage server (a meta-data file of a very large
/// binary is tens of MB; base64 adds a third).
pub const MAX_BODY: usize = 512 << 20;
/// The ports coverage servers take (53700–53749) and scanners look at (to 53799).
pub const SCAN_PORTS: std::ops::Range<u16> = 53700..53800;

const META_MAGIC: [u8; 4] = [0x00, 0x63, 0x76, 0x6d];
const COUNTER_MAGIC: [u8; 4] = [0x00, 0x63, 0x77, 0x6d];
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The data files of a Python series, written alternately (`.coverage.livecov-1`, `-2`).
pub const PY_DATA_PREFIX: &str = ".coverage.livecov-";
/// The `coverage json` reports written with them (`coverage-livecov-1.json`, `-2`).
pub const PY_REPORT_PREFIX: &str = "coverage-livecov-";

/// Why a target gave nothing this round.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The target string is neither a URL nor `host:port`.
    #[error("target {target:?}: {why}")]
    BadTarget {
        /// As given.
        target: String,
        /// What was expected.
        why: String,
    },
    /// Connecting or reading failed.
    #[error("{url}: {error}")]
    Http {
        /// The URL requested.
        url: String,
        /// The client's error.
        error: String,
    },
    /// The server answered, but not as a coverage server does.
    #[error("{url}: {why}")]
    Protocol {
        /// The URL requested.
        url: String,
        /// What was wrong.
        why: String,
    },
}

/// One coverage server to collect from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// Base URL without a trailing slash: `http://10.0.0.7:53700`, or an API server's pod
    /// proxy `https://api:6443/api/v1/namespaces/NS/pods/NAME:53700/proxy`.
    pub url: String,
    /// Where the process runs, when the discovery knows (Kubernetes); otherwise the
    /// target is recorded as a host process of the URL's host.
    pub pod: Option<PodInfo>,
}

/// A pod container's identity, recorded with its snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodInfo {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
    /// Image reference as the pod spec gives it.
    pub image: String,
    /// The node the pod runs on.
    pub node: String,
    /// The controlling owner's kind (`ReplicaSet`, `StatefulSet`…), if any.
    pub owner_kind: String,
    /// The controlling owner's name.
    pub owner_name: String,
}

impl Target {
    /// A target from a command-line word: a URL (`http://h:p`, `https://…`) or
    /// `host:port` (`127.0.0.1:53700`, `[::1]:53700`).
    pub fn parse(word: &str) -> Result<Target, LiveError> {
        let bad = |why: &str| LiveError::BadTarget {
            target: word.to_owned(),
            why: why.to_owned(),
        };
        let url = if word.contains("://") {
            word.to_owned()
        } else {
            format!("http://{word}")
        };
        let parsed =
            url::Url::parse(&url).map_err(|e| bad(&format!("{e}; expected a URL or host:port")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("only http:// and https:// are collected from"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if !word.contains("://") && parsed.port().is_none() {
            return Err(bad(
                "no port; expected host:port (coverage servers listen on 53700-53749)",
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad(
                "a query or fragment has no place in a target's base URL",
            ));
        }
        Ok(Target {
            url: url.trim_end_matches('/').to_owned(),
            pod: None,
        })
    }

    /// The host part of the URL, for naming host-process directories.
    pub fn host(&self) -> String {
        url::Url::parse(&self.url)
            .ok()
            .and_then(|u| {
                let host = u.host_str()?.trim_matches(['[', ']']).to_owned();
                Some(match u.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                })
            })
            .unwrap_or_else(|| self.url.clone())
    }
}

/// What a coverage server says about itself in its headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerInfo {
    /// `X-Art-Coverage-Pid` (0 when absent or not a number).
    pub pid: u64,
    /// `X-Art-Coverage-Binary`.
    pub binary: String,
    /// Every other `X-Art-Coverage-*` header, keyed as info.json keys them (prefix
    /// dropped, lower case, `-` → `_`): `source_commit`, `source_url`, `language`, ….
    pub extra: BTreeMap<String, String>,
}

/// One snapshot as served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The server's identity headers.
    pub server: ServerInfo,
    /// The server's timestamp (Unix nanoseconds).
    pub timestamp: i64,
    /// What the snapshot holds, by language.
    pub data: SnapshotData,
}

/// A snapshot's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotData {
    /// A Go program's counters (and meta-data file).
    Go(GoSnapshot),
    /// A coverage.py save.
    Python(PySnapshot),
}

/// Go's two files, as `runtime/coverage` writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoSnapshot {
    /// The meta-data file, unless asked for without it.
    pub meta: Option<Vec<u8>>,
    /// The counter-data file.
    pub counters: Vec<u8>,
    /// The build identity: the MetaFileHash of the counter-data header (and of the meta's,
    /// which must agree).
    pub hash: [u8; 16],
}

/// A coverage.py save, as the Python agent serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PySnapshot {
    /// The SQLite data file (schema 7), a copy of the process's data file after a save.
    pub data: Vec<u8>,
    /// `coverage json` of the same save, when the agent could make it.
    pub report_json: Option<Vec<u8>>,
    /// The process's own data file name (informational).
    pub data_filename: String,
    /// The coverage.py version that measured.
    pub coverage_version: String,
    /// The path prefix the data's absolute file names live under (`LIVECOV_SOURCE_ROOT`).
    pub source_root: Option<String>,
    /// Why the agent sent no report (`report_error`), when it sent none.
    pub report_error: Option<String>,
}

impl Snapshot {
    /// The Go build, for a Go snapshot.
    pub fn go(&self) -> Option<&GoSnapshot> {
        match &self.data {
            SnapshotData::Go(g) => Some(g),
            SnapshotData::Python(_) => None,
        }
    }

    /// The series key's build part: the Go build's hash; all zero for Python, whose
    /// build identity (the layout hash) only compile knows.
    pub fn build_key(&self) -> [u8; 16] {
        self.go().map_or([0; 16], |g| g.hash)
    }

    /// The build identity as file names spell it (zeros for Python).
    pub fn hash_hex(&self) -> String {
        hex(&self.build_key())
    }

    /// A Go snapshot without its meta-data file (asked for with `?nometa=1`).
    pub fn lacks_meta(&self) -> bool {
        self.go().is_some_and(|g| g.meta.is_none())
    }

    /// What a user should know about a snapshot that was taken: a Python save without
    /// its `coverage json` report (compile then has to find statements itself).
    pub fn warning(&self) -> Option<String> {
        match &self.data {
            SnapshotData::Python(p) if p.report_json.is_none() => Some(format!(
                "a coverage.py save without its JSON report ({}); statements are known only \
                 where compile can analyse the sources",
                p.report_error.as_deref().unwrap_or("the agent sent none")
            )),
            _ => None,
        }
    }

    /// A key that is equal for identical snapshots of one process (a retried push).
    pub fn content_key(&self) -> (u64, u64, [u8; 16]) {
        let bytes = match &self.data {
            SnapshotData::Go(g) => &g.counters,
            SnapshotData::Python(p) => &p.data,
        };
        (
            xxhash_rust::xxh3::xxh3_64(bytes),
            self.server.pid,
            self.build_key(),
        )
    }
}

fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ServerInfo {
    /// Reads the `X-Art-Coverage-*` headers; `None` when `X-Art-Coverage-Server` is not 1.
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<ServerInfo> {
        let mut info = ServerInfo::default();
        let mut is_server = false;
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            let Some(key) = lower.strip_prefix("x-art-coverage-") else {
                continue;
            };
            match key {
                "server" => is_server = value.trim() == "1",
                "pid" => info.pid = value.trim().parse().unwrap_or(0),
                "binary" => info.binary = value.to_owned(),
                _ => {
                    info.extra.insert(key.replace('-', "_"), value.to_owned());
                }
            }
        }
        is_server.then_some(info)
    }
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    meta_data: String,
    #[serde(default)]
    counters_data: Option<String>,
    #[serde(default)]
    timestamp: i64,
    // Python
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    report_json: String,
    #[serde(default)]
    data_filename: String,
    #[serde(default)]
    coverage_version: String,
    #[serde(default)]
    source_root: Option<String>,
    #[serde(default)]
    report_error: Option<String>,
}

/// Checks a `GET /coverage` body. Go: base64 fields, the magics, and that meta and
/// counters name one build. Python (the body's `language`, else the server's language
/// header): an SQLite data file and, when sent, a JSON report. `url` is for messages.
pub fn parse_snapshot(url: &str, server: ServerInfo, body: &[u8]) -> Result<Snapshot, LiveError> {
    let bad = |why: String| LiveError::Protocol {
        url: url.to_owned(),
        why,
    };
    let parsed: Body = serde_json::from_slice(body)
        .map_err(|e| bad(format!("the body is not the coverage JSON ({e})")))?;
    let language = parsed
        .language
        .clone()
        .or_else(|| server.extra.get("language").cloned())
        .unwrap_or_else(|| "go".to_owned());
    match language.as_str() {
        "go" => {}
        "python" => return parse_python(server, parsed).map_err(bad),
        other => {
            return Err(bad(format!(
                "language {other:?}: livecov reads go and python snapshots"
            )))
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let counters_data = parsed
        .counters_data
        .ok_or_else(|| bad("the body has no counters_data (a Go snapshot)".into()))?;
    let counters = b64
        .decode(counters_data.as_bytes())
        .map_err(|e| bad(format!("counters_data is not base64: {e}")))?;
    if counters.len() < 24 || counters[..4] != COUNTER_MAGIC {
        return Err(bad(format!(
            "counters_data is not a Go counter-data file (expected magic 00 63 77 6d and a \
             24-byte header, got {} bytes)",
            counters.len()
        )));
    }
    let mut hash = [0u8; 16];
    hash.copy_from_slice(&counters[8..24]);
    let meta = if parsed.meta_data.is_empty() {
        None
    } else {
        let meta = b64
            .decode(parsed.meta_data.as_bytes())
            .map_err(|e| bad(format!("meta_data is not base64: {e}")))?;
        if meta.len() < 40 || meta[..4] != META_MAGIC {
            return Err(bad(format!(
                "meta_data is not a Go meta-data file (expected magic 00 63 76 6d and a \
                 40-byte header, got {} bytes)",
                meta.len()
            )));
        }
        if meta[24..40] != hash {
            return Err(bad(format!(
                "meta_data is build {} but counters_data is build {}",
                hex(&meta[24..40]),
                hex(&hash)
            )));
        }
        Some(meta)
    };
    Ok(Snapshot {
        server,
        timestamp: parsed.timestamp,
        data: SnapshotData::Go(GoSnapshot {
            meta,
            counters,
            hash,
        }),
    })
}

fn parse_python(server: ServerInfo, body: Body) -> Result<Snapshot, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let data = body
        .data
        .ok_or("the Python snapshot has no data field (the coverage.py data file)")?;
    let data = b64
        .decode(data.as_bytes())
        .map_err(|e| format!("data is not base64: {e}"))?;
    if !data.starts_with(SQLITE_MAGIC) {
        return Err(format!(
            "data is not a coverage.py data file (expected an SQLite file, \"SQLite format 3\\0\", \
             got {} bytes starting {:02x?})",
            data.len(),
            &data[..data.len().min(16)]
        ));
    }
    let report_json = if body.report_json.is_empty() {
        None
    } else {
        let report = b64
            .decode(body.report_json.as_bytes())
            .map_err(|e| format!("report_json is not base64: {e}"))?;
        let value: serde_json::Value = serde_json::from_slice(&report)
            .map_err(|e| format!("report_json is not `coverage json` output: {e}"))?;
        if !(value["meta"].is_object() && value["files"].is_object()) {
            return Err(
                "report_json is not `coverage json` output (no \"meta\" and \"files\" objects)"
                    .into(),
            );
        }
        Some(report)
    };
    Ok(Snapshot {
        server,
        timestamp: body.timestamp,
        data: SnapshotData::Python(PySnapshot {
            data,
            report_json,
            data_filename: body.data_filename,
            coverage_version: body.coverage_version,
            source_root: body.source_root.filter(|r| !r.is_empty()),
            report_error: body.report_error.filter(|r| !r.is_empty()),
        }),
    })
}

/// An HTTP client for coverage servers: bounded time per request, an optional bearer
/// token (the API server's, for pod proxies), and extra CA certificates.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    token: Option<String>,
}

impl Client {
    /// A client with `timeout` per request, sending `token` as a bearer token when given.
    pub fn new(
        timeout: Duration,
        token: Option<String>,
        extra_roots: &[Vec<u8>],
        insecure: bool,
    ) -> Result<Client, LiveError> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(insecure);
        for pem in extra_roots {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| LiveError::Http {
                url: String::new(),
                error: format!("a CA certificate does not parse: {e}"),
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| LiveError::Http {
            url: String::new(),
            error: e.to_string(),
        })?;
        Ok(Client { http, token })
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let r = self.http.get(url);
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// `GET <target>/health`: whether a coverage server answers there, and who it is.
    pub async fn probe(&self, target: &Target) -> Result<ServerInfo, LiveError> {
        let url = format!("{}/health", target.url);
        let resp = self
            .get(&url)
            .send()
            .await
            .map_err(|e| http_error(&url, e))?;
        let info = server_info(&resp);
        if !resp.status().is_success() {
            return Err(LiveError::Protocol {
                url,
                why: format!("answered {}", resp.status()),
            });
        }
        info.ok_or(LiveError::Protocol {
            url,
            why: "no X-Art-Coverage-Server: 1 header; not a coverage server".into(),
        })
    }

    /// `GET <target>/health`: its status line (`:status`, e.g. `200 OK`) and every
    /// header, names in lower case, in the order sent; for reports that show more than
    /// [`ServerInfo`] keeps (livecov's `X-Livecov-*` extensions).
    pub async fn health_headers(
        &self,
        target: &Target,
    ) -> Result<Vec<(String, String)>, LiveError> {
        let url = format!("{}/health", target.url);
        let resp = self
            .get(&url)
            .send()
            .await
            .map_err(|e| http_error(&url, e))?;
        let mut out = vec![(":status".to_owned(), resp.status().to_string())];
        out.extend(resp.headers().iter().filter_map(|(k, v)| {
            Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned()))
        }));
        Ok(out)
    }

    /// `GET <target>/coverage` (with `?nometa=1` when `nometa`).
    pub async fn snapshot(&self, target: &Target, nometa: bool) -> Result<Snapshot, LiveError> {
        let url = format!(
            "{}/coverage{}",
            target.url,
            if nometa { "?nometa=1" } else { "" }
        );
        let mut resp = self
            .get(&url)
            .send()
            .await
            .map_err(|e| http_error(&url, e))?;
        let status = resp.status();
        let info = server_info(&resp);
        if let Some(len) = resp.content_length() {
            if len > MAX_BODY as u64 {
                return Err(LiveError::Protocol {
                    url,
                    why: format!("a body of {len} bytes is over the {MAX_BODY}-byte limit"),
                });
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| http_error(&url, e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(LiveError::Protocol {
                    url,
                    why: format!("the body is over the {MAX_BODY}-byte limit"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(LiveError::Protocol {
                url,
                why: format!("answered {status}: {}", text.trim()),
            });
        }
        let Some(info) = info else {
            return Err(LiveError::Protocol {
                url,
                why: "no X-Art-Coverage-Server: 1 header; not a coverage server".into(),
            });
        };
        parse_snapshot(&url, info, &body)
    }

    /// `POST <target>/coverage/reset`.
    pub async fn reset(&self, target: &Target) -> Result<(), LiveError> {
        let url = format!("{}/coverage/reset", target.url);
        let mut r = self.http.post(&url);
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.map_err(|e| http_error(&url, e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        Err(LiveError::Protocol {
            url,
            why: format!(
                "reset refused ({status}): {}",
                text.chars().take(300).collect::<String>().trim()
            ),
        })
    }

    /// The coverage servers answering on `host` in `ports`, probed `concurrency` at a time.
    pub async fn scan(
        &self,
        host: &str,
        ports: std::ops::Range<u16>,
        concurrency: usize,
    ) -> Vec<(Target, ServerInfo)> {
        use futures::stream::{self, StreamExt};
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let found: Vec<Option<(Target, ServerInfo)>> = stream::iter(ports)
            .map(|port| {
                let target = Target {
                    url: format!("http://{host}:{port}"),
                    pod: None,
                };
                async move {
                    let info = self.probe(&target).await.ok()?;
                    Some((target, info))
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        found.into_iter().flatten().collect()
    }
}

fn server_info(resp: &reqwest::Response) -> Option<ServerInfo> {
    ServerInfo::from_headers(
        resp.headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
    )
}

fn http_error(url: &str, e: reqwest::Error) -> LiveError {
    // reqwest's Display leaves the cause out; the chain says "connection refused".
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    LiveError::Http {
        url: url.to_owned(),
        error: text,
    }
}

/// One process's series of snapshots in a collection: one producer-layout directory,
/// counters alternating between the `.1` and `.2` files as the producer's do (Python:
/// `.coverage.livecov-1`/`-2`), so a crash mid-write leaves the previous snapshot intact.
#[derive(Clone, Debug)]
pub struct Series {
    /// The directory under `<collection>/coverage/`.
    pub dir: PathBuf,
    /// The Go build; all zero for a Python series.
    pub hash: [u8; 16],
    /// The process.
    pub pid: u64,
    /// The binary, as its server names it.
    pub binary: String,
    /// Whether the meta-data file is written (always, for Python).
    pub has_meta: bool,
    /// The toggle of the last counters (or Python data file) written (0 before the first).
    pub toggle: u8,
    /// The process instance, whose [`Instance::key_dir`] is the series' directory in the
    /// producer's bucket layout (`--output`).
    pub instance: Instance,
}

/// Writes snapshots of live processes into `<collection>/coverage/`.
pub struct CollectionWriter {
    coverage: PathBuf,
    host_name: Option<String>,
    series: BTreeMap<SeriesKey, Series>,
    /// Each target's latest series, by URL.
    current: BTreeMap<String, SeriesKey>,
    /// Labels of the snapshots this writer writes (`scenario=login`).
    labels: BTreeMap<String, String>,
}

/// (target URL, pid, binary, build (all zero for Python), labels as `k=v` lines): a
/// process's snapshots under other labels (another scenario) are another series.
type SeriesKey = (String, u64, String, [u8; 16], String);

fn label_key(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

impl fmt::Debug for CollectionWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectionWriter")
            .field("coverage", &self.coverage)
            .field("series", &self.series.len())
            .finish()
    }
}

/// The producer's path sanitisation: `/`, `:`, `@` (and anything that cannot be in a
/// file name) become `-`, leading `-` go, empty becomes `unknown`.
pub fn sanitize(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| match c {
            '/' | ':' | '@' | '\\' => '-',
            c if c.is_control() => '-',
            c => c,
        })
        .collect();
    let trimmed = mapped.trim_start_matches('-');
    let trimmed = if trimmed == "." || trimmed == ".." {
        ""
    } else {
        trimmed
    };
    if trimmed.is_empty() {
        "unknown".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The discovery time of a new series, `YYYYMMDDTHHMMSSZ`, from Unix seconds.
pub fn discovery_time(unix_secs: i64) -> String {
    let rfc = producer::rfc3339(unix_secs, 0);
    // 2026-12-03T14:05:09Z → 20261203T140509Z
    rfc.chars().filter(|c| *c != '-' && *c != ':').collect()
}

impl CollectionWriter {
    /// A writer into `<collection>/coverage/`, created when missing.
    pub fn new(collection: &Path) -> std::io::Result<CollectionWriter> {
        let coverage = collection.join("coverage");
        std::fs::create_dir_all(&coverage)?;
        let mut w = CollectionWriter {
            coverage,
            host_name: None,
            series: BTreeMap::new(),
            current: BTreeMap::new(),
            labels: BTreeMap::new(),
        };
        w.reload();
        Ok(w)
    }

    /// The hostname that host processes are recorded under (node mode: the node's
    /// name, as the producer records the kubelet's hostname). Default: `None`, the
    /// target URL's host and port.
    pub fn host_name(mut self, name: Option<String>) -> CollectionWriter {
        self.host_name = name;
        self
    }

    /// Labels every snapshot written from now on (default: none). Snapshots of one
    /// process under other labels go to another series, so each scenario's snapshot is
    /// an input of its own.
    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> CollectionWriter {
        self.labels = labels;
        self
    }

    /// Ends the series of `url`'s processes: its counters were reset, so what it serves
    /// next is a new reading, not a later one of the same (continuing the series would
    /// replace what ran before the reset). Marked in each series' info.json, so later
    /// runs start a new series too.
    pub fn close_target(&mut self, url: &str) -> std::io::Result<()> {
        let keys: Vec<SeriesKey> = self.series.keys().filter(|k| k.0 == url).cloned().collect();
        for key in keys {
            if let Some(series) = self.series.remove(&key) {
                let path = series.dir.join(INFO_FILE);
                let mut info: serde_json::Map<String, serde_json::Value> = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
                info.insert("closed".into(), true.into());
                write_atomic(
                    &path,
                    &serde_json::to_vec_pretty(&info).map_err(std::io::Error::other)?,
                )?;
            }
        }
        self.current.remove(url);
        Ok(())
    }

    /// Finds the series earlier runs wrote (their info.json names the URL, pid and
    /// binary), so a process collected again continues its series instead of being
    /// counted twice in two directories.
    fn reload(&mut self) {
        let Ok(entries) = std::fs::read_dir(&self.coverage) else {
            return;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Some(info) = std::fs::read(dir.join(INFO_FILE))
                .ok()
                .filter(|b| b.len() < 1 << 20)
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            else {
                continue;
            };
            let (Some(url), Some(pid), Some(binary)) = (
                info["url"].as_str(),
                info["pid"].as_u64(),
                info["binary"].as_str(),
            ) else {
                continue;
            };
            // A series ended by a reset is never continued.
            if info["closed"].as_bool() == Some(true) {
                continue;
            }
            let mut hash = None;
            let mut newest: Option<(std::time::SystemTime, u8)> = None;
            for f in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let python = name.strip_prefix(PY_DATA_PREFIX);
                if let Some(h) = name.strip_prefix("covmeta.") {
                    hash = parse_hex16(h);
                } else if name.starts_with("covcounters.") || python.is_some() {
                    if python.is_some() {
                        hash = Some([0; 16]);
                    }
                    let toggle = match python.or_else(|| name.rsplit('.').next()) {
                        Some("1") => 1,
                        Some("2") => 2,
                        _ => continue,
                    };
                    let modified = f.metadata().and_then(|m| m.modified()).ok();
                    if let Some(m) = modified {
                        if newest.is_none_or(|(t, _)| m > t) {
                            newest = Some((m, toggle));
                        }
                    }
                }
            }
            let Some(hash) = hash else { continue };
            let Some(metadata) = std::fs::read(dir.join(METADATA_FILE))
                .ok()
                .filter(|b| b.len() < 1 << 20)
                .and_then(|b| serde_json::from_slice::<producer::Metadata>(&b).ok())
            else {
                continue;
            };
            let instance = instance_of(&metadata);
            let key = (
                url.to_owned(),
                pid,
                binary.to_owned(),
                hash,
                label_key(&metadata.labels),
            );
            self.series.insert(
                key,
                Series {
                    dir,
                    hash,
                    pid,
                    binary: binary.to_owned(),
                    has_meta: true,
                    toggle: newest.map_or(0, |(_, t)| t),
                    instance,
                },
            );
        }
    }

    /// Whether the series of `target`'s current process has its meta-data file (so the
    /// next request can leave the meta out).
    pub fn has_meta(&self, target: &Target) -> bool {
        self.current
            .get(&target.url)
            .and_then(|k| self.series.get(k))
            .is_some_and(|s| s.has_meta)
    }

    /// The meta-data file of build `hash`, when a series of the collection holds it
    /// (processes of one build share it: it need not be fetched from each).
    pub fn meta_for(&self, hash: &[u8; 16]) -> Option<Vec<u8>> {
        let hex = hex(hash);
        self.series
            .values()
            .filter(|s| s.has_meta && s.hash == *hash)
            .find_map(|s| std::fs::read(s.dir.join(format!("covmeta.{hex}"))).ok())
    }

    /// The series written so far.
    pub fn series(&self) -> impl Iterator<Item = &Series> {
        self.series.values()
    }

    /// Writes one snapshot: a new series (directory) when the process, binary or build
    /// is new, else the next counter toggle of its series. A snapshot without meta for a
    /// series that has none yet is refused (the caller asks again with the meta).
    pub fn write(
        &mut self,
        target: &Target,
        snap: &Snapshot,
        now_secs: i64,
    ) -> std::io::Result<&Series> {
        let key = (
            target.url.clone(),
            snap.server.pid,
            snap.server.binary.clone(),
            snap.build_key(),
            label_key(&self.labels),
        );
        if !self.series.contains_key(&key) {
            if snap.lacks_meta() {
                return Err(std::io::Error::other(format!(
                    "{}: a first snapshot without its meta-data file",
                    target.url
                )));
            }
            let binary = sanitize(
                Path::new(&snap.server.binary)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .as_deref()
                    .unwrap_or("unknown"),
            );
            let instance = Instance {
                hostname: sanitize(&match (&target.pod, &self.host_name) {
                    (Some(p), _) if !p.node.is_empty() => p.node.clone(),
                    (None, Some(h)) => h.clone(),
                    _ => target.host(),
                }),
                kind: match &target.pod {
                    Some(p) => ProcessKind::Pod {
                        namespace: sanitize(&p.namespace),
                        pod: sanitize(&p.pod),
                        container: sanitize(&p.container),
                        image: sanitize(&p.image),
                    },
                    None => ProcessKind::Host,
                },
                binary,
                discovery_time: discovery_time(now_secs),
            };
            let mut name = instance.dir_name();
            // A second process of one target in the same second gets a suffix.
            let mut n = 1;
            while self.coverage.join(&name).exists() {
                n += 1;
                name = format!("{}-{n}", instance.dir_name());
            }
            let dir = self.coverage.join(&name);
            std::fs::create_dir_all(&dir)?;
            let mut origin = instance.origin();
            origin.labels = self.labels.clone();
            if let Some(p) = &target.pod {
                origin.owner_kind = p.owner_kind.clone();
                origin.owner_name = p.owner_name.clone();
            }
            let metadata =
                producer::Metadata::new(&origin, &instance.discovery_time, &target.url, None);
            let mut meta_json = serde_json::to_value(&metadata).map_err(std::io::Error::other)?;
            if let SnapshotData::Python(py) = &snap.data {
                // The report directory contract's keys (compile detects by file; these
                // say where the data's sources are).
                meta_json["language"] = "python".into();
                let extra = &snap.server.extra;
                if let Some(c) = extra.get("source_commit") {
                    meta_json["source_commit"] = c.clone().into();
                }
                if let Some(u) = extra.get("source_url") {
                    meta_json["source_repo"] = u.clone().into();
                }
                if let Some(r) = &py.source_root {
                    meta_json["source_root"] = r.clone().into();
                }
            }
            if let Some(p) = &target.pod {
                // The owner, for compile's grouping (read_origin takes these keys).
                meta_json["owner_kind"] = p.owner_kind.clone().into();
                meta_json["owner_name"] = p.owner_name.clone().into();
                meta_json["node"] = p.node.clone().into();
                meta_json["image"] = p.image.clone().into();
            }
            write_atomic(
                &dir.join(METADATA_FILE),
                &serde_json::to_vec_pretty(&meta_json).map_err(std::io::Error::other)?,
            )?;
            let mut info = serde_json::Map::new();
            info.insert("binary".into(), snap.server.binary.clone().into());
            info.insert("host".into(), target.host().into());
            info.insert("pid".into(), snap.server.pid.into());
            info.insert("url".into(), target.url.clone().into());
            for (k, v) in &snap.server.extra {
                info.insert(k.clone(), v.clone().into());
            }
            if let Some(p) = &target.pod {
                // info.json is the one file of the bucket layout that can carry what the
                // object keys do not (--output).
                for (k, v) in [
                    ("owner_kind", &p.owner_kind),
                    ("owner_name", &p.owner_name),
                    ("node", &p.node),
                    ("image", &p.image),
                ] {
                    if !v.is_empty() {
                        info.entry(k).or_insert_with(|| v.clone().into());
                    }
                }
            }
            write_atomic(
                &dir.join(INFO_FILE),
                &serde_json::to_vec_pretty(&info).map_err(std::io::Error::other)?,
            )?;
            self.series.insert(
                key.clone(),
                Series {
                    dir,
                    hash: snap.build_key(),
                    pid: snap.server.pid,
                    binary: snap.server.binary.clone(),
                    has_meta: false,
                    toggle: 0,
                    instance,
                },
            );
        }
        self.current.insert(target.url.clone(), key.clone());
        let series = self.series.get_mut(&key).expect("inserted above");
        let toggle = if series.toggle == 1 { 2 } else { 1 };
        match &snap.data {
            SnapshotData::Go(go) => {
                let hex = hex(&go.hash);
                if let (false, Some(meta)) = (series.has_meta, &go.meta) {
                    write_atomic(&series.dir.join(format!("covmeta.{hex}")), meta)?;
                    series.has_meta = true;
                }
                write_atomic(
                    &series
                        .dir
                        .join(format!("covcounters.{hex}.{}.{toggle}", snap.server.pid)),
                    &go.counters,
                )?;
            }
            SnapshotData::Python(py) => {
                // The report first, the data file last: until the data file's rename the
                // other toggle is the newer data file, still beside its own report, so a
                // reader never pairs a data file with the report of another save.
                let report = series.dir.join(format!("{PY_REPORT_PREFIX}{toggle}.json"));
                match &py.report_json {
                    Some(json) => write_atomic(&report, json)?,
                    None => match std::fs::remove_file(&report) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                        _ => {}
                    },
                }
                write_atomic(
                    &series.dir.join(format!("{PY_DATA_PREFIX}{toggle}")),
                    &py.data,
                )?;
                series.has_meta = true;
            }
        }
        series.toggle = toggle;
        Ok(series)
    }
}

/// The instance a `metadata.json` describes (the inverse of [`Instance::metadata`]).
fn instance_of(m: &producer::Metadata) -> Instance {
    Instance {
        hostname: m.hostname.clone(),
        kind: if m.host_process {
            ProcessKind::Host
        } else {
            ProcessKind::Pod {
                namespace: m.namespace.clone(),
                pod: m.pod_name.clone(),
                container: m.container.name.clone(),
                image: m.container.image.clone(),
            }
        },
        binary: m.binary_name.clone(),
        discovery_time: m.discovery_time.clone(),
    }
}

/// Writes through a temporary file in the same directory and a rename, so a reader (or a
/// crash) never sees half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(hash: [u8; 16]) -> Vec<u8> {
        let mut c = COUNTER_MAGIC.to_vec();
        c.extend_from_slice(&[2, 0, 0, 0]);
        c.extend_from_slice(&hash);
        c.extend_from_slice(&[0; 8]);
        c
    }

    fn meta(hash: [u8; 16]) -> Vec<u8> {
        let mut m = META_MAGIC.to_vec();
        m.extend_from_slice(&[1, 0, 0, 0]);
        m.extend_from_slice(&[0; 16]);
        m.extend_from_slice(&hash);
        m.extend_from_slice(&[0; 16]);
        m
    }

    fn body(meta: &[u8], counters: &[u8]) -> Vec<u8> {
        let b = base64::engine::general_purpose::STANDARD;
        serde_json::to_vec(&serde_json::json!({
            "meta_filename": "covmeta.whatever",
            "meta_data": b.encode(meta),
            "counters_filename": "covcounters.x.1.2",
            "counters_data": b.encode(counters),
            "timestamp": 5,
        }))
        .unwrap()
    }

    #[test]
    fn targets_are_urls_or_host_port() {
        assert_eq!(
            Target::parse("127.0.0.1:53700").unwrap().url,
            "http://127.0.0.1:53700"
        );
        assert_eq!(Target::parse("http://h:1/").unwrap().url, "http://h:1");
        assert_eq!(Target::parse("[::1]:53701").unwrap().host(), "::1:53701");
        for bad in ["localhost", "ftp://h:1", "http://h:1/?x=1", "::::"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_build_comes_from_the_headers_never_the_names() {
        let h = [7u8; 16];
        let s = parse_snapshot("u", ServerInfo::default(), &body(&meta(h), &counters(h))).unwrap();
        assert_eq!(s.go().unwrap().hash, h);
        assert_eq!(s.timestamp, 5);
        let e = parse_snapshot(
            "u",
            ServerInfo::default(),
            &body(&meta([1; 16]), &counters(h)),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("meta_data is build 0101"), "{e}");
        let e = parse_snapshot("u", ServerInfo::default(), &body(&meta(h), b"short"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a Go counter-data file"), "{e}");
        assert!(parse_snapshot("u", ServerInfo::default(), b"{\"counters_data\":\"!!\"}").is_err());
        assert!(parse_snapshot("u", ServerInfo::default(), b"\xff\x00").is_err());
    }

    fn py_body(data: &[u8], report: &[u8]) -> Vec<u8> {
        let b = base64::engine::general_purpose::STANDARD;
        serde_json::to_vec(&serde_json::json!({
            "language": "python",
            "data_filename": ".coverage.h.pid7.XAbcdefx",
            "data": b.encode(data),
            "report_json": b.encode(report),
            "coverage_version": "7.17.5",
            "timestamp": 9,
            "source_root": "/app",
        }))
        .unwrap()
    }

    fn sqlite(tag: &str) -> Vec<u8> {
        let mut d = SQLITE_MAGIC.to_vec();
        d.extend_from_slice(tag.as_bytes());
        d
    }

    const REPORT: &[u8] = br#"{"meta":{"format":3},"files":{},"totals":{}}"#;

    #[test]
    fn python_snapshots_are_checked() {
        let py = ServerInfo {
            pid: 7,
            binary: "app.py".into(),
            extra: [("language".to_owned(), "python".to_owned())].into(),
        };
        let s = parse_snapshot("u", py.clone(), &py_body(&sqlite("x"), REPORT)).unwrap();
        let SnapshotData::Python(p) = &s.data else {
            panic!("{s:?}")
        };
        assert_eq!(p.data, sqlite("x"));
        assert_eq!(p.report_json.as_deref(), Some(REPORT));
        assert_eq!(p.source_root.as_deref(), Some("/app"));
        assert_eq!(
            (s.timestamp, s.build_key(), s.lacks_meta()),
            (9, [0; 16], false)
        );
        let e = parse_snapshot("u", py.clone(), &py_body(b"PK\x03\x04 a zip", REPORT))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a coverage.py data file"), "{e}");
        let e = parse_snapshot("u", py.clone(), &py_body(&sqlite("x"), b"[1]"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("report_json is not `coverage json` output"),
            "{e}"
        );
        // The header alone says Python when the body has no language field.
        let e = parse_snapshot("u", py, br#"{"timestamp":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no data field"), "{e}");
        let e = parse_snapshot("u", ServerInfo::default(), br#"{"language":"ruby"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("livecov reads go and python"), "{e}");
    }

    #[test]
    fn python_series_alternate_data_files_with_their_reports() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = CollectionWriter::new(tmp.path()).unwrap();
        let t = Target::parse("127.0.0.1:53710").unwrap();
        let server = ServerInfo {
            pid: 7,
            binary: "app.py".into(),
            extra: [
                ("language".to_owned(), "python".to_owned()),
                ("source_commit".to_owned(), "abc".to_owned()),
            ]
            .into(),
        };
        let snap = |tag: &str, report: Option<&[u8]>| {
            let mut s =
                parse_snapshot("u", server.clone(), &py_body(&sqlite(tag), REPORT)).unwrap();
            if let SnapshotData::Python(p) = &mut s.data {
                p.report_json = report.map(<[u8]>::to_vec);
            }
            s
        };
        let dir = w
            .write(&t, &snap("a", Some(REPORT)), 0)
            .unwrap()
            .dir
            .clone();
        w.write(&t, &snap("b", Some(REPORT)), 1).unwrap();
        let read = |name: &str| std::fs::read(dir.join(name)).ok();
        assert_eq!(read(".coverage.livecov-1"), Some(sqlite("a")));
        assert_eq!(read(".coverage.livecov-2"), Some(sqlite("b")));
        assert_eq!(read("coverage-livecov-2.json").as_deref(), Some(REPORT));
        let meta: serde_json::Value =
            serde_json::from_slice(&read("metadata.json").unwrap()).unwrap();
        assert_eq!(meta["language"], "python");
        assert_eq!(meta["source_commit"], "abc");
        assert_eq!(meta["source_root"], "/app");
        // A save without a report does not leave an older save's report beside it.
        w.write(&t, &snap("c", None), 2).unwrap();
        assert_eq!(read(".coverage.livecov-1"), Some(sqlite("c")));
        assert_eq!(read("coverage-livecov-1.json"), None);
        // A second run continues the series on the other toggle.
        let mut again = CollectionWriter::new(tmp.path()).unwrap();
        let next = again.write(&t, &snap("d", Some(REPORT)), 3).unwrap();
        assert_eq!((next.dir.clone(), next.toggle), (dir.clone(), 2));
        assert_eq!(read(".coverage.livecov-2"), Some(sqlite("d")));
        assert_eq!(
            std::fs::read_dir(tmp.path().join("coverage"))
                .unwrap()
                .count(),
            1
        );
    }

    #[test]
    fn headers_become_info_keys() {
        let info = ServerInfo::from_headers([
            ("X-Art-Coverage-Server", "1"),
            ("x-art-coverage-pid", "42"),
            ("X-Art-Coverage-Binary", "svc"),
            ("X-Art-Coverage-Source-Commit", "abc"),
            ("Content-Type", "application/json"),
        ])
        .unwrap();
        assert_eq!(info.pid, 42);
        assert_eq!(info.binary, "svc");
        assert_eq!(info.extra["source_commit"], "abc");
        assert!(ServerInfo::from_headers([("X-Art-Coverage-Pid", "1")]).is_none());
    }

    #[test]
    fn sanitize_keeps_names_inside_their_directory() {
        assert_eq!(
            sanitize("quay.io/a/b:v1@sha256:x"),
            "quay.io-a-b-v1-sha256-x"
        );
        assert_eq!(sanitize("../../etc"), "..-..-etc");
        assert_eq!(sanitize(".."), "unknown");
        assert_eq!(sanitize("a\nb"), "a-b");
        assert_eq!(sanitize(""), "unknown");
        assert_eq!(discovery_time(0), "19700101T000000Z");
    }

    #[test]
    fn series_alternate_toggles_and_start_anew_for_a_new_process() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = CollectionWriter::new(tmp.path()).unwrap();
        let t = Target::parse("127.0.0.1:53700").unwrap();
        let h = [9u8; 16];
        let mut snap = parse_snapshot(
            "u",
            ServerInfo {
                pid: 10,
                binary: "/bin/svc".into(),
                ..Default::default()
            },
            &body(&meta(h), &counters(h)),
        )
        .unwrap();
        let dir = w.write(&t, &snap, 0).unwrap().dir.clone();
        assert_eq!(
            dir.file_name().unwrap(),
            "127.0.0.1-53700-_host_-svc-19700101T000000Z"
        );
        assert!(w.has_meta(&t));
        let SnapshotData::Go(go) = &mut snap.data else {
            unreachable!("a Go body")
        };
        go.meta = None;
        w.write(&t, &snap, 1).unwrap();
        w.write(&t, &snap, 2).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let hx = "09".repeat(16);
        assert_eq!(
            names,
            [
                format!("covcounters.{hx}.10.1"),
                format!("covcounters.{hx}.10.2"),
                format!("covmeta.{hx}"),
                "info.json".into(),
                "metadata.json".into()
            ]
        );
        // A second run continues the series (no second directory for one process).
        let mut again = CollectionWriter::new(tmp.path()).unwrap();
        assert!(
            !again.has_meta(&t),
            "no current series before its first snapshot"
        );
        let next = again.write(&t, &snap, 9).unwrap();
        assert_eq!(next.dir, dir);
        assert_eq!(
            std::fs::read_dir(tmp.path().join("coverage"))
                .unwrap()
                .count(),
            1
        );
        // A restarted process (new pid) without meta is refused until the meta comes.
        snap.server.pid = 11;
        assert!(w.write(&t, &snap, 3).is_err());
        assert_eq!(w.series().count(), 1);
    }
}
