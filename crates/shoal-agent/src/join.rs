//! Joining a swarm (`swarm join --token … MANAGER:2377`), as swarmkit does it: fetch the root CA
//! over an unverified TLS connection, accept it only if its digest matches the token's, then,
//! over TLS verified against that root, send the token and a CSR. The CA answers with the node's
//! ID, its certificate (the role is the token's) and the managers' addresses.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use shoal_ca::Role;
use shoal_proto::ca::node_ca_client::NodeCaClient;
use shoal_proto::ca::{GetRootCaRequest, IssueNodeCertificateRequest};
use tokio::net::TcpStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// What a join needs.
#[derive(Debug, Clone)]
pub struct JoinParams {
    pub token: String,
    /// A manager's cluster address (`host:port`).
    pub remote: String,
    /// `active`, `pause` or `drain` (empty: active).
    pub availability: String,
    /// The cluster address this node will be reached at if it joins as a manager.
    pub advertise_addr: String,
    /// What the node is (hostname, platform, resources), shown by `node ls` from the start.
    pub description: shoal_types::NodeDescription,
}

/// The identity a join produced.
#[derive(Clone)]
pub struct Joined {
    pub node_id: String,
    pub cluster_id: String,
    pub role: Role,
    pub root_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub managers: Vec<String>,
}

impl std::fmt::Debug for Joined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joined")
            .field("node_id", &self.node_id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// Why a join failed; the texts are what `docker swarm join` users see.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The token is malformed, or the CA refused it.
    #[error("{0}")]
    Token(String),
    /// The manager's root CA is not the one the token names.
    #[error("remote CA does not match fingerprint. Expected: {0}")]
    Fingerprint(String),
    #[error("could not reach the manager at {addr}: {message}")]
    Unreachable { addr: String, message: String },
    #[error("{0}")]
    Refused(String),
}

/// How long each step may take before the join is given up.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Joins through the manager at `p.remote`.
pub async fn join(p: &JoinParams) -> Result<Joined, JoinError> {
    let token = shoal_ca::parse_join_token(&p.token)
        .map_err(|_| JoinError::Token("invalid join token".into()))?;
    let root_pem = fetch_root(&p.remote).await?;
    token
        .verify_root(&root_pem)
        .map_err(|_| JoinError::Fingerprint(token.root_digest.clone()))?;
    let (csr_pem, key_pem) =
        shoal_ca::generate_csr().map_err(|e| JoinError::Refused(e.to_string()))?;
    let channel = verified_channel(&p.remote, &root_pem)?;
    let reply = tokio::time::timeout(
        STEP_TIMEOUT,
        NodeCaClient::new(channel).issue_node_certificate(IssueNodeCertificateRequest {
            token: p.token.clone(),
            csr_pem,
            availability: p.availability.clone(),
            advertise_addr: p.advertise_addr.clone(),
            description_json: serde_json::to_vec(&p.description).unwrap_or_default(),
        }),
    )
    .await
    .map_err(|_| unreachable(&p.remote, "timed out"))?
    .map_err(|s| status_error(&p.remote, s))?
    .into_inner();
    let role = match reply.role.as_str() {
        "manager" => Role::Manager,
        _ => Role::Worker,
    };
    Ok(Joined {
        node_id: reply.node_id,
        cluster_id: reply.cluster_id,
        role,
        root_pem,
        cert_pem: reply.certificate_pem,
        key_pem,
        managers: reply.managers,
    })
}

fn unreachable(addr: &str, message: impl ToString) -> JoinError {
    JoinError::Unreachable {
        addr: addr.to_string(),
        message: message.to_string(),
    }
}

fn status_error(addr: &str, s: tonic::Status) -> JoinError {
    match s.code() {
        tonic::Code::InvalidArgument => JoinError::Token(s.message().to_string()),
        tonic::Code::Unavailable if s.message().contains("transport") => {
            unreachable(addr, s.message())
        }
        _ => JoinError::Refused(s.message().to_string()),
    }
}

/// The root certificate as the manager presents it, before any trust exists.
async fn fetch_root(addr: &str) -> Result<String, JoinError> {
    let config = Arc::new(
        shoal_ca::insecure_bootstrap_client_config()
            .map_err(|e| JoinError::Refused(e.to_string()))?,
    );
    let target = addr.to_string();
    let connector = tower::service_fn(move |_uri: tonic::transport::Uri| {
        let (config, target) = (config.clone(), target.clone());
        async move {
            let tcp = TcpStream::connect(&target).await?;
            let name = rustls::pki_types::ServerName::try_from("swarm-manager")
                .expect("a valid server name");
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| unreachable(addr, e))?
        .connect_timeout(Duration::from_secs(5));
    let channel = tokio::time::timeout(STEP_TIMEOUT, endpoint.connect_with_connector(connector))
        .await
        .map_err(|_| unreachable(addr, "timed out"))?
        .map_err(|e| unreachable(addr, source_chain(&e)))?;
    let reply = tokio::time::timeout(
        STEP_TIMEOUT,
        NodeCaClient::new(channel).get_root_ca_certificate(GetRootCaRequest {}),
    )
    .await
    .map_err(|_| unreachable(addr, "timed out"))?
    .map_err(|s| status_error(addr, s))?;
    Ok(reply.into_inner().certificate_pem)
}

/// A channel that verifies the manager against `root_pem` and presents no certificate.
fn verified_channel(addr: &str, root_pem: &str) -> Result<Channel, JoinError> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(root_pem))
        .domain_name("swarm-manager");
    Ok(Endpoint::from_shared(format!("https://{addr}"))
        .map_err(|e| unreachable(addr, e))?
        .connect_timeout(Duration::from_secs(5))
        .tls_config(tls)
        .map_err(|e| unreachable(addr, e))?
        .connect_lazy())
}

/// An error with its causes, which tonic keeps out of its own message.
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// A renewed certificate.
#[derive(Clone)]
pub struct Renewed {
    pub cert_pem: String,
    pub key_pem: String,
    pub role: Role,
}

/// Renews this node's certificate (a new key) through the first of `managers` that answers,
/// authenticated by the current certificate. The CA decides the role: a promoted node gets a
/// manager certificate, a demoted one (once out of the Raft membership) a worker certificate.
pub async fn renew(
    managers: &[String],
    root_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Renewed, JoinError> {
    let (csr_pem, new_key) =
        shoal_ca::generate_csr().map_err(|e| JoinError::Refused(e.to_string()))?;
    let mut last = JoinError::Refused("no manager address known".into());
    for addr in managers {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(root_pem))
            .identity(tonic::transport::Identity::from_pem(cert_pem, key_pem))
            .domain_name("swarm-manager");
        let channel = Endpoint::from_shared(format!("https://{addr}"))
            .map_err(|e| unreachable(addr, e))?
            .connect_timeout(Duration::from_secs(5))
            .tls_config(tls)
            .map_err(|e| unreachable(addr, e))?
            .connect_lazy();
        let mut client = NodeCaClient::new(channel);
        let call = client.issue_node_certificate(IssueNodeCertificateRequest {
            token: String::new(),
            csr_pem: csr_pem.clone(),
            ..Default::default()
        });
        match tokio::time::timeout(STEP_TIMEOUT, call).await {
            Ok(Ok(reply)) => {
                let reply = reply.into_inner();
                return Ok(Renewed {
                    cert_pem: reply.certificate_pem,
                    key_pem: new_key,
                    role: if reply.role == "manager" {
                        Role::Manager
                    } else {
                        Role::Worker
                    },
                });
            }
            Ok(Err(s)) => last = status_error(addr, s),
            Err(_) => last = unreachable(addr, "timed out"),
        }
    }
    Err(last)
}
