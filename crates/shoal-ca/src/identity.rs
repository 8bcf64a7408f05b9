//! Reading a node's identity (node ID, role, cluster, expiry) back out of its certificate,
//! e.g. from the peer certificate of an mTLS connection to authorize a call.

use std::time::SystemTime;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::x509::X509Name;

use crate::{CaError, Role, time_conv};

/// Who a certificate says its holder is. Only meaningful once the chain has been verified
/// (the TLS handshake does that for peer certificates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    /// Subject CN.
    pub node_id: String,
    /// Subject OU, which must name a role.
    pub role: Role,
    /// Subject O.
    pub cluster_id: String,
    /// Start of the validity period (backdated by [`crate::CERT_BACKDATE`]).
    pub not_before: SystemTime,
    /// End of the validity period, for renewal scheduling.
    pub not_after: SystemTime,
}

impl CertIdentity {
    /// When to renew: at `fraction` (swarmkit draws it between 0.5 and 0.8) of the way from
    /// issue to expiry. The backdating is not counted as lifetime.
    pub fn renew_at(&self, fraction: f64) -> SystemTime {
        let issued = self.not_before + crate::CERT_BACKDATE;
        let life = self.not_after.duration_since(issued).unwrap_or_default();
        issued + life.mul_f64(fraction.clamp(0.0, 1.0))
    }
}

/// Reads the identity of the first certificate in `cert_pem`.
pub fn identity_from_pem(cert_pem: &str) -> Result<CertIdentity, CaError> {
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(CaError::pem("node certificate"))?;
    identity_from_der(&der)
}

/// Reads the identity of a DER certificate; fails if CN, OU or O is missing or the OU is
/// not a swarm role, so a caller cannot mistake a foreign certificate for a node.
pub fn identity_from_der(der: &[u8]) -> Result<CertIdentity, CaError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| CaError::X509 {
        what: "node certificate",
        reason: e.to_string(),
    })?;
    let subject = cert.subject();
    let node_id = first(subject, "CN", |n| n.iter_common_name().next())?;
    let ou = first(subject, "OU", |n| n.iter_organizational_unit().next())?;
    let cluster_id = first(subject, "O", |n| n.iter_organization().next())?;
    let role = Role::from_ou(&ou).ok_or(CaError::UnknownRole { ou })?;
    Ok(CertIdentity {
        node_id,
        role,
        cluster_id,
        not_before: time_conv::from_unix(cert.validity().not_before.timestamp()),
        not_after: time_conv::from_unix(cert.validity().not_after.timestamp()),
    })
}

/// The first attribute `pick` finds, as a string; a missing or non-string attribute is
/// reported as missing.
fn first<'a>(
    name: &'a X509Name<'a>,
    field: &'static str,
    pick: impl FnOnce(&'a X509Name<'a>) -> Option<&'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Result<String, CaError> {
    pick(name)
        .and_then(|attr| attr.as_str().ok())
        .map(str::to_string)
        .ok_or(CaError::MissingSubjectField { field })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RootCa;
    use std::time::{Duration, UNIX_EPOCH};

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    #[test]
    fn manager_and_worker_identities_round_trip() {
        let root = RootCa::generate(now()).unwrap();
        let validity = Duration::from_secs(90 * 86400);
        for (id, role) in [("mgr1", Role::Manager), ("wrk1", Role::Worker)] {
            let node = root.issue(id, role, "cluster-x", now(), validity).unwrap();
            let ident = identity_from_pem(&node.cert_pem).unwrap();
            assert_eq!(
                ident,
                CertIdentity {
                    node_id: id.into(),
                    role,
                    cluster_id: "cluster-x".into(),
                    not_before: now() - crate::CERT_BACKDATE,
                    not_after: now() + validity,
                }
            );
            // Renewal falls between half and four fifths of the lifetime after issue.
            assert_eq!(ident.renew_at(0.5), now() + validity / 2);
            assert_eq!(ident.renew_at(0.8), now() + validity.mul_f64(0.8));
        }
    }

    #[test]
    fn sans_hold_role_and_node_id() {
        let root = RootCa::generate(now()).unwrap();
        let node = root
            .issue("abc123", Role::Manager, "c", now(), Duration::from_secs(60))
            .unwrap();
        let der = CertificateDer::from_pem_slice(node.cert_pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap().value;
        let names: Vec<String> = san.general_names.iter().map(|n| n.to_string()).collect();
        assert_eq!(names, ["DNSName(swarm-manager)", "DNSName(abc123)"]);
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth);
    }

    #[test]
    fn root_certificate_is_not_a_node() {
        let root = RootCa::generate(now()).unwrap();
        let err = identity_from_pem(&root.cert_pem).unwrap_err();
        assert!(
            matches!(err, CaError::MissingSubjectField { field: "OU" }),
            "{err}"
        );
    }

    #[test]
    fn unknown_ou_is_refused() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        let dn = &mut params.distinguished_name;
        dn.push(rcgen::DnType::CommonName, "n");
        dn.push(rcgen::DnType::OrganizationalUnitName, "swarm-admin");
        dn.push(rcgen::DnType::OrganizationName, "c");
        let cert = params.self_signed(&key).unwrap();
        let err = identity_from_der(cert.der()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "certificate OU \"swarm-admin\" is not a swarm role"
        );
    }

    #[test]
    fn garbage_der_is_an_x509_error() {
        assert!(matches!(
            identity_from_der(b"not a cert"),
            Err(CaError::X509 { .. })
        ));
    }
}

/// The issuer fields of `TLSInfo` for certificates signed by `root_pem`: the root's subject
/// and public key (SubjectPublicKeyInfo), each DER in standard base64, as Docker shows them.
pub fn issuer_info(root_pem: &str) -> Result<(String, String), CaError> {
    use base64::Engine;
    let der = CertificateDer::from_pem_slice(root_pem.as_bytes())
        .map_err(CaError::pem("root certificate"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| CaError::X509 {
        what: "root certificate",
        reason: e.to_string(),
    })?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok((
        b64.encode(cert.subject().as_raw()),
        b64.encode(cert.public_key().raw),
    ))
}

#[cfg(test)]
mod issuer_tests {
    use super::*;

    #[test]
    fn issuer_subject_is_the_root_name() {
        let root = crate::RootCa::generate(SystemTime::now()).unwrap();
        let (subject, key) = issuer_info(&root.cert_pem).unwrap();
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&subject)
            .unwrap();
        // DER of "CN=swarm-ca" contains the name's bytes.
        assert!(raw.windows(8).any(|w| w == b"swarm-ca"));
        assert!(!key.is_empty());
    }
}
