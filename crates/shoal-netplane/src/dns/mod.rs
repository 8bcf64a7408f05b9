//! The embedded DNS server of overlay networks: on each network's gateway address on this node
//! (port 53, UDP and TCP), names of the network's services answer with their addresses; every other
//! name is relayed to the node's own resolvers. With the docker driver, Docker's resolver
//! inside each container (127.0.0.11) relays what it does not know here, because the driver
//! gives the container the gateway as its DNS server.

mod answer;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use answer::{MAX_UDP, Names, Reply, TTL, Transport, reply, server_failure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use tracing::{debug, info};

/// How long a relayed query waits for the node's resolver.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a TCP connection may stay without a query (or an answer go unread) before it is
/// closed (RFC 7766 6.2.3 asks servers to close idle ones; resolvers send their query at once).
const TCP_IDLE: Duration = Duration::from_secs(10);

/// TCP connections served at once per listener.
const MAX_TCP: usize = 64;

struct Listener {
    names: Arc<RwLock<Names>>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Listener {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The names a query is answered from: its client's own, else the listener's.
#[derive(Clone)]
struct Lookup {
    names: Arc<RwLock<Names>>,
    clients: Arc<RwLock<ClientNames>>,
    turn: Arc<AtomicUsize>,
}

impl Lookup {
    fn reply(&self, client: SocketAddr, query: &[u8], transport: Transport) -> Reply {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let clients = self.clients.read().unwrap_or_else(|p| p.into_inner());
        let own = match client.ip() {
            std::net::IpAddr::V4(ip) => clients.get(&ip),
            std::net::IpAddr::V6(_) => None,
        };
        match own {
            Some(names) => reply(names, query, turn, transport),
            None => reply(
                &self.names.read().unwrap_or_else(|p| p.into_inner()),
                query,
                turn,
                transport,
            ),
        }
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
            match bind(ip) {
                Ok((udp, tcp)) => {
                    info!(%ip, "DNS listening");
                    let names = Arc::new(RwLock::new(names));
                    let lookup = Lookup {
                        names: names.clone(),
                        clients: self.clients.clone(),
                        turn: Arc::default(),
                    };
                    let tasks = [
                        tokio::spawn(serve(Arc::new(udp), lookup.clone(), self.upstream.clone())),
                        tokio::spawn(serve_tcp(tcp, lookup, self.upstream.clone())),
                    ];
                    self.listeners.insert(ip, Listener { names, tasks });
                }
                Err(e) => errors.push(format!("DNS on {ip}:53: {e}")),
            }
        }
        errors
    }
}

/// Port 53 of `ip`, UDP and TCP.
fn bind(ip: Ipv4Addr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let udp = std::net::UdpSocket::bind((ip, 53))?;
    udp.set_nonblocking(true)?;
    let tcp = std::net::TcpListener::bind((ip, 53))?;
    tcp.set_nonblocking(true)?;
    Ok((UdpSocket::from_std(udp)?, TcpListener::from_std(tcp)?))
}

async fn serve(socket: Arc<UdpSocket>, lookup: Lookup, upstream: Vec<SocketAddr>) {
    let mut buf = vec![0u8; MAX_UDP];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..n].to_vec();
        match lookup.reply(client, &query, Transport::Udp) {
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

/// DNS over TCP (RFC 1035 4.2.2, RFC 7766): each message behind its two-byte length; a
/// connection may carry several queries, answered in order. Connections are tasks of this
/// loop's own set, so closing the listener ends them too, and at most `MAX_TCP` are served
/// at once (more are closed at once): any task on the network can connect.
async fn serve_tcp(listener: TcpListener, lookup: Lookup, upstream: Vec<SocketAddr>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = conns.join_next() => continue,
        };
        let (conn, client) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // E.g. out of file descriptors: do not spin on it.
                debug!(error = %e, "DNS over TCP: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if conns.len() >= MAX_TCP {
            debug!(%client, "DNS over TCP: too many connections; closed");
            continue;
        }
        let (lookup, upstream) = (lookup.clone(), upstream.clone());
        conns.spawn(async move {
            if let Err(e) = serve_conn(conn, client, &lookup, &upstream).await {
                debug!(%client, error = %e, "DNS over TCP ended");
            }
        });
    }
}

async fn serve_conn(
    mut conn: TcpStream,
    client: SocketAddr,
    lookup: &Lookup,
    upstream: &[SocketAddr],
) -> std::io::Result<()> {
    loop {
        let query = match tokio::time::timeout(TCP_IDLE, read_framed(&mut conn)).await {
            Ok(Ok(Some(q))) => q,
            Ok(Ok(None)) | Err(_) => return Ok(()),
            Ok(Err(e)) => return Err(e),
        };
        let answer = match lookup.reply(client, &query, Transport::Tcp) {
            Reply::Local(bytes) => bytes,
            Reply::Forward => match forward_tcp(&query, upstream).await {
                Some(bytes) => bytes,
                None => match server_failure(&query) {
                    Some(bytes) => bytes,
                    None => return Ok(()),
                },
            },
            Reply::Drop => return Ok(()),
        };
        // A client that stops reading must not hold the connection for good.
        match tokio::time::timeout(TCP_IDLE, write_framed(&mut conn, &answer)).await {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        }
    }
}

/// One length-prefixed message, or `None` at a clean end of the stream.
async fn read_framed(conn: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match conn.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    conn.read_exact(&mut msg).await?;
    Ok(Some(msg))
}

async fn write_framed(conn: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(msg.len()).map_err(std::io::Error::other)?;
    let mut out = Vec::with_capacity(msg.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(msg);
    conn.write_all(&out).await
}

/// Relays a query over TCP to the first upstream resolver that answers.
async fn forward_tcp(query: &[u8], up: &[SocketAddr]) -> Option<Vec<u8>> {
    for server in up {
        let relay = async {
            let mut conn = TcpStream::connect(server).await?;
            write_framed(&mut conn, query).await?;
            read_framed(&mut conn).await
        };
        match tokio::time::timeout(FORWARD_TIMEOUT, relay).await {
            Ok(Ok(Some(answer))) => return Some(answer),
            _ => debug!(%server, "DNS relay over TCP got no answer"),
        }
    }
    None
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
        let mut buf = vec![0u8; MAX_UDP];
        match tokio::time::timeout(FORWARD_TIMEOUT, relay.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => {
                let _ = socket.send_to(&buf[..n], client).await;
                return;
            }
            _ => debug!(%server, "DNS relay got no answer"),
        }
    }
}
