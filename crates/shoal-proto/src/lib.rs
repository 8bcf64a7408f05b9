//! gRPC services of the cluster port (tonic + prost; `.proto` files compiled by protox, so no
//! system protoc is needed). Today: the Raft transport between managers. The dispatcher, CA and
//! log broker services join as their issues land. Depends on nothing of shoal's.
#![forbid(unsafe_code)]

/// Raft transport between managers.
pub mod raft {
    tonic::include_proto!("shoal.raft.v1");
}
