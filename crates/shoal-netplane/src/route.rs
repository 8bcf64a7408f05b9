//! The route table the manager sends every node: one entry per published port.

use std::fmt;
use std::net::SocketAddr;

/// The transport a published port is proxied on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One published port of a service and where its running tasks are reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The published port: every node listens on it.
    pub port: u16,
    pub protocol: Protocol,
    /// Where the service's running tasks are reachable, on any node. Empty means the port
    /// stays open but every connection is reset at once (as Docker's mesh does).
    pub backends: Vec<SocketAddr>,
    /// Send a PROXY protocol v2 header to the backend before any client bytes (TCP only;
    /// ignored for UDP).
    pub proxy_protocol: bool,
}

impl Route {
    /// A TCP route without the PROXY protocol.
    pub fn tcp(port: u16, backends: Vec<SocketAddr>) -> Route {
        Route {
            port,
            protocol: Protocol::Tcp,
            backends,
            proxy_protocol: false,
        }
    }

    /// A UDP route.
    pub fn udp(port: u16, backends: Vec<SocketAddr>) -> Route {
        Route {
            port,
            protocol: Protocol::Udp,
            backends,
            proxy_protocol: false,
        }
    }

    /// The same route with the PROXY protocol v2 header switched on.
    pub fn with_proxy_protocol(mut self) -> Route {
        self.proxy_protocol = true;
        self
    }
}
