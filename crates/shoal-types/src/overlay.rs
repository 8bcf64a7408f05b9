//! The overlay networks' table, as the managers send it to every node: for each network, its
//! subnet and VXLAN ID, where every task attached to it lives (its address and its node's),
//! and each service's name, aliases and VIP on it. Nodes join the network's pieces across
//! hosts from it, and answer DNS and serve VIPs from it (crate netplane).

use serde::{Deserialize, Serialize};

/// One overlay network.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OverlayNetwork {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    /// CIDR, e.g. `10.0.1.0/24`.
    pub subnet: String,
    pub gateway: String,
    #[serde(rename = "VNI")]
    pub vni: u32,
    #[serde(default)]
    pub internal: bool,
    /// The MTU of its tasks' interfaces and of the VXLAN devices (0 from older managers:
    /// the default 1450).
    #[serde(rename = "MTU", default)]
    pub mtu: u32,
    /// The swarm's data path port: where nodes send each other VXLAN packets (0 from older
    /// managers: 4789).
    #[serde(default)]
    pub data_path_port: u16,
    /// Every task that holds an address on the network, sorted by address.
    pub endpoints: Vec<OverlayEndpoint>,
    /// Every service attached to the network, sorted by name.
    pub services: Vec<OverlayService>,
}

/// A task's place on a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OverlayEndpoint {
    /// The task's address, without prefix length.
    #[serde(rename = "IP")]
    pub ip: String,
    /// The node that runs it, and that node's cluster address (VXLAN packets go there).
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_addr: String,
    #[serde(rename = "TaskID")]
    pub task_id: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Running and meant to keep running: names resolve to it and VIPs forward to it.
    pub serving: bool,
}

/// A service as names on a network resolve it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OverlayService {
    pub name: String,
    #[serde(rename = "ID")]
    pub id: String,
    /// Other names on this network (e.g. the short name a stack gives).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Its VIP on this network, without prefix length; `None` in endpoint mode dnsrr.
    #[serde(rename = "VIP", default)]
    pub vip: Option<String>,
}

impl OverlayNetwork {
    /// Whether the node runs a task of this network.
    pub fn has_tasks_on(&self, node_id: &str) -> bool {
        self.endpoints.iter().any(|e| e.node_id == node_id)
    }
}

/// The local bridge a node attaches the network's tasks to: from the network's ID, which is
/// unique even among swarms sharing one Docker Engine (as tests do), at most 15 characters
/// as Linux interface names must be.
pub fn bridge_name(network_id: &str) -> String {
    format!("sh-{}", &network_id[..network_id.len().min(12)])
}
