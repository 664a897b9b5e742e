//! Owners: which workload a covered process belongs to (Deployment, DaemonSet, static pod …).
//!
//! Coverage is grouped per owner, so the owner of every process must be stable across pods,
//! nodes and restarts. The older tool guessed it from the pod name alone and got several
//! cases wrong (`../shared/specs/seed-system.md` §6.4 and §14 item 12): static pods became
//! one StatefulSet per node, CronJob pods became Deployments, Job pods became DaemonSets,
//! and Deployment pods with an all-digit suffix became StatefulSets. This module fixes those
//! cases and prefers the pod's controller `ownerReference` whenever the collector recorded it.
//!
//! [`infer_owners`] reads a whole collection at once, because one ambiguous case (rule 9)
//! needs evidence from other pods; [`infer_owner`] reads a single process as if it were the
//! whole collection.
//!
//! # Rules, in the order they are tried
//!
//! The first rule that matches decides. "Generated" means made only of the characters
//! Kubernetes uses for generated names, [`GENERATED_ALPHABET`] (`bcdfghjklmnpqrstvwxz2456789`:
//! no vowels, no `0`, `1`, `3`), which tells generated suffixes from words such as `daemon`
//! or `agent`.
//!
//! 1. **Host process** (`is_host`): `Host`, named after the binary (else the pod name, else
//!    the hostname). Example: the kubelet scanned through `_host_/` → `Host/kubelet`.
//! 2. **ownerReference** (when `owner_ref` is `Some` with a non-empty kind and name; it should
//!    be the *controller* reference, `controller: true`):
//!    - `ReplicaSet` named `<deploy>-<hash>` (hash: 6–10 generated characters) →
//!      `Deployment <deploy>`; any other ReplicaSet name stays `ReplicaSet`.
//!      `ReplicaSet console-7d9f8b6c4` → `Deployment/console`.
//!    - `Job` named `<cronjob>-<8 or more digits>` (the scheduled minute) → `CronJob
//!      <cronjob>`; other Jobs stay `Job`. `Job collect-profiles-29384760` →
//!      `CronJob/collect-profiles`.
//!    - `Node` (mirror pods of static pods are owned by their node) → `StaticPod`, named
//!      after the pod without its `-<node>` suffix.
//!    - `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob` → that kind and name.
//!    - any other kind → `Other(kind)` with the reference's name.
//!
//! Without an ownerReference the pod name (and the node it ran on, `hostname`) decide:
//!
//! 3. **Installer and pruner pods on a node**: `<base>-<N>[-retry-<M>]-<node>`, where `<base>`
//!    is `installer` or `pruner` or ends in `-installer` or `-pruner`, and `<node>` is the
//!    hostname → `Job <base>`. Revisions and nodes are dropped from the name so that every
//!    run of one operator's installer merges into one owner. `installer-7-master-1` on
//!    `master-1` → `Job/installer`; `revision-pruner-10-master-0` → `Job/revision-pruner`.
//! 4. **Static pods**: `<name>-<node>`, where `<node>` is the hostname (or its first DNS
//!    label, when the pod carries the full node name and the producer recorded the short
//!    hostname, or the other way round) → `StaticPod <name>`. Node names often end in
//!    digits (`master-0`), so this comes before the StatefulSet rule. `etcd-master-0` on `master-0`
//!    → `StaticPod/etcd`; `kube-apiserver-ip-10-0-1-23.ec2.internal` on
//!    `ip-10-0-1-23.ec2.internal` → `StaticPod/kube-apiserver`.
//! 5. **CronJob pods**: `<name>-<T>-<s>`, where `<T>` is 8 or more digits and `<s>` 5 lowercase
//!    letters or digits → `CronJob <name>`. `<T>` must contain a digit 0–3: a pod-template
//!    hash can only contain the digits 4–9 (Kubernetes encodes the decimal hash through
//!    [`GENERATED_ALPHABET`]), while scheduled minutes start with 2 or 3 until the year 2046.
//!    `collect-profiles-29384760-x7k2p` → `CronJob/collect-profiles`.
//! 6. **Deployment pods**: `<name>-<hash>-<s>`, where `<hash>` is 6–10 generated characters and
//!    `<s>` 5 lowercase letters or digits (an all-digit `<s>` is not an ordinal here) →
//!    `Deployment <name>`. `console-7d9f8b6c4-x2x9z` → `Deployment/console`;
//!    `router-default-5f9d8c7b6-24567` → `Deployment/router-default`.
//! 7. **Installer and pruner pods, node unknown**: `<base>-<N>[-retry-<M>]-<anything>` with
//!    `<base>` as in rule 3 → `Job <base>` (the hostname was missing or did not match).
//! 8. **StatefulSet pods**: `<name>-<ordinal>`, the ordinal being a decimal number of at most 4
//!    digits without a leading zero → `StatefulSet <name>`. `prometheus-k8s-0` →
//!    `StatefulSet/prometheus-k8s`. A 5-digit suffix is never an ordinal: it is a generated
//!    suffix (rule 9) when all its digits are in the alphabet, else rule 10 applies.
//! 9. **DaemonSet or Job**: `<name>-<s>` with `<s>` 5 generated characters. Both controllers
//!    name their pods this way, so the collection decides, per namespace and `<name>`:
//!    - `<name>` seen on **two or more nodes** → `DaemonSet <name>`
//!      (`ovnkube-node-9xk4t`, `ovnkube-node-b7q2m`, … on three nodes);
//!    - otherwise, a `-`-separated word of `<name>` is a job hint ([`JOB_HINTS`]: `job`,
//!      `migration`, `backup`, …) → `Job <name>` (`db-migration-x7k2p`);
//!    - otherwise, the collection spans two or more nodes (counting every origin's
//!      hostname, host processes included) → `Job <name>`: a DaemonSet runs the same image
//!      on every node it targets, so its coverage shows up on more than one;
//!    - otherwise (a single-node collection, e.g. single-node OpenShift) → `DaemonSet
//!      <name>`: long-running per-node agents are what the producer mostly sees, Jobs
//!      usually exit between two polls.
//! 10. **Anything else** → `Pod`, named after the pod itself (the older tool left the name
//!     empty, which merged every bare pod of a namespace into one owner).
//!
//! # Limits
//!
//! Name rules are guesses; an ownerReference is the only exact source. Known misreadings:
//! a DaemonSet whose `nodeSelector` picks a single node of a multi-node cluster, or whose
//! pods were collected on one node only, reads as a Job (rule 9); a Job on a single-node
//! collection reads as a DaemonSet unless its name has a job hint; a plain Job named
//! `<name>-<8+ digits>` reads as a CronJob; a bare pod named `<name>-<number>` reads as a
//! StatefulSet; a bare pod named `<x>-<node>` reads as a static pod (operator guard pods
//! such as `etcd-guard-master-0` do, and are grouped per name, which is what one wants).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The characters Kubernetes uses for generated name suffixes and pod-template hashes
/// (`k8s.io/apimachinery/pkg/util/rand`): no vowels and no `0`, `1`, `3`, so that generated
/// strings never spell words.
pub const GENERATED_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

/// Words of a pod-name prefix that make an ambiguous `<name>-<5 chars>` pod a Job (rule 9).
pub const JOB_HINTS: &[&str] = &[
    "job",
    "jobs",
    "cronjob",
    "installer",
    "pruner",
    "prune",
    "migrate",
    "migration",
    "migrations",
    "migrator",
    "backup",
    "restore",
    "cleanup",
    "bootstrap",
    "setup",
    "hook",
    "upgrade",
    "batch",
    "oneshot",
];

/// Where one covered process ran, as far as owner inference needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodOrigin {
    /// Kubernetes namespace; empty for host processes.
    pub namespace: String,
    /// Pod name; for host processes the producer puts the hostname here.
    pub pod_name: String,
    /// Container name.
    pub container: String,
    /// The node the process ran on (the kubelet's hostname in the producer's layout).
    pub hostname: String,
    /// The covered binary's name.
    pub binary: String,
    /// The pod's controller ownerReference as `(kind, name)`, when the collector recorded it.
    pub owner_ref: Option<(String, String)>,
    /// True for processes found by the host scan (`_host_/`) rather than in a pod.
    pub is_host: bool,
}

/// The kind of workload that owns a process.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OwnerKind {
    /// A Deployment (through its ReplicaSet).
    Deployment,
    /// A ReplicaSet that no Deployment manages.
    ReplicaSet,
    /// A StatefulSet.
    StatefulSet,
    /// A DaemonSet.
    DaemonSet,
    /// A Job that no CronJob created (including operator installer and pruner pods).
    Job,
    /// A CronJob (through the Job it created).
    CronJob,
    /// A static pod, defined by a manifest on the node (etcd, kube-apiserver …).
    StaticPod,
    /// A pod without an owner.
    Pod,
    /// A process on the host, outside any pod.
    Host,
    /// An ownerReference kind this module does not know, as given.
    Other(String),
}

impl OwnerKind {
    /// The kind's name: the Kubernetes kind, `StaticPod`, `Pod`, `Host`, or the `Other` kind.
    /// [`OwnerKind::from`] reads it back.
    pub fn as_str(&self) -> &str {
        match self {
            OwnerKind::Deployment => "Deployment",
            OwnerKind::ReplicaSet => "ReplicaSet",
            OwnerKind::StatefulSet => "StatefulSet",
            OwnerKind::DaemonSet => "DaemonSet",
            OwnerKind::Job => "Job",
            OwnerKind::CronJob => "CronJob",
            OwnerKind::StaticPod => "StaticPod",
            OwnerKind::Pod => "Pod",
            OwnerKind::Host => "Host",
            OwnerKind::Other(kind) => kind,
        }
    }
}

impl From<&str> for OwnerKind {
    /// Reads a name written by [`OwnerKind::as_str`]; unknown names become `Other`.
    fn from(kind: &str) -> OwnerKind {
        match kind {
            "Deployment" => OwnerKind::Deployment,
            "ReplicaSet" => OwnerKind::ReplicaSet,
            "StatefulSet" => OwnerKind::StatefulSet,
            "DaemonSet" => OwnerKind::DaemonSet,
            "Job" => OwnerKind::Job,
            "CronJob" => OwnerKind::CronJob,
            "StaticPod" => OwnerKind::StaticPod,
            "Pod" => OwnerKind::Pod,
            "Host" => OwnerKind::Host,
            other => OwnerKind::Other(other.to_string()),
        }
    }
}

impl fmt::Display for OwnerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The workload a process belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Owner {
    /// Its kind.
    pub kind: OwnerKind,
    /// Its name (a Deployment's name, a static pod's name without the node, a host binary …).
    pub name: String,
}

impl Owner {
    /// An owner of `kind` named `name`.
    pub fn new(kind: OwnerKind, name: impl Into<String>) -> Owner {
        Owner {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for Owner {
    /// `Kind/name`, e.g. `Deployment/console`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// The owner of every origin, in input order, using the whole collection as evidence for the
/// DaemonSet/Job case (rule 9 of the [module docs](self)).
pub fn infer_owners(origins: &[PodOrigin]) -> Vec<Owner> {
    let readings: Vec<Reading> = origins.iter().map(read_origin).collect();

    let collection_nodes: BTreeSet<&str> = origins
        .iter()
        .map(|o| o.hostname.as_str())
        .filter(|h| !h.is_empty())
        .collect();
    let mut spread: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for (origin, reading) in origins.iter().zip(&readings) {
        if let Reading::Generated(prefix) = reading {
            let nodes = spread
                .entry((origin.namespace.as_str(), prefix.as_str()))
                .or_default();
            if !origin.hostname.is_empty() {
                nodes.insert(origin.hostname.as_str());
            }
        }
    }

    origins
        .iter()
        .zip(&readings)
        .map(|(origin, reading)| match reading {
            Reading::Known(owner) => owner.clone(),
            Reading::Generated(prefix) => {
                let nodes = spread
                    .get(&(origin.namespace.as_str(), prefix.as_str()))
                    .map_or(0, BTreeSet::len);
                let kind = if nodes >= 2 {
                    OwnerKind::DaemonSet
                } else if has_job_hint(prefix) || collection_nodes.len() >= 2 {
                    OwnerKind::Job
                } else {
                    OwnerKind::DaemonSet
                };
                Owner::new(kind, prefix.clone())
            }
        })
        .collect()
}

/// The owner of one origin, read as if it were the whole collection: an ambiguous
/// `<name>-<5 chars>` pod is a Job when its name has a job hint, else a DaemonSet.
pub fn infer_owner(origin: &PodOrigin) -> Owner {
    infer_owners(std::slice::from_ref(origin))
        .pop()
        .unwrap_or_else(|| Owner::new(OwnerKind::Pod, origin.pod_name.clone()))
}

/// What one origin says on its own.
enum Reading {
    /// Decided without looking at other pods.
    Known(Owner),
    /// `<prefix>-<5 generated chars>`: a DaemonSet or a Job.
    Generated(String),
}

fn read_origin(origin: &PodOrigin) -> Reading {
    if origin.is_host {
        let name = [&origin.binary, &origin.pod_name, &origin.hostname]
            .into_iter()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_default();
        return Reading::Known(Owner::new(OwnerKind::Host, name));
    }
    if let Some((kind, name)) = &origin.owner_ref {
        if !kind.is_empty() && !name.is_empty() {
            return Reading::Known(from_owner_ref(kind, name, &origin.pod_name));
        }
    }
    read_pod_name(&origin.pod_name, &origin.hostname)
}

fn from_owner_ref(kind: &str, name: &str, pod_name: &str) -> Owner {
    match kind {
        "ReplicaSet" => match strip_template_hash(name) {
            Some(deployment) => Owner::new(OwnerKind::Deployment, deployment),
            None => Owner::new(OwnerKind::ReplicaSet, name),
        },
        "Job" => match strip_schedule(name) {
            Some(cronjob) => Owner::new(OwnerKind::CronJob, cronjob),
            None => Owner::new(OwnerKind::Job, name),
        },
        "Node" => {
            let static_name = strip_node(pod_name, name).unwrap_or(pod_name);
            Owner::new(OwnerKind::StaticPod, static_name)
        }
        "Deployment" => Owner::new(OwnerKind::Deployment, name),
        "StatefulSet" => Owner::new(OwnerKind::StatefulSet, name),
        "DaemonSet" => Owner::new(OwnerKind::DaemonSet, name),
        "CronJob" => Owner::new(OwnerKind::CronJob, name),
        other => Owner::new(OwnerKind::Other(other.to_string()), name),
    }
}

/// Rules 3 to 10, except the cross-pod part of rule 9.
fn read_pod_name(pod: &str, hostname: &str) -> Reading {
    let known = |kind, name: &str| Reading::Known(Owner::new(kind, name));

    if let Some(prefix) = strip_node(pod, hostname) {
        return match installer_base(prefix, true) {
            Some(base) => known(OwnerKind::Job, base),
            None => known(OwnerKind::StaticPod, prefix),
        };
    }
    if let Some((head, suffix)) = split_last(pod) {
        if suffix.len() == 5 && is_lower_alnum(suffix) {
            if let Some((name, middle)) = split_last(head) {
                let schedule_like = middle.len() >= 8
                    && is_digits(middle)
                    && middle.bytes().any(|b| matches!(b, b'0'..=b'3'));
                if schedule_like {
                    return known(OwnerKind::CronJob, name);
                }
                if is_template_hash(middle) {
                    return known(OwnerKind::Deployment, name);
                }
            }
        }
    }
    if let Some(base) = installer_base(pod, false) {
        return known(OwnerKind::Job, base);
    }
    if let Some((head, suffix)) = split_last(pod) {
        let ordinal =
            suffix.len() <= 4 && is_digits(suffix) && (suffix == "0" || !suffix.starts_with('0'));
        if ordinal {
            return known(OwnerKind::StatefulSet, head);
        }
        if suffix.len() == 5 && is_generated(suffix) {
            return Reading::Generated(head.to_string());
        }
    }
    known(OwnerKind::Pod, pod)
}

/// `<name>` of `<name>-<node>`, where `<node>` is `node`, or one of the two is the other's
/// first DNS label (pods carry the node name, the producer records `os.Hostname()`).
fn strip_node<'a>(pod: &'a str, node: &str) -> Option<&'a str> {
    let node = node.trim().to_ascii_lowercase();
    if node.is_empty() {
        return None;
    }
    let short = node.split('.').next().unwrap_or(&node);
    for candidate in [node.as_str(), short] {
        if let Some(prefix) = pod.strip_suffix(candidate).and_then(non_empty_before_dash) {
            return Some(prefix);
        }
    }
    // The pod has the fully qualified node name, the hostname is its first label.
    let marker = format!("-{short}.");
    let at = pod.rfind(&marker)?;
    let domain = &pod[at + marker.len()..];
    let domain_like = !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    (at > 0 && domain_like).then(|| &pod[..at])
}

/// `x` of `x-`, when `x` is not empty.
fn non_empty_before_dash(s: &str) -> Option<&str> {
    s.strip_suffix('-').filter(|p| !p.is_empty())
}

/// `<base>` of `<base>-<N>[-retry-<M>]` followed by nothing (`exact`) or by `-<anything>`.
/// `<base>` is `installer` or `pruner` or ends in `-installer` or `-pruner`.
fn installer_base(name: &str, exact: bool) -> Option<&str> {
    let words: Vec<&str> = name.split('-').collect();
    for i in 1..words.len() {
        if !matches!(words[i - 1], "installer" | "pruner") || !is_digits(words[i]) {
            continue;
        }
        let mut end = i + 1;
        if words.get(end) == Some(&"retry") && words.get(end + 1).is_some_and(|w| is_digits(w)) {
            end += 2;
        }
        let rest_ok = if exact {
            end == words.len()
        } else {
            end < words.len()
        };
        if rest_ok {
            let base_len = words[..i].iter().map(|w| w.len() + 1).sum::<usize>() - 1;
            return Some(&name[..base_len]);
        }
    }
    None
}

/// `<deploy>` of a ReplicaSet name `<deploy>-<pod-template-hash>`.
fn strip_template_hash(name: &str) -> Option<&str> {
    split_last(name)
        .filter(|(_, hash)| is_template_hash(hash))
        .map(|(deployment, _)| deployment)
}

/// `<cronjob>` of a Job name `<cronjob>-<scheduled minute>`.
fn strip_schedule(name: &str) -> Option<&str> {
    split_last(name)
        .filter(|(_, time)| time.len() >= 8 && is_digits(time))
        .map(|(cronjob, _)| cronjob)
}

fn is_template_hash(s: &str) -> bool {
    (6..=10).contains(&s.len()) && is_generated(s)
}

fn has_job_hint(prefix: &str) -> bool {
    prefix.split('-').any(|word| JOB_HINTS.contains(&word))
}

/// Splits at the last `-`, when both sides are non-empty.
fn split_last(s: &str) -> Option<(&str, &str)> {
    s.rsplit_once('-')
        .filter(|(head, tail)| !head.is_empty() && !tail.is_empty())
}

fn is_generated(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| GENERATED_ALPHABET.as_bytes().contains(&b))
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_lower_alnum(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(namespace: &str, name: &str, node: &str) -> PodOrigin {
        PodOrigin {
            namespace: namespace.to_string(),
            pod_name: name.to_string(),
            container: "c".to_string(),
            hostname: node.to_string(),
            binary: "bin".to_string(),
            owner_ref: None,
            is_host: false,
        }
    }

    fn owned(mut origin: PodOrigin, kind: &str, name: &str) -> PodOrigin {
        origin.owner_ref = Some((kind.to_string(), name.to_string()));
        origin
    }

    fn one(name: &str, node: &str) -> String {
        infer_owner(&pod("ns", name, node)).to_string()
    }

    #[test]
    fn host_processes_are_named_after_their_binary() {
        let mut kubelet = pod("", "master-0", "master-0");
        kubelet.is_host = true;
        kubelet.binary = "kubelet".to_string();
        assert_eq!(infer_owner(&kubelet).to_string(), "Host/kubelet");
        kubelet.binary.clear();
        assert_eq!(infer_owner(&kubelet).to_string(), "Host/master-0");
    }

    #[test]
    fn owner_references_win_over_names() {
        let cases = [
            ("ReplicaSet", "console-7d9f8b6c4", "Deployment/console"),
            ("ReplicaSet", "hand-made", "ReplicaSet/hand-made"),
            (
                "Job",
                "collect-profiles-29384760",
                "CronJob/collect-profiles",
            ),
            ("Job", "db-migration", "Job/db-migration"),
            ("Job", "build-1234", "Job/build-1234"),
            ("DaemonSet", "ovnkube-node", "DaemonSet/ovnkube-node"),
            (
                "StatefulSet",
                "prometheus-k8s",
                "StatefulSet/prometheus-k8s",
            ),
            ("Deployment", "x", "Deployment/x"),
            ("CronJob", "x", "CronJob/x"),
            (
                "ReplicationController",
                "router-1",
                "ReplicationController/router-1",
            ),
        ];
        for (kind, name, want) in cases {
            // A name that the name rules would read differently.
            let origin = owned(pod("ns", "prometheus-k8s-0", "master-0"), kind, name);
            assert_eq!(infer_owner(&origin).to_string(), want, "{kind} {name}");
        }
        assert_eq!(
            infer_owner(&owned(pod("ns", "foo", "n"), "Weird", "w")).kind,
            OwnerKind::Other("Weird".to_string())
        );
    }

    #[test]
    fn mirror_pods_owned_by_their_node_are_static_pods() {
        let origin = owned(
            pod("openshift-etcd", "etcd-master-0", "master-0"),
            "Node",
            "master-0",
        );
        assert_eq!(infer_owner(&origin).to_string(), "StaticPod/etcd");
        let other_node = owned(pod("ns", "odd", "n"), "Node", "n2");
        assert_eq!(infer_owner(&other_node).to_string(), "StaticPod/odd");
    }

    #[test]
    fn empty_owner_reference_falls_back_to_names() {
        let origin = owned(pod("ns", "prometheus-k8s-0", "worker-1"), "", "");
        assert_eq!(
            infer_owner(&origin).to_string(),
            "StatefulSet/prometheus-k8s"
        );
    }

    #[test]
    fn static_pods_on_nodes_ending_in_digits_are_not_statefulsets() {
        // The older tool read these as "StatefulSet etcd-master" (one owner per node).
        assert_eq!(one("etcd-master-0", "master-0"), "StaticPod/etcd");
        assert_eq!(
            one("kube-controller-manager-master-2", "master-2"),
            "StaticPod/kube-controller-manager"
        );
        assert_eq!(
            one(
                "kube-apiserver-ip-10-0-1-23.ec2.internal",
                "ip-10-0-1-23.ec2.internal"
            ),
            "StaticPod/kube-apiserver"
        );
        assert_eq!(
            one("etcd-guard-master-0", "master-0"),
            "StaticPod/etcd-guard"
        );
    }

    #[test]
    fn static_pods_match_short_and_full_node_names() {
        // The pod has the full node name, the producer recorded the short hostname.
        assert_eq!(
            one("kube-apiserver-ip-10-0-1-23.ec2.internal", "ip-10-0-1-23"),
            "StaticPod/kube-apiserver"
        );
        // The pod has the short node name, the hostname is fully qualified.
        assert_eq!(
            one("kube-scheduler-master-0", "master-0.ocp.example.com"),
            "StaticPod/kube-scheduler"
        );
        assert_eq!(one("etcd-master-0", "MASTER-0"), "StaticPod/etcd");
        // Another node's static pod name is not a static pod of this node.
        assert_eq!(one("etcd-master-0", "master-1"), "StatefulSet/etcd-master");
        // The node name alone is not a static pod.
        assert_eq!(one("master-0", "master-0"), "StatefulSet/master");
    }

    #[test]
    fn installer_and_pruner_pods_are_jobs_not_statefulsets() {
        assert_eq!(one("installer-7-master-1", "master-1"), "Job/installer");
        assert_eq!(
            one("installer-12-retry-2-master-0", "master-0"),
            "Job/installer"
        );
        assert_eq!(
            one("revision-pruner-10-master-0", "master-0"),
            "Job/revision-pruner"
        );
        assert_eq!(
            one(
                "installer-3-ip-10-0-1-23.ec2.internal",
                "ip-10-0-1-23.ec2.internal"
            ),
            "Job/installer"
        );
        // Without a known node the installer shape alone decides.
        assert_eq!(one("installer-7-master-1", ""), "Job/installer");
        assert_eq!(
            one("revision-pruner-10-master-0", "worker-9"),
            "Job/revision-pruner"
        );
    }

    #[test]
    fn cronjob_pods_are_cronjobs_not_deployments() {
        assert_eq!(
            one("collect-profiles-29384760-x7k2p", "worker-0"),
            "CronJob/collect-profiles"
        );
        assert_eq!(
            one("image-pruner-29384700-abcde", "worker-0"),
            "CronJob/image-pruner"
        );
        // A pod-template hash made only of the digits 4-9 is a Deployment.
        assert_eq!(one("api-45678945-x7k2p", "worker-0"), "Deployment/api");
    }

    #[test]
    fn deployment_pods_with_an_all_digit_suffix_are_not_statefulsets() {
        assert_eq!(
            one("console-7d9f8b6c4-x2x9z", "worker-0"),
            "Deployment/console"
        );
        assert_eq!(
            one("router-default-5f9d8c7b6-24567", "worker-0"),
            "Deployment/router-default"
        );
        assert_eq!(
            one("router-default-5f9d8c7b6-12345", "worker-0"),
            "Deployment/router-default"
        );
        assert_eq!(
            one("cluster-version-operator-6b5c8f4d9b-jq7mw", "master-0"),
            "Deployment/cluster-version-operator"
        );
    }

    #[test]
    fn words_are_not_template_hashes() {
        // "daemon" has vowels: this is a DaemonSet pod, not Deployment "machine-config".
        assert_eq!(
            one("machine-config-daemon-x7k2p", "worker-0"),
            "DaemonSet/machine-config-daemon"
        );
    }

    #[test]
    fn statefulset_ordinals() {
        assert_eq!(
            one("prometheus-k8s-0", "worker-0"),
            "StatefulSet/prometheus-k8s"
        );
        assert_eq!(
            one("alertmanager-main-1", "worker-0"),
            "StatefulSet/alertmanager-main"
        );
        assert_eq!(one("kafka-1234", "worker-0"), "StatefulSet/kafka");
        // Leading zeros and non-generated five-digit numbers are not ordinals.
        assert_eq!(one("build-007", "worker-0"), "Pod/build-007");
        assert_eq!(one("foo-12345", "worker-0"), "Pod/foo-12345");
    }

    #[test]
    fn pods_without_a_recognisable_owner_keep_their_name() {
        assert_eq!(one("debug-shell", "worker-0"), "Pod/debug-shell");
        assert_eq!(one("standalone", "worker-0"), "Pod/standalone");
        assert_eq!(one("", "worker-0"), "Pod/");
    }

    #[test]
    fn daemonset_pods_seen_on_several_nodes() {
        let origins = [
            pod("openshift-ovn-kubernetes", "ovnkube-node-9xk4t", "master-0"),
            pod("openshift-ovn-kubernetes", "ovnkube-node-b7q2m", "master-1"),
            pod("openshift-ovn-kubernetes", "ovnkube-node-zz4k8", "worker-0"),
        ];
        let owners = infer_owners(&origins);
        assert!(owners
            .iter()
            .all(|o| o.to_string() == "DaemonSet/ovnkube-node"));
    }

    #[test]
    fn job_pods_seen_on_one_node_of_many() {
        let origins = [
            pod("openshift-ovn-kubernetes", "ovnkube-node-9xk4t", "master-0"),
            pod("openshift-ovn-kubernetes", "ovnkube-node-b7q2m", "master-1"),
            pod("reports", "report-gen-cx2f9", "master-1"),
        ];
        let owners = infer_owners(&origins);
        assert_eq!(owners[0].to_string(), "DaemonSet/ovnkube-node");
        assert_eq!(owners[2].to_string(), "Job/report-gen");
    }

    #[test]
    fn same_prefix_in_other_namespaces_is_other_evidence() {
        let origins = [pod("a", "agent-9xk4t", "n1"), pod("b", "agent-b7q2m", "n2")];
        let owners = infer_owners(&origins);
        assert_eq!(owners[0].to_string(), "Job/agent");
        assert_eq!(owners[1].to_string(), "Job/agent");
    }

    #[test]
    fn single_node_collections_read_generated_pods_as_daemonsets_unless_hinted() {
        let origins = [
            pod("openshift-dns", "dns-default-x7k2p", "sno-0"),
            pod("app", "db-migration-x7k2p", "sno-0"),
            pod("app", "nightly-backup-job-q2w4r", "sno-0"),
        ];
        let owners = infer_owners(&origins);
        assert_eq!(owners[0].to_string(), "DaemonSet/dns-default");
        assert_eq!(owners[1].to_string(), "Job/db-migration");
        assert_eq!(owners[2].to_string(), "Job/nightly-backup-job");
    }

    #[test]
    fn host_nodes_count_towards_the_collection_spread() {
        let mut host = pod("", "master-1", "master-1");
        host.is_host = true;
        host.binary = "kubelet".to_string();
        let owners = infer_owners(&[pod("ns", "oneoff-x7k2p", "master-0"), host]);
        assert_eq!(owners[0].to_string(), "Job/oneoff");
        assert_eq!(owners[1].to_string(), "Host/kubelet");
    }

    #[test]
    fn a_mixed_openshift_collection() {
        let mut kubelet = pod("", "master-0", "master-0");
        kubelet.is_host = true;
        kubelet.binary = "kubelet".to_string();
        let origins = vec![
            pod("openshift-etcd", "etcd-master-0", "master-0"),
            pod("openshift-etcd", "etcd-master-1", "master-1"),
            pod(
                "openshift-kube-apiserver",
                "kube-apiserver-ip-10-0-1-23.ec2.internal",
                "ip-10-0-1-23.ec2.internal",
            ),
            pod(
                "openshift-kube-apiserver",
                "installer-7-master-1",
                "master-1",
            ),
            pod(
                "openshift-operator-lifecycle-manager",
                "collect-profiles-29384760-x7k2p",
                "master-0",
            ),
            pod("openshift-ovn-kubernetes", "ovnkube-node-9xk4t", "master-0"),
            pod("openshift-ovn-kubernetes", "ovnkube-node-b7q2m", "master-1"),
            pod("openshift-ovn-kubernetes", "ovnkube-node-zz4k8", "worker-0"),
            pod("openshift-console", "console-7d9f8b6c4-x2x9z", "master-1"),
            pod("openshift-monitoring", "prometheus-k8s-0", "worker-0"),
            pod(
                "openshift-image-registry",
                "image-pruner-29384700-abcde",
                "worker-0",
            ),
            pod(
                "openshift-ingress",
                "router-default-5f9d8c7b6-12345",
                "worker-0",
            ),
            kubelet,
        ];
        let got: Vec<String> = infer_owners(&origins)
            .iter()
            .map(Owner::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "StaticPod/etcd",
                "StaticPod/etcd",
                "StaticPod/kube-apiserver",
                "Job/installer",
                "CronJob/collect-profiles",
                "DaemonSet/ovnkube-node",
                "DaemonSet/ovnkube-node",
                "DaemonSet/ovnkube-node",
                "Deployment/console",
                "StatefulSet/prometheus-k8s",
                "CronJob/image-pruner",
                "Deployment/router-default",
                "Host/kubelet",
            ]
        );
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        let kinds = [
            OwnerKind::Deployment,
            OwnerKind::ReplicaSet,
            OwnerKind::StatefulSet,
            OwnerKind::DaemonSet,
            OwnerKind::Job,
            OwnerKind::CronJob,
            OwnerKind::StaticPod,
            OwnerKind::Pod,
            OwnerKind::Host,
            OwnerKind::Other("DeploymentConfig".to_string()),
        ];
        for kind in kinds {
            assert_eq!(OwnerKind::from(kind.as_str()), kind);
        }
    }

    #[test]
    fn generated_alphabet_has_no_vowels_and_no_confusable_digits() {
        for c in "aeiouy013".chars() {
            assert!(!GENERATED_ALPHABET.contains(c), "{c}");
        }
        assert_eq!(GENERATED_ALPHABET.len(), 27);
    }

    #[test]
    fn empty_collection() {
        assert!(infer_owners(&[]).is_empty());
    }
}
