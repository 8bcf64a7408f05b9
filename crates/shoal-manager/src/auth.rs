//! Who may call what on the cluster port. The caller is its verified client certificate
//! (CN node ID, OU role, O cluster ID); messages never name the caller. Workers may use the
//! dispatcher only; managers also Raft and membership; nobody from another cluster and no
//! removed node gets anything. Anonymous callers reach only the CA's join calls.

use shoal_ca::{CertIdentity, Role};
use shoal_store::Store;
use shoal_types::{Cluster, Node, NodeRole};
use tonic::{Request, Status};

use crate::tls_server::PeerInfo;

/// Checks callers against this swarm.
#[derive(Clone)]
pub(crate) struct Authorizer {
    cluster_id: String,
    store: Store,
}

impl Authorizer {
    pub(crate) fn new(cluster_id: String, store: Store) -> Self {
        Self { cluster_id, store }
    }

    /// The caller's identity when it is a node of this swarm that was not removed.
    pub(crate) fn node<T>(&self, req: &Request<T>) -> Result<CertIdentity, Status> {
        let id = peer_identity(req)?.ok_or_else(|| {
            Status::unauthenticated("Permission denied: a client certificate is required")
        })?;
        if id.cluster_id != self.cluster_id {
            return Err(Status::permission_denied(format!(
                "Permission denied: remote certificate not part of organization: {}",
                self.cluster_id
            )));
        }
        let removed = self.store.view(|v| {
            v.list::<Cluster>()
                .first()
                .is_some_and(|c| c.removed_nodes.contains(&id.node_id))
        });
        if removed {
            return Err(Status::permission_denied(format!(
                "Permission denied: node {} was removed from swarm",
                id.node_id
            )));
        }
        Ok(id)
    }

    /// The caller's identity when it is a manager of this swarm.
    pub(crate) fn manager<T>(&self, req: &Request<T>) -> Result<CertIdentity, Status> {
        let id = self.node(req)?;
        if id.role != Role::Manager {
            return Err(Status::permission_denied(format!(
                "Permission denied: unauthorized peer role: rpc error: code = PermissionDenied \
                 desc = remote certificate's role ({}) is not one of the authorized roles: [{}]",
                id.role.ou(),
                Role::Manager.ou()
            )));
        }
        Ok(id)
    }

    /// An interceptor that admits managers only (for services implemented elsewhere).
    pub(crate) fn managers_only(
        &self,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + Send + 'static {
        let auth = self.clone();
        move |req: Request<()>| auth.manager(&req).map(|_| req)
    }
}

/// The identity in the caller's certificate, `None` when it presented none. A certificate that
/// was presented has already been verified against the root by the TLS handshake.
pub(crate) fn peer_identity<T>(req: &Request<T>) -> Result<Option<CertIdentity>, Status> {
    let Some(certs) = req
        .extensions()
        .get::<PeerInfo>()
        .and_then(|p| p.certs.clone())
    else {
        return Ok(None);
    };
    let Some(der) = certs.first() else {
        return Ok(None);
    };
    shoal_ca::identity_from_der(der.as_ref())
        .map(Some)
        .map_err(|e| Status::permission_denied(format!("Permission denied: {e}")))
}

/// The role a node's certificate should carry: a manager until it has left the Raft membership,
/// so a demoted manager keeps serving until the leader has removed it (and a promoted node gets
/// its manager certificate at once).
pub(crate) fn certificate_role(node: &Node) -> Role {
    if node.spec.role == NodeRole::Manager || node.raft_id.is_some() {
        Role::Manager
    } else {
        Role::Worker
    }
}

/// The name of a role on the wire (`manager`, `worker`).
pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Manager => "manager",
        Role::Worker => "worker",
    }
}

/// The caller's IP address, as text (empty when unknown).
pub(crate) fn peer_ip<T>(req: &Request<T>) -> String {
    req.extensions()
        .get::<PeerInfo>()
        .and_then(|p| p.remote_addr)
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}
