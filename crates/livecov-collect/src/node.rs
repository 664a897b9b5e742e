//! Node mode (`livecov collect --node`, one collector per node in a DaemonSet): the
//! coverage servers of the node's processes, found in `/proc` ([`crate::procnet`]) and
//! named after the pods the API server lists for the node ([`crate::kube::node_containers`]),
//! reached directly, as the deployed producer does (`specs/seed-system.md` §11.3).
//!
//! Per round: every process with a listening TCP socket on a candidate port (53700–53799,
//! its `COVERAGE_PORT`, or a coverage port its pod spec declares) is matched by its
//! cgroup's container id to a container of the node's pods; the port is then confirmed
//! with `GET /health` (`X-Art-Coverage-Server: 1`). A matched process is a pod target
//! (namespace, pod, container, image, owner, node recorded); a process in no pod of the
//! node is a host process. The address asked is the one the socket is bound to; for a
//! socket bound to every address, the pod's IP, or 127.0.0.1 for host processes and
//! hostNetwork pods (the DaemonSet runs in the node's network).
//!
//! When the API cannot be asked, host processes are still collected and processes in
//! containers are left for a later round (recording them as host processes would file
//! a pod's coverage under the node); so is a process whose cgroup is under `kubepods`
//! but whose container the node's pods do not list yet. A container outside `kubepods`
//! (docker or podman on the node) is a host process.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;

use futures::stream::{self, StreamExt};

use crate::kube::{self, Connection, NodeContainer};
use crate::live::{Client, Target};
use crate::procnet::{self, Process};

/// Where node mode looks.
#[derive(Clone, Debug)]
pub struct NodeSettings {
    /// The node's name as the API knows it (`spec.nodeName` of its pods). Default: the
    /// `NODE_NAME` environment variable (the manifests set it from `spec.nodeName`),
    /// else the host name.
    pub node_name: Option<String>,
    /// Where the node's processes are: `/proc` (with `hostPID: true`). Default `/proc`.
    pub proc_root: PathBuf,
    /// Credentials and timeout for the API server (kubeconfig or in-cluster).
    pub kube: kube::KubeSettings,
    /// Requests in flight at once when confirming ports. Default: 16.
    pub concurrency: usize,
}

impl Default for NodeSettings {
    fn default() -> NodeSettings {
        NodeSettings {
            node_name: None,
            proc_root: PathBuf::from("/proc"),
            kube: kube::KubeSettings::default(),
            concurrency: 16,
        }
    }
}

impl NodeSettings {
    /// The node name: [`NodeSettings::node_name`], `NODE_NAME`, else the host name.
    pub fn resolved_node_name(&self) -> String {
        if let Some(n) = self.node_name.clone().filter(|n| !n.is_empty()) {
            return n;
        }
        if let Some(n) = std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()) {
            return n;
        }
        std::fs::read_to_string(self.proc_root.join("sys/kernel/hostname"))
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// What one round of node discovery found.
#[derive(Debug, Default)]
pub struct NodeRound {
    /// Confirmed coverage servers, sorted.
    pub targets: Vec<Target>,
    /// Candidate ports that did not answer as coverage servers (`url (pid P, comm)`).
    pub unconfirmed: Vec<String>,
    /// Processes in containers left out: the API could not be asked, or does not list
    /// their (kubepods) container on this node yet.
    pub unmatched: usize,
    /// Problems: the API server's error, `/proc` lines that did not parse.
    pub problems: Vec<String>,
}

/// One round: reads `/proc`, lists the node's pods through `conn` (when given), and
/// confirms each candidate port with `client`.
pub async fn discover(
    settings: &NodeSettings,
    node: &str,
    conn: Option<&Connection>,
    client: &Client,
) -> NodeRound {
    let mut round = NodeRound::default();
    let (processes, warnings) = procnet::scan(&settings.proc_root);
    round
        .problems
        .extend(warnings.iter().map(ToString::to_string));
    let containers: Option<BTreeMap<String, NodeContainer>> = match conn {
        None => None,
        Some(conn) => match kube::node_containers(conn, settings.kube.timeout, node).await {
            Ok(list) => Some(list.into_iter().map(|c| (c.id.clone(), c)).collect()),
            Err(e) => {
                round
                    .problems
                    .push(format!("listing the pods of node {node}: {e}"));
                None
            }
        },
    };
    let mut candidates: Vec<(Target, String)> = Vec::new();
    for p in &processes {
        let container = match (&p.container_id, &containers) {
            (None, _) => None,
            (Some(id), Some(map)) => match map.get(id) {
                Some(c) => Some(c),
                // A pod's container the API does not list yet (or on another node's
                // list): left for a later round, never filed under the node.
                None if p.in_kubepods => {
                    round.unmatched += 1;
                    continue;
                }
                // A container of no pod (docker, podman on the node): a host process.
                None => None,
            },
            (Some(_), None) => {
                round.unmatched += 1;
                continue;
            }
        };
        for t in candidates_of(p, container) {
            candidates.push((t, format!("pid {}, {}", p.pid, p.comm)));
        }
    }
    candidates.sort();
    candidates.dedup_by(|a, b| a.0.url == b.0.url);
    let probed: Vec<(Target, String, bool)> = stream::iter(candidates)
        .map(|(t, who)| async move {
            let ok = client.probe(&t).await.is_ok();
            (t, who, ok)
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    for (t, who, ok) in probed {
        if ok {
            round.targets.push(t);
        } else {
            round.unconfirmed.push(format!("{} ({who})", t.url));
        }
    }
    round.targets.sort();
    round.unconfirmed.sort();
    round
}

/// The targets to confirm for one process.
fn candidates_of(p: &Process, container: Option<&NodeContainer>) -> Vec<Target> {
    let mut ports: BTreeSet<u16> = kube::PORT_RANGE.collect();
    ports.extend(p.coverage_port);
    if let Some(c) = container {
        ports.extend(c.ports.iter().copied());
    }
    let mut out = Vec::new();
    for l in &p.listeners {
        if !ports.contains(&l.port) {
            continue;
        }
        let Some(host) = address(l.addr, container) else {
            continue;
        };
        out.push(Target {
            url: format!("http://{host}:{}", l.port),
            pod: container.map(|c| c.info.clone()),
        });
    }
    out
}

/// The address to reach a socket bound to `addr` at, from the node's network; `None`
/// when it cannot be reached (loopback inside a pod's own network).
fn address(addr: IpAddr, container: Option<&NodeContainer>) -> Option<String> {
    let in_pod_netns = container.is_some_and(|c| !c.host_network);
    let host = if addr.is_unspecified() {
        match container {
            Some(c) if in_pod_netns => {
                if c.pod_ip.is_empty() {
                    return None;
                }
                c.pod_ip.clone()
            }
            _ => "127.0.0.1".to_owned(),
        }
    } else if addr.is_loopback() && in_pod_netns {
        return None;
    } else {
        addr.to_string()
    };
    Some(if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::PodInfo;
    use crate::procnet::Listener;

    fn container(ip: &str, host_network: bool, ports: Vec<u16>) -> NodeContainer {
        NodeContainer {
            id: "c".into(),
            info: PodInfo {
                pod: "p".into(),
                ..PodInfo::default()
            },
            pod_ip: ip.into(),
            host_network,
            ports,
        }
    }

    fn process(listeners: &[(&str, u16)], coverage_port: Option<u16>) -> Process {
        Process {
            pid: 7,
            comm: "svc".into(),
            container_id: None,
            in_kubepods: false,
            coverage_port,
            listeners: listeners
                .iter()
                .enumerate()
                .map(|(i, (a, port))| Listener {
                    addr: a.parse().unwrap(),
                    port: *port,
                    inode: i as u64,
                })
                .collect(),
        }
    }

    fn urls(t: Vec<Target>) -> Vec<String> {
        t.into_iter().map(|t| t.url).collect()
    }

    #[test]
    fn candidate_ports_and_the_address_each_is_reached_at() {
        let p = process(
            &[
                ("0.0.0.0", 8080),
                ("::", 53700),
                ("10.244.0.5", 53701),
                ("127.0.0.1", 53702),
                ("0.0.0.0", 9000),
                ("0.0.0.0", 40000),
            ],
            Some(9000),
        );
        // A host process: wildcard sockets at 127.0.0.1; COVERAGE_PORT counts.
        assert_eq!(
            urls(candidates_of(&p, None)),
            [
                "http://127.0.0.1:53700",
                "http://10.244.0.5:53701",
                "http://127.0.0.1:53702",
                "http://127.0.0.1:9000"
            ]
        );
        // A pod in its own network: the pod IP; its loopback is out of reach; a
        // declared port counts.
        let c = container("10.244.0.9", false, vec![40000]);
        let t = candidates_of(&p, Some(&c));
        assert_eq!(t[0].pod.as_ref().unwrap().pod, "p");
        assert_eq!(
            urls(t),
            [
                "http://10.244.0.9:53700",
                "http://10.244.0.5:53701",
                "http://10.244.0.9:9000",
                "http://10.244.0.9:40000"
            ]
        );
        // hostNetwork: like a host process, but recorded as the pod.
        let c = container("192.168.1.2", true, vec![]);
        assert_eq!(
            urls(candidates_of(&p, Some(&c)))[2],
            "http://127.0.0.1:53702"
        );
        // No pod IP yet: nothing to reach a wildcard socket at.
        let c = container("", false, vec![]);
        assert_eq!(
            urls(candidates_of(&p, Some(&c))),
            ["http://10.244.0.5:53701"]
        );
    }
}
