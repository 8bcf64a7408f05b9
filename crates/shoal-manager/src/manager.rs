//! The manager role's lifetime: open the store, serve the cluster port, stop cleanly.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shoal_store::{Store, StoreConfig, StoreError};
use shoal_types::{Cluster, Error, Node};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::auth::Authorizer;
use crate::ca::CaService;
use crate::dispatcher::{DispatcherConfig, DispatcherService, LogBroker, Sessions};
use crate::grpc::{self, MtlsConnector, TlsMaterial};
use crate::loops;
use crate::members::MembershipService;
use crate::tls_server::ServerTls;

/// How a manager starts.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Where the Raft store lives (`<data-dir>/raft`).
    pub store_dir: PathBuf,
    pub node_id: String,
    pub cluster_id: String,
    pub raft_id: u64,
    /// `host:port` this manager is reached at.
    pub advertise_addr: String,
    pub tls: TlsMaterial,
    /// Raft entries between snapshots.
    pub snapshot_interval: u64,
    /// Missed heartbeat periods before a node is Down.
    pub heartbeat_grace_periods: u32,
    /// Seals the store's log and snapshots on disk; plain when `None` (tests).
    pub data_key: Option<[u8; shoal_store::DATA_KEY_LEN]>,
}

/// Why a manager could not start.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("cluster store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Api(#[from] Error),
}

/// A running manager.
pub struct Manager {
    pub(crate) store: Store,
    pub(crate) node_id: String,
    pub(crate) advertise_addr: String,
    pub(crate) logs: Arc<LogBroker>,
    /// Channels to other managers (mutual TLS with this node's certificate).
    pub(crate) connector: Arc<MtlsConnector>,
    server_tls: Arc<ServerTls>,
    shutdown: CancellationToken,
    server: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Manager {
    /// Opens the store and starts serving the cluster port on `listener`.
    pub async fn start(cfg: ManagerConfig, listener: TcpListener) -> Result<Manager, ManagerError> {
        let mut store_cfg = StoreConfig::new(cfg.store_dir.clone(), cfg.raft_id);
        store_cfg.snapshot_interval = cfg.snapshot_interval;
        if let Some(key) = &cfg.data_key {
            store_cfg.sealer = shoal_store::Sealer::new(key);
        }
        let connector = MtlsConnector::new(cfg.tls.clone());
        let server_tls = Arc::new(ServerTls::new(&cfg.tls).map_err(Error::internal)?);
        let store = Store::open(store_cfg, connector.clone()).await?;
        let shutdown = CancellationToken::new();
        let sessions = Arc::new(Sessions::new(DispatcherConfig {
            grace_periods: cfg.heartbeat_grace_periods.max(1),
            ..DispatcherConfig::default()
        }));
        let logs = Arc::new(LogBroker::default());
        let auth = Authorizer::new(cfg.cluster_id.clone(), store.clone());
        let services = grpc::Services {
            raft: store.raft().clone(),
            auth: auth.clone(),
            dispatcher: DispatcherService::new(
                store.clone(),
                sessions.clone(),
                logs.clone(),
                auth.clone(),
                shutdown.clone(),
            ),
            ca: CaService::new(store.clone(), auth.clone(), cfg.tls.root_pem.clone()),
            membership: MembershipService::new(store.clone(), auth, logs.clone()),
        };
        let server = tokio::spawn({
            let (token, tls) = (shutdown.clone(), server_tls.clone());
            async move {
                if let Err(e) = grpc::serve(listener, tls, services, token).await {
                    error!(error = %e, "cluster port stopped");
                }
            }
        });
        let (s, t) = (store.clone(), shutdown.clone());
        tokio::spawn(async move { sessions.monitor(s, t).await });
        tokio::spawn(loops::orchestrate(store.clone(), shutdown.clone()));
        tokio::spawn(loops::schedule(store.clone(), shutdown.clone()));
        tokio::spawn(loops::reachability(store.clone(), shutdown.clone()));
        tokio::spawn(loops::demote(store.clone(), shutdown.clone()));
        Ok(Manager {
            store,
            node_id: cfg.node_id,
            advertise_addr: cfg.advertise_addr,
            logs,
            connector,
            server_tls,
            shutdown,
            server: std::sync::Mutex::new(Some(server)),
        })
    }

    /// Makes this manager the first member of a new swarm and writes the initial objects.
    pub async fn bootstrap(&self, cluster: Cluster, node: Node) -> Result<(), ManagerError> {
        self.store.bootstrap(&self.advertise_addr).await?;
        let ingress = crate::control::ingress_network(&cluster)?;
        self.store
            .update(|tx| {
                tx.create(cluster)?;
                tx.create(ingress)?;
                tx.create(node)
            })
            .await?;
        info!(node.id = %self.node_id, "swarm initialised");
        Ok(())
    }

    /// Waits until the store can take writes (after a restart).
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), ManagerError> {
        Ok(self.store.wait_leader(timeout).await?)
    }

    /// Waits until some manager leads (after a restart of a multi-manager swarm).
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<(), ManagerError> {
        self.store
            .raft()
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(format!("no leader: {e}")).into())
    }

    /// Serves and dials with a renewed certificate from now on.
    pub fn reload_tls(&self, tls: TlsMaterial) -> Result<(), Error> {
        self.server_tls.reload(&tls).map_err(Error::internal)?;
        self.connector.reload(tls);
        Ok(())
    }

    /// The replicated store (reconcilers and tests read it directly).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This manager's node ID.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Stops serving and closes the store.
    /// Stops serving, ends the reconcile loops and closes the store. Takes `&self` so it works
    /// while an API request still holds the manager; that request then fails cleanly.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        self.store.shutdown().await;
        let server = self.server.lock().expect("server handle").take();
        if let Some(server) = server {
            let _ = server.await;
        }
    }
}
