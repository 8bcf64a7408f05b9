//! The objects a new swarm starts with: the cluster (with its root CA and join tokens) and the
//! first manager's node.

use shoal_ca::RootCa;
use shoal_types::{
    Cluster, ClusterSecrets, Error, JoinTokens, ManagerStatus, Node, NodeDescription, NodeRole,
    NodeSpec, NodeState, NodeStatus, Reachability, SwarmSpec, TlsInfo,
};

/// What `swarm init` decided.
#[derive(Debug, Clone)]
pub struct ClusterParams {
    pub cluster_id: String,
    pub node_id: String,
    pub raft_id: u64,
    /// `host:port` other managers and agents reach this one at.
    pub advertise_addr: String,
    pub spec: SwarmSpec,
    pub default_addr_pool: Vec<String>,
    pub subnet_size: u32,
    pub data_path_port: u32,
    pub availability: shoal_types::Availability,
    pub description: NodeDescription,
}

/// Builds the initial Cluster and Node objects (Engine API defaults filled in).
pub fn initial_objects(p: &ClusterParams, root: &RootCa) -> Result<(Cluster, Node), Error> {
    let ca_err = |e: shoal_ca::CaError| Error::internal(format!("certificate authority: {e}"));
    let (cert_issuer_subject, cert_issuer_public_key) =
        shoal_ca::issuer_info(&root.cert_pem).map_err(ca_err)?;
    let tls_info = TlsInfo {
        trust_root: root.cert_pem.clone(),
        cert_issuer_subject,
        cert_issuer_public_key,
    };
    let cluster = Cluster {
        id: p.cluster_id.clone(),
        spec: p.spec.clone(),
        tls_info: tls_info.clone(),
        default_addr_pool: if p.default_addr_pool.is_empty() {
            vec!["10.0.0.0/8".into()]
        } else {
            p.default_addr_pool.clone()
        },
        subnet_size: if p.subnet_size == 0 {
            24
        } else {
            p.subnet_size
        },
        data_path_port: if p.data_path_port == 0 {
            4789
        } else {
            p.data_path_port
        },
        join_tokens: JoinTokens {
            worker: shoal_ca::generate_join_token(root).map_err(ca_err)?,
            manager: shoal_ca::generate_join_token(root).map_err(ca_err)?,
        },
        secrets: ClusterSecrets {
            root_ca_cert: root.cert_pem.clone(),
            root_ca_key: root.key_pem.clone(),
            unlock_key: if p.spec.encryption_config.auto_lock_managers {
                shoal_store::new_unlock_key()
            } else {
                String::new()
            },
        },
        ..Default::default()
    };
    let host = p
        .advertise_addr
        .rsplit_once(':')
        .map_or(p.advertise_addr.as_str(), |(h, _)| h);
    let mut description = p.description.clone();
    description.tls_info = tls_info;
    let node = Node {
        id: p.node_id.clone(),
        spec: NodeSpec {
            role: NodeRole::Manager,
            availability: p.availability,
            ..Default::default()
        },
        description,
        status: NodeStatus {
            state: NodeState::Ready,
            message: String::new(),
            addr: host.to_string(),
        },
        manager_status: Some(ManagerStatus {
            leader: false,
            reachability: Reachability::Reachable,
            addr: p.advertise_addr.clone(),
        }),
        raft_id: Some(p.raft_id),
        ..Default::default()
    };
    Ok((cluster, node))
}
