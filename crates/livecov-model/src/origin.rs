//! Where a reading came from: one process, and its place in the cluster.

/// The origin of one report directory (one process's coverage files), as the producer
/// writes it (`metadata.json`) and as compile reads it back: one type for both ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// Kubernetes namespace; empty for host processes.
    pub namespace: String,
    /// Pod name (the node's hostname for host processes).
    pub pod: String,
    /// Container name.
    pub container: String,
    /// Image reference as the producer recorded it.
    pub image: String,
    /// The node's hostname.
    pub hostname: String,
    /// The binary's (sanitised) name.
    pub binary: String,
    /// A process on the host network rather than in a pod.
    pub host_process: bool,
    /// When the process was discovered (RFC 3339).
    pub collected_at: String,
    /// The pod's ownerReference kind, when known (`Deployment`, `StatefulSet`…).
    pub owner_kind: String,
    /// The pod's ownerReference name, when known.
    pub owner_name: String,
    /// Labels the collector gave the snapshots (`scenario` names the E2E scenario that
    /// ran while they were taken), by key.
    pub labels: std::collections::BTreeMap<String, String>,
}
