//! The agent's session with the managers: register with the node's description, receive
//! assignments (the complete set, then changes) and hand the full set to the worker, heartbeat
//! at the period the manager asks for, and send task status changes in batches. Reconnects with
//! backoff; status changes are kept (latest per task) until a session accepts them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use shoal_proto::dispatcher::dispatcher_client::DispatcherClient;
use shoal_proto::dispatcher::{
    HeartbeatRequest, LogMessage, LogSubscription, SessionRequest, TaskStatusUpdate,
    UpdateTaskStatusRequest, assignments::Kind,
};
use shoal_types::{NodeDescription, Task, TaskStatus};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tracing::{debug, info, warn};

use crate::driver::{LogOptions, LogSource};
use crate::worker::{StatusUpdate, Worker};

/// Called with the managers' addresses whenever the leader reports a different set (the
/// daemon keeps them so a restarted node finds the swarm even if its first manager is gone).
pub type ManagersChanged = Arc<dyn Fn(&[String]) + Send + Sync>;

/// Called with the routing mesh's table whenever the managers send a new one.
pub type RoutesChanged = Arc<dyn Fn(Vec<shoal_types::mesh::MeshRoute>) + Send + Sync>;

/// Called with each new overlay networks' table from the managers.
pub type NetworksChanged = Arc<dyn Fn(Vec<shoal_types::overlay::OverlayNetwork>) + Send + Sync>;

/// What the managers want this node to be, when it differs from what its certificate says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// Another role (after `node promote` or `node demote`): the daemon renews the certificate
    /// and starts or stops its manager role.
    Role(shoal_ca::Role),
    /// Out of the swarm (`node rm`): the daemon leaves it locally and stops its tasks.
    Removed,
}

/// Called with what the managers want this node to be.
pub type RoleChanged = Arc<dyn Fn(Wanted) + Send + Sync>;

/// How to reach the managers.
#[derive(Clone)]
pub struct SessionConfig {
    /// Manager cluster addresses (`host:port`), tried in turn.
    pub managers: Vec<String>,
    pub root_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub description: NodeDescription,
    pub on_managers: Option<ManagersChanged>,
    pub on_role: Option<RoleChanged>,
    pub on_routes: Option<RoutesChanged>,
    pub on_networks: Option<NetworksChanged>,
}

/// The managers this agent knows, kept current from session messages and heartbeats, and the
/// role they want this node to have.
#[derive(Clone)]
struct Managers {
    list: Arc<std::sync::Mutex<Vec<String>>>,
    on_change: Option<ManagersChanged>,
    /// The role in this node's certificate.
    cert_role: Option<shoal_ca::Role>,
    on_role: Option<RoleChanged>,
}

impl Managers {
    /// Reports a wanted role that differs from the certificate's.
    fn want_role(&self, role: &str) {
        let wanted = match role {
            "manager" => shoal_ca::Role::Manager,
            "worker" => shoal_ca::Role::Worker,
            _ => return,
        };
        if self.cert_role.is_some_and(|r| r != wanted)
            && let Some(f) = &self.on_role
        {
            f(Wanted::Role(wanted));
        }
    }

    fn removed(&self) {
        if let Some(f) = &self.on_role {
            f(Wanted::Removed);
        }
    }

    fn get(&self, i: usize) -> Option<String> {
        let list = self.list.lock().expect("managers");
        (!list.is_empty()).then(|| list[i % list.len()].clone())
    }

    fn set(&self, new: Vec<String>) {
        if new.is_empty() {
            return;
        }
        let mut list = self.list.lock().expect("managers");
        let (mut a, mut b) = (list.clone(), new.clone());
        a.sort();
        b.sort();
        if a != b {
            info!(managers = ?new, "managers changed");
            *list = new;
            if let Some(f) = &self.on_change {
                f(&list);
            }
        }
    }
}

/// Why a session ended: `leader` when the manager pointed at the leader; `removed` when this
/// node is no longer in the swarm.
struct Ended {
    message: String,
    leader: Option<String>,
    removed: bool,
}

impl From<String> for Ended {
    fn from(message: String) -> Self {
        Ended {
            message,
            leader: None,
            removed: false,
        }
    }
}

fn status_ended(s: &tonic::Status) -> Ended {
    Ended {
        message: s.message().to_string(),
        removed: s.code() == tonic::Code::PermissionDenied
            && s.message().contains("was removed from swarm"),
        leader: s
            .metadata()
            .get(shoal_proto::LEADER_METADATA)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// Most status changes sent in one request (swarmkit: 10,000).
const BATCH_MAX: usize = 10_000;

type Current = Option<(DispatcherClient<Channel>, String)>;

/// Runs the session (and reconnects) until `shutdown`.
pub async fn run_session(cfg: SessionConfig, worker: Arc<Worker>, shutdown: CancellationToken) {
    let (current_tx, current_rx) = watch::channel::<Current>(None);
    let statuses = worker.statuses();
    let sender = tokio::spawn(send_statuses(statuses, current_rx, shutdown.clone()));
    let managers = Managers {
        list: Arc::new(std::sync::Mutex::new(cfg.managers.clone())),
        on_change: cfg.on_managers.clone(),
        cert_role: shoal_ca::identity_from_pem(&cfg.cert_pem)
            .ok()
            .map(|id| id.role),
        on_role: cfg.on_role.clone(),
    };
    let mut backoff = Duration::from_millis(100);
    let mut next = 0usize;
    let mut redirect: Option<String> = None;
    while !shutdown.is_cancelled() {
        let Some(addr) = redirect.take().or_else(|| managers.get(next)) else {
            warn!("no manager to connect to");
            return;
        };
        next += 1;
        match one_session(&cfg, &addr, &worker, &current_tx, &managers, &shutdown).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(Ended {
                leader: Some(leader),
                ..
            }) if leader != addr => {
                debug!(manager = %addr, %leader, "redirected to the leader");
                redirect = Some(leader);
                let _ = current_tx.send(None);
                continue;
            }
            Err(e) if e.removed => {
                warn!(manager = %addr, error = %e.message, "this node was removed from the swarm");
                managers.removed();
                break;
            }
            Err(e) => {
                warn!(manager = %addr, error = %e.message, "agent session ended");
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
        let _ = current_tx.send(None);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(backoff) => {}
        }
    }
    let _ = sender.await;
}

fn channel(cfg: &SessionConfig, addr: &str) -> Result<Channel, String> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&cfg.root_pem))
        .identity(Identity::from_pem(&cfg.cert_pem, &cfg.key_pem))
        .domain_name("swarm-manager");
    Ok(Channel::from_shared(format!("https://{addr}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(3))
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_lazy())
}

async fn one_session(
    cfg: &SessionConfig,
    addr: &str,
    worker: &Arc<Worker>,
    current: &watch::Sender<Current>,
    managers: &Managers,
    shutdown: &CancellationToken,
) -> Result<(), Ended> {
    let mut client = DispatcherClient::new(channel(cfg, addr)?);
    let description_json = serde_json::to_vec(&cfg.description).map_err(|e| e.to_string())?;
    let mut stream = client
        .session(SessionRequest { description_json })
        .await
        .map_err(|s| status_ended(&s))?
        .into_inner();
    let mut assigned: BTreeMap<String, Task> = BTreeMap::new();
    let mut heartbeat: Option<tokio::task::JoinHandle<()>> = None;
    let mut logs = LogForwards::default();
    let ended = CancellationToken::new();
    let result = loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            _ = ended.cancelled() => break Err("heartbeat refused".to_string().into()),
            m = stream.message() => m,
        };
        let msg = match msg {
            Ok(Some(m)) => m,
            Ok(None) => break Err("the manager closed the session".to_string().into()),
            Err(s) => break Err(status_ended(&s)),
        };
        managers.set(msg.managers.clone());
        managers.want_role(&msg.role);
        if heartbeat.is_none() {
            info!(manager = %addr, "agent session established");
            let period = Duration::from_millis(msg.heartbeat_period_ms.max(100) as u64);
            let _ = current.send(Some((client.clone(), msg.session_id.clone())));
            heartbeat = Some(tokio::spawn(beat(
                client.clone(),
                msg.session_id.clone(),
                period,
                managers.clone(),
                ended.clone(),
            )));
        }
        if let Some(sub) = msg.log_subscription {
            logs.handle(sub, &client, worker);
        }
        if !msg.routes_json.is_empty()
            && let Some(f) = &cfg.on_routes
        {
            match serde_json::from_slice(&msg.routes_json) {
                Ok(routes) => f(routes),
                Err(e) => warn!(error = %e, "unreadable mesh table from the manager"),
            }
        }
        if !msg.networks_json.is_empty()
            && let Some(f) = &cfg.on_networks
        {
            match serde_json::from_slice(&msg.networks_json) {
                Ok(networks) => f(networks),
                Err(e) => warn!(error = %e, "unreadable overlay table from the manager"),
            }
        }
        if let Some(a) = msg.assignments {
            apply(
                &mut assigned,
                a.kind == Kind::Complete as i32,
                a.tasks_json,
                a.removed,
            )?;
            if let Err(e) = worker.assign(assigned.values().cloned().collect()).await {
                warn!(error = %e, "worker could not take the assignments");
            }
        }
    };
    ended.cancel();
    if let Some(h) = heartbeat {
        let _ = h.await;
    }
    result
}

fn apply(
    assigned: &mut BTreeMap<String, Task>,
    complete: bool,
    tasks_json: Vec<Vec<u8>>,
    removed: Vec<String>,
) -> Result<(), String> {
    if complete {
        assigned.clear();
    }
    for raw in tasks_json {
        let t: Task =
            serde_json::from_slice(&raw).map_err(|e| format!("bad task from manager: {e}"))?;
        assigned.insert(t.id.clone(), t);
    }
    for id in removed {
        assigned.remove(&id);
    }
    Ok(())
}

/// Heartbeats at the manager's period; a refusal ends the session.
async fn beat(
    mut client: DispatcherClient<Channel>,
    session_id: String,
    period: Duration,
    managers: Managers,
    ended: CancellationToken,
) {
    let mut period = period;
    loop {
        tokio::select! {
            _ = ended.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        match client
            .heartbeat(HeartbeatRequest {
                session_id: session_id.clone(),
            })
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                period = Duration::from_millis(r.period_ms.max(100) as u64);
                managers.set(r.managers);
                managers.want_role(&r.role);
            }
            Err(s) => {
                debug!(error = %s.message(), "heartbeat failed");
                ended.cancel();
                return;
            }
        }
    }
}

/// Forwards status changes to whichever session is current, latest per task, in batches.
async fn send_statuses(
    mut rx: mpsc::Receiver<StatusUpdate>,
    mut current: watch::Receiver<Current>,
    shutdown: CancellationToken,
) {
    let mut pending: BTreeMap<String, TaskStatus> = BTreeMap::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            u = rx.recv() => match u {
                Some((id, status)) => { pending.insert(id, status); }
                None => return,
            },
            _ = current.changed() => {}
        }
        // Take what is already queued, without waiting: a lone change goes out at once, and
        // under load changes pile up while the previous request is in flight, which batches them
        // (swarmkit waits up to 100 ms instead; that wait was most of shoal's own converge time).
        while pending.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok((id, status)) => {
                    pending.insert(id, status);
                }
                Err(_) => break,
            }
        }
        let Some((mut client, session_id)) = current.borrow().clone() else {
            continue;
        };
        if pending.is_empty() {
            continue;
        }
        let updates = pending
            .iter()
            .map(|(id, s)| TaskStatusUpdate {
                task_id: id.clone(),
                status_json: serde_json::to_vec(s).expect("status serialises"),
            })
            .collect();
        match client
            .update_task_status(UpdateTaskStatusRequest {
                session_id,
                updates,
            })
            .await
        {
            Ok(_) => pending.clear(),
            Err(s) => {
                debug!(error = %s.message(), "status update not accepted; kept for the next session")
            }
        }
    }
}

/// Log subscriptions being served, by ID.
#[derive(Default)]
struct LogForwards(std::collections::HashMap<String, tokio::task::JoinHandle<()>>);

impl LogForwards {
    /// Starts (or, for a cancel, stops) streaming a subscription's lines to the manager.
    fn handle(
        &mut self,
        sub: LogSubscription,
        client: &DispatcherClient<Channel>,
        worker: &Arc<Worker>,
    ) {
        self.0.retain(|_, h| !h.is_finished());
        if sub.cancel {
            if let Some(h) = self.0.remove(&sub.id) {
                h.abort();
            }
            return;
        }
        let handle = tokio::spawn(forward_logs(client.clone(), worker.clone(), sub.clone()));
        self.0.insert(sub.id, handle);
    }
}

impl Drop for LogForwards {
    fn drop(&mut self) {
        for h in self.0.values() {
            h.abort();
        }
    }
}

/// Streams each task's lines (then an end marker per task) over one `PublishLogs` call.
async fn forward_logs(
    mut client: DispatcherClient<Channel>,
    worker: Arc<Worker>,
    sub: LogSubscription,
) {
    let (tx, rx) = mpsc::channel::<LogMessage>(256);
    let mut readers = tokio::task::JoinSet::new();
    let options = LogOptions {
        follow: sub.follow,
        tail: (sub.tail >= 0).then_some(sub.tail as usize),
    };
    for task_id in sub.task_ids.clone() {
        let (tx, worker, sub_id) = (tx.clone(), worker.clone(), sub.id.clone());
        readers.spawn(async move {
            let msg = |stream: i32, timestamp: String, line: Vec<u8>, end: bool| LogMessage {
                subscription_id: sub_id.clone(),
                task_id: task_id.clone(),
                stream,
                timestamp,
                line,
                end,
            };
            if let Ok(mut lines) = worker.logs(&task_id, options).await {
                while let Some(Ok(l)) = lines.next().await {
                    let stream = if l.source == LogSource::Stderr { 2 } else { 1 };
                    if tx
                        .send(msg(stream, l.timestamp, l.line, false))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            let _ = tx.send(msg(1, String::new(), Vec::new(), true)).await;
        });
    }
    drop(tx);
    // Dropping `readers` (when this task is aborted) stops every reader.
    let publish = client.publish_logs(tokio_stream::wrappers::ReceiverStream::new(rx));
    if let Err(s) = publish.await {
        debug!(error = %s.message(), "log stream ended");
    }
    drop(readers);
}
