//! A process task's directory and the small files through which the driver and the task's
//! shim talk: the driver writes `launch.json`; the shim writes `pid.json` once the command
//! runs and `exit.json` once it ended; both survive a restart of the daemon. The driver also
//! keeps the task's health (`health.json`) there, for inspection and for a restarted daemon.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use shoal_types::task::PortStatus;

use super::health::HealthCheck;

/// What the shim runs, written at prepare time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Launch {
    pub task_id: String,
    pub service_id: String,
    pub node_id: String,
    /// `Task::container_name()`, for logs and listings.
    pub name: String,
    /// The image named by the spec; only a label for processes.
    pub image: String,
    pub argv: Vec<String>,
    /// The complete environment (`KEY=value`); nothing is inherited from the daemon.
    pub env: Vec<String>,
    pub dir: PathBuf,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The node-local port given in `PORT`, when the task publishes one.
    pub port: Option<u16>,
    pub ports: Option<PortStatus>,
    pub stop_signal: Option<String>,
    pub stop_grace_ns: u64,
    pub memory_bytes: Option<i64>,
    pub nano_cpus: Option<i64>,
    /// The task's health check with Docker's defaults applied; `None`: it has none. Defaulted
    /// so a `launch.json` written before health checks existed still reads.
    #[serde(default)]
    pub health: Option<HealthCheck>,
}

/// Written by the shim once the command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidRecord {
    pub shim_pid: u32,
    /// The shim's start time (clock ticks since boot), so a recycled PID is not mistaken for it.
    pub shim_start: u64,
    /// The command's PID; it leads its own process group.
    pub pid: u32,
    pub start: u64,
}

/// Written by the shim once the command ended (or could not be executed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The exit status, or 128 + signal number when a signal ended it (as Docker reports).
    pub exit_code: i64,
    /// Set when the command never ran.
    pub error: Option<String>,
    pub finished_at: String,
}

/// The files of one task.
#[derive(Debug, Clone)]
pub struct TaskDir {
    root: PathBuf,
}

impl TaskDir {
    /// The task directory `<root>/<task id>`.
    pub fn new(root: &Path, task_id: &str) -> Self {
        TaskDir {
            root: root.join(task_id),
        }
    }

    /// Opens an existing task directory.
    pub fn at(path: PathBuf) -> Self {
        TaskDir { root: path }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn launch(&self) -> PathBuf {
        self.root.join("launch.json")
    }

    pub fn pid(&self) -> PathBuf {
        self.root.join("pid.json")
    }

    pub fn exit(&self) -> PathBuf {
        self.root.join("exit.json")
    }

    /// The task's stdout and stderr, one timestamped line each.
    pub fn log(&self) -> PathBuf {
        self.root.join("output.log")
    }

    /// The task's health (`health::Health`), when it has a health check.
    pub fn health(&self) -> PathBuf {
        self.root.join("health.json")
    }

    /// The shim's own diagnostics.
    pub fn shim_log(&self) -> PathBuf {
        self.root.join("shim.log")
    }

    /// The default working directory of the task.
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    pub fn read_launch(&self) -> std::io::Result<Option<Launch>> {
        read_json(&self.launch())
    }

    pub fn read_pid(&self) -> std::io::Result<Option<PidRecord>> {
        read_json(&self.pid())
    }

    pub fn read_exit(&self) -> std::io::Result<Option<ExitRecord>> {
        read_json(&self.exit())
    }
}

/// Reads a JSON file; `None` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> std::io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes a JSON file atomically (temp file, fsync, rename), so a reader never sees half of
/// it even if the writer dies midway.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The start time of a live process (clock ticks since boot, field 22 of `/proc/PID/stat`),
/// or `None` when there is no such process or it is a zombie (it has exited).
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and ')' so parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3, so field 22 is the 20th from here.
    fields.nth(18)?.parse().ok()
}

/// Whether the process `pid` that started at `start` is still alive (not recycled).
pub fn is_alive(pid: u32, start: u64) -> bool {
    process_start(pid) == Some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_json_round_trips() {
        let me = std::process::id();
        let start = process_start(me).expect("own start time");
        assert!(is_alive(me, start));
        assert!(!is_alive(me, start + 1));

        let dir = tempfile::tempdir().unwrap();
        let td = TaskDir::new(dir.path(), "t1");
        std::fs::create_dir_all(td.path()).unwrap();
        assert_eq!(td.read_exit().unwrap(), None);
        let rec = ExitRecord {
            exit_code: 3,
            error: None,
            finished_at: "x".into(),
        };
        write_json(&td.exit(), &rec).unwrap();
        assert_eq!(td.read_exit().unwrap(), Some(rec));
    }
}
