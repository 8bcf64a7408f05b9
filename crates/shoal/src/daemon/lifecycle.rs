//! Entering and leaving a swarm: `swarm init` (a new cluster with this node as its first
//! manager), `swarm join` (through a manager's certificate authority, as a worker or a manager,
//! as the token says) and `swarm leave` (a manager first leaves the Raft membership).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use shoal_agent::join::{JoinError, JoinParams};
use shoal_agent::session::Wanted;
use shoal_ca::{Role, RootCa};
use shoal_manager::{ClusterParams, Manager, TlsMaterial};
use shoal_types::info::{InitRequest, JoinRequest};
use shoal_types::{Error, NodeRole, Reachability, SwarmSpec};
use tokio::net::TcpListener;
use tracing::{info, warn};

use super::addr;
use super::runtime::{NodeRuntime, stop_manager};
use super::state_file::{LocalRole, SwarmState};

/// How long a joining manager may take to become a voter and catch up.
const MANAGER_JOIN_TIMEOUT: Duration = Duration::from_secs(60);

impl NodeRuntime {
    /// Binds the cluster port (`listen_raw` or the daemon's default) and picks the address to
    /// advertise, as Docker does.
    async fn bind_cluster_port(
        &self,
        listen_raw: &str,
        advertise_raw: &str,
    ) -> Result<(TcpListener, SocketAddr, String), Error> {
        let listen_raw = if listen_raw.is_empty() {
            self.cfg.listen_addr.as_str()
        } else {
            listen_raw
        };
        let listen = addr::listen_addr(listen_raw)?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| Error::invalid(format!("failed to listen on remote API address: {e}")))?;
        let listen = listener
            .local_addr()
            .map_err(|e| Error::internal(e.to_string()))?;
        let requested = Some(advertise_raw)
            .filter(|s| !s.is_empty())
            .or(self.cfg.advertise_addr.as_deref());
        let advertise = addr::advertise_addr(requested, listen)?;
        Ok((listener, listen, advertise))
    }

    pub(crate) async fn init(&self, req: InitRequest) -> Result<String, Error> {
        let _guard = self.lifecycle.lock().await;
        if self.state.read().expect("lock").is_some() {
            if req.force_new_cluster && self.manager.read().expect("lock").is_some() {
                return self.force_new_cluster().await;
            }
            return Err(Error::already_in_swarm());
        }
        check_data_path_port(req.data_path_port)?;
        let (listener, listen, advertise) = self
            .bind_cluster_port(&req.listen_addr, &req.advertise_addr)
            .await?;
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
        let manager = Manager::start(self.manager_config(&state, tls.clone())?, listener)
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
        *self.state.write().expect("lock") = Some(state);
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

    /// `POST /swarm/join`.
    pub(crate) async fn join(&self, req: JoinRequest) -> Result<(), Error> {
        let _guard = self.lifecycle.lock().await;
        if self.state.read().expect("lock").is_some() {
            return Err(Error::already_in_swarm());
        }
        let remote = req
            .remote_addrs
            .first()
            .ok_or_else(|| Error::invalid("at least 1 RemoteAddr is required to join"))?;
        let (host, port) = shoal_types::validate::host_port(remote, 2377)?;
        let remote = format!("{host}:{port}");
        let (listener, listen, advertise) = self
            .bind_cluster_port(&req.listen_addr, &req.advertise_addr)
            .await?;
        let params = JoinParams {
            token: req.join_token.clone(),
            remote: remote.clone(),
            availability: req.availability.unwrap_or_default().as_str().to_string(),
            advertise_addr: advertise.clone(),
            description: self.description.clone(),
        };
        let joined = shoal_agent::join::join(&params).await.map_err(join_err)?;
        let role = match joined.role {
            Role::Manager => LocalRole::Manager,
            Role::Worker => LocalRole::Worker,
        };
        let mut state = SwarmState::new(
            joined.node_id.clone(),
            joined.cluster_id.clone(),
            if role == LocalRole::Manager {
                rand::random::<u64>().max(1)
            } else {
                0
            },
            listen.to_string(),
            advertise,
        );
        state.role = role;
        state.managers = if joined.managers.is_empty() {
            vec![remote]
        } else {
            joined.managers.clone()
        };
        let tls = TlsMaterial {
            root_pem: joined.root_pem.clone(),
            cert_pem: joined.cert_pem.clone(),
            key_pem: joined.key_pem.clone(),
        };
        let _ = self.files.remove_all();
        if role == LocalRole::Manager {
            if let Err(e) = self.start_joined_manager(&state, &tls, listener).await {
                let _ = self.files.remove_all();
                return Err(e);
            }
        } else {
            drop(listener); // workers serve nothing on the cluster port
        }
        if let Err(e) = self.files.save(&state, &tls) {
            self.stop().await;
            let _ = self.files.remove_all();
            return Err(Error::internal(e));
        }
        self.start_agent(&state, &tls).await?;
        info!(node.id = %state.node_id, role = ?role, "joined the swarm");
        *self.state.write().expect("lock") = Some(state);
        Ok(())
    }

    /// A new manager: its store starts empty and fills from the leader once it is a voter.
    async fn start_joined_manager(
        &self,
        state: &SwarmState,
        tls: &TlsMaterial,
        listener: TcpListener,
    ) -> Result<(), Error> {
        let manager = Manager::start(self.manager_config(state, tls.clone())?, listener)
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        let manager = Arc::new(manager);
        if let Err(e) = manager
            .join_raft(&state.managers, MANAGER_JOIN_TIMEOUT)
            .await
        {
            stop_manager(manager).await;
            return Err(e);
        }
        *self.manager.write().expect("lock") = Some(manager);
        Ok(())
    }

    /// `swarm init --force-new-cluster` on a manager: restart its Raft store as a cluster of
    /// one that holds this manager's copy of the swarm (the lost majority is left behind).
    /// Workers, tokens and certificates stay as they were.
    async fn force_new_cluster(&self) -> Result<String, Error> {
        let Some((state, tls)) = self.files.load().map_err(Error::internal)? else {
            return Err(Error::not_a_manager());
        };
        let manager = self.manager.write().expect("lock").take();
        let Some(manager) = manager else {
            return Err(Error::not_a_manager());
        };
        let objects = manager.export_objects();
        stop_manager(manager).await;
        let old = self
            .files
            .raft_dir()
            .with_extension("before-force-new-cluster");
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(self.files.raft_dir(), &old)
            .map_err(|e| Error::internal(format!("cannot set the old raft store aside: {e}")))?;
        let (listener, _, _) = self
            .bind_cluster_port(&state.listen_addr, &state.advertise_addr)
            .await?;
        let manager = Manager::start(self.manager_config(&state, tls)?, listener)
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        if let Err(e) = manager.bootstrap_from(objects).await {
            stop_manager(Arc::new(manager)).await;
            return Err(Error::internal(format!(
                "cannot start the new cluster: {e}"
            )));
        }
        *self.manager.write().expect("lock") = Some(Arc::new(manager));
        warn!(node.id = %state.node_id, "forced a new cluster from this manager's state");
        Ok(state.node_id)
    }

    /// Takes the roles the managers ask for (after `node promote` / `node demote`), one at a
    /// time, and leaves the swarm locally once removed from it (`node rm`), until the daemon
    /// stops.
    pub async fn follow_role_changes(self: Arc<Self>) {
        let Some(mut rx) = self.role_rx.lock().expect("role_rx").take() else {
            return;
        };
        while let Some(mut wanted) = rx.recv().await {
            while let Ok(w) = rx.try_recv() {
                wanted = w;
            }
            let result = match wanted {
                Wanted::Role(role) => self.change_role(role).await,
                Wanted::Removed => self.removed_from_swarm().await,
            };
            if let Err(e) = result {
                warn!(error = %e, ?wanted, "membership change failed; will retry");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// `node rm` took this node out of the swarm: stop its tasks and forget the swarm, as
    /// `swarm leave` would (a manager is never removed while it is one).
    async fn removed_from_swarm(&self) -> Result<(), Error> {
        let _guard = self.lifecycle.lock().await;
        if self.state.read().expect("lock").is_none() {
            return Ok(());
        }
        self.stop_agent(true).await;
        let manager = self.manager.write().expect("lock").take();
        if let Some(m) = manager {
            stop_manager(m).await;
        }
        *self.state.write().expect("lock") = None;
        self.files.remove_all().map_err(Error::internal)?;
        warn!("removed from the swarm by a manager: left it");
        Ok(())
    }

    /// Renews the certificate; once the CA grants `wanted`, starts or stops the manager role.
    /// The agent restarts with the new certificate and adopts the tasks it left running. On a
    /// failure the node goes on as it was, with its old certificate, and the next heartbeat asks
    /// again.
    async fn change_role(&self, wanted: Role) -> Result<(), Error> {
        let _guard = self.lifecycle.lock().await;
        let Some((mut state, old_tls)) = self.files.load().map_err(Error::internal)? else {
            return Ok(());
        };
        let current = match state.role {
            LocalRole::Manager => Role::Manager,
            LocalRole::Worker => Role::Worker,
        };
        if current == wanted {
            return Ok(());
        }
        let renewed = shoal_agent::join::renew(
            &state.managers,
            &old_tls.root_pem,
            &old_tls.cert_pem,
            &old_tls.key_pem,
        )
        .await
        .map_err(join_err)?;
        if renewed.role != wanted {
            return Ok(()); // e.g. still a Raft member: the leader removes it first
        }
        let tls = TlsMaterial {
            root_pem: old_tls.root_pem.clone(),
            cert_pem: renewed.cert_pem,
            key_pem: renewed.key_pem,
        };
        self.stop_agent(false).await;
        let switched = match wanted {
            Role::Manager => self.become_manager(&mut state, &tls).await,
            Role::Worker => self.become_worker(&mut state).await,
        };
        let result = switched.and_then(|()| self.files.save(&state, &tls).map_err(Error::internal));
        if let Err(e) = result {
            let _ = self.start_agent(&state, &old_tls).await;
            return Err(e);
        }
        self.start_agent(&state, &tls).await?;
        info!(node.id = %state.node_id, role = ?state.role, "role changed");
        *self.state.write().expect("lock") = Some(state);
        Ok(())
    }

    async fn become_manager(&self, state: &mut SwarmState, tls: &TlsMaterial) -> Result<(), Error> {
        let (listener, listen, advertise) = self
            .bind_cluster_port(&state.listen_addr, &state.advertise_addr)
            .await?;
        let _ = std::fs::remove_dir_all(self.files.raft_dir());
        let mut next = state.clone();
        next.role = LocalRole::Manager;
        next.raft_id = rand::random::<u64>().max(1);
        next.listen_addr = listen.to_string();
        next.advertise_addr = advertise;
        self.start_joined_manager(&next, tls, listener).await?;
        *state = next;
        Ok(())
    }

    async fn become_worker(&self, state: &mut SwarmState) -> Result<(), Error> {
        let manager = self.manager.write().expect("lock").take();
        if let Some(m) = manager {
            stop_manager(m).await;
        }
        let _ = std::fs::remove_dir_all(self.files.raft_dir());
        state.role = LocalRole::Worker;
        state.raft_id = 0;
        Ok(())
    }

    /// `POST /swarm/unlock`: the key opens the sealed store key, and the manager starts.
    pub(crate) async fn unlock(&self, key: &str) -> Result<(), Error> {
        let _guard = self.lifecycle.lock().await;
        let Some((state, tls)) = self.locked.lock().expect("locked").clone() else {
            return Err(Error::conflict("swarm is not locked"));
        };
        let store_key = self.open_with(key)?;
        *self.data_key.lock().expect("data key") = Some(store_key);
        self.start_roles(state, &tls).await?;
        *self.locked.lock().expect("locked") = None;
        info!("swarm unlocked");
        Ok(())
    }

    /// `POST /swarm/leave[?force=1]`.
    pub(crate) async fn leave(&self, force: bool) -> Result<(), Error> {
        let _guard = self.lifecycle.lock().await;
        if self.locked.lock().expect("locked").take().is_some() {
            // A locked manager cannot reach its store: only a forced leave, which forgets it.
            if !force {
                return Err(Error::unavailable(super::autolock::LOCKED));
            }
            self.files.remove_all().map_err(Error::internal)?;
            info!("left the swarm while locked");
            return Ok(());
        }
        if self.state.read().expect("lock").is_none() {
            return Err(Error::unavailable("This node is not part of a swarm"));
        }
        let manager = self.manager.read().expect("lock").clone();
        if let Some(m) = &manager {
            if !force {
                refuse_unsafe_leave(m)?;
            }
            if let Err(e) = m.leave_raft().await {
                if !force {
                    return Err(e);
                }
                warn!(error = %e, "could not leave the managers cleanly; leaving anyway (--force)");
            }
        }
        self.stop_agent(true).await;
        let manager = self.manager.write().expect("lock").take();
        if let Some(m) = manager {
            stop_manager(m).await;
        }
        *self.state.write().expect("lock") = None;
        *self.data_key.lock().expect("data key") = None;
        self.files.remove_all().map_err(Error::internal)?;
        info!("left the swarm");
        Ok(())
    }
}

/// Docker's refusals for a manager leaving without `--force`: the last manager, or one whose
/// departure would cost the managers their quorum (moby `daemon/cluster/swarm.go Leave`).
fn refuse_unsafe_leave(m: &Manager) -> Result<(), Error> {
    let nodes = m.list_nodes(&Default::default())?;
    let managers: Vec<_> = nodes
        .iter()
        .filter(|n| n.spec.role == NodeRole::Manager)
        .collect();
    if managers.len() <= 1 {
        return Err(Error::unavailable(
            "You are attempting to leave the swarm on a node that is participating as a manager. \
             Removing the last manager erases all current state of the swarm. Use `--force` to \
             ignore this message.",
        ));
    }
    let reachable = managers
        .iter()
        .filter(|n| {
            n.manager_status
                .as_ref()
                .is_some_and(|s| s.reachability == Reachability::Reachable)
        })
        .count();
    if reachable.saturating_sub(1) <= managers.len() / 2 {
        return Err(Error::unavailable(format!(
            "You are attempting to leave the swarm on a node that is participating as a manager. \
             Removing this node leaves {} managers out of {}. Without a Raft quorum your swarm \
             will be inaccessible. The only way to restore a swarm that has lost consensus is to \
             reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.",
            reachable.saturating_sub(1),
            managers.len()
        )));
    }
    Ok(())
}

/// A failed join as Docker reports it (swarmkit's errors pass through as gRPC texts).
fn join_err(e: JoinError) -> Error {
    match e {
        JoinError::Token(msg) => {
            Error::invalid(format!("rpc error: code = InvalidArgument desc = {msg}"))
        }
        JoinError::Fingerprint(_) => Error::invalid(e.to_string()),
        JoinError::Unreachable { .. } => Error::unavailable(e.to_string()),
        JoinError::Refused(msg) => Error::unavailable(msg),
    }
}

fn ca_err(e: shoal_ca::CaError) -> Error {
    Error::internal(format!("certificate authority: {e}"))
}

/// moby's `getDataPathPort`: 0 is the default (4789), else a registered port, 1024–49151.
fn check_data_path_port(port: u32) -> Result<(), Error> {
    if port == 0 || (1024..=49151).contains(&port) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "Datapath port number is not in valid range (1024-49151) : {port}"
    )))
}
