//! The manager role: the Raft-replicated store, the cluster gRPC port (mutual TLS), and the
//! control operations behind the swarm part of the Engine API (swarm, nodes; services and the
//! rest as their issues land). Validation happens here, then one store transaction.
//!
//! Layer L3: depends on types, ca, store and proto; never on the agent, the HTTP server or the
//! CLI. Errors cross to the API as `shoal_types::Error` with Docker's texts.
#![forbid(unsafe_code)]

mod auth;
mod bootstrap;
mod ca;
pub mod control;
pub mod dispatcher;
mod grpc;
mod ipam;
mod loops;
mod manager;
mod members;
mod raft_join;
mod recover;
mod tls_server;

pub use bootstrap::{ClusterParams, initial_objects};
pub use ca::INVALID_TOKEN;
pub use grpc::TlsMaterial;
pub use manager::{Manager, ManagerConfig, ManagerError};
pub use recover::SwarmObjects;
