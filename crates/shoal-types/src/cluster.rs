//! Cluster: the swarm-wide settings object (`GET /swarm`), one per swarm, named "default".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::meta::Meta;
use crate::node::TlsInfo;

/// Nanoseconds in a second, for the Engine API's integer durations.
pub const SECOND_NS: i64 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Fields a client leaves out take Docker's defaults (the CLI omits unset ones).
#[serde(rename_all = "PascalCase", default)]
pub struct OrchestrationConfig {
    /// Tasks kept per slot; negative keeps all. Docker's default is 5.
    pub task_history_retention_limit: i64,
}

impl Default for OrchestrationConfig {
    fn default() -> Self {
        Self {
            task_history_retention_limit: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Fields a client leaves out take Docker's defaults (the CLI omits unset ones).
#[serde(rename_all = "PascalCase", default)]
pub struct RaftConfig {
    pub snapshot_interval: u64,
    pub keep_old_snapshots: u64,
    pub log_entries_for_slow_followers: u64,
    pub election_tick: i64,
    pub heartbeat_tick: i64,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            snapshot_interval: 10_000,
            keep_old_snapshots: 0,
            log_entries_for_slow_followers: 500,
            election_tick: 10,
            heartbeat_tick: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Fields a client leaves out take Docker's defaults (the CLI omits unset ones).
#[serde(rename_all = "PascalCase", default)]
pub struct DispatcherConfig {
    /// Nanoseconds between agent heartbeats. shoal's default is 2 s where Swarm's is 5 s: a
    /// node is Down after 3 missed periods, so a dead node's tasks restart elsewhere within
    /// about 7 s instead of Swarm's 15-20 s (docs/benchmarks.md), and a heartbeat is a few
    /// hundred bytes.
    pub heartbeat_period: i64,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            heartbeat_period: 2 * SECOND_NS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Fields a client leaves out take Docker's defaults (the CLI omits unset ones).
#[serde(rename_all = "PascalCase", default)]
pub struct CaConfig {
    /// Nanoseconds a node certificate is valid (default 90 days).
    pub node_cert_expiry: i64,
    #[serde(rename = "ExternalCAs", skip_serializing_if = "Vec::is_empty")]
    pub external_cas: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "is_zero")]
    pub force_rotate: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Default for CaConfig {
    fn default() -> Self {
        Self {
            node_cert_expiry: 90 * 24 * 3600 * SECOND_NS,
            external_cas: vec![],
            force_rotate: 0,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionConfig {
    #[serde(default)]
    pub auto_lock_managers: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<serde_json::Value>,
}

/// `Spec` of the cluster: what `docker swarm update` changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Fields a client leaves out take Docker's defaults (the CLI omits unset ones).
#[serde(rename_all = "PascalCase", default)]
pub struct SwarmSpec {
    pub name: String,
    #[serde(deserialize_with = "crate::validate::null_as_default")]
    pub labels: BTreeMap<String, String>,
    pub orchestration: OrchestrationConfig,
    pub raft: RaftConfig,
    pub dispatcher: DispatcherConfig,
    #[serde(rename = "CAConfig")]
    pub ca_config: CaConfig,
    pub encryption_config: EncryptionConfig,
    pub task_defaults: TaskDefaults,
}

impl Default for SwarmSpec {
    fn default() -> Self {
        Self {
            name: "default".into(),
            labels: BTreeMap::new(),
            orchestration: OrchestrationConfig::default(),
            raft: RaftConfig::default(),
            dispatcher: DispatcherConfig::default(),
            ca_config: CaConfig::default(),
            encryption_config: EncryptionConfig::default(),
            task_defaults: TaskDefaults::default(),
        }
    }
}

/// The tokens `docker swarm join` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JoinTokens {
    pub worker: String,
    pub manager: String,
}

/// Cluster material that must be replicated but never shown: the root CA's private key.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterSecrets {
    #[serde(rename = "RootCACert", default)]
    pub root_ca_cert: String,
    #[serde(rename = "RootCAKey", default)]
    pub root_ca_key: String,
    /// The autolock key (`SWMKEY-1-…`) while `AutoLockManagers` is on: every manager wraps its
    /// store's data key with it, so a restarted manager needs it back (`swarm unlock`).
    #[serde(
        rename = "UnlockKey",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub unlock_key: String,
}

impl std::fmt::Debug for ClusterSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSecrets").finish_non_exhaustive()
    }
}

/// The stored cluster object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Cluster {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(flatten)]
    pub meta: Meta,
    pub spec: SwarmSpec,
    #[serde(rename = "TLSInfo", default)]
    pub tls_info: TlsInfo,
    #[serde(default)]
    pub root_rotation_in_progress: bool,
    #[serde(default, deserialize_with = "crate::validate::null_as_default")]
    pub default_addr_pool: Vec<String>,
    #[serde(default)]
    pub subnet_size: u32,
    #[serde(default)]
    pub data_path_port: u32,
    #[serde(default)]
    pub join_tokens: JoinTokens,
    #[serde(rename = "ShoalSecrets", default)]
    pub secrets: ClusterSecrets,
    /// Nodes removed from the swarm: their certificates stay valid until they expire, so the
    /// cluster port refuses them by ID (swarmkit's `RemovedNodes`). Internal; not in the API.
    #[serde(
        rename = "ShoalRemovedNodes",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub removed_nodes: Vec<String>,
}

/// `GET /swarm`: the cluster info plus its join tokens (never the CA key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Swarm {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(flatten)]
    pub meta: Meta,
    pub spec: SwarmSpec,
    #[serde(rename = "TLSInfo", default)]
    pub tls_info: TlsInfo,
    #[serde(default)]
    pub root_rotation_in_progress: bool,
    #[serde(default, deserialize_with = "crate::validate::null_as_default")]
    pub default_addr_pool: Vec<String>,
    #[serde(default)]
    pub subnet_size: u32,
    #[serde(default)]
    pub data_path_port: u32,
    #[serde(default)]
    pub join_tokens: JoinTokens,
}

impl Cluster {
    /// The cluster as `GET /swarm` shows it.
    pub fn to_api(&self) -> Swarm {
        Swarm {
            id: self.id.clone(),
            meta: self.meta.clone(),
            spec: self.spec.clone(),
            tls_info: self.tls_info.clone(),
            root_rotation_in_progress: self.root_rotation_in_progress,
            default_addr_pool: self.default_addr_pool.clone(),
            subnet_size: self.subnet_size,
            data_path_port: self.data_path_port,
            join_tokens: self.join_tokens.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_spec_fields_take_dockers_defaults() {
        // What `docker swarm init` sends.
        let spec: SwarmSpec = serde_json::from_str(
            r#"{"Labels":null,"Orchestration":{},"Raft":{"ElectionTick":0,"HeartbeatTick":0},
                "Dispatcher":{},"CAConfig":{},"TaskDefaults":{},"EncryptionConfig":{"AutoLockManagers":false}}"#,
        )
        .unwrap();
        assert_eq!(spec.orchestration.task_history_retention_limit, 5);
        assert_eq!(spec.dispatcher.heartbeat_period, 2 * SECOND_NS);
        assert_eq!(spec.ca_config.node_cert_expiry, 90 * 24 * 3600 * SECOND_NS);
        assert_eq!(spec.name, "default");
        assert!(spec.labels.is_empty());
    }
}
