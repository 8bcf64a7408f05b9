//! gRPC services of the cluster port (tonic + prost; `.proto` files compiled by protox, so no
//! system protoc is needed): the Raft transport between managers and the dispatcher agents talk
//! to, the certificate authority and manager membership. Depends on nothing of shoal's.
#![forbid(unsafe_code)]

/// Raft transport between managers.
pub mod raft {
    tonic::include_proto!("shoal.raft.v1");
}

/// Dispatcher: agent sessions, heartbeats, assignments and task status.
pub mod dispatcher {
    tonic::include_proto!("shoal.dispatcher.v1");
}

/// The certificate authority: root certificate and node certificates (joining, renewal).
pub mod ca {
    tonic::include_proto!("shoal.ca.v1");
}

/// Raft membership of the managers (join, leave).
pub mod membership {
    tonic::include_proto!("shoal.membership.v1");
}

/// The metadata key a non-leader manager puts the leader's cluster address under.
pub const LEADER_METADATA: &str = "shoal-leader";
