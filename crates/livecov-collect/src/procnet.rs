//! The listening TCP sockets of a node's processes, read from `/proc`, and the container
//! each process runs in: what `livecov collect --node` finds coverage servers with, as the
//! deployed producer does (`specs/seed-system.md` §11.3), without crictl.
//!
//! - `/proc/<pid>/net/tcp` and `tcp6` list the sockets of the pid's network namespace
//!   (state `0A` is LISTEN); each namespace's tables are read once, however many pids
//!   share it.
//! - `/proc/<pid>/fd/*` links read `socket:[INODE]`: a listening socket belongs to the
//!   pids holding its inode, so two containers of one host network are told apart.
//! - `/proc/<pid>/cgroup` names the container: the last path segment that is a 64-digit
//!   hex id, bare (cgroupfs: `/kubepods/besteffort/pod…/<id>`) or in a systemd scope
//!   (`cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`,
//!   `libpod-<id>.scope`), matching `containerStatuses[].containerID` of the API.
//! - `/proc/<pid>/environ` gives `COVERAGE_PORT`, the port an agent starts from.
//!
//! Everything read is untrusted text: a line that does not parse is a [`ProcWarning`]
//! naming the file and line, and the rest goes on. Processes that end while being read
//! are left out silently (that is a race, not an error).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// TCP state LISTEN in `/proc/net/tcp`.
const LISTEN: &str = "0A";
/// The most bytes read of one `/proc` file (a tcp table of a busy node is a few MB).
const MAX_PROC_FILE: u64 = 64 << 20;

/// One listening TCP socket.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Listener {
    /// The local address (`0.0.0.0` / `::` when bound to every address).
    pub addr: IpAddr,
    /// The local port.
    pub port: u16,
    /// The socket's inode.
    pub inode: u64,
}

/// A process with listening sockets, as found in `/proc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// The pid (in the `/proc` read: the node's, with `hostPID`).
    pub pid: u32,
    /// `/proc/<pid>/comm`.
    pub comm: String,
    /// The container id from its cgroup; `None` for a host process.
    pub container_id: Option<String>,
    /// Whether its cgroup is under the kubelet's `kubepods` tree: a pod's container,
    /// even while the API does not list it yet.
    pub in_kubepods: bool,
    /// `COVERAGE_PORT` of its environment, when set to a port.
    pub coverage_port: Option<u16>,
    /// Its listening sockets, sorted. A socket several pids hold (a forked child) is
    /// given to the lowest pid only.
    pub listeners: Vec<Listener>,
}

/// A line or file of `/proc` that could not be used; the scan went on without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcWarning {
    /// The file.
    pub path: PathBuf,
    /// The line (1-based), when the problem is in one.
    pub line: Option<usize>,
    /// What was expected.
    pub why: String,
}

impl std::fmt::Display for ProcWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path.display(), self.why),
            None => write!(f, "{}: {}", self.path.display(), self.why),
        }
    }
}

/// Every process under `proc_root` (normally `/proc`) with at least one listening TCP
/// socket, sorted by pid, and what could not be read.
pub fn scan(proc_root: &Path) -> (Vec<Process>, Vec<ProcWarning>) {
    let mut warnings = Vec::new();
    let mut pids: Vec<u32> = match std::fs::read_dir(proc_root) {
        Ok(entries) => entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect(),
        Err(e) => {
            warnings.push(ProcWarning {
                path: proc_root.to_owned(),
                line: None,
                why: format!("cannot list: {e}"),
            });
            return (Vec::new(), warnings);
        }
    };
    pids.sort_unstable();
    // Listening sockets by network namespace, read once per namespace.
    let mut tables: BTreeMap<String, BTreeMap<u64, (IpAddr, u16)>> = BTreeMap::new();
    let mut claimed: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut out = Vec::new();
    for pid in pids {
        let dir = proc_root.join(pid.to_string());
        let inodes = socket_inodes(&dir);
        if inodes.is_empty() {
            continue;
        }
        // Without access to the namespace link (another user's process), the pid's own
        // view of its tables is still read; the key then is the pid.
        let netns = std::fs::read_link(dir.join("ns/net"))
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("pid:{pid}"));
        let table = tables
            .entry(netns.clone())
            .or_insert_with(|| listening(&dir.join("net"), &mut warnings));
        let mut listeners: Vec<Listener> = inodes
            .iter()
            .filter_map(|inode| {
                let (addr, port) = table.get(inode)?;
                Some(Listener {
                    addr: *addr,
                    port: *port,
                    inode: *inode,
                })
            })
            .filter(|l| claimed.insert((netns.clone(), l.inode)))
            .collect();
        if listeners.is_empty() {
            continue;
        }
        listeners.sort();
        let comm = read_small(&dir.join("comm"))
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .unwrap_or_default();
        let cgroup = read_small(&dir.join("cgroup"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let container_id = container_id(&cgroup);
        let in_kubepods = container_id.is_some() && cgroup.contains("kubepods");
        let coverage_port = read_small(&dir.join("environ"))
            .ok()
            .and_then(|b| coverage_port(&b));
        out.push(Process {
            pid,
            comm,
            container_id,
            in_kubepods,
            coverage_port,
            listeners,
        });
    }
    (out, warnings)
}

fn read_small(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_PROC_FILE)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// The socket inodes a process holds (`/proc/<pid>/fd/*` → `socket:[N]`); empty when
/// its fds cannot be read.
pub fn socket_inodes(pid_dir: &Path) -> BTreeSet<u64> {
    let Ok(fds) = std::fs::read_dir(pid_dir.join("fd")) else {
        return BTreeSet::new();
    };
    fds.flatten()
        .filter_map(|fd| {
            let link = std::fs::read_link(fd.path()).ok()?;
            let s = link.to_str()?;
            s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// The LISTEN sockets of `net_dir/tcp` and `net_dir/tcp6`, by inode.
fn listening(net_dir: &Path, warnings: &mut Vec<ProcWarning>) -> BTreeMap<u64, (IpAddr, u16)> {
    let mut out = BTreeMap::new();
    for (name, v6) in [("tcp", false), ("tcp6", true)] {
        let path = net_dir.join(name);
        // No tcp6 without IPv6: not a problem.
        let Ok(bytes) = read_small(&path) else {
            continue;
        };
        let (found, bad) = parse_tcp_table(&String::from_utf8_lossy(&bytes), v6);
        out.extend(found.into_iter().map(|l| (l.inode, (l.addr, l.port))));
        warnings.extend(bad.into_iter().map(|(line, why)| ProcWarning {
            path: path.clone(),
            line: Some(line),
            why,
        }));
    }
    out
}

/// Parses a `/proc/net/tcp` (`v6`: `tcp6`) table: its LISTEN sockets, and the lines that
/// do not parse (1-based line, what was expected). The header line is skipped.
pub fn parse_tcp_table(text: &str, v6: bool) -> (Vec<Listener>, Vec<(usize, String)>) {
    let mut found = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        match parse_tcp_line(line, v6) {
            Ok(Some(l)) => found.push(l),
            Ok(None) => {}
            Err(why) => bad.push((i + 1, why)),
        }
    }
    (found, bad)
}

/// `sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …`
fn parse_tcp_line(line: &str, v6: bool) -> Result<Option<Listener>, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 10 {
        return Err(format!(
            "expected at least 10 fields (sl local rem st … inode), got {}",
            fields.len()
        ));
    }
    if fields[3] != LISTEN {
        return Ok(None);
    }
    let (addr, port) = fields[1]
        .split_once(':')
        .ok_or_else(|| format!("local address {:?}: expected HEXADDR:HEXPORT", fields[1]))?;
    let port = u16::from_str_radix(port, 16)
        .map_err(|_| format!("local port {port:?}: expected 4 hex digits"))?;
    let addr = parse_addr(addr, v6).ok_or_else(|| {
        format!(
            "local address {addr:?}: expected {} hex digits",
            if v6 { 32 } else { 8 }
        )
    })?;
    let inode = fields[9]
        .parse()
        .map_err(|_| format!("inode {:?}: expected a number", fields[9]))?;
    Ok(Some(Listener { addr, port, inode }))
}

/// The kernel prints each 32-bit word of the address in host byte order.
fn parse_addr(hex: &str, v6: bool) -> Option<IpAddr> {
    let words = if v6 { 4 } else { 1 };
    if hex.len() != 8 * words || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut bytes = [0u8; 16];
    for w in 0..words {
        let word = u32::from_str_radix(&hex[8 * w..8 * w + 8], 16).ok()?;
        bytes[4 * w..4 * w + 4].copy_from_slice(&word.to_ne_bytes());
    }
    Some(if v6 {
        let v6 = Ipv6Addr::from(bytes);
        // A v4-mapped listener (::ffff:a.b.c.d) is reached at its v4 address.
        v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
    } else {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    })
}

/// The container id in a `/proc/<pid>/cgroup` text: the last path segment (over all
/// hierarchies, the unified one first) that is 64 hex digits, bare or in a runtime's
/// systemd scope. `None` for host processes (and for conmon's `crio-conmon-…` scopes).
pub fn container_id(cgroup: &str) -> Option<String> {
    let mut lines: Vec<&str> = cgroup.lines().collect();
    // The unified hierarchy (0::) first: on cgroup v2 it is the only one.
    lines.sort_by_key(|l| !l.starts_with("0::"));
    for line in lines {
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        for segment in path.rsplit('/') {
            let s = segment.strip_suffix(".scope").unwrap_or(segment);
            let s = [
                "cri-containerd-",
                "crio-",
                "docker-",
                "libpod-",
                "containerd-",
            ]
            .iter()
            .find_map(|p| s.strip_prefix(p))
            .unwrap_or(s);
            if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Some(s.to_ascii_lowercase());
            }
        }
    }
    None
}

/// The id in a `containerStatuses[].containerID` (`containerd://ID`, `cri-o://ID`,
/// `docker://ID`), lower case.
pub fn status_container_id(id: &str) -> Option<String> {
    let bare = id.rsplit_once("://").map_or(id, |(_, b)| b);
    (!bare.is_empty()).then(|| bare.to_ascii_lowercase())
}

/// `COVERAGE_PORT` of a NUL-separated environment, when it is a port.
pub fn coverage_port(environ: &[u8]) -> Option<u16> {
    environ
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"COVERAGE_PORT="))
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
        .filter(|p| *p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_tables_give_listeners_and_name_bad_lines() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:D1C4 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:D1C4 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4243 1 0000000000000000 20 4 30 10 -1\n\
   2: 0B00F40A:D1C5 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1\n\
   3: garbage\n\
   4: XYZ:0050 00000000:0000 0A 0 0 0 0 0 9\n";
        let (found, bad) = parse_tcp_table(v4, false);
        assert_eq!(
            found,
            [
                Listener {
                    addr: "127.0.0.1".parse().unwrap(),
                    port: 53700,
                    inode: 4242
                },
                Listener {
                    addr: "10.244.0.11".parse().unwrap(),
                    port: 53701,
                    inode: 77
                }
            ]
        );
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].0, 5);
        assert!(bad[0].1.contains("at least 10 fields"), "{bad:?}");
        assert!(bad[1].1.contains("expected 8 hex digits"), "{bad:?}");
        let v6 = "header\n   0: 00000000000000000000000000000000:D1C4 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 99 1\n\
   1: 0000000000000000FFFF00000100007F:D1C6 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 100 1\n";
        let (found, bad) = parse_tcp_table(v6, true);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(found[0].addr, "::".parse::<IpAddr>().unwrap());
        assert_eq!(found[1].addr, "127.0.0.1".parse::<IpAddr>().unwrap());
        // Never a panic on cut or odd bytes.
        for n in 0..v4.len() {
            if v4.is_char_boundary(n) {
                let _ = parse_tcp_table(&v4[..n], false);
                let _ = parse_tcp_table(&v4[..n], true);
            }
        }
    }

    #[test]
    fn container_ids_from_every_runtime_layout() {
        let id = "a".repeat(60) + "b0c1";
        for cg in [
            format!("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/cri-containerd-{id}.scope\n"),
            format!("12:pids:/kubepods/burstable/pod5678/{id}\n0::/\n"),
            format!("0::/kubepods.slice/kubepods-pod1.slice/crio-{id}.scope\n"),
            format!("1:name=systemd:/system.slice/docker-{id}.scope\n"),
        ] {
            assert_eq!(container_id(&cg).as_deref(), Some(id.as_str()), "{cg}");
        }
        assert_eq!(container_id("0::/user.slice/session-1.scope\n"), None);
        assert_eq!(
            container_id(&format!("0::/kubepods.slice/crio-conmon-{id}.scope\n")),
            None
        );
        assert_eq!(container_id("garbage"), None);
        assert_eq!(
            status_container_id(&format!("containerd://{}", id.to_uppercase())).as_deref(),
            Some(id.as_str())
        );
        assert_eq!(coverage_port(b"A=1\0COVERAGE_PORT=53710\0B=2"), Some(53710));
        assert_eq!(coverage_port(b"COVERAGE_PORT=x\0"), None);
    }

    #[test]
    fn finds_this_process_listener_by_its_pid_and_not_a_child_without_one() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // A real process with no socket at all.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let (found, _) = scan(Path::new("/proc"));
        child.kill().unwrap();
        child.wait().unwrap();
        let me = found
            .iter()
            .find(|p| p.pid == std::process::id())
            .expect("this test process listens");
        assert!(
            me.listeners
                .iter()
                .any(|l| l.port == port && l.addr == IpAddr::V4(Ipv4Addr::LOCALHOST)),
            "{me:?}"
        );
        assert!(!found.iter().any(|p| p.pid == child.id()));
        // No other pid claims this process's socket.
        let inode = me.listeners.iter().find(|l| l.port == port).unwrap().inode;
        assert_eq!(
            found
                .iter()
                .filter(|p| p.listeners.iter().any(|l| l.inode == inode))
                .count(),
            1
        );
        drop(listener);
    }
}
