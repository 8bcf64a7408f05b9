//! The worker: takes the complete set of tasks the manager assigns to this node, runs one
//! [`Runner`] per task, stops and removes what is no longer assigned (leftovers of earlier
//! agent runs included), keeps the local task DB, and hands status updates to whoever ships
//! them to the manager.

mod db;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use shoal_types::task::TaskStatus;
use shoal_types::{Task, TaskState};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::driver::{Driver, DriverError, LogOptions, LogStream};
use crate::runner::{Runner, StatusSender};
pub use db::{Record, TaskDb};

/// A worker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("task {0} is not assigned to this node")]
    UnknownTask(String),
}

impl WorkerError {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        WorkerError::Io {
            context: context.into(),
            source,
        }
    }
}

/// A status update for the manager: `(task id, status)`.
pub type StatusUpdate = (String, TaskStatus);

/// How many updates may wait for the subscriber before runners' reports queue up.
const SUBSCRIBER_BUFFER: usize = 1024;

/// Runs this node's tasks.
pub struct Worker {
    inner: Arc<Inner>,
    pump: JoinHandle<()>,
}

struct Inner {
    driver: Arc<dyn Driver>,
    node_id: String,
    db: Mutex<TaskDb>,
    runners: Mutex<HashMap<String, RunnerHandle>>,
    /// Tasks being stopped and removed, so leftover cleanup does not race them.
    removing: Mutex<HashSet<String>>,
    report: StatusSender,
    subscriber: Mutex<Option<mpsc::Sender<StatusUpdate>>>,
}

struct RunnerHandle {
    task: watch::Sender<Task>,
    join: JoinHandle<TaskStatus>,
}

impl Worker {
    /// A worker with `driver`, keeping its task DB under `state_dir`. Tasks recorded there by an
    /// earlier run are resumed at once (running ones adopted, ended ones reported), before the
    /// manager assigns anything. Must be called inside a tokio runtime.
    pub fn new(
        driver: Arc<dyn Driver>,
        state_dir: &Path,
        node_id: impl Into<String>,
    ) -> Result<Worker, WorkerError> {
        let db = TaskDb::open(&state_dir.join("tasks"))?;
        let (report, reports) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            driver,
            node_id: node_id.into(),
            db: Mutex::new(db),
            runners: Mutex::new(HashMap::new()),
            removing: Mutex::new(HashSet::new()),
            report,
            subscriber: Mutex::new(None),
        });
        let records: Vec<Record> = lock(&inner.db).records().cloned().collect();
        for r in records {
            inner.spawn_runner(r.task, r.status);
        }
        let pump = tokio::spawn(pump(Arc::downgrade(&inner), reports));
        Ok(Worker { inner, pump })
    }

    /// Takes the complete set of tasks assigned to this node: starts runners for new ones,
    /// passes changes (desired state) to existing ones, and stops and removes every task,
    /// and every leftover the driver has, that is not in the set. Removal runs in the
    /// background (it may wait out a stop grace period).
    pub async fn assign(&self, tasks: Vec<Task>) -> Result<(), WorkerError> {
        let inner = &self.inner;
        let wanted: HashMap<String, Task> = tasks
            .into_iter()
            .filter(|t| inner.is_ours(t))
            .map(|t| (t.id.clone(), t))
            .collect();
        let gone = inner.update_runners(&wanted)?;
        for (id, handle) in gone {
            inner.spawn_removal(id, Some(handle));
        }
        let known: HashSet<String> = lock(&inner.runners).keys().cloned().collect();
        for found in inner.driver.list().await? {
            let id = found.task_id;
            if !known.contains(&id) && !lock(&inner.removing).contains(&id) {
                tracing::info!(task.id = %id, "removing leftover task no longer assigned");
                inner.spawn_removal(id, None);
            }
        }
        Ok(())
    }

    /// A receiver of status updates, first the current status of every task this worker
    /// knows, then each change. A new call replaces the previous receiver (e.g. for a new
    /// dispatcher session), which then ends.
    pub fn statuses(&self) -> mpsc::Receiver<StatusUpdate> {
        let current: Vec<StatusUpdate> = lock(&self.inner.db)
            .records()
            .map(|r| (r.task.id.clone(), r.status.clone()))
            .collect();
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER.max(current.len() + 64));
        for update in current {
            let _ = tx.try_send(update);
        }
        *lock(&self.inner.subscriber) = Some(tx);
        rx
    }

    /// The tasks this worker knows and their last status.
    pub fn tasks(&self) -> Vec<Record> {
        lock(&self.inner.db).records().cloned().collect()
    }

    /// The output of an assigned task.
    pub async fn logs(&self, task_id: &str, options: LogOptions) -> Result<LogStream, WorkerError> {
        let task = lock(&self.inner.db)
            .get(task_id)
            .map(|r| r.task.clone())
            .ok_or_else(|| WorkerError::UnknownTask(task_id.to_string()))?;
        Ok(self.inner.driver.logs(&task, options).await?)
    }

    /// The driver this worker runs tasks with.
    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.inner.driver
    }
}

impl Drop for Worker {
    /// Stops the runners but not the tasks: they keep running, and a new worker on the same
    /// state directory adopts them.
    fn drop(&mut self) {
        self.pump.abort();
        for (_, h) in lock(&self.inner.runners).drain() {
            h.join.abort();
        }
    }
}

impl Inner {
    /// A task for another node (a confused manager) is ignored rather than run twice.
    fn is_ours(&self, task: &Task) -> bool {
        let ours =
            task.node_id.is_empty() || self.node_id.is_empty() || task.node_id == self.node_id;
        if !ours {
            tracing::warn!(task.id = %task.id, node = %task.node_id, "ignoring task assigned to another node");
        }
        ours
    }

    /// Applies the wanted set to the runners; returns the runners of tasks no longer wanted.
    fn update_runners(
        &self,
        wanted: &HashMap<String, Task>,
    ) -> Result<Vec<(String, RunnerHandle)>, WorkerError> {
        let mut runners = lock(&self.runners);
        for (id, task) in wanted {
            if let Some(h) = runners.get(id) {
                h.task.send_if_modified(|old| replace_if_changed(old, task));
                let mut db = lock(&self.db);
                if let Some(r) = db.get(id).filter(|r| r.task != *task).cloned() {
                    db.put(Record {
                        task: task.clone(),
                        ..r
                    })?;
                }
                continue;
            }
            let status = match lock(&self.db).get(id) {
                // Ours is newer unless the manager already saw a later state.
                Some(r) if r.status.state >= task.status.state => r.status.clone(),
                _ => task.status.clone(),
            };
            lock(&self.db).put(Record {
                task: task.clone(),
                status: status.clone(),
            })?;
            runners.insert(id.clone(), self.new_runner(task.clone(), status));
        }
        let gone: Vec<String> = runners
            .keys()
            .filter(|id| !wanted.contains_key(*id))
            .cloned()
            .collect();
        Ok(gone
            .into_iter()
            .filter_map(|id| runners.remove_entry(&id))
            .collect())
    }

    fn spawn_runner(&self, task: Task, status: TaskStatus) {
        let id = task.id.clone();
        let handle = self.new_runner(task, status);
        lock(&self.runners).insert(id, handle);
    }

    fn new_runner(&self, task: Task, status: TaskStatus) -> RunnerHandle {
        let (tx, rx) = watch::channel(task);
        let runner = Runner::new(self.driver.clone(), rx, status, self.report.clone());
        RunnerHandle {
            task: tx,
            join: tokio::spawn(runner.run()),
        }
    }

    /// Stops a task no longer assigned (desired REMOVE), then deletes its runtime and record.
    fn spawn_removal(self: &Arc<Self>, id: String, runner: Option<RunnerHandle>) {
        lock(&self.removing).insert(id.clone());
        let inner = self.clone();
        tokio::spawn(async move {
            if let Some(h) = runner {
                h.task.send_modify(|t| t.desired_state = TaskState::Remove);
                // Dropping the sender lets the runner end once the task has stopped.
                drop(h.task);
                let _ = h.join.await;
            }
            if let Err(e) = inner.driver.remove(&id).await {
                tracing::warn!(task.id = %id, error = %e, "removing task failed");
            }
            if let Err(e) = lock(&inner.db).delete(&id) {
                tracing::warn!(task.id = %id, error = %e, "deleting task record failed");
            }
            lock(&inner.removing).remove(&id);
        });
    }
}

/// Replaces the runner's task when the manager's copy changed (desired state, spec…).
fn replace_if_changed(old: &mut Task, new: &Task) -> bool {
    if old == new {
        return false;
    }
    *old = new.clone();
    true
}

/// Records each runner status in the DB and forwards it to the subscriber.
async fn pump(inner: std::sync::Weak<Inner>, mut reports: mpsc::UnboundedReceiver<StatusUpdate>) {
    while let Some((id, status)) = reports.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        match lock(&inner.db).set_status(&id, status.clone()) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => tracing::warn!(task.id = %id, error = %e, "recording task status failed"),
        }
        let subscriber = lock(&inner.subscriber).clone();
        if let Some(tx) = subscriber {
            // A gone subscriber is fine: the next one gets the current statuses first.
            let _ = tx.send((id, status)).await;
        }
    }
}

/// Locks a mutex, shrugging off poisoning (the data are plain records).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
