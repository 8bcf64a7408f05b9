//! The cluster root CA: creation, digest (the first half of a join token), and signing
//! node certificates.

use std::fmt;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::node::{NodeCert, new_key, node_params, random_serial};
use crate::{CERT_BACKDATE, CaError, ROOT_CA_VALIDITY, Role, base36, time_conv};

/// Width of the digest part of a join token (256 bits need at most 50 base 36 digits).
pub(crate) const DIGEST_LEN: usize = 50;

/// The root CA's certificate and private key, both PEM. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct RootCa {
    /// The self-signed root certificate (CN `swarm-ca`).
    pub cert_pem: String,
    /// The root's PKCS#8 private key; only managers hold it.
    pub key_pem: String,
}

impl fmt::Debug for RootCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootCa")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl RootCa {
    /// Creates a new self-signed root CA valid from `now - 1h` for 20 years.
    pub fn generate(now: SystemTime) -> Result<RootCa, CaError> {
        let key = new_key()?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "swarm-ca");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        (params.not_before, params.not_after) =
            time_conv::window(now, CERT_BACKDATE, ROOT_CA_VALIDITY)?;
        params.serial_number = Some(random_serial()?);
        let cert = params
            .self_signed(&key)
            .map_err(CaError::rcgen("self-signing root CA"))?;
        Ok(RootCa {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The root certificate's digest as it appears in join tokens: see [`root_digest`].
    pub fn digest(&self) -> Result<String, CaError> {
        root_digest(&self.cert_pem)
    }

    /// Issues a certificate for `node_id` with a freshly generated key (used for the
    /// manager that creates the cluster, and by the CA on behalf of nodes in tests).
    pub fn issue(
        &self,
        node_id: &str,
        role: Role,
        cluster_id: &str,
        now: SystemTime,
        validity: Duration,
    ) -> Result<NodeCert, CaError> {
        let key = new_key()?;
        let params = node_params(node_id, role, cluster_id, now, validity)?;
        let cert = params
            .signed_by(&key, &self.issuer()?)
            .map_err(CaError::rcgen("signing node certificate"))?;
        Ok(NodeCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Signs the public key of `csr_pem` into a node certificate and returns it as PEM.
    ///
    /// Only the CSR's key is used (after its self-signature is checked, which proves the
    /// requester holds the private key). Subject, SANs and usages come from the arguments:
    /// the CA, not the requester, decides who a node is.
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        node_id: &str,
        role: Role,
        cluster_id: &str,
        now: SystemTime,
        validity: Duration,
    ) -> Result<String, CaError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(CaError::rcgen("parsing CSR"))?;
        let params = node_params(node_id, role, cluster_id, now, validity)?;
        let cert = params
            .signed_by(&csr.public_key, &self.issuer()?)
            .map_err(CaError::rcgen("signing node certificate"))?;
        Ok(cert.pem())
    }

    /// The rcgen issuer (subject, key id method, signing key) rebuilt from the PEM pair.
    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, CaError> {
        let key =
            KeyPair::from_pem(&self.key_pem).map_err(CaError::rcgen("parsing root CA key"))?;
        Issuer::from_ca_cert_pem(&self.cert_pem, key)
            .map_err(CaError::rcgen("parsing root CA certificate"))
    }
}

/// SHA-256 of the first certificate's DER in `root_pem`, as a big-endian integer written in
/// lowercase base 36 and zero-padded to 50 characters (swarmkit `GenerateJoinToken`).
///
/// Joining nodes, which have only the root certificate, compare this with the token's
/// digest. Note: swarmkit hashes the PEM bytes; we hash the DER so that re-encoding the
/// PEM (line endings, headers) cannot change the digest.
pub fn root_digest(root_pem: &str) -> Result<String, CaError> {
    let der = CertificateDer::from_pem_slice(root_pem.as_bytes())
        .map_err(CaError::pem("root certificate"))?;
    let hash = Sha256::digest(der.as_ref());
    Ok(base36::encode_padded(hash.as_slice(), DIGEST_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    fn validity_secs(cert_pem: &str) -> (i64, i64) {
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let v = cert.validity();
        (v.not_before.timestamp(), v.not_after.timestamp())
    }

    #[test]
    fn root_is_a_20_year_ca_named_swarm_ca() {
        let root = RootCa::generate(now()).unwrap();
        let der = CertificateDer::from_pem_slice(root.cert_pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(cert.is_ca());
        let cn = cert.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), "swarm-ca");
        let usage = cert.key_usage().unwrap().unwrap().value;
        assert!(usage.key_cert_sign() && usage.crl_sign() && usage.digital_signature());
        let (from, to) = validity_secs(&root.cert_pem);
        assert_eq!(from, 1_750_000_000 - 3600);
        assert_eq!(to, 1_750_000_000 + 630_720_000);
    }

    #[test]
    fn debug_hides_root_key() {
        let root = RootCa::generate(now()).unwrap();
        let shown = format!("{root:?}");
        assert!(!shown.contains("PRIVATE KEY"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn digest_is_50_base36_chars_stable_and_per_root() {
        let root = RootCa::generate(now()).unwrap();
        let d = root.digest().unwrap();
        assert_eq!(d.len(), DIGEST_LEN);
        assert!(base36::is_base36(&d));
        assert_eq!(d, root.digest().unwrap());
        assert_eq!(d, root_digest(&root.cert_pem).unwrap());
        let other = RootCa::generate(now()).unwrap();
        assert_ne!(d, other.digest().unwrap());
    }

    #[test]
    fn digest_ignores_pem_line_endings() {
        let root = RootCa::generate(now()).unwrap();
        let crlf = root.cert_pem.replace('\n', "\r\n");
        assert_eq!(root_digest(&crlf).unwrap(), root.digest().unwrap());
    }

    #[test]
    fn node_validity_is_backdated_and_as_requested() {
        let root = RootCa::generate(now()).unwrap();
        let node = root
            .issue("n1", Role::Worker, "c1", now(), Duration::from_secs(7200))
            .unwrap();
        assert_eq!(
            validity_secs(&node.cert_pem),
            (1_750_000_000 - 3600, 1_750_000_000 + 7200)
        );
    }

    #[test]
    fn garbage_inputs_are_errors() {
        assert!(matches!(root_digest("nope"), Err(CaError::Pem { .. })));
        let root = RootCa::generate(now()).unwrap();
        let err = root
            .sign_csr(
                "garbage",
                "n",
                Role::Worker,
                "c",
                now(),
                Duration::from_secs(60),
            )
            .unwrap_err();
        assert!(err.to_string().starts_with("parsing CSR"), "{err}");
        let broken = RootCa {
            key_pem: "bad".into(),
            ..root
        };
        let err = broken
            .issue("n", Role::Worker, "c", now(), Duration::from_secs(60))
            .unwrap_err();
        assert!(err.to_string().starts_with("parsing root CA key"), "{err}");
    }
}
