//! The `docker` driver: tasks as containers of the local Docker Engine, through bollard,
//! as moby's swarm executor runs them. Images are never pulled (no registry is assumed): a
//! missing image rejects the task with `No such image: X`.

mod config;
mod inspect;
mod networks;
mod ports;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use shoal_types::Task;

pub use crate::driver::UNHEALTHY;
use crate::driver::{
    Driver, DriverError, Exit, LogLine, LogOptions, LogSource, LogStream, Observed, Phase,
};
use crate::files;
pub use config::{MANAGED_LABEL, TASK_ID_LABEL, create_body, grace_seconds, image_ref};
use inspect::{has_healthcheck, observed};

/// Runs tasks as Docker containers.
pub struct DockerDriver {
    docker: Docker,
    node_id: String,
    poll: Duration,
    /// Where each task's secrets and configs get a tmpfs (`<dir>/<task id>/files`), bound
    /// into its container file by file; `None` refuses tasks that have any.
    files_dir: Option<PathBuf>,
    /// Held while making Docker networks: the engine refuses a second create of a network
    /// still being made (for its subnet) before the first can be seen.
    networks: tokio::sync::Mutex<()>,
    /// Whether each started task's container has a health check, read at its start so
    /// waiting on it needs no second inspect. Dropped at removal.
    health_checks: std::sync::Mutex<HashMap<String, bool>>,
    /// Tasks whose container this driver has just created and not yet tried to start.
    fresh: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl DockerDriver {
    /// Connects to the engine at `socket` (a unix socket path), negotiating the API version
    /// (the engine may be older than bollard's default, e.g. 20.10 speaks 1.41).
    pub async fn connect(socket: &str, node_id: impl Into<String>) -> Result<Self, DriverError> {
        let docker = Docker::connect_with_unix(socket, 120, bollard::API_DEFAULT_VERSION)?
            .negotiate_version()
            .await?;
        Ok(Self::with_client(docker, node_id))
    }

    /// A driver over an already negotiated client. Containers are labelled with `node_id`,
    /// and only those are listed (and so cleaned up) by this driver.
    pub fn with_client(docker: Docker, node_id: impl Into<String>) -> Self {
        DockerDriver {
            docker,
            node_id: node_id.into(),
            poll: Duration::from_millis(250),
            files_dir: None,
            networks: tokio::sync::Mutex::new(()),
            health_checks: Default::default(),
            fresh: Default::default(),
        }
    }

    /// Lets tasks mount secrets and configs, from tmpfs mounts under `dir`.
    pub fn with_files_dir(mut self, dir: PathBuf) -> Self {
        self.files_dir = Some(dir);
        self
    }

    /// Mounts the task's files on its tmpfs and binds each into the container, read-only.
    fn install_files(
        &self,
        task: &Task,
        body: &mut ContainerCreateBody,
    ) -> Result<(), DriverError> {
        if task.files.is_empty() {
            return Ok(());
        }
        let dir = self.files_dir.as_ref().ok_or_else(|| {
            DriverError::InvalidSpec("this node cannot mount secrets or configs".into())
        })?;
        let root = files::root(&dir.join(&task.id));
        files::install(&root, &task.files)?;
        let host = body.host_config.get_or_insert_with(Default::default);
        let mounts = host.mounts.get_or_insert_with(Vec::new);
        for f in &task.files {
            mounts.push(Mount {
                target: Some(f.path.clone()),
                source: Some(files::host_path(&root, f).display().to_string()),
                typ: Some(MountType::BIND),
                read_only: Some(true),
                ..Default::default()
            });
        }
        Ok(())
    }

    /// Unmounts and deletes a task's file tmpfs, if it had one.
    fn remove_files(&self, task_id: &str) {
        if let Some(dir) = &self.files_dir {
            let task_dir = dir.join(task_id);
            files::remove(&files::root(&task_dir));
            let _ = std::fs::remove_dir_all(task_dir);
        }
    }

    /// The engine client.
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    async fn inspect(
        &self,
        name: &str,
    ) -> Result<Option<bollard::models::ContainerInspectResponse>, DriverError> {
        match self.docker.inspect_container(name, None).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if status_is(&e, 404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn prepare_task(&self, task: &Task) -> Result<(), DriverError> {
        let mut body = create_body(task, &self.node_id)?;
        self.install_files(task, &mut body)?;
        let image = body.image.clone().unwrap_or_default();
        if !task.networks.is_empty() {
            let _one_at_a_time = self.networks.lock().await;
            networks::ensure(&self.docker, task, &self.node_id).await?;
        }
        networks::attach_first(task, &mut body);
        let options = CreateContainerOptionsBuilder::default()
            .name(&task.container_name())
            .build();
        match self.docker.create_container(Some(options), body).await {
            Ok(_) => {
                self.fresh.lock().expect("lock").insert(task.id.clone());
            }
            // Created by an earlier attempt (or agent run): `start_task` looks at it first.
            Err(e) if status_is(&e, 409) => {}
            // The image is not asked for beforehand: the create says so itself, one engine
            // call less per task (`docker run` does the same).
            Err(e) if status_is(&e, 404) && message_has(&e, "No such image") => {
                return Err(DriverError::NoSuchImage(image));
            }
            Err(e) => return Err(e.into()),
        }
        networks::connect_rest(&self.docker, task).await
    }

    /// Starts the created container, unless it has run already (see `needs_start`).
    async fn start_task(&self, task: &Task) -> Result<Observed, DriverError> {
        let name = task.container_name();
        if self.needs_start(task).await? {
            match self.docker.start_container(&name, None).await {
                Ok(()) => {}
                Err(e) if status_is(&e, 304) => {}
                Err(e) if status_is(&e, 404) => return Err(DriverError::NotFound(name)),
                Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                    return Err(DriverError::Start(message));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let c = self
            .inspect(&name)
            .await?
            .ok_or_else(|| DriverError::NotFound(name.clone()))?;
        let checked = has_healthcheck(&c);
        self.health_checks
            .lock()
            .expect("lock")
            .insert(task.id.clone(), checked);
        if !checked {
            return Ok(observed(&task.id, &c));
        }
        self.wait_healthy(task).await?;
        let c = self
            .inspect(&name)
            .await?
            .ok_or_else(|| DriverError::NotFound(name.clone()))?;
        Ok(observed(&task.id, &c))
    }

    /// Whether the container still needs its start. One this driver has just created (the
    /// usual case) does, without asking the engine: one call less per task. Any other (made
    /// by an earlier agent run, or a start being retried, whose answer may have been lost) is
    /// asked of the engine, and started only if it never ran: starting an exited container
    /// would run it anew instead of reporting how it ended.
    async fn needs_start(&self, task: &Task) -> Result<bool, DriverError> {
        if self.fresh.lock().expect("lock").remove(&task.id) {
            return Ok(true);
        }
        let name = task.container_name();
        let c = self
            .inspect(&name)
            .await?
            .ok_or(DriverError::NotFound(name))?;
        Ok(observed(&task.id, &c).phase == Phase::Created)
    }

    /// Whether the task's container has a health check: known from its start, else (an
    /// adopted task) asked of the engine.
    async fn health_checked(&self, task: &Task) -> Result<bool, DriverError> {
        if let Some(known) = self.health_checks.lock().expect("lock").get(&task.id) {
            return Ok(*known);
        }
        let name = task.container_name();
        let c = self
            .inspect(&name)
            .await?
            .ok_or(DriverError::NotFound(name))?;
        Ok(has_healthcheck(&c))
    }

    /// Like moby, a task with a health check is RUNNING only once healthy; unhealthy first
    /// stops it and fails the start.
    async fn wait_healthy(&self, task: &Task) -> Result<(), DriverError> {
        let name = task.container_name();
        loop {
            let c = self
                .inspect(&name)
                .await?
                .ok_or_else(|| DriverError::NotFound(name.clone()))?;
            let o = observed(&task.id, &c);
            if o.phase == Phase::Exited {
                let exit = Exit {
                    code: o.container.exit_code,
                    cause: None,
                };
                return exit
                    .error()
                    .map_or(Ok(()), |e| Err(DriverError::Vanished(e)));
            }
            match inspect::health(&c).as_deref() {
                Some("healthy") => return Ok(()),
                Some("unhealthy") => {
                    let exit = self.stop_unhealthy(task).await?;
                    return Err(DriverError::Vanished(exit.error().unwrap_or_default()));
                }
                _ => tokio::time::sleep(self.poll).await,
            }
        }
    }

    async fn stop_unhealthy(&self, task: &Task) -> Result<Exit, DriverError> {
        tracing::info!(task.id = %task.id, "container unhealthy; stopping it");
        self.stop(&task.container_name(), grace_seconds(task))
            .await?;
        let code = self.exit_code(&task.container_name()).await?;
        Ok(Exit {
            code,
            cause: Some(UNHEALTHY.to_string()),
        })
    }

    async fn exit_code(&self, name: &str) -> Result<i64, DriverError> {
        let mut waits = self.docker.wait_container(
            name,
            Some(bollard::query_parameters::WaitContainerOptions {
                condition: "not-running".into(),
            }),
        );
        match waits.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) if status_is(&e, 404) => Err(DriverError::NotFound(name.to_string())),
            Some(Err(e)) => Err(e.into()),
            None => Err(DriverError::Vanished(format!(
                "waiting for {name} ended without a status"
            ))),
        }
    }

    async fn wait_task(&self, task: &Task) -> Result<Exit, DriverError> {
        let name = task.container_name();
        if !self.health_checked(task).await? {
            return Ok(Exit {
                code: self.exit_code(&name).await?,
                cause: None,
            });
        }
        let exit = self.exit_code(&name);
        let unhealthy = async {
            loop {
                tokio::time::sleep(self.poll).await;
                match self.inspect(&name).await {
                    Ok(Some(c)) if inspect::health(&c).as_deref() == Some("unhealthy") => return,
                    _ => {}
                }
            }
        };
        tokio::select! {
            code = exit => Ok(Exit { code: code?, cause: None }),
            () = unhealthy => self.stop_unhealthy(task).await,
        }
    }

    async fn stop(&self, name: &str, grace_secs: i64) -> Result<(), DriverError> {
        let options = StopContainerOptionsBuilder::default()
            .t(grace_secs.clamp(0, i32::MAX as i64) as i32)
            .build();
        match self.docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if status_is(&e, 404) || status_is(&e, 304) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove_task(&self, task_id: &str) -> Result<(), DriverError> {
        self.health_checks.lock().expect("lock").remove(task_id);
        self.fresh.lock().expect("lock").remove(task_id);
        for (id, _) in self.containers(Some(task_id)).await? {
            let grace = match self.inspect(&id).await? {
                Some(c) => c.config.and_then(|c| c.stop_timeout).unwrap_or(10),
                None => continue,
            };
            self.stop(&id, grace).await?;
            let options = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            match self.docker.remove_container(&id, Some(options)).await {
                Ok(()) => {}
                Err(e) if status_is(&e, 404) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.remove_files(task_id);
        Ok(())
    }

    /// This node's task containers (`(container id, observed)`), optionally of one task.
    async fn containers(
        &self,
        task_id: Option<&str>,
    ) -> Result<Vec<(String, Observed)>, DriverError> {
        let mut labels = vec![format!("{MANAGED_LABEL}={}", self.node_id)];
        if let Some(id) = task_id {
            labels.push(format!("{TASK_ID_LABEL}={id}"));
        }
        let filters = HashMap::from([("label".to_string(), labels)]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = self.docker.list_containers(Some(options)).await?;
        Ok(found.iter().filter_map(inspect::summary_observed).collect())
    }

    fn log_stream(&self, task: &Task, options: LogOptions) -> LogStream {
        let tail = options
            .tail
            .map_or_else(|| "all".to_string(), |n| n.to_string());
        let opts = LogsOptionsBuilder::default()
            .follow(options.follow)
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .tail(&tail)
            .build();
        let docker = self.docker.clone();
        let name = task.container_name();
        let lines = async_stream_logs(docker, name, opts);
        Box::pin(lines)
    }
}

fn async_stream_logs(
    docker: Docker,
    name: String,
    opts: bollard::query_parameters::LogsOptions,
) -> impl futures::Stream<Item = Result<LogLine, DriverError>> + Send + 'static {
    futures::stream::once(async move { docker.logs(&name, Some(opts)) })
        .flatten()
        .map(|item| item.map(inspect::log_line).map_err(DriverError::from))
}

/// Whether a bollard error is the engine answering with a message containing `text`.
fn message_has(e: &bollard::errors::Error, text: &str) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { message, .. } if message.contains(text))
}

/// Whether a bollard error is the engine answering with HTTP `code`.
fn status_is(e: &bollard::errors::Error, code: u16) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code, .. } if *status_code == code)
}

impl Driver for DockerDriver {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn prepare<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(self.prepare_task(task))
    }

    fn start<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<Observed, DriverError>> {
        Box::pin(self.start_task(task))
    }

    /// Once the container has ended its secrets and configs are dropped (their tmpfs
    /// unmounted): a stopped task kept in the history needs them no more.
    fn wait<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<Exit, DriverError>> {
        Box::pin(async move {
            let exit = self.wait_task(task).await;
            // Not on a transient error: the task may still be running.
            let ended = matches!(
                &exit,
                Ok(_) | Err(DriverError::Vanished(_) | DriverError::NotFound(_))
            );
            if let (true, Some(dir)) = (ended, &self.files_dir) {
                files::remove(&files::root(&dir.join(&task.id)));
            }
            exit
        })
    }

    /// Stops the container, then drops its secrets and configs.
    fn shutdown<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(async move {
            self.stop(&task.container_name(), grace_seconds(task))
                .await?;
            if let Some(dir) = &self.files_dir {
                files::remove(&files::root(&dir.join(&task.id)));
            }
            Ok(())
        })
    }

    fn remove<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(self.remove_task(task_id))
    }

    fn adopt<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<Option<Observed>, DriverError>> {
        Box::pin(async move {
            let c = self.inspect(&task.container_name()).await?;
            Ok(c.map(|c| observed(&task.id, &c)))
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<Observed>, DriverError>> {
        Box::pin(async move {
            Ok(self
                .containers(None)
                .await?
                .into_iter()
                .map(|(_, o)| o)
                .collect())
        })
    }

    fn logs<'a>(
        &'a self,
        task: &'a Task,
        options: LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, DriverError>> {
        Box::pin(async move {
            let name = task.container_name();
            self.inspect(&name)
                .await?
                .ok_or(DriverError::NotFound(name))?;
            Ok(self.log_stream(task, options))
        })
    }
}

/// Which stream an engine log frame came from (a TTY's console output counts as stdout).
impl From<&bollard::container::LogOutput> for LogSource {
    fn from(o: &bollard::container::LogOutput) -> Self {
        match o {
            bollard::container::LogOutput::StdErr { .. } => LogSource::Stderr,
            _ => LogSource::Stdout,
        }
    }
}
