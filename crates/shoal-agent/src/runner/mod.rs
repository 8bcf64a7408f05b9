//! The task runner: one per assigned task, it drives the task through the state machine of
//! [`plan`] with a [`Driver`], following the desired state the manager sets, and reports every
//! status change. A runner started on a task that was already STARTING or RUNNING (a restarted
//! agent) first adopts what the driver still has of it.

mod plan;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use shoal_types::task::TaskStatus;
use shoal_types::{Task, TaskState};
use tokio::sync::{mpsc, watch};

use crate::driver::{Driver, DriverError, Phase};
pub use plan::{Step, exited, fatal, plan, retrying, shut_down, started, transition};

/// Where runners send `(task id, status)` on every change.
pub type StatusSender = mpsc::UnboundedSender<(String, TaskStatus)>;

/// The first and the longest wait before retrying after a temporary driver error.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// How long a running task the routing mesh sends connections to keeps running after it was
/// told to stop, before its stop signal. The manager takes it out of every node's mesh table
/// as it sets the desired state, but that table and this stop travel separately; without the
/// pause, connections the kernel accepted for the task just before it stops listening would
/// be reset. Docker waits 2 s here for its gossip to converge (moby's container controller,
/// `defaultGossipConvergeDelay`); the mesh table is pushed by the manager, so less is enough.
pub const MESH_DRAIN: Duration = Duration::from_secs(1);

/// Drives one task.
pub struct Runner {
    driver: Arc<dyn Driver>,
    /// The latest version of the task from the manager (its desired state may change).
    task: watch::Receiver<Task>,
    status: TaskStatus,
    report: StatusSender,
    retry: Duration,
}

impl Runner {
    /// A runner for the task in `task`, whose last known status is `status` (from the local
    /// task DB after a restart, else the manager's).
    pub fn new(
        driver: Arc<dyn Driver>,
        task: watch::Receiver<Task>,
        status: TaskStatus,
        report: StatusSender,
    ) -> Self {
        Runner {
            driver,
            task,
            status,
            report,
            retry: RETRY_MIN,
        }
    }

    /// Runs until the task has reached a final state for its desired state and the task
    /// channel closes. Returns the last status.
    pub async fn run(mut self) -> TaskStatus {
        self.resume().await;
        loop {
            let task = self.task.borrow_and_update().clone();
            let step = plan(self.status.state, task.desired_state);
            tracing::debug!(task.id = %task.id, state = ?self.status.state, desired = ?task.desired_state, ?step, "task step");
            match step {
                Step::Noop => {
                    if self.task.changed().await.is_err() {
                        return self.status;
                    }
                }
                Step::Transition(state, message) => {
                    self.set(transition(&self.status, state, message, &now()));
                }
                Step::Prepare => self.prepare(&task).await,
                Step::Start => self.start(&task).await,
                Step::Wait => self.wait(&task).await,
                Step::Shutdown => self.shutdown(&task).await,
            }
        }
    }

    /// After an agent restart: finds the runtime of a task that was starting or running and
    /// reports what it is now (RUNNING with its PID, or how it ended while nobody watched).
    async fn resume(&mut self) {
        let state = self.status.state;
        if !(TaskState::Starting..=TaskState::Running).contains(&state) {
            return;
        }
        let task = self.task.borrow().clone();
        match self.driver.adopt(&task).await {
            Ok(Some(o)) if o.phase != Phase::Created => {
                tracing::info!(task.id = %task.id, pid = o.container.pid, "adopted running task");
                self.set(started(&self.status, &o, "started", &now()));
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                let err = DriverError::NotFound(task.container_name()).to_string();
                self.set(fatal(&self.status, &err, &now()));
            }
            Err(e) => self.failed(e).await,
        }
    }

    async fn prepare(&mut self, task: &Task) {
        let driver = self.driver.clone();
        match unless_shutdown(&mut self.task, driver.prepare(task)).await {
            None => {}
            Some(Ok(())) => self.set(transition(
                &self.status,
                TaskState::Ready,
                "prepared",
                &now(),
            )),
            Some(Err(e)) => self.failed(e).await,
        }
    }

    async fn start(&mut self, task: &Task) {
        let driver = self.driver.clone();
        match unless_shutdown(&mut self.task, driver.start(task)).await {
            None => {}
            Some(Ok(o)) => self.set(started(&self.status, &o, "started", &now())),
            Some(Err(e)) => self.failed(e).await,
        }
    }

    async fn wait(&mut self, task: &Task) {
        let driver = self.driver.clone();
        match unless_shutdown(&mut self.task, driver.wait(task)).await {
            None => {}
            Some(Ok(exit)) => self.set(exited(&self.status, &exit, &now())),
            Some(Err(e)) => self.failed(e).await,
        }
    }

    async fn shutdown(&mut self, task: &Task) {
        if self.status.state == TaskState::Running && routed_by_mesh(task) {
            tracing::debug!(task.id = %task.id, "out of the mesh; waiting before the stop");
            tokio::time::sleep(MESH_DRAIN).await;
        }
        match self.driver.shutdown(task).await {
            Ok(()) => {
                let observed = self.driver.adopt(task).await.ok().flatten();
                self.set(shut_down(&self.status, observed.as_ref(), &now()));
            }
            Err(e) => self.failed(e).await,
        }
    }

    /// A driver error: temporary ones are shown and retried with backoff, others end the task.
    async fn failed(&mut self, e: DriverError) {
        let err = e.to_string();
        if e.is_temporary() {
            tracing::warn!(task.id = %self.task.borrow().id, error = %err, "temporary task error; retrying");
            self.set(retrying(&self.status, &err, &now()));
            tokio::time::sleep(self.retry).await;
            self.retry = (self.retry * 2).min(RETRY_MAX);
            return;
        }
        tracing::warn!(task.id = %self.task.borrow().id, error = %err, "task failed");
        self.set(fatal(&self.status, &err, &now()));
    }

    fn set(&mut self, status: TaskStatus) {
        if status == self.status {
            return;
        }
        let id = self.task.borrow().id.clone();
        tracing::info!(task.id = %id, from = ?self.status.state, to = ?status.state, message = %status.message, "task state");
        if status.err.is_empty() {
            self.retry = RETRY_MIN;
        }
        self.status = status;
        // A closed channel means the worker is going away; the status is still kept here.
        let _ = self.report.send((id, self.status.clone()));
    }
}

/// Runs a driver operation, giving up on it when the desired state becomes SHUTDOWN or later
/// (`None`), so a task can be stopped while it starts or runs.
async fn unless_shutdown<T>(
    task: &mut watch::Receiver<Task>,
    op: impl Future<Output = T>,
) -> Option<T> {
    tokio::pin!(op);
    loop {
        tokio::select! {
            out = &mut op => return Some(out),
            changed = task.changed() => {
                if changed.is_err() {
                    // Nobody will change the desired state any more: just finish.
                    return Some(op.await);
                }
                if task.borrow().desired_state >= TaskState::Shutdown {
                    return None;
                }
            }
        }
    }
}

/// Whether the routing mesh sends connections to the task: it publishes a port in ingress mode
/// (the default mode).
fn routed_by_mesh(task: &Task) -> bool {
    crate::driver::published_ports(task)
        .iter()
        .any(|p| p.publish_mode != Some(bollard::models::EndpointPortConfigPublishModeEnum::HOST))
}

/// Now, as the RFC 3339 timestamp task statuses carry.
pub fn now() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}
