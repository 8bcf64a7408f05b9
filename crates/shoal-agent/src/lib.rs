//! The worker role of every node. Today: describing the node to the cluster (hostname,
//! platform, resources, and the Docker Engine it drives when one is reachable). The dispatcher
//! session, task runners and drivers land with the services issue.
//!
//! Layer L3: depends on shoal-types; never on the manager, store or HTTP crates.
#![forbid(unsafe_code)]

mod describe;

pub use describe::{EngineProbe, describe_node, probe_engine};
