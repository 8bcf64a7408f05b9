//! Observing and signalling a process task through its files and process group.

use std::str::FromStr;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use shoal_types::task::ContainerStatus;

use super::layout::{ExitRecord, Launch, PidRecord, TaskDir, is_alive};
use crate::driver::{DriverError, Observed, Phase};

/// What the task's files and `/proc` say about it; `None` when it was never prepared.
pub fn observe(dir: &TaskDir) -> Result<Option<Observed>, DriverError> {
    let io = |e| DriverError::io(format!("reading {}", dir.path().display()), e);
    let Some(launch) = dir.read_launch().map_err(io)? else {
        return Ok(None);
    };
    let exit = dir.read_exit().map_err(io)?;
    let pid = dir.read_pid().map_err(io)?;
    let (phase, error) = match (&exit, &pid) {
        (Some(exit), _) => (Phase::Exited, exit.error.clone()),
        (None, None) => (Phase::Created, None),
        (None, Some(p)) if running(p) => (Phase::Running, None),
        (None, Some(_)) => (
            Phase::Exited,
            Some("task: process vanished while its supervisor was not running".to_string()),
        ),
    };
    Ok(Some(Observed {
        task_id: launch.task_id.clone(),
        phase,
        container: ContainerStatus {
            container_id: String::new(),
            pid: pid
                .filter(|_| phase == Phase::Running)
                .map_or(0, |p| p.pid.into()),
            exit_code: exit.as_ref().map_or(0, |e: &ExitRecord| e.exit_code),
        },
        ports: launch.ports.clone(),
        error,
    }))
}

/// Whether the task still runs: the command lives, or the shim does (it may be draining the
/// command's last output and about to write the exit code).
fn running(p: &PidRecord) -> bool {
    is_alive(p.pid, p.start) || is_alive(p.shim_pid, p.shim_start)
}

/// Parses a Docker stop signal: `SIGTERM`, `TERM`, `term` or `15`.
pub fn parse_signal(s: &str) -> Result<Signal, DriverError> {
    let bad = || DriverError::InvalidSpec(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| bad())
}

/// Sends `signal` to the task's process group; a group that is already gone is fine.
pub fn signal_group(pid: u32, signal: Signal) -> Result<(), DriverError> {
    match killpg(Pid::from_raw(pid as i32), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(DriverError::io(
            format!("sending {signal} to process group {pid}"),
            e.into(),
        )),
    }
}

/// Polls until the task is no longer running or `limit` has passed; true when it stopped.
pub async fn wait_stopped(
    dir: &TaskDir,
    limit: Duration,
    poll: Duration,
) -> Result<bool, DriverError> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let phase = observe(dir)?.map(|o| o.phase);
        if phase != Some(Phase::Running) {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(poll).await;
    }
}

/// Stops a running task: its stop signal to the process group, SIGKILL after the grace
/// period, then waits (bounded) for the shim to record the exit.
pub async fn stop(dir: &TaskDir, launch: &Launch, poll: Duration) -> Result<(), DriverError> {
    let Some(record) = started_pid(dir, poll).await? else {
        return Ok(());
    };
    if dir.exit().exists() {
        return Ok(());
    }
    let signal = match launch.stop_signal.as_deref() {
        Some(s) => parse_signal(s)?,
        None => Signal::SIGTERM,
    };
    signal_group(record.pid, signal)?;
    let grace = Duration::from_nanos(launch.stop_grace_ns);
    if wait_stopped(dir, grace, poll).await? {
        return Ok(());
    }
    tracing::info!(task.id = %launch.task_id, ?grace, "task ignored its stop signal; killing it");
    signal_group(record.pid, Signal::SIGKILL)?;
    if !wait_stopped(dir, Duration::from_secs(10), poll).await? {
        tracing::warn!(task.id = %launch.task_id, "task still runs after SIGKILL");
    }
    Ok(())
}

/// The task's PID record. A shim that was launched (its log exists) but has not yet written
/// the PID or the exit (a start given up midway) is waited for, so a stop never misses a
/// process that is about to run.
async fn started_pid(dir: &TaskDir, poll: Duration) -> Result<Option<PidRecord>, DriverError> {
    let read = || {
        dir.read_pid()
            .map_err(|e| DriverError::io("reading pid.json", e))
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while dir.shim_log().exists() && !dir.exit().exists() && !dir.pid().exists() {
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(poll.min(Duration::from_millis(10))).await;
    }
    read()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_like_docker() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("usr1").unwrap(), Signal::SIGUSR1);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(
            parse_signal("NOPE").unwrap_err().to_string(),
            "Invalid signal: NOPE"
        );
    }
}
