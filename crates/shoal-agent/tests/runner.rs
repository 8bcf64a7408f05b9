//! The task runner's state machine against a scripted fake driver. No sleeps: the fake's
//! results come through channels, and tokio time is paused for retry delays.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use shoal_agent::driver::{Driver, DriverError, Exit, LogOptions, LogStream, Observed, Phase};
use shoal_agent::runner::Runner;
use shoal_types::task::{ContainerStatus, TaskStatus};
use shoal_types::{Task, TaskState};
use tokio::sync::{mpsc, watch};

/// Scripted results per operation; `wait` blocks until the test sends an exit.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<&'static str>>,
    prepare: Mutex<VecDeque<Result<(), DriverError>>>,
    start: Mutex<VecDeque<Result<Observed, DriverError>>>,
    adopt: Mutex<Option<Observed>>,
    exits: tokio::sync::Mutex<Option<mpsc::Receiver<Exit>>>,
}

fn running(pid: i64) -> Observed {
    Observed {
        task_id: "t1".into(),
        phase: Phase::Running,
        container: ContainerStatus {
            container_id: "c1".into(),
            pid,
            exit_code: 0,
        },
        ports: None,
        error: None,
    }
}

impl Fake {
    fn call(&self, name: &'static str) {
        self.calls.lock().unwrap().push(name);
    }
    fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }
}

impl Driver for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn prepare<'a>(&'a self, _: &'a Task) -> BoxFuture<'a, Result<(), DriverError>> {
        self.call("prepare");
        let r = self.prepare.lock().unwrap().pop_front().unwrap_or(Ok(()));
        Box::pin(async move { r })
    }
    fn start<'a>(&'a self, _: &'a Task) -> BoxFuture<'a, Result<Observed, DriverError>> {
        self.call("start");
        let r = self
            .start
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Ok(running(42)));
        Box::pin(async move { r })
    }
    fn wait<'a>(&'a self, _: &'a Task) -> BoxFuture<'a, Result<Exit, DriverError>> {
        self.call("wait");
        Box::pin(async move {
            let mut exits = self.exits.lock().await;
            match exits.as_mut().expect("exit channel").recv().await {
                Some(exit) => Ok(exit),
                None => futures::future::pending().await,
            }
        })
    }
    fn shutdown<'a>(&'a self, _: &'a Task) -> BoxFuture<'a, Result<(), DriverError>> {
        self.call("shutdown");
        Box::pin(async { Ok(()) })
    }
    fn remove<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), DriverError>> {
        self.call("remove");
        Box::pin(async { Ok(()) })
    }
    fn adopt<'a>(&'a self, _: &'a Task) -> BoxFuture<'a, Result<Option<Observed>, DriverError>> {
        self.call("adopt");
        let r = self.adopt.lock().unwrap().clone();
        Box::pin(async move { Ok(r) })
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<Observed>, DriverError>> {
        Box::pin(async { Ok(vec![]) })
    }
    fn logs<'a>(
        &'a self,
        _: &'a Task,
        _: LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, DriverError>> {
        Box::pin(async { Ok(Box::pin(futures::stream::empty()) as LogStream) })
    }
}

struct Harness {
    fake: Arc<Fake>,
    task: watch::Sender<Task>,
    statuses: mpsc::UnboundedReceiver<(String, TaskStatus)>,
    exits: mpsc::Sender<Exit>,
    run: tokio::task::JoinHandle<TaskStatus>,
}

fn task(desired: TaskState) -> Task {
    let mut t = Task {
        id: "t1".into(),
        service_name: "web".into(),
        slot: 1,
        desired_state: desired,
        ..Default::default()
    };
    t.status.state = TaskState::Assigned;
    t
}

fn harness(fake: Fake, t: Task, status: TaskStatus) -> Harness {
    let (exits, rx) = mpsc::channel(4);
    *fake.exits.try_lock().unwrap() = Some(rx);
    let fake = Arc::new(fake);
    let (task, task_rx) = watch::channel(t);
    let (report, statuses) = mpsc::unbounded_channel();
    let run = tokio::spawn(Runner::new(fake.clone(), task_rx, status, report).run());
    Harness {
        fake,
        task,
        statuses,
        exits,
        run,
    }
}

impl Harness {
    async fn next(&mut self) -> TaskStatus {
        let (id, status) = self.statuses.recv().await.expect("a status");
        assert_eq!(id, "t1");
        assert!(!status.timestamp.is_empty());
        status
    }

    /// The next statuses' (state, message) pairs.
    async fn states(&mut self, n: usize) -> Vec<(TaskState, String)> {
        let mut out = vec![];
        for _ in 0..n {
            let s = self.next().await;
            out.push((s.state, s.message));
        }
        out
    }

    fn set_desired(&self, desired: TaskState) {
        self.task.send_modify(|t| t.desired_state = desired);
    }
}

fn pairs(v: &[(TaskState, &str)]) -> Vec<(TaskState, String)> {
    v.iter().map(|(s, m)| (*s, m.to_string())).collect()
}

fn assigned() -> TaskStatus {
    TaskStatus {
        state: TaskState::Assigned,
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn runs_to_running_then_complete() {
    let mut h = harness(Fake::default(), task(TaskState::Running), assigned());
    let expected = pairs(&[
        (TaskState::Accepted, "accepted"),
        (TaskState::Preparing, "preparing"),
        (TaskState::Ready, "prepared"),
        (TaskState::Starting, "starting"),
    ]);
    assert_eq!(h.states(4).await, expected);
    let running = h.next().await;
    assert_eq!(
        (running.state, running.message.as_str()),
        (TaskState::Running, "started")
    );
    assert_eq!(running.container_status.as_ref().unwrap().pid, 42);
    h.exits
        .send(Exit {
            code: 0,
            cause: None,
        })
        .await
        .unwrap();
    let done = h.next().await;
    assert_eq!(
        (done.state, done.message.as_str(), done.err.as_str()),
        (TaskState::Complete, "finished", "")
    );
    assert_eq!(h.fake.calls(), ["prepare", "start", "wait"]);
    drop(h.task);
    assert_eq!(h.run.await.unwrap().state, TaskState::Complete);
}

#[tokio::test(start_paused = true)]
async fn a_non_zero_exit_fails_with_the_code() {
    let mut h = harness(Fake::default(), task(TaskState::Running), assigned());
    h.states(5).await;
    h.exits
        .send(Exit {
            code: 3,
            cause: None,
        })
        .await
        .unwrap();
    let failed = h.next().await;
    assert_eq!(failed.state, TaskState::Failed);
    assert_eq!(failed.err, "task: non-zero exit (3)");
    assert_eq!(failed.message, "started");
    assert_eq!(failed.container_status.unwrap().exit_code, 3);
}

#[tokio::test(start_paused = true)]
async fn a_prepare_error_rejects() {
    let fake = Fake::default();
    fake.prepare
        .lock()
        .unwrap()
        .push_back(Err(DriverError::NoSuchImage("app:2".into())));
    let mut h = harness(fake, task(TaskState::Running), assigned());
    h.states(2).await;
    let rejected = h.next().await;
    assert_eq!(
        (rejected.state, rejected.err.as_str()),
        (TaskState::Rejected, "No such image: app:2")
    );
    assert_eq!(h.fake.calls(), ["prepare"]);
}

#[tokio::test(start_paused = true)]
async fn a_start_error_fails() {
    let fake = Fake::default();
    fake.start
        .lock()
        .unwrap()
        .push_back(Err(DriverError::Start("exec: nope".into())));
    let mut h = harness(fake, task(TaskState::Running), assigned());
    h.states(4).await;
    let failed = h.next().await;
    assert_eq!(
        (failed.state, failed.err.as_str()),
        (TaskState::Failed, "starting container failed: exec: nope")
    );
}

#[tokio::test(start_paused = true)]
async fn desired_shutdown_stops_a_running_task() {
    let mut h = harness(Fake::default(), task(TaskState::Running), assigned());
    h.states(5).await;
    h.set_desired(TaskState::Shutdown);
    let down = h.next().await;
    assert_eq!(
        (down.state, down.message.as_str()),
        (TaskState::Shutdown, "shutdown")
    );
    assert_eq!(
        h.fake.calls(),
        ["prepare", "start", "wait", "shutdown", "adopt"]
    );
    // A late exit changes nothing: states only move forward.
    h.set_desired(TaskState::Running);
    drop(h.task);
    assert_eq!(h.run.await.unwrap().state, TaskState::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn desired_ready_pauses_after_prepare() {
    let mut h = harness(Fake::default(), task(TaskState::Ready), assigned());
    assert_eq!(
        h.states(3).await,
        pairs(&[
            (TaskState::Accepted, "accepted"),
            (TaskState::Preparing, "preparing"),
            (TaskState::Ready, "prepared")
        ])
    );
    tokio::task::yield_now().await;
    assert!(h.statuses.try_recv().is_err(), "stays READY");
    h.set_desired(TaskState::Running);
    assert_eq!(
        h.states(2).await,
        pairs(&[
            (TaskState::Starting, "starting"),
            (TaskState::Running, "started")
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_before_start_never_starts() {
    let mut h = harness(Fake::default(), task(TaskState::Shutdown), assigned());
    let down = h.next().await;
    assert_eq!(down.state, TaskState::Shutdown);
    assert!(!h.fake.calls().contains(&"start"));
}

#[tokio::test(start_paused = true)]
async fn a_restarted_runner_adopts_a_running_task() {
    let fake = Fake::default();
    *fake.adopt.lock().unwrap() = Some(running(777));
    let was = TaskStatus {
        state: TaskState::Running,
        message: "started".into(),
        ..Default::default()
    };
    let mut h = harness(fake, task(TaskState::Running), was);
    let again = h.next().await;
    assert_eq!(again.state, TaskState::Running);
    assert_eq!(again.container_status.unwrap().pid, 777);
    h.exits
        .send(Exit {
            code: 137,
            cause: None,
        })
        .await
        .unwrap();
    assert_eq!(h.next().await.err, "task: non-zero exit (137)");
    assert_eq!(
        h.fake.calls(),
        ["adopt", "wait"],
        "adopted, never started again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_vanished_task_fails_after_restart() {
    let was = TaskStatus {
        state: TaskState::Running,
        ..Default::default()
    };
    let mut h = harness(Fake::default(), task(TaskState::Running), was);
    let failed = h.next().await;
    assert_eq!(
        (failed.state, failed.err.as_str()),
        (TaskState::Failed, "No such container: web.1.t1")
    );
}

#[tokio::test(start_paused = true)]
async fn temporary_errors_are_retried() {
    let fake = Fake::default();
    fake.prepare
        .lock()
        .unwrap()
        .push_back(Err(DriverError::Docker(
            bollard::errors::Error::RequestTimeoutError,
        )));
    let mut h = harness(fake, task(TaskState::Running), assigned());
    h.states(2).await;
    let retrying = h.next().await;
    assert_eq!(retrying.state, TaskState::Preparing);
    assert!(!retrying.err.is_empty());
    let ready = h.next().await;
    assert_eq!((ready.state, ready.err.as_str()), (TaskState::Ready, ""));
    assert_eq!(h.fake.calls()[..2], ["prepare", "prepare"]);
}
