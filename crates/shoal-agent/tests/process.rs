//! The process driver for real: tasks run under the test shim as host processes, through
//! the worker (runner, task DB) and the driver directly.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use shoal_agent::Worker;
use shoal_agent::driver::{Driver, LogOptions, PUBLISHED_PORTS_LABEL, Phase};
use shoal_types::TaskState;

async fn log_text(worker: &Worker, id: &str) -> String {
    let lines: Vec<_> = worker
        .logs(id, LogOptions::default())
        .await
        .unwrap()
        .collect()
        .await;
    lines
        .into_iter()
        .map(|l| String::from_utf8(l.unwrap().line).unwrap())
        .collect()
}

#[tokio::test]
async fn runs_logs_and_stops_within_grace() {
    let state = tempfile::tempdir().unwrap();
    let worker = process_worker(state.path());
    let mut rx = Statuses::new(worker.statuses());
    let task = with_grace(
        sh_task("t-hi", "echo hi; sleep 30 # marker-hi"),
        Duration::from_secs(8),
    );
    worker.assign(vec![task.clone()]).await.unwrap();
    let running = until_state(&mut rx, "t-hi", TaskState::Running).await;
    assert_eq!(running.message, "started");
    let pid = running.container_status.unwrap().pid;
    assert!(pid > 0);
    let mut text = String::new();
    for _ in 0..100 {
        text = log_text(&worker, "t-hi").await;
        if !text.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(text, "hi\n");

    let t0 = Instant::now();
    let mut stop = task.clone();
    stop.desired_state = TaskState::Shutdown;
    worker.assign(vec![stop]).await.unwrap();
    let down = until_state(&mut rx, "t-hi", TaskState::Shutdown).await;
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "stopped by SIGTERM, not after the grace"
    );
    assert_eq!(down.message, "shutdown");
    assert_eq!(
        down.container_status.unwrap().exit_code,
        143,
        "128 + SIGTERM"
    );
    assert!(
        pids_with("marker-hi").is_empty(),
        "the task's processes are gone"
    );
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    clean_up(&worker).await;
}

#[tokio::test]
async fn a_failing_command_fails_with_its_code() {
    let state = tempfile::tempdir().unwrap();
    let worker = process_worker(state.path());
    let mut rx = Statuses::new(worker.statuses());
    worker
        .assign(vec![sh_task("t-3", "echo oops >&2; exit 3")])
        .await
        .unwrap();
    let failed = until(&mut rx, "t-3", |s| s.state > TaskState::Running).await;
    assert_eq!(failed.state, TaskState::Failed);
    assert_eq!(failed.err, "task: non-zero exit (3)");
    assert_eq!(failed.container_status.unwrap().exit_code, 3);
    let lines: Vec<_> = worker
        .logs("t-3", LogOptions::default())
        .await
        .unwrap()
        .collect()
        .await;
    let line = lines[0].as_ref().unwrap();
    assert_eq!(
        (line.source.as_str(), line.line.as_slice()),
        ("stderr", &b"oops\n"[..])
    );
    clean_up(&worker).await;
}

#[tokio::test]
async fn a_clean_exit_completes_as_the_user() {
    let state = tempfile::tempdir().unwrap();
    let worker = process_worker(state.path());
    let mut rx = Statuses::new(worker.statuses());
    let mut task = sh_task("t-user", "id -u; pwd");
    task.spec.container_spec.as_mut().unwrap().user = Some("nobody".into());
    worker.assign(vec![task]).await.unwrap();
    let done = until(&mut rx, "t-user", |s| s.state > TaskState::Running).await;
    assert_eq!(
        (done.state, done.message.as_str()),
        (TaskState::Complete, "finished")
    );
    let text = log_text(&worker, "t-user").await;
    assert!(text.starts_with("65534\n"), "{text}");
    assert!(
        text.ends_with("/t-user/work\n"),
        "the task directory is the default workdir: {text}"
    );
    clean_up(&worker).await;
}

#[tokio::test]
async fn a_missing_executable_fails_to_start() {
    let state = tempfile::tempdir().unwrap();
    let worker = process_worker(state.path());
    let mut rx = Statuses::new(worker.statuses());
    let mut task = sh_task("t-missing", "");
    let spec = task.spec.container_spec.as_mut().unwrap();
    spec.command = Some(vec!["/nonexistent/app".into()]);
    spec.args = None;
    worker.assign(vec![task]).await.unwrap();
    let failed = until(&mut rx, "t-missing", |s| s.state > TaskState::Running).await;
    assert_eq!(failed.state, TaskState::Failed);
    assert!(
        failed
            .err
            .starts_with("starting container failed: exec: \"/nonexistent/app\""),
        "{}",
        failed.err
    );
    clean_up(&worker).await;
}

#[tokio::test]
async fn an_unknown_user_rejects() {
    let state = tempfile::tempdir().unwrap();
    let worker = process_worker(state.path());
    let mut rx = Statuses::new(worker.statuses());
    let mut task = sh_task("t-ghost", "true");
    task.spec.container_spec.as_mut().unwrap().user = Some("ghost-user".into());
    worker.assign(vec![task]).await.unwrap();
    let rejected = until(&mut rx, "t-ghost", |s| s.state > TaskState::Running).await;
    assert_eq!(rejected.state, TaskState::Rejected);
    assert_eq!(
        rejected.err,
        "unable to find user ghost-user: no matching entries in passwd file"
    );
    clean_up(&worker).await;
}

#[tokio::test]
async fn a_stubborn_task_is_killed_after_the_grace_period() {
    let state = tempfile::tempdir().unwrap();
    let driver = process_driver(state.path());
    let task = with_grace(
        sh_task("t-stubborn", "trap '' TERM; echo ready; sleep 30"),
        Duration::from_millis(500),
    );
    driver.prepare(&task).await.unwrap();
    let started = driver.start(&task).await.unwrap();
    assert_eq!(started.phase, Phase::Running);
    let mut logs = driver
        .logs(
            &task,
            LogOptions {
                follow: true,
                tail: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        logs.next().await.unwrap().unwrap().line,
        b"ready\n",
        "the trap is set"
    );
    let t0 = Instant::now();
    driver.shutdown(&task).await.unwrap();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(8),
        "{took:?}"
    );
    let exit = driver.wait(&task).await.unwrap();
    assert_eq!(exit.code, 137, "128 + SIGKILL");
    assert!(
        logs.next().await.is_none(),
        "following ends when the task has exited"
    );
    driver.remove(&task.id).await.unwrap();
    assert!(driver.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_published_port_is_passed_in_port() {
    let state = tempfile::tempdir().unwrap();
    let worker = process_worker(state.path());
    let mut rx = Statuses::new(worker.statuses());
    let mut a = sh_task("t-port-a", "echo port=$PORT; sleep 30");
    let ports =
        r#"[{"Protocol":"tcp","TargetPort":80,"PublishedPort":8080,"PublishMode":"ingress"}]"#;
    a.labels.insert(PUBLISHED_PORTS_LABEL.into(), ports.into());
    let mut b = a.clone();
    b.id = "t-port-b".into();
    worker.assign(vec![a, b]).await.unwrap();
    let ra = until_state(&mut rx, "t-port-a", TaskState::Running).await;
    let rb = until_state(&mut rx, "t-port-b", TaskState::Running).await;
    let port_of = |s: &shoal_types::task::TaskStatus| {
        let p = &s.port_status.as_ref().expect("port status").ports[0];
        assert_eq!(p.target_port, Some(80));
        p.published_port.unwrap()
    };
    let (pa, pb) = (port_of(&ra), port_of(&rb));
    assert!((20000..=29999).contains(&pa) && (20000..=29999).contains(&pb));
    assert_ne!(pa, pb, "each task gets its own port");
    let mut text = String::new();
    for _ in 0..100 {
        text = log_text(&worker, "t-port-a").await;
        if !text.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(text, format!("port={pa}\n"));
    clean_up(&worker).await;
}

#[tokio::test]
async fn unassigned_tasks_and_leftovers_are_removed() {
    let state = tempfile::tempdir().unwrap();
    let worker = process_worker(state.path());
    let mut rx = Statuses::new(worker.statuses());
    worker
        .assign(vec![sh_task("t-keep", "sleep 30 # marker-keep")])
        .await
        .unwrap();
    until_state(&mut rx, "t-keep", TaskState::Running).await;
    // A leftover the worker never recorded (e.g. its DB was lost).
    let stray = sh_task("t-stray", "sleep 30 # marker-stray");
    worker.driver().prepare(&stray).await.unwrap();
    worker.driver().start(&stray).await.unwrap();
    assert_eq!(pids_with("marker-stray").len(), 1);

    worker.assign(vec![]).await.unwrap();
    eventually("both stopped", || {
        pids_with("marker-keep").is_empty() && pids_with("marker-stray").is_empty()
    })
    .await;
    eventually("records removed", || worker.tasks().is_empty()).await;
    let driver = worker.driver().clone();
    let mut left = driver.list().await.unwrap();
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = driver.list().await.unwrap();
    }
    assert!(left.is_empty(), "{left:?}");
}
