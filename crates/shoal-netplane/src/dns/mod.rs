//! The embedded DNS server of overlay networks: on each network's gateway address on this node
//! (UDP port 53), names of the network's services answer with their addresses; every other
//! name is relayed to the node's own resolvers. With the docker driver, Docker's resolver
//! inside each container (127.0.0.11) relays what it does not know here, because the driver
//! gives the container the gateway as its DNS server.

mod answer;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use answer::{Names, Reply, TTL, reply};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tracing::{debug, info};

/// How long a relayed query waits for the node's resolver.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);

struct Listener {
    names: Arc<RwLock<Names>>,
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Names for particular clients, by their address: a task on several networks resolves the
/// names of all of them, whichever network's gateway its queries reach.
pub type ClientNames = HashMap<Ipv4Addr, Names>;

/// The DNS listeners of this node, one per local network gateway.
pub struct Dns {
    upstream: Vec<SocketAddr>,
    listeners: HashMap<Ipv4Addr, Listener>,
    clients: Arc<RwLock<ClientNames>>,
}

impl Dns {
    /// A server relaying unknown names to `upstream` (the node's resolvers).
    pub fn new(upstream: Vec<SocketAddr>) -> Dns {
        Dns {
            upstream,
            listeners: HashMap::new(),
            clients: Arc::default(),
        }
    }

    /// The node's resolvers from a `resolv.conf`, port 53; loopback ones are left out (a
    /// container's queries cannot be relayed to the node's own stub resolver reliably).
    pub fn upstream_from(resolv_conf: &str) -> Vec<SocketAddr> {
        resolv_conf
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
            .filter(|ip| !ip.is_loopback())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect()
    }

    /// Serves `tables` (listen address → names) and `clients` (names of particular clients,
    /// before their listener's): new addresses are bound (a failure is returned and retried
    /// on the next call: the gateway may not exist yet), names swapped on those already
    /// served, and addresses no longer given closed.
    pub fn apply(&mut self, tables: Vec<(Ipv4Addr, Names)>, clients: ClientNames) -> Vec<String> {
        *self.clients.write().unwrap_or_else(|p| p.into_inner()) = clients;
        let wanted: HashMap<Ipv4Addr, Names> = tables.into_iter().collect();
        self.listeners.retain(|ip, _| wanted.contains_key(ip));
        let mut errors = Vec::new();
        for (ip, names) in wanted {
            if let Some(l) = self.listeners.get(&ip) {
                *l.names.write().unwrap_or_else(|p| p.into_inner()) = names;
                continue;
            }
            match std::net::UdpSocket::bind((ip, 53)).and_then(|s| {
                s.set_nonblocking(true)?;
                UdpSocket::from_std(s)
            }) {
                Ok(socket) => {
                    info!(%ip, "DNS listening");
                    let names = Arc::new(RwLock::new(names));
                    let task = tokio::spawn(serve(
                        Arc::new(socket),
                        (names.clone(), self.clients.clone()),
                        self.upstream.clone(),
                    ));
                    self.listeners.insert(ip, Listener { names, task });
                }
                Err(e) => errors.push(format!("DNS on {ip}:53: {e}")),
            }
        }
        errors
    }
}

async fn serve(
    socket: Arc<UdpSocket>,
    (names, clients): (Arc<RwLock<Names>>, Arc<RwLock<ClientNames>>),
    upstream: Vec<SocketAddr>,
) {
    let turn = AtomicUsize::new(0);
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..n].to_vec();
        let r = {
            let turn = turn.fetch_add(1, Ordering::Relaxed);
            let clients = clients.read().unwrap_or_else(|p| p.into_inner());
            let own = match client.ip() {
                std::net::IpAddr::V4(ip) => clients.get(&ip),
                std::net::IpAddr::V6(_) => None,
            };
            match own {
                Some(names) => reply(names, &query, turn),
                None => reply(
                    &names.read().unwrap_or_else(|p| p.into_inner()),
                    &query,
                    turn,
                ),
            }
        };
        match r {
            Reply::Local(bytes) => {
                let _ = socket.send_to(&bytes, client).await;
            }
            Reply::Forward => {
                tokio::spawn(forward(socket.clone(), client, query, upstream.clone()));
            }
            Reply::Drop => {}
        }
    }
}

/// Relays one query to the first upstream resolver that answers, and its answer back.
async fn forward(socket: Arc<UdpSocket>, client: SocketAddr, query: Vec<u8>, up: Vec<SocketAddr>) {
    for server in up {
        let Ok(relay) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await else {
            return;
        };
        if relay.send_to(&query, server).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(FORWARD_TIMEOUT, relay.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => {
                let _ = socket.send_to(&buf[..n], client).await;
                return;
            }
            _ => debug!(%server, "DNS relay got no answer"),
        }
    }
}
