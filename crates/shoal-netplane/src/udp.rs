//! The UDP side of the mesh: a flow per client address.
//!
//! The first datagram from a client picks a backend (round-robin) and opens a socket
//! connected to it; later datagrams of that client go through the same socket, so a client's
//! conversation stays on one backend. A reply task per flow reads the backend's answers and
//! sends them to the client from the listening socket, so the client sees the published
//! address answer. A flow with no traffic either way for `udp_idle_timeout` closes.
//!
//! The receive loop owns the flow table (no lock); reply tasks live in a `JoinSet` it owns,
//! so stopping the port ends every flow and frees the port before `apply` returns.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;
use tracing::debug;

use crate::balance::Table;
use crate::mesh::PortCtx;
use crate::stats::{ActiveGuard, add};

/// Large enough for any UDP datagram, so nothing is truncated.
const MAX_DATAGRAM: usize = 64 * 1024;

thread_local! {
    /// The reply tasks' receive buffer, one per worker thread instead of 64 KiB per flow: a
    /// reply is received and sent on without an `.await` in between, so it is never held
    /// across a task switch.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; MAX_DATAGRAM].into_boxed_slice());
}

/// A listening socket on `addr`. No SO_REUSEADDR: for UDP it would let two sockets share a
/// port and hide the conflict `apply` must report.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// What the receive loop and the reply task of one flow share.
struct FlowShared {
    socket: UdpSocket,
    /// Milliseconds since `epoch` of the last datagram either way.
    last_seen: AtomicU64,
    /// Set when the reply task ends, so the receive loop replaces the flow instead of
    /// sending into a socket nobody reads.
    closed: AtomicBool,
    epoch: Instant,
    /// The backend this flow talks to, in the table it was picked from.
    table: Arc<Table>,
    backend: usize,
}

impl FlowShared {
    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_seen.store(ms, Ordering::Relaxed);
    }

    /// Remembers an error of the backend. ICMP port unreachable (refused) means no task
    /// listens there any more, so new flows should try it last.
    fn failed(&self, ctx: &PortCtx, error: &io::Error) {
        if error.kind() == io::ErrorKind::ConnectionRefused {
            ctx.balancer.mark_failed(&self.table.backends[self.backend]);
            add(&ctx.counters.connect_failures, 1);
        }
    }
}

/// A flow as the receive loop holds it. Dropping it stops its reply task.
struct Flow {
    id: u64,
    shared: Arc<FlowShared>,
    reply: AbortHandle,
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.reply.abort();
    }
}

/// The receive loop of one port; ends (with all its flows) when `stop` fires or its sender
/// is dropped.
pub(crate) async fn serve(socket: UdpSocket, ctx: Arc<PortCtx>, mut stop: oneshot::Receiver<()>) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut flows: HashMap<SocketAddr, Flow> = HashMap::new();
    let mut tasks: JoinSet<(SocketAddr, u64)> = JoinSet::new();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            Some(ended) = tasks.join_next() => {
                // Only remove the flow that ended, not a newer one for the same client.
                if let Ok((client, id)) = ended
                    && flows.get(&client).is_some_and(|f| f.id == id)
                {
                    flows.remove(&client);
                }
            }
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, client)) => {
                    next_id += 1;
                    let new_flow = (&mut tasks, next_id);
                    forward(&ctx, &socket, &mut flows, new_flow, client, &buf[..n]).await;
                }
                // Errors here concern one datagram (e.g. a truncated or ICMP-reported one);
                // the port keeps serving.
                Err(error) => debug!(port = ctx.port, %error, "udp receive failed"),
            },
        }
    }
    // Aborts every reply task and waits, so they drop their handles of the listening socket.
    tasks.shutdown().await;
}

/// Sends one client datagram to the client's flow, opening the flow first if it has none.
/// `new_flow` is where a new flow's reply task goes and the id it gets (ids only need to
/// differ between flows of one client, so skipped ids do not matter).
async fn forward(
    ctx: &Arc<PortCtx>,
    listener: &Arc<UdpSocket>,
    flows: &mut HashMap<SocketAddr, Flow>,
    (tasks, id): (&mut JoinSet<(SocketAddr, u64)>, u64),
    client: SocketAddr,
    datagram: &[u8],
) {
    let reusable = flows
        .get(&client)
        .is_some_and(|f| !f.shared.closed.load(Ordering::Relaxed));
    if !reusable {
        if flows.len() >= ctx.config.udp_max_flows && !flows.contains_key(&client) {
            add(&ctx.counters.rejected, 1);
            return;
        }
        let Some(flow) = open_flow(ctx, listener, client, id, tasks) else {
            add(&ctx.counters.rejected, 1);
            return;
        };
        // Replacing a closed flow drops it, which only aborts a task that already ended.
        flows.insert(client, flow);
    }
    let flow = &flows[&client];
    flow.shared.touch();
    match flow.shared.socket.send(datagram).await {
        Ok(_) => add(&ctx.counters.bytes_to_backend, datagram.len() as u64),
        Err(error) => {
            // A send can consume the ICMP error the reply task waits for, so the flow ends
            // here; the client's next datagram opens a new one.
            debug!(port = ctx.port, %client, %error, "udp send to backend failed");
            flow.shared.failed(ctx, &error);
            flows.remove(&client);
        }
    }
}

/// Picks a backend for a new client and starts its reply task. `None` when there is no
/// backend or no socket could be opened.
fn open_flow(
    ctx: &Arc<PortCtx>,
    listener: &Arc<UdpSocket>,
    client: SocketAddr,
    id: u64,
    tasks: &mut JoinSet<(SocketAddr, u64)>,
) -> Option<Flow> {
    let mut pick = ctx.balancer.pick();
    let table = Arc::clone(&pick.table);
    // UDP has no connect handshake to fail, so only the first choice is used; a backend
    // that answers with ICMP unreachable is marked and its flow ends (see `reply`).
    let index = pick.next()?;
    let backend = table.backends[index].addr;
    let socket = match connect(backend) {
        Ok(socket) => socket,
        Err(error) => {
            debug!(port = ctx.port, %backend, %error, "udp flow socket failed");
            return None;
        }
    };
    let shared = Arc::new(FlowShared {
        socket,
        last_seen: AtomicU64::new(0),
        closed: AtomicBool::new(false),
        epoch: Instant::now(),
        table,
        backend: index,
    });
    let active = ctx.counters.open();
    let reply = tasks.spawn(reply(
        Arc::clone(&shared),
        Arc::clone(listener),
        client,
        id,
        Arc::clone(ctx),
        active,
    ));
    debug!(port = ctx.port, %client, %backend, "udp flow opened");
    Some(Flow { id, shared, reply })
}

/// A socket connected to `backend`, so the kernel delivers only that backend's datagrams to
/// it and reports ICMP errors on it.
fn connect(backend: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if backend.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = std::net::UdpSocket::bind(local)?;
    socket.connect(backend)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// Marks the flow closed however the reply task ends (idle, error, abort).
struct CloseOnDrop(Arc<FlowShared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Relaxed);
    }
}

/// The reply task of one flow: backend datagrams to the client, until idle or an error.
async fn reply(
    flow: Arc<FlowShared>,
    listener: Arc<UdpSocket>,
    client: SocketAddr,
    id: u64,
    ctx: Arc<PortCtx>,
    _active: ActiveGuard,
) -> (SocketAddr, u64) {
    let _closed = CloseOnDrop(Arc::clone(&flow));
    let idle = ctx.config.udp_idle_timeout;
    // One timer per flow, re-armed only when it fires: traffic costs an atomic store, not a
    // timer update per datagram.
    let deadline = tokio::time::sleep(idle);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            // ERROR too: an ICMP unreachable from the backend is only a socket error, and
            // `readable()` alone would never wake for it.
            ready = flow.socket.ready(Interest::READABLE | Interest::ERROR) => {
                let relayed = match ready {
                    Err(error) => Relayed::Failed(error),
                    Ok(ready) if ready.is_error() => socket_error(&flow.socket),
                    Ok(_) => relay(&flow, &listener, client, &ctx),
                };
                match relayed {
                    Relayed::Drained => {}
                    Relayed::Pending(datagram) => {
                        // The listening socket's buffer was full; wait for room this once.
                        if listener.send_to(&datagram, client).await.is_ok() {
                            add(&ctx.counters.bytes_to_client, datagram.len() as u64);
                        }
                    }
                    Relayed::Failed(error) => {
                        flow.failed(&ctx, &error);
                        debug!(port = ctx.port, %client, %error, "udp flow ended by an error");
                        break;
                    }
                }
            }
            () = &mut deadline => {
                let now = flow.epoch.elapsed();
                let last = std::time::Duration::from_millis(flow.last_seen.load(Ordering::Relaxed));
                let quiet = now.saturating_sub(last);
                if quiet >= idle {
                    debug!(port = ctx.port, %client, "udp flow idle; closed");
                    break;
                }
                deadline.as_mut().reset(Instant::now() + (idle - quiet));
            }
        }
    }
    (client, id)
}

enum Relayed {
    /// Everything the backend sent so far went to the client.
    Drained,
    /// One datagram still to send, copied out of the scratch buffer.
    Pending(Vec<u8>),
    Failed(io::Error),
}

/// The pending error of a flow socket (SO_ERROR). A receive would not report it: tokio
/// answers `WouldBlock` without a syscall while the socket is not readable.
fn socket_error(socket: &UdpSocket) -> Relayed {
    match socket.take_error() {
        Ok(Some(error)) | Err(error) => Relayed::Failed(error),
        Ok(None) => {
            // Spurious: clear the error readiness, or `ready` would return at once forever.
            let _ = socket.try_io(Interest::ERROR, || {
                Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
            });
            Relayed::Drained
        }
    }
}

/// Moves every datagram waiting on the flow socket to the client, without awaiting.
fn relay(flow: &FlowShared, listener: &UdpSocket, client: SocketAddr, ctx: &PortCtx) -> Relayed {
    SCRATCH.with_borrow_mut(|buf| {
        loop {
            let n = match flow.socket.try_recv(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Relayed::Drained,
                Err(e) => return Relayed::Failed(e),
            };
            flow.touch();
            match listener.try_send_to(&buf[..n], client) {
                Ok(_) => add(&ctx.counters.bytes_to_client, n as u64),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Relayed::Pending(buf[..n].to_vec());
                }
                Err(error) => debug!(port = ctx.port, %client, %error, "udp reply not sent"),
            }
        }
    })
}
