//! The demo apps' listener: plain TCP, or with `--proxy-protocol` connections that start with
//! a PROXY protocol v2 header (as the routing mesh sends with the `shoal.mesh.proxy-protocol`
//! label), whose source address then counts as the client's.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Accepts connections, reading a PROXY v2 header first when asked to.
pub struct DemoListener {
    pub inner: TcpListener,
    pub proxy_protocol: bool,
}

/// The client as the app sees it.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl Connected<IncomingStream<'_, DemoListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, DemoListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl Listener for DemoListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Ok((mut stream, peer)) = self.inner.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            if !self.proxy_protocol {
                return (stream, peer);
            }
            // A header is sent at once by the proxy; a connection without one is dropped.
            match tokio::time::timeout(Duration::from_secs(2), read_header(&mut stream)).await {
                Ok(Ok(source)) => return (stream, source.unwrap_or(peer)),
                _ => continue,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Reads a PROXY v2 header; the source it names (`None` for a LOCAL header or an address
/// family without one).
async fn read_header(stream: &mut TcpStream) -> io::Result<Option<SocketAddr>> {
    let mut head = [0u8; 16];
    stream.read_exact(&mut head).await?;
    if &head[..12] != SIGNATURE || head[12] >> 4 != 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a PROXY v2 header",
        ));
    }
    let len = u16::from_be_bytes([head[14], head[15]]) as usize;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    if head[12] & 0x0f != 1 {
        return Ok(None); // LOCAL: the connection's own peer
    }
    Ok(match head[13] >> 4 {
        1 if len >= 12 => {
            let ip = Ipv4Addr::new(body[0], body[1], body[2], body[3]);
            Some(SocketAddr::new(
                IpAddr::V4(ip),
                u16::from_be_bytes([body[8], body[9]]),
            ))
        }
        2 if len >= 36 => {
            let octets: [u8; 16] = body[..16].try_into().expect("16 bytes");
            let port = u16::from_be_bytes([body[32], body[33]]);
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port))
        }
        _ => None,
    })
}
