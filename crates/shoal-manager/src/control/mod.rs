//! Control operations: what the Engine API's swarm endpoints do on a manager. Each validates
//! its input with Docker's texts, then runs one store transaction.

mod blob;
mod logs;
mod lookup;
pub(crate) mod network;
mod node;
mod port_alloc;
pub(crate) use port_alloc::assign as assign_ports;
pub(crate) mod service;
mod service_validate;
mod swarm;
mod task;

pub use logs::LogTarget;
pub use lookup::resolve;
pub(crate) use network::ingress_network;
pub use service::Rollback;
pub use swarm::MIN_CERT_EXPIRY_NS;
