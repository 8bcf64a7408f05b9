//! The certificate authority on the cluster port: the root certificate for joiners, node
//! certificates for a valid join token (the token decides the role, compared in constant time),
//! and renewals for nodes that already hold a certificate (with the role they have now).

use std::time::{Duration, SystemTime};

use shoal_ca::{Role, RootCa};
use shoal_proto::ca::node_ca_server::NodeCa;
use shoal_proto::ca::{
    GetRootCaRequest, GetRootCaResponse, IssueNodeCertificateRequest, IssueNodeCertificateResponse,
};
use shoal_store::Store;
use shoal_types::{
    Availability, Cluster, ManagerStatus, Node, NodeRole, NodeSpec, NodeStatus, Reachability,
};
use tonic::{Request, Response, Status};
use tracing::info;

use crate::auth::{Authorizer, certificate_role, peer_identity, role_name};

/// Docker's text for a wrong or rotated join token.
pub const INVALID_TOKEN: &str = "A valid join token is necessary to join this cluster";

/// Serves `NodeCA`.
pub struct CaService {
    store: Store,
    auth: Authorizer,
    /// The root certificate, known before this manager has replicated the cluster object.
    root_pem: String,
}

impl CaService {
    pub(crate) fn new(store: Store, auth: Authorizer, root_pem: String) -> Self {
        Self {
            store,
            auth,
            root_pem,
        }
    }

    fn cluster(&self) -> Result<Cluster, Status> {
        self.store
            .view(|v| v.list::<Cluster>().into_iter().next())
            .ok_or_else(|| Status::unavailable("this manager has not caught up with the swarm"))
    }

    /// The addresses of the voting managers.
    fn managers(&self) -> Vec<String> {
        self.store.voters().into_iter().map(|m| m.addr).collect()
    }

    /// A new node for a valid token: creates its node object and signs its key.
    async fn join(
        &self,
        req: IssueNodeCertificateRequest,
        remote_ip: String,
    ) -> Result<IssueNodeCertificateResponse, Status> {
        let cluster = self.cluster()?;
        let role = token_role(&cluster, &req.token)?;
        let availability = parse_availability(&req.availability)?;
        let node_id = shoal_types::new_id();
        let cert_pem = sign(&cluster, &req.csr_pem, &node_id, role)?;
        let mut node = new_node(&node_id, role, availability, remote_ip, &req.advertise_addr);
        if let Ok(d) = serde_json::from_slice::<shoal_types::NodeDescription>(&req.description_json)
        {
            // The session replaces it with the agent's own once it connects.
            node.description = d;
        }
        self.store
            .update(|tx| tx.create(node))
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        info!(node.id = %node_id, role = role.ou(), "node joined");
        Ok(IssueNodeCertificateResponse {
            node_id,
            certificate_pem: cert_pem,
            role: role_name(role).into(),
            cluster_id: cluster.id,
            managers: self.managers(),
        })
    }

    /// A renewal: same node, the role its node object has now.
    fn renew(&self, node_id: &str, csr_pem: &str) -> Result<IssueNodeCertificateResponse, Status> {
        let cluster = self.cluster()?;
        let node = self.store.view(|v| v.get::<Node>(node_id)).ok_or_else(|| {
            Status::permission_denied(format!(
                "Permission denied: node {node_id} was removed from swarm"
            ))
        })?;
        let role = certificate_role(&node);
        let cert_pem = sign(&cluster, csr_pem, node_id, role)?;
        Ok(IssueNodeCertificateResponse {
            node_id: node_id.to_string(),
            certificate_pem: cert_pem,
            role: role_name(role).into(),
            cluster_id: cluster.id,
            managers: self.managers(),
        })
    }
}

#[tonic::async_trait]
impl NodeCa for CaService {
    async fn get_root_ca_certificate(
        &self,
        _req: Request<GetRootCaRequest>,
    ) -> Result<Response<GetRootCaResponse>, Status> {
        Ok(Response::new(GetRootCaResponse {
            certificate_pem: self.root_pem.clone(),
        }))
    }

    async fn issue_node_certificate(
        &self,
        req: Request<IssueNodeCertificateRequest>,
    ) -> Result<Response<IssueNodeCertificateResponse>, Status> {
        let remote_ip = crate::auth::peer_ip(&req);
        if req.get_ref().token.is_empty() && peer_identity(&req)?.is_some() {
            let id = self.auth.node(&req)?;
            return self
                .renew(&id.node_id, &req.get_ref().csr_pem)
                .map(Response::new);
        }
        self.join(req.into_inner(), remote_ip)
            .await
            .map(Response::new)
    }
}

/// The role a token grants, or Docker's refusal. Both tokens are compared in full, in
/// constant time, so timing does not reveal which one (or how much of one) matched.
fn token_role(cluster: &Cluster, token: &str) -> Result<Role, Status> {
    let worker = shoal_ca::tokens_equal(token, &cluster.join_tokens.worker);
    let manager = shoal_ca::tokens_equal(token, &cluster.join_tokens.manager);
    match (manager, worker) {
        (true, _) => Ok(Role::Manager),
        (_, true) => Ok(Role::Worker),
        _ => Err(Status::invalid_argument(INVALID_TOKEN)),
    }
}

fn parse_availability(s: &str) -> Result<Availability, Status> {
    match s {
        "" | "active" => Ok(Availability::Active),
        "pause" => Ok(Availability::Pause),
        "drain" => Ok(Availability::Drain),
        other => Err(Status::invalid_argument(format!(
            "invalid availability: {other}"
        ))),
    }
}

/// Signs `csr_pem` for `node_id` with the swarm's root key and certificate lifetime.
fn sign(cluster: &Cluster, csr_pem: &str, node_id: &str, role: Role) -> Result<String, Status> {
    let root = RootCa {
        cert_pem: cluster.secrets.root_ca_cert.clone(),
        key_pem: cluster.secrets.root_ca_key.clone(),
    };
    let validity = match cluster.spec.ca_config.node_cert_expiry {
        ns if ns > 0 => Duration::from_nanos(ns as u64),
        _ => shoal_ca::DEFAULT_NODE_CERT_VALIDITY,
    };
    root.sign_csr(
        csr_pem,
        node_id,
        role,
        &cluster.id,
        SystemTime::now(),
        validity,
    )
    .map_err(|e| Status::invalid_argument(format!("invalid certificate request: {e}")))
}

/// The node object of a node that has just joined; its agent's session fills in the rest.
fn new_node(
    node_id: &str,
    role: Role,
    availability: Availability,
    remote_ip: String,
    advertise_addr: &str,
) -> Node {
    let manager = role == Role::Manager;
    Node {
        id: node_id.to_string(),
        spec: NodeSpec {
            role: if manager {
                NodeRole::Manager
            } else {
                NodeRole::Worker
            },
            availability,
            ..Default::default()
        },
        status: NodeStatus {
            addr: remote_ip,
            ..Default::default()
        },
        manager_status: manager.then(|| ManagerStatus {
            leader: false,
            reachability: Reachability::Unknown,
            addr: advertise_addr.to_string(),
        }),
        ..Default::default()
    }
}
