//! The cluster port's TLS, done here rather than by tonic so that the node certificate can be
//! replaced while the port serves (certificate renewal, promotion) and so that handlers see the
//! caller's verified chain and address as [`PeerInfo`]. Client certificates are optional at
//! this layer (a joining node has none yet); a certificate that is presented must chain to the
//! swarm's root, and each service decides what an anonymous or a worker caller may do.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::Connected;
use tracing::debug;

use crate::grpc::TlsMaterial;

/// A handshake that takes longer than this is dropped (a stalled or hostile client).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server side's TLS configuration, replaceable while serving.
pub struct ServerTls {
    config: RwLock<Arc<ServerConfig>>,
}

impl ServerTls {
    pub fn new(tls: &TlsMaterial) -> Result<Self, String> {
        Ok(Self {
            config: RwLock::new(build(tls)?),
        })
    }

    /// New connections use `tls` from now on; established ones keep theirs.
    pub fn reload(&self, tls: &TlsMaterial) -> Result<(), String> {
        *self.config.write().expect("tls config") = build(tls)?;
        Ok(())
    }

    fn current(&self) -> Arc<ServerConfig> {
        self.config.read().expect("tls config").clone()
    }
}

fn build(tls: &TlsMaterial) -> Result<Arc<ServerConfig>, String> {
    shoal_ca::server_config_allow_anonymous(&tls.root_pem, &tls.cert_pem, &tls.key_pem)
        .map(Arc::new)
        .map_err(|e| format!("cluster port TLS: {e}"))
}

/// Who is calling: set on every request's extensions.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub remote_addr: Option<SocketAddr>,
    /// The verified client chain, leaf first; `None` for an anonymous caller.
    pub certs: Option<Arc<Vec<CertificateDer<'static>>>>,
}

/// One accepted TLS connection.
pub struct PeerStream {
    inner: tokio_rustls::server::TlsStream<TcpStream>,
    info: PeerInfo,
}

impl Connected for PeerStream {
    type ConnectInfo = PeerInfo;
    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts TCP connections on `listener` and yields those whose handshake completes, until
/// `shutdown`. Handshakes run concurrently so one slow client holds up nobody.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<ServerTls>,
    shutdown: CancellationToken,
) -> ReceiverStream<Result<PeerStream, std::io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, remote) = tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        debug!(error = %e, "cluster port accept");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let (tx, acceptor) = (tx.clone(), tokio_rustls::TlsAcceptor::from(tls.current()));
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let certs =
                            stream.get_ref().1.peer_certificates().map(|c| {
                                Arc::new(c.iter().map(|d| d.clone().into_owned()).collect())
                            });
                        let info = PeerInfo {
                            remote_addr: Some(remote),
                            certs,
                        };
                        let _ = tx
                            .send(Ok(PeerStream {
                                inner: stream,
                                info,
                            }))
                            .await;
                    }
                    Ok(Err(e)) => debug!(peer = %remote, error = %e, "TLS handshake failed"),
                    Err(_) => debug!(peer = %remote, "TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
