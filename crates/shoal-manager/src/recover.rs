//! `swarm init --force-new-cluster`: a manager that lost its quorum for good becomes the only
//! manager of a swarm that keeps all its state. The objects are read from this manager's copy,
//! a new single-voter Raft cluster is started in a fresh store, and the objects are written
//! back; the other managers stay in the node list (unreachable) until demoted or removed.

use shoal_types::{Cluster, Node, Reachability, Service, Task};

use crate::manager::{Manager, ManagerError};

/// Everything a swarm's store holds, taken from one manager.
#[derive(Debug, Clone, Default)]
pub struct SwarmObjects {
    pub clusters: Vec<Cluster>,
    pub nodes: Vec<Node>,
    pub services: Vec<Service>,
    pub tasks: Vec<Task>,
}

impl Manager {
    /// This manager's copy of the swarm's objects (committed state; may lag the lost leader).
    pub fn export_objects(&self) -> SwarmObjects {
        self.store.view(|v| SwarmObjects {
            clusters: v.list::<Cluster>(),
            nodes: v.list::<Node>(),
            services: v.list::<Service>(),
            tasks: v.list::<Task>(),
        })
    }

    /// Starts a new single-voter Raft cluster in this (empty) store holding `objects`, with this
    /// manager's node object recording its new Raft ID.
    pub async fn bootstrap_from(&self, objects: SwarmObjects) -> Result<(), ManagerError> {
        self.store.bootstrap(&self.advertise_addr).await?;
        let raft_id = self.store.raft_id();
        let me = self.node_id.clone();
        self.store
            .update(|tx| {
                for c in objects.clusters {
                    tx.create(c)?;
                }
                for mut n in objects.nodes {
                    if n.id == me {
                        n.raft_id = Some(raft_id);
                        if let Some(ms) = n.manager_status.as_mut() {
                            ms.reachability = Reachability::Reachable;
                        }
                    } else if let Some(ms) = n.manager_status.as_mut() {
                        ms.reachability = Reachability::Unreachable;
                    }
                    tx.create(n)?;
                }
                for s in objects.services {
                    tx.create(s)?;
                }
                for t in objects.tasks {
                    tx.create(t)?;
                }
                Ok::<_, shoal_store::StoreError>(())
            })
            .await?;
        tracing::info!(node.id = %self.node_id, "new single-manager cluster from this manager's state");
        Ok(())
    }
}
