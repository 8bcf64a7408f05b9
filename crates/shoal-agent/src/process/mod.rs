//! The `process` driver, the embedded default where no Docker Engine is reachable: each task
//! runs as a host process under its own shim (see [`shim_main`]), with its files in
//! `<root>/<task id>/`. Because the shim, not the daemon, owns the process and its output,
//! tasks survive a daemon restart and the restarted driver adopts them from their files.
//!
//! A task with a health check (see `health`) counts as started once a check passed, and
//! `wait` stops it when it turns unhealthy, as the docker driver does.

mod cgroup;
mod control;
mod health;
mod launch;
mod layout;
mod logs;
mod ports;
mod shim;
mod user;

use std::collections::HashSet;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use shoal_types::Task;

use crate::driver::{
    Driver, DriverError, Exit, LogOptions, LogStream, Observed, Phase, UNHEALTHY, published_ports,
};
use crate::files;
use layout::{Launch, TaskDir, write_json};
pub use ports::DEFAULT_PORT_RANGE;
pub use shim::shim_main;

/// How the process driver runs.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// Where task directories live (e.g. `<data dir>/tasks`).
    pub root: PathBuf,
    /// The shim executable; production passes `std::env::current_exe()`.
    pub shim: PathBuf,
    /// Arguments before the task directory (production: `["task-shim"]`).
    pub shim_args: Vec<String>,
    /// Node-local ports handed to tasks that publish one.
    pub port_range: RangeInclusive<u16>,
    /// How often to look at a task's files while waiting for it.
    pub poll_interval: Duration,
    /// Where `passwd` and `group` are read from to resolve users.
    pub etc: PathBuf,
}

impl ProcessConfig {
    /// Defaults: ports 20000–29999, polling every 100 ms, users from `/etc`, no shim args.
    pub fn new(root: impl Into<PathBuf>, shim: impl Into<PathBuf>) -> Self {
        ProcessConfig {
            root: root.into(),
            shim: shim.into(),
            shim_args: vec![],
            port_range: DEFAULT_PORT_RANGE,
            poll_interval: Duration::from_millis(100),
            etc: PathBuf::from("/etc"),
        }
    }
}

/// Runs tasks as supervised host processes.
pub struct ProcessDriver {
    cfg: ProcessConfig,
    /// Serialises port allocation; holds where the next search starts.
    port_cursor: Mutex<u16>,
}

impl ProcessDriver {
    /// A driver over `cfg.root` (created if missing). Tasks already there are adopted on demand.
    pub fn new(cfg: ProcessConfig) -> Result<Self, DriverError> {
        std::fs::create_dir_all(&cfg.root)
            .map_err(|e| DriverError::io(format!("creating {}", cfg.root.display()), e))?;
        if cgroup::v2_root(Path::new(cgroup::CGROUP_ROOT)).is_none() {
            tracing::info!(
                "cgroup v2 not available: process tasks run without CPU and memory limits"
            );
        }
        let start = *cfg.port_range.start();
        Ok(ProcessDriver {
            cfg,
            port_cursor: Mutex::new(start),
        })
    }

    /// The driver's configuration.
    pub fn config(&self) -> &ProcessConfig {
        &self.cfg
    }

    fn dir(&self, task_id: &str) -> TaskDir {
        TaskDir::new(&self.cfg.root, task_id)
    }

    fn prepare_sync(&self, task: &Task) -> Result<(), DriverError> {
        let dir = self.dir(&task.id);
        if dir.launch().exists() {
            return Ok(());
        }
        let io = |what: &str, e| DriverError::io(format!("{what} {}", dir.path().display()), e);
        let mut cursor = self.port_cursor.lock().unwrap_or_else(|p| p.into_inner());
        let host_port = published_ports(task).first().and_then(|p| {
            let host =
                p.publish_mode == Some(bollard::models::EndpointPortConfigPublishModeEnum::HOST);
            p.published_port.filter(|n| host && *n > 0)
        });
        let port = if published_ports(task).is_empty() {
            None
        } else if let Some(p) = host_port {
            // Host mode with a fixed port: the task serves exactly that port on this node.
            Some(p as u16)
        } else {
            let used = self.ports_in_use();
            let port = ports::pick_port(
                &self.cfg.port_range,
                *cursor,
                &used,
                ports::tcp_port_is_free,
            )
            .ok_or_else(|| DriverError::InvalidSpec("no free port left for the task".into()))?;
            *cursor = port.wrapping_add(1);
            Some(port)
        };
        let files_root = (!task.files.is_empty()).then(|| files::root(dir.path()));
        let launch = launch::build(task, &dir, &self.cfg.etc, port, files_root.as_deref())?;
        std::fs::create_dir_all(dir.work()).map_err(|e| io("creating", e))?;
        if let Some(root) = &files_root {
            files::install(root, &task.files)?;
        }
        if let (Some(uid), gid) = (launch.uid, launch.gid) {
            std::os::unix::fs::chown(dir.work(), Some(uid), gid).map_err(|e| io("chown", e))?;
        }
        // Written last: its presence means "prepared" (and reserves the port).
        write_json(&dir.launch(), &launch).map_err(|e| io("writing launch.json in", e))
    }

    fn ports_in_use(&self) -> HashSet<u16> {
        self.task_dirs()
            .iter()
            .filter_map(|d| d.read_launch().ok().flatten()?.port)
            .collect()
    }

    fn task_dirs(&self) -> Vec<TaskDir> {
        let Ok(entries) = std::fs::read_dir(&self.cfg.root) else {
            return vec![];
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("launch.json").exists())
            .map(|e| TaskDir::at(e.path()))
            .collect()
    }

    async fn start_task(&self, task: &Task) -> Result<Observed, DriverError> {
        let dir = self.dir(&task.id);
        let observed =
            control::observe(&dir)?.ok_or_else(|| DriverError::NotFound(task.container_name()))?;
        let launch = read_launch(&dir, task)?;
        if observed.phase != Phase::Created {
            // Started earlier: done once it is healthy, as a first start would have been.
            return self
                .until_healthy(task, &dir, &launch, started(observed)?)
                .await;
        }
        let shim_log = std::fs::File::create(dir.shim_log())
            .map_err(|e| DriverError::io("creating shim.log", e))?;
        let started_at = SystemTime::now();
        let mut child = tokio::process::Command::new(&self.cfg.shim)
            .args(&self.cfg.shim_args)
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(shim_log)
            .spawn()
            .map_err(|e| {
                DriverError::Start(format!(
                    "running the task shim {}: {e}",
                    self.cfg.shim.display()
                ))
            })?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if dir.pid().exists() || dir.exit().exists() {
                break;
            }
            let shim_ended = child.try_wait().ok().flatten().is_some();
            if shim_ended || tokio::time::Instant::now() >= deadline {
                let why = std::fs::read_to_string(dir.shim_log()).unwrap_or_default();
                return Err(DriverError::Start(format!(
                    "task shim failed: {}",
                    why.trim()
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Reap the shim when it ends; if this daemon dies first, init adopts and reaps it.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        if launch.health.is_some() {
            health::save(&dir, &health::Health::new(started_at))?;
        }
        let observed =
            control::observe(&dir)?.ok_or_else(|| DriverError::NotFound(task.container_name()))?;
        self.until_healthy(task, &dir, &launch, started(observed)?)
            .await
    }

    /// Like moby, a task with a health check is started only once a check passed; unhealthy
    /// first stops it and fails the start. A task that ends first fails the start unless it
    /// exited cleanly. Without a check, or when the task is not running, `observed` as is.
    async fn until_healthy(
        &self,
        task: &Task,
        dir: &TaskDir,
        launch: &Launch,
        observed: Observed,
    ) -> Result<Observed, DriverError> {
        let Some(check) = launch.health.as_ref() else {
            return Ok(observed);
        };
        if observed.phase != Phase::Running {
            return Ok(observed);
        }
        let poll = self.cfg.poll_interval;
        match health::watch(dir, launch, check, poll, health::Until::Healthy).await? {
            health::Verdict::Healthy | health::Verdict::Ended => {}
            health::Verdict::Unhealthy => {
                let exit = self.stop_unhealthy(dir, launch).await?;
                return Err(DriverError::Vanished(exit.error().unwrap_or_default()));
            }
        }
        let observed =
            control::observe(dir)?.ok_or_else(|| DriverError::NotFound(task.container_name()))?;
        if observed.phase != Phase::Exited {
            return Ok(observed);
        }
        let exit = Exit {
            code: observed.container.exit_code,
            cause: None,
        };
        match observed.error.clone().or_else(|| exit.error()) {
            Some(e) => Err(DriverError::Vanished(e)),
            None => Ok(observed),
        }
    }

    /// Stops a task found unhealthy (its normal stop) and says how it ended.
    async fn stop_unhealthy(&self, dir: &TaskDir, launch: &Launch) -> Result<Exit, DriverError> {
        tracing::info!(task.id = %launch.task_id, "task unhealthy; stopping it");
        control::stop(dir, launch, self.cfg.poll_interval).await?;
        let code = control::observe(dir)?.map_or(0, |o| o.container.exit_code);
        Ok(Exit {
            code,
            cause: Some(UNHEALTHY.to_string()),
        })
    }

    async fn wait_task(&self, task: &Task) -> Result<Exit, DriverError> {
        let dir = self.dir(&task.id);
        let launch = read_launch(&dir, task)?;
        if let Some(check) = &launch.health {
            let poll = self.cfg.poll_interval;
            // Ends when the task is unhealthy or stops running (on its own, or stopped).
            let verdict = health::watch(&dir, &launch, check, poll, health::Until::Unhealthy);
            if verdict.await? == health::Verdict::Unhealthy {
                return self.stop_unhealthy(&dir, &launch).await;
            }
        }
        loop {
            let observed = control::observe(&dir)?
                .ok_or_else(|| DriverError::NotFound(task.container_name()))?;
            match observed.phase {
                Phase::Running => tokio::time::sleep(self.cfg.poll_interval).await,
                Phase::Created => {
                    return Err(DriverError::Vanished(
                        "task: process was never started".into(),
                    ));
                }
                Phase::Exited => {
                    return match observed.error {
                        Some(e) => Err(DriverError::Vanished(e)),
                        // Also when asked again after an unhealthy stop, or after a daemon
                        // restart midway through one.
                        None => Ok(Exit {
                            code: observed.container.exit_code,
                            cause: health::was_unhealthy(&dir).then(|| UNHEALTHY.to_string()),
                        }),
                    };
                }
            }
        }
    }

    async fn stop_task(&self, task_id: &str) -> Result<(), DriverError> {
        let dir = self.dir(task_id);
        let Some(launch) = dir
            .read_launch()
            .map_err(|e| DriverError::io("reading launch.json", e))?
        else {
            return Ok(());
        };
        control::stop(&dir, &launch, self.cfg.poll_interval).await
    }

    async fn remove_task(&self, task_id: &str) -> Result<(), DriverError> {
        self.stop_task(task_id).await?;
        let dir = self.dir(task_id);
        cgroup::remove(Path::new(cgroup::CGROUP_ROOT), task_id);
        files::remove(&files::root(dir.path()));
        match tokio::fs::remove_dir_all(dir.path()).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DriverError::io(
                format!("removing {}", dir.path().display()),
                e,
            )),
        }
    }
}

/// The task's `launch.json`; missing means it was never prepared here.
fn read_launch(dir: &TaskDir, task: &Task) -> Result<Launch, DriverError> {
    dir.read_launch()
        .map_err(|e| DriverError::io("reading launch.json", e))?
        .ok_or_else(|| DriverError::NotFound(task.container_name()))
}

/// A start that found the task already run reports how it ended when it never ran at all.
fn started(observed: Observed) -> Result<Observed, DriverError> {
    match (&observed.phase, &observed.error) {
        (Phase::Exited, Some(e)) if observed.container.pid == 0 => {
            Err(DriverError::Start(e.clone()))
        }
        _ => Ok(observed),
    }
}

impl Driver for ProcessDriver {
    fn name(&self) -> &'static str {
        "process"
    }

    fn prepare<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(async move { self.prepare_sync(task) })
    }

    fn start<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<Observed, DriverError>> {
        Box::pin(self.start_task(task))
    }

    /// Once the task has ended its secrets and configs are dropped (their tmpfs unmounted):
    /// a stopped task kept in the history needs them no more.
    fn wait<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<Exit, DriverError>> {
        Box::pin(async move {
            let exit = self.wait_task(task).await;
            // Not on a transient error: the task may still be running.
            let ended = matches!(
                &exit,
                Ok(_) | Err(DriverError::Vanished(_) | DriverError::NotFound(_))
            );
            if ended {
                files::remove(&files::root(self.dir(&task.id).path()));
            }
            exit
        })
    }

    /// Stops the task, then drops its secrets and configs.
    fn shutdown<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(async move {
            self.stop_task(&task.id).await?;
            files::remove(&files::root(self.dir(&task.id).path()));
            Ok(())
        })
    }

    fn remove<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(self.remove_task(task_id))
    }

    fn adopt<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<Option<Observed>, DriverError>> {
        Box::pin(async move { control::observe(&self.dir(&task.id)) })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<Observed>, DriverError>> {
        Box::pin(async move {
            let mut found = vec![];
            for dir in self.task_dirs() {
                found.extend(control::observe(&dir)?);
            }
            Ok(found)
        })
    }

    fn logs<'a>(
        &'a self,
        task: &'a Task,
        options: LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, DriverError>> {
        Box::pin(async move {
            let dir = self.dir(&task.id);
            if !dir.launch().exists() {
                return Err(DriverError::NotFound(task.container_name()));
            }
            Ok(logs::stream(
                dir.log(),
                dir.exit(),
                options,
                self.cfg.poll_interval,
            ))
        })
    }
}
