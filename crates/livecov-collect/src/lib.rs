//! livecov's collectors: everything that fetches coverage and its origin from outside.
//!
//! - [`producer`]: the object layout the deployed coverage producer writes (pod and host
//!   entries), local directory names and `metadata.json`;
//! - [`download`]: copying a producer bucket (S3, GCS, Azure, `file://`, plain paths)
//!   into a collection through `object_store`, and back out (`download::upload`);
//! - [`kube`]: Kubernetes discovery: pods listed through the API server, reached through
//!   its pod proxy (kubeconfig or in-cluster credentials);
//! - [`live`]: the coverage-server protocol as a client (probe, snapshot, reset, port
//!   scans) and live snapshots written into a collection in the producer's layout;
//! - [`push`]: the endpoint agents in push mode send their snapshots to;
//! - [`procnet`]: listening sockets and containers of a node's processes, from `/proc`;
//! - [`node`]: node mode, those processes' coverage servers named after the node's pods;
//! - [`registry`]: reading source labels of container images from an OCI registry;
//! - [`registry_auth`]: registry credentials from docker/podman auth files.
//!
//! Invariants: no decoding of coverage formats here (that is `livecov-formats`), no
//! store access (that is `livecov-store`). Depends on `livecov-model` only among livecov
//! crates.
#![deny(missing_docs)]

pub mod download;
pub mod kube;
pub mod live;
pub mod node;
pub mod procnet;
pub mod producer;
pub mod push;
pub mod registry;
pub mod registry_auth;
