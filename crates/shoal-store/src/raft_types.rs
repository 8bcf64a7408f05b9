//! openraft's type configuration for the cluster store.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::tx::Transaction;

/// One Raft entry: the transactions that queued while the previous entry was in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub txs: Vec<Transaction>,
}

/// The outcome of each transaction of an entry, in order: its preconditions held, or which
/// one failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxResponse {
    pub results: Vec<Result<(), StoreError>>,
}

openraft::declare_raft_types!(
    /// Raft types of the cluster store: entries are store transactions.
    pub TypeConfig:
        D = Proposal,
        R = TxResponse,
        NodeId = u64,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type NodeId = u64;
pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
