//! Join tokens, swarmkit format `SWMTKN-1-<root digest>-<secret>`.
//!
//! The digest lets a joining node authenticate the cluster's root CA before trusting it;
//! the secret authenticates the joiner to the CA. Worker and manager tokens share the
//! digest and differ only in the secret, so matching the secret decides the role.

use crate::root::DIGEST_LEN;
use crate::{CaError, RootCa, base36, root_digest};

const PREFIX: &str = "SWMTKN";
/// The only token version we issue or accept (version 2 is swarmkit's FIPS variant).
const VERSION: u32 = 1;
/// Entropy of the secret (swarmkit `generatedSecretEntropyBytes`).
const SECRET_BYTES: usize = 16;
/// 128 bits need at most 25 base 36 digits (swarmkit `maxGeneratedSecretLength`).
const SECRET_LEN: usize = 25;

/// The parts of a well-formed join token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedToken {
    /// Token format version; always 1.
    pub version: u32,
    /// Base 36 digest of the root CA certificate (50 chars), see [`crate::root_digest`].
    pub root_digest: String,
    /// The secret part (25 base 36 chars).
    pub secret: String,
}

impl ParsedToken {
    /// Checks that `root_pem` is the root CA this token was issued for. A joiner calls this
    /// on the root certificate it fetched without verification, before trusting it.
    pub fn verify_root(&self, root_pem: &str) -> Result<(), CaError> {
        if tokens_equal(&root_digest(root_pem)?, &self.root_digest) {
            Ok(())
        } else {
            Err(CaError::RootDigestMismatch {
                expected: self.root_digest.clone(),
            })
        }
    }
}

/// Creates a new join token for `root` with 128 bits of fresh OS randomness.
pub fn generate_join_token(root: &RootCa) -> Result<String, CaError> {
    use rand::TryRng;
    let mut secret = [0u8; SECRET_BYTES];
    rand::rngs::SysRng.try_fill_bytes(&mut secret)?;
    Ok(format!(
        "{PREFIX}-{VERSION}-{}-{}",
        root.digest()?,
        base36::encode_padded(&secret, SECRET_LEN)
    ))
}

/// Splits and validates a join token. Every malformation gives the same
/// [`CaError::InvalidJoinToken`] ("invalid join token"), as Docker does.
pub fn parse_join_token(s: &str) -> Result<ParsedToken, CaError> {
    let parts: Vec<&str> = s.split('-').collect();
    let [prefix, version, digest, secret] = parts.as_slice() else {
        return Err(CaError::InvalidJoinToken);
    };
    let well_formed = *prefix == PREFIX
        && *version == "1"
        && digest.len() == DIGEST_LEN
        && base36::is_base36(digest)
        && secret.len() == SECRET_LEN
        && base36::is_base36(secret);
    if !well_formed {
        return Err(CaError::InvalidJoinToken);
    }
    Ok(ParsedToken {
        version: VERSION,
        root_digest: (*digest).to_string(),
        secret: (*secret).to_string(),
    })
}

/// Compares two tokens in time that depends only on their lengths, never on where they
/// differ, so a caller probing the CA cannot learn a token byte by byte.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    // A length mismatch is folded into the accumulator instead of returning early, and
    // the loop still runs over the longer input.
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    // Keep the optimizer from turning the accumulation into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn root() -> RootCa {
        RootCa::generate(UNIX_EPOCH + Duration::from_secs(1_750_000_000)).unwrap()
    }

    const DIGEST: &str = "4nb7oofka9ml8nasnokxxc1unhmtpr1wxsuwhpd9km3vt5as31";
    const SECRET: &str = "000aqwr2ytbjczf91x6g9zrpc";

    #[test]
    fn generated_token_round_trips() {
        let root = root();
        let token = generate_join_token(&root).unwrap();
        assert!(token.starts_with("SWMTKN-1-"));
        assert_eq!(token.len(), "SWMTKN-1-".len() + 50 + 1 + 25);
        let parsed = parse_join_token(&token).unwrap();
        assert_eq!(parsed.version, 1);
        assert_eq!(parsed.root_digest, root.digest().unwrap());
        assert_eq!(parsed.secret.len(), 25);
        assert!(token.ends_with(&parsed.secret));
        parsed.verify_root(&root.cert_pem).unwrap();
    }

    #[test]
    fn tokens_differ_between_calls() {
        let root = root();
        let a = parse_join_token(&generate_join_token(&root).unwrap()).unwrap();
        let b = parse_join_token(&generate_join_token(&root).unwrap()).unwrap();
        assert_eq!(a.root_digest, b.root_digest);
        assert_ne!(a.secret, b.secret);
    }

    #[test]
    fn token_for_another_root_is_detected() {
        let parsed = parse_join_token(&generate_join_token(&root()).unwrap()).unwrap();
        let err = parsed.verify_root(&root().cert_pem).unwrap_err();
        assert!(matches!(err, CaError::RootDigestMismatch { .. }));
    }

    #[test]
    fn known_good_token_parses() {
        let parsed = parse_join_token(&format!("SWMTKN-1-{DIGEST}-{SECRET}")).unwrap();
        assert_eq!(parsed.root_digest, DIGEST);
        assert_eq!(parsed.secret, SECRET);
    }

    #[test]
    fn malformed_tokens_are_rejected_with_docker_text() {
        let upper = DIGEST.to_uppercase();
        let bad = [
            String::new(),
            "SWMTKN".into(),
            format!("SWMTKX-1-{DIGEST}-{SECRET}"),
            format!("swmtkn-1-{DIGEST}-{SECRET}"),
            format!("SWMTKN-2-{DIGEST}-{SECRET}"),
            format!("SWMTKN-2-1-{DIGEST}-{SECRET}"),
            format!("SWMTKN-1-{DIGEST}"),
            format!("SWMTKN-1-{DIGEST}-{SECRET}-extra"),
            format!("SWMTKN-1-{}-{SECRET}", &DIGEST[1..]),
            format!("SWMTKN-1-{DIGEST}0-{SECRET}"),
            format!("SWMTKN-1-{DIGEST}-{}", &SECRET[1..]),
            format!("SWMTKN-1-{DIGEST}-{SECRET}0"),
            format!("SWMTKN-1-{upper}-{SECRET}"),
            format!("SWMTKN-1-{}!-{SECRET}", &DIGEST[1..]),
            format!("SWMTKN-1-{DIGEST}-{}_", &SECRET[1..]),
            format!(" SWMTKN-1-{DIGEST}-{SECRET}"),
        ];
        for token in bad {
            let err = parse_join_token(&token).unwrap_err();
            assert_eq!(err.to_string(), "invalid join token", "{token:?}");
        }
    }

    #[test]
    fn constant_time_compare() {
        assert!(tokens_equal("", ""));
        assert!(tokens_equal("SWMTKN-1-abc", "SWMTKN-1-abc"));
        assert!(!tokens_equal("SWMTKN-1-abc", "SWMTKN-1-abd"));
        assert!(!tokens_equal("xWMTKN-1-abc", "SWMTKN-1-abc"));
        assert!(!tokens_equal("abc", "abcd"));
        assert!(!tokens_equal("abcd", "abc"));
        assert!(!tokens_equal("", "a"));
        // A prefix padded with NULs must not equal the shorter string.
        assert!(!tokens_equal("abc\0", "abc"));
    }

    #[test]
    fn real_tokens_compare() {
        let root = root();
        let a = generate_join_token(&root).unwrap();
        let b = generate_join_token(&root).unwrap();
        assert!(tokens_equal(&a, &a.clone()));
        assert!(!tokens_equal(&a, &b));
    }
}
