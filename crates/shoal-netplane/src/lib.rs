//! The node's data plane: the routing mesh's data path (a userspace L4 proxy) and the
//! overlay networks joining tasks across nodes ([`overlay`]).
//!
//! Docker Swarm's routing mesh makes every node answer on each published port of a service
//! and forward to the service's tasks on any node. Swarm does this with IPVS, which the
//! kernels shoal runs on lack, so shoal does it in userspace. The manager sends every node a
//! route table ([`Route`]: port, protocol, backends, PROXY protocol flag); [`Mesh::apply`]
//! turns it into listeners and this crate forwards:
//!
//! - TCP (`tcp.rs`): one task per connection, backends tried round-robin with a short connect
//!   timeout, recently failed ones last (`balance.rs`), and when none accepts, tried again
//!   with the latest table for a moment (a task may be running but not yet listening), an optional PROXY protocol v2 header
//!   ([`proxy_protocol`]), then both directions spliced with half-close and no idle timeout.
//! - UDP (`udp.rs`): one flow per client address with its own connected socket to a backend;
//!   replies leave through the listening socket; flows expire when idle.
//! - [`Mesh`] (`mesh.rs`): the listeners, made to match the table; [`PortStats`] counters.
//!
//! What this crate must not own: where the tables come from (store, tasks, health: the
//! agent and manager decide) or cluster logic. Kernel configuration for overlays sits behind
//! [`overlay::Kernel`]. It depends on tokio and tracing only, and never on other shoal
//! crates. [`dns`] is the overlays' embedded DNS server, [`vip`] serves services' VIPs.
#![forbid(unsafe_code)]

mod balance;
mod cmd;
pub mod dns;
mod mesh;
pub mod overlay;
pub mod proxy_protocol;
mod route;
mod stats;
mod tcp;
mod udp;
pub mod vip;

pub use mesh::{ApplyError, Mesh};
pub use proxy_protocol::ProxyHeader;
pub use route::{Protocol, Route};
pub use stats::PortStats;

use std::time::Duration;

/// Tuning of a [`Mesh`]; [`MeshConfig::default`] holds the production values.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// How long a TCP connect to one backend may take before the next one is tried. Short,
    /// because a backend on a healthy network answers (or refuses) within milliseconds.
    pub connect_timeout: Duration,
    /// How long a backend whose connect failed is tried after the others.
    pub failure_memory: Duration,
    /// How long a TCP connection waits for some backend to accept when every one failed or
    /// there is none (tasks that are starting, or a table about to change), trying again
    /// every 50 ms, before it is reset. Zero: reset at once.
    pub retry_for: Duration,
    /// A UDP flow with no datagram in either direction for this long is closed.
    pub udp_idle_timeout: Duration,
    /// The most UDP flows (client addresses) one port keeps; each holds a socket, so this
    /// bounds the file descriptors a flood of spoofed sources can take.
    pub udp_max_flows: usize,
    /// The size of each of the two copy buffers of a TCP connection.
    pub tcp_buffer_size: usize,
    /// The accept backlog of TCP listeners.
    pub tcp_backlog: u32,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            connect_timeout: Duration::from_secs(1),
            failure_memory: Duration::from_secs(5),
            retry_for: Duration::from_secs(2),
            udp_idle_timeout: Duration::from_secs(60),
            udp_max_flows: 4096,
            tcp_buffer_size: 64 * 1024,
            tcp_backlog: 1024,
        }
    }
}
