//! Object metadata: the version used for optimistic concurrency and the timestamps.

use serde::{Deserialize, Serialize};

/// `Version{Index}`: the Raft log index of the transaction that last wrote the object.
/// An update must carry the version it read; a stale one fails with "update out of sequence".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version {
    #[serde(rename = "Index", default)]
    pub index: u64,
}

/// Flattened into every object: `Version`, `CreatedAt`, `UpdatedAt` (RFC 3339 with nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Meta {
    #[serde(default)]
    pub version: Version,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
}
