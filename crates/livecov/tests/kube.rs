//! Kubernetes discovery (`livecov_collect::kube`) against a real kube-apiserver with
//! etcd, and real coverage servers reached through its pod proxy.
//!
//! How it runs: `kubernetes_discovery_through_the_pod_proxy` builds the Go fixture
//! (`tests/data/go_agent/` with `agents/go/livecov_agent.go`, `go build -cover`), starts
//! etcd and kube-apiserver in a network namespace of their own (`.ci/k8s/start.sh`, the
//! binaries of `.ci/install-k8s.sh`, found through `LIVECOV_K8S_BIN`), then re-runs this
//! test inside that namespace (`ip netns exec NS <this binary> --exact
//! kubernetes_discovery_through_the_pod_proxy`), where it runs the `inner_*` checks: pods created through the API with labels and a
//! controlling ownerReference, their status PATCHed to 10.244.0.x addresses (local in the
//! namespace), fixture processes serving coverage on those addresses, and tokens with
//! limited RBAC; then deploy/node/rbac.yaml applied as it is and a token of its
//! ServiceAccount, with which `collect --node` finds fixture processes in /proc (moved
//! into real cgroups named like the kubelet's, `cri-containerd-<id>.scope`, whose ids the
//! pods' containerStatuses carry) and `doctor --pod` checks pods with and without an
//! agent; last, in a part of its own, the webhook's ProwJob runner creates the Prow
//! plugin's ProwJob under deploy/webhook/rbac.yaml's create-only account. The checks are plain functions, not tests of their own: they run only
//! inside the namespace, and the outer test asserts that all of them passed. Without the binaries, root
//! or Go, the outer test is skipped, or fails when `CI` is set (`support/external.rs`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use livecov_collect::kube::{discover, KubeError, KubeSettings};
use livecov_collect::live::{Client, PodInfo, Target};

#[path = "support/external.rs"]
mod external;

/// Set (to the cluster's run directory) only in the re-run inside the namespace.
const RUN_VAR: &str = "LIVECOV_KUBE_TEST_RUN";
/// The fixture binary, for the re-run.
const FIXTURE_VAR: &str = "LIVECOV_KUBE_TEST_FIXTURE";
const INNER_TESTS: usize = 9;

const ADMIN_TOKEN: &str = "livecov-test-admin";
/// list pods and get pods/proxy, cluster-wide.
const READER_TOKEN: &str = "livecov-test-reader";
/// list pods and get pods/proxy, in the namespace APPS only.
const NS_READER_TOKEN: &str = "livecov-test-ns-reader";
/// list pods only.
const LISTER_TOKEN: &str = "livecov-test-lister";
/// nothing.
const NOBODY_TOKEN: &str = "livecov-test-nobody";

const APPS: &str = "lc-apps";
const OTHER: &str = "lc-other";
const API: &str = "https://127.0.0.1:6443";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// --- outside the namespace ----------------------------------------------------------

fn k8s_bin() -> Option<PathBuf> {
    let dir = std::env::var_os("LIVECOV_K8S_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/livecov-k8s/bin"));
    (dir.join("kube-apiserver").is_file() && dir.join("etcd").is_file()).then_some(dir)
}

fn can_netns() -> Option<()> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ip = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .is_ok_and(|o| o.status.success());
    (root && ip).then_some(())
}

fn go_available() -> Option<()> {
    Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(())
}

/// The fixture service with the agent inside, built with `-cover` into `dir`.
fn build_fixture(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    let fixture = workspace_root().join("crates/livecov/tests/data/go_agent");
    for name in ["main.go", "go.mod"] {
        std::fs::copy(fixture.join(name), src.join(name)).unwrap();
    }
    std::fs::copy(
        workspace_root().join("agents/go/livecov_agent.go"),
        src.join("livecov_agent.go"),
    )
    .unwrap();
    let out = dir.join("svc");
    let output = Command::new("go")
        .args(["build", "-cover", "-covermode=atomic", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&src)
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .output()
        .expect("running go build");
    assert!(
        output.status.success(),
        "go build -cover failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// etcd and kube-apiserver in their network namespace; stopped on drop, with the
/// fixture processes the inner tests started (their pids are in `agents.pids`).
struct Cluster {
    run: PathBuf,
    netns: String,
}

impl Cluster {
    fn start(run: &Path, bin: &Path) -> Cluster {
        let netns = format!("livecov-kube-{}", std::process::id());
        let tokens = run.join("tokens-extra.csv");
        let lines: String = [
            (READER_TOKEN, "livecov-reader"),
            (NS_READER_TOKEN, "livecov-ns-reader"),
            (LISTER_TOKEN, "livecov-lister"),
            (NOBODY_TOKEN, "livecov-nobody"),
        ]
        .iter()
        .map(|(token, user)| format!("{token},{user},{user}\n"))
        .collect();
        std::fs::write(&tokens, lines).unwrap();
        let cluster = Cluster {
            run: run.to_path_buf(),
            netns,
        };
        let output = Command::new("bash")
            .arg(workspace_root().join(".ci/k8s/start.sh"))
            .env("RUN", run)
            .env("BIN", bin)
            .env("NETNS", &cluster.netns)
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env("TOKENS_EXTRA", &tokens)
            .output()
            .expect("running .ci/k8s/start.sh");
        assert!(
            output.status.success(),
            ".ci/k8s/start.sh failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprint!("{}", String::from_utf8_lossy(&output.stdout));
        cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Ok(pids) = std::fs::read_to_string(self.run.join("agents.pids")) {
            for pid in pids
                .lines()
                .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
            {
                // SAFETY: kill(2) on a fixture process the inner tests started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = Command::new("bash")
            .arg(workspace_root().join(".ci/k8s/stop.sh"))
            .env("RUN", &self.run)
            .env("NETNS", &self.netns)
            .status();
    }
}

#[test]
fn kubernetes_discovery_through_the_pod_proxy() {
    if std::env::var_os(RUN_VAR).is_some() {
        // The re-run inside the namespace: the checks that need its addresses.
        let checks: [(&str, fn()); INNER_TESTS] = [
            (
                "inner_discover_selects_running_pods_by_label_and_namespace",
                inner_discover_selects_running_pods_by_label_and_namespace,
            ),
            (
                "inner_probe_and_snapshot_through_the_pod_proxy_with_a_limited_token",
                inner_probe_and_snapshot_through_the_pod_proxy_with_a_limited_token,
            ),
            (
                "inner_token_without_pods_proxy_gets_the_rbac_message",
                inner_token_without_pods_proxy_gets_the_rbac_message,
            ),
            (
                "inner_token_without_list_gets_the_rbac_message",
                inner_token_without_list_gets_the_rbac_message,
            ),
            (
                "inner_collect_kubernetes_writes_each_pods_series_with_its_owner",
                inner_collect_kubernetes_writes_each_pods_series_with_its_owner,
            ),
            (
                "inner_deploy_manifests_apply_and_their_rbac_is_limited",
                inner_deploy_manifests_apply_and_their_rbac_is_limited,
            ),
            (
                "inner_collect_node_names_processes_after_their_pods",
                inner_collect_node_names_processes_after_their_pods,
            ),
            (
                "inner_doctor_pod_with_and_without_an_agent",
                inner_doctor_pod_with_and_without_an_agent,
            ),
            // The webhook's part (issue 11), at the end of this file.
            (
                "inner_webhook_creates_the_plugins_prowjob_under_a_create_only_account",
                inner_webhook_creates_the_plugins_prowjob_under_a_create_only_account,
            ),
        ];
        for (name, check) in checks {
            eprintln!("kube check {name}");
            check();
        }
        println!("kube inner checks: {INNER_TESTS} passed");
        return;
    }
    let Some(bin) = external::require(
        "kube-apiserver and etcd (run .ci/install-k8s.sh or set LIVECOV_K8S_BIN)",
        k8s_bin(),
    ) else {
        return;
    };
    let Some(()) = external::require(
        "root and `ip netns` (for the cluster's network namespace)",
        can_netns(),
    ) else {
        return;
    };
    let Some(()) = external::require("`go` on PATH", go_available()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fixture = build_fixture(dir.path());
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let cluster = Cluster::start(&run, &bin);
    let output = Command::new("ip")
        .args(["netns", "exec", &cluster.netns])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kubernetes_discovery_through_the_pod_proxy",
            "--nocapture",
        ])
        .env(RUN_VAR, &run)
        .env(FIXTURE_VAR, &fixture)
        .output()
        .expect("running the inner tests under ip netns exec");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "--- inner tests (in netns {}):\n{stdout}{stderr}",
        cluster.netns
    );
    assert!(
        output.status.success(),
        "the inner tests failed (output above)"
    );
    // A run of nothing must not pass.
    let expected = format!("kube inner checks: {INNER_TESTS} passed");
    assert!(
        stdout.contains(&expected),
        "expected {expected:?} (output above)"
    );
}

// --- inside the namespace -----------------------------------------------------------

/// The cluster as the inner tests set it up, once per process.
struct World {
    run: PathBuf,
    /// The fixture pid serving at each (pod, port).
    pids: BTreeMap<(String, u16), u32>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let run = PathBuf::from(std::env::var_os(RUN_VAR).unwrap());
        runtime().block_on(set_up(run))
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The admin's API client.
struct Admin {
    http: reqwest::Client,
}

impl Admin {
    fn new(run: &Path) -> Admin {
        let ca = std::fs::read(run.join("pki/ca.crt")).unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Admin { http }
    }

    async fn call(&self, method: &str, path: &str, content_type: &str, body: serde_json::Value) {
        let url = format!("{API}{path}");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(ADMIN_TOKEN)
            .header("Content-Type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {url}: {status}: {text}");
    }

    async fn create(&self, path: &str, body: serde_json::Value) {
        self.call("POST", path, "application/json", body).await;
    }

    /// POSTs `body` and returns the answer's JSON.
    async fn post_json(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let url = format!("{API}{path}");
        let resp = self
            .http
            .post(&url)
            .bearer_auth(ADMIN_TOKEN)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {url}: {status}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// A pod as the tests create it: labels, a controlling owner, node and containers.
fn pod_json(
    name: &str,
    labels: serde_json::Value,
    owner: (&str, &str),
    node: &str,
    containers: serde_json::Value,
    annotations: serde_json::Value,
) -> serde_json::Value {
    let api_version = if owner.0 == "ReplicaSet" || owner.0 == "StatefulSet" {
        "apps/v1"
    } else {
        "v1"
    };
    serde_json::json!({
        "metadata": {
            "name": name, "labels": labels, "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": api_version, "kind": owner.0, "name": owner.1,
                "uid": "11111111-2222-3333-4444-555555555555", "controller": true
            }]
        },
        "spec": {"nodeName": node, "containers": containers}
    })
}

async fn set_up(run: PathBuf) -> World {
    let admin = Admin::new(&run);
    for ns in [APPS, OTHER] {
        admin
            .create(
                "/api/v1/namespaces",
                serde_json::json!({"metadata": {"name": ns}}),
            )
            .await;
    }
    // RBAC: the collector's rules, cluster-wide for the reader and in APPS for the
    // namespace reader; list only for the lister; nothing for nobody.
    let rules_collect = serde_json::json!([
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get"]}
    ]);
    let rules_list =
        serde_json::json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]);
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    for (name, rules) in [
        ("livecov-collect", &rules_collect),
        ("livecov-list", &rules_list),
    ] {
        admin
            .create(
                &format!("{rbac}/clusterroles"),
                serde_json::json!({"metadata": {"name": name}, "rules": rules}),
            )
            .await;
    }
    let subject = |user: &str| serde_json::json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}]);
    let role_ref = |role: &str| serde_json::json!({"kind": "ClusterRole", "apiGroup": "rbac.authorization.k8s.io", "name": role});
    for (user, role) in [
        ("livecov-reader", "livecov-collect"),
        ("livecov-lister", "livecov-list"),
    ] {
        admin
            .create(
                &format!("{rbac}/clusterrolebindings"),
                serde_json::json!({"metadata": {"name": user}, "subjects": subject(user), "roleRef": role_ref(role)}),
            )
            .await;
    }
    admin
        .create(
            &format!("{rbac}/namespaces/{APPS}/rolebindings"),
            serde_json::json!({"metadata": {"name": "livecov-ns-reader"},
                "subjects": subject("livecov-ns-reader"), "roleRef": role_ref("livecov-collect")}),
        )
        .await;

    // Pods. (namespace, pod json, status: Some((phase, ip)))
    let web = serde_json::json!({"app": "web"});
    let pods = [
        (
            APPS,
            pod_json(
                "web-1",
                web.clone(),
                ("ReplicaSet", "web-7d9f"),
                "node-a",
                serde_json::json!([{"name": "app", "image": "example.com/web:1",
                    "ports": [{"containerPort": 8080}, {"containerPort": 53700}]}]),
                serde_json::json!({}),
            ),
            Some(("Running", "10.244.0.11")),
        ),
        (
            APPS,
            pod_json(
                "web-2",
                web.clone(),
                ("ReplicaSet", "web-7d9f"),
                "node-b",
                serde_json::json!([
                    {"name": "app", "image": "example.com/web:1",
                     "env": [{"name": "COVERAGE_PORT", "value": "53710"}]},
                    {"name": "sidecar", "image": "example.com/sidecar:2"}
                ]),
                serde_json::json!({"livecov.dev/ports": "53720"}),
            ),
            Some(("Running", "10.244.0.12")),
        ),
        (
            APPS,
            pod_json(
                "web-pending",
                web.clone(),
                ("ReplicaSet", "web-7d9f"),
                "node-a",
                serde_json::json!([{"name": "app", "image": "example.com/web:1"}]),
                serde_json::json!({}),
            ),
            None,
        ),
        (
            APPS,
            pod_json(
                "web-noip",
                web.clone(),
                ("ReplicaSet", "web-7d9f"),
                "node-a",
                serde_json::json!([{"name": "app", "image": "example.com/web:1"}]),
                serde_json::json!({}),
            ),
            Some(("Running", "")),
        ),
        (
            APPS,
            pod_json(
                "db-1",
                serde_json::json!({"app": "db"}),
                ("StatefulSet", "db"),
                "node-a",
                serde_json::json!([{"name": "db", "image": "example.com/db:3"}]),
                serde_json::json!({}),
            ),
            Some(("Running", "10.244.0.14")),
        ),
        (
            OTHER,
            pod_json(
                "web-x",
                web.clone(),
                ("ReplicaSet", "web-x-55c"),
                "node-c",
                serde_json::json!([{"name": "app", "image": "example.com/web:1",
                    "ports": [{"containerPort": 53700}]}]),
                serde_json::json!({}),
            ),
            Some(("Running", "10.244.0.21")),
        ),
    ];
    for (ns, pod, status) in &pods {
        admin
            .create(&format!("/api/v1/namespaces/{ns}/pods"), pod.clone())
            .await;
        let Some((phase, ip)) = status else { continue };
        let name = pod["metadata"]["name"].as_str().unwrap();
        let mut status = serde_json::json!({"phase": phase});
        if !ip.is_empty() {
            status["podIP"] = serde_json::json!(ip);
            status["podIPs"] = serde_json::json!([{"ip": ip}]);
        }
        admin
            .call(
                "PATCH",
                &format!("/api/v1/namespaces/{ns}/pods/{name}/status"),
                "application/merge-patch+json",
                serde_json::json!({"status": status}),
            )
            .await;
    }

    // Coverage servers where the pods' ports say; none for db-1.
    let fixture = PathBuf::from(std::env::var_os(FIXTURE_VAR).unwrap());
    let mut pids = BTreeMap::new();
    for (pod, ip, port) in [
        ("web-1", "10.244.0.11", 53700),
        ("web-2", "10.244.0.12", 53710),
        ("web-2", "10.244.0.12", 53720),
        ("web-x", "10.244.0.21", 53700),
    ] {
        let pid = start_agent(&fixture, ip, port, &run);
        pids.insert((pod.to_owned(), port), pid);
    }
    World { run, pids }
}

/// Starts the fixture with its agent on `ip:port`; returns its pid once the agent serves.
fn start_agent(fixture: &Path, ip: &str, port: u16, run: &Path) -> u32 {
    let mut child = Command::new(fixture)
        .env("COVERAGE_PORT", port.to_string())
        .env("LIVECOV_LISTEN_HOST", ip)
        .env("FIXTURE_ADDR", "127.0.0.1:0")
        .env_remove("GOCOVERDIR")
        .env_remove("LIVECOV_PUSH_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the fixture");
    let pid = child.id();
    // The outer test kills these when the inner run is over.
    use std::io::Write;
    let mut pids = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run.join("agents.pids"))
        .unwrap();
    writeln!(pids, "{pid}").unwrap();
    let want = format!("serving coverage on {ip}:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        assert!(Instant::now() < deadline, "no {want:?} from the fixture");
        match lines.next() {
            Some(Ok(line)) if line.contains(&want) => break,
            Some(Ok(_)) => {}
            other => panic!("the fixture on {ip}:{port} stopped before serving: {other:?}"),
        }
    }
    // Keep draining stderr so the fixture never blocks on a full pipe, and reap it.
    std::thread::spawn(move || {
        lines.for_each(drop);
        let _ = child.wait();
    });
    pid
}

/// A kubeconfig for `token` in the run directory (token in a file, CA by path, as users
/// write them).
fn kubeconfig(run: &Path, token: &str) -> PathBuf {
    kubeconfig_named(run, token, token)
}

/// [`kubeconfig`] with files named after `name` (a ServiceAccount's JWT is too long for a
/// file name).
fn kubeconfig_named(run: &Path, name: &str, token: &str) -> PathBuf {
    // One pair of files per call: the inner tests run in parallel.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let token_file = run.join(format!("{name}-{n}.token"));
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let path = run.join(format!("{name}-{n}.kubeconfig"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {API}\n    \
             certificate-authority: {ca}\nusers:\n- name: u\n  user:\n    tokenFile: {tf}\n\
             contexts:\n- name: test\n  context: {{cluster: test, user: u}}\ncurrent-context: test\n",
            ca = run.join("pki/ca.crt").display(),
            tf = token_file.display(),
        ),
    )
    .unwrap();
    path
}

fn settings(token: &str, namespace: Option<&str>, selector: Option<&str>) -> KubeSettings {
    KubeSettings {
        kubeconfig: Some(kubeconfig(&world().run, token)),
        namespace: namespace.map(str::to_owned),
        selector: selector.map(str::to_owned),
        ..KubeSettings::default()
    }
}

fn info(
    ns: &str,
    pod: &str,
    container: &str,
    image: &str,
    node: &str,
    owner: (&str, &str),
) -> PodInfo {
    PodInfo {
        namespace: ns.into(),
        pod: pod.into(),
        container: container.into(),
        image: image.into(),
        node: node.into(),
        owner_kind: owner.0.into(),
        owner_name: owner.1.into(),
    }
}

fn target(ns: &str, pod: &str, port: u16, info: PodInfo) -> Target {
    Target {
        url: format!("{API}/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy"),
        pod: Some(info),
    }
}

fn web_targets() -> Vec<Target> {
    let rs = ("ReplicaSet", "web-7d9f");
    vec![
        target(
            APPS,
            "web-1",
            53700,
            info(APPS, "web-1", "app", "example.com/web:1", "node-a", rs),
        ),
        target(
            APPS,
            "web-2",
            53710,
            info(APPS, "web-2", "app", "example.com/web:1", "node-b", rs),
        ),
        target(
            APPS,
            "web-2",
            53720,
            info(
                APPS,
                "web-2",
                "sidecar",
                "example.com/sidecar:2",
                "node-b",
                rs,
            ),
        ),
    ]
}

fn web_x() -> Target {
    target(
        OTHER,
        "web-x",
        53700,
        info(
            OTHER,
            "web-x",
            "app",
            "example.com/web:1",
            "node-c",
            ("ReplicaSet", "web-x-55c"),
        ),
    )
}

fn sorted(mut t: Vec<Target>) -> Vec<Target> {
    t.sort();
    t
}

fn inner_discover_selects_running_pods_by_label_and_namespace() {
    let rt = runtime();
    // A namespace and a selector: web-pending (no status) and web-noip (Running, no IP)
    // are left out, db-1 does not match, web-x is in another namespace.
    let (_, found) = rt
        .block_on(discover(&settings(
            READER_TOKEN,
            Some(APPS),
            Some("app=web"),
        )))
        .unwrap();
    assert_eq!(found, sorted(web_targets()));
    // All namespaces.
    let (_, found) = rt
        .block_on(discover(&settings(READER_TOKEN, None, Some("app=web"))))
        .unwrap();
    let mut want = web_targets();
    want.push(web_x());
    assert_eq!(found, sorted(want));
    // No selector: db-1 too, on the default port, with its StatefulSet.
    let (_, found) = rt
        .block_on(discover(&settings(READER_TOKEN, Some(APPS), None)))
        .unwrap();
    let mut want = web_targets();
    want.push(target(
        APPS,
        "db-1",
        53700,
        info(
            APPS,
            "db-1",
            "db",
            "example.com/db:3",
            "node-a",
            ("StatefulSet", "db"),
        ),
    ));
    assert_eq!(found, sorted(want));
    // A selector nothing matches.
    let (_, found) = rt
        .block_on(discover(&settings(READER_TOKEN, None, Some("app=none"))))
        .unwrap();
    assert_eq!(found, []);
    // A namespaced grant is enough for its namespace.
    let (_, found) = rt
        .block_on(discover(&settings(
            NS_READER_TOKEN,
            Some(APPS),
            Some("app=web"),
        )))
        .unwrap();
    assert_eq!(found, sorted(web_targets()));
}

fn inner_probe_and_snapshot_through_the_pod_proxy_with_a_limited_token() {
    let rt = runtime();
    let w = world();
    let (client, found) = rt
        .block_on(discover(&settings(READER_TOKEN, None, Some("app=web"))))
        .unwrap();
    assert_eq!(found.len(), 4);
    rt.block_on(async {
        for t in &found {
            let pod = t.pod.as_ref().unwrap();
            let port: u16 = t
                .url
                .rsplit(':')
                .next()
                .unwrap()
                .trim_end_matches("/proxy")
                .parse()
                .unwrap();
            let pid = w.pids[&(pod.pod.clone(), port)];
            let server = client
                .probe(t)
                .await
                .unwrap_or_else(|e| panic!("probe {}: {e}", t.url));
            // The process behind this pod's port, not another one.
            assert_eq!(server.pid, u64::from(pid), "{}", t.url);
            let snap = client
                .snapshot(t, false)
                .await
                .unwrap_or_else(|e| panic!("snapshot {}: {e}", t.url));
            assert_eq!(snap.server.pid, u64::from(pid));
            let go = snap.go().expect("a Go snapshot");
            let meta = go
                .meta
                .as_ref()
                .expect("the meta-data comes with the first snapshot");
            assert_eq!(&meta[..4], b"\0cvm");
            assert!(go.counters.len() > 24);
            let again = client.snapshot(t, true).await.unwrap();
            let again = again.go().expect("a Go snapshot");
            assert_eq!((again.meta.as_ref(), again.hash), (None, go.hash));
        }
    });
}

fn inner_token_without_pods_proxy_gets_the_rbac_message() {
    let rt = runtime();
    let err = refused(&rt, settings(LISTER_TOKEN, Some(APPS), Some("app=web")));
    assert!(matches!(err, KubeError::ProxyForbidden { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "GET {API}/api/v1/namespaces/{APPS}/pods/web-1:53700/proxy/health would answer 403 Forbidden"
        )),
        "{text}"
    );
    assert!(
        text.contains("may not get pods/proxy in namespace lc-apps"),
        "{text}"
    );
    assert!(text.contains("hint: grant get on pods/proxy"), "{text}");
    // And what the review predicted is what the proxy does.
    let client = Client::new(
        Duration::from_secs(10),
        Some(LISTER_TOKEN.into()),
        &[ca()],
        false,
    )
    .unwrap();
    let err = rt
        .block_on(client.probe(&web_targets()[0]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("403"), "{err}");
}

/// The error of a discovery that must fail.
fn refused(rt: &tokio::runtime::Runtime, settings: KubeSettings) -> KubeError {
    match rt.block_on(discover(&settings)) {
        Ok((_, found)) => panic!("discovery with {settings:?} succeeded: {found:?}"),
        Err(e) => e,
    }
}

fn ca() -> Vec<u8> {
    std::fs::read(world().run.join("pki/ca.crt")).unwrap()
}

fn inner_token_without_list_gets_the_rbac_message() {
    let rt = runtime();
    let err = refused(&rt, settings(NOBODY_TOKEN, Some(APPS), None));
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{API}/api/v1/namespaces/{APPS}/pods?limit=500: 403 Forbidden"
        )),
        "{text}"
    );
    assert!(
        text.contains("hint: the token may not list pods in namespace lc-apps"),
        "{text}"
    );
    assert!(text.contains("pods/proxy"), "{text}");
    // A grant in one namespace does not list all of them.
    let text = refused(&rt, settings(NS_READER_TOKEN, None, None)).to_string();
    assert!(
        text.starts_with(&format!("{API}/api/v1/pods?limit=500: 403 Forbidden")),
        "{text}"
    );
    assert!(text.contains("cluster-wide, for all namespaces"), "{text}");
    assert!(text.contains("or pass --namespace"), "{text}");
    // A token the API server does not know.
    let text = refused(&rt, settings("not-a-token", Some(APPS), None)).to_string();
    assert!(text.contains("401 Unauthorized"), "{text}");
    assert!(text.contains("did not accept the token"), "{text}");
}

fn inner_collect_kubernetes_writes_each_pods_series_with_its_owner() {
    let w = world();
    let collection = w.run.join("collect-kube");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["collect", "--collection"])
        .arg(&collection)
        .args(["--kubernetes", "--kubeconfig"])
        .arg(kubeconfig(&w.run, READER_TOKEN))
        .args(["-n", APPS, "-l", "app=web"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("collected 3 snapshots from 3 targets"),
        "{stderr}"
    );
    let mut dirs: Vec<String> = std::fs::read_dir(collection.join("coverage"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    assert!(
        dirs[0].starts_with(&format!("node-a-{APPS}-web-1-app-")),
        "node, namespace, pod and container name the series: {dirs:?}"
    );
    let metadata = std::fs::read_to_string(
        collection
            .join("coverage")
            .join(&dirs[0])
            .join("metadata.json"),
    )
    .unwrap();
    assert!(
        metadata.contains("\"owner_kind\": \"ReplicaSet\"") && metadata.contains("web-7d9f"),
        "{metadata}"
    );
    let report = std::process::Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["report", "--format", "json", "--collection"])
        .arg(&collection)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let owners = json["owners"].as_array().unwrap();
    assert!(
        owners.iter().any(|o| o["owner"] == "web-7d9f"),
        "the ReplicaSet owns the pods: {json:#}"
    );
}

// --- deploy/, node mode and doctor --pod -------------------------------------------------

const NODE: &str = "node-lc";
const NODE_NS: &str = "lc-node";

/// The API path that creates an object of this kind (the kinds deploy/ holds).
fn collection_path(doc: &serde_json::Value) -> String {
    let kind = doc["kind"].as_str().unwrap();
    let ns = doc["metadata"]["namespace"].as_str().unwrap_or("");
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    match kind {
        "Namespace" => "/api/v1/namespaces".into(),
        "ServiceAccount" => format!("/api/v1/namespaces/{ns}/serviceaccounts"),
        "ClusterRole" => format!("{rbac}/clusterroles"),
        "ClusterRoleBinding" => format!("{rbac}/clusterrolebindings"),
        "DaemonSet" => format!("/apis/apps/v1/namespaces/{ns}/daemonsets"),
        other => panic!("deploy/ holds a {other}, which this test does not know"),
    }
}

fn yaml_docs(path: &Path) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            let v = serde_yaml::Value::deserialize(d)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// deploy/node/rbac.yaml applied (strict field validation), the DaemonSet validated by
/// the API server (dry run), and a token of the ServiceAccount; once per process.
fn node_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let w = world();
        let admin = Admin::new(&w.run);
        runtime().block_on(async {
            for doc in yaml_docs(&workspace_root().join("deploy/node/rbac.yaml")) {
                let path = format!("{}?fieldValidation=Strict", collection_path(&doc));
                admin.create(&path, doc).await;
            }
            let ds = yaml_docs(&workspace_root().join("deploy/node/daemonset.yaml"));
            assert_eq!(ds.len(), 1);
            let path = format!(
                "{}?fieldValidation=Strict&dryRun=All",
                collection_path(&ds[0])
            );
            admin.create(&path, ds[0].clone()).await;
            let answer = admin
                .post_json(
                    "/api/v1/namespaces/livecov/serviceaccounts/livecov-node/token",
                    serde_json::json!({"apiVersion": "authentication.k8s.io/v1",
                        "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}),
                )
                .await;
            answer["status"]["token"].as_str().unwrap().to_owned()
        })
    })
}

/// Whether `token` may `verb` `resource[/sub]` in `ns` ("" for all), by its own review.
async fn may(token: &str, verb: &str, resource: &str, sub: &str, ns: &str) -> bool {
    let http = Admin::new(&world().run).http;
    let resp = http
        .post(format!(
            "{API}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": ns, "verb": verb,
                "resource": resource, "subresource": sub}}}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{resp:?}");
    let v: serde_json::Value = resp.json().await.unwrap();
    v["status"]["allowed"].as_bool().unwrap_or(false)
}

fn inner_deploy_manifests_apply_and_their_rbac_is_limited() {
    let token = node_token();
    let rt = runtime();
    rt.block_on(async {
        // Enough: what node mode and doctor --pod do.
        for (verb, res, sub, ns) in [
            ("list", "pods", "", ""),
            ("get", "pods", "", APPS),
            ("get", "pods", "proxy", APPS),
        ] {
            assert!(
                may(token, verb, res, sub, ns).await,
                "{verb} {res}/{sub} in {ns:?}"
            );
        }
        // And no more.
        for (verb, res, sub, ns) in [
            ("list", "secrets", "", ""),
            ("get", "secrets", "", APPS),
            ("create", "pods", "", APPS),
            ("delete", "pods", "", APPS),
            ("create", "pods", "exec", APPS),
            ("create", "pods", "proxy", APPS),
            ("list", "nodes", "", ""),
            ("patch", "pods", "status", APPS),
        ] {
            assert!(
                !may(token, verb, res, sub, ns).await,
                "{verb} {res}/{sub} in {ns:?} is granted"
            );
        }
    });
}

/// A kubeconfig for the deployed ServiceAccount.
fn node_kubeconfig() -> PathBuf {
    kubeconfig_named(&world().run, "livecov-node", node_token())
}

/// A container id of 64 hex digits, different for each `n`.
fn container_id(n: u8) -> String {
    format!("{:02x}", n).repeat(32)
}

/// Node-mode fixtures and the cgroups they were moved into; killed and removed on drop.
struct NodeFixtures {
    children: Vec<std::process::Child>,
    cgroups: Vec<PathBuf>,
}

impl Drop for NodeFixtures {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Deepest first; a cgroup is removable once its processes are gone.
        for dir in self.cgroups.iter().rev() {
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Mounts the cgroup hierarchies inside this mount namespace (`ip netns exec` gave it a
/// fresh /sys without them): the unified one, and v1's name=systemd where the host has
/// it. Returns the mount points that worked.
fn mount_cgroups(run: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (name, args) in [
        ("cg2", vec!["-t", "cgroup2", "none"]),
        (
            "cg1",
            vec!["-t", "cgroup", "-o", "none,name=systemd", "cgroup"],
        ),
    ] {
        let dir = run.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args(&args)
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            out.push(dir);
        }
    }
    out
}

/// Moves `pid` into a kubelet-like cgroup ending in `cri-containerd-<id>.scope` in each
/// hierarchy; true when `/proc/<pid>/cgroup` then names `id`.
fn plant_cgroup(roots: &[PathBuf], pid: u32, id: &str, fixtures: &mut NodeFixtures) -> bool {
    for root in roots {
        let mut dir = root.join(format!("livecov-test-{}", std::process::id()));
        let parts = [
            "kubepods.slice".to_owned(),
            "kubepods-besteffort.slice".to_owned(),
            format!("kubepods-besteffort-pod{}.slice", &id[..8]),
            format!("cri-containerd-{id}.scope"),
        ];
        let mut ok = true;
        for part in std::iter::once(String::new()).chain(parts) {
            if !part.is_empty() {
                dir.push(part);
            }
            if !dir.exists() {
                if std::fs::create_dir(&dir).is_err() {
                    ok = false;
                    break;
                }
                fixtures.cgroups.push(dir.clone());
            }
        }
        if ok {
            let _ = std::fs::write(dir.join("cgroup.procs"), pid.to_string());
        }
    }
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    livecov_collect::procnet::container_id(&cgroup).as_deref() == Some(id)
}

/// Starts the fixture with `env`; returns it once `want` is on its stderr.
fn start_fixture(env: &[(&str, &str)], want: &str, fixtures: &mut NodeFixtures) -> u32 {
    let fixture = PathBuf::from(std::env::var_os(FIXTURE_VAR).unwrap());
    let mut cmd = Command::new(fixture);
    cmd.env_remove("GOCOVERDIR")
        .env_remove("LIVECOV_PUSH_URL")
        .env_remove("LIVECOV_LISTEN_HOST")
        .env("FIXTURE_ADDR", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("starting the fixture");
    let pid = child.id();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    fixtures.children.push(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no {want:?} from the fixture");
        match lines.next() {
            Some(Ok(line)) if line.contains(want) => break,
            Some(Ok(_)) => {}
            other => panic!("the fixture ({env:?}) stopped before {want:?}: {other:?}"),
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    pid
}

/// A listener that is not a coverage server, on a port in the range.
fn plain_listener(addr: &str, fixtures: &mut NodeFixtures) -> u32 {
    // python3's http.server answers /health with 404 and no X-Art-Coverage-Server.
    let (host, port) = addr.rsplit_once(':').unwrap();
    let child = Command::new("python3")
        .args(["-m", "http.server", "--bind", host, port])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 for a plain listener");
    let pid = child.id();
    fixtures.children.push(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "python3 -m http.server on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    pid
}

fn inner_collect_node_names_processes_after_their_pods() {
    let w = world();
    let admin = Admin::new(&w.run);
    let mut fx = NodeFixtures {
        children: Vec::new(),
        cgroups: Vec::new(),
    };
    let roots = mount_cgroups(&w.run);
    // api-0: the agent on every address (so reached at the pod IP), GOCOVERDIR writable.
    let cover = w.run.join("api-cover");
    std::fs::create_dir_all(&cover).unwrap();
    let api = start_fixture(
        &[
            ("COVERAGE_PORT", "53730"),
            ("GOCOVERDIR", cover.to_str().unwrap()),
        ],
        ":53730",
        &mut fx,
    );
    // plain-0: a process in a pod with a port in the range and no coverage server.
    let plain = plain_listener("10.244.0.32:53740", &mut fx);
    // A host process (in no pod): the agent on 127.0.0.1.
    start_fixture(
        &[
            ("COVERAGE_PORT", "53750"),
            ("LIVECOV_LISTEN_HOST", "127.0.0.1"),
        ],
        "127.0.0.1:53750",
        &mut fx,
    );
    let planted = plant_cgroup(&roots, api, &container_id(1), &mut fx)
        && plant_cgroup(&roots, plain, &container_id(2), &mut fx);
    assert!(
        planted,
        "could not move the fixtures into cgroups named after container ids (mounted: {roots:?})"
    );
    runtime().block_on(async {
        admin
            .create(
                "/api/v1/namespaces",
                serde_json::json!({"metadata": {"name": NODE_NS}}),
            )
            .await;
        for (name, owner, container, image, ip, id, ports) in [
            (
                "api-0",
                ("ReplicaSet", "api-6c5"),
                "api",
                "example.com/api:1",
                "10.244.0.31",
                container_id(1),
                serde_json::json!([{"containerPort": 53730}]),
            ),
            (
                "plain-0",
                ("StatefulSet", "plain"),
                "plain",
                "example.com/plain:1",
                "10.244.0.32",
                container_id(2),
                serde_json::json!([]),
            ),
            // On another node: never matched.
            (
                "far-0",
                ("ReplicaSet", "far-1"),
                "far",
                "example.com/far:1",
                "10.244.0.33",
                container_id(3),
                serde_json::json!([]),
            ),
        ] {
            let node = if name == "far-0" { "node-far" } else { NODE };
            let pod = pod_json(
                name,
                serde_json::json!({"app": name}),
                owner,
                node,
                serde_json::json!([{"name": container, "image": image, "ports": ports}]),
                serde_json::json!({}),
            );
            admin
                .create(&format!("/api/v1/namespaces/{NODE_NS}/pods"), pod)
                .await;
            admin
                .call(
                    "PATCH",
                    &format!("/api/v1/namespaces/{NODE_NS}/pods/{name}/status"),
                    "application/merge-patch+json",
                    serde_json::json!({"status": {"phase": "Running", "podIP": ip,
                        "podIPs": [{"ip": ip}],
                        "containerStatuses": [{"name": container, "ready": true,
                            "restartCount": 0, "image": image, "imageID": image,
                            "containerID": format!("containerd://{id}"),
                            "state": {"running": {"startedAt": "2026-12-03T10:00:00Z"}}}]}}),
                )
                .await;
        }
    });
    let collection = w.run.join("collect-node");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["collect", "--node", "--node-name", NODE, "--collection"])
        .arg(&collection)
        .arg("--kubeconfig")
        .arg(node_kubeconfig())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("not a coverage server: http://10.244.0.32:53740"),
        "the plain listener is probed and left out: {stderr}"
    );
    let dirs: Vec<String> = std::fs::read_dir(collection.join("coverage"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let api_dirs: Vec<&String> = dirs
        .iter()
        .filter(|d| d.starts_with(&format!("{NODE}-{NODE_NS}-api-0-api-svc-")))
        .collect();
    assert_eq!(api_dirs.len(), 1, "{dirs:?}");
    assert!(
        !dirs
            .iter()
            .any(|d| d.contains("plain-0") || d.contains("far-0")),
        "{dirs:?}"
    );
    let api_dir = collection.join("coverage").join(api_dirs[0]);
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(api_dir.join("info.json")).unwrap()).unwrap();
    assert_eq!(
        info["url"], "http://10.244.0.31:53730",
        "reached at the pod IP"
    );
    assert_eq!(info["owner_name"], "api-6c5");
    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(api_dir.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(metadata["namespace"], NODE_NS);
    assert_eq!(metadata["owner_kind"], "ReplicaSet");
    assert_eq!(metadata["container"]["name"], "api");
    assert_eq!(metadata["node"], NODE);
    // The host process, under the node's name, at the address it is bound to.
    let host: Vec<serde_json::Value> = dirs
        .iter()
        .filter(|d| d.starts_with(&format!("{NODE}-_host_-svc-")))
        .map(|d| {
            serde_json::from_slice(
                &std::fs::read(collection.join("coverage").join(d).join("info.json")).unwrap(),
            )
            .unwrap()
        })
        .collect();
    assert!(
        host.iter().any(|i| i["url"] == "http://127.0.0.1:53750"),
        "{host:?}"
    );
    // The kube fixtures of the other checks run in no pod either: host processes too.
    assert!(
        host.iter().any(|i| i["url"] == "http://10.244.0.11:53700"),
        "{host:?}"
    );
    drop(fx);
}

fn inner_doctor_pod_with_and_without_an_agent() {
    let doctor = |pod: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_livecov"))
            .args(["doctor", "--pod", pod, "--kubeconfig"])
            .arg(node_kubeconfig())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let w = world();
    // With the agent: Running, the server, its build, and GOCOVERDIR unset (a warning).
    let (code, text) = doctor(&format!("{APPS}/web-1"));
    assert_eq!(code, Some(0), "{text}");
    let pid = w.pids[&("web-1".to_owned(), 53700)];
    for want in [
        format!("ok: pod {APPS}/web-1: Running on node node-a with IP 10.244.0.11"),
        "warning: pod lc-apps/web-1: container app (example.com/web:1): no status, not ready, 0 restarts".into(),
        format!("port 53700 (container app): a coverage server: pid {pid}, binary svc"),
        "livecov's agent go/1, cover mode atomic".into(),
        "GET /coverage works: build ".into(),
        "warning: pod lc-apps/web-1 port 53700 (container app): GOCOVERDIR is not set".into(),
    ] {
        assert!(text.contains(&want), "{want:?} in:\n{text}");
    }
    // No coverage server behind the port: a problem, with what to change.
    let (code, text) = doctor(&format!("{APPS}/db-1"));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("problem: pod lc-apps/db-1 port 53700 (container db)"),
        "{text}"
    );
    assert!(text.contains("  fix: "), "{text}");
    // Not running.
    let (code, text) = doctor(&format!("{APPS}/web-pending"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("phase Pending"), "{text}");
    // A missing pod.
    let (code, text) = doctor(&format!("{APPS}/nope"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("404 Not Found"), "{text}");
}

// --- the webhook's ProwJob runner (issue 11) -----------------------------------------
//
// Separate from discovery above: the ProwJob CRD installed, deploy/webhook/rbac.yaml
// applied as it is, a token of its ServiceAccount (may create ProwJobs, nothing else),
// and the ProwJob that `livecov serve --webhook --runner prowjob` creates, read back as
// the admin and compared field by field with the Prow coverage plugin's
// (seed-system.md section 12).

/// The namespace deploy/webhook/rbac.yaml names.
const JOBS_NS: &str = "kubevirt-prow-jobs";

fn admin_get(path: &str) -> serde_json::Value {
    runtime().block_on(async {
        let resp = Admin::new(&world().run)
            .http
            .get(format!("{API}{path}"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.unwrap()
    })
}

/// The CRD and the webhook's RBAC, and a kubeconfig of its ServiceAccount.
fn webhook_kubeconfig() -> (PathBuf, String) {
    let w = world();
    let admin = Admin::new(&w.run);
    runtime().block_on(async {
        let crd = yaml_docs(&workspace_root().join("crates/livecov/tests/data/prowjob-crd.yaml"));
        admin
            .create(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                crd[0].clone(),
            )
            .await;
        admin
            .create(
                "/api/v1/namespaces",
                serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": JOBS_NS}}),
            )
            .await;
        let rbac = "/apis/rbac.authorization.k8s.io/v1";
        for doc in yaml_docs(&workspace_root().join("deploy/webhook/rbac.yaml")) {
            let ns = doc["metadata"]["namespace"].as_str().unwrap();
            let path = match doc["kind"].as_str().unwrap() {
                "ServiceAccount" => format!("/api/v1/namespaces/{ns}/serviceaccounts"),
                "Role" => format!("{rbac}/namespaces/{ns}/roles"),
                "RoleBinding" => format!("{rbac}/namespaces/{ns}/rolebindings"),
                other => panic!("deploy/webhook/rbac.yaml holds a {other}"),
            };
            admin
                .create(&format!("{path}?fieldValidation=Strict"), doc)
                .await;
        }
        // The CRD serves once it is established.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let resp = admin
                .http
                .get(format!("{API}/apis/prow.k8s.io/v1"))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            if resp.status().is_success() {
                break;
            }
            assert!(Instant::now() < deadline, "the ProwJob CRD is not served");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let answer = admin
            .post_json(
                &format!("/api/v1/namespaces/{JOBS_NS}/serviceaccounts/livecov-webhook/token"),
                serde_json::json!({"apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}),
            )
            .await;
        let token = answer["status"]["token"].as_str().unwrap().to_owned();
        (kubeconfig_named(&w.run, "livecov-webhook", &token), token)
    })
}

fn inner_webhook_creates_the_plugins_prowjob_under_a_create_only_account() {
    use livecov_server::webhook::config::Config;
    use livecov_server::webhook::event::{decide, Decision};
    use livecov_server::webhook::runner::prowjob::ProwJobRunner;
    use livecov_server::webhook::runner::Job;

    let (kubeconfig, token) = webhook_kubeconfig();
    let config = Config::parse(
        "defaults:\n  namespace: kubevirt-prow-jobs\n  cluster: kubevirt-prow-control-plane\n  \
         image: quay.io/kubevirtci/covreport:v1\n  coverageThreshold: 70\n  \
         env: {GIMME_GO_VERSION: '1.25.1', AAA: first}\n  \
         gcs: {bucket: kubevirt-prow, credentialsSecret: gcs-creds, pathStrategy: explicit}\n  \
         utilityImages: {cloneRefs: img/clonerefs, initUpload: img/initupload, \
         entrypoint: img/entrypoint, sidecar: img/sidecar}\n\
         repos:\n  Codertocat/Hello-World:\n    coverageThreshold: 25\n    \
         testPackages: ['./external-plugins/...', './robots/...']\n",
        Path::new("config.yaml"),
        true,
    )
    .unwrap();
    let payload = std::fs::read(
        workspace_root()
            .join("crates/livecov-server/tests/fixtures/github/event-pull_request-opened.json"),
    )
    .unwrap();
    let Decision::PullRequest { pr, action } = decide("pull_request", &payload, &config).unwrap()
    else {
        panic!("the recorded pull_request event is not queued");
    };
    let job = Job {
        delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
        trigger: action,
        repo: config.resolve(&pr.full_name()).unwrap(),
        pr,
        name: "5d4e5b3a-1111-4222-8333-444455556666".into(),
    };
    let conn = livecov_collect::kube::Connection::from_settings(&KubeSettings {
        kubeconfig: Some(kubeconfig),
        ..KubeSettings::default()
    })
    .unwrap();
    let rt = runtime();
    let runner = ProwJobRunner::new(conn.clone(), "ignored-the-repo-says".into());
    let name = rt.block_on(runner.submit(&job)).unwrap();
    assert_eq!(name, job.name);

    let pj = admin_get(&format!(
        "/apis/prow.k8s.io/v1/namespaces/{JOBS_NS}/prowjobs/{name}"
    ));
    let m = &pj["metadata"];
    let s = &pj["spec"];
    let c = &s["pod_spec"]["containers"][0];
    // The plugin's fields (seed-system.md section 12), one by one.
    let expect: Vec<(&str, &serde_json::Value, serde_json::Value)> = vec![
        ("kind", &pj["kind"], "ProwJob".into()),
        ("name", &m["name"], job.name.clone().into()),
        ("namespace", &m["namespace"], JOBS_NS.into()),
        (
            "label coverage-plugin",
            &m["labels"]["coverage-plugin"],
            "true".into(),
        ),
        (
            "label created-by-prow",
            &m["labels"]["created-by-prow"],
            "true".into(),
        ),
        (
            "label type",
            &m["labels"]["prow.k8s.io/type"],
            "presubmit".into(),
        ),
        (
            "label job",
            &m["labels"]["prow.k8s.io/job"],
            "coverage-auto".into(),
        ),
        (
            "label refs.org",
            &m["labels"]["prow.k8s.io/refs.org"],
            "Codertocat".into(),
        ),
        (
            "label refs.repo",
            &m["labels"]["prow.k8s.io/refs.repo"],
            "Hello-World".into(),
        ),
        (
            "label refs.pull",
            &m["labels"]["prow.k8s.io/refs.pull"],
            "2".into(),
        ),
        (
            "label event-GUID",
            &m["labels"]["event-GUID"],
            job.delivery.clone().into(),
        ),
        ("type", &s["type"], "presubmit".into()),
        ("agent", &s["agent"], "kubernetes".into()),
        (
            "cluster",
            &s["cluster"],
            "kubevirt-prow-control-plane".into(),
        ),
        ("job", &s["job"], "coverage-auto".into()),
        ("context", &s["context"], "coverage-auto".into()),
        ("report (SkipReport: true)", &s["report"], false.into()),
        ("refs.org", &s["refs"]["org"], "Codertocat".into()),
        ("refs.repo", &s["refs"]["repo"], "Hello-World".into()),
        ("refs.base_ref", &s["refs"]["base_ref"], "master".into()),
        (
            "refs.base_sha",
            &s["refs"]["base_sha"],
            "f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into(),
        ),
        ("pull number", &s["refs"]["pulls"][0]["number"], 2.into()),
        (
            "pull author",
            &s["refs"]["pulls"][0]["author"],
            "Codertocat".into(),
        ),
        (
            "pull sha",
            &s["refs"]["pulls"][0]["sha"],
            "ec26c3e57ca3a959ca5aad62de7213c562f8c821".into(),
        ),
        (
            "image",
            &c["image"],
            "quay.io/kubevirtci/covreport:v1".into(),
        ),
        (
            "entrypoint",
            &c["command"],
            serde_json::json!(["/usr/local/bin/entrypoint.sh", "/bin/sh", "-ce"]),
        ),
        (
            "packages",
            &c["args"],
            serde_json::json!([
                "/usr/local/bin/coverage-report.sh ./external-plugins/... ./robots/..."
            ]),
        ),
        (
            "env (sorted, then COVERAGE_THRESHOLD)",
            &c["env"],
            serde_json::json!([
                {"name": "AAA", "value": "first"},
                {"name": "GIMME_GO_VERSION", "value": "1.25.1"},
                {"name": "COVERAGE_THRESHOLD", "value": "25"}
            ]),
        ),
        (
            "token mount",
            &c["volumeMounts"],
            serde_json::json!([{"name": "github-token", "mountPath": "/etc/github-commenter", "readOnly": true}]),
        ),
        (
            "token volume",
            &s["pod_spec"]["volumes"],
            serde_json::json!([{"name": "github-token", "secret": {"secretName": "commenter-oauth-token"}}]),
        ),
        (
            "timeout",
            &s["decoration_config"]["timeout"],
            "2h0m0s".into(),
        ),
        (
            "grace period",
            &s["decoration_config"]["grace_period"],
            "15s".into(),
        ),
        (
            "utility images",
            &s["decoration_config"]["utility_images"],
            serde_json::json!({"clonerefs": "img/clonerefs", "initupload": "img/initupload",
                "entrypoint": "img/entrypoint", "sidecar": "img/sidecar"}),
        ),
        (
            "gcs",
            &s["decoration_config"]["gcs_configuration"],
            serde_json::json!({"bucket": "kubevirt-prow", "path_strategy": "explicit"}),
        ),
        (
            "gcs credentials",
            &s["decoration_config"]["gcs_credentials_secret"],
            "gcs-creds".into(),
        ),
        ("state", &pj["status"]["state"], "triggered".into()),
    ];
    for (what, got, want) in expect {
        assert_eq!(got, &want, "{what}");
    }

    // The account may create ProwJobs there and do nothing else.
    rt.block_on(async {
        let prow = "prow.k8s.io";
        assert!(may_in(&token, "create", prow, "prowjobs", JOBS_NS).await);
        for (verb, group, res, ns) in [
            ("get", prow, "prowjobs", JOBS_NS),
            ("list", prow, "prowjobs", JOBS_NS),
            ("delete", prow, "prowjobs", JOBS_NS),
            ("create", prow, "prowjobs", "default"),
            ("create", "", "pods", JOBS_NS),
            ("get", "", "secrets", JOBS_NS),
        ] {
            assert!(
                !may_in(&token, verb, group, res, ns).await,
                "{verb} {group}/{res} in {ns} is granted"
            );
        }
    });
    // Outside its namespace: a 403 that names the grant.
    let mut elsewhere = job.clone();
    elsewhere.repo.settings.namespace = Some("default".into());
    elsewhere.name = "5d4e5b3a-1111-4222-8333-777788889999".into();
    let e = rt
        .block_on(runner.submit(&elsewhere))
        .unwrap_err()
        .to_string();
    assert!(e.contains("403 Forbidden"), "{e}");
    assert!(
        e.contains("hint: grant create on prowjobs.prow.k8s.io"),
        "{e}"
    );
}

/// [`may`] for a resource of an API group.
async fn may_in(token: &str, verb: &str, group: &str, resource: &str, ns: &str) -> bool {
    let http = Admin::new(&world().run).http;
    let resp = http
        .post(format!(
            "{API}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": ns, "verb": verb, "group": group,
                "resource": resource}}}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{resp:?}");
    let v: serde_json::Value = resp.json().await.unwrap();
    v["status"]["allowed"].as_bool().unwrap_or(false)
}
