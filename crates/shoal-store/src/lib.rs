//! The cluster store: in-memory tables with indexes, `view`/`update` transactions with
//! optimistic concurrency (`Meta.Version.Index` is the Raft index of the last write; a stale
//! one fails with "update out of sequence"), change events ending in a commit marker, `watch`
//! and `view_and_watch`. Every write is a Raft entry (openraft) whose log, vote and snapshots
//! live in one redb file; snapshots are taken every 10,000 entries by default.
//!
//! Layer L2: depends on shoal-types and shoal-proto only; never on manager, agent or HTTP code.
#![forbid(unsafe_code)]

mod batch;
mod disk;
mod error;
mod log_store;
mod membership;
mod network;
mod raft_types;
mod seal;
mod state_machine;
mod store;
mod tables;
mod tx;

pub use disk::FORMAT_VERSION;
pub use error::StoreError;
pub use membership::Member;
pub use network::{Connector, Network, RaftService};
pub use raft_types::{NodeId, Proposal, Raft, TxResponse, TypeConfig};
pub use seal::{DATA_KEY_LEN, Sealer, new_data_key, new_unlock_key, parse_unlock_key};
pub use store::{Store, StoreConfig};
pub use tables::Tables;
pub use tx::{Action, Event, ReadTx, Transaction, WriteTx};
