//! The node's own files under `<data-dir>/swarm`: `state.json` (who this node is in which
//! swarm), its certificates, and the Raft store directory. `state.json` is written last and
//! atomically, so a crash during `swarm init` leaves a node that is simply not in a swarm.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shoal_manager::TlsMaterial;

/// The version of `state.json` this build writes.
const STATE_FORMAT: u32 = 1;

/// The role this node joined with (a promotion or demotion changes it later).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalRole {
    #[default]
    Manager,
    Worker,
}

/// Who this node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmState {
    pub format: u32,
    pub node_id: String,
    pub cluster_id: String,
    /// This manager's Raft member ID (0 on a worker).
    pub raft_id: u64,
    pub listen_addr: String,
    pub advertise_addr: String,
    #[serde(default)]
    pub role: LocalRole,
    /// The managers' cluster addresses as last heard (kept current in `managers.json`).
    #[serde(default)]
    pub managers: Vec<String>,
}

impl SwarmState {
    pub fn new(
        node_id: String,
        cluster_id: String,
        raft_id: u64,
        listen_addr: String,
        advertise_addr: String,
    ) -> Self {
        Self {
            format: STATE_FORMAT,
            node_id,
            cluster_id,
            raft_id,
            listen_addr,
            advertise_addr,
            role: LocalRole::Manager,
            managers: Vec::new(),
        }
    }
}

/// Paths of the node's files.
#[derive(Debug, Clone)]
pub struct NodeFiles {
    root: PathBuf,
}

impl NodeFiles {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("swarm"),
        }
    }
    pub fn raft_dir(&self) -> PathBuf {
        self.root.join("raft")
    }
    fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }
    fn cert_dir(&self) -> PathBuf {
        self.root.join("certificates")
    }
    fn managers_path(&self) -> PathBuf {
        self.root.join("managers.json")
    }

    /// Where this manager's store data key is kept (see `autolock`).
    pub fn data_key_path(&self) -> PathBuf {
        self.root.join("raft-data.key")
    }

    /// The swarm directory (created on demand by writers).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Records the managers' addresses the agent last heard of.
    pub fn save_managers(&self, managers: &[String]) -> Result<(), String> {
        let json = serde_json::to_vec(managers).expect("addresses serialise");
        write_atomic(&self.managers_path(), &json, 0o644)
    }

    /// The saved identity, if this node is in a swarm.
    pub fn load(&self) -> Result<Option<(SwarmState, TlsMaterial)>, String> {
        let path = self.state_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let mut state: SwarmState = serde_json::from_str(&text)
            .map_err(|e| format!("{} is corrupt: {e}", path.display()))?;
        if let Some(managers) = std::fs::read(self.managers_path())
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).ok())
            .filter(|m| !m.is_empty())
        {
            state.managers = managers;
        }
        if state.format > STATE_FORMAT {
            return Err(format!(
                "{} was written by a newer shoal (format {}); this shoal reads format {STATE_FORMAT}",
                path.display(),
                state.format
            ));
        }
        let read = |name: &str| {
            let p = self.cert_dir().join(name);
            std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        let tls = TlsMaterial {
            root_pem: read("swarm-root-ca.crt")?,
            cert_pem: read("swarm-node.crt")?,
            key_pem: read("swarm-node.key")?,
        };
        Ok(Some((state, tls)))
    }

    /// Writes the certificates, then `state.json` (the commit point).
    pub fn save(&self, state: &SwarmState, tls: &TlsMaterial) -> Result<(), String> {
        let certs = self.cert_dir();
        std::fs::create_dir_all(&certs)
            .map_err(|e| format!("cannot create {}: {e}", certs.display()))?;
        write_atomic(
            &certs.join("swarm-root-ca.crt"),
            tls.root_pem.as_bytes(),
            0o644,
        )?;
        write_atomic(
            &certs.join("swarm-node.crt"),
            tls.cert_pem.as_bytes(),
            0o644,
        )?;
        write_atomic(&certs.join("swarm-node.key"), tls.key_pem.as_bytes(), 0o600)?;
        let json = serde_json::to_vec_pretty(state).expect("state serialises");
        write_atomic(&self.state_path(), &json, 0o600)
    }

    /// Forgets the swarm: state first (so a crash midway leaves an inactive node), then the rest.
    pub fn remove_all(&self) -> Result<(), String> {
        match std::fs::remove_file(self.state_path()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "cannot remove {}: {e}",
                    self.state_path().display()
                ));
            }
        }
        match std::fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot remove {}: {e}", self.root.display())),
        }
    }
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let err = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls() -> TlsMaterial {
        TlsMaterial {
            root_pem: "root".into(),
            cert_pem: "cert".into(),
            key_pem: "key".into(),
        }
    }

    #[test]
    fn save_load_remove() {
        let dir = tempfile::tempdir().unwrap();
        let files = NodeFiles::new(dir.path());
        assert!(files.load().unwrap().is_none());
        let state = SwarmState::new(
            "n".into(),
            "c".into(),
            7,
            "0.0.0.0:2377".into(),
            "10.0.0.1:2377".into(),
        );
        files.save(&state, &tls()).unwrap();
        let (back, t) = files.load().unwrap().unwrap();
        assert_eq!(back, state);
        assert_eq!(t.key_pem, "key");
        files.remove_all().unwrap();
        assert!(files.load().unwrap().is_none());
    }

    #[test]
    fn newer_or_corrupt_state_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = NodeFiles::new(dir.path());
        let mut state = SwarmState::new("n".into(), "c".into(), 7, "a".into(), "b".into());
        state.format = 99;
        files.save(&state, &tls()).unwrap();
        assert!(files.load().unwrap_err().contains("newer shoal"));
        std::fs::write(dir.path().join("swarm/state.json"), "{oops").unwrap();
        assert!(files.load().unwrap_err().contains("corrupt"));
    }
}
