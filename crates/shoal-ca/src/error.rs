//! The crate's one error type.

/// Everything that can go wrong while building or reading cluster PKI material.
///
/// Variants carry what was being done (`what`) so a caller's log line says which
/// certificate or key was bad without extra wrapping.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// rcgen failed to generate a key, build or sign a certificate or CSR.
    #[error("{what}: {source}")]
    Rcgen {
        /// What was being generated or signed.
        what: &'static str,
        /// The underlying rcgen error.
        #[source]
        source: rcgen::Error,
    },

    /// A PEM document could not be decoded.
    #[error("decoding {what} PEM: {source}")]
    Pem {
        /// Which PEM input was bad (e.g. "root certificate").
        what: &'static str,
        /// The underlying decoder error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },

    /// A certificate's DER could not be parsed as X.509.
    #[error("parsing {what}: {reason}")]
    X509 {
        /// Which certificate was being parsed.
        what: &'static str,
        /// The parser's message (x509-parser errors borrow the input, so they are flattened).
        reason: String,
    },

    /// The certificate subject lacks an attribute the cluster requires.
    #[error("certificate subject has no {field}")]
    MissingSubjectField {
        /// "CN", "OU" or "O".
        field: &'static str,
    },

    /// The certificate's OU is not `swarm-manager` or `swarm-worker`.
    #[error("certificate OU {ou:?} is not a swarm role")]
    UnknownRole {
        /// The OU found in the certificate.
        ou: String,
    },

    /// A time could not be represented in a certificate (before 1970 or far future).
    #[error("{what} is out of the representable certificate time range")]
    TimeOutOfRange {
        /// Which bound ("not_before", "not_after", "now").
        what: &'static str,
    },

    /// A join token was malformed. Docker reports exactly this text.
    #[error("invalid join token")]
    InvalidJoinToken,

    /// A fetched root CA certificate does not match the join token's digest.
    /// (Text as swarmkit's `GetRemoteCA`.)
    #[error("remote CA does not match fingerprint. Expected: {expected}")]
    RootDigestMismatch {
        /// The digest from the join token.
        expected: String,
    },

    /// The operating system's random number generator failed.
    #[error("reading OS random bytes: {0}")]
    Rng(#[from] rand::rngs::SysError),

    /// rustls refused a configuration or a certificate.
    #[error("{what}: {source}")]
    Tls {
        /// What was being configured or verified.
        what: &'static str,
        /// The underlying rustls error.
        #[source]
        source: rustls::Error,
    },

    /// The client-certificate verifier could not be built (e.g. empty root store).
    #[error("building client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),

    /// A PEM bundle that must hold at least one certificate held none.
    #[error("{what} contains no certificate")]
    NoCertificate {
        /// Which PEM input was empty.
        what: &'static str,
    },
}

impl CaError {
    /// Adapter for `map_err` on rcgen results.
    pub(crate) fn rcgen(what: &'static str) -> impl FnOnce(rcgen::Error) -> CaError {
        move |source| CaError::Rcgen { what, source }
    }

    /// Adapter for `map_err` on PEM decoding results.
    pub(crate) fn pem(what: &'static str) -> impl FnOnce(rustls_pki_types::pem::Error) -> CaError {
        move |source| CaError::Pem { what, source }
    }

    /// Adapter for `map_err` on rustls results.
    pub(crate) fn tls(what: &'static str) -> impl FnOnce(rustls::Error) -> CaError {
        move |source| CaError::Tls { what, source }
    }
}
