//! The Dispatcher gRPC service.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use shoal_proto::dispatcher::dispatcher_server::Dispatcher;
use shoal_proto::dispatcher::{
    HeartbeatRequest, HeartbeatResponse, LogMessage, LogSubscription, PublishLogsResponse,
    SessionMessage, SessionRequest, UpdateTaskStatusRequest, UpdateTaskStatusResponse,
};
use shoal_store::{Event, Store, StoreError};
use shoal_types::mesh::MeshRoute;
use shoal_types::overlay::OverlayNetwork;
use shoal_types::{
    Cluster, Network, Node, NodeDescription, NodeState, Service, Task, TaskState, TaskStatus,
};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::{debug, info};

use super::assignments::{Pending, complete, is_assigned_to};
use super::files;
use super::{LogBroker, Sessions, mesh_routes, overlay_table};
use crate::auth::{Authorizer, certificate_role, role_name};
use crate::members::not_leader;

/// Serves agents on the cluster port.
pub struct DispatcherService {
    store: Store,
    sessions: Arc<Sessions>,
    logs: Arc<LogBroker>,
    auth: Authorizer,
    shutdown: CancellationToken,
}

impl DispatcherService {
    pub(crate) fn new(
        store: Store,
        sessions: Arc<Sessions>,
        logs: Arc<LogBroker>,
        auth: Authorizer,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            store,
            sessions,
            logs,
            auth,
            shutdown,
        }
    }

    /// The caller's node ID (any node of this swarm), on the leader only: sessions live where
    /// the node-down monitor runs.
    fn caller<T>(&self, req: &Request<T>) -> Result<String, Status> {
        let id = self.auth.node(req)?;
        if !self.store.is_leader() {
            return Err(not_leader(&self.store));
        }
        Ok(id.node_id)
    }

    /// The role `node_id` should have (empty when it is unknown).
    fn role_of(&self, node_id: &str) -> String {
        self.store
            .view(|v| v.get::<Node>(node_id))
            .map(|n| role_name(certificate_role(&n)).to_string())
            .unwrap_or_default()
    }

    /// The voting managers' cluster addresses, for agents to fail over to.
    fn managers(&self) -> Vec<String> {
        self.store.voters().into_iter().map(|m| m.addr).collect()
    }
}

fn unavailable(e: StoreError) -> Status {
    Status::unavailable(e.to_string())
}

type SessionStream = Pin<Box<dyn Stream<Item = Result<SessionMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Dispatcher for DispatcherService {
    type SessionStream = SessionStream;

    async fn session(
        &self,
        req: Request<SessionRequest>,
    ) -> Result<Response<SessionStream>, Status> {
        let node_id = self.caller(&req)?;
        let addr = crate::auth::peer_ip(&req);
        let description: NodeDescription = serde_json::from_slice(&req.get_ref().description_json)
            .map_err(|e| Status::invalid_argument(format!("bad node description: {e}")))?;
        register(&self.store, &node_id, description, addr).await?;
        let (session_id, ended) = self.sessions.open(&node_id);
        let subscriptions = self.logs.attach(&node_id);
        info!(node.id = %node_id, "agent session opened");
        let ((initial, (routes, networks)), events) = self.store.view_and_watch(|v| {
            let tasks = v
                .find::<Task>("node", &node_id)
                .into_iter()
                .filter(|t| is_assigned_to(t, &node_id))
                .map(|t| files::attach(v, t))
                .collect::<Vec<Task>>();
            (tasks, tables(v))
        });
        let (tx, rx) = mpsc::channel(16);
        let period_ms = self.sessions.config().period.as_millis() as i64;
        let first = SessionMessage {
            session_id: session_id.clone(),
            heartbeat_period_ms: period_ms,
            assignments: Some(complete(&initial)),
            log_subscription: None,
            managers: self.managers(),
            role: self.role_of(&node_id),
            routes_json: serde_json::to_vec(&routes).unwrap_or_default(),
            networks_json: serde_json::to_vec(&networks).unwrap_or_default(),
        };
        let (first_managers, first_role) = (first.managers.clone(), first.role.clone());
        tx.send(Ok(first))
            .await
            .map_err(|_| Status::cancelled("agent went away"))?;
        let sent = (first_managers, first_role);
        let stream = StreamCtx {
            store: self.store.clone(),
            node_id,
            session_id,
            period_ms,
            tx,
            sent,
            sent_routes: Some(routes),
            sent_networks: Some(networks),
        };
        let stop = self.shutdown.clone();
        tokio::spawn(async move { stream.run(events, subscriptions, ended, stop).await });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn heartbeat(
        &self,
        req: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let node_id = self.caller(&req)?;
        if !self.sessions.heartbeat(&node_id, &req.get_ref().session_id) {
            return Err(Status::not_found("session invalid"));
        }
        Ok(Response::new(HeartbeatResponse {
            period_ms: self.sessions.config().period.as_millis() as i64,
            managers: self.managers(),
            role: self.role_of(&node_id),
        }))
    }

    async fn update_task_status(
        &self,
        req: Request<UpdateTaskStatusRequest>,
    ) -> Result<Response<UpdateTaskStatusResponse>, Status> {
        let node_id = self.caller(&req)?;
        let req = req.into_inner();
        if !self.sessions.is_current(&node_id, &req.session_id) {
            return Err(Status::not_found("session invalid"));
        }
        let mut updates = Vec::with_capacity(req.updates.len());
        for u in req.updates {
            let status: TaskStatus = serde_json::from_slice(&u.status_json)
                .map_err(|e| Status::invalid_argument(format!("bad task status: {e}")))?;
            updates.push((u.task_id, status));
        }
        apply_statuses(&self.store, &node_id, updates)
            .await
            .map_err(unavailable)?;
        Ok(Response::new(UpdateTaskStatusResponse {}))
    }

    async fn publish_logs(
        &self,
        req: Request<tonic::Streaming<LogMessage>>,
    ) -> Result<Response<PublishLogsResponse>, Status> {
        self.caller(&req)?;
        let mut stream = req.into_inner();
        while let Some(msg) = stream.message().await? {
            if !self.logs.publish(msg).await {
                break; // the subscriber went away
            }
        }
        Ok(Response::new(PublishLogsResponse {}))
    }
}

/// Records the node's description and marks it Ready.
async fn register(
    store: &Store,
    node_id: &str,
    description: NodeDescription,
    addr: String,
) -> Result<(), Status> {
    let res = store
        .update(|tx| {
            let Some(mut node) = tx.get::<Node>(node_id) else {
                return Ok(false);
            };
            let before = node.clone();
            let tls = node.description.tls_info.clone();
            node.description = description;
            node.description.tls_info = tls;
            node.status.state = NodeState::Ready;
            node.status.message = String::new();
            if !addr.is_empty() && !addr.starts_with("127.") {
                node.status.addr = addr;
            }
            // Only a real change is written: a reconnecting agent must not bump the node's
            // version under a user's read-modify-write.
            if node != before {
                tx.update(node)?;
            }
            Ok::<_, StoreError>(true)
        })
        .await
        .map_err(unavailable)?;
    if !res {
        return Err(Status::permission_denied(format!(
            "node {node_id} was removed from swarm"
        )));
    }
    Ok(())
}

/// Applies status changes to the caller's own tasks; states only move forward.
async fn apply_statuses(
    store: &Store,
    node_id: &str,
    updates: Vec<(String, TaskStatus)>,
) -> Result<(), StoreError> {
    store
        .update(|tx| {
            for (id, status) in updates {
                let Some(mut t) = tx.get::<Task>(&id) else {
                    continue;
                };
                if t.node_id != node_id || status.state < t.status.state {
                    continue;
                }
                if t.status == status {
                    continue;
                }
                debug!(task.id = %id, from = ?t.status.state, to = ?status.state, "task state");
                if status.state == TaskState::Running && t.running_at.is_empty() {
                    t.running_at = status.timestamp.clone();
                }
                t.status = status;
                tx.update(t)?;
            }
            Ok(())
        })
        .await
}

struct StreamCtx {
    store: Store,
    node_id: String,
    session_id: String,
    period_ms: i64,
    tx: mpsc::Sender<Result<SessionMessage, Status>>,
    /// The manager set and role last sent, so changes reach the agent at once.
    sent: (Vec<String>, String),
    /// The mesh table last sent.
    sent_routes: Option<Vec<MeshRoute>>,
    sent_networks: Option<Vec<OverlayNetwork>>,
}

impl StreamCtx {
    /// Sends incremental assignments after each commit that touched this node's tasks, and the
    /// managers and role whenever they change.
    async fn run(
        mut self,
        mut events: broadcast::Receiver<Event>,
        mut subscriptions: mpsc::UnboundedReceiver<LogSubscription>,
        ended: CancellationToken,
        stop: CancellationToken,
    ) {
        let mut pending = Pending::default();
        loop {
            let ev = tokio::select! {
                _ = ended.cancelled() => return,
                _ = stop.cancelled() => return,
                _ = self.tx.closed() => return,
                Some(sub) = subscriptions.recv() => {
                    if self.send(None, Some(sub)).await.is_err() {
                        return;
                    }
                    continue;
                }
                ev = events.recv() => ev,
            };
            let msg = match ev {
                Ok(Event::Commit { .. }) => {
                    if self.send_membership_changes().await.is_err()
                        || self.send_route_changes().await.is_err()
                    {
                        return;
                    }
                    pending.take(|t| self.store.view(|v| files::attach(v, t)))
                }
                Ok(ev) => {
                    pending.on_event(&ev, &self.node_id);
                    None
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Missed events: resend the whole set, the agent reconciles.
                    pending = Pending::default();
                    let all: Vec<Task> = self.store.view(|v| {
                        v.find::<Task>("node", &self.node_id)
                            .into_iter()
                            .filter(|t| is_assigned_to(t, &self.node_id))
                            .map(|t| files::attach(v, t))
                            .collect()
                    });
                    Some(complete(&all))
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if let Some(assignments) = msg
                && self.send(Some(assignments), None).await.is_err()
            {
                return;
            }
        }
    }

    /// A message with the managers and the node's role, if either changed since last sent.
    async fn send_membership_changes(&mut self) -> Result<(), ()> {
        let managers: Vec<String> = self.store.voters().into_iter().map(|m| m.addr).collect();
        let role = self
            .store
            .view(|v| v.get::<Node>(&self.node_id))
            .map(|n| role_name(certificate_role(&n)).to_string())
            .unwrap_or_default();
        if (&managers, &role) == (&self.sent.0, &self.sent.1) {
            return Ok(());
        }
        self.sent = (managers.clone(), role.clone());
        let m = SessionMessage {
            session_id: self.session_id.clone(),
            heartbeat_period_ms: self.period_ms,
            assignments: None,
            log_subscription: None,
            managers,
            role,
            routes_json: Vec::new(),
            networks_json: Vec::new(),
        };
        self.tx.send(Ok(m)).await.map_err(|_| ())
    }

    /// A message with the mesh table and the overlay table, each only if it changed since
    /// last sent.
    async fn send_route_changes(&mut self) -> Result<(), ()> {
        let (routes, networks) = self.store.view(tables);
        let routes = (self.sent_routes.as_ref() != Some(&routes)).then_some(routes);
        let networks = (self.sent_networks.as_ref() != Some(&networks)).then_some(networks);
        if routes.is_none() && networks.is_none() {
            return Ok(());
        }
        let json = |v: Option<Vec<u8>>| v.unwrap_or_default();
        let m = SessionMessage {
            session_id: self.session_id.clone(),
            heartbeat_period_ms: self.period_ms,
            routes_json: json(
                routes
                    .as_ref()
                    .map(|r| serde_json::to_vec(r).unwrap_or_default()),
            ),
            networks_json: json(
                networks
                    .as_ref()
                    .map(|n| serde_json::to_vec(n).unwrap_or_default()),
            ),
            ..Default::default()
        };
        if let Some(r) = routes {
            self.sent_routes = Some(r);
        }
        if let Some(n) = networks {
            self.sent_networks = Some(n);
        }
        self.tx.send(Ok(m)).await.map_err(|_| ())
    }

    async fn send(
        &self,
        assignments: Option<shoal_proto::dispatcher::Assignments>,
        sub: Option<LogSubscription>,
    ) -> Result<(), ()> {
        let m = SessionMessage {
            session_id: self.session_id.clone(),
            heartbeat_period_ms: self.period_ms,
            assignments,
            log_subscription: sub,
            ..Default::default()
        };
        self.tx.send(Ok(m)).await.map_err(|_| ())
    }
}

/// The routing mesh's table and the overlay networks' table, as every node gets them.
fn tables(v: &shoal_store::ReadTx<'_>) -> (Vec<MeshRoute>, Vec<OverlayNetwork>) {
    let (services, tasks, nodes) = (v.list::<Service>(), v.list::<Task>(), v.list::<Node>());
    let routes = mesh_routes(&services, &tasks, &nodes);
    let mut networks = overlay_table(&v.list::<Network>(), &services, &tasks, &nodes);
    let port = v
        .list::<Cluster>()
        .first()
        .and_then(|c| u16::try_from(c.data_path_port).ok())
        .unwrap_or(0);
    for n in &mut networks {
        n.data_path_port = port;
    }
    (routes, networks)
}
