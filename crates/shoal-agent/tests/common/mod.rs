//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use shoal_agent::{ProcessConfig, ProcessDriver, StatusUpdate, Worker};
use shoal_types::service::TaskSpecContainerSpec;
use shoal_types::task::TaskStatus;
use shoal_types::{Task, TaskState};
use tokio::sync::mpsc;

/// How long a test waits for a state before failing.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A process driver over `<state>/process`, using the test shim binary.
pub fn process_driver(state: &Path) -> Arc<ProcessDriver> {
    let mut cfg = ProcessConfig::new(
        state.join("process"),
        env!("CARGO_BIN_EXE_shoal-agent-test-shim"),
    );
    cfg.poll_interval = Duration::from_millis(20);
    Arc::new(ProcessDriver::new(cfg).expect("process driver"))
}

/// A worker on `state` with a process driver.
pub fn process_worker(state: &Path) -> Worker {
    Worker::new(process_driver(state), state, "node1").expect("worker")
}

/// A task of service `svc`, slot 1, running `/bin/sh -c script`.
pub fn sh_task(id: &str, script: &str) -> Task {
    let mut t = Task {
        id: id.into(),
        service_id: "svc-id".into(),
        service_name: "svc".into(),
        slot: 1,
        node_id: "node1".into(),
        desired_state: TaskState::Running,
        ..Default::default()
    };
    t.status.state = TaskState::Assigned;
    t.spec.container_spec = Some(TaskSpecContainerSpec {
        image: Some("busybox".into()),
        command: Some(vec!["/bin/sh".into(), "-c".into()]),
        args: Some(vec![script.into()]),
        ..Default::default()
    });
    t
}

/// Sets the stop grace period of a task.
pub fn with_grace(mut t: Task, grace: Duration) -> Task {
    if let Some(c) = t.spec.container_spec.as_mut() {
        c.stop_grace_period = Some(grace.as_nanos() as i64);
    }
    t
}

/// A worker's status updates, remembering those not asked for yet, so waiting for one task
/// never loses another's.
pub struct Statuses {
    rx: mpsc::Receiver<StatusUpdate>,
    unseen: Vec<StatusUpdate>,
}

impl Statuses {
    pub fn new(rx: mpsc::Receiver<StatusUpdate>) -> Self {
        Statuses { rx, unseen: vec![] }
    }
}

/// The first update (seen earlier or arriving) for `id` that satisfies `pred`.
pub async fn until(rx: &mut Statuses, id: &str, pred: impl Fn(&TaskStatus) -> bool) -> TaskStatus {
    if let Some(i) = rx.unseen.iter().position(|(t, s)| t == id && pred(s)) {
        let found = rx.unseen.remove(i).1;
        // Older updates of the same task are passed; other tasks' stay for later waits.
        let mut pos = 0;
        rx.unseen.retain(|(t, _)| {
            pos += 1;
            t != id || pos > i
        });
        return found;
    }
    let wait = async {
        loop {
            let (tid, status) = rx.rx.recv().await.expect("status channel open");
            if tid == id && pred(&status) {
                return status;
            }
            rx.unseen.push((tid, status));
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("the expected status in time")
}

/// Waits until `id` reaches `state`.
pub async fn until_state(rx: &mut Statuses, id: &str, state: TaskState) -> TaskStatus {
    until(rx, id, |s| s.state == state).await
}

/// Polls `check` until it holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// PIDs of live processes whose command line contains `marker`.
pub fn pids_with(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&cmdline).contains(marker)
        })
        .collect()
}

/// Removes every task of the worker and waits until they are gone.
pub async fn clean_up(worker: &Worker) {
    worker.assign(vec![]).await.expect("assign nothing");
    eventually("all tasks removed", || worker.tasks().is_empty()).await;
}
