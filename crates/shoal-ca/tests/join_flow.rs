//! The join flow as a new node sees it: token → root check → CSR → signed certificate,
//! and the CA's refusal to take identity from the CSR.

use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, DnType, KeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use shoal_ca::{
    CertIdentity, Role, RootCa, generate_csr, generate_join_token, identity_from_pem,
    parse_join_token, tokens_equal, verify_chain,
};

const VALIDITY: Duration = Duration::from_secs(90 * 86_400);

fn san_names(cert_pem: &str) -> Vec<String> {
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap().value;
    san.general_names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn joiner_gets_a_certificate_for_its_own_key() {
    let now = SystemTime::now();
    let root = RootCa::generate(now).unwrap();
    let worker_token = generate_join_token(&root).unwrap();
    let manager_token = generate_join_token(&root).unwrap();

    // Joiner: parse the token and check the root it fetched.
    let parsed = parse_join_token(&worker_token).unwrap();
    parsed.verify_root(&root.cert_pem).unwrap();
    let (csr_pem, key_pem) = generate_csr().unwrap();

    // CA: the presented token picks the role.
    let role = if tokens_equal(&worker_token, &manager_token) {
        Role::Manager
    } else {
        assert!(tokens_equal(&worker_token, &worker_token));
        Role::Worker
    };
    let cert_pem = root
        .sign_csr(&csr_pem, "node-42", role, "cluster-9", now, VALIDITY)
        .unwrap();

    let ident = identity_from_pem(&cert_pem).unwrap();
    assert_eq!(
        (
            ident.node_id.as_str(),
            ident.role,
            ident.cluster_id.as_str()
        ),
        ("node-42", Role::Worker, "cluster-9")
    );
    verify_chain(&root.cert_pem, &cert_pem, now).unwrap();
    // The certificate is for the joiner's key: rustls accepts the pair.
    shoal_ca::client_config(&root.cert_pem, &cert_pem, &key_pem).unwrap();
}

#[test]
fn sign_csr_ignores_the_identity_a_csr_claims() {
    let now = SystemTime::now();
    let root = RootCa::generate(now).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["swarm-manager".to_string(), "evil".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "evil");
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "swarm-manager");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "other-cluster");
    let csr_pem = params.serialize_request(&key).unwrap().pem().unwrap();

    let cert_pem = root
        .sign_csr(&csr_pem, "wrk-1", Role::Worker, "cluster-9", now, VALIDITY)
        .unwrap();
    let ident = identity_from_pem(&cert_pem).unwrap();
    assert_eq!(
        ident,
        CertIdentity {
            node_id: "wrk-1".into(),
            role: Role::Worker,
            cluster_id: "cluster-9".into(),
            not_before: ident.not_before,
            not_after: ident.not_after,
        }
    );
    assert_eq!(
        san_names(&cert_pem),
        ["DNSName(swarm-worker)", "DNSName(wrk-1)"]
    );
    // Still the requester's key.
    shoal_ca::client_config(&root.cert_pem, &cert_pem, &key.serialize_pem()).unwrap();
}

#[test]
fn csr_with_bad_signature_is_refused() {
    let root = RootCa::generate(SystemTime::now()).unwrap();
    let (csr_pem, _) = generate_csr().unwrap();
    let mut der =
        rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec();
    // Flip a bit in the signature (the tail of the DER).
    let last = der.len() - 1;
    der[last] ^= 1;
    let tampered = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        base64(&der)
    );
    let err = root
        .sign_csr(
            &tampered,
            "n",
            Role::Worker,
            "c",
            SystemTime::now(),
            VALIDITY,
        )
        .unwrap_err();
    assert!(err.to_string().contains("parsing CSR"), "{err}");
}

/// Minimal standard base64 so the test needs no extra dependency.
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn root_validity_is_twenty_years() {
    let now = SystemTime::now();
    let root = RootCa::generate(now).unwrap();
    let der = CertificateDer::from_pem_slice(root.cert_pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let secs = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
    assert_eq!(secs, 630_720_000 + 3600);
}
