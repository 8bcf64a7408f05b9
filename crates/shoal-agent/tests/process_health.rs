//! Health checks in the process driver for real: checks run as the task, `start` returns only
//! once healthy, `wait` stops a task that turns unhealthy, and a restarted driver resumes.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use shoal_agent::driver::{Driver, DriverError, Phase, UNHEALTHY};
use shoal_types::Task;

const MS: i64 = 1_000_000;

/// A task running `script` with the health check `test`; fast intervals, the given retries
/// and start period (ms), and `env` added to its environment.
fn checked_task(
    id: &str,
    script: &str,
    test: &[&str],
    retries: i64,
    start_period_ms: i64,
    env: &[String],
) -> Task {
    let mut t = with_grace(sh_task(id, script), Duration::from_secs(5));
    let spec = t.spec.container_spec.as_mut().unwrap();
    spec.env = Some(env.to_vec());
    spec.health_check = Some(bollard::models::HealthConfig {
        test: Some(test.iter().map(|s| s.to_string()).collect()),
        interval: Some(100 * MS),
        timeout: Some(2000 * MS),
        retries: Some(retries),
        start_period: Some(start_period_ms * MS),
        start_interval: Some(100 * MS),
    });
    t
}

/// The task's `health.json`; `null` until the driver wrote it.
fn health_json(state: &Path, id: &str) -> serde_json::Value {
    let path = state.join("process").join(id).join("health.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Value::Null,
        Err(e) => panic!("reading {}: {e}", path.display()),
    }
}

fn flag(state: &Path, name: &str) -> PathBuf {
    state.join(name)
}

#[tokio::test]
async fn start_returns_only_once_the_check_passes() {
    let state = tempfile::tempdir().unwrap();
    let driver = process_driver(state.path());
    let ready = flag(state.path(), "ready");
    // The check reads READY from the task's environment and runs in its working directory.
    let task = checked_task(
        "t-h-ready",
        "touch ./here; sleep 30 # marker-h-ready",
        &["CMD-SHELL", "test -f ./here && test -f \"$READY\""],
        1000,
        0,
        &[format!("READY={}", ready.display())],
    );
    driver.prepare(&task).await.unwrap();
    let start = tokio::spawn({
        let (driver, task) = (driver.clone(), task.clone());
        async move { driver.start(&task).await }
    });
    eventually("a few failed checks", || {
        let h = health_json(state.path(), "t-h-ready");
        h["Log"].as_array().is_some_and(|l| l.len() >= 3)
    })
    .await;
    assert!(!start.is_finished(), "not started while the check fails");
    let h = health_json(state.path(), "t-h-ready");
    assert_eq!(h["Status"], "starting");
    assert_eq!(h["Log"][0]["ExitCode"], 1);

    std::fs::write(&ready, "").unwrap();
    let started = tokio::time::timeout(PATIENCE, start)
        .await
        .expect("started in time")
        .unwrap()
        .unwrap();
    assert_eq!(started.phase, Phase::Running);
    assert!(started.container.pid > 0);
    let h = health_json(state.path(), "t-h-ready");
    assert_eq!(
        (&h["Status"], &h["FailingStreak"]),
        (&"healthy".into(), &0.into())
    );
    driver.remove(&task.id).await.unwrap();
    assert!(pids_with("marker-h-ready").is_empty());
}

#[tokio::test]
async fn a_task_turning_unhealthy_is_stopped_even_after_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let sick = flag(state.path(), "sick");
    let task = checked_task(
        "t-h-sick",
        "sleep 30 # marker-h-sick",
        &["CMD", "/bin/sh", "-c", "test ! -f \"$SICK\""],
        2,
        0,
        &[format!("SICK={}", sick.display())],
    );
    let first = process_driver(state.path());
    first.prepare(&task).await.unwrap();
    let started = first.start(&task).await.unwrap();
    assert_eq!(started.phase, Phase::Running);
    assert_eq!(health_json(state.path(), "t-h-sick")["Status"], "healthy");
    drop(first);

    // A restarted agent: a new driver on the same directory adopts the task and waits.
    let second = process_driver(state.path());
    let adopted = second.adopt(&task).await.unwrap().unwrap();
    assert_eq!(adopted.phase, Phase::Running);
    let wait = tokio::spawn({
        let (driver, task) = (second.clone(), task.clone());
        async move { driver.wait(&task).await }
    });
    std::fs::write(&sick, "").unwrap();
    let exit = tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("ended in time")
        .unwrap()
        .unwrap();
    assert_eq!((exit.code, exit.cause.as_deref()), (143, Some(UNHEALTHY)));
    assert_eq!(
        exit.error().as_deref(),
        Some("task: non-zero exit (143): dockerexec: unhealthy container")
    );
    assert!(pids_with("marker-h-sick").is_empty(), "the task is gone");
    let h = health_json(state.path(), "t-h-sick");
    assert_eq!(
        (&h["Status"], &h["FailingStreak"]),
        (&"unhealthy".into(), &2.into())
    );
    assert_eq!(
        second.wait(&task).await.unwrap(),
        exit,
        "asked again, the same answer"
    );
    second.remove(&task.id).await.unwrap();
}

#[tokio::test]
async fn failures_within_the_start_period_do_not_count() {
    let state = tempfile::tempdir().unwrap();
    let driver = process_driver(state.path());
    let ready = flag(state.path(), "ready");
    // One failure would do after the start period; within it, none counts.
    let task = checked_task(
        "t-h-period",
        "sleep 30 # marker-h-period",
        &["CMD-SHELL", "test -f \"$READY\""],
        1,
        60_000,
        &[format!("READY={}", ready.display())],
    );
    driver.prepare(&task).await.unwrap();
    let start = tokio::spawn({
        let (driver, task) = (driver.clone(), task.clone());
        async move { driver.start(&task).await }
    });
    eventually("several failed checks", || {
        let h = health_json(state.path(), "t-h-period");
        h["Log"].as_array().is_some_and(|l| l.len() >= 3)
    })
    .await;
    let h = health_json(state.path(), "t-h-period");
    assert_eq!(
        (&h["Status"], &h["FailingStreak"]),
        (&"starting".into(), &0.into())
    );
    assert!(!start.is_finished());
    assert_eq!(pids_with("marker-h-period").len(), 1, "still running");

    std::fs::write(&ready, "").unwrap();
    let started = tokio::time::timeout(PATIENCE, start)
        .await
        .expect("started in time")
        .unwrap()
        .unwrap();
    assert_eq!(started.phase, Phase::Running);
    driver.remove(&task.id).await.unwrap();
}

#[tokio::test]
async fn a_check_hanging_past_its_timeout_fails() {
    let state = tempfile::tempdir().unwrap();
    let driver = process_driver(state.path());
    let mut task = checked_task(
        "t-h-hang",
        "sleep 30 # marker-h-hang",
        &["CMD", "sleep", "31.4159"],
        2,
        0,
        &[],
    );
    let check = task.spec.container_spec.as_mut().unwrap();
    check.health_check.as_mut().unwrap().timeout = Some(200 * MS);
    driver.prepare(&task).await.unwrap();
    let err = tokio::time::timeout(PATIENCE, driver.start(&task))
        .await
        .expect("start ended in time")
        .unwrap_err();
    assert!(matches!(err, DriverError::Vanished(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "task: non-zero exit (143): dockerexec: unhealthy container"
    );
    assert!(
        pids_with("marker-h-hang").is_empty(),
        "the task was stopped"
    );
    eventually("the hung checks killed", || pids_with("31.4159").is_empty()).await;
    let h = health_json(state.path(), "t-h-hang");
    assert_eq!(h["Status"], "unhealthy");
    let last = &h["Log"][1];
    assert_eq!(last["ExitCode"], -1);
    assert_eq!(last["Output"], "Health check exceeded timeout (200ms)");
    driver.remove(&task.id).await.unwrap();
}

#[tokio::test]
async fn an_unknown_check_type_rejects_the_task() {
    let state = tempfile::tempdir().unwrap();
    let driver = process_driver(state.path());
    let task = checked_task("t-h-bad", "true", &["HTTP", "/health"], 1, 0, &[]);
    let err = driver.prepare(&task).await.unwrap_err();
    assert!(matches!(err, DriverError::InvalidSpec(_)), "{err:?}");
    assert!(
        err.to_string().contains("unknown health check type"),
        "{err}"
    );
}
