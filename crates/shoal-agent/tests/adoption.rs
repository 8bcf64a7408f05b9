//! A restarted agent (a new worker and driver on the same state directory) adopts the tasks
//! the old one left running, and learns how tasks ended while it was down.

mod common;

use std::time::Duration;

use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shoal_types::TaskState;

#[tokio::test]
async fn a_restarted_worker_adopts_running_tasks() {
    let state = tempfile::tempdir().unwrap();
    let task = sh_task("t-adopt", "echo hi; sleep 30 # marker-adopt");
    let first = process_worker(state.path());
    let mut rx = Statuses::new(first.statuses());
    first.assign(vec![task.clone()]).await.unwrap();
    let running = until_state(&mut rx, "t-adopt", TaskState::Running).await;
    let pid = running.container_status.as_ref().unwrap().pid as u32;
    drop(rx);
    drop(first);
    assert_eq!(
        pids_with("marker-adopt"),
        [pid],
        "the task outlives its worker"
    );

    let second = process_worker(state.path());
    let mut rx = Statuses::new(second.statuses());
    // A fresh report (newer than the one before the restart) from the adopting runner.
    let adopted = until(&mut rx, "t-adopt", |s| s.timestamp > running.timestamp).await;
    assert_eq!(adopted.state, TaskState::Running);
    assert_eq!(adopted.container_status.as_ref().unwrap().pid as u32, pid);
    second.assign(vec![task.clone()]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pids_with("marker-adopt"), [pid], "no second process");

    let mut stop = task;
    stop.desired_state = TaskState::Shutdown;
    second.assign(vec![stop]).await.unwrap();
    let down = until_state(&mut rx, "t-adopt", TaskState::Shutdown).await;
    assert_eq!(down.container_status.unwrap().exit_code, 143);
    assert!(pids_with("marker-adopt").is_empty());
    clean_up(&second).await;
}

#[tokio::test]
async fn an_exit_while_down_is_reported_with_its_code() {
    let state = tempfile::tempdir().unwrap();
    let first = process_worker(state.path());
    let mut rx = Statuses::new(first.statuses());
    first
        .assign(vec![sh_task("t-died", "sleep 30 # marker-died")])
        .await
        .unwrap();
    let running = until_state(&mut rx, "t-died", TaskState::Running).await;
    drop(rx);
    drop(first);
    let pid = running.container_status.unwrap().pid as i32;
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    eventually("the process to die", || pids_with("marker-died").is_empty()).await;

    let second = process_worker(state.path());
    let mut rx = Statuses::new(second.statuses());
    let failed = until(&mut rx, "t-died", |s| s.state > TaskState::Running).await;
    assert_eq!(failed.state, TaskState::Failed);
    assert_eq!(failed.err, "task: non-zero exit (137)");
    assert_eq!(failed.container_status.unwrap().exit_code, 137);
    clean_up(&second).await;
}

#[tokio::test]
async fn leftovers_of_a_previous_run_are_removed_when_not_assigned() {
    let state = tempfile::tempdir().unwrap();
    let first = process_worker(state.path());
    let mut rx = Statuses::new(first.statuses());
    first
        .assign(vec![sh_task("t-old", "sleep 30 # marker-old")])
        .await
        .unwrap();
    until_state(&mut rx, "t-old", TaskState::Running).await;
    drop(rx);
    drop(first);

    let second = process_worker(state.path());
    assert_eq!(second.tasks().len(), 1, "the task DB remembers the task");
    // The manager's complete set no longer has it.
    second.assign(vec![]).await.unwrap();
    eventually("the old task stopped", || {
        pids_with("marker-old").is_empty()
    })
    .await;
    eventually("its record removed", || second.tasks().is_empty()).await;
}
