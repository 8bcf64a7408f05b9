//! The TCP side of the mesh: accept, pick a backend, connect (trying the others on failure),
//! optionally send the PROXY v2 header, then splice both directions until both are closed.
//!
//! Each connection is its own task, independent of the listener task: stopping a listener
//! (route removed) leaves established connections running until they end. There is no idle
//! timeout on purpose: a long-idle database or websocket connection must survive.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::balance::Pick;
use crate::mesh::PortCtx;
use crate::proxy_protocol::ProxyHeader;
use crate::stats::add;

/// How long the accept loop pauses after an accept error (e.g. out of file descriptors), so
/// that a persistent error does not spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// A listening socket on `addr`.
pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Lets a port that was just unrouted be bound again despite connections in TIME_WAIT.
    // On Linux it does not let two sockets listen on one port, so conflicts still surface.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Between rounds of `connect_soon`.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// The accept loop of one port; ends when `stop` fires or its sender is dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    ctx: Arc<PortCtx>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((client, peer)) => {
                tokio::spawn(proxy(client, peer, Arc::clone(&ctx)));
            }
            Err(error) => {
                warn!(port = ctx.port, %error, "mesh accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// One proxied connection, from accept to the close of both directions.
async fn proxy(mut client: TcpStream, peer: SocketAddr, ctx: Arc<PortCtx>) {
    let _active = ctx.counters.open();
    // Request/response protocols would otherwise wait on Nagle plus delayed ACK at each hop.
    let _ = client.set_nodelay(true);

    let Some((mut backend, backend_addr, proxy_protocol)) = connect_soon(&ctx, peer).await else {
        add(&ctx.counters.rejected, 1);
        reset(client);
        return;
    };
    let _ = backend.set_nodelay(true);

    if proxy_protocol {
        let header = match client.local_addr() {
            Ok(local) => ProxyHeader::tcp(peer, local),
            Err(error) => {
                debug!(port = ctx.port, %error, "client gone before the PROXY header");
                return;
            }
        };
        // Written before the splice starts, so it precedes every client byte.
        if let Err(error) = backend.write_all(header.as_bytes()).await {
            debug!(port = ctx.port, backend = %backend_addr, %error, "PROXY header not sent");
            return;
        }
    }

    let size = ctx.config.tcp_buffer_size;
    // Half-close: when one side finishes sending, its FIN is passed on (shutdown of the
    // other socket's write half) and the opposite direction keeps flowing.
    match tokio::io::copy_bidirectional_with_sizes(&mut client, &mut backend, size, size).await {
        Ok((to_backend, to_client)) => {
            add(&ctx.counters.bytes_to_backend, to_backend);
            add(&ctx.counters.bytes_to_client, to_client);
        }
        Err(error) => {
            debug!(port = ctx.port, client = %peer, backend = %backend_addr, %error,
                "mesh connection ended with an error");
        }
    }
}

/// Connects to a backend, and when every one failed (or there is none), tries again with the
/// latest table every `RETRY_PAUSE` for up to `retry_for`: a task that was just reported
/// running may not listen yet, and the table may be about to gain one that does. Returns the
/// connection, its backend and whether it wants a PROXY header.
async fn connect_soon(ctx: &PortCtx, peer: SocketAddr) -> Option<(TcpStream, SocketAddr, bool)> {
    let deadline = tokio::time::Instant::now() + ctx.config.retry_for;
    loop {
        let pick = ctx.balancer.pick();
        let proxy_protocol = pick.table.proxy_protocol;
        if let Some((stream, addr)) = connect_any(ctx, pick, peer).await {
            return Some((stream, addr, proxy_protocol));
        }
        if tokio::time::Instant::now() + RETRY_PAUSE > deadline {
            return None;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Connects to the first backend of `pick` that answers within the connect timeout, trying
/// each at most once. Failures are remembered so later connections try those backends last.
async fn connect_any(
    ctx: &PortCtx,
    pick: Pick,
    peer: SocketAddr,
) -> Option<(TcpStream, SocketAddr)> {
    if pick.is_empty() {
        debug!(port = ctx.port, client = %peer, "no backends; connection reset");
        return None;
    }
    let table = Arc::clone(&pick.table);
    for i in pick {
        let backend = &table.backends[i];
        let attempt =
            tokio::time::timeout(ctx.config.connect_timeout, TcpStream::connect(backend.addr))
                .await;
        let error = match attempt {
            Ok(Ok(stream)) => {
                ctx.balancer.mark_ok(backend);
                return Some((stream, backend.addr));
            }
            Ok(Err(error)) => error,
            Err(_) => io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
        };
        debug!(port = ctx.port, backend = %backend.addr, %error, "backend connect failed");
        ctx.balancer.mark_failed(backend);
        add(&ctx.counters.connect_failures, 1);
    }
    debug!(port = ctx.port, client = %peer, "every backend failed; connection reset");
    None
}

/// Closes with RST rather than FIN, as Docker's IPVS mesh does, so the client fails fast
/// instead of reading an empty response.
fn reset(client: TcpStream) {
    let _ = client.set_zero_linger();
    drop(client);
}
