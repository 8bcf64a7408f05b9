//! CPU and memory limits for process tasks through cgroup v2, when the host has it. On a
//! cgroup v1 (or hybrid) host limits are skipped with a log line; the task still runs.
//!
//! Each limited task gets `/sys/fs/cgroup/shoal/<task id>`; the shim moves itself there before
//! it starts the command, so the command and all its children inherit the limits.

use std::path::{Path, PathBuf};

/// Where the unified hierarchy is mounted on a cgroup v2 host.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The period `cpu.max` uses, in microseconds (the kernel's default).
const CPU_PERIOD_US: i64 = 100_000;

/// The cgroup v2 root, or `None` when the host does not run the unified hierarchy.
pub fn v2_root(root: &Path) -> Option<PathBuf> {
    root.join("cgroup.controllers")
        .is_file()
        .then(|| root.to_path_buf())
}

/// `cpu.max` for a limit in nano-CPUs: quota and period in microseconds.
pub fn cpu_max(nano_cpus: i64) -> String {
    let quota = (nano_cpus.saturating_mul(CPU_PERIOD_US) / 1_000_000_000).max(1000);
    format!("{quota} {CPU_PERIOD_US}")
}

/// The task's cgroup directory under `root`.
pub fn task_cgroup(root: &Path, task_id: &str) -> PathBuf {
    root.join("shoal").join(task_id)
}

/// Creates the task's cgroup with the limits and moves process `pid` into it.
pub fn join(
    root: &Path,
    task_id: &str,
    memory_bytes: Option<i64>,
    nano_cpus: Option<i64>,
    pid: u32,
) -> std::io::Result<PathBuf> {
    let parent = root.join("shoal");
    std::fs::create_dir_all(&parent)?;
    // Controllers must be enabled on every level above the cgroup that uses them.
    enable_controllers(root)?;
    enable_controllers(&parent)?;
    let dir = task_cgroup(root, task_id);
    std::fs::create_dir_all(&dir)?;
    if let Some(bytes) = memory_bytes.filter(|b| *b > 0) {
        std::fs::write(dir.join("memory.max"), bytes.to_string())?;
    }
    if let Some(n) = nano_cpus.filter(|n| *n > 0) {
        std::fs::write(dir.join("cpu.max"), cpu_max(n))?;
    }
    std::fs::write(dir.join("cgroup.procs"), pid.to_string())?;
    Ok(dir)
}

/// Removes the task's cgroup (it must be empty: the task has ended). Missing is fine.
pub fn remove(root: &Path, task_id: &str) {
    let _ = std::fs::remove_dir(task_cgroup(root, task_id));
}

fn enable_controllers(dir: &Path) -> std::io::Result<()> {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers"))?;
    let wanted: Vec<String> = ["cpu", "memory"]
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    std::fs::write(dir.join("cgroup.subtree_control"), wanted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_scales_nano_cpus() {
        assert_eq!(cpu_max(1_500_000_000), "150000 100000");
        assert_eq!(cpu_max(500_000_000), "50000 100000");
        // The kernel refuses quotas under 1 ms.
        assert_eq!(cpu_max(1), "1000 100000");
    }

    #[test]
    fn a_directory_without_controllers_is_not_v2() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(v2_root(dir.path()), None);
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory").unwrap();
        assert_eq!(v2_root(dir.path()), Some(dir.path().to_path_buf()));
    }

    #[test]
    fn join_writes_limits_into_a_fake_hierarchy() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("cgroup.controllers"), "cpu io memory").unwrap();
        std::fs::create_dir_all(root.join("shoal")).unwrap();
        std::fs::write(root.join("shoal/cgroup.controllers"), "cpu memory").unwrap();
        let cg = join(root, "t1", Some(64 << 20), Some(250_000_000), 42).unwrap();
        assert_eq!(
            std::fs::read_to_string(cg.join("memory.max")).unwrap(),
            "67108864"
        );
        assert_eq!(
            std::fs::read_to_string(cg.join("cpu.max")).unwrap(),
            "25000 100000"
        );
        assert_eq!(
            std::fs::read_to_string(cg.join("cgroup.procs")).unwrap(),
            "42"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory"
        );
    }
}
