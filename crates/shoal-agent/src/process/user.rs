//! Resolving a task's `User` (`name`, `uid`, `name:group`, `uid:gid`) against the host's
//! `/etc/passwd` and `/etc/group`, the way Docker resolves it inside an image.

use std::path::Path;

use crate::driver::DriverError;

/// A resolved user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// The home directory from passwd, if the user has an entry.
    pub home: Option<String>,
}

/// Resolves `spec` using the passwd and group files under `etc` (normally `/etc`).
pub fn resolve(spec: &str, etc: &Path) -> Result<Identity, DriverError> {
    let passwd = std::fs::read_to_string(etc.join("passwd")).unwrap_or_default();
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && (f[0] == user || (f[2] == user && user.parse::<u32>().is_ok())));
    let (uid, mut gid, home) = match (&entry, user.parse::<u32>()) {
        (Some(f), _) => (
            parse_id(f[2], spec)?,
            parse_id(f[3], spec)?,
            Some(f[5].to_string()),
        ),
        // Docker runs an unknown numeric UID with GID 0.
        (None, Ok(uid)) => (uid, 0, None),
        (None, Err(_)) => {
            return Err(DriverError::InvalidSpec(format!(
                "unable to find user {user}: no matching entries in passwd file"
            )));
        }
    };
    if let Some(group) = group {
        gid = resolve_group(group, etc)?;
    }
    Ok(Identity { uid, gid, home })
}

fn resolve_group(group: &str, etc: &Path) -> Result<u32, DriverError> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    let groups = std::fs::read_to_string(etc.join("group")).unwrap_or_default();
    groups
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == group)
        .and_then(|f| f[2].parse().ok())
        .ok_or_else(|| {
            DriverError::InvalidSpec(format!(
                "unable to find group {group}: no matching entries in group file"
            ))
        })
}

fn parse_id(field: &str, spec: &str) -> Result<u32, DriverError> {
    field
        .parse()
        .map_err(|_| DriverError::InvalidSpec(format!("unable to resolve user {spec}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etc() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        dir
    }

    #[test]
    fn names_and_numbers_resolve() {
        let etc = etc();
        let nobody = resolve("nobody", etc.path()).unwrap();
        assert_eq!((nobody.uid, nobody.gid), (65534, 65534));
        assert_eq!(nobody.home.as_deref(), Some("/nonexistent"));
        assert_eq!(
            resolve("0", etc.path()).unwrap().home.as_deref(),
            Some("/root")
        );
        let numeric = resolve("1234", etc.path()).unwrap();
        assert_eq!((numeric.uid, numeric.gid), (1234, 0));
        let pair = resolve("1234:99", etc.path()).unwrap();
        assert_eq!((pair.uid, pair.gid), (1234, 99));
        let named_group = resolve("nobody:staff", etc.path()).unwrap();
        assert_eq!((named_group.uid, named_group.gid), (65534, 50));
    }

    #[test]
    fn unknown_names_are_docker_errors() {
        let etc = etc();
        assert_eq!(
            resolve("ghost", etc.path()).unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            resolve("nobody:ghosts", etc.path())
                .unwrap_err()
                .to_string(),
            "unable to find group ghosts: no matching entries in group file"
        );
    }
}
