//! Node certificates: the parameters the CA stamps on every node certificate, the
//! issued pair, and the CSR a joining node sends.

use std::fmt;
use std::time::{Duration, SystemTime};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SerialNumber,
};

use crate::{CERT_BACKDATE, CaError, Role, time_conv};

/// A node's certificate and private key, both PEM. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeCert {
    /// The node certificate (leaf only; the root is distributed separately).
    pub cert_pem: String,
    /// The node's PKCS#8 private key.
    pub key_pem: String,
}

impl fmt::Debug for NodeCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Generates a fresh ECDSA P-256 key and a CSR for it, for a node about to join.
///
/// Returns `(csr_pem, key_pem)`. The CSR's subject is deliberately empty: the CA decides
/// the node's identity (node ID, role, cluster) and ignores whatever a CSR claims.
pub fn generate_csr() -> Result<(String, String), CaError> {
    let key = new_key()?;
    let csr = CertificateParams::default()
        .serialize_request(&key)
        .map_err(CaError::rcgen("creating CSR"))?;
    let csr_pem = csr.pem().map_err(CaError::rcgen("encoding CSR"))?;
    Ok((csr_pem, key.serialize_pem()))
}

/// A new ECDSA P-256 key pair, the only key type swarm uses for node TLS.
pub(crate) fn new_key() -> Result<KeyPair, CaError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(CaError::rcgen("generating key pair"))
}

/// A random, positive 128-bit serial number.
///
/// rcgen's default serial is a hash of the subject public key, so renewing a certificate
/// for the same key (a CSR reusing its key) would repeat a serial; random serials avoid that.
pub(crate) fn random_serial() -> Result<SerialNumber, CaError> {
    use rand::TryRng;
    let mut bytes = [0u8; 16];
    rand::rngs::SysRng.try_fill_bytes(&mut bytes)?;
    // Clear the sign bit (serials are positive) and set the next one so the value is
    // never zero and always encodes to the same length.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// The parameters of a node certificate: identity from the arguments only.
///
/// SANs are the role's OU and the node ID because peers dial managers with the server name
/// `swarm-manager` (any manager will do) and sometimes a specific node by its ID.
pub(crate) fn node_params(
    node_id: &str,
    role: Role,
    cluster_id: &str,
    now: SystemTime,
    validity: Duration,
) -> Result<CertificateParams, CaError> {
    let sans = vec![role.ou().to_string(), node_id.to_string()];
    let mut params =
        CertificateParams::new(sans).map_err(CaError::rcgen("node certificate SANs"))?;
    params.distinguished_name.push(DnType::CommonName, node_id);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, role.ou());
    params
        .distinguished_name
        .push(DnType::OrganizationName, cluster_id);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // Both: every node is a TLS server (raft, dispatcher) and a TLS client of other nodes.
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    (params.not_before, params.not_after) = time_conv::window(now, CERT_BACKDATE, validity)?;
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_key() {
        let cert = NodeCert {
            cert_pem: "CERT".into(),
            key_pem: "SECRET-KEY".into(),
        };
        let shown = format!("{cert:?}");
        assert!(shown.contains("CERT"));
        assert!(!shown.contains("SECRET-KEY"));
    }

    #[test]
    fn csr_and_key_are_pem() {
        let (csr, key) = generate_csr().unwrap();
        assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
        let parsed = rcgen::CertificateSigningRequestParams::from_pem(&csr).unwrap();
        assert_eq!(parsed.public_key.algorithm(), &PKCS_ECDSA_P256_SHA256);
    }

    #[test]
    fn serials_are_positive_and_distinct() {
        let a = random_serial().unwrap().to_bytes();
        let b = random_serial().unwrap().to_bytes();
        assert_ne!(a, b);
        assert_eq!(a[0] & 0xc0, 0x40);
    }
}
