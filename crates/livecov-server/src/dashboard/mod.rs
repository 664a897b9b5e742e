//! The dashboard (`livecov serve`): the static site's pages rendered on demand from the
//! store, a JSON API over the same data, and the list of collections.
//!
//! A collection's index and page sources are read once per *generation* of its store (a
//! value that changes when a compile or a sources fetch commits; re-read at most every
//! [`DashboardSettings::recheck`]); each build page is assembled the first time it is
//! asked for and kept in a cache bounded by bytes, keyed by the page's own key (its
//! inputs, sources and the renderer's version), so a compile invalidates exactly the
//! pages it changed. Assembly runs on blocking threads; two requests for one page wait
//! for one assembly.

pub mod catalog;
mod html;
mod ingest;
mod pages;
mod trends;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use livecov_ops::export::{ExportFormat, ExportSettings, PathStyle, Selection};
use livecov_ops::site::cluster::{prepare_site, CollectionSite, RenderSettings};
use serde::Deserialize;

pub use catalog::Collections;
pub use ingest::IngestSettings;
pub use livecov_store::catalog::Catalog;
use pages::PageCache;

/// What the dashboard serves and how.
#[derive(Clone, Debug)]
pub struct DashboardSettings {
    /// The collections served.
    pub collections: Collections,
    /// The shared git cache of `clone-sources` [default: each collection's `sources/`].
    pub sources: Option<PathBuf>,
    /// Namespace prefixes the index hides by default.
    pub hide_namespace_prefixes: Vec<String>,
    /// Bytes of rendered build pages kept.
    pub cache_bytes: usize,
    /// How often a collection's generation is read again (a compile shows within this).
    pub recheck: Duration,
    /// Ingest (`/api/ingest/…`), when on.
    pub ingest: Option<IngestSettings>,
}

impl DashboardSettings {
    /// The defaults for these collections: 512 MiB of pages, rechecked every second.
    pub fn new(collections: Collections) -> DashboardSettings {
        DashboardSettings {
            collections,
            sources: None,
            hide_namespace_prefixes: livecov_ops::site::cluster::DEFAULT_HIDDEN_PREFIXES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            cache_bytes: 512 << 20,
            recheck: Duration::from_secs(1),
            ingest: None,
        }
    }
}

/// A collection's site as read at one generation of its store.
struct Prepared {
    site: CollectionSite<'static>,
    /// The index page, every build linked to its page.
    index_html: String,
}

/// One collection's slot: the generation it was read at and the site (read once).
struct Slot {
    generation: String,
    checked: Mutex<Instant>,
    site: tokio::sync::OnceCell<Result<Arc<Prepared>, String>>,
}

/// The dashboard's state, shared by its handlers.
pub struct Dashboard {
    settings: DashboardSettings,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    pages: PageCache,
    ingest: ingest::Ingest,
    /// Collections' sites read from their stores since start.
    prepared: std::sync::atomic::AtomicU64,
}

/// An answer that is not a page: a status and a message (JSON under /api).
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn not_found(what: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::NOT_FOUND,
            message: what.into(),
        }
    }

    fn internal(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

type Answer = Result<Response, Failure>;

impl Dashboard {
    /// The dashboard over `settings`.
    pub fn new(settings: DashboardSettings) -> Arc<Dashboard> {
        let pages = PageCache::new(settings.cache_bytes);
        Arc::new(Dashboard {
            settings,
            slots: Mutex::new(HashMap::new()),
            pages,
            ingest: ingest::Ingest::default(),
            prepared: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The dashboard's routes: `/`, `/c/<collection>/…` (the site), `/api/…` (JSON),
    /// `/assets/…` and `/healthz`.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/", get(collections_page))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/metrics", get(metrics))
            .route("/assets/{file}", get(asset))
            .route("/c/{name}", get(to_index))
            .route("/c/{name}/", get(index_page))
            .route("/c/{name}/index.html", get(index_page))
            .route("/c/{name}/assets/{file}", get(collection_asset))
            .route("/c/{name}/b/{build}/", get(build_page))
            .route("/c/{name}/b/{build}/index.html", get(build_page))
            .route("/c/{name}/b/{build}/f/{chunk}", get(build_chunk))
            .route("/history", get(trends::history_page))
            .route("/compare", get(trends::compare_page))
            .route("/api/history", get(trends::api_history))
            .route("/api/compare", get(trends::api_compare))
            .route("/api/collections", get(api_collections))
            .route("/api/collections/{name}", get(api_collection))
            .route("/api/collections/{name}/builds", get(api_builds))
            .route("/api/collections/{name}/owners", get(api_owners))
            .route(
                "/api/collections/{name}/builds/{build}/files",
                get(api_files),
            )
            .route(
                "/api/collections/{name}/builds/{build}/lines",
                get(api_lines),
            )
            .route("/api/collections/{name}/export", get(api_export))
            .merge(ingest::routes())
            .with_state(self.clone())
    }

    /// The collection's site at its current generation, read when it changed.
    async fn site(self: &Arc<Self>, name: &str) -> Result<Arc<Prepared>, Failure> {
        let known = self.slots.lock().expect("slots").get(name).cloned();
        let fresh = known
            .as_ref()
            .is_some_and(|s| s.checked.lock().expect("checked").elapsed() < self.settings.recheck);
        let slot = match known {
            Some(slot) if fresh => slot,
            known => {
                let generation = {
                    let me = self.clone();
                    let name = name.to_owned();
                    blocking(move || {
                        me.settings
                            .collections
                            .generation(&name)
                            .map_err(|e| Failure::internal(format!("collection {name}: {e}")))
                    })
                    .await?
                };
                let Some(generation) = generation else {
                    self.slots.lock().expect("slots").remove(name);
                    return Err(Failure::not_found(format!("no collection named {name:?}")));
                };
                match known {
                    Some(slot) if slot.generation == generation => {
                        *slot.checked.lock().expect("checked") = Instant::now();
                        slot
                    }
                    _ => {
                        let slot = Arc::new(Slot {
                            generation,
                            checked: Mutex::new(Instant::now()),
                            site: tokio::sync::OnceCell::new(),
                        });
                        self.slots
                            .lock()
                            .expect("slots")
                            .insert(name.to_owned(), slot.clone());
                        slot
                    }
                }
            }
        };
        let me = self.clone();
        let owned = name.to_owned();
        let site = slot
            .site
            .get_or_init(|| async move {
                blocking(move || Ok(me.prepare(&owned)))
                    .await
                    .unwrap_or_else(|f| Err(f.message))
            })
            .await
            .clone();
        site.map_err(|message| {
            // Not kept: the next request tries again (the database may be back).
            let mut slots = self.slots.lock().expect("slots");
            if slots.get(name).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                slots.remove(name);
            }
            Failure::internal(format!("collection {name}: {message}"))
        })
    }

    fn prepare(&self, name: &str) -> Result<Arc<Prepared>, String> {
        self.prepared
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let settings = self.render_settings(name).ok_or("no longer served")?;
        let mut site =
            prepare_site(&settings, &livecov_ops::Silent).map_err(|e| format!("{e:#}"))?;
        // Many collections are held: pages read their counters from the store.
        site.drop_counters();
        let mut index = site.index.clone();
        for (id, b) in index.builds.iter_mut() {
            b.page = Some(livecov_render::build_page_path(id));
        }
        let index_html = livecov_render::index_html(&index, "assets");
        Ok(Arc::new(Prepared { site, index_html }))
    }

    fn render_settings(&self, name: &str) -> Option<RenderSettings> {
        let (dir, store) = self.settings.collections.open(name)?;
        let mut settings = RenderSettings::new(dir);
        settings.store = store;
        settings.sources = self.settings.sources.clone();
        settings.hide_namespace_prefixes = self.settings.hide_namespace_prefixes.clone();
        Some(settings)
    }
}

/// Runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure::internal(format!("a worker failed: {e}")))?
}

fn content(kind: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if kind == HTML {
        // Scripts only from the dashboard itself: an event handler or inline script
        // smuggled into a value would not run even if escaping ever failed. The pages
        // set styles inline (bars, colours).
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; object-src 'none'; base-uri 'none'; \
                 frame-ancestors 'none'; form-action 'self'",
            ),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    r
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

fn json(value: &impl serde::Serialize) -> Answer {
    let body = serde_json::to_vec(value).map_err(|e| Failure::internal(e.to_string()))?;
    Ok(content(JSON, body))
}

/// Prometheus text: the page cache and the sites read.
async fn metrics(State(d): State<Arc<Dashboard>>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let (pages, bytes) = d.pages.held();
    let sites = d.slots.lock().expect("slots").len();
    let text = format!(
        "# HELP livecov_dashboard_pages_assembled_total Build pages assembled (cache misses).\n\
         # TYPE livecov_dashboard_pages_assembled_total counter\n\
         livecov_dashboard_pages_assembled_total {}\n\
         # HELP livecov_dashboard_pages_trimmed_total Build pages whose file scripts were dropped for the budget, their HTML kept.\n\
         # TYPE livecov_dashboard_pages_trimmed_total counter\n\
         livecov_dashboard_pages_trimmed_total {}\n\
         # HELP livecov_dashboard_pages_evicted_total Build pages dropped whole for the budget.\n\
         # TYPE livecov_dashboard_pages_evicted_total counter\n\
         livecov_dashboard_pages_evicted_total {}\n\
         # HELP livecov_dashboard_pages_cached Build pages held.\n\
         # TYPE livecov_dashboard_pages_cached gauge\n\
         livecov_dashboard_pages_cached {pages}\n\
         # HELP livecov_dashboard_page_cache_bytes Bytes of the build pages held.\n\
         # TYPE livecov_dashboard_page_cache_bytes gauge\n\
         livecov_dashboard_page_cache_bytes {bytes}\n\
         # HELP livecov_dashboard_sites_prepared_total Collections read from their stores.\n\
         # TYPE livecov_dashboard_sites_prepared_total counter\n\
         livecov_dashboard_sites_prepared_total {}\n\
         # HELP livecov_dashboard_sites Collections held.\n\
         # TYPE livecov_dashboard_sites gauge\n\
         livecov_dashboard_sites {sites}\n",
        d.pages.assembled.load(Relaxed),
        d.pages.trimmed.load(Relaxed),
        d.pages.evicted.load(Relaxed),
        d.prepared.load(Relaxed),
    );
    content("text/plain; version=0.0.4; charset=utf-8", text)
}

async fn collections_page(State(d): State<Arc<Dashboard>>) -> Answer {
    let list = collection_list(&d).await?;
    Ok(content(HTML, html::collections(&list)))
}

async fn asset(Path(file): Path<String>) -> Answer {
    let text = livecov_render::asset(&file).ok_or_else(|| Failure::not_found("no such asset"))?;
    let kind = if file.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        JS
    };
    Ok(content(kind, text))
}

async fn collection_asset(Path((_, file)): Path<(String, String)>) -> Answer {
    asset(Path(file)).await
}

async fn to_index(Path(name): Path<String>) -> Redirect {
    Redirect::permanent(&format!("/c/{}/", html::path_segment(&name)))
}

async fn index_page(State(d): State<Arc<Dashboard>>, Path(name): Path<String>) -> Answer {
    let site = d.site(&name).await?;
    Ok(content(HTML, site.index_html.clone()))
}

/// A kept (gzipped) part: sent as it is to a client that takes gzip, else unpacked.
fn packed(kind: &'static str, gz: &[u8], request: &HeaderMap) -> Response {
    let takes_gzip = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|q| q.trim().replace(' ', "") == "q=0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        });
    let mut r = if takes_gzip {
        let mut r = content(kind, gz.to_vec());
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        content(kind, pages::gunzip(gz))
    };
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    r
}

async fn build_page(
    State(d): State<Arc<Dashboard>>,
    Path((name, build)): Path<(String, String)>,
    request: HeaderMap,
) -> Answer {
    let page = page_of(&d, &name, &build, false).await?;
    Ok(packed(HTML, &page.html, &request))
}

async fn build_chunk(
    State(d): State<Arc<Dashboard>>,
    Path((name, build, chunk)): Path<(String, String, String)>,
    request: HeaderMap,
) -> Answer {
    let k: usize = chunk
        .strip_suffix(".js")
        .and_then(|k| k.parse().ok())
        .ok_or_else(|| Failure::not_found("no such script"))?;
    let page = page_of(&d, &name, &build, true).await?;
    let bytes = page
        .chunks
        .get(k)
        .ok_or_else(|| Failure::not_found("no such script"))?;
    Ok(packed(JS, bytes, &request))
}

/// The page of `build`, with its file scripts when `scripts` (else maybe its HTML only).
async fn page_of(
    d: &Arc<Dashboard>,
    name: &str,
    build: &str,
    scripts: bool,
) -> Result<Arc<pages::Packed>, Failure> {
    let site = d.site(name).await?;
    let source = site
        .site
        .page(build)
        .ok_or_else(|| Failure::not_found(format!("collection {name} has no build {build}")))?;
    let key = (name.to_owned(), build.to_owned(), source.key());
    let site = site.clone();
    let owned = build.to_owned();
    d.pages
        .get(key, scripts, move || {
            let source = site.site.page(&owned).ok_or("the build went away")?;
            let page = source.page()?;
            Ok(livecov_render::page_in_memory(
                &page,
                "../../assets",
                Some("../../index.html"),
            ))
        })
        .await
        .map_err(|e| Failure::internal(format!("build {build}: {e}")))
}

/// The collections as the catalog lists them (one query or one stat per collection;
/// no site is read).
async fn collection_list(d: &Arc<Dashboard>) -> Result<Vec<html::Listed>, Failure> {
    let d = d.clone();
    blocking(move || {
        let list = d.settings.collections.list().map_err(|e| {
            Failure::internal(format!("listing {}: {e}", d.settings.collections.display()))
        })?;
        Ok(list.iter().map(html::Listed::of).collect())
    })
    .await
}

async fn api_collections(State(d): State<Arc<Dashboard>>) -> Answer {
    json(&collection_list(&d).await?)
}

async fn api_collection(State(d): State<Arc<Dashboard>>, Path(name): Path<String>) -> Answer {
    let site = d.site(&name).await?;
    let index = &site.site.index;
    let pods: std::collections::BTreeSet<&String> =
        index.owners.iter().flat_map(|o| &o.pods).collect();
    json(&serde_json::json!({
        "name": name,
        "builds": index.builds.len(),
        "owners": index.owners.len(),
        "pods": pods.len(),
        "statements": index.builds.values().map(|b| b.statements).sum::<u64>(),
        "covered": index.builds.values().map(|b| b.covered).sum::<u64>(),
        "incomplete": index.incomplete,
        "diagnostics": index.diagnostics,
    }))
}

async fn api_builds(State(d): State<Arc<Dashboard>>, Path(name): Path<String>) -> Answer {
    let site = d.site(&name).await?;
    let builds: Vec<serde_json::Value> = site
        .site
        .index
        .builds
        .iter()
        .map(|(id, b)| {
            let mut v = serde_json::to_value(b).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("build".into(), id.clone().into());
                o.insert(
                    "owners".into(),
                    site.site
                        .index
                        .owners
                        .iter()
                        .filter(|o| &o.build == id)
                        .count()
                        .into(),
                );
                o.remove("page");
            }
            v
        })
        .collect();
    json(&builds)
}

async fn api_owners(State(d): State<Arc<Dashboard>>, Path(name): Path<String>) -> Answer {
    let site = d.site(&name).await?;
    json(&site.site.index.owners)
}

async fn api_files(
    State(d): State<Arc<Dashboard>>,
    Path((name, build)): Path<(String, String)>,
) -> Answer {
    let site = d.site(&name).await?;
    if !site.site.index.builds.contains_key(&build) {
        return Err(Failure::not_found(format!(
            "collection {name} has no build {build}"
        )));
    }
    let (dir, store) = d
        .settings
        .collections
        .open(&name)
        .ok_or_else(|| Failure::not_found(format!("no collection named {name:?}")))?;
    let files = blocking(move || {
        let store = livecov_ops::open_compiled(&dir, &store)
            .map_err(|e| Failure::internal(format!("{e:#}")))?;
        let row = store
            .builds()
            .map_err(|e| Failure::internal(e.to_string()))?
            .into_iter()
            .find(|b| livecov_formats::gocovdata::hex16(&b.hash) == build)
            .ok_or_else(|| Failure::not_found("the build went away"))?;
        store
            .build_files(row.id)
            .map_err(|e| Failure::internal(e.to_string()))
    })
    .await?;
    let files: Vec<serde_json::Value> = files
        .into_iter()
        .map(|f| {
            serde_json::json!({
                "path": f.path,
                "statements": f.statements,
                "covered": f.covered,
                "excluded": f.excluded,
            })
        })
        .collect();
    json(&files)
}

#[derive(Deserialize)]
struct LinesQuery {
    file: String,
}

async fn api_lines(
    State(d): State<Arc<Dashboard>>,
    Path((name, build)): Path<(String, String)>,
    Query(q): Query<LinesQuery>,
) -> Answer {
    let mut settings = d.export_settings(&name, ExportFormat::Json)?;
    settings.selection = Selection::Build(build.clone());
    settings.paths = PathStyle::Recorded;
    let (profile, _) = blocking(move || {
        livecov_ops::export::export_profile(&settings, &livecov_ops::Silent)
            .map_err(|e| Failure::not_found(format!("{e:#}")))
    })
    .await?;
    if !profile.files().any(|f| f == q.file) {
        return Err(Failure::not_found(format!(
            "build {build} has no file {:?}",
            q.file
        )));
    }
    let lines: Vec<[u32; 2]> = profile
        .line_hits(&q.file)
        .into_iter()
        .map(|(l, h)| [l, h])
        .collect();
    json(&serde_json::json!({ "build": build, "file": q.file, "lines": lines }))
}

#[derive(Deserialize)]
struct ExportQuery {
    format: Option<String>,
    build: Option<String>,
}

async fn api_export(
    State(d): State<Arc<Dashboard>>,
    Path(name): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Answer {
    let wanted = q.format.as_deref().unwrap_or("lcov");
    let format = ExportFormat::ALL
        .iter()
        .copied()
        .find(|f| f.name() == wanted)
        .ok_or_else(|| Failure::bad_request(format!("unknown format {wanted:?}")))?;
    let mut settings = d.export_settings(&name, format)?;
    if let Some(b) = q.build {
        settings.selection = Selection::Build(b);
    }
    let bytes = blocking(move || {
        let mut out = Vec::new();
        livecov_ops::export::export(&settings, &mut out, &livecov_ops::Silent)
            .map_err(|e| Failure::bad_request(format!("{e:#}")))?;
        Ok(out)
    })
    .await?;
    let kind = match format {
        ExportFormat::Json | ExportFormat::Codecov => JSON,
        ExportFormat::Cobertura | ExportFormat::Sonar => "application/xml; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };
    Ok(content(kind, bytes))
}

impl Dashboard {
    fn export_settings(&self, name: &str, format: ExportFormat) -> Result<ExportSettings, Failure> {
        let (dir, store) = self
            .settings
            .collections
            .open(name)
            .ok_or_else(|| Failure::not_found(format!("no collection named {name:?}")))?;
        let mut settings = ExportSettings::new(dir, format);
        settings.store = store;
        settings.sources = self.settings.sources.clone();
        Ok(settings)
    }
}

/// Serves the dashboard on `listener` until `shutdown` completes.
pub async fn serve(
    dashboard: Arc<Dashboard>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::listen::serve(listener, dashboard.router(), shutdown).await
}

/// Serves the dashboard on `address` until SIGTERM or SIGINT: what `livecov serve`
/// runs.
pub fn run_until_signalled(settings: DashboardSettings, address: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let shown = settings.collections.display();
        let dashboard = Dashboard::new(settings);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        let addr = listener.local_addr()?;
        crate::webhook::log::log(
            "info",
            &format!("livecov dashboard of {shown} on http://{addr}/"),
        );
        serve(dashboard, listener, crate::webhook::signalled()).await?;
        crate::webhook::log::log("info", "stopped");
        Ok(())
    })
}
