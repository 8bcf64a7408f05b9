//! rustls configurations for the cluster port, built on an explicit ring provider so no
//! process-wide default provider has to be installed (and aws-lc never gets in).
//!
//! Server name convention: a node dials a manager with the server name `swarm-manager`
//! (every manager certificate carries it as a SAN), or a specific node by its node ID.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use crate::CaError;

/// gRPC runs over HTTP/2, negotiated with ALPN.
const ALPN_H2: &[u8] = b"h2";

/// The one crypto provider this crate uses.
pub(crate) fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Server config for the cluster port that requires every client to present a
/// certificate chaining to `root_pem` (mutual TLS). Use for raft and dispatcher listeners.
pub fn server_config(
    root_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<ServerConfig, CaError> {
    build_server_config(root_pem, cert_pem, key_pem, false)
}

/// Like [`server_config`], but also admits clients without a certificate (swarmkit's
/// `VerifyClientCertIfGiven`), so joining nodes can reach the CA on the same port.
/// A certificate that *is* presented must still chain to the root. Handlers must then
/// check the peer certificate themselves and refuse anonymous callers outside the CA's
/// join methods.
pub fn server_config_allow_anonymous(
    root_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<ServerConfig, CaError> {
    build_server_config(root_pem, cert_pem, key_pem, true)
}

fn build_server_config(
    root_pem: &str,
    cert_pem: &str,
    key_pem: &str,
    allow_anonymous: bool,
) -> Result<ServerConfig, CaError> {
    let provider = ring_provider();
    let roots = Arc::new(root_store(root_pem)?);
    let mut verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
    if allow_anonymous {
        verifier = verifier.allow_unauthenticated();
    }
    let (chain, key) = identity(cert_pem, key_pem)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(CaError::tls("choosing TLS versions"))?
        .with_client_cert_verifier(verifier.build()?)
        .with_single_cert(chain, key)
        .map_err(CaError::tls("loading server certificate"))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// Client config that presents the node certificate and trusts only `root_pem`.
pub fn client_config(
    root_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<ClientConfig, CaError> {
    let (chain, key) = identity(cert_pem, key_pem)?;
    let mut config = client_builder(root_pem)?
        .with_client_auth_cert(chain, key)
        .map_err(CaError::tls("loading client certificate"))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// Client config without a client certificate that trusts only `root_pem`: used by a
/// joining node once the root has been checked against the join token's digest, to send
/// the token and its CSR.
pub fn anonymous_client_config(root_pem: &str) -> Result<ClientConfig, CaError> {
    let mut config = client_builder(root_pem)?.with_no_client_auth();
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

fn client_builder(
    root_pem: &str,
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>, CaError> {
    let roots = root_store(root_pem)?;
    Ok(ClientConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()
        .map_err(CaError::tls("choosing TLS versions"))?
        .with_root_certificates(roots))
}

/// Checks, as a TLS server would, that `cert_pem` (leaf first, then any intermediates)
/// chains to `root_pem`, is valid at `now` and allows client authentication.
/// Useful for a CA that renews a certificate presented outside a handshake.
pub fn verify_chain(root_pem: &str, cert_pem: &str, now: SystemTime) -> Result<(), CaError> {
    let roots = Arc::new(root_store(root_pem)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, ring_provider()).build()?;
    let chain = cert_chain(cert_pem, "certificate to verify")?;
    let since_epoch = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| CaError::TimeOutOfRange { what: "now" })?;
    verifier
        .verify_client_cert(
            &chain[0],
            &chain[1..],
            UnixTime::since_unix_epoch(since_epoch),
        )
        .map_err(CaError::tls("verifying certificate chain"))?;
    Ok(())
}

/// A trust store holding every certificate in `root_pem` (a bundle may hold the old and
/// new roots during a root rotation).
fn root_store(root_pem: &str) -> Result<RootCertStore, CaError> {
    let mut store = RootCertStore::empty();
    for cert in cert_chain(root_pem, "root certificate")? {
        store
            .add(cert)
            .map_err(CaError::tls("adding root certificate"))?;
    }
    Ok(store)
}

/// All certificates of a PEM bundle, in order; at least one.
fn cert_chain(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, CaError> {
    let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(CaError::pem(what))?;
    if chain.is_empty() {
        return Err(CaError::NoCertificate { what });
    }
    Ok(chain)
}

/// The node's certificate chain and private key.
fn identity(
    cert_pem: &str,
    key_pem: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CaError> {
    let chain = cert_chain(cert_pem, "node certificate")?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(CaError::pem("node key"))?;
    Ok((chain, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Role, RootCa};
    use std::time::Duration;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    #[test]
    fn verify_chain_checks_root_and_time() {
        let root = RootCa::generate(now()).unwrap();
        let other = RootCa::generate(now()).unwrap();
        let validity = Duration::from_secs(3600);
        let node = root
            .issue("n1", Role::Worker, "c", now(), validity)
            .unwrap();
        verify_chain(&root.cert_pem, &node.cert_pem, now()).unwrap();
        assert!(verify_chain(&other.cert_pem, &node.cert_pem, now()).is_err());
        let later = now() + validity + Duration::from_secs(1);
        let err = verify_chain(&root.cert_pem, &node.cert_pem, later).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
    }

    #[test]
    fn empty_or_bad_pem_is_an_error() {
        assert!(matches!(
            anonymous_client_config(""),
            Err(CaError::NoCertificate { .. })
        ));
        let root = RootCa::generate(now()).unwrap();
        let err = client_config(&root.cert_pem, &root.cert_pem, "no key").unwrap_err();
        assert!(
            matches!(
                err,
                CaError::Pem {
                    what: "node key",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn mismatched_key_is_refused() {
        let root = RootCa::generate(now()).unwrap();
        let a = root
            .issue("a", Role::Manager, "c", now(), Duration::from_secs(60))
            .unwrap();
        let b = root
            .issue("b", Role::Manager, "c", now(), Duration::from_secs(60))
            .unwrap();
        assert!(server_config(&root.cert_pem, &a.cert_pem, &b.key_pem).is_err());
    }
}
