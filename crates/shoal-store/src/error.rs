//! Store errors, with swarmkit's texts.

use serde::{Deserialize, Serialize};
use shoal_types::{Error, ErrorKind};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum StoreError {
    #[error("object already exists")]
    Exists,
    #[error("name conflicts with an existing object")]
    NameConflict,
    #[error("object does not exist")]
    NotFound,
    #[error("update out of sequence")]
    OutOfSequence,
    /// This manager is not the Raft leader; `leader` is its address when known.
    #[error("this manager is not the leader")]
    NotLeader { leader: Option<String> },
    /// Raft could not commit (no quorum, shutting down).
    #[error("the cluster store is unavailable: {0}")]
    Unavailable(String),
    /// The data directory cannot be used.
    #[error("{0}")]
    Disk(String),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        let kind = match e {
            StoreError::Exists | StoreError::NameConflict => ErrorKind::AlreadyExists,
            StoreError::NotFound => ErrorKind::NotFound,
            // swarmkit returns ErrSequenceConflict as a plain error: gRPC Unknown, HTTP 500.
            StoreError::OutOfSequence => ErrorKind::Internal,
            StoreError::NotLeader { .. } | StoreError::Unavailable(_) => ErrorKind::Unavailable,
            StoreError::Disk(_) => ErrorKind::Internal,
        };
        Error::new(kind, e.to_string())
    }
}
