//! The node's agent: picks the driver (`--driver auto|docker|process`), keeps the worker that
//! runs assigned tasks, and its session with the managers.

use std::path::Path;
use std::sync::Arc;

use shoal_agent::session::{SessionConfig, run_session};
use shoal_agent::{DockerDriver, Driver, ProcessConfig, ProcessDriver, Worker};
use shoal_manager::TlsMaterial;
use shoal_types::NodeDescription;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::config::DriverChoice;

/// A running agent.
pub struct Agent {
    worker: Arc<Worker>,
    stop: CancellationToken,
    session: JoinHandle<()>,
}

/// Builds the driver the configuration asks for.
pub async fn driver(
    choice: DriverChoice,
    engine_socket: &str,
    node_id: &str,
    data_dir: &Path,
) -> Result<Arc<dyn Driver>, String> {
    let files_dir = data_dir.join("docker-files");
    let docker = || async {
        DockerDriver::connect(engine_socket, node_id.to_string())
            .await
            .map(|d| d.with_files_dir(files_dir.clone()))
    };
    let process = || -> Result<Arc<dyn Driver>, String> {
        let shim =
            std::env::current_exe().map_err(|e| format!("cannot find the shoal binary: {e}"))?;
        let mut cfg = ProcessConfig::new(data_dir.join("tasks"), shim);
        cfg.shim_args = vec!["task-shim".into()];
        Ok(Arc::new(
            ProcessDriver::new(cfg).map_err(|e| e.to_string())?,
        ))
    };
    match choice {
        DriverChoice::Docker => Ok(Arc::new(
            docker().await.map_err(|e| format!("docker driver: {e}"))?,
        )),
        DriverChoice::Process => process(),
        DriverChoice::Auto => match docker().await {
            Ok(d) => Ok(Arc::new(d)),
            Err(e) => {
                info!(reason = %e, "no docker engine: tasks run as host processes");
                process()
            }
        },
    }
}

/// What the daemon hears from the agent's session.
pub struct Hooks {
    /// The managers' addresses changed.
    pub on_managers: shoal_agent::session::ManagersChanged,
    /// The role the managers want this node to have.
    pub on_role: shoal_agent::session::RoleChanged,
    /// The routing mesh's table.
    pub on_routes: shoal_agent::session::RoutesChanged,
    /// The overlay networks' table.
    pub on_networks: shoal_agent::session::NetworksChanged,
}

impl Agent {
    /// Starts the worker and its session with `managers`; the callbacks hear of changes to the
    /// managers' addresses, of the role the managers want this node to have, and of the
    /// routing mesh's table.
    pub fn start(
        driver: Arc<dyn Driver>,
        data_dir: &Path,
        node_id: &str,
        managers: Vec<String>,
        tls: &TlsMaterial,
        description: NodeDescription,
        hooks: Hooks,
    ) -> Result<Agent, String> {
        let worker = Arc::new(
            Worker::new(driver, &data_dir.join("agent"), node_id).map_err(|e| e.to_string())?,
        );
        let cfg = SessionConfig {
            managers,
            root_pem: tls.root_pem.clone(),
            cert_pem: tls.cert_pem.clone(),
            key_pem: tls.key_pem.clone(),
            description,
            on_managers: Some(hooks.on_managers),
            on_role: Some(hooks.on_role),
            on_routes: Some(hooks.on_routes),
            on_networks: Some(hooks.on_networks),
        };
        let stop = CancellationToken::new();
        let session = tokio::spawn(run_session(cfg, worker.clone(), stop.clone()));
        Ok(Agent {
            worker,
            stop,
            session,
        })
    }

    /// Ends the session; with `remove_tasks` (leaving the swarm) also stops every task.
    pub async fn stop(self, remove_tasks: bool) {
        self.stop.cancel();
        let _ = self.session.await;
        if remove_tasks {
            let _ = self.worker.assign(Vec::new()).await;
        }
    }
}
