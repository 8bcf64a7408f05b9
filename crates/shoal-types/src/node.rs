//! Node: a machine in the swarm, as `GET /nodes` shows it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::meta::Meta;

/// `Spec.Role`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    #[default]
    Worker,
    Manager,
}

impl NodeRole {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Worker => "worker",
            NodeRole::Manager => "manager",
        }
    }
}

/// `Spec.Availability`: whether the scheduler may place tasks on the node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    #[default]
    Active,
    Pause,
    Drain,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Active => "active",
            Availability::Pause => "pause",
            Availability::Drain => "drain",
        }
    }
}

/// `Status.State`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    #[default]
    Unknown,
    Down,
    Ready,
    Disconnected,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Unknown => "unknown",
            NodeState::Down => "down",
            NodeState::Ready => "ready",
            NodeState::Disconnected => "disconnected",
        }
    }
}

/// `ManagerStatus.Reachability`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reachability {
    #[default]
    Unknown,
    Unreachable,
    Reachable,
}

/// What users may change: `docker node update`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, deserialize_with = "crate::validate::null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub role: NodeRole,
    #[serde(default)]
    pub availability: Availability,
}

/// `Description.Platform`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    #[serde(rename = "Architecture", default)]
    pub architecture: String,
    #[serde(rename = "OS", default)]
    pub os: String,
}

/// `Description.Resources`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    #[serde(rename = "NanoCPUs", default)]
    pub nano_cpus: i64,
    #[serde(rename = "MemoryBytes", default)]
    pub memory_bytes: i64,
}

/// One entry of `Description.Engine.Plugins`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginDescription {
    #[serde(rename = "Type")]
    pub kind: String,
    pub name: String,
}

/// `Description.Engine`: the container engine the node's agent drives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EngineDescription {
    #[serde(default)]
    pub engine_version: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginDescription>,
}

/// `TLSInfo`: the trust root and the issuer of the node's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TlsInfo {
    #[serde(default)]
    pub trust_root: String,
    #[serde(default)]
    pub cert_issuer_subject: String,
    #[serde(default)]
    pub cert_issuer_public_key: String,
}

/// What the node's agent reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeDescription {
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub platform: Platform,
    #[serde(default)]
    pub resources: Resources,
    #[serde(default)]
    pub engine: EngineDescription,
    #[serde(rename = "TLSInfo", default)]
    pub tls_info: TlsInfo,
}

/// `Status`: written by the system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeStatus {
    #[serde(default)]
    pub state: NodeState,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default)]
    pub addr: String,
}

/// `ManagerStatus`, present only on managers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagerStatus {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leader: bool,
    #[serde(default)]
    pub reachability: Reachability,
    #[serde(default)]
    pub addr: String,
}

/// A node of the swarm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Node {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(flatten)]
    pub meta: Meta,
    pub spec: NodeSpec,
    #[serde(default)]
    pub description: NodeDescription,
    #[serde(default)]
    pub status: NodeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_status: Option<ManagerStatus>,
    /// Raft member ID of a manager (internal; never in API responses).
    #[serde(
        rename = "ShoalRaftID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub raft_id: Option<u64>,
}

impl Node {
    /// The name shown in tables and matched by lookups: the spec's name, else the hostname.
    pub fn display_name(&self) -> &str {
        if self.spec.name.is_empty() {
            &self.description.hostname
        } else {
            &self.spec.name
        }
    }

    /// The node as the API shows it (internal fields removed).
    pub fn to_api(&self) -> Node {
        Node {
            raft_id: None,
            ..self.clone()
        }
    }
}
