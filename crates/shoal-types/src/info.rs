//! Request and response bodies of the swarm endpoints that are not stored objects.

use serde::{Deserialize, Serialize};

use crate::cluster::{Swarm, SwarmSpec};
use crate::node::Availability;

/// `Swarm.LocalNodeState` in `GET /info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalNodeState {
    #[default]
    Inactive,
    Pending,
    Active,
    Error,
    Locked,
}

impl LocalNodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            LocalNodeState::Inactive => "inactive",
            LocalNodeState::Pending => "pending",
            LocalNodeState::Active => "active",
            LocalNodeState::Error => "error",
            LocalNodeState::Locked => "locked",
        }
    }
}

/// A manager's node ID and cluster address (`RemoteManagers`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeerNode {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub addr: String,
}

/// The `Swarm` part of `GET /info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SwarmInfo {
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    #[serde(default)]
    pub node_addr: String,
    #[serde(default)]
    pub local_node_state: LocalNodeState,
    #[serde(default)]
    pub control_available: bool,
    #[serde(default)]
    pub error: String,
    #[serde(default, deserialize_with = "crate::validate::null_as_default")]
    pub remote_managers: Vec<PeerNode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managers: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Swarm>,
}

/// `POST /swarm/init` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitRequest {
    #[serde(default)]
    pub listen_addr: String,
    #[serde(default)]
    pub advertise_addr: String,
    #[serde(default)]
    pub data_path_addr: String,
    #[serde(default)]
    pub data_path_port: u32,
    #[serde(default)]
    pub force_new_cluster: bool,
    #[serde(default, deserialize_with = "crate::validate::null_as_default")]
    pub default_addr_pool: Vec<String>,
    #[serde(default)]
    pub subnet_size: u32,
    #[serde(default)]
    pub spec: Option<SwarmSpec>,
    #[serde(default)]
    pub auto_lock_managers: bool,
    #[serde(default, deserialize_with = "crate::validate::empty_as_none")]
    pub availability: Option<Availability>,
}

/// `POST /swarm/join` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JoinRequest {
    #[serde(default)]
    pub listen_addr: String,
    #[serde(default)]
    pub advertise_addr: String,
    #[serde(default)]
    pub data_path_addr: String,
    #[serde(default, deserialize_with = "crate::validate::null_as_default")]
    pub remote_addrs: Vec<String>,
    #[serde(default)]
    pub join_token: String,
    #[serde(default, deserialize_with = "crate::validate::empty_as_none")]
    pub availability: Option<Availability>,
}

/// Query flags of `POST /swarm/update`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwarmUpdateFlags {
    pub rotate_worker_token: bool,
    pub rotate_manager_token: bool,
    pub rotate_manager_unlock_key: bool,
}
