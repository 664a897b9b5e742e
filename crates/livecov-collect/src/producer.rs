//! The object layout written by the deployed coverage producer, and what a download makes
//! of it locally.
//!
//! Spec: `specs/seed-system.md` sections 3, 4 and 11.3. Under a cluster's base path the
//! producer writes one directory per *process instance* (a container or host-network
//! server as first seen at `discoveryTime`):
//!
//! ```text
//! pod:  {hostname}/{namespace}/{pod}/{container}/{discoveryTime}/{sanitizedImageRef}/{sanitizedBinary}/<file>
//! host: {hostname}/_host_/{discoveryTime}/{sanitizedBinary}/<file>
//! ```
//!
//! with `<file>` one of `info.json`, `covmeta.<hash>` and `covcounters.<hash>.<pid>.<1|2>`
//! (two alternating snapshots of one process). This module is pure: it turns keys into
//! [`Instance`]s, names their local directories and builds the `metadata.json` and
//! manifest values; [`crate::download`] does the I/O.
//!
//! Unlike the older tool, every instance is kept: a restarted container (a new
//! `discoveryTime`) gets its own local directory instead of replacing, or being mixed
//! into, the previous one. Local directory names are
//!
//! ```text
//! pod:  <hostname>-<namespace>-<pod>-<container>-<binary>-<discoveryTime>
//! host: <hostname>-_host_-<binary>-<discoveryTime>
//! ```
//!
//! capped at 200 bytes (the first 192, `-`, and 7 hex digits of the MD5 of the full
//! name), like the older tool's names with the discovery time appended. When two
//! instances would still get one name (sanitised parts that contain `-` can collide),
//! both get `-` and 7 hex digits of the MD5 of their key directory appended, so no two
//! instances ever share a directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use livecov_model::Origin;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// The directory segment that marks a host-network server's entry.
pub const HOST_MARKER: &str = "_host_";
/// The file the producer writes once per collector, with the server's identity headers.
pub const INFO_FILE: &str = "info.json";
/// The file a download writes into each local directory, describing its origin.
pub const METADATA_FILE: &str = "metadata.json";
/// The file a download writes into each local directory, listing the objects it holds.
pub const MANIFEST_FILE: &str = ".livecov-objects.json";
/// The longest local directory name, in bytes, before it is shortened with a hash.
pub const MAX_DIR_NAME: usize = 200;

/// What kind of process an [`Instance`] is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProcessKind {
    /// A container of a pod.
    Pod {
        /// The pod's namespace.
        namespace: String,
        /// The pod's name.
        pod: String,
        /// The container's name.
        container: String,
        /// The image reference, sanitised by the producer (`/`, `:`, `@` became `-`).
        image: String,
    },
    /// A server found on the host network (the kubelet itself, or a hostNetwork pod seen
    /// from the node).
    Host,
}

/// One process instance: one directory of the producer's layout.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instance {
    /// The node's hostname (`os.Hostname()` of the kubelet).
    pub hostname: String,
    /// Pod container or host process.
    pub kind: ProcessKind,
    /// The binary's name, sanitised by the producer.
    pub binary: String,
    /// When the producer first saw the process: UTC `YYYYMMDDTHHMMSSZ`.
    pub discovery_time: String,
}

impl Instance {
    /// Whether this is a host-network server (`_host_` entry).
    pub fn is_host(&self) -> bool {
        matches!(self.kind, ProcessKind::Host)
    }

    /// The key of the process across its instances, as the older tool deduplicated on:
    /// `hostname/ns/pod/container/binary` or `hostname/_host_/binary`.
    pub fn entry_key(&self) -> String {
        match &self.kind {
            ProcessKind::Pod {
                namespace,
                pod,
                container,
                ..
            } => format!(
                "{}/{namespace}/{pod}/{container}/{}",
                self.hostname, self.binary
            ),
            ProcessKind::Host => format!("{}/{HOST_MARKER}/{}", self.hostname, self.binary),
        }
    }

    /// The instance's directory relative to the base path, without slashes at either end.
    pub fn key_dir(&self) -> String {
        match &self.kind {
            ProcessKind::Pod {
                namespace,
                pod,
                container,
                image,
            } => format!(
                "{}/{namespace}/{pod}/{container}/{}/{image}/{}",
                self.hostname, self.discovery_time, self.binary
            ),
            ProcessKind::Host => format!(
                "{}/{HOST_MARKER}/{}/{}",
                self.hostname, self.discovery_time, self.binary
            ),
        }
    }

    /// The local directory name before de-duplication (see the module docs).
    pub fn dir_name(&self) -> String {
        cap_dir_name(self.full_dir_name())
    }

    fn full_dir_name(&self) -> String {
        match &self.kind {
            ProcessKind::Pod {
                namespace,
                pod,
                container,
                ..
            } => format!(
                "{}-{namespace}-{pod}-{container}-{}-{}",
                self.hostname, self.binary, self.discovery_time
            ),
            ProcessKind::Host => format!(
                "{}-{HOST_MARKER}-{}-{}",
                self.hostname, self.binary, self.discovery_time
            ),
        }
    }

    /// The origin of this instance's files.
    pub fn origin(&self) -> Origin {
        let (pod, namespace, container, image) = match &self.kind {
            ProcessKind::Pod {
                namespace,
                pod,
                container,
                image,
            } => (
                pod.clone(),
                namespace.clone(),
                container.clone(),
                image.clone(),
            ),
            // As the older tool: a host entry is named after its node.
            ProcessKind::Host => (
                self.hostname.clone(),
                String::new(),
                String::new(),
                String::new(),
            ),
        };
        Origin {
            namespace,
            pod,
            container,
            image,
            hostname: self.hostname.clone(),
            binary: self.binary.clone(),
            host_process: self.is_host(),
            collected_at: discovery_time_rfc3339(&self.discovery_time)
                .unwrap_or_else(|| self.discovery_time.clone()),
            owner_kind: String::new(),
            owner_name: String::new(),
            labels: BTreeMap::new(),
        }
    }

    /// `metadata.json` for this instance, read from `source` (the URL of its directory),
    /// whose newest object was last modified at `last_modified` (RFC 3339).
    pub fn metadata(&self, source: &str, last_modified: Option<String>) -> Metadata {
        Metadata::new(&self.origin(), &self.discovery_time, source, last_modified)
    }
}

/// Shortens a local directory name longer than [`MAX_DIR_NAME`] bytes to its first 192
/// bytes (fewer if that would split a character), `-` and 7 hex digits of the MD5 of the
/// whole name, as the older tool did.
pub fn cap_dir_name(name: String) -> String {
    if name.len() <= MAX_DIR_NAME {
        return name;
    }
    let mut cut = 192;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{}", &name[..cut], &md5_hex(&name)[..7])
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a file of an instance directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `covmeta.<hash>`: the build's layout.
    Meta,
    /// `covcounters.<hash>.<pid>.<toggle>`: one counter snapshot. `toggle` is 1 or 2 for
    /// the producer's alternating files and `None` for any other name; every one of them
    /// is downloaded (compile picks the newer toggle).
    Counters {
        /// The producer's toggle, when the name ends in `.1` or `.2`.
        toggle: Option<u8>,
    },
    /// `info.json`: the server's identity headers.
    Info,
}

impl FileKind {
    /// Classifies a file name; `None` for files a download does not copy.
    pub fn of(name: &str) -> Option<FileKind> {
        if name == INFO_FILE {
            Some(FileKind::Info)
        } else if name.starts_with("covmeta.") {
            Some(FileKind::Meta)
        } else if name.starts_with("covcounters.") {
            let toggle = match name.rsplit('.').next() {
                Some("1") => Some(1),
                Some("2") => Some(2),
                _ => None,
            };
            Some(FileKind::Counters { toggle })
        } else {
            None
        }
    }
}

/// Why an object under the base path is not downloaded.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Not `covmeta.*`, `covcounters.*` or `info.json`.
    NotCoverage,
    /// A coverage file at a depth that is neither a pod's nor a host's entry.
    Depth {
        /// Directory segments between the base path and the file.
        segments: usize,
        /// Whether the second segment was `_host_`.
        host: bool,
    },
    /// A symbolic link in a local source: links are never followed, so nothing outside
    /// the source tree (and no loop) is read.
    Link,
    /// A local entry that is neither a regular file nor a directory (a FIFO, a socket, a
    /// device).
    NotRegular,
    /// A local name that is not UTF-8, holds a control character (a newline would split
    /// the key in listings and manifests) or is not a valid object key. The key is shown
    /// escaped.
    BadName,
    /// A local directory that could not be read; the error is given.
    Unreadable(String),
    /// An object larger than compile reads (a coverage file over
    /// `livecov_formats::gocovdata::read::MAX_FILE_BYTES`, an `info.json` over 1 MiB),
    /// judged by its listed size, so nothing is transferred.
    TooLarge {
        /// The listed size in bytes.
        size: u64,
        /// The limit for its kind of file, in bytes.
        limit: u64,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotCoverage => {
                f.write_str("not a coverage file (covmeta.*, covcounters.* or info.json)")
            }
            SkipReason::Depth { segments, host } => {
                let (what, want) = if *host {
                    ("host entry", "4 (hostname/_host_/discoveryTime/binary)")
                } else {
                    (
                        "pod entry",
                        "7 (hostname/namespace/pod/container/discoveryTime/image/binary)",
                    )
                };
                write!(
                    f,
                    "{what} {segments} directories below the prefix, expected {want}; \
                     is the prefix the producer's base path?"
                )
            }
            SkipReason::Link => f.write_str("a symbolic link, not followed"),
            SkipReason::NotRegular => {
                f.write_str("not a regular file or directory (a FIFO, socket or device)")
            }
            SkipReason::BadName => f.write_str(
                "a name that is not UTF-8 or holds control characters (shown escaped); \
                 rename it to download it",
            ),
            SkipReason::Unreadable(e) => write!(f, "a directory that cannot be read: {e}"),
            SkipReason::TooLarge { size, limit } => write!(
                f,
                "{size} bytes, over the {} MiB limit compile reads; not downloaded",
                limit >> 20
            ),
        }
    }
}

/// A parsed object key: its instance, its file name and what the file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParts<'a> {
    /// The process instance whose directory holds the object.
    pub instance: Instance,
    /// The object's file name (the last segment of the key).
    pub file: &'a str,
    /// What the file holds.
    pub kind: FileKind,
}

/// Parses a key relative to the base path (`host/ns/…/covmeta.x`, no leading slash).
pub fn parse_key(relative: &str) -> Result<KeyParts<'_>, SkipReason> {
    let (dir, file) = relative.rsplit_once('/').unwrap_or(("", relative));
    let kind = FileKind::of(file).ok_or(SkipReason::NotCoverage)?;
    let seg: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    let host = seg.get(1) == Some(&HOST_MARKER);
    let depth = SkipReason::Depth {
        segments: seg.len(),
        host,
    };
    let instance = match (host, seg.as_slice()) {
        (true, [hostname, _, time, binary]) => Instance {
            hostname: hostname.to_string(),
            kind: ProcessKind::Host,
            binary: binary.to_string(),
            discovery_time: time.to_string(),
        },
        (false, [hostname, namespace, pod, container, time, image, binary]) => Instance {
            hostname: hostname.to_string(),
            kind: ProcessKind::Pod {
                namespace: namespace.to_string(),
                pod: pod.to_string(),
                container: container.to_string(),
                image: image.to_string(),
            },
            binary: binary.to_string(),
            discovery_time: time.to_string(),
        },
        _ => return Err(depth),
    };
    Ok(KeyParts {
        instance,
        file,
        kind,
    })
}

/// A key that [`parse_key`] did not accept.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SkippedKey {
    /// The key relative to the base path.
    pub key: String,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// Keys grouped by instance, each instance with its local directory name.
#[derive(Clone, Debug)]
pub struct Layout<T> {
    /// Every instance with its local directory name and its files (sorted by name).
    pub instances: BTreeMap<Instance, InstanceFiles<T>>,
    /// Keys that belong to no instance, sorted.
    pub skipped: Vec<SkippedKey>,
}

/// The files of one instance.
#[derive(Clone, Debug)]
pub struct InstanceFiles<T> {
    /// The local directory name, unique within the layout.
    pub dir_name: String,
    /// File name → the caller's value for that object.
    pub files: BTreeMap<String, T>,
}

impl<T> Layout<T> {
    /// Groups `(relative key, value)` pairs by instance and names the local directories.
    pub fn from_keys<I>(keys: I) -> Self
    where
        I: IntoIterator<Item = (String, T)>,
    {
        let mut grouped: BTreeMap<Instance, BTreeMap<String, T>> = BTreeMap::new();
        let mut skipped = Vec::new();
        for (key, value) in keys {
            match parse_key(&key) {
                Ok(parts) => {
                    let file = parts.file.to_string();
                    grouped
                        .entry(parts.instance)
                        .or_default()
                        .insert(file, value);
                }
                Err(reason) => skipped.push(SkippedKey { key, reason }),
            }
        }
        skipped.sort();

        let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
        for instance in grouped.keys() {
            *by_name.entry(instance.dir_name()).or_default() += 1;
        }
        let instances = grouped
            .into_iter()
            .map(|(instance, files)| {
                let mut dir_name = instance.dir_name();
                if by_name[&dir_name] > 1 {
                    let key_hash = md5_hex(&instance.key_dir());
                    dir_name =
                        cap_dir_name(format!("{}-{}", instance.full_dir_name(), &key_hash[..7]));
                }
                (instance, InstanceFiles { dir_name, files })
            })
            .collect();
        Layout { instances, skipped }
    }

    /// Pod entries, host entries and hostnames, counting each process key once across its
    /// instances (as the older tool's summary did).
    pub fn entry_counts(&self) -> (usize, usize, usize) {
        let mut pods = BTreeSet::new();
        let mut hosts = BTreeSet::new();
        let mut hostnames = BTreeSet::new();
        for instance in self.instances.keys() {
            hostnames.insert(instance.hostname.as_str());
            if instance.is_host() {
                hosts.insert(instance.entry_key());
            } else {
                pods.insert(instance.entry_key());
            }
        }
        (pods.len(), hosts.len(), hostnames.len())
    }
}

/// `metadata.json` of a local directory. The older tool's fields (read by its compile)
/// plus `discovery_time`, `source` and `last_modified`. Fields are in alphabetical order,
/// as the older tool (Go maps) wrote them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The sanitised binary name.
    pub binary_name: String,
    /// The discovery time as RFC 3339 (the older tool's meaning: when the process was first
    /// seen, not when it was last collected).
    pub collected_at: String,
    /// The container and its (sanitised) image; empty for host entries.
    pub container: ContainerMeta,
    /// The producer's discovery time, `YYYYMMDDTHHMMSSZ`.
    #[serde(default)]
    pub discovery_time: String,
    /// Whether this is a host-network server.
    #[serde(default)]
    pub host_process: bool,
    /// The node's hostname.
    pub hostname: String,
    /// When the newest object of the directory was last modified (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The namespace; empty for host entries.
    pub namespace: String,
    /// The pod name; the hostname for host entries.
    pub pod_name: String,
    /// The URL of the directory the files came from.
    #[serde(default)]
    pub source: String,
    /// The collector's labels (`scenario`, …); absent when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Metadata {
    /// The file for `origin`, discovered at `discovery_time` (`YYYYMMDDTHHMMSSZ`), read
    /// from `source`.
    pub fn new(
        origin: &Origin,
        discovery_time: &str,
        source: &str,
        last_modified: Option<String>,
    ) -> Metadata {
        Metadata {
            binary_name: origin.binary.clone(),
            collected_at: origin.collected_at.clone(),
            container: if origin.host_process {
                ContainerMeta::default()
            } else {
                ContainerMeta {
                    image: origin.image.clone(),
                    name: origin.container.clone(),
                }
            },
            discovery_time: discovery_time.to_owned(),
            host_process: origin.host_process,
            hostname: origin.hostname.clone(),
            last_modified,
            namespace: origin.namespace.clone(),
            pod_name: origin.pod.clone(),
            source: source.to_owned(),
            labels: origin.labels.clone(),
        }
    }
}

/// Reads a `metadata.json` back into its [`Origin`]: the form this module writes, the
/// older tool's, and the flatter one other collectors (and bench/) write (`pod`, `node`,
/// `kind`, `workload`, `binary`, `image`, a `container` that is just a name).
pub fn read_origin(bytes: &[u8]) -> Result<Origin, serde_json::Error> {
    #[derive(Deserialize, Default)]
    struct Tolerant {
        #[serde(default, alias = "pod")]
        pod_name: String,
        #[serde(default)]
        namespace: String,
        #[serde(default)]
        container: ContainerField,
        #[serde(default)]
        binary_name: String,
        #[serde(default)]
        collected_at: String,
        #[serde(default)]
        hostname: String,
        #[serde(default)]
        host_process: bool,
        #[serde(default, alias = "kind")]
        owner_kind: String,
        #[serde(default, alias = "workload")]
        owner_name: String,
        #[serde(default)]
        image: String,
        #[serde(default)]
        binary: String,
        #[serde(default)]
        node: String,
        #[serde(default)]
        labels: BTreeMap<String, serde_json::Value>,
    }
    /// `container` is an object (`{name, image}`) or just the name.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ContainerField {
        Object {
            #[serde(default)]
            name: String,
            #[serde(default)]
            image: String,
        },
        Name(String),
    }
    impl Default for ContainerField {
        fn default() -> ContainerField {
            ContainerField::Name(String::new())
        }
    }
    let t: Tolerant = serde_json::from_slice(bytes)?;
    let (container, container_image) = match t.container {
        ContainerField::Object { name, image } => (name, image),
        ContainerField::Name(n) => (n, String::new()),
    };
    let pick = |a: String, b: String| if a.is_empty() { b } else { a };
    Ok(Origin {
        host_process: t.host_process || t.namespace.is_empty(),
        namespace: t.namespace,
        pod: t.pod_name,
        container,
        image: pick(container_image, t.image),
        hostname: pick(t.hostname, t.node),
        binary: pick(t.binary_name, t.binary),
        collected_at: t.collected_at,
        owner_kind: t.owner_kind,
        owner_name: t.owner_name,
        // Values other than strings (a number, a flag) are kept as their JSON text.
        labels: t
            .labels
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
    })
}

/// The container of a pod entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerMeta {
    /// The sanitised image reference from the object path.
    pub image: String,
    /// The container name.
    pub name: String,
}

/// `.livecov-objects.json`: the objects a local directory holds, as they were when
/// downloaded, so that an unchanged object is not downloaded again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The URL of the directory the files came from.
    pub source: String,
    /// File name → the object it was downloaded from.
    pub objects: BTreeMap<String, ObjectRecord>,
}

/// One downloaded object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// The object's full URL.
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// The store's entity tag, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Last-Modified, RFC 3339.
    pub last_modified: String,
}

/// Converts the producer's `YYYYMMDDTHHMMSSZ` to RFC 3339 (`YYYY-MM-DDTHH:MM:SSZ`);
/// `None` when it is not a valid time of that shape.
pub fn discovery_time_rfc3339(t: &str) -> Option<String> {
    let b = t.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = t.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let valid = (1..=12).contains(&mo)
        && d >= 1
        && d <= days_in_month(i64::from(y), mo)
        && h < 24
        && mi < 60
        && s < 60;
    valid.then(|| format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Formats a Unix time as RFC 3339 in UTC: no fraction when `nanos` is 0, milliseconds
/// when that is exact, nanoseconds otherwise.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let frac = match nanos {
        0 => String::new(),
        n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
        n => format!(".{n:09}"),
    };
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}Z")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // The casts cannot truncate: d is in 1..=31 and m in 1..=12.
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer and the reader share `Origin`: what the producer writes reads back as
    /// the same origin, for pods and host processes, and the flatter bench form too.
    #[test]
    fn metadata_written_reads_back_as_the_same_origin() {
        for key in [
            POD,
            "node-1/_host_/20250102T030405Z/kubelet/covcounters.ab.7.2",
        ] {
            let i = parse_key(key).unwrap().instance;
            let json = serde_json::to_vec(&i.metadata("s3://b/x/", None)).unwrap();
            assert_eq!(read_origin(&json).unwrap(), i.origin(), "{key}");
        }
        let flat = br#"{"pod": "web-0", "namespace": "ns", "container": "app", "node": "n1",
            "kind": "StatefulSet", "workload": "web", "binary": "prog", "image": "img:1"}"#;
        let o = read_origin(flat).unwrap();
        assert_eq!(
            (
                o.pod.as_str(),
                o.container.as_str(),
                o.hostname.as_str(),
                o.binary.as_str()
            ),
            ("web-0", "app", "n1", "prog")
        );
        assert_eq!(
            (o.owner_kind.as_str(), o.image.as_str()),
            ("StatefulSet", "img:1")
        );
        assert!(!o.host_process);
        assert!(read_origin(b"{\"pod_name\": 3}").is_err());
    }

    const POD: &str = "node-1/openshift-etcd/etcd-node-1/etcd/20250102T030405Z/\
                       quay.io-openshift-etcd-sha256-abc/etcd/covmeta.0123";

    #[test]
    fn parses_pod_and_host_keys() {
        let p = parse_key(POD).unwrap();
        assert_eq!(p.file, "covmeta.0123");
        assert_eq!(p.kind, FileKind::Meta);
        assert_eq!(
            p.instance.kind,
            ProcessKind::Pod {
                namespace: "openshift-etcd".into(),
                pod: "etcd-node-1".into(),
                container: "etcd".into(),
                image: "quay.io-openshift-etcd-sha256-abc".into(),
            }
        );
        assert_eq!(
            p.instance.dir_name(),
            "node-1-openshift-etcd-etcd-node-1-etcd-etcd-20250102T030405Z"
        );
        assert_eq!(p.instance.key_dir(), POD.rsplit_once('/').unwrap().0);

        let h = parse_key("node-1/_host_/20250102T030405Z/kubelet/covcounters.ab.7.2").unwrap();
        assert!(h.instance.is_host());
        assert_eq!(h.kind, FileKind::Counters { toggle: Some(2) });
        assert_eq!(
            h.instance.dir_name(),
            "node-1-_host_-kubelet-20250102T030405Z"
        );
        assert_eq!(h.instance.entry_key(), "node-1/_host_/kubelet");
    }

    #[test]
    fn reports_wrong_depths_and_other_files() {
        assert_eq!(
            parse_key("node-1/ns/pod/covmeta.x").unwrap_err(),
            SkipReason::Depth {
                segments: 3,
                host: false
            }
        );
        assert_eq!(
            parse_key("node-1/_host_/t/extra/kubelet/info.json").unwrap_err(),
            SkipReason::Depth {
                segments: 5,
                host: true
            }
        );
        assert_eq!(
            parse_key("covmeta.x").unwrap_err(),
            SkipReason::Depth {
                segments: 0,
                host: false
            }
        );
        assert_eq!(
            parse_key("node-1/_host_/t/kubelet/notes.txt").unwrap_err(),
            SkipReason::NotCoverage
        );
        assert_eq!(
            FileKind::of("covcounters.h.1.1700000000"),
            Some(FileKind::Counters { toggle: None })
        );
    }

    #[test]
    fn long_dir_names_are_capped_with_md5() {
        let long = "x".repeat(250);
        let capped = cap_dir_name(long.clone());
        assert_eq!(capped.len(), 200);
        assert_eq!(&capped[..192], &long[..192]);
        assert_eq!(&capped[192..], &format!("-{}", &md5_hex(&long)[..7]));
        assert_eq!(cap_dir_name("x".repeat(200)), "x".repeat(200));
        // Never splits a character.
        let wide = "é".repeat(150);
        assert!(cap_dir_name(wide).starts_with(&"é".repeat(96)));
    }

    #[test]
    fn colliding_dir_names_get_distinct_suffixes() {
        let a = "a-b/c/pod/ctr/20250101T000000Z/img/bin/covmeta.1".to_string();
        let b = "a/b-c/pod/ctr/20250101T000000Z/img/bin/covmeta.1".to_string();
        let layout = Layout::from_keys([(a, ()), (b, ())]);
        let names: BTreeSet<_> = layout
            .instances
            .values()
            .map(|f| f.dir_name.clone())
            .collect();
        assert_eq!(names.len(), 2);
        assert!(names
            .iter()
            .all(|n| n.starts_with("a-b-c-pod-ctr-bin-20250101T000000Z-")));
    }

    #[test]
    fn metadata_matches_the_older_tool() {
        let p = parse_key(POD).unwrap();
        let m = p
            .instance
            .metadata("s3://b/p/x/", Some("2025-01-02T04:00:00Z".into()));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"binary_name":"etcd","collected_at":"2025-01-02T03:04:05Z","container":{"image":"quay.io-openshift-etcd-sha256-abc","name":"etcd"},"discovery_time":"20250102T030405Z","host_process":false,"hostname":"node-1","last_modified":"2025-01-02T04:00:00Z","namespace":"openshift-etcd","pod_name":"etcd-node-1","source":"s3://b/p/x/"}"#
        );
        let h = parse_key("n/_host_/bad-time/kubelet/info.json").unwrap();
        let m = h.instance.metadata("file:///x/", None);
        assert_eq!(m.pod_name, "n");
        assert!(m.host_process);
        assert_eq!(m.container, ContainerMeta::default());
        // An unparsable discovery time is kept as it is, like the older tool.
        assert_eq!(m.collected_at, "bad-time");
    }

    #[test]
    fn formats_times() {
        assert_eq!(
            discovery_time_rfc3339("20240229T235959Z").as_deref(),
            Some("2024-02-29T23:59:59Z")
        );
        assert_eq!(discovery_time_rfc3339("20230229T000000Z"), None);
        assert_eq!(discovery_time_rfc3339("2023022900000Z"), None);
        assert_eq!(discovery_time_rfc3339("2023+229T000000Z"), None);
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400, 5_000_000), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_735_787_045, 1), "2025-01-02T03:04:05.000000001Z");
        assert_eq!(rfc3339(-1, 0), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799, 0), "9999-12-31T23:59:59Z");
    }
}
