//! Running one health check command as the task runs (its user, environment and working
//! directory, from `launch.json`), bounded by the check's timeout, and capturing its output
//! the way Docker does.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use super::{CheckResult, HealthCheck};
use crate::process::control::signal_group;
use crate::process::launch;
use crate::process::layout::Launch;

/// How much output a result keeps (moby's `maxOutputLen`).
const MAX_OUTPUT: usize = 4096;

/// The exit code of a check that timed out or could not be run, as Docker records it.
const PROBE_ERROR: i64 = -1;

/// Runs the check once. Never fails: a check that cannot run, or runs past its timeout,
/// is a failed check with the reason as its output.
pub async fn run(launch: &Launch, check: &HealthCheck) -> CheckResult {
    let start = SystemTime::now();
    let Some(program) = check.argv.first() else {
        // Only a hand-edited launch.json gets here: `from_spec` never yields an empty argv.
        return CheckResult {
            start,
            end: start,
            exit_code: PROBE_ERROR,
            output: "the health check has no command".into(),
        };
    };
    let (exit_code, output) = match execute(launch, &check.argv, check.timeout).await {
        Ok(Some(done)) => done,
        Ok(None) => (
            PROBE_ERROR,
            format!(
                "Health check exceeded timeout ({})",
                humantime::format_duration(check.timeout)
            ),
        ),
        Err(e) => (PROBE_ERROR, format!("exec: \"{program}\": {e}")),
    };
    CheckResult {
        start,
        end: SystemTime::now(),
        exit_code,
        output,
    }
}

/// Runs `argv` with stdout and stderr into one pipe (so the output interleaves as written)
/// until it exits and its output is read: its exit code and output, or `None` on timeout.
async fn execute(
    launch: &Launch,
    argv: &[String],
    timeout: Duration,
) -> std::io::Result<Option<(i64, String)>> {
    let (tx, rx) = pipe::pipe()?;
    let out = tx.into_blocking_fd()?;
    let err = out.try_clone()?;
    let mut cmd = tokio::process::Command::from(launch::command(launch, argv));
    // Killed if the caller gives up (the task ended, the runner was cancelled).
    cmd.stdout(out).stderr(err).kill_on_drop(true);
    let mut child = cmd.spawn()?;
    // The command holds the pipe's write ends: reading would never see the end while it lives.
    drop(cmd);
    let mut group = GroupKiller(child.id());
    let finished = async {
        let (output, status) = tokio::join!(read_limited(rx), child.wait());
        let status = status?;
        // Docker's convention: a signal N reads as exit code 128 + N.
        let code = status.code().or(status.signal().map(|s| 128 + s));
        Ok((code.map_or(PROBE_ERROR, i64::from), output))
    };
    match tokio::time::timeout(timeout, finished).await {
        Ok(done) => {
            // Whatever the check left running is its business, as in Docker.
            group.0 = None;
            done.map(Some)
        }
        Err(_elapsed) => Ok(None),
    }
}

/// Kills the check's whole process group when dropped while armed: on a timeout, or when the
/// check is abandoned, so a shell's children do not outlive it.
struct GroupKiller(Option<u32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = signal_group(pgid, Signal::SIGKILL);
        }
    }
}

/// Reads the pipe to its end, keeping the first [`MAX_OUTPUT`] bytes; reading on keeps a
/// chatty check from blocking on a full pipe.
async fn read_limited(mut rx: pipe::Receiver) -> String {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = [0u8; 4096];
    loop {
        match rx.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => truncated |= keep(&mut kept, &buf[..n]),
        }
    }
    output_text(&kept, truncated)
}

/// Appends what still fits under [`MAX_OUTPUT`]; true when something was dropped.
fn keep(kept: &mut Vec<u8>, data: &[u8]) -> bool {
    let room = MAX_OUTPUT.saturating_sub(kept.len());
    let take = room.min(data.len());
    kept.extend_from_slice(&data[..take]);
    take < data.len()
}

/// The output as text; `...` marks a cut, as moby's `limitedBuffer` does.
fn output_text(kept: &[u8], truncated: bool) -> String {
    let mut text = String::from_utf8_lossy(kept).into_owned();
    if truncated {
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        Launch {
            argv: vec!["unused".into()],
            env: vec!["PATH=/usr/bin:/bin".into(), "GREETING=hello".into()],
            dir: std::env::temp_dir(),
            ..Default::default()
        }
    }

    fn check(argv: &[&str], timeout: Duration) -> HealthCheck {
        HealthCheck {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            interval: timeout,
            timeout,
            retries: 1,
            start_period: Duration::ZERO,
            start_interval: timeout,
        }
    }

    #[test]
    fn output_is_cut_at_4_kib() {
        let mut kept = vec![];
        assert!(!keep(&mut kept, &[b'a'; 4000]));
        assert!(keep(&mut kept, &[b'b'; 200]));
        assert!(keep(&mut kept, b"c"));
        assert_eq!(kept.len(), MAX_OUTPUT);
        let text = output_text(&kept, true);
        assert!(text.ends_with("bbb..."));
    }

    #[tokio::test]
    async fn a_check_sees_the_task_environment_and_reports_its_code() {
        let c = check(
            &["/bin/sh", "-c", "echo $GREETING; echo oops >&2; exit 3"],
            Duration::from_secs(20),
        );
        let r = run(&launch(), &c).await;
        assert_eq!((r.exit_code, r.output.as_str()), (3, "hello\noops\n"));
        assert!(r.end >= r.start);
    }

    #[tokio::test]
    async fn a_check_that_cannot_run_fails() {
        let c = check(&["/nonexistent/check"], Duration::from_secs(20));
        let r = run(&launch(), &c).await;
        assert_eq!(r.exit_code, PROBE_ERROR);
        assert!(
            r.output.starts_with("exec: \"/nonexistent/check\""),
            "{}",
            r.output
        );
    }
}
