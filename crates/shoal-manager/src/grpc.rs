//! The cluster port: a tonic server over our own TLS acceptor (`tls_server`: the node
//! certificate, client certificates checked against the swarm's root CA), and the matching
//! client connector for Raft peers.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use shoal_proto::ca::node_ca_server::NodeCaServer;
use shoal_proto::dispatcher::dispatcher_server::DispatcherServer;
use shoal_proto::membership::membership_server::MembershipServer;
use shoal_store::{Connector, Raft, RaftService};

use crate::auth::Authorizer;
use crate::ca::CaService;
use crate::dispatcher::DispatcherService;
use crate::members::MembershipService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Server};

use crate::tls_server::{self, ServerTls};

/// The PEM material of this node's cluster identity.
#[derive(Clone)]
pub struct TlsMaterial {
    pub root_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial").finish_non_exhaustive()
    }
}

/// The services of the cluster port.
pub(crate) struct Services {
    pub raft: Raft,
    pub auth: Authorizer,
    pub dispatcher: DispatcherService,
    pub ca: CaService,
    pub membership: MembershipService,
}

/// Serves the cluster gRPC services on `listener` until `shutdown` fires. Client certificates
/// are optional at the TLS layer (a joining node has none yet) and every service checks the
/// caller itself: see `auth`.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<ServerTls>,
    services: Services,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let raft = tonic::service::interceptor::InterceptedService::new(
        RaftService::new(services.raft),
        services.auth.managers_only(),
    );
    let incoming = tls_server::incoming(listener, tls, shutdown.clone());
    Server::builder()
        .add_service(raft)
        .add_service(DispatcherServer::new(services.dispatcher))
        .add_service(NodeCaServer::new(services.ca))
        .add_service(MembershipServer::new(services.membership))
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
}

/// Connects to other managers with this node's certificate; peers are verified as managers
/// (their certificates carry the `swarm-manager` name). New channels use the certificate of
/// the moment (it is replaced on renewal).
pub struct MtlsConnector {
    tls: RwLock<TlsMaterial>,
}

impl MtlsConnector {
    pub fn new(tls: TlsMaterial) -> Arc<Self> {
        Arc::new(Self {
            tls: RwLock::new(tls),
        })
    }

    /// Uses `tls` for channels made from now on.
    pub fn reload(&self, tls: TlsMaterial) {
        *self.tls.write().expect("tls") = tls;
    }
}

impl Connector for MtlsConnector {
    fn endpoint(&self, addr: &str) -> Result<Endpoint, String> {
        let own = self.tls.read().expect("tls").clone();
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&own.root_pem))
            .identity(Identity::from_pem(&own.cert_pem, &own.key_pem))
            .domain_name("swarm-manager");
        Channel::from_shared(format!("https://{addr}"))
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(2))
            .tls_config(tls)
            .map_err(|e| e.to_string())
    }
}
