//! gRPC services of the cluster port (tonic + prost; `.proto` files compiled by protox, so no
//! system protoc is needed): the Raft transport between managers and the dispatcher agents talk
//! to. The CA and log broker services join as their issues land. Depends on nothing of shoal's.
#![forbid(unsafe_code)]

/// Raft transport between managers.
pub mod raft {
    tonic::include_proto!("shoal.raft.v1");
}

/// Dispatcher: agent sessions, heartbeats, assignments and task status.
pub mod dispatcher {
    tonic::include_proto!("shoal.dispatcher.v1");
}
