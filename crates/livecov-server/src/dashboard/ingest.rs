//! Ingest: agents in push mode and CI jobs send coverage to the dashboard, which writes
//! it into the collection's `coverage/` (the producer's layout, as `collect` and
//! `cluster download` write it) and compiles the collection into its store.
//!
//! - `POST /api/ingest/<collection>`: one agent snapshot, exactly what an agent pushes
//!   to `livecov collect --listen` (the `GET /coverage` JSON with its `X-Art-Coverage-*`
//!   headers; `LIVECOV_PUSH_URL=http://dashboard/api/ingest/<collection>`).
//! - `PUT /api/ingest/<collection>/files/<path>`: one file of a report directory
//!   (`<dir>/covmeta.*`, `covcounters.*`, `metadata.json`, a coverage.py data file, an
//!   LCOV file), for CI uploads; `<path>` is relative to `coverage/`.
//! - `POST /api/ingest/<collection>/compile`: compiles now and answers with the summary
//!   (otherwise a compile runs on its own shortly after the last write).
//!
//! Every request needs `Authorization: Bearer <token>` (compared in constant time;
//! without a configured token ingest is off). Bodies over the limit get 413 before they
//! are read whole. Idempotent by content: a snapshot or a file already held is not
//! written again and starts no compile. A body that does not arrive whole (the client
//! went away) writes nothing; a file is written through a temporary name and a rename,
//! never through a symbolic link.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::Router;
use http_body_util::BodyExt;
use livecov_collect::live::{parse_snapshot, CollectionWriter, ServerInfo, Target};

use super::{Collections, Dashboard, Failure};

/// How ingest is checked.
#[derive(Clone, Debug)]
pub struct IngestSettings {
    /// The bearer token every ingest request must carry.
    pub token: String,
    /// The largest body taken, in bytes.
    pub max_body: usize,
    /// How long after the last write a compile starts on its own.
    pub debounce: Duration,
}

impl IngestSettings {
    /// 64 MiB bodies, compiled 500 ms after the last write.
    pub fn new(token: String) -> IngestSettings {
        IngestSettings {
            token,
            max_body: 64 << 20,
            debounce: Duration::from_millis(500),
        }
    }
}

/// A pushed snapshot by content: (collection, its content key).
type Held = (String, u64, u64, [u8; 16]);

/// Ingest's state: one writer and one compile schedule per collection.
#[derive(Default)]
pub(crate) struct Ingest {
    writers: Mutex<HashMap<String, Arc<Mutex<CollectionWriter>>>>,
    /// Snapshots already written, by content.
    seen: Mutex<HashSet<Held>>,
    compiles: Mutex<HashMap<String, Arc<CompileSlot>>>,
}

/// One collection's compiles: one at a time; writes during a compile start another.
#[derive(Default)]
struct CompileSlot {
    /// Held while compiling.
    running: tokio::sync::Mutex<()>,
    /// Writes not compiled yet.
    dirty: std::sync::atomic::AtomicBool,
    /// A compile is scheduled (debounced).
    scheduled: std::sync::atomic::AtomicBool,
}

/// The ingest routes (refused with 403 when ingest is off).
pub(crate) fn routes() -> Router<Arc<Dashboard>> {
    Router::new()
        .route("/api/ingest/{name}", post(snapshot))
        .route("/api/ingest/{name}/files/{*path}", put(file))
        .route("/api/ingest/{name}/compile", post(compile_now))
}

fn reply(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )],
        value.to_string(),
    )
        .into_response()
}

fn refused(status: StatusCode, message: impl Into<String>) -> Failure {
    Failure {
        status,
        message: message.into(),
    }
}

/// Equal lengths and bytes, in time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the token and reads the body whole, within the limit.
async fn admit(
    d: &Dashboard,
    name: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Failure> {
    let Some(settings) = &d.settings.ingest else {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "ingest is off (start `livecov serve` with --ingest-token-file)",
        ));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .unwrap_or("");
    if !same_secret(given.as_bytes(), settings.token.as_bytes()) {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is needed (Authorization: Bearer …)",
        ));
    }
    if !Collections::valid_name(name) {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            format!(
                "{name:?} is not a collection name (letters, digits, '.', '_', '-'; at most \
                 128; not starting with '.')"
            ),
        ));
    }
    let limit = settings.max_body;
    let too_big = || {
        refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over the {limit}-byte limit"),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    // A body that trickles in holds a connection: it must come at 64 KiB/s or better
    // after 30 s of grace (a 256 MiB body: 71 minutes).
    let bytes = declared.unwrap_or(limit as u64);
    let deadline = Duration::from_secs(30) + Duration::from_secs(bytes / (64 << 10));
    let read = tokio::time::timeout(
        deadline,
        http_body_util::Limited::new(body, limit).collect(),
    );
    let Ok(read) = read.await else {
        return Err(refused(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {} s (30 s, then 64 KiB/s); nothing was written",
                deadline.as_secs()
            ),
        ));
    };
    match read {
        Ok(b) => Ok(b.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_big())
        }
        Err(e) => Err(refused(
            StatusCode::BAD_REQUEST,
            format!("the body did not arrive whole ({e}); nothing was written"),
        )),
    }
}

async fn snapshot(
    State(d): State<Arc<Dashboard>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let bytes = admit(&d, &name, &headers, body).await?;
    let server = ServerInfo::from_headers(
        headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
    )
    .ok_or_else(|| {
        refused(
            StatusCode::BAD_REQUEST,
            "no X-Art-Coverage-Server: 1 header; not a coverage agent's snapshot",
        )
    })?;
    let snap = parse_snapshot(&format!("push to {name}"), server, &bytes)
        .map_err(|e| refused(StatusCode::BAD_REQUEST, e.to_string()))?;
    if snap.lacks_meta() {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "a push carries the meta-data file (meta_data) every time",
        ));
    }
    let (a, b, c) = snap.content_key();
    let fresh = {
        let mut seen = d.ingest.seen.lock().expect("seen");
        // Bounded: a retry comes soon after the push it repeats.
        if seen.len() >= 100_000 {
            seen.clear();
        }
        seen.insert((name.clone(), a, b, c))
    };
    if !fresh {
        return Ok(reply(
            StatusCode::OK,
            serde_json::json!({ "stored": false, "why": "already held" }),
        ));
    }
    let (dir, _) = d.ingest_dir(&name)?;
    let writer = {
        let mut writers = d.ingest.writers.lock().expect("writers");
        match writers.get(&name) {
            Some(w) => w.clone(),
            None => {
                let w = CollectionWriter::new(&dir).map_err(|e| {
                    Failure::internal(format!("creating {}: {e}", dir.join("coverage").display()))
                })?;
                let w = Arc::new(Mutex::new(w));
                writers.insert(name.clone(), w.clone());
                w
            }
        }
    };
    let remote = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("agent")
        .to_owned();
    let written = tokio::task::spawn_blocking(move || {
        let target = Target {
            url: format!(
                "push://{}",
                remote.split(',').next().unwrap_or("agent").trim()
            ),
            pod: None,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.as_secs() as i64);
        let mut w = writer.lock().expect("writer");
        w.write(&target, &snap, now)
            .map(|s| s.dir.display().to_string())
    })
    .await
    .map_err(|e| Failure::internal(e.to_string()))?
    .map_err(|e| {
        // Not held: a retry must write it.
        d.ingest
            .seen
            .lock()
            .expect("seen")
            .remove(&(name.clone(), a, b, c));
        Failure::internal(format!("writing the snapshot: {e}"))
    })?;
    d.schedule_compile(&name);
    Ok(reply(
        StatusCode::CREATED,
        serde_json::json!({ "stored": true, "series": written }),
    ))
}

/// A relative path of plain components (no `.`/`..`, no empty parts), at most 16 deep.
fn relative(path: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 16
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains(['\\', '\0']))
    {
        return None;
    }
    Some(parts.iter().collect())
}

async fn file(
    State(d): State<Arc<Dashboard>>,
    Path((name, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let bytes = admit(&d, &name, &headers, body).await?;
    let rel = relative(&path).ok_or_else(|| {
        refused(
            StatusCode::BAD_REQUEST,
            format!("{path:?} is not a relative path of plain names under coverage/"),
        )
    })?;
    if rel.components().count() < 2 {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            format!("{path:?}: files go inside a report directory (<dir>/<file>)"),
        ));
    }
    let (dir, _) = d.ingest_dir(&name)?;
    let changed =
        tokio::task::spawn_blocking(move || write_file(&dir.join("coverage"), &rel, &bytes))
            .await
            .map_err(|e| Failure::internal(e.to_string()))?
            .map_err(|(status, e)| refused(status, e))?;
    if changed {
        d.schedule_compile(&name);
    }
    Ok(reply(
        if changed {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        serde_json::json!({ "stored": changed, "path": path }),
    ))
}

/// Why a file could not be written: the answer's status and the reason.
type WriteError = (StatusCode, String);

/// The status of an I/O error: 507 when the disk is full, else 500.
/// The token of an `Authorization` value: the scheme `Bearer` in any case (RFC 7235
/// scheme names are case-insensitive), one space, the token.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case("bearer ").then_some(token)
}

fn io_status(e: &std::io::Error) -> StatusCode {
    if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
        StatusCode::INSUFFICIENT_STORAGE
    } else if e.kind() == std::io::ErrorKind::InvalidFilename || e.raw_os_error() == Some(36) {
        // ENAMETOOLONG: the client's name, not the server's fault.
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// Writes `bytes` at `root/rel` unless it holds them already (then `false`). Every
/// directory on the way must be a real directory (created when missing), never a link;
/// the file goes through a temporary name and a rename, and a failed write leaves
/// nothing (a full disk is 507).
fn write_file(root: &FsPath, rel: &FsPath, bytes: &[u8]) -> Result<bool, WriteError> {
    let shown = |p: &FsPath| p.display().to_string();
    let fail = |p: &FsPath, e: std::io::Error| {
        let why = if io_status(&e) == StatusCode::INSUFFICIENT_STORAGE {
            "no space left on the dashboard's disk; nothing was written".to_owned()
        } else {
            e.to_string()
        };
        (io_status(&e), format!("{}: {why}", shown(p)))
    };
    let conflict = |m: String| (StatusCode::CONFLICT, m);
    // The walk starts above `root` (`<collection>/coverage`), so `root` is checked like
    // every directory below it: create_dir_all would follow a link there and write
    // outside the collection.
    let (Some(base), Some(own)) = (root.parent(), root.file_name()) else {
        return Err(conflict(format!("{} is not a directory", shown(root))));
    };
    std::fs::create_dir_all(base).map_err(|e| fail(base, e))?;
    let mut dir = base.to_path_buf();
    let parent = rel.parent().unwrap_or(FsPath::new(""));
    for part in FsPath::new(own).join(parent).components() {
        dir.push(part);
        let made = match std::fs::symlink_metadata(&dir) {
            Ok(m) => m.is_dir(),
            Err(_) => match std::fs::create_dir(&dir) {
                Ok(()) => true,
                // Made by a request at the same time: what it is decides.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir())
                }
                Err(e) => return Err(fail(&dir, e)),
            },
        };
        if !made {
            return Err(conflict(format!("{} is not a directory", shown(&dir))));
        }
    }
    let target = root.join(rel);
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_file() => {
            if m.len() == bytes.len() as u64 && std::fs::read(&target).is_ok_and(|old| old == bytes)
            {
                return Ok(false);
            }
        }
        Ok(_) => {
            return Err(conflict(format!(
                "{} is not a regular file",
                shown(&target)
            )))
        }
        Err(_) => {}
    }
    let tmp = dir.join(format!(
        ".livecov-ingest-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, &target)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(&target, e));
    }
    Ok(true)
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.as_nanos()),
    );
    h.finish()
}

async fn compile_now(
    State(d): State<Arc<Dashboard>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    admit(&d, &name, &headers, body).await?;
    let (dir, _) = d.ingest_dir(&name)?;
    if !dir.join("coverage").is_dir() {
        return Err(Failure::not_found(format!(
            "collection {name} has received nothing yet"
        )));
    }
    let summary = d.compile(&name).await?;
    Ok(reply(StatusCode::OK, summary))
}

impl Dashboard {
    /// The directory ingest writes `name` into, and the store its compile writes.
    fn ingest_dir(&self, name: &str) -> Result<(PathBuf, livecov_ops::StoreChoice), Failure> {
        self.settings.collections.ingest_dir(name).ok_or_else(|| {
            refused(
                StatusCode::FORBIDDEN,
                format!(
                    "{} takes no collection named {name:?} (--collection serves one \
                     collection; --root, or --store with --data-dir, take new ones)",
                    self.settings.collections.display()
                ),
            )
        })
    }

    fn slot(&self, name: &str) -> Arc<CompileSlot> {
        self.ingest
            .compiles
            .lock()
            .expect("compiles")
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// Compiles `name` after the debounce, unless one is scheduled already.
    fn schedule_compile(self: &Arc<Self>, name: &str) {
        use std::sync::atomic::Ordering;
        let slot = self.slot(name);
        slot.dirty.store(true, Ordering::SeqCst);
        if slot.scheduled.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        let name = name.to_owned();
        let wait = self
            .settings
            .ingest
            .as_ref()
            .map_or(Duration::from_millis(500), |s| s.debounce);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            slot.scheduled.store(false, Ordering::SeqCst);
            if let Err(f) = me.compile(&name).await {
                crate::webhook::log::log("warn", &format!("compiling {name}: {}", f.message));
            }
        });
    }

    /// Compiles `name` now (after a compile already running), while writes are pending.
    async fn compile(self: &Arc<Self>, name: &str) -> Result<serde_json::Value, Failure> {
        use std::sync::atomic::Ordering;
        let slot = self.slot(name);
        let _turn = slot.running.lock().await;
        slot.dirty.store(false, Ordering::SeqCst);
        let (dir, store) = self.ingest_dir(name)?;
        let mut settings = livecov_ops::compile::CompileSettings::new(dir);
        settings.store = store;
        let summary = tokio::task::spawn_blocking(move || {
            livecov_ops::compile::compile(&settings, &livecov_ops::Silent)
        })
        .await
        .map_err(|e| Failure::internal(e.to_string()))?
        .map_err(|e| {
            slot.dirty.store(true, Ordering::SeqCst);
            Failure::internal(format!("{e:#}"))
        })?;
        // The dashboard reads the new generation at once.
        self.slots.lock().expect("slots").remove(name);
        Ok(serde_json::json!({
            "compiled": summary.compiled,
            "unchanged": summary.unchanged,
            "failed": summary.failed,
            "removed": summary.removed,
            "owners": summary.owners,
            "builds": summary.builds,
            "warnings": summary.warnings,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serve attack review, 2026-12-04: `bearer` was refused (the scheme is
    /// case-insensitive), and a name too long for the file system gave 500.
    #[test]
    fn the_bearer_scheme_in_any_case_and_long_names_are_the_clients_error() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearé abc"), None);
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("coverage");
        let long = format!("p/{}", "a".repeat(300));
        let (status, _) = write_file(&root, FsPath::new(&long), b"x").unwrap_err();
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn only_plain_relative_paths() {
        assert!(relative("pod/covmeta.abc").is_some());
        assert!(relative("a/.coverage").is_some());
        for bad in ["../x", "a/../b", "/abs", "a//b", "a/./b", "", "a\\b/c"] {
            assert!(relative(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn files_are_written_once_and_never_through_links() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("coverage");
        let rel = FsPath::new("pod/covmeta.1");
        assert_eq!(write_file(&root, rel, b"abc"), Ok(true));
        assert_eq!(write_file(&root, rel, b"abc"), Ok(false));
        assert_eq!(write_file(&root, rel, b"abd"), Ok(true));
        assert_eq!(std::fs::read(root.join(rel)).unwrap(), b"abd");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let (status, e) = write_file(&root, FsPath::new("link/f"), b"x").unwrap_err();
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(e.contains("is not a directory"), "{e}");
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
    }

    /// Attack finding (serve review, 2026-12-04): a link at `<collection>/coverage`
    /// itself was followed, and the upload written outside the root.
    #[test]
    fn the_coverage_directory_itself_is_never_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let collection = tmp.path().join("c");
        std::fs::create_dir(&collection).unwrap();
        let root = collection.join("coverage");
        std::os::unix::fs::symlink(&outside, &root).unwrap();
        let (status, e) = write_file(&root, FsPath::new("p/x"), b"x").unwrap_err();
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(e.contains("is not a directory"), "{e}");
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
        // A dangling link is refused too, and nothing is made at its target.
        std::fs::remove_file(&root).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &root).unwrap();
        assert!(write_file(&root, FsPath::new("p/x"), b"x").is_err());
        assert!(!tmp.path().join("nowhere").exists());
    }
}
