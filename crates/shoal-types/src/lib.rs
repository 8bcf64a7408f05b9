//! The shoal object model: Cluster, Node, Task (and, as their issues land, Service, Network,
//! Secret, Config), each shaped exactly like the Docker Engine API's JSON (PascalCase) so one
//! model serves the store, the cluster wire and the HTTP API.
//!
//! `Spec` is written only by users, `Status` only by the system; `Meta` carries the version
//! used for optimistic concurrency. This crate is layer L0: it must not depend on tokio, hyper,
//! a Docker client or any other IO crate, and it never reads a clock (callers pass times in).
#![forbid(unsafe_code)]

pub mod cluster;
pub mod error;
pub mod filters;
pub mod id;
pub mod info;
pub mod logs;
pub mod mesh;
pub mod meta;
pub mod network;
pub mod node;
pub mod object;
pub mod overlay;
pub mod secret;
pub mod service;
pub mod task;
pub mod validate;

pub use cluster::{Cluster, ClusterSecrets, JoinTokens, Swarm, SwarmSpec};
pub use error::{Error, ErrorKind};
pub use filters::Filters;
pub use id::new_id;
pub use logs::LogEntry;
pub use meta::{Meta, Version};
pub use network::Network;
pub use node::{
    Availability, EngineDescription, ManagerStatus, Node, NodeDescription, NodeRole, NodeSpec,
    NodeState, NodeStatus, Platform, Reachability, Resources, TlsInfo,
};
pub use object::{Kind, Object, StoreObject};
pub use secret::{Config, Secret};
pub use service::{Mode, Service, ServiceSpec, TaskSpec};
pub use task::{ContainerStatus, Task, TaskState, TaskStatus};
