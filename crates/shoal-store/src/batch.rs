//! Group commit. openraft 0.9 appends and fsyncs each `client_write` on its own, one after the
//! other, so concurrent writers would queue behind one fsync each. A single batcher task takes
//! every transaction that queued while the previous entry was in flight and proposes them as
//! one Raft entry; the state machine still checks and applies each one on its own, in order.

use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::raft_types::{Proposal, Raft};
use crate::tx::Transaction;

/// Most transactions in one entry (keeps entries well under the transport's message limit).
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// The handle writers send their transactions to.
#[derive(Clone)]
pub(crate) struct Batcher {
    tx: mpsc::Sender<(Transaction, Reply)>,
}

impl Batcher {
    /// Starts the batcher task for `raft`; it ends when every handle is dropped.
    pub(crate) fn spawn(raft: Raft) -> Batcher {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(raft, rx));
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

async fn run(raft: Raft, mut rx: mpsc::Receiver<(Transaction, Reply)>) {
    let mut queued = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut queued, MAX_BATCH).await > 0 {
        let (txs, replies): (Vec<Transaction>, Vec<Reply>) = queued.drain(..).unzip();
        match raft.client_write(Proposal { txs }).await {
            Ok(resp) => {
                for (reply, result) in replies.into_iter().zip(resp.data.results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                let err = match e {
                    RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                        StoreError::NotLeader {
                            leader: f.leader_node.map(|n| n.addr),
                        }
                    }
                    e => StoreError::Unavailable(e.to_string()),
                };
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }
}
