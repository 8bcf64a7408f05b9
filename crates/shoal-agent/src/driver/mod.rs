//! The execution driver contract: what the task runner needs from a runtime (Docker Engine,
//! supervised host processes, …), modelled on swarmkit's `exec.Controller`, but one driver
//! serves every task of the node and each call names its task.
//!
//! The trait is object-safe (methods return boxed futures) because the daemon picks the driver
//! at run time (`--driver auto|docker|process`) and the worker holds it as `Arc<dyn Driver>`.

mod error;
mod spec;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use shoal_types::Task;
use shoal_types::task::{ContainerStatus, PortStatus};

pub use error::DriverError;
pub use spec::{
    DEFAULT_STOP_GRACE, PUBLISHED_PORTS_LABEL, container_spec, published_ports, stop_grace,
    stop_signal,
};

/// The cause a driver gives a task it stopped for failing its health check: moby's own text,
/// so tools that look for it find it whichever driver ran the task.
pub const UNHEALTHY: &str = "dockerexec: unhealthy container";

/// Where a task's runtime object (container, supervised process) is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Prepared (created) but never started.
    Created,
    /// Started and not yet exited.
    Running,
    /// Started and exited; `Observed::container.exit_code` holds the code.
    Exited,
}

/// What a driver found of one task on this node.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub task_id: String,
    pub phase: Phase,
    /// Container ID (docker) or empty (process), PID while running, exit code once exited.
    pub container: ContainerStatus,
    /// Host ports the task got (process driver: its `PORT`).
    pub ports: Option<PortStatus>,
    /// Why the runtime ended the task abnormally, when it knows (e.g. the command could not
    /// be executed).
    pub error: Option<String>,
}

/// How a started task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub code: i64,
    /// Why, beyond the code, when the driver knows (e.g. `dockerexec: unhealthy container`).
    pub cause: Option<String>,
}

impl Exit {
    /// The task error swarmkit reports for this exit, or `None` for a clean exit.
    pub fn error(&self) -> Option<String> {
        match (&self.cause, self.code) {
            (None, 0) => None,
            (None, code) => Some(format!("task: non-zero exit ({code})")),
            (Some(cause), code) => Some(format!("task: non-zero exit ({code}): {cause}")),
        }
    }
}

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogSource {
    Stdout,
    Stderr,
}

impl LogSource {
    /// `stdout` / `stderr`, as Docker names them.
    pub fn as_str(self) -> &'static str {
        match self {
            LogSource::Stdout => "stdout",
            LogSource::Stderr => "stderr",
        }
    }
}

/// One line of a task's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub source: LogSource,
    /// When the line was written, RFC 3339 with nanoseconds.
    pub timestamp: String,
    /// The bytes of the line, with its trailing newline when it had one.
    pub line: Vec<u8>,
}

/// Which logs to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep streaming new lines until the task exits (or the stream is dropped).
    pub follow: bool,
    /// Only the last N lines already written (`None`: all).
    pub tail: Option<usize>,
}

/// A task's log lines, oldest first.
pub type LogStream = BoxStream<'static, Result<LogLine, DriverError>>;

/// A task runtime. Every method is idempotent, so a runner that restarts midway (or a
/// restarted agent) can simply call it again:
/// `prepare` on a prepared task and `start` on a started one succeed without doing it twice.
pub trait Driver: Send + Sync + 'static {
    /// A short name (`docker`, `process`) for logs and the node description.
    fn name(&self) -> &'static str;

    /// Creates everything the task needs so that `start` runs it at once (docker: checks the
    /// image and creates the container; process: the task directory, user, port). An error
    /// here rejects the task.
    fn prepare<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), DriverError>>;

    /// Starts the task and returns once it runs (docker: once healthy when it has a health
    /// check). Returns what is running (PID, container ID, ports).
    fn start<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<Observed, DriverError>>;

    /// Waits until the started task exits and says how. Works on adopted tasks too.
    fn wait<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<Exit, DriverError>>;

    /// Stops the task: its stop signal (default SIGTERM), then SIGKILL once the stop grace
    /// period (default 10 s) has passed. Succeeds when the task is not running.
    fn shutdown<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), DriverError>>;

    /// Stops (as `shutdown`) and deletes everything the task left (container, directory, logs).
    /// Succeeds when nothing is left.
    fn remove<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, Result<(), DriverError>>;

    /// Finds what this node has of a task (possibly left by an earlier agent process) and
    /// takes it over, so `wait`, `shutdown` and `logs` work on it. `None`: nothing exists.
    /// Also the way to read a task's current runtime status.
    fn adopt<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<Option<Observed>, DriverError>>;

    /// Every task this driver has on the node, to find leftovers nobody assigns any more.
    fn list(&self) -> BoxFuture<'_, Result<Vec<Observed>, DriverError>>;

    /// The task's output lines.
    fn logs<'a>(
        &'a self,
        task: &'a Task,
        options: LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, DriverError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_errors_read_like_swarmkit() {
        assert_eq!(
            Exit {
                code: 0,
                cause: None
            }
            .error(),
            None
        );
        assert_eq!(
            Exit {
                code: 3,
                cause: None
            }
            .error()
            .as_deref(),
            Some("task: non-zero exit (3)")
        );
        let unhealthy = Exit {
            code: 137,
            cause: Some(UNHEALTHY.into()),
        };
        assert_eq!(
            unhealthy.error().as_deref(),
            Some("task: non-zero exit (137): dockerexec: unhealthy container")
        );
    }

    #[test]
    fn driver_is_object_safe() {
        fn takes(_: Option<std::sync::Arc<dyn Driver>>) {}
        takes(None);
    }
}
