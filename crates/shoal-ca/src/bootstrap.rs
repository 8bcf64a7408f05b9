//! The one unverified TLS connection in the join flow: fetching the root CA certificate.
//!
//! A joining node has only a join token, i.e. the root's *digest*, not the root itself.
//! Like swarmkit's `GetRemoteCA`, it first fetches the root over TLS without verifying the
//! server, then accepts the root only if its digest matches the token
//! ([`crate::ParsedToken::verify_root`]). Everything after that (sending the token secret
//! and the CSR) must use [`crate::anonymous_client_config`] with the verified root.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::CaError;
use crate::tls::ring_provider;

/// Client config that accepts ANY server certificate, for fetching the root CA only.
///
/// Never send secrets (the join token) over a connection made with this config: the peer
/// is unauthenticated until the fetched root has been checked against the token digest.
/// Handshake signatures are still checked, so the peer at least holds the key of the
/// certificate it presented.
pub fn insecure_bootstrap_client_config() -> Result<ClientConfig, CaError> {
    let provider = ring_provider();
    let verifier = AcceptAnyServerCert {
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(CaError::tls("choosing TLS versions"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Skips chain and name validation; verifies handshake signatures with ring.
#[derive(Debug)]
struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Trust is established afterwards by the digest check, not here.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
