//! A task's secrets and configs on the node: written to a tmpfs mounted for the task alone, so
//! they never touch the node's disk, with the owner and mode the reference asks for, at the
//! paths a container sees under the tmpfs root (`/run/secrets/db` is `<root>/run/secrets/db`).
//! The process driver points the task at the root (`$SHOAL_FILES`); the docker driver
//! bind-mounts each file read-only into the container.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use nix::mount::{MntFlags, MsFlags};
use shoal_types::task::TaskFile;

use crate::driver::DriverError;

/// The task's file root (a tmpfs) inside a directory of its own.
pub fn root(task_dir: &Path) -> PathBuf {
    task_dir.join("files")
}

/// Where `file` lives under `root`.
pub fn host_path(root: &Path, file: &TaskFile) -> PathBuf {
    root.join(file.path.trim_start_matches('/'))
}

/// Mounts the tmpfs at `root` and writes every file.
pub fn install(root: &Path, files: &[TaskFile]) -> Result<(), DriverError> {
    let io = |what: &str, e: std::io::Error| DriverError::io(what.to_string(), e);
    std::fs::create_dir_all(root).map_err(|e| io("creating the task's file root", e))?;
    if !is_mounted(root) {
        nix::mount::mount(
            Some("tmpfs"),
            root,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=0755,size=16m"),
        )
        .map_err(|e| {
            DriverError::Start(format!(
                "cannot mount a tmpfs for the task's secrets and configs ({e}); they are kept \
                 off disk, which needs root"
            ))
        })?;
    }
    for f in files {
        let path = host_path(root, f);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("creating a file's directory", e))?;
        }
        let data = base64::engine::general_purpose::STANDARD
            .decode(&f.data)
            .map_err(|e| {
                DriverError::InvalidSpec(format!("{} {}: bad data: {e}", kind(f), f.name))
            })?;
        std::fs::write(&path, data).map_err(|e| io("writing a secret or config", e))?;
        let id = |s: &str, what: &str| {
            s.parse::<u32>().map_err(|_| {
                DriverError::InvalidSpec(format!("{} {}: invalid {what} {s:?}", kind(f), f.name))
            })
        };
        std::os::unix::fs::chown(&path, Some(id(&f.uid, "uid")?), Some(id(&f.gid, "gid")?))
            .map_err(|e| io("chown of a secret or config", e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode & 0o7777))
            .map_err(|e| io("chmod of a secret or config", e))?;
    }
    Ok(())
}

fn kind(f: &TaskFile) -> &'static str {
    match f.kind {
        shoal_types::task::FileKind::Secret => "secret",
        shoal_types::task::FileKind::Config => "config",
    }
}

/// Unmounts the task's tmpfs (its contents vanish with it), if mounted.
pub fn remove(root: &Path) {
    if is_mounted(root) {
        let _ = nix::mount::umount2(root, MntFlags::MNT_DETACH);
    }
}

/// Whether `path` is a mount point (listed in /proc/self/mounts).
fn is_mounted(path: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return false;
    };
    let target = path.to_string_lossy();
    mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .any(|m| m.replace("\\040", " ") == target)
}
