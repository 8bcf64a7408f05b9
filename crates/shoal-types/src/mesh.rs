//! The routing mesh's table, as the managers send it to every node: for each port a service
//! publishes in ingress mode, where that service's running tasks can be reached. Every node
//! listens on each of these ports and forwards to the backends (crate netplane).

use serde::{Deserialize, Serialize};

/// The service label naming the published ports whose connections start with a PROXY protocol
/// v2 header, so the task sees the client's address (comma-separated ports, or `all`).
pub const PROXY_PROTOCOL_LABEL: &str = "shoal.mesh.proxy-protocol";

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MeshRoute {
    pub port: u16,
    /// `tcp` or `udp` (`sctp` is not routed).
    pub protocol: String,
    /// `ip:port` of every running task of the service, on any node, sorted.
    pub backends: Vec<String>,
    #[serde(default)]
    pub proxy_protocol: bool,
}
