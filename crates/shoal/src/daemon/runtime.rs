//! The node: inactive until `swarm init` or `swarm join`, then a manager or a worker; every
//! node in a swarm runs an agent. Implements the HTTP API's `Backend` by delegating cluster
//! calls to the manager (a worker answers them with Docker's "not a swarm manager" error).
//! Joining and leaving live in `lifecycle`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use shoal_agent::EngineProbe;
use shoal_agent::session::Wanted;
use shoal_manager::{Manager, ManagerConfig, TlsMaterial};
use shoal_types::info::{InitRequest, JoinRequest, SwarmInfo, SwarmUpdateFlags};
use shoal_types::secret::{ConfigSpec, SecretSpec};
use shoal_types::service::ServiceSpec;
use shoal_types::{
    Config, Error, Filters, Node, NodeDescription, NodeSpec, Secret, Service, Swarm, SwarmSpec,
    Task,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::addr;
use super::agent::{self, Agent, Hooks};
use super::config::DaemonConfig;
use super::mesh::MeshRunner;
use super::overlay::OverlayRunner;
use super::state_file::{LocalRole, NodeFiles, SwarmState};

/// One daemon's node.
pub struct NodeRuntime {
    pub(crate) cfg: DaemonConfig,
    pub(crate) files: NodeFiles,
    pub(crate) engine: Option<EngineProbe>,
    pub(crate) description: NodeDescription,
    pub(crate) manager: RwLock<Option<Arc<Manager>>>,
    /// Who this node is in its swarm (manager or worker), while it is in one.
    pub(crate) state: RwLock<Option<SwarmState>>,
    /// The node's agent, running whenever the node is in a swarm.
    agent: tokio::sync::Mutex<Option<Agent>>,
    /// Serialises init, join, leave and role changes.
    pub(crate) lifecycle: tokio::sync::Mutex<()>,
    /// Roles the managers asked this node to take (promote, demote), from the agent's session.
    /// The store key in memory: given back by `swarm unlock`, or read once autolock sealed
    /// the file.
    pub(crate) data_key: std::sync::Mutex<Option<[u8; shoal_store::DATA_KEY_LEN]>>,
    /// Set while this manager is locked (autolock): its identity, waiting for `swarm unlock`.
    pub(crate) locked: std::sync::Mutex<Option<(SwarmState, TlsMaterial)>>,
    role_tx: mpsc::UnboundedSender<Wanted>,
    /// The routing mesh: every published port of the swarm, on this node.
    mesh: Arc<MeshRunner>,
    /// The overlay networks' cross-node plumbing on this node.
    overlay: Arc<OverlayRunner>,
    pub(crate) role_rx: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Wanted>>>,
}

/// How long a restarted manager waits for its managers to elect a leader before serving anyway
/// (reads still answer without one; writes then fail with a clear error).
const RESUME_LEADER_WAIT: Duration = Duration::from_secs(10);

impl NodeRuntime {
    pub fn new(cfg: DaemonConfig, engine: Option<EngineProbe>) -> Self {
        let description = shoal_agent::describe_node(engine.as_ref());
        let files = NodeFiles::new(&cfg.data_dir);
        let (role_tx, role_rx) = mpsc::unbounded_channel();
        Self {
            data_key: Default::default(),
            locked: Default::default(),
            role_tx,
            mesh: MeshRunner::new(std::net::Ipv4Addr::UNSPECIFIED.into()),
            overlay: OverlayRunner::new(),
            role_rx: std::sync::Mutex::new(Some(role_rx)),
            cfg,
            files,
            engine,
            description,
            manager: RwLock::new(None),
            state: RwLock::new(None),
            agent: Default::default(),
            lifecycle: Default::default(),
        }
    }

    /// Rejoins the swarm this node was in before a restart, if any. A manager whose store key
    /// is sealed (autolock) stays locked until `swarm unlock`.
    pub async fn resume(&self) -> Result<(), String> {
        let Some((state, tls)) = self.files.load()? else {
            return Ok(());
        };
        if state.role == LocalRole::Manager && self.key_file_sealed() {
            info!(node.id = %state.node_id, "the swarm is locked: waiting for `swarm unlock`");
            *self.locked.lock().expect("locked") = Some((state, tls));
            return Ok(());
        }
        self.start_roles(state, &tls).await.map_err(|e| e.message)
    }

    /// Starts the manager role (managers) and the agent for a node already in a swarm.
    pub(crate) async fn start_roles(
        &self,
        state: SwarmState,
        tls: &TlsMaterial,
    ) -> Result<(), Error> {
        if state.role == LocalRole::Manager {
            let listen = addr::listen_addr(&state.listen_addr)?;
            let listener = TcpListener::bind(listen).await.map_err(|e| {
                Error::internal(format!(
                    "cannot listen on the cluster address {listen}: {e}"
                ))
            })?;
            let cfg = self.manager_config(&state, tls.clone())?;
            let manager = Manager::start(cfg, listener)
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
            if let Err(e) = manager.wait_for_leader(RESUME_LEADER_WAIT).await {
                warn!(error = %e, "no leader yet; serving reads, writes wait for a quorum");
            }
            *self.manager.write().expect("lock") = Some(Arc::new(manager));
        }
        info!(node.id = %state.node_id, role = ?state.role, "rejoined the swarm");
        self.start_agent(&state, tls).await?;
        *self.state.write().expect("lock") = Some(state);
        Ok(())
    }

    /// Starts the agent: it runs this node's tasks and keeps a session with the leader (on a
    /// manager, starting with its own cluster port; the mutual-TLS dispatcher is the same).
    pub(crate) async fn start_agent(
        &self,
        state: &SwarmState,
        tls: &TlsMaterial,
    ) -> Result<(), Error> {
        let driver = agent::driver(
            self.cfg.driver,
            &self.cfg.engine_socket,
            &state.node_id,
            &self.cfg.data_dir,
        )
        .await
        .map_err(Error::internal)?;
        let mut managers = state.managers.clone();
        if state.role == LocalRole::Manager {
            managers.retain(|m| m != &state.advertise_addr);
            managers.insert(0, state.advertise_addr.clone());
        }
        let files = self.files.clone();
        let on_managers: shoal_agent::session::ManagersChanged = Arc::new(move |m: &[String]| {
            if let Err(e) = files.save_managers(m) {
                warn!(error = %e, "cannot record the managers' addresses");
            }
        });
        let role_tx = self.role_tx.clone();
        let on_role: shoal_agent::session::RoleChanged = Arc::new(move |wanted| {
            let _ = role_tx.send(wanted);
        });
        let docker = driver.name() == "docker";
        let a = Agent::start(
            driver,
            &self.cfg.data_dir,
            &state.node_id,
            managers,
            tls,
            self.description.clone(),
            Hooks {
                on_managers,
                on_role,
                on_routes: self.mesh.on_routes(),
                on_networks: self.overlay.on_networks(),
            },
        )
        .map_err(Error::internal)?;
        self.mesh.ensure_running();
        if docker {
            self.overlay.ensure_running(&state.node_id);
        }
        *self.agent.lock().await = Some(a);
        Ok(())
    }

    /// Stops the agent; `remove_tasks` when leaving the swarm.
    pub(crate) async fn stop_agent(&self, remove_tasks: bool) {
        if let Some(a) = self.agent.lock().await.take() {
            a.stop(remove_tasks).await;
        }
        if remove_tasks {
            self.mesh.clear();
            self.overlay.clear();
        }
    }

    /// The running manager, or Docker's "not a swarm manager" error (for workers, its
    /// worker variant).
    pub(crate) fn manager(&self) -> Result<Arc<Manager>, Error> {
        if let Some(m) = self.manager.read().expect("lock").clone() {
            return Ok(m);
        }
        if self.locked.lock().expect("locked").is_some() {
            return Err(Error::unavailable(super::autolock::LOCKED));
        }
        if self.state.read().expect("lock").is_some() {
            return Err(Error::worker_not_manager());
        }
        Err(Error::not_a_manager())
    }

    pub(crate) fn swarm_info(&self) -> SwarmInfo {
        if let Ok(m) = self.manager() {
            return m.swarm_info();
        }
        if let Some((state, _)) = self.locked.lock().expect("locked").clone() {
            return SwarmInfo {
                node_id: state.node_id,
                local_node_state: shoal_types::info::LocalNodeState::Locked,
                ..Default::default()
            };
        }
        let Some(state) = self.state.read().expect("lock").clone() else {
            return SwarmInfo::default();
        };
        SwarmInfo {
            node_id: state.node_id.clone(),
            node_addr: state
                .advertise_addr
                .rsplit_once(':')
                .map_or(state.advertise_addr.clone(), |(h, _)| h.to_string()),
            local_node_state: shoal_types::info::LocalNodeState::Active,
            control_available: false,
            remote_managers: state
                .managers
                .iter()
                .map(|addr| shoal_types::info::PeerNode {
                    node_id: String::new(),
                    addr: addr.clone(),
                })
                .collect(),
            ..Default::default()
        }
    }

    /// The manager's configuration; its store's data key is read (or made, the first time).
    pub(crate) fn manager_config(
        &self,
        state: &SwarmState,
        tls: TlsMaterial,
    ) -> Result<ManagerConfig, Error> {
        let data_key = self.store_key()?;
        Ok(ManagerConfig {
            data_key: Some(data_key),
            store_dir: self.files.raft_dir(),
            node_id: state.node_id.clone(),
            cluster_id: state.cluster_id.clone(),
            raft_id: state.raft_id,
            advertise_addr: state.advertise_addr.clone(),
            tls,
            snapshot_interval: self.cfg.snapshot_interval,
            heartbeat_grace_periods: self.cfg.heartbeat_grace,
        })
    }

    /// Stops the manager role, if running (daemon shutdown).
    pub async fn stop(&self) {
        self.stop_agent(false).await;
        let manager = self.manager.write().expect("lock").take();
        if let Some(m) = manager {
            stop_manager(m).await;
        }
    }
}

pub(crate) async fn stop_manager(m: Arc<Manager>) {
    m.stop().await;
}

impl shoal_httpapi::Backend for NodeRuntime {
    fn swarm_status(&self) -> String {
        if self.locked.lock().expect("locked").is_some() {
            "locked".into()
        } else if self.manager.read().expect("lock").is_some() {
            "active/manager".into()
        } else if self.state.read().expect("lock").is_some() {
            "active/worker".into()
        } else {
            "inactive".into()
        }
    }

    fn version(&self) -> serde_json::Value {
        super::system::version_json(self)
    }

    async fn info(&self) -> Result<serde_json::Value, Error> {
        Ok(super::system::info_json(self))
    }

    async fn swarm_init(&self, req: InitRequest) -> Result<String, Error> {
        let id = self.init(req).await?;
        self.sync_autolock();
        Ok(id)
    }

    fn swarm_unlock_key(&self) -> Result<String, Error> {
        self.manager()?.unlock_key()
    }

    async fn swarm_unlock(&self, key: &str) -> Result<(), Error> {
        self.unlock(key).await
    }

    async fn swarm_join(&self, req: JoinRequest) -> Result<(), Error> {
        self.join(req).await
    }

    async fn swarm_leave(&self, force: bool) -> Result<(), Error> {
        self.leave(force).await
    }

    fn swarm_inspect(&self) -> Result<Swarm, Error> {
        self.manager()?.swarm()
    }

    async fn swarm_update(
        &self,
        version: u64,
        spec: SwarmSpec,
        flags: SwarmUpdateFlags,
    ) -> Result<(), Error> {
        self.manager()?.update_swarm(version, spec, flags).await?;
        self.sync_autolock();
        Ok(())
    }

    fn node_list(&self, filters: Filters) -> Result<Vec<Node>, Error> {
        self.manager()?.list_nodes(&filters)
    }

    fn node_inspect(&self, id: &str) -> Result<Node, Error> {
        self.manager()?.get_node(id)
    }

    async fn node_update(&self, id: &str, version: u64, spec: NodeSpec) -> Result<(), Error> {
        self.manager()?.update_node(id, version, spec).await
    }

    async fn node_remove(&self, id: &str, force: bool) -> Result<(), Error> {
        self.manager()?.remove_node(id, force).await
    }

    async fn service_create(&self, spec: ServiceSpec) -> Result<String, Error> {
        self.manager()?.create_service(spec).await
    }

    fn service_list(&self, filters: Filters, status: bool) -> Result<Vec<Service>, Error> {
        self.manager()?.list_services(&filters, status)
    }

    fn service_inspect(&self, id: &str, insert_defaults: bool) -> Result<Service, Error> {
        self.manager()?.get_service(id, insert_defaults)
    }

    async fn service_update(
        &self,
        id: &str,
        version: u64,
        spec: ServiceSpec,
        rollback: bool,
    ) -> Result<(), Error> {
        let rollback = if rollback {
            shoal_manager::control::Rollback::Previous
        } else {
            shoal_manager::control::Rollback::None
        };
        self.manager()?
            .update_service(id, version, spec, rollback)
            .await
    }

    async fn service_remove(&self, id: &str) -> Result<(), Error> {
        self.manager()?.remove_service(id).await
    }

    async fn secret_create(&self, spec: SecretSpec) -> Result<String, Error> {
        self.manager()?.create_secret(spec).await
    }
    fn secret_list(&self, filters: Filters) -> Result<Vec<Secret>, Error> {
        self.manager()?.list_secrets(&filters)
    }
    fn secret_inspect(&self, id: &str) -> Result<Secret, Error> {
        self.manager()?.get_secret(id)
    }
    async fn secret_update(&self, id: &str, version: u64, spec: SecretSpec) -> Result<(), Error> {
        self.manager()?.update_secret(id, version, spec).await
    }
    async fn secret_remove(&self, id: &str) -> Result<(), Error> {
        self.manager()?.remove_secret(id).await
    }
    async fn config_create(&self, spec: ConfigSpec) -> Result<String, Error> {
        self.manager()?.create_config(spec).await
    }
    fn config_list(&self, filters: Filters) -> Result<Vec<Config>, Error> {
        self.manager()?.list_configs(&filters)
    }
    fn config_inspect(&self, id: &str) -> Result<Config, Error> {
        self.manager()?.get_config(id)
    }
    async fn config_update(&self, id: &str, version: u64, spec: ConfigSpec) -> Result<(), Error> {
        self.manager()?.update_config(id, version, spec).await
    }
    async fn config_remove(&self, id: &str) -> Result<(), Error> {
        self.manager()?.remove_config(id).await
    }

    async fn network_create(
        &self,
        req: shoal_types::network::NetworkCreateRequest,
    ) -> Result<String, Error> {
        self.manager()?.create_network(req).await
    }
    fn network_list(&self, filters: Filters) -> Result<Vec<serde_json::Value>, Error> {
        self.manager()?.list_networks(&filters)
    }
    fn network_inspect(&self, id: &str) -> Result<serde_json::Value, Error> {
        self.manager()?.get_network(id)
    }
    async fn network_remove(&self, id: &str) -> Result<(), Error> {
        self.manager()?.remove_network(id).await
    }

    fn task_list(&self, filters: Filters) -> Result<Vec<Task>, Error> {
        self.manager()?.list_tasks(&filters)
    }

    fn task_inspect(&self, id: &str) -> Result<Task, Error> {
        self.manager()?.get_task(id)
    }

    async fn logs(
        &self,
        target: shoal_httpapi::LogTarget,
        follow: bool,
        tail: i64,
    ) -> Result<futures::stream::BoxStream<'static, shoal_types::LogEntry>, Error> {
        use shoal_manager::control::LogTarget as T;
        let manager = self.manager()?;
        match &target {
            shoal_httpapi::LogTarget::Service(s) => manager.logs(T::Service(s), follow, tail),
            shoal_httpapi::LogTarget::Task(t) => manager.logs(T::Task(t), follow, tail),
        }
    }
}
