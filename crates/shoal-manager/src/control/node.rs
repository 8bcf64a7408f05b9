//! `GET /nodes`, `GET /nodes/{id}`, `POST /nodes/{id}/update`, `DELETE /nodes/{id}`.

use shoal_types::{
    Cluster, Error, Filters, Kind, ManagerStatus, Node, NodeRole, NodeSpec, NodeState,
    Reachability, Version,
};

use super::lookup::resolve;
use super::service_validate::rpc;
use super::swarm::store_err;
use crate::manager::Manager;

/// Filter keys `GET /nodes` accepts (moby's `newListNodesFilters`).
const NODE_FILTERS: &[&str] = &["id", "label", "name", "node.label", "membership", "role"];

impl Manager {
    /// `GET /nodes` with filters.
    pub fn list_nodes(&self, filters: &Filters) -> Result<Vec<Node>, Error> {
        filters.validate(NODE_FILTERS)?;
        let nodes = self.store.view(|v| v.list::<Node>());
        Ok(nodes
            .into_iter()
            .filter(|n| node_matches(n, filters))
            .map(|n| self.api_view(n))
            .collect())
    }

    /// `GET /nodes/{id}`: by ID, name or unique prefix.
    pub fn get_node(&self, input: &str) -> Result<Node, Error> {
        let node = self.store.view(|v| self.resolve_node(v, input))?;
        Ok(self.api_view(node))
    }

    /// Resolves a node reference. Beyond Docker, which resolves `self` only in its CLI's
    /// inspect/ps, the API also takes `self` (when no node is named so) for this node, so
    /// `docker node update … self` works too.
    fn resolve_node(&self, view: &shoal_store::ReadTx<'_>, input: &str) -> Result<Node, Error> {
        match resolve::<Node>(view, input, |n| n.display_name()) {
            Err(e) if input == "self" && e.kind == shoal_types::ErrorKind::NotFound => {
                resolve::<Node>(view, &self.node_id, |n| n.display_name())
            }
            other => other,
        }
    }

    /// `POST /nodes/{id}/update?version=N`.
    pub async fn update_node(
        &self,
        input: &str,
        version: u64,
        spec: NodeSpec,
    ) -> Result<(), Error> {
        shoal_types::validate::labels(&spec.labels)?;
        self.store
            .update(|tx| {
                let mut node = self.resolve_node(tx.committed(), input)?;
                if node.spec.role == NodeRole::Manager && spec.role == NodeRole::Worker {
                    let managers = tx
                        .list::<Node>()
                        .iter()
                        .filter(|n| n.spec.role == NodeRole::Manager)
                        .count();
                    if managers <= 1 {
                        return Err(rpc(
                            "FailedPrecondition",
                            "attempting to demote the last manager of the swarm",
                        ));
                    }
                }
                node.spec = spec;
                node.meta.version = Version { index: version };
                tx.update(node).map_err(store_err)
            })
            .await
    }

    /// `DELETE /nodes/{id}[?force=1]` with swarmkit's refusals.
    pub async fn remove_node(&self, input: &str, force: bool) -> Result<(), Error> {
        self.store
            .update(|tx| {
                let node = self.resolve_node(tx.committed(), input)?;
                if node.spec.role == NodeRole::Manager || node.raft_id.is_some() {
                    return Err(rpc(
                        "FailedPrecondition",
                        format!(
                            "node {} is a cluster manager and is a member of the raft cluster. It \
                             must be demoted to worker before removal",
                            node.id
                        ),
                    ));
                }
                if !force && node.status.state == NodeState::Ready {
                    return Err(rpc(
                        "FailedPrecondition",
                        format!("node {} is not down and can't be removed", node.id),
                    ));
                }
                // Its certificate stays valid until it expires: remember the ID so the cluster
                // port refuses it ("node X was removed from swarm").
                if let Some(mut cluster) = tx.list::<Cluster>().into_iter().next() {
                    cluster.removed_nodes.push(node.id.clone());
                    tx.update(cluster).map_err(store_err)?;
                }
                tx.delete(Kind::Node, &node.id).map_err(store_err)
            })
            .await
    }

    /// A node as the API shows it: internal fields dropped, manager status from Raft now.
    fn api_view(&self, node: Node) -> Node {
        let raft_id = node.raft_id;
        let mut out = node.to_api();
        if let (Some(raft_id), Some(ms)) = (raft_id, out.manager_status.as_mut()) {
            *ms = self.live_manager_status(raft_id, ms);
        }
        out
    }

    /// Leader from this manager's Raft view now; reachability as the leader recorded it
    /// (the leader itself, and this manager, are reachable by definition).
    fn live_manager_status(&self, raft_id: u64, stored: &ManagerStatus) -> ManagerStatus {
        let leader = self.store.raft().metrics().borrow().current_leader == Some(raft_id);
        let reachability = if leader || raft_id == self.store.raft_id() {
            Reachability::Reachable
        } else {
            stored.reachability
        };
        ManagerStatus {
            leader,
            reachability,
            addr: stored.addr.clone(),
        }
    }
}

fn node_matches(n: &Node, f: &Filters) -> bool {
    f.any("id", |v| n.id.starts_with(v))
        && f.any("name", |v| n.display_name().starts_with(v))
        && f.any("role", |v| v == n.spec.role.as_str())
        && f.any("membership", |v| v == "accepted")
        && f.labels_match("node.label", &n.spec.labels)
        && f.labels_match("label", &n.description.engine.labels)
}
