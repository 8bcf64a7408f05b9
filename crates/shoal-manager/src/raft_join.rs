//! A manager's own membership moves: joining the Raft cluster after the CA made it a manager,
//! and leaving it on `swarm leave`. Requests go to any known manager and follow its pointer to
//! the leader.

use std::time::{Duration, Instant};

use shoal_proto::membership::membership_client::MembershipClient;
use shoal_proto::membership::{JoinRequest, LeaveRequest};
use shoal_store::Connector;
use shoal_types::{Cluster, Error};
use tracing::{debug, info};

use crate::manager::{Manager, ManagerError};
use crate::members::remove_manager;

impl Manager {
    /// Becomes a Raft voter through one of `managers`, then waits until this manager has the
    /// swarm's state (the cluster object has been replicated here).
    pub async fn join_raft(&self, managers: &[String], timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let raft_id = self.store.raft_id();
        let req = JoinRequest {
            raft_id,
            addr: self.advertise_addr.clone(),
        };
        self.call_leader(managers, deadline, |mut c| {
            let req = req.clone();
            async move { c.join(req).await.map(|_| ()) }
        })
        .await?;
        loop {
            let caught_up = self.store.view(|v| !v.list::<Cluster>().is_empty())
                && self.store.voters().iter().any(|m| m.raft_id == raft_id);
            if caught_up {
                info!(node.id = %self.node_id, "joined the managers");
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::unavailable(
                    "timed out waiting for this manager to catch up with the swarm",
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Leaves the Raft membership (this node stays a member of the swarm's node list, as a
    /// worker that is down, until `node rm`). The last manager has nobody to leave to.
    pub async fn leave_raft(&self) -> Result<(), Error> {
        let raft_id = self.store.raft_id();
        let others: Vec<String> = self
            .store
            .voters()
            .into_iter()
            .filter(|m| m.raft_id != raft_id)
            .map(|m| m.addr)
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        if self.store.is_leader() {
            return remove_manager(&self.store, &self.node_id, raft_id)
                .await
                .map_err(Error::from);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        self.call_leader(&others, deadline, |mut c| async move {
            c.leave(LeaveRequest { raft_id }).await.map(|_| ())
        })
        .await
    }

    /// Calls `f` on a membership client of some manager until it succeeds, following
    /// `shoal-leader` pointers, retrying until `deadline`.
    async fn call_leader<F, Fut>(
        &self,
        managers: &[String],
        deadline: Instant,
        f: F,
    ) -> Result<(), Error>
    where
        F: Fn(MembershipClient<tonic::transport::Channel>) -> Fut,
        Fut: Future<Output = Result<(), tonic::Status>>,
    {
        let mut next = 0usize;
        let mut redirect: Option<String> = None;
        let mut last = String::from("no manager address known");
        while Instant::now() < deadline {
            let Some(addr) = redirect.take().or_else(|| {
                (!managers.is_empty()).then(|| managers[next % managers.len()].clone())
            }) else {
                break;
            };
            next += 1;
            let channel = self.connector.connect(&addr).map_err(Error::unavailable)?;
            match f(MembershipClient::new(channel)).await {
                Ok(()) => return Ok(()),
                Err(s) => {
                    let leader = s
                        .metadata()
                        .get(shoal_proto::LEADER_METADATA)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    debug!(manager = %addr, error = %s.message(), ?leader, "membership call");
                    last = format!("{addr}: {}", s.message());
                    if s.code() == tonic::Code::PermissionDenied
                        || s.code() == tonic::Code::FailedPrecondition
                    {
                        return Err(Error::invalid(s.message()));
                    }
                    match leader {
                        Some(l) if l != addr => redirect = Some(l),
                        _ => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
            }
        }
        Err(Error::unavailable(format!(
            "could not reach the leader of the managers: {last}"
        )))
    }
}

impl From<ManagerError> for Error {
    fn from(e: ManagerError) -> Self {
        match e {
            ManagerError::Api(e) => e,
            ManagerError::Store(e) => e.into(),
        }
    }
}
