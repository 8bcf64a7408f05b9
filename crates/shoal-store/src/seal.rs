//! Encryption at rest of what the store writes to disk: Raft log entries and snapshots (which
//! carry secrets' data) are sealed with AES-256-GCM under the manager's data key, each record
//! with a fresh random nonce. A sealed record starts with a version byte that no JSON document
//! starts with, so records written before encryption was on still read.
//!
//! Layout: `0x01 | nonce (12 bytes) | ciphertext | tag (16 bytes)`.

use std::borrow::Cow;
use std::sync::Arc;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const SEALED_V1: u8 = 0x01;

/// A data key's length (AES-256).
pub const DATA_KEY_LEN: usize = 32;

/// Seals and opens the store's records; `None` inside writes them in the clear (tests).
#[derive(Clone, Default)]
pub struct Sealer {
    key: Option<Arc<LessSafeKey>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("encrypting", &self.key.is_some())
            .finish()
    }
}

impl Sealer {
    /// Seals under `key`.
    pub fn new(key: &[u8; DATA_KEY_LEN]) -> Self {
        let unbound = UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key");
        Self {
            key: Some(Arc::new(LessSafeKey::new(unbound))),
        }
    }

    /// Writes records in the clear (tests and benchmarks of the storage itself).
    pub fn plain() -> Self {
        Self::default()
    }

    /// The record to store for `plain`.
    pub fn seal(&self, plain: Vec<u8>) -> Vec<u8> {
        let Some(key) = &self.key else {
            return plain;
        };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system random source");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plain.len() + 16);
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        let mut body = plain;
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut body)
            .expect("sealing cannot fail for in-memory buffers");
        out.extend_from_slice(&body);
        out
    }

    /// The plain bytes of a stored record (sealed or, from before encryption, clear).
    pub fn open<'a>(&self, stored: &'a [u8]) -> Result<Cow<'a, [u8]>, String> {
        if stored.first() != Some(&SEALED_V1) {
            return Ok(Cow::Borrowed(stored));
        }
        let key = self
            .key
            .as_ref()
            .ok_or("the store is encrypted but no data key was given")?;
        if stored.len() < 1 + NONCE_LEN + 16 {
            return Err("a sealed record is truncated".into());
        }
        let nonce = Nonce::try_assume_unique_for_key(&stored[1..1 + NONCE_LEN])
            .map_err(|_| "a sealed record has a bad nonce")?;
        let mut body = stored[1 + NONCE_LEN..].to_vec();
        let plain = key.open_in_place(nonce, Aad::empty(), &mut body).map_err(
            |_| "a sealed record does not open with this data key (wrong key or corrupt)",
        )?;
        let n = plain.len();
        body.truncate(n);
        Ok(Cow::Owned(body))
    }
}

/// The prefix of a human-readable unlock key (swarmkit's `HumanReadableKey`).
const UNLOCK_PREFIX: &str = "SWMKEY-1-";

/// A new autolock key, as users see it: `SWMKEY-1-<32 random bytes, base64 without padding>`.
pub fn new_unlock_key() -> String {
    use base64::Engine;
    let key = new_data_key();
    format!(
        "{UNLOCK_PREFIX}{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(key)
    )
}

/// The key bytes of an unlock key, or `None` when it is not one.
pub fn parse_unlock_key(text: &str) -> Option<[u8; DATA_KEY_LEN]> {
    use base64::Engine;
    let b64 = text.trim().strip_prefix(UNLOCK_PREFIX)?;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64)
        .ok()?;
    bytes.try_into().ok()
}

/// A fresh random data key.
pub fn new_data_key() -> [u8; DATA_KEY_LEN] {
    let mut key = [0u8; DATA_KEY_LEN];
    SystemRandom::new()
        .fill(&mut key)
        .expect("the system random source");
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_records_open_and_hide_their_content() {
        let s = Sealer::new(&new_data_key());
        let plain = br#"{"secret":"hunter2"}"#.to_vec();
        let sealed = s.seal(plain.clone());
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(s.open(&sealed).unwrap().as_ref(), plain.as_slice());
        // Two seals of the same record differ (fresh nonces).
        assert_ne!(s.seal(plain.clone()), sealed);
        // Records from before encryption still read; a wrong key does not open a record.
        assert_eq!(s.open(&plain).unwrap().as_ref(), plain.as_slice());
        let other = Sealer::new(&new_data_key());
        assert!(other.open(&sealed).is_err());
        assert!(Sealer::plain().open(&sealed).is_err());
        let unlock = new_unlock_key();
        assert!(unlock.starts_with("SWMKEY-1-"), "{unlock}");
        assert!(parse_unlock_key(&unlock).is_some());
        assert!(parse_unlock_key("SWMKEY-1-short").is_none());
        assert!(parse_unlock_key(&unlock.replace("SWMKEY", "SWMTKN")).is_none());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(s.open(&tampered).is_err());
    }
}
