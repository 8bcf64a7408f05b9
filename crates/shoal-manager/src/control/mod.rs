//! Control operations: what the Engine API's swarm endpoints do on a manager. Each validates
//! its input with Docker's texts, then runs one store transaction.

mod lookup;
mod node;
mod swarm;

pub use lookup::resolve;
pub use swarm::MIN_CERT_EXPIRY_NS;
