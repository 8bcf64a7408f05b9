//! [`Mesh`]: the set of published-port listeners of one node, made to match a route table.
//!
//! The map of ports is the only state with a lock, and only `apply` and `stats` take it; the
//! data path reaches its port's [`Balancer`] through an `Arc` captured when the listener
//! started.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::balance::Balancer;
use crate::stats::{Counters, PortStats};
use crate::{MeshConfig, Protocol, Route, tcp, udp};

/// A published port that could not be listened on. `apply` retries it on its next call.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {port}/{protocol}: {source}")]
pub struct ApplyError {
    pub port: u16,
    pub protocol: Protocol,
    #[source]
    pub source: io::Error,
}

/// What the data path of one port shares: the backends, the counters and the settings.
#[derive(Debug)]
pub(crate) struct PortCtx {
    pub(crate) port: u16,
    pub(crate) balancer: Balancer,
    pub(crate) counters: Arc<Counters>,
    pub(crate) config: MeshConfig,
}

/// A running listener. Dropping it (with the mesh) aborts the listener task; `apply` instead
/// stops it and waits, so the port is closed when `apply` returns.
struct Port {
    ctx: Arc<PortCtx>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Drop for Port {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The routing mesh of one node: a listener per published port, forwarding to the port's
/// backends.
///
/// Dropping the mesh stops every listener; TCP connections already proxied carry on until
/// they end, as they do when a single route is removed.
pub struct Mesh {
    bind: IpAddr,
    config: MeshConfig,
    /// Serialises whole `apply` calls, including the waits for stopped listeners.
    apply_lock: tokio::sync::Mutex<()>,
    ports: Mutex<HashMap<(u16, Protocol), Port>>,
}

impl Mesh {
    /// A mesh that listens on `bind` (usually `0.0.0.0`, or `::` for dual stack) with the
    /// default [`MeshConfig`]. Nothing listens until [`Mesh::apply`].
    pub fn new(bind: IpAddr) -> Mesh {
        Mesh::with_config(bind, MeshConfig::default())
    }

    pub fn with_config(bind: IpAddr, config: MeshConfig) -> Mesh {
        Mesh {
            bind,
            config,
            apply_lock: tokio::sync::Mutex::new(()),
            ports: Mutex::new(HashMap::new()),
        }
    }

    /// Makes the listeners match `routes`: binds new ports, swaps the backend list of ports
    /// already listening (new connections use it at once, established ones keep theirs),
    /// and stops listening on ports no longer routed (TCP connections already proxied
    /// continue until they end; UDP flows of such a port end with it).
    ///
    /// Returns the ports that could not be bound. They are not remembered: the next `apply`
    /// that still routes them tries to bind them again. If `routes` names a port and
    /// protocol twice, the last entry wins.
    pub async fn apply(&self, routes: Vec<Route>) -> Vec<ApplyError> {
        let _serial = self.apply_lock.lock().await;
        let mut wanted: HashMap<(u16, Protocol), Route> = HashMap::with_capacity(routes.len());
        for route in routes {
            if route.protocol == Protocol::Udp && route.proxy_protocol {
                warn!(
                    port = route.port,
                    "PROXY protocol is TCP only; ignored for udp"
                );
            }
            if let Some(old) = wanted.insert((route.port, route.protocol), route) {
                warn!(port = old.port, protocol = %old.protocol, "port routed twice; last wins");
            }
        }

        let removed: Vec<Port> = {
            let mut ports = self.lock_ports();
            let gone: Vec<_> = ports
                .keys()
                .filter(|key| !wanted.contains_key(key))
                .copied()
                .collect();
            gone.iter().filter_map(|key| ports.remove(key)).collect()
        };
        for mut port in removed {
            // Dropping the sender is the stop signal; waiting makes the port free on return.
            drop(port.stop.take());
            let _ = (&mut port.task).await;
            info!(port = port.ctx.port, "mesh stopped listening");
        }

        let mut failed = Vec::new();
        let mut ports = self.lock_ports();
        for (key, route) in wanted {
            if let Some(port) = ports.get(&key) {
                port.ctx.balancer.set(&route.backends, route.proxy_protocol);
                continue;
            }
            match self.start(&route) {
                Ok(port) => {
                    info!(port = route.port, protocol = %route.protocol,
                        backends = route.backends.len(), "mesh listening");
                    ports.insert(key, port);
                }
                Err(source) => {
                    warn!(port = route.port, protocol = %route.protocol, error = %source,
                        "mesh cannot listen; retried on the next apply");
                    failed.push(ApplyError {
                        port: route.port,
                        protocol: route.protocol,
                        source,
                    });
                }
            }
        }
        failed.sort_by_key(|e| (e.port, e.protocol));
        failed
    }

    /// Counters of every port listening now.
    pub fn stats(&self) -> BTreeMap<(u16, Protocol), PortStats> {
        self.lock_ports()
            .iter()
            .map(|(&key, port)| (key, port.ctx.counters.snapshot()))
            .collect()
    }

    /// The address the listeners bind to.
    pub fn bind_addr(&self) -> IpAddr {
        self.bind
    }

    /// Binds and spawns one listener. Synchronous, so the port is listening (or the error
    /// known) before `apply` returns.
    fn start(&self, route: &Route) -> io::Result<Port> {
        let addr = SocketAddr::new(self.bind, route.port);
        let ctx = Arc::new(PortCtx {
            port: route.port,
            balancer: Balancer::new(
                &route.backends,
                route.proxy_protocol,
                self.config.failure_memory,
            ),
            counters: Arc::default(),
            config: self.config.clone(),
        });
        let (stop, stopped) = oneshot::channel();
        let task = match route.protocol {
            Protocol::Tcp => {
                let listener = tcp::bind(addr, self.config.tcp_backlog)?;
                tokio::spawn(tcp::serve(listener, Arc::clone(&ctx), stopped))
            }
            Protocol::Udp => {
                let socket = udp::bind(addr)?;
                tokio::spawn(udp::serve(socket, Arc::clone(&ctx), stopped))
            }
        };
        Ok(Port {
            ctx,
            stop: Some(stop),
            task,
        })
    }

    fn lock_ports(&self) -> std::sync::MutexGuard<'_, HashMap<(u16, Protocol), Port>> {
        self.ports.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
