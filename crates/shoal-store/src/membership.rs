//! The managers' Raft membership: who votes, who leads, and changes to the voter set.
//! Changes go through openraft's joint consensus; a new manager first catches up as a learner.

use std::collections::BTreeSet;
use std::time::Duration;

use openraft::{BasicNode, ChangeMembers};

use crate::batch::{COMMIT_TIMEOUT, leader_addr};
use crate::error::StoreError;
use crate::raft_types::NodeId;
use crate::store::Store;

/// One voting manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub raft_id: NodeId,
    /// Its cluster address (`host:port`).
    pub addr: String,
}

impl Store {
    /// The voters of the current membership configuration.
    pub fn voters(&self) -> Vec<Member> {
        let m = self.raft().metrics().borrow().clone();
        let membership = m.membership_config.membership();
        membership
            .voter_ids()
            .filter_map(|id| {
                membership.get_node(&id).map(|n| Member {
                    raft_id: id,
                    addr: n.addr.clone(),
                })
            })
            .collect()
    }

    /// Members that replicate without voting (a manager joining, or a leader that removed
    /// itself and could not finish).
    pub fn learners(&self) -> Vec<NodeId> {
        let m = self.raft().metrics().borrow().clone();
        m.membership_config.membership().learner_ids().collect()
    }

    /// The leader's Raft ID and cluster address, when one is known.
    pub fn leader(&self) -> Option<Member> {
        let id = self.raft().metrics().borrow().current_leader?;
        let addr = leader_addr(self.raft(), id).ok()?;
        Some(Member { raft_id: id, addr })
    }

    /// Adds a manager as a voter: it first replicates as a learner until it has caught up,
    /// then joins the voters. Only the leader can do this.
    pub async fn add_voter(&self, raft_id: NodeId, addr: &str) -> Result<(), StoreError> {
        self.require_leader()?;
        let node = BasicNode {
            addr: addr.to_string(),
        };
        timed(self.raft().add_learner(raft_id, node, true)).await?;
        let voters: BTreeSet<NodeId> = self
            .voters()
            .into_iter()
            .map(|m| m.raft_id)
            .chain([raft_id])
            .collect();
        timed(self.raft().change_membership(voters, false)).await
    }

    /// Removes a manager from the voters (and from the membership). Only the leader can do it.
    /// Removing one that is already gone succeeds.
    pub async fn remove_voter(&self, raft_id: NodeId) -> Result<(), StoreError> {
        self.require_leader()?;
        let remove = BTreeSet::from([raft_id]);
        if self.voters().iter().any(|m| m.raft_id == raft_id) {
            timed(
                self.raft()
                    .change_membership(ChangeMembers::RemoveVoters(remove.clone()), false),
            )
            .await?;
        }
        let still_known = {
            let m = self.raft().metrics().borrow().clone();
            m.membership_config
                .membership()
                .get_node(&raft_id)
                .is_some()
        };
        if still_known && raft_id != self.raft_id() {
            timed(
                self.raft()
                    .change_membership(ChangeMembers::RemoveNodes(remove), false),
            )
            .await?;
        }
        Ok(())
    }

    /// The leader's cluster address when this node does not lead, as a `NotLeader` error.
    fn require_leader(&self) -> Result<(), StoreError> {
        match self.leader() {
            Some(l) if l.raft_id == self.raft_id() => Ok(()),
            l => Err(StoreError::NotLeader {
                leader: l.map(|l| l.addr),
            }),
        }
    }
}

/// Runs a membership change with the same bound as any write.
async fn timed<T, E: std::fmt::Display>(
    f: impl Future<Output = Result<T, E>>,
) -> Result<(), StoreError> {
    match tokio::time::timeout(COMMIT_TIMEOUT + Duration::from_secs(20), f).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(StoreError::Unavailable(format!(
            "membership change failed: {e}"
        ))),
        Err(_) => Err(StoreError::Unavailable(
            "membership change timed out: the managers may have lost quorum".into(),
        )),
    }
}
