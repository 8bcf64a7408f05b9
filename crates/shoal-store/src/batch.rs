//! Group commit and forwarding to the leader.
//!
//! openraft 0.9 appends and fsyncs each `client_write` on its own, one after the other, so
//! concurrent writers would queue behind one fsync each. A single batcher task takes every
//! transaction that queued while the previous entry was in flight and proposes them as one Raft
//! entry; the state machine still checks and applies each one on its own, in order.
//!
//! On a follower the same batch goes to the leader over the cluster port (`Propose`), and the
//! writer is answered only once this node has applied the entry too, so a client that writes
//! through a follower then reads from it sees its own write.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::error::StoreError;
use crate::network::{Connector, Forward, forward};
use crate::raft_types::{NodeId, Proposal, Raft};
use crate::tx::Transaction;

/// Most transactions in one entry (keeps entries well under the transport's message limit).
const MAX_BATCH: usize = 512;

/// How long a write may wait for a leader to be known (an election in progress).
const LEADER_WAIT: Duration = Duration::from_secs(5);

/// How long a follower waits for a new leader after the current one proved unreachable,
/// before trying it again.
const LEADER_RETRY: Duration = Duration::from_millis(300);

/// How long a write may wait to be committed. A leader cut off from its quorum cannot commit,
/// and openraft 0.9 does not make it step down; without this bound its writers would hang.
pub(crate) const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// What the leader answers a forwarded proposal with.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ForwardReply {
    pub results: Vec<Result<(), StoreError>>,
    /// The log index of the entry, which the follower waits to have applied.
    pub index: u64,
}

/// The handle writers send their transactions to.
#[derive(Clone)]
pub(crate) struct Batcher {
    tx: mpsc::Sender<(Transaction, Reply)>,
}

impl Batcher {
    /// Starts the batcher task for `raft`; it ends when every handle is dropped.
    pub(crate) fn spawn(raft: Raft, me: NodeId, connector: Arc<dyn Connector>) -> Batcher {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(raft, me, connector, rx));
        Batcher { tx }
    }

    /// Proposes one transaction and waits for its own outcome.
    pub(crate) async fn propose(&self, t: Transaction) -> Result<(), StoreError> {
        let (reply, wait) = oneshot::channel();
        let gone = || StoreError::Unavailable("the store is shutting down".into());
        self.tx.send((t, reply)).await.map_err(|_| gone())?;
        wait.await.map_err(|_| gone())?
    }
}

async fn run(
    raft: Raft,
    me: NodeId,
    connector: Arc<dyn Connector>,
    mut rx: mpsc::Receiver<(Transaction, Reply)>,
) {
    let mut queued = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut queued, MAX_BATCH).await > 0 {
        let (txs, replies): (Vec<Transaction>, Vec<Reply>) = queued.drain(..).unzip();
        let outcome = commit(&raft, me, connector.as_ref(), Proposal { txs }).await;
        match outcome {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(err) => {
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }
}

/// Commits one batch: locally when this node leads, else through the leader. A leader that
/// cannot be reached (dead, cut off, or no longer leading) is given up on and the batch goes to
/// the next one once elected: nothing was sent, so the retry cannot apply it twice.
async fn commit(
    raft: &Raft,
    me: NodeId,
    connector: &dyn Connector,
    proposal: Proposal,
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let deadline = tokio::time::Instant::now() + COMMIT_TIMEOUT;
    loop {
        let leader = wait_for_leader(raft).await?;
        if leader == me {
            return write_local(raft, proposal)
                .await
                .map(|(results, _)| results);
        }
        let addr = leader_addr(raft, leader)?;
        match forward(connector, &addr, &proposal).await {
            Ok(reply) => {
                raft.wait(Some(COMMIT_TIMEOUT))
                    .applied_index_at_least(Some(reply.index), "forwarded write applied here")
                    .await
                    .map_err(|e| {
                        StoreError::Unavailable(format!("forwarded write not applied here: {e}"))
                    })?;
                return Ok(reply.results);
            }
            Err(Forward::NotSent(e)) if tokio::time::Instant::now() < deadline => {
                debug!(leader = %addr, error = %e, "leader unreachable; waiting for the next one");
                let _ = raft
                    .wait(Some(LEADER_RETRY))
                    .metrics(|m| m.current_leader != Some(leader), "a new leader")
                    .await;
            }
            Err(Forward::NotSent(e) | Forward::Failed(e)) => return Err(e),
        }
    }
}

/// `client_write` on the leader, bounded by [`COMMIT_TIMEOUT`]; the results and log index.
pub(crate) async fn write_local(
    raft: &Raft,
    proposal: Proposal,
) -> Result<(Vec<Result<(), StoreError>>, u64), StoreError> {
    let written = tokio::time::timeout(COMMIT_TIMEOUT, raft.client_write(proposal))
        .await
        .map_err(|_| no_quorum())?;
    match written {
        Ok(resp) => Ok((resp.data.results, resp.log_id.index)),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
            Err(StoreError::NotLeader {
                leader: f.leader_node.map(|n| n.addr),
            })
        }
        Err(e) => Err(StoreError::Unavailable(e.to_string())),
    }
}

fn no_quorum() -> StoreError {
    StoreError::Unavailable(format!(
        "the write was not committed within {} s: the managers may have lost quorum",
        COMMIT_TIMEOUT.as_secs()
    ))
}

/// The current leader, waiting briefly while an election is in progress.
async fn wait_for_leader(raft: &Raft) -> Result<NodeId, StoreError> {
    if let Some(l) = raft.metrics().borrow().current_leader {
        return Ok(l);
    }
    raft.wait(Some(LEADER_WAIT))
        .metrics(|m| m.current_leader.is_some(), "a leader is known")
        .await
        .ok()
        .and_then(|m| m.current_leader)
        .ok_or_else(|| {
            StoreError::Unavailable(
                "no manager is the leader: the managers may have lost quorum".into(),
            )
        })
}

/// The cluster address of member `id`, from the current membership.
pub(crate) fn leader_addr(raft: &Raft, id: NodeId) -> Result<String, StoreError> {
    let metrics = raft.metrics().borrow().clone();
    metrics
        .membership_config
        .membership()
        .get_node(&id)
        .map(|n| n.addr.clone())
        .ok_or(StoreError::NotLeader { leader: None })
}
