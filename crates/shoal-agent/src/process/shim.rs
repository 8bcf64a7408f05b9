//! The task shim: a small supervisor per process task, detached from the daemon (its own
//! session), so a task keeps running and logging while the daemon is down or restarting.
//!
//! It reads `launch.json`, joins the task's cgroup when limits apply, runs the command in its
//! own process group with stdout and stderr piped into `output.log` (one timestamped record
//! per line), records the command's PID in `pid.json` and, when it ends, its exit code in
//! `exit.json`. The daemon never holds the task's pipes.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime};

use super::layout::{ExitRecord, Launch, PidRecord, TaskDir, process_start, write_json};
use super::logs::{MAX_LINE, format_record};
use super::{cgroup, launch};
use crate::driver::LogSource;

/// How long the shim waits, in all, for output still buffered in the pipes after the command
/// exited. Bounded, because a process that left the task's process group may keep the pipes
/// open for ever.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Entry point of `shoal task-shim <task dir>`; returns the process exit code.
pub fn shim_main(args: Vec<String>) -> i32 {
    let Some(dir) = args.first() else {
        eprintln!("usage: task-shim <task directory>");
        return 2;
    };
    match run(&TaskDir::at(PathBuf::from(dir))) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("task-shim: {e}");
            1
        }
    }
}

fn run(dir: &TaskDir) -> std::io::Result<()> {
    // A session of its own: signals to the daemon's process group or terminal (Ctrl-C, SIGHUP
    // when a shell exits) no longer reach the shim or the task.
    if let Err(e) = nix::unistd::setsid() {
        eprintln!("task-shim: setsid: {e}");
    }
    let launch = dir
        .read_launch()?
        .ok_or_else(|| std::io::Error::other("launch.json is missing"))?;
    apply_limits(&launch);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.log())?;
    let log = Arc::new(Mutex::new(log));
    let mut child = match command(&launch).spawn() {
        Ok(child) => child,
        Err(e) => return record_exec_failure(dir, &launch, &e),
    };
    let me = std::process::id();
    let record = PidRecord {
        shim_pid: me,
        shim_start: process_start(me).unwrap_or_default(),
        pid: child.id(),
        start: process_start(child.id()).unwrap_or_default(),
    };
    write_json(&dir.pid(), &record)?;
    let (done_tx, done_rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        copy_lines(out, LogSource::Stdout, log.clone(), done_tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        copy_lines(err, LogSource::Stderr, log, done_tx);
    }
    let status = child.wait()?;
    // As in a container, the task ends with its main process: whatever it left running in
    // its process group goes too (and so releases the output pipes).
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(record.pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let deadline = std::time::Instant::now() + DRAIN_TIMEOUT;
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let _ = done_rx.recv_timeout(left);
    }
    // Docker's convention: a signal N reads as exit code 128 + N.
    let code = status
        .code()
        .or(status.signal().map(|s| 128 + s))
        .unwrap_or(255);
    let exit = ExitRecord {
        exit_code: code.into(),
        error: None,
        finished_at: now(),
    };
    write_json(&dir.exit(), &exit)
}

fn command(launch: &Launch) -> Command {
    // Its own process group (see `launch::command`), so a stop signal reaches the command and
    // its children but not the shim, which must outlive them to record the exit code.
    let mut cmd = launch::command(launch, &launch.argv);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn apply_limits(launch: &Launch) {
    if launch.memory_bytes.is_none() && launch.nano_cpus.is_none() {
        return;
    }
    let Some(root) = cgroup::v2_root(Path::new(cgroup::CGROUP_ROOT)) else {
        eprintln!("task-shim: cgroup v2 is not available; CPU and memory limits are not enforced");
        return;
    };
    let joined = cgroup::join(
        &root,
        &launch.task_id,
        launch.memory_bytes,
        launch.nano_cpus,
        std::process::id(),
    );
    if let Err(e) = joined {
        eprintln!("task-shim: cgroup limits not applied: {e}");
    }
}

/// The command could not be executed: record it as an exit with the shell's codes (127 not
/// found, 126 not executable) and the reason, which the driver reports as a start failure.
fn record_exec_failure(dir: &TaskDir, launch: &Launch, e: &std::io::Error) -> std::io::Result<()> {
    let code = if e.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    let exit = ExitRecord {
        exit_code: code,
        error: Some(format!("exec: \"{}\": {e}", launch.argv[0])),
        finished_at: now(),
    };
    write_json(&dir.exit(), &exit)
}

fn copy_lines(
    pipe: impl Read + Send + 'static,
    source: LogSource,
    log: Arc<Mutex<std::fs::File>>,
    done: mpsc::Sender<()>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut chunk = Vec::with_capacity(1024);
        loop {
            chunk.clear();
            match (&mut reader)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut chunk)
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let record = format_record(&now(), source, &chunk);
                    let mut file = log.lock().unwrap_or_else(|p| p.into_inner());
                    if let Err(e) = file.write_all(&record) {
                        eprintln!("task-shim: writing the log: {e}");
                    }
                }
            }
        }
        let _ = done.send(());
    });
}

fn now() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}
