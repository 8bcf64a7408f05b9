//! shoal-ca: the cluster's public-key infrastructure, layer L1.
//!
//! Owns:
//! - the root CA (`RootCa`: ECDSA P-256, CN `swarm-ca`, 20 years) and its digest;
//! - node certificates (CN = node ID, OU = role, O = cluster ID), issued directly or from a
//!   joiner's CSR, and reading that identity back (`identity_from_pem`);
//! - join tokens `SWMTKN-1-<root digest>-<secret>` and their constant-time comparison;
//! - rustls client/server configurations for the mutual-TLS cluster port (ring provider).
//!
//! Must not depend on: tokio or any async runtime, the filesystem, the network, a clock
//! (callers pass `now`), or any other shoal crate above L0. Keys and certificates enter and
//! leave as PEM strings; storing them is the caller's job. Crypto comes only from ring
//! (through rcgen and rustls), never aws-lc.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod base36;
mod bootstrap;
mod error;
mod identity;
mod node;
mod root;
mod time_conv;
mod tls;
mod token;

use std::time::Duration;

pub use bootstrap::insecure_bootstrap_client_config;
pub use error::CaError;
pub use identity::{CertIdentity, identity_from_der, identity_from_pem, issuer_info};
pub use node::{NodeCert, generate_csr};
pub use root::{RootCa, root_digest};
pub use tls::{
    anonymous_client_config, client_config, server_config, server_config_allow_anonymous,
    verify_chain,
};
pub use token::{ParsedToken, generate_join_token, parse_join_token, tokens_equal};

/// Lifetime of a root CA (swarmkit `RootCAExpiration` = 630720000 s, i.e. 20 × 365 days).
pub const ROOT_CA_VALIDITY: Duration = Duration::from_secs(630_720_000);

/// Default lifetime of a node certificate (swarmkit `DefaultNodeCertExpiration`, 90 days).
pub const DEFAULT_NODE_CERT_VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);

/// How far `not_before` is set into the past (swarmkit `CertBackdate`), so that a node whose
/// clock lags the CA's a little still accepts a freshly issued certificate.
pub const CERT_BACKDATE: Duration = Duration::from_secs(3600);

/// A node's role in the cluster, carried in the certificate's OU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Runs raft, the control API, the dispatcher and the CA.
    Manager,
    /// Only runs tasks.
    Worker,
}

impl Role {
    /// The OU (and TLS server name) swarmkit uses for this role.
    pub fn ou(&self) -> &'static str {
        match self {
            Role::Manager => "swarm-manager",
            Role::Worker => "swarm-worker",
        }
    }

    /// The role an OU names, or `None` for anything else (authorization must then refuse).
    pub fn from_ou(ou: &str) -> Option<Role> {
        match ou {
            "swarm-manager" => Some(Role::Manager),
            "swarm-worker" => Some(Role::Worker),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ou_round_trips() {
        for role in [Role::Manager, Role::Worker] {
            assert_eq!(Role::from_ou(role.ou()), Some(role));
        }
        assert_eq!(Role::Manager.ou(), "swarm-manager");
        assert_eq!(Role::Worker.ou(), "swarm-worker");
        assert_eq!(Role::from_ou("swarm-ca"), None);
        assert_eq!(Role::from_ou("Swarm-Manager"), None);
    }
}
