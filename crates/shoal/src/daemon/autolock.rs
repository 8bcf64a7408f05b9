//! The manager's store data key on disk, and autolock. The key file holds the 32-byte key in
//! the clear, or, while the swarm's `AutoLockManagers` is on, the key sealed with the swarm's
//! unlock key (`SWMKEY-1-…`), which then lives only in the managers' memory and replicated
//! store. A manager that restarts with a sealed key file is locked: it serves nothing of the
//! swarm until `swarm unlock` gives the key back.

use shoal_store::{DATA_KEY_LEN, Sealer};
use shoal_types::{Error, ErrorKind};
use tracing::{info, warn};

use super::runtime::NodeRuntime;
use super::state_file::{NodeFiles, write_atomic};

/// What a sealed key file starts with.
const SEALED: &[u8] = b"SHOAL-SEALED-KEY-1\n";

/// Docker's answer on a locked manager.
pub const LOCKED: &str = "Swarm is encrypted and needs to be unlocked before it can be used. \
                          Please use \"docker swarm unlock\" to unlock it.";

type Key = [u8; DATA_KEY_LEN];

/// The key file's content.
pub enum StoredKey {
    Plain(Key),
    Sealed(Vec<u8>),
}

/// Reads the key file, if there is one.
pub fn read(files: &NodeFiles) -> Result<Option<StoredKey>, String> {
    let path = files.data_key_path();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if let Some(sealed) = bytes.strip_prefix(SEALED) {
        return Ok(Some(StoredKey::Sealed(sealed.to_vec())));
    }
    let key: Key = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("{} is not a {DATA_KEY_LEN}-byte key", path.display()))?;
    Ok(Some(StoredKey::Plain(key)))
}

/// Writes the key, sealed with `unlock` when given.
pub fn write(files: &NodeFiles, key: &Key, unlock: Option<&Key>) -> Result<(), String> {
    std::fs::create_dir_all(files.root())
        .map_err(|e| format!("cannot create {}: {e}", files.root().display()))?;
    let content = match unlock {
        Some(kek) => [SEALED, &Sealer::new(kek).seal(key.to_vec())].concat(),
        None => key.to_vec(),
    };
    write_atomic(&files.data_key_path(), &content, 0o600)
}

/// The key inside a sealed file, if `unlock` opens it.
pub fn open(sealed: &[u8], unlock: &Key) -> Option<Key> {
    Sealer::new(unlock)
        .open(sealed)
        .ok()?
        .as_ref()
        .try_into()
        .ok()
}

impl NodeRuntime {
    /// The store key to start the manager with: the one given back by `swarm unlock`, else
    /// the clear one on disk (made the first time).
    pub(crate) fn store_key(&self) -> Result<Key, Error> {
        if let Some(k) = *self.data_key.lock().expect("data key") {
            return Ok(k);
        }
        match read(&self.files).map_err(Error::internal)? {
            Some(StoredKey::Plain(k)) => Ok(k),
            Some(StoredKey::Sealed(_)) => Err(Error::unavailable(LOCKED)),
            None => {
                let k = shoal_store::new_data_key();
                write(&self.files, &k, None).map_err(Error::internal)?;
                Ok(k)
            }
        }
    }

    /// Whether the key file on disk is sealed (a restarted manager must be unlocked).
    pub(crate) fn key_file_sealed(&self) -> bool {
        matches!(read(&self.files), Ok(Some(StoredKey::Sealed(_))))
    }

    /// Seals or unseals the key file as the swarm's autolock setting says. Runs after init and
    /// updates, and periodically for changes made through other managers.
    pub(crate) fn sync_autolock(&self) {
        let Ok(manager) = self.manager() else {
            return;
        };
        let Ok(key) = self.store_key() else {
            return;
        };
        let unlock = manager
            .autolock_key()
            .and_then(|k| shoal_store::parse_unlock_key(&k));
        let current = read(&self.files).ok().flatten();
        let up_to_date = match (&current, &unlock) {
            (Some(StoredKey::Plain(_)), None) => true,
            (Some(StoredKey::Sealed(s)), Some(kek)) => open(s, kek).is_some(),
            _ => false,
        };
        if up_to_date {
            return;
        }
        match write(&self.files, &key, unlock.as_ref()) {
            Ok(()) => info!(autolock = unlock.is_some(), "store key file updated"),
            Err(e) => warn!(error = %e, "cannot update the store key file"),
        }
        *self.data_key.lock().expect("data key") = Some(key);
    }

    /// Checks an unlock key against the sealed key file; the store key when it opens it.
    pub(crate) fn open_with(&self, unlock_key: &str) -> Result<Key, Error> {
        let invalid = || {
            Error::new(
                ErrorKind::Unauthorized,
                "swarm could not be unlocked: invalid key provided",
            )
        };
        let kek = shoal_store::parse_unlock_key(unlock_key).ok_or_else(invalid)?;
        match read(&self.files).map_err(Error::internal)? {
            Some(StoredKey::Sealed(s)) => open(&s, &kek).ok_or_else(invalid),
            _ => Err(Error::conflict("swarm is not locked")),
        }
    }
}
