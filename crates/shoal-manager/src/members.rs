//! The `Membership` service: a manager that joined through the CA asks to become a Raft voter,
//! a manager leaving the swarm asks to be removed, and a manager serving `service logs` reads
//! the lines through the leader's log broker. Only the leader changes membership; other
//! managers answer UNAVAILABLE with the leader's address in the `shoal-leader` metadata entry.

use shoal_proto::membership::membership_server::Membership;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use shoal_proto::membership::{
    JoinRequest, JoinResponse, LeaveRequest, LeaveResponse, LogLine, LogsRequest,
};
use shoal_store::{Store, StoreError};
use shoal_types::{ManagerStatus, Node, NodeRole, Reachability};
use tonic::{Request, Response, Status};
use tracing::info;

use crate::auth::Authorizer;
use crate::dispatcher::LogBroker;

/// Serves `Membership`.
pub struct MembershipService {
    store: Store,
    auth: Authorizer,
    logs: Arc<LogBroker>,
}

impl MembershipService {
    pub(crate) fn new(store: Store, auth: Authorizer, logs: Arc<LogBroker>) -> Self {
        Self { store, auth, logs }
    }
}

type LogStream = Pin<Box<dyn Stream<Item = Result<LogLine, Status>> + Send>>;

/// UNAVAILABLE pointing at the leader, so the caller can retry there.
pub(crate) fn not_leader(store: &Store) -> Status {
    let mut status = Status::unavailable("this manager is not the leader");
    if let Some(addr) = store
        .leader()
        .and_then(|l| l.addr.parse::<tonic::metadata::MetadataValue<_>>().ok())
    {
        status
            .metadata_mut()
            .insert(shoal_proto::LEADER_METADATA, addr);
    }
    status
}

fn store_status(store: &Store, e: StoreError) -> Status {
    match e {
        StoreError::NotLeader { .. } => not_leader(store),
        e => Status::unavailable(e.to_string()),
    }
}

#[tonic::async_trait]
impl Membership for MembershipService {
    type SubscribeLogsStream = LogStream;

    async fn subscribe_logs(
        &self,
        req: Request<LogsRequest>,
    ) -> Result<Response<LogStream>, Status> {
        self.auth.manager(&req)?;
        if !self.store.is_leader() {
            return Err(not_leader(&self.store));
        }
        let req = req.into_inner();
        let by_node: BTreeMap<String, Vec<String>> = req
            .nodes
            .into_iter()
            .map(|n| (n.node_id, n.task_ids))
            .collect();
        let sub = self.logs.subscribe(by_node, req.follow, req.tail);
        let ends: Vec<LogLine> = sub
            .unreachable
            .iter()
            .map(|t| LogLine {
                task_id: t.clone(),
                end: true,
                ..Default::default()
            })
            .collect();
        // The subscription lives as long as the stream: the caller going away cancels it.
        let lines = futures::stream::unfold(sub, |mut sub| async move {
            let m = sub.rx.recv().await?;
            let line = LogLine {
                task_id: m.task_id,
                stream: m.stream,
                timestamp: m.timestamp,
                line: m.line,
                end: m.end,
            };
            Some((Ok(line), sub))
        });
        let stream = futures::stream::iter(ends.into_iter().map(Ok)).chain(lines);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn join(&self, req: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        let id = self.auth.manager(&req)?;
        let JoinRequest { raft_id, addr } = req.into_inner();
        if raft_id == 0 || addr.is_empty() {
            return Err(Status::invalid_argument(
                "a raft ID and an address are required",
            ));
        }
        if !self.store.is_leader() {
            return Err(not_leader(&self.store));
        }
        let node = self
            .store
            .view(|v| v.get::<Node>(&id.node_id))
            .filter(|n| n.spec.role == NodeRole::Manager)
            .ok_or_else(|| {
                Status::failed_precondition(format!("node {} is not a manager", id.node_id))
            })?;
        self.store
            .add_voter(raft_id, &addr)
            .await
            .map_err(|e| store_status(&self.store, e))?;
        let node_id = node.id.clone();
        self.store
            .update(|tx| {
                let Some(mut n) = tx.get::<Node>(&node_id) else {
                    return Ok(());
                };
                n.raft_id = Some(raft_id);
                n.manager_status = Some(ManagerStatus {
                    leader: false,
                    reachability: Reachability::Reachable,
                    addr: addr.clone(),
                });
                tx.update(n)
            })
            .await
            .map_err(|e| store_status(&self.store, e))?;
        info!(node.id = %node_id, raft.id = raft_id, %addr, "manager joined the raft cluster");
        Ok(Response::new(JoinResponse {}))
    }

    async fn leave(&self, req: Request<LeaveRequest>) -> Result<Response<LeaveResponse>, Status> {
        let id = self.auth.manager(&req)?;
        let raft_id = req.into_inner().raft_id;
        if !self.store.is_leader() {
            return Err(not_leader(&self.store));
        }
        remove_manager(&self.store, &id.node_id, raft_id)
            .await
            .map_err(|e| store_status(&self.store, e))?;
        Ok(Response::new(LeaveResponse {}))
    }
}

/// On the leader: takes a manager out of the swarm's managers. Another manager leaves the Raft
/// membership first, so a failure leaves its node object saying it is still a member (and the
/// demotion is retried). The leader removing itself must write the node object first: once it
/// is out of the membership it can write nothing.
pub(crate) async fn remove_manager(
    store: &Store,
    node_id: &str,
    raft_id: u64,
) -> Result<(), StoreError> {
    let myself = raft_id == store.raft_id();
    if !myself {
        store.remove_voter(raft_id).await?;
    }
    store
        .update(|tx| {
            let Some(mut n) = tx.get::<Node>(node_id) else {
                return Ok(());
            };
            n.raft_id = None;
            n.manager_status = None;
            n.spec.role = NodeRole::Worker;
            tx.update(n)
        })
        .await?;
    if myself {
        store.remove_voter(raft_id).await?;
    }
    info!(node.id = %node_id, raft.id = raft_id, "manager left the raft cluster");
    Ok(())
}
