//! The dispatcher: every node's agent keeps a session here. It registers the node, streams the
//! node its tasks (the complete set first, then changes), takes heartbeats, applies batched task
//! status updates, and marks nodes Down when their heartbeats stop. The caller's identity is its
//! mutual-TLS certificate; messages cannot claim another node.

mod assignments;
mod files;
mod logs;
mod overlay;
mod routes;
mod service;
mod sessions;

use std::sync::Arc;
use std::time::Duration;

pub use logs::{LogBroker, Subscription};
pub use overlay::overlay_table;
pub use routes::mesh_routes;
pub use service::DispatcherService;
pub use sessions::Sessions;

/// Dispatcher settings.
#[derive(Debug, Clone, Copy)]
pub struct DispatcherConfig {
    /// How often agents heartbeat (the cluster's `Dispatcher.HeartbeatPeriod`, 2 s by default).
    pub period: Duration,
    /// Missed periods before a node is Down (swarmkit: 3).
    pub grace_periods: u32,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            period: Duration::from_secs(2),
            grace_periods: 3,
        }
    }
}

/// Shared dispatcher state.
pub type SharedSessions = Arc<Sessions>;
