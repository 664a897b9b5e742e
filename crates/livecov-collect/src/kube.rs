//! Kubernetes discovery: the pods whose coverage servers `livecov collect --kubernetes`
//! reads, listed through the API server's REST API and reached through its pod proxy
//! (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy`), so nothing needs a port-forward, a
//! route to the pod network or an inbound port on the nodes.
//!
//! Two stages, like the CLI's flags and settings: [`KubeSettings`] is what the user asked
//! for (a kubeconfig, a context, a namespace, a selector); [`Connection::resolve`] turns
//! it into an API server URL, its CA and a bearer token, from a kubeconfig file
//! (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`, in client-go's order) or, inside a
//! pod, from the service account (`/var/run/secrets/kubernetes.io/serviceaccount`,
//! `KUBERNETES_SERVICE_HOST`/`_PORT`). [`discover`] lists the pods and returns a
//! [`Client`] that authenticates to the proxy, with one [`Target`] per coverage port of
//! each container.
//!
//! The RBAC a token needs: `list` on `pods` (in the namespace, or cluster-wide for all
//! namespaces) and `get` on `pods/proxy`. [`discover`] checks the second with a
//! SelfSubjectAccessReview before returning, so a missing grant is one clear error, not a
//! 403 per target.
//!
//! Only bearer tokens authenticate: users with client certificates, exec plugins or auth
//! providers are refused with a message saying so.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::live::{Client, LiveError, PodInfo, Target};

/// The annotation naming a pod's coverage ports, comma-separated (`"53700,53701"`).
pub const PORTS_ANNOTATION: &str = "livecov.dev/ports";
/// The port a coverage server takes when nothing says otherwise.
pub const DEFAULT_PORT: u16 = 53700;
/// Declared container ports in this range are coverage ports.
pub const PORT_RANGE: std::ops::RangeInclusive<u16> = 53700..=53799;
/// Where a pod's service account credentials are mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The RBAC rules a discovering token needs, for messages.
const RBAC_RULES: &str = "rules: [{apiGroups: [\"\"], resources: [\"pods\"], verbs: [\"list\"]}, \
     {apiGroups: [\"\"], resources: [\"pods/proxy\"], verbs: [\"get\"]}]";

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No kubeconfig file and not inside a pod.
    #[error(
        "no Kubernetes credentials: no kubeconfig ({tried}) and not inside a pod \
         (KUBERNETES_SERVICE_HOST is unset)\nhint: pass --kubeconfig FILE or set KUBECONFIG"
    )]
    NoConfig {
        /// The places looked at, for the message.
        tried: String,
    },
    /// A kubeconfig (or a file it names) is unreadable, malformed or incomplete.
    #[error("{}: {why}", path.display())]
    Config {
        /// The kubeconfig file, or the file it refers to.
        path: PathBuf,
        /// What is wrong and what to do.
        why: String,
    },
    /// The API server could not be reached.
    #[error("{url}: {error}")]
    Http {
        /// The URL requested.
        url: String,
        /// The client's error with its causes.
        error: String,
    },
    /// The API server answered with an error status.
    #[error("{url}: {status}{}{}", fmt_message(message), fmt_hint(hint))]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status, e.g. `403 Forbidden`.
        status: String,
        /// The API server's `Status.message`, when it sent one.
        message: String,
        /// What to change (RBAC to grant, credentials to renew), when known.
        hint: String,
    },
    /// The token may list pods but not use their proxy, so every target would answer
    /// 403; found by a SelfSubjectAccessReview before any target is tried.
    #[error(
        "GET {url} would answer 403 Forbidden: the token may list pods but may not get \
         pods/proxy in namespace {namespace}{}\nhint: grant get on pods/proxy (a Role in \
         {namespace}, or a ClusterRole bound cluster-wide): {RBAC_RULES}",
        fmt_message(reason)
    )]
    ProxyForbidden {
        /// A proxy URL that would be refused (the first target's `/health`).
        url: String,
        /// The namespace.
        namespace: String,
        /// The authorizer's reason, when it gave one.
        reason: String,
    },
    /// The API server's answer is not what the API defines.
    #[error("{url}: {why}")]
    Response {
        /// The URL requested.
        url: String,
        /// What was wrong.
        why: String,
    },
    /// The coverage-server client could not be built (a CA that does not parse).
    #[error(transparent)]
    Client(#[from] LiveError),
}

fn fmt_message(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    }
}

fn fmt_hint(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!("\nhint: {hint}")
    }
}

/// What the user asked for; resolved by [`Connection::resolve`].
#[derive(Clone, Debug)]
pub struct KubeSettings {
    /// `--kubeconfig`: a kubeconfig file, ahead of `KUBECONFIG` and `~/.kube/config`.
    /// Default: none.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`: the kubeconfig context to use. Default: its `current-context`.
    pub context: Option<String>,
    /// `--namespace`: list pods in this namespace only. Default (`None`): all
    /// namespaces, which needs a cluster-wide grant to list pods.
    pub namespace: Option<String>,
    /// `--selector`: a label selector (`app=web,tier!=db`), passed to the API server.
    /// Default: every pod.
    pub selector: Option<String>,
    /// The time limit of each request, to the API server and through its proxy.
    /// Default: 10 s.
    pub timeout: Duration,
}

impl Default for KubeSettings {
    fn default() -> KubeSettings {
        KubeSettings {
            kubeconfig: None,
            context: None,
            namespace: None,
            selector: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Where the credentials come from, read from the process environment by
/// [`Environment::from_process`]; a value so that tests can point it elsewhere.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    /// `KUBECONFIG`: one or more kubeconfig files, `:`-separated.
    pub kubeconfig: Option<OsString>,
    /// `HOME`, for `~/.kube/config`.
    pub home: Option<PathBuf>,
    /// `KUBERNETES_SERVICE_HOST`.
    pub service_host: Option<String>,
    /// `KUBERNETES_SERVICE_PORT`.
    pub service_port: Option<String>,
    /// The service account directory ([`SERVICE_ACCOUNT_DIR`]).
    pub service_account_dir: PathBuf,
}

impl Environment {
    /// The process's environment.
    pub fn from_process() -> Environment {
        let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        Environment {
            kubeconfig: nonempty("KUBECONFIG"),
            home: nonempty("HOME").map(PathBuf::from),
            service_host: nonempty("KUBERNETES_SERVICE_HOST").and_then(|v| v.into_string().ok()),
            service_port: nonempty("KUBERNETES_SERVICE_PORT").and_then(|v| v.into_string().ok()),
            service_account_dir: PathBuf::from(SERVICE_ACCOUNT_DIR),
        }
    }
}

/// A resolved API server connection. Its `Debug` leaves the token out.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    /// The API server's base URL, without a trailing slash.
    pub server: String,
    /// CA certificates (PEM) to trust for it, besides the system roots.
    pub ca_pem: Vec<Vec<u8>>,
    /// The bearer token.
    pub token: String,
    /// `insecure-skip-tls-verify` of the cluster entry.
    pub insecure: bool,
    /// The context's namespace, or the pod's own in-cluster; `None` when neither says.
    /// [`discover`] does not use it (its default is all namespaces); front ends may.
    pub namespace: Option<String>,
    /// Where this came from, for messages: a kubeconfig path and context, or `in-cluster`.
    pub origin: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.server)
            .field("ca_pem", &self.ca_pem.len())
            .field("token", &"<redacted>")
            .field("insecure", &self.insecure)
            .field("namespace", &self.namespace)
            .field("origin", &self.origin)
            .finish()
    }
}

impl Connection {
    /// Resolves `settings` in the process environment: the kubeconfig files (explicit,
    /// `KUBECONFIG`, `~/.kube/config`, the first that exists), otherwise in-cluster.
    pub fn from_settings(settings: &KubeSettings) -> Result<Connection, KubeError> {
        Connection::resolve(settings, &Environment::from_process())
    }

    /// [`Connection::from_settings`] in the environment `env`.
    pub fn resolve(settings: &KubeSettings, env: &Environment) -> Result<Connection, KubeError> {
        let mut tried = Vec::new();
        let files: Vec<PathBuf> = if let Some(path) = &settings.kubeconfig {
            // Named explicitly: it must exist.
            vec![path.clone()]
        } else if let Some(list) = &env.kubeconfig {
            std::env::split_paths(list)
                .filter(|p| !p.as_os_str().is_empty())
                .filter(|p| {
                    tried.push(p.display().to_string());
                    p.exists()
                })
                .collect()
        } else if let Some(home) = &env.home {
            let p = home.join(".kube/config");
            tried.push(p.display().to_string());
            if p.exists() {
                vec![p]
            } else {
                Vec::new()
            }
        } else {
            Vec::new()
        };
        if !files.is_empty() {
            return from_kubeconfigs(&files, settings.context.as_deref());
        }
        if env.service_host.is_some() {
            return in_cluster(env);
        }
        if tried.is_empty() {
            tried.push("HOME and KUBECONFIG are unset".into());
        }
        Err(KubeError::NoConfig {
            tried: tried.join(", "),
        })
    }
}

// --- kubeconfig ---------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
struct Kubeconfig {
    #[serde(rename = "current-context")]
    current_context: Option<String>,
    clusters: Vec<Named<ClusterEntry>>,
    users: Vec<Named<UserEntry>>,
    contexts: Vec<Named<ContextEntry>>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: Option<T>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default, rename_all = "kebab-case")]
struct ClusterEntry {
    server: Option<String>,
    certificate_authority: Option<String>,
    certificate_authority_data: Option<String>,
    insecure_skip_tls_verify: bool,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default, rename_all = "kebab-case")]
struct UserEntry {
    token: Option<String>,
    // The one camelCase key of a kubeconfig user.
    #[serde(rename = "tokenFile")]
    token_file: Option<String>,
    client_certificate: Option<String>,
    client_certificate_data: Option<String>,
    exec: Option<serde_yaml::Value>,
    auth_provider: Option<serde_yaml::Value>,
    username: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct ContextEntry {
    cluster: String,
    user: String,
    namespace: Option<String>,
}

/// One entry with the file it came from (relative paths are relative to that file).
struct Sourced<T> {
    file: PathBuf,
    value: T,
}

fn from_kubeconfigs(files: &[PathBuf], context: Option<&str>) -> Result<Connection, KubeError> {
    // client-go's merge: the first file to set current-context wins, and the first
    // entry of each name wins.
    let mut current: Option<String> = None;
    let mut clusters: BTreeMap<String, Sourced<ClusterEntry>> = BTreeMap::new();
    let mut users: BTreeMap<String, Sourced<UserEntry>> = BTreeMap::new();
    let mut contexts: BTreeMap<String, Sourced<ContextEntry>> = BTreeMap::new();
    for file in files {
        let config_err = |why: String| KubeError::Config {
            path: file.clone(),
            why,
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| config_err(format!("cannot read the kubeconfig: {e}")))?;
        let parsed: Kubeconfig = if text.trim().is_empty() {
            Kubeconfig::default()
        } else {
            serde_yaml::from_str(&text).map_err(|e| config_err(format!("not a kubeconfig: {e}")))?
        };
        if current.is_none() {
            current = parsed.current_context.filter(|c| !c.is_empty());
        }
        let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        for (name, value) in named(parsed.clusters) {
            clusters.entry(name).or_insert(Sourced {
                file: dir.clone(),
                value,
            });
        }
        for (name, value) in named(parsed.users) {
            users.entry(name).or_insert(Sourced {
                file: dir.clone(),
                value,
            });
        }
        for (name, value) in named(parsed.contexts) {
            contexts.entry(name).or_insert(Sourced {
                file: dir.clone(),
                value,
            });
        }
    }
    let first = files[0].clone();
    let err = |why: String| KubeError::Config {
        path: first.clone(),
        why,
    };
    let name =
        context.map(str::to_owned).or(current).ok_or_else(|| {
            err("no current-context and no --context given\nhint: kubectl config use-context NAME, \
             or pass --context"
            .into())
        })?;
    let ctx = contexts.get(&name).ok_or_else(|| {
        err(format!(
            "no context named {name:?} (contexts: {})",
            list_names(&contexts)
        ))
    })?;
    let cluster = clusters.get(&ctx.value.cluster).ok_or_else(|| {
        err(format!(
            "context {name:?} names cluster {:?}, which is not defined",
            ctx.value.cluster
        ))
    })?;
    let user = users.get(&ctx.value.user).ok_or_else(|| {
        err(format!(
            "context {name:?} names user {:?}, which is not defined",
            ctx.value.user
        ))
    })?;
    let server = cluster
        .value
        .server
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err(format!("cluster {:?} has no server", ctx.value.cluster)))?
        .trim_end_matches('/')
        .to_owned();
    let mut ca_pem = Vec::new();
    if let Some(data) = &cluster.value.certificate_authority_data {
        ca_pem.push(decode_data(data).map_err(|e| {
            err(format!(
                "certificate-authority-data of cluster {:?}: {e}",
                ctx.value.cluster
            ))
        })?);
    } else if let Some(path) = &cluster.value.certificate_authority {
        let path = cluster.file.join(path);
        ca_pem.push(std::fs::read(&path).map_err(|e| KubeError::Config {
            path: path.clone(),
            why: format!(
                "cannot read certificate-authority of cluster {:?}: {e}",
                ctx.value.cluster
            ),
        })?);
    }
    let token = user_token(&ctx.value.user, &user.value, &user.file).map_err(|why| match why {
        TokenError::File(path, e) => KubeError::Config {
            path,
            why: format!("cannot read tokenFile of user {:?}: {e}", ctx.value.user),
        },
        TokenError::Unsupported(why) => err(why),
    })?;
    Ok(Connection {
        server,
        ca_pem,
        token,
        insecure: cluster.value.insecure_skip_tls_verify,
        namespace: ctx.value.namespace.clone().filter(|n| !n.is_empty()),
        origin: format!("{} (context {name})", first.display()),
    })
}

fn named<T>(entries: Vec<Named<T>>) -> impl Iterator<Item = (String, T)> {
    entries.into_iter().filter_map(|n| Some((n.name, n.value?)))
}

fn list_names<T>(map: &BTreeMap<String, T>) -> String {
    if map.is_empty() {
        "none".into()
    } else {
        map.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn decode_data(data: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| format!("not base64: {e}"))
}

enum TokenError {
    File(PathBuf, std::io::Error),
    Unsupported(String),
}

fn user_token(name: &str, user: &UserEntry, dir: &Path) -> Result<String, TokenError> {
    if let Some(token) = user.token.as_deref().filter(|t| !t.is_empty()) {
        return Ok(token.trim().to_owned());
    }
    if let Some(file) = user.token_file.as_deref().filter(|t| !t.is_empty()) {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| TokenError::File(path, e))?;
        return Ok(text.trim().to_owned());
    }
    let how = if user.client_certificate.is_some() || user.client_certificate_data.is_some() {
        "a client certificate"
    } else if user.exec.is_some() {
        "an exec credential plugin"
    } else if user.auth_provider.is_some() {
        "an auth-provider"
    } else if user.username.is_some() {
        "a username and password"
    } else {
        "nothing (no token, no tokenFile)"
    };
    Err(TokenError::Unsupported(format!(
        "user {name:?} authenticates with {how}; livecov authenticates with bearer tokens \
         only\nhint: give it a token with list on pods and get on pods/proxy, e.g. \
         `kubectl create token SERVICEACCOUNT -n NAMESPACE` into a kubeconfig user's \
         `token:` or `tokenFile:`"
    )))
}

fn in_cluster(env: &Environment) -> Result<Connection, KubeError> {
    let dir = &env.service_account_dir;
    let host = env.service_host.clone().unwrap_or_default();
    let port = env.service_port.clone().unwrap_or_else(|| "443".into());
    // An IPv6 service address needs brackets in a URL.
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| KubeError::Config {
            path: path.clone(),
            why: format!(
                "in-cluster (KUBERNETES_SERVICE_HOST is set) but the service account's {name} \
                 is unreadable: {e}\nhint: mount the service account token \
                 (automountServiceAccountToken: true) or pass --kubeconfig"
            ),
        })
    };
    let token = String::from_utf8_lossy(&read("token")?).trim().to_owned();
    let ca = read("ca.crt")?;
    let namespace = std::fs::read_to_string(dir.join("namespace"))
        .ok()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    Ok(Connection {
        server: format!("https://{host}:{port}"),
        ca_pem: vec![ca],
        token,
        insecure: false,
        namespace,
        origin: "in-cluster".into(),
    })
}

// --- discovery ----------------------------------------------------------------------

/// The pods to collect from, found through the API server: a [`Client`] carrying the
/// connection's token and CA (for the pod proxy), and one [`Target`] per coverage port of
/// each container of each Running pod with an IP, sorted.
///
/// A container's coverage ports: its declared `containerPort`s in 53700–53799, else the
/// `COVERAGE_PORT` of its env, else the pod's [`PORTS_ANNOTATION`] (`"53700,53701"`),
/// else [`DEFAULT_PORT`]; the last two are the pod's and go to its first container
/// without ports of its own, and a port is one target however many containers name it.
///
/// Before returning, checks with a SelfSubjectAccessReview per namespace that the token
/// may get `pods/proxy` ([`KubeError::ProxyForbidden`] when not; an API server that
/// refuses the review itself is not taken as a denial).
pub async fn discover(settings: &KubeSettings) -> Result<(Client, Vec<Target>), KubeError> {
    let conn = Connection::from_settings(settings)?;
    discover_with(&conn, settings).await
}

/// [`discover`] over an already resolved connection.
pub async fn discover_with(
    conn: &Connection,
    settings: &KubeSettings,
) -> Result<(Client, Vec<Target>), KubeError> {
    let api = Api::new(conn, settings.timeout)?;
    let pods = api
        .list_pods(
            settings.namespace.as_deref(),
            settings.selector.as_deref(),
            None,
        )
        .await?;
    let mut targets: Vec<Target> = pods
        .iter()
        .flat_map(|p| targets_of(&conn.server, p))
        .collect();
    targets.sort();
    targets.dedup();
    let namespaces: BTreeSet<&str> = targets
        .iter()
        .filter_map(|t| Some(t.pod.as_ref()?.namespace.as_str()))
        .collect();
    for ns in namespaces {
        if let Some(reason) = api.proxy_denied(ns).await {
            let first = targets
                .iter()
                .find(|t| t.pod.as_ref().is_some_and(|p| p.namespace == ns))
                .map(|t| format!("{}/health", t.url))
                .unwrap_or_default();
            return Err(KubeError::ProxyForbidden {
                url: first,
                namespace: ns.to_owned(),
                reason,
            });
        }
    }
    let client = Client::new(
        settings.timeout,
        Some(conn.token.clone()),
        &conn.ca_pem,
        conn.insecure,
    )?;
    Ok((client, targets))
}

/// Creates one object: POSTs `object` (JSON) to the collection URL `path` (e.g.
/// `/apis/prow.k8s.io/v1/namespaces/NS/prowjobs`) and returns the object the API server
/// stored. `forbidden` is the hint of a 403 (the RBAC rule to grant). Used by the
/// webhook's ProwJob runner, so that a second Kubernetes client is not needed for one
/// POST.
pub async fn create(
    conn: &Connection,
    timeout: Duration,
    path: &str,
    object: &serde_json::Value,
    forbidden: &str,
) -> Result<serde_json::Value, KubeError> {
    let api = Api::new(conn, timeout)?;
    let url = format!("{}{path}", conn.server);
    let req = api.http.post(&url).bearer_auth(&conn.token).json(object);
    let body = api.send(&url, req, || forbidden.to_owned()).await?;
    serde_json::from_slice(&body).map_err(|e| KubeError::Response {
        url,
        why: format!("not JSON: {e}"),
    })
}

/// The subset of a Pod that discovery reads.
#[derive(Deserialize, Debug, Default)]
#[serde(default)]
struct Pod {
    metadata: ObjectMeta,
    spec: PodSpec,
    status: PodStatus,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct ObjectMeta {
    name: String,
    namespace: String,
    annotations: BTreeMap<String, String>,
    owner_references: Vec<OwnerReference>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
struct OwnerReference {
    kind: String,
    name: String,
    controller: Option<bool>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct PodSpec {
    node_name: String,
    containers: Vec<Container>,
    host_network: bool,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
struct Container {
    name: String,
    image: String,
    ports: Vec<ContainerPort>,
    env: Vec<EnvVar>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct ContainerPort {
    container_port: i64,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
struct EnvVar {
    name: String,
    value: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct PodStatus {
    phase: String,
    #[serde(rename = "podIP")]
    pod_ip: String,
    container_statuses: Vec<ContainerStatus>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct ContainerStatus {
    name: String,
    #[serde(rename = "containerID")]
    container_id: String,
    ready: bool,
    restart_count: u64,
    state: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PodList {
    metadata: ListMeta,
    items: Vec<Pod>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListMeta {
    #[serde(rename = "continue")]
    continue_: String,
}

/// The coverage ports of one container, in order of preference:
/// 1. its declared `containerPort`s in 53700–53799;
/// 2. else the `COVERAGE_PORT` in its env (a literal value, as the agent reads it);
/// 3. else the pod's `livecov.dev/ports` annotation (`"53700,53701"`);
/// 4. else 53700, the port an agent takes first.
///
/// The last two are the pod's, not the container's: [`targets_of`] gives them to the
/// first container that has no ports of its own, since containers share the pod's
/// network and one port is one server. Declare the port on each container of a
/// multi-container pod to have each attributed right.
fn coverage_ports(container: &Container) -> Vec<u16> {
    let mut declared: Vec<u16> = container
        .ports
        .iter()
        .filter_map(|p| u16::try_from(p.container_port).ok())
        .filter(|p| PORT_RANGE.contains(p))
        .collect();
    if declared.is_empty() {
        if let Some(port) = container
            .env
            .iter()
            .filter(|e| e.name == "COVERAGE_PORT")
            .filter_map(|e| e.value.as_deref()?.trim().parse::<u16>().ok())
            .find(|p| *p != 0)
        {
            declared.push(port);
        }
    }
    declared.sort_unstable();
    declared.dedup();
    declared
}

fn annotation_ports(pod: &Pod) -> Vec<u16> {
    let mut ports: Vec<u16> = pod
        .metadata
        .annotations
        .get(PORTS_ANNOTATION)
        .map(|v| {
            v.split(',')
                .filter_map(|p| p.trim().parse::<u16>().ok())
                .filter(|p| *p != 0)
                .collect()
        })
        .unwrap_or_default();
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        vec![DEFAULT_PORT]
    } else {
        ports
    }
}

/// The targets of one pod: none unless it is Running with an IP; otherwise one per
/// coverage port, the first container claiming a port winning.
fn targets_of(server: &str, pod: &Pod) -> Vec<Target> {
    if pod.status.phase != "Running" || pod.status.pod_ip.is_empty() {
        return Vec::new();
    }
    let mut pod_ports = Some(annotation_ports(pod));
    let mut claimed = BTreeSet::new();
    let mut out = Vec::new();
    for c in &pod.spec.containers {
        let mut ports = coverage_ports(c);
        if ports.is_empty() {
            // The pod-level ports go to the first container without ports of its own.
            ports = pod_ports.take().unwrap_or_default();
        }
        for port in ports {
            if !claimed.insert(port) {
                continue;
            }
            out.push(Target {
                url: format!(
                    "{server}/api/v1/namespaces/{}/pods/{}:{port}/proxy",
                    pod.metadata.namespace, pod.metadata.name
                ),
                pod: Some(pod_info(pod, c)),
            });
        }
    }
    out
}

/// What is recorded of a pod's container: names, image, node and controlling owner.
fn pod_info(pod: &Pod, c: &Container) -> PodInfo {
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .find(|o| o.controller == Some(true));
    PodInfo {
        namespace: pod.metadata.namespace.clone(),
        pod: pod.metadata.name.clone(),
        container: c.name.clone(),
        image: c.image.clone(),
        node: pod.spec.node_name.clone(),
        owner_kind: owner.map(|o| o.kind.clone()).unwrap_or_default(),
        owner_name: owner.map(|o| o.name.clone()).unwrap_or_default(),
    }
}

// --- node mode ----------------------------------------------------------------------

/// A running container of a node's pod, as node mode matches it to processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeContainer {
    /// The runtime's container id (`containerStatuses[].containerID` without its
    /// `containerd://` scheme, lower case), as `/proc/<pid>/cgroup` names it.
    pub id: String,
    /// What is recorded with its snapshots.
    pub info: PodInfo,
    /// The pod's IP (empty when it has none yet).
    pub pod_ip: String,
    /// Whether the pod shares the node's network (`spec.hostNetwork`).
    pub host_network: bool,
    /// Its coverage ports as `--kubernetes` reads them from the spec (declared ports in
    /// 53700–53799, `COVERAGE_PORT`), besides the ports found listening.
    pub ports: Vec<u16>,
}

/// The containers of the pods on `node` (field selector `spec.nodeName`, all
/// namespaces, so the token needs a cluster-wide `list pods`), one per container status
/// with an id.
pub async fn node_containers(
    conn: &Connection,
    timeout: Duration,
    node: &str,
) -> Result<Vec<NodeContainer>, KubeError> {
    let api = Api::new(conn, timeout)?;
    let pods = api
        .list_pods(None, None, Some(&format!("spec.nodeName={node}")))
        .await?;
    let mut out = Vec::new();
    for pod in &pods {
        for status in &pod.status.container_statuses {
            let Some(id) = crate::procnet::status_container_id(&status.container_id) else {
                continue;
            };
            let Some(c) = pod.spec.containers.iter().find(|c| c.name == status.name) else {
                continue;
            };
            out.push(NodeContainer {
                id,
                info: pod_info(pod, c),
                pod_ip: pod.status.pod_ip.clone(),
                host_network: pod.spec.host_network,
                ports: coverage_ports(c),
            });
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

// --- one pod, for the doctor ----------------------------------------------------------

/// One pod as `livecov doctor --pod` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodView {
    /// `status.phase` (`Pending`, `Running`, …).
    pub phase: String,
    /// `status.podIP`.
    pub pod_ip: String,
    /// `spec.nodeName`.
    pub node: String,
    /// The containers of the spec, in order, with their status.
    pub containers: Vec<ContainerView>,
    /// Its coverage ports, reached through the pod proxy (as `--kubernetes` finds them;
    /// empty unless Running with an IP).
    pub targets: Vec<Target>,
}

/// A container of a [`PodView`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerView {
    /// Its name.
    pub name: String,
    /// Its image.
    pub image: String,
    /// `ready` of its status.
    pub ready: bool,
    /// `running`, `waiting (REASON)`, `terminated (REASON)`, or `no status`.
    pub state: String,
    /// `restartCount`.
    pub restarts: u64,
}

/// Reads the pod `namespace/name` (the token needs `get pods`) and returns it with a
/// [`Client`] for its pod proxy.
pub async fn pod_view(
    conn: &Connection,
    timeout: Duration,
    namespace: &str,
    name: &str,
) -> Result<(Client, PodView), KubeError> {
    let api = Api::new(conn, timeout)?;
    let url = format!("{}/api/v1/namespaces/{namespace}/pods/{name}", conn.server);
    let req = api.http.get(&url).bearer_auth(&conn.token);
    let body = api
        .send(&url, req, || {
            format!(
                "the token may not get pods in namespace {namespace}; the doctor needs get \
                 on pods and on pods/proxy"
            )
        })
        .await?;
    let pod: Pod = serde_json::from_slice(&body).map_err(|e| KubeError::Response {
        url: url.clone(),
        why: format!("not a Pod: {e}"),
    })?;
    let containers = pod
        .spec
        .containers
        .iter()
        .map(|c| {
            let status = pod
                .status
                .container_statuses
                .iter()
                .find(|s| s.name == c.name);
            let state = match status {
                None => "no status".to_owned(),
                Some(s) => match s.state.iter().next() {
                    None => "no state".to_owned(),
                    Some((k, v)) => match v.get("reason").and_then(|r| r.as_str()) {
                        Some(reason) => format!("{k} ({reason})"),
                        None => k.clone(),
                    },
                },
            };
            ContainerView {
                name: c.name.clone(),
                image: c.image.clone(),
                ready: status.is_some_and(|s| s.ready),
                state,
                restarts: status.map_or(0, |s| s.restart_count),
            }
        })
        .collect();
    let view = PodView {
        phase: pod.status.phase.clone(),
        pod_ip: pod.status.pod_ip.clone(),
        node: pod.spec.node_name.clone(),
        containers,
        targets: targets_of(&conn.server, &pod),
    };
    let client = Client::new(
        timeout,
        Some(conn.token.clone()),
        &conn.ca_pem,
        conn.insecure,
    )?;
    Ok((client, view))
}

/// The API server, as discovery talks to it.
struct Api<'a> {
    conn: &'a Connection,
    http: reqwest::Client,
}

impl<'a> Api<'a> {
    fn new(conn: &'a Connection, timeout: Duration) -> Result<Api<'a>, KubeError> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(conn.insecure);
        for pem in &conn.ca_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| KubeError::Config {
                path: PathBuf::from(&conn.origin),
                why: format!("the certificate authority does not parse as PEM: {e}"),
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| KubeError::Http {
            url: conn.server.clone(),
            error: error_chain(&e),
        })?;
        Ok(Api { conn, http })
    }

    /// Every pod in `namespace` (all when `None`) matching `selector`, page by page.
    async fn list_pods(
        &self,
        namespace: Option<&str>,
        selector: Option<&str>,
        fields: Option<&str>,
    ) -> Result<Vec<Pod>, KubeError> {
        let base = match namespace {
            Some(ns) => format!("{}/api/v1/namespaces/{ns}/pods", self.conn.server),
            None => format!("{}/api/v1/pods", self.conn.server),
        };
        let mut pods = Vec::new();
        let mut cont = String::new();
        loop {
            let mut url = url::Url::parse(&base).map_err(|e| KubeError::Response {
                url: base.clone(),
                why: format!("not a URL: {e}"),
            })?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("limit", "500");
                if let Some(sel) = selector.filter(|s| !s.is_empty()) {
                    q.append_pair("labelSelector", sel);
                }
                if let Some(f) = fields {
                    q.append_pair("fieldSelector", f);
                }
                if !cont.is_empty() {
                    q.append_pair("continue", &cont);
                }
            }
            let url = url.to_string();
            let req = self.http.get(&url).bearer_auth(&self.conn.token);
            let body = self.send(&url, req, || list_hint(namespace)).await?;
            let page: PodList = serde_json::from_slice(&body).map_err(|e| KubeError::Response {
                url: url.clone(),
                why: format!("not a PodList: {e}"),
            })?;
            pods.extend(page.items);
            if page.metadata.continue_.is_empty() {
                return Ok(pods);
            }
            cont = page.metadata.continue_;
        }
    }

    /// `Some(reason)` when a SelfSubjectAccessReview says the token may not get
    /// pods/proxy in `namespace`; `None` when allowed or when the review cannot be made.
    async fn proxy_denied(&self, namespace: &str) -> Option<String> {
        let url = format!(
            "{}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            self.conn.server
        );
        let review = serde_json::json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {
                "namespace": namespace, "verb": "get", "resource": "pods", "subresource": "proxy"
            }}
        });
        let req = self
            .http
            .post(&url)
            .bearer_auth(&self.conn.token)
            .json(&review);
        let body = self.send(&url, req, String::new).await.ok()?;
        let answer: serde_json::Value = serde_json::from_slice(&body).ok()?;
        let status = answer.get("status")?;
        if status.get("allowed")?.as_bool()? {
            return None;
        }
        Some(
            status
                .get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or_default()
                .to_owned(),
        )
    }

    /// Sends `req` and returns the body of a 2xx answer; other statuses become
    /// [`KubeError::Status`] with the API server's message and, on 403, `forbidden()`.
    async fn send(
        &self,
        url: &str,
        req: reqwest::RequestBuilder,
        forbidden: impl FnOnce() -> String,
    ) -> Result<Vec<u8>, KubeError> {
        let http_err = |e: reqwest::Error| KubeError::Http {
            url: url.to_owned(),
            error: error_chain(&e),
        };
        let resp = req.send().await.map_err(http_err)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(http_err)?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| Some(v.get("message")?.as_str()?.to_owned()))
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&body[..body.len().min(300)])
                    .trim()
                    .to_owned()
            });
        let hint = match status.as_u16() {
            401 => format!(
                "the API server did not accept the token from {} (expired, revoked or for \
                 another cluster); renew it",
                self.conn.origin
            ),
            403 => forbidden(),
            _ => String::new(),
        };
        Err(KubeError::Status {
            url: url.to_owned(),
            status: status.to_string(),
            message,
            hint,
        })
    }
}

fn list_hint(namespace: Option<&str>) -> String {
    let scope = match namespace {
        Some(ns) => format!("in namespace {ns} (a Role and RoleBinding there)"),
        None => "cluster-wide, for all namespaces (a ClusterRole and ClusterRoleBinding), \
                 or pass --namespace"
            .to_owned(),
    };
    format!(
        "the token may not list pods {scope}; collecting also needs get on pods/proxy: \
         {RBAC_RULES}"
    )
}

fn error_chain(e: &reqwest::Error) -> String {
    // reqwest's Display leaves the cause out; the chain says "connection refused".
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    fn running(containers: serde_json::Value, annotations: serde_json::Value) -> Pod {
        pod(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "annotations": annotations,
                "ownerReferences": [
                    {"kind": "Node", "name": "n0"},
                    {"kind": "ReplicaSet", "name": "web-abc", "controller": true}]},
            "spec": {"nodeName": "node-1", "containers": containers},
            "status": {"phase": "Running", "podIP": "10.1.2.3"}
        }))
    }

    fn ports(targets: &[Target]) -> Vec<(String, String)> {
        targets
            .iter()
            .map(|t| {
                let port = t.url.rsplit(':').next().unwrap().trim_end_matches("/proxy");
                (t.pod.as_ref().unwrap().container.clone(), port.to_owned())
            })
            .collect()
    }

    #[test]
    fn declared_ports_in_range_then_env_then_annotation_then_default() {
        let p = running(
            serde_json::json!([
                {"name": "a", "image": "i:a", "ports": [{"containerPort": 8080}, {"containerPort": 53702}]},
                {"name": "b", "image": "i:b", "env": [{"name": "COVERAGE_PORT", "value": "53710"}]},
                {"name": "c", "image": "i:c"},
                {"name": "d", "image": "i:d"}
            ]),
            serde_json::json!({PORTS_ANNOTATION: "53700, 53701,junk"}),
        );
        let t = targets_of("https://api:6443", &p);
        assert_eq!(
            ports(&t),
            [
                ("a".into(), "53702".into()),
                ("b".into(), "53710".into()),
                ("c".into(), "53700".into()),
                ("c".into(), "53701".into())
            ]
        );
        assert_eq!(
            t[0].url,
            "https://api:6443/api/v1/namespaces/ns/pods/p:53702/proxy"
        );
        let info = t[1].pod.as_ref().unwrap();
        assert_eq!((info.image.as_str(), info.node.as_str()), ("i:b", "node-1"));
        assert_eq!(
            (info.owner_kind.as_str(), info.owner_name.as_str()),
            ("ReplicaSet", "web-abc")
        );
    }

    #[test]
    fn default_port_once_per_pod_and_declared_port_claimed_once() {
        let p = running(
            serde_json::json!([
                {"name": "a", "ports": [{"containerPort": 53700}]},
                {"name": "b", "env": [{"name": "COVERAGE_PORT", "value": "53700"}]},
                {"name": "c"}
            ]),
            serde_json::json!({}),
        );
        // c falls back to 53700, which a already declared: one target, a's.
        assert_eq!(
            ports(&targets_of("https://x", &p)),
            [("a".into(), "53700".into())]
        );
    }

    #[test]
    fn only_running_pods_with_an_ip() {
        for status in [
            serde_json::json!({"phase": "Pending"}),
            serde_json::json!({"phase": "Running"}),
            serde_json::json!({"phase": "Succeeded", "podIP": "10.0.0.1"}),
        ] {
            let p = pod(serde_json::json!({
                "metadata": {"name": "p", "namespace": "ns"},
                "spec": {"containers": [{"name": "a"}]},
                "status": status
            }));
            assert!(targets_of("https://x", &p).is_empty());
        }
    }

    #[test]
    fn no_controller_no_owner() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns",
                "ownerReferences": [{"kind": "ReplicaSet", "name": "rs"}]},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1"}
        }));
        let t = targets_of("https://x", &p);
        assert_eq!(t[0].pod.as_ref().unwrap().owner_kind, "");
    }

    fn env_with(dir: &Path) -> Environment {
        Environment {
            home: Some(dir.to_path_buf()),
            service_account_dir: dir.join("sa"),
            ..Environment::default()
        }
    }

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn kubeconfig_in_home_with_relative_ca_and_token_file() {
        let dir = tempfile::tempdir().unwrap();
        let kube = dir.path().join(".kube");
        std::fs::create_dir(&kube).unwrap();
        std::fs::write(kube.join("ca.crt"), CA).unwrap();
        std::fs::write(kube.join("tok"), "secret-token\n").unwrap();
        std::fs::write(
            kube.join("config"),
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster:\n    server: https://k:6443/\n    certificate-authority: ca.crt\n\
             users:\n- name: u1\n  user:\n    tokenFile: tok\n\
             contexts:\n- name: x\n  context: {cluster: c1, user: u1, namespace: team}\ncurrent-context: x\n",
        )
        .unwrap();
        let conn = Connection::resolve(&KubeSettings::default(), &env_with(dir.path())).unwrap();
        assert_eq!(conn.server, "https://k:6443");
        assert_eq!(conn.token, "secret-token");
        assert_eq!(conn.ca_pem, [CA.as_bytes().to_vec()]);
        assert_eq!(conn.namespace.as_deref(), Some("team"));
    }

    #[test]
    fn kubeconfig_list_merges_first_wins_and_context_flag() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(
            &a,
            "current-context: one\nusers:\n- name: u\n  user: {token: from-a}\n",
        )
        .unwrap();
        std::fs::write(
            &b,
            "current-context: two\nusers:\n- name: u\n  user: {token: from-b}\n\
             clusters:\n- name: c\n  cluster:\n    server: https://b\n    certificate-authority-data: Zm9v\n\
             contexts:\n- name: one\n  context: {cluster: c, user: u}\n- name: two\n  context: {cluster: c, user: u, namespace: n2}\n",
        )
        .unwrap();
        let env = Environment {
            kubeconfig: Some(std::env::join_paths([&a, &dir.path().join("missing"), &b]).unwrap()),
            ..env_with(dir.path())
        };
        let conn = Connection::resolve(&KubeSettings::default(), &env).unwrap();
        assert_eq!((conn.token.as_str(), conn.namespace), ("from-a", None));
        assert_eq!(conn.ca_pem, [b"foo".to_vec()]);
        let settings = KubeSettings {
            context: Some("two".into()),
            ..KubeSettings::default()
        };
        let conn = Connection::resolve(&settings, &env).unwrap();
        assert_eq!(conn.namespace.as_deref(), Some("n2"));
        let settings = KubeSettings {
            context: Some("three".into()),
            ..KubeSettings::default()
        };
        let err = Connection::resolve(&settings, &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no context named \"three\" (contexts: one, two)"),
            "{err}"
        );
    }

    #[test]
    fn client_certificate_user_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cfg");
        std::fs::write(
            &cfg,
            "clusters:\n- name: c\n  cluster: {server: https://k}\nusers:\n- name: admin\n  user:\n    client-certificate-data: AAAA\n    client-key-data: AAAA\n\
             contexts:\n- name: x\n  context: {cluster: c, user: admin}\ncurrent-context: x\n",
        )
        .unwrap();
        let settings = KubeSettings {
            kubeconfig: Some(cfg.clone()),
            ..KubeSettings::default()
        };
        let err = Connection::resolve(&settings, &env_with(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&cfg.display().to_string()), "{err}");
        assert!(
            err.contains("user \"admin\" authenticates with a client certificate"),
            "{err}"
        );
        assert!(err.contains("hint: "), "{err}");
    }

    #[test]
    fn in_cluster_when_no_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        let sa = dir.path().join("sa");
        std::fs::create_dir(&sa).unwrap();
        std::fs::write(sa.join("token"), "sa-token\n").unwrap();
        std::fs::write(sa.join("ca.crt"), CA).unwrap();
        std::fs::write(sa.join("namespace"), "livecov\n").unwrap();
        let env = Environment {
            service_host: Some("fd00::1".into()),
            service_port: Some("443".into()),
            ..env_with(dir.path())
        };
        let conn = Connection::resolve(&KubeSettings::default(), &env).unwrap();
        assert_eq!(conn.server, "https://[fd00::1]:443");
        assert_eq!(conn.token, "sa-token");
        assert_eq!(conn.namespace.as_deref(), Some("livecov"));
        std::fs::remove_file(sa.join("token")).unwrap();
        let err = Connection::resolve(&KubeSettings::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("service account's token is unreadable"),
            "{err}"
        );
    }

    #[test]
    fn nothing_found_names_what_was_tried() {
        let dir = tempfile::tempdir().unwrap();
        let err = Connection::resolve(&KubeSettings::default(), &env_with(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(".kube/config"), "{err}");
        assert!(err.contains("hint: pass --kubeconfig"), "{err}");
    }
}
