//! `GET /swarm`, `POST /swarm/update`, and the swarm part of `GET /info`.

use shoal_ca::RootCa;
use shoal_store::StoreError;
use shoal_types::cluster::SECOND_NS;
use shoal_types::info::{LocalNodeState, PeerNode, SwarmInfo, SwarmUpdateFlags};
use shoal_types::{Cluster, Error, Node, NodeRole, Swarm, SwarmSpec, Version};

use crate::manager::Manager;

/// swarmkit's `ca.MinNodeCertExpiration`: one hour.
pub const MIN_CERT_EXPIRY_NS: i64 = 3600 * SECOND_NS;

impl Manager {
    /// The cluster object (there is exactly one once the swarm exists).
    pub fn cluster(&self) -> Result<Cluster, Error> {
        self.store
            .view(|v| v.list::<Cluster>().into_iter().next())
            .ok_or_else(|| Error::unavailable("the swarm has no cluster object yet"))
    }

    /// `GET /swarm`.
    pub fn swarm(&self) -> Result<Swarm, Error> {
        Ok(self.cluster()?.to_api())
    }

    /// `POST /swarm/update?version=N`: a new spec and/or rotated join tokens.
    pub async fn update_swarm(
        &self,
        version: u64,
        spec: SwarmSpec,
        flags: SwarmUpdateFlags,
    ) -> Result<(), Error> {
        validate_spec(&spec)?;
        let mut cluster = self.cluster()?;
        set_unlock_key(
            &mut cluster,
            spec.encryption_config.auto_lock_managers,
            flags.rotate_manager_unlock_key,
        );
        let root = RootCa {
            cert_pem: cluster.secrets.root_ca_cert.clone(),
            key_pem: cluster.secrets.root_ca_key.clone(),
        };
        let token = || {
            shoal_ca::generate_join_token(&root)
                .map_err(|e| Error::internal(format!("cannot make a join token: {e}")))
        };
        if flags.rotate_worker_token {
            cluster.join_tokens.worker = token()?;
        }
        if flags.rotate_manager_token {
            cluster.join_tokens.manager = token()?;
        }
        cluster.spec = spec;
        cluster.meta.version = Version { index: version };
        self.store
            .update(|tx| tx.update(cluster))
            .await
            .map_err(store_err)
    }

    /// `GET /swarm/unlockkey`: the autolock key, while autolock is on.
    pub fn unlock_key(&self) -> Result<String, Error> {
        let key = self.cluster()?.secrets.unlock_key;
        if key.is_empty() {
            return Err(Error::not_found("no unlock key is set"));
        }
        Ok(key)
    }

    /// The autolock key, if autolock is on (to wrap this manager's data key with).
    pub fn autolock_key(&self) -> Option<String> {
        self.cluster()
            .ok()
            .filter(|c| c.spec.encryption_config.auto_lock_managers)
            .map(|c| c.secrets.unlock_key)
            .filter(|k| !k.is_empty())
    }

    /// The `Swarm` section of `GET /info` on this manager.
    pub fn swarm_info(&self) -> SwarmInfo {
        let (nodes, cluster) = self
            .store
            .view(|v| (v.list::<Node>(), v.list::<Cluster>().into_iter().next()));
        let managers: Vec<&Node> = nodes
            .iter()
            .filter(|n| n.manager_status.is_some())
            .collect();
        let node_addr = self
            .advertise_addr
            .rsplit_once(':')
            .map_or(self.advertise_addr.clone(), |(h, _)| h.to_string());
        SwarmInfo {
            node_id: self.node_id.clone(),
            node_addr,
            local_node_state: LocalNodeState::Active,
            control_available: true,
            error: String::new(),
            remote_managers: managers
                .iter()
                .map(|n| PeerNode {
                    node_id: n.id.clone(),
                    addr: n
                        .manager_status
                        .as_ref()
                        .map(|m| m.addr.clone())
                        .unwrap_or_default(),
                })
                .collect(),
            nodes: Some(nodes.len() as u64),
            managers: Some(
                nodes
                    .iter()
                    .filter(|n| n.spec.role == NodeRole::Manager)
                    .count() as u64,
            ),
            cluster: cluster.map(|c| {
                let mut s = c.to_api();
                s.join_tokens = Default::default();
                s
            }),
        }
    }
}

/// swarmkit's `validateClusterSpec` rules and texts.
fn validate_spec(spec: &SwarmSpec) -> Result<(), Error> {
    if spec.ca_config.node_cert_expiry != 0 && spec.ca_config.node_cert_expiry < MIN_CERT_EXPIRY_NS
    {
        return Err(Error::invalid("minimum certificate expiry time is: 1h0m0s"));
    }
    if spec.dispatcher.heartbeat_period < 0 {
        return Err(Error::invalid(
            "heartbeat time period cannot be a negative duration",
        ));
    }
    shoal_types::validate::labels(&spec.labels)
}

/// Store errors as the API reports them.
pub(crate) fn store_err(e: StoreError) -> Error {
    match e {
        StoreError::NotLeader { leader } => Error::unavailable(format!(
            "this manager is not the leader{}; try again on the leader",
            leader.map(|l| format!(" ({l})")).unwrap_or_default()
        )),
        e => e.into(),
    }
}

/// Autolock's key follows the spec: made when autolock is turned on, new on rotation, gone
/// when it is turned off (swarmkit `controlapi/cluster.go UpdateCluster`).
pub(crate) fn set_unlock_key(cluster: &mut Cluster, autolock: bool, rotate: bool) {
    if !autolock {
        cluster.secrets.unlock_key.clear();
    } else if rotate || cluster.secrets.unlock_key.is_empty() {
        cluster.secrets.unlock_key = shoal_store::new_unlock_key();
    }
}
