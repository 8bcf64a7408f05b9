//! The node: inactive until `swarm init`, then a manager (workers arrive with the multi-node
//! issue). Implements the HTTP API's `Backend` by delegating cluster calls to the manager.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use shoal_agent::EngineProbe;
use shoal_ca::{Role, RootCa};
use shoal_manager::{ClusterParams, Manager, ManagerConfig, TlsMaterial};
use shoal_types::info::{InitRequest, JoinRequest, SwarmInfo, SwarmUpdateFlags};
use shoal_types::service::ServiceSpec;
use shoal_types::{
    Error, Filters, Node, NodeDescription, NodeSpec, Service, Swarm, SwarmSpec, Task,
};
use tokio::net::TcpListener;
use tracing::info;

use super::addr;
use super::agent::{self, Agent};
use super::config::DaemonConfig;
use super::state_file::{NodeFiles, SwarmState};

/// One daemon's node.
pub struct NodeRuntime {
    pub(crate) cfg: DaemonConfig,
    files: NodeFiles,
    pub(crate) engine: Option<EngineProbe>,
    pub(crate) description: NodeDescription,
    manager: RwLock<Option<Arc<Manager>>>,
    /// The node's agent, running whenever the node is in a swarm.
    agent: tokio::sync::Mutex<Option<Agent>>,
    /// Serialises init, join and leave.
    lifecycle: tokio::sync::Mutex<()>,
}

impl NodeRuntime {
    pub fn new(cfg: DaemonConfig, engine: Option<EngineProbe>) -> Self {
        let description = shoal_agent::describe_node(engine.as_ref());
        let files = NodeFiles::new(&cfg.data_dir);
        Self {
            cfg,
            files,
            engine,
            description,
            manager: RwLock::new(None),
            agent: Default::default(),
            lifecycle: Default::default(),
        }
    }

    /// Rejoins the swarm this node was in before a restart, if any.
    pub async fn resume(&self) -> Result<(), String> {
        let Some((state, tls)) = self.files.load()? else {
            return Ok(());
        };
        let listen = addr::listen_addr(&state.listen_addr).map_err(|e| e.message)?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on the cluster address {listen}: {e}"))?;
        let tls_for_agent = tls.clone();
        let manager = Manager::start(self.manager_config(&state, tls), listener)
            .await
            .map_err(|e| e.to_string())?;
        manager
            .wait_ready(Duration::from_secs(30))
            .await
            .map_err(|e| e.to_string())?;
        info!(node.id = %state.node_id, "rejoined the swarm");
        *self.manager.write().expect("lock") = Some(Arc::new(manager));
        self.start_agent(&state, &tls_for_agent)
            .await
            .map_err(|e| e.message)
    }

    /// Starts the agent: it runs this node's tasks and keeps a session with the managers
    /// (on one node, with its own manager, through the same mutual-TLS dispatcher).
    async fn start_agent(&self, state: &SwarmState, tls: &TlsMaterial) -> Result<(), Error> {
        let driver = agent::driver(
            self.cfg.driver,
            &self.cfg.engine_socket,
            &state.node_id,
            &self.cfg.data_dir,
        )
        .await
        .map_err(Error::internal)?;
        let managers = vec![state.advertise_addr.clone()];
        let a = Agent::start(
            driver,
            &self.cfg.data_dir,
            &state.node_id,
            managers,
            tls,
            self.description.clone(),
        )
        .map_err(Error::internal)?;
        *self.agent.lock().await = Some(a);
        Ok(())
    }

    /// Stops the agent; `remove_tasks` when leaving the swarm.
    async fn stop_agent(&self, remove_tasks: bool) {
        if let Some(a) = self.agent.lock().await.take() {
            a.stop(remove_tasks).await;
        }
    }

    /// The running manager, or Docker's "not a swarm manager" error.
    pub(crate) fn manager(&self) -> Result<Arc<Manager>, Error> {
        self.manager
            .read()
            .expect("lock")
            .clone()
            .ok_or_else(Error::not_a_manager)
    }

    pub(crate) fn swarm_info(&self) -> SwarmInfo {
        match self.manager() {
            Ok(m) => m.swarm_info(),
            Err(_) => SwarmInfo::default(),
        }
    }

    fn manager_config(&self, state: &SwarmState, tls: TlsMaterial) -> ManagerConfig {
        ManagerConfig {
            store_dir: self.files.raft_dir(),
            node_id: state.node_id.clone(),
            raft_id: state.raft_id,
            advertise_addr: state.advertise_addr.clone(),
            tls,
            snapshot_interval: self.cfg.snapshot_interval,
            heartbeat_grace_periods: self.cfg.heartbeat_grace,
        }
    }

    /// Stops the manager role, if running (daemon shutdown).
    pub async fn stop(&self) {
        self.stop_agent(false).await;
        let manager = self.manager.write().expect("lock").take();
        if let Some(m) = manager {
            stop_manager(m).await;
        }
    }

    async fn init(&self, req: InitRequest) -> Result<String, Error> {
        let _guard = self.lifecycle.lock().await;
        if self.manager.read().expect("lock").is_some() {
            return Err(Error::already_in_swarm());
        }
        let listen_raw = if req.listen_addr.is_empty() {
            self.cfg.listen_addr.clone()
        } else {
            req.listen_addr.clone()
        };
        let listen = addr::listen_addr(&listen_raw)?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| Error::invalid(format!("failed to listen on remote API address: {e}")))?;
        let listen = listener
            .local_addr()
            .map_err(|e| Error::internal(e.to_string()))?;
        let requested = Some(req.advertise_addr.as_str())
            .filter(|s| !s.is_empty())
            .or(self.cfg.advertise_addr.as_deref());
        let advertise = addr::advertise_addr(requested, listen)?;
        let params = self.cluster_params(&req, advertise.clone())?;
        let root = RootCa::generate(SystemTime::now()).map_err(ca_err)?;
        let cert = root
            .issue(
                &params.node_id,
                Role::Manager,
                &params.cluster_id,
                SystemTime::now(),
                shoal_ca::DEFAULT_NODE_CERT_VALIDITY,
            )
            .map_err(ca_err)?;
        let tls = TlsMaterial {
            root_pem: root.cert_pem.clone(),
            cert_pem: cert.cert_pem,
            key_pem: cert.key_pem,
        };
        let (cluster, node) = shoal_manager::initial_objects(&params, &root)?;
        let state = SwarmState::new(
            params.node_id.clone(),
            params.cluster_id.clone(),
            params.raft_id,
            listen.to_string(),
            advertise,
        );
        // A half-made swarm must not survive: any failure below removes what was written.
        let _ = self.files.remove_all();
        let manager = Manager::start(self.manager_config(&state, tls.clone()), listener)
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        if let Err(e) = manager.bootstrap(cluster, node).await {
            stop_manager(Arc::new(manager)).await;
            let _ = self.files.remove_all();
            return Err(Error::internal(format!("cannot initialise the swarm: {e}")));
        }
        if let Err(e) = self.files.save(&state, &tls) {
            stop_manager(Arc::new(manager)).await;
            let _ = self.files.remove_all();
            return Err(Error::internal(e));
        }
        *self.manager.write().expect("lock") = Some(Arc::new(manager));
        self.start_agent(&state, &tls).await?;
        Ok(params.node_id)
    }

    fn cluster_params(
        &self,
        req: &InitRequest,
        advertise_addr: String,
    ) -> Result<ClusterParams, Error> {
        let mut spec = req.spec.clone().unwrap_or_default();
        if spec.name.is_empty() {
            spec.name = "default".into();
        }
        // Docker's CLI sends zeros for what the user did not set; zero means "default" here.
        let defaults = SwarmSpec::default();
        if spec.dispatcher.heartbeat_period == 0 {
            spec.dispatcher = defaults.dispatcher.clone();
        }
        if spec.ca_config.node_cert_expiry == 0 {
            spec.ca_config.node_cert_expiry = defaults.ca_config.node_cert_expiry;
        }
        let raft = &mut spec.raft;
        if raft.snapshot_interval == 0 {
            raft.snapshot_interval = defaults.raft.snapshot_interval;
        }
        if raft.election_tick == 0 {
            raft.election_tick = defaults.raft.election_tick;
        }
        if raft.heartbeat_tick == 0 {
            raft.heartbeat_tick = defaults.raft.heartbeat_tick;
        }
        spec.encryption_config.auto_lock_managers = req.auto_lock_managers;
        if req.auto_lock_managers {
            return Err(Error::new(
                shoal_types::ErrorKind::NotImplemented,
                "autolock is not available yet in this version of shoal",
            ));
        }
        Ok(ClusterParams {
            cluster_id: shoal_types::new_id(),
            node_id: shoal_types::new_id(),
            raft_id: rand::random::<u64>().max(1),
            advertise_addr,
            spec,
            default_addr_pool: req.default_addr_pool.clone(),
            subnet_size: req.subnet_size,
            data_path_port: req.data_path_port,
            availability: req.availability.unwrap_or_default(),
            description: self.description.clone(),
        })
    }

    async fn leave(&self, force: bool) -> Result<(), Error> {
        let _guard = self.lifecycle.lock().await;
        if self.manager.read().expect("lock").is_none() {
            return Err(Error::unavailable("This node is not part of a swarm"));
        }
        if !force {
            return Err(Error::unavailable(
                "You are attempting to leave the swarm on a node that is participating as a manager. \
                 Removing the last manager erases all current state of the swarm. Use `--force` to \
                 ignore this message.",
            ));
        }
        self.stop_agent(true).await;
        let manager = self.manager.write().expect("lock").take();
        if let Some(m) = manager {
            stop_manager(m).await;
        }
        self.files.remove_all().map_err(Error::internal)?;
        info!("left the swarm");
        Ok(())
    }
}

async fn stop_manager(m: Arc<Manager>) {
    m.stop().await;
}

fn ca_err(e: shoal_ca::CaError) -> Error {
    Error::internal(format!("certificate authority: {e}"))
}

impl shoal_httpapi::Backend for NodeRuntime {
    fn swarm_status(&self) -> String {
        if self.manager.read().expect("lock").is_some() {
            "active/manager".into()
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
        self.init(req).await
    }

    async fn swarm_join(&self, _req: JoinRequest) -> Result<(), Error> {
        if self.manager.read().expect("lock").is_some() {
            return Err(Error::already_in_swarm());
        }
        Err(Error::new(
            shoal_types::ErrorKind::NotImplemented,
            "joining an existing swarm is not available yet in this version of shoal",
        ))
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
        self.manager()?.update_swarm(version, spec, flags).await
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
