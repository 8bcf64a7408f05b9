//! openraft's network over our gRPC Raft service. Payloads are openraft's own request and
//! response types as JSON inside the proto's bytes field. How a channel to a peer is made
//! (mutual TLS with the node's certificate) is the caller's business: it passes a `Connector`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shoal_proto::raft::raft_client::RaftClient;
use shoal_proto::raft::raft_server;
use shoal_proto::raft::{RaftReply, RaftRequest};
use tonic::transport::{Channel, Endpoint};

use crate::batch::{ForwardReply, write_local};
use crate::error::StoreError;
use crate::raft_types::{NodeId, Proposal, Raft, TypeConfig};

/// Makes gRPC channels to a manager's cluster address.
pub trait Connector: Send + Sync + 'static {
    /// The endpoint (TLS and timeouts set) of the manager at `addr`.
    fn endpoint(&self, addr: &str) -> Result<Endpoint, String>;

    /// A channel that connects on first use.
    fn connect(&self, addr: &str) -> Result<Channel, String> {
        Ok(self.endpoint(addr)?.connect_lazy())
    }
}

/// When each peer last answered a Raft RPC: the leader's view of which managers it can reach.
pub type Contacts = Arc<Mutex<HashMap<NodeId, Instant>>>;

/// Creates one `PeerClient` per target node.
#[derive(Clone)]
pub struct Network {
    connector: Arc<dyn Connector>,
    contacts: Contacts,
}

impl Network {
    pub fn new(connector: Arc<dyn Connector>, contacts: Contacts) -> Self {
        Self {
            connector,
            contacts,
        }
    }
}

/// The client side toward one peer.
pub struct PeerClient {
    target: NodeId,
    channel: Result<Channel, String>,
    contacts: Contacts,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            target,
            channel: self.connector.connect(&node.addr),
            contacts: self.contacts.clone(),
        }
    }
}

type RpcErr<E> = RPCError<NodeId, BasicNode, RaftError<NodeId, E>>;

impl PeerClient {
    async fn call<
        Req: Serialize,
        Resp: DeserializeOwned,
        E: DeserializeOwned + std::error::Error,
    >(
        &self,
        method: Method,
        req: &Req,
    ) -> Result<Resp, RpcErr<E>> {
        let channel = self.channel.clone().map_err(|e| {
            RPCError::Unreachable(Unreachable::new(&std::io::Error::other(format!(
                "node {}: {e}",
                self.target
            ))))
        })?;
        let mut client = RaftClient::new(channel).max_decoding_message_size(64 << 20);
        let payload =
            serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let request = RaftRequest { payload };
        let reply = match method {
            Method::Append => client.append_entries(request).await,
            Method::Vote => client.vote(request).await,
            Method::Snapshot => client.install_snapshot(request).await,
        }
        .map_err(|s| RPCError::Unreachable(Unreachable::new(&s)))?
        .into_inner();
        self.contacts
            .lock()
            .expect("contacts")
            .insert(self.target, Instant::now());
        if !reply.error.is_empty() {
            let err: RaftError<NodeId, E> = serde_json::from_str(&reply.error)
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
            return Err(RPCError::RemoteError(openraft::error::RemoteError::new(
                self.target,
                err,
            )));
        }
        serde_json::from_slice(&reply.payload).map_err(|e| RPCError::Network(NetworkError::new(&e)))
    }
}

enum Method {
    Append,
    Vote,
    Snapshot,
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr<openraft::error::Infallible>> {
        self.call(Method::Append, &rpc).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        self.call(Method::Snapshot, &rpc).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr<openraft::error::Infallible>> {
        self.call(Method::Vote, &rpc).await
    }
}

/// Why a forward failed: `NotSent` when the leader certainly did not take the batch (no
/// connection, or it answered that it does not lead), so it may be sent elsewhere.
pub(crate) enum Forward {
    NotSent(StoreError),
    Failed(StoreError),
}

/// How long connecting to the leader may take before it counts as unreachable.
const FORWARD_CONNECT_TIMEOUT: Duration = Duration::from_millis(800);

/// Sends a follower's batch to the leader at `addr` and returns its outcome.
pub(crate) async fn forward(
    connector: &dyn Connector,
    addr: &str,
    proposal: &Proposal,
) -> Result<ForwardReply, Forward> {
    let unavailable =
        |e: String| StoreError::Unavailable(format!("cannot reach the leader at {addr}: {e}"));
    let endpoint = connector
        .endpoint(addr)
        .map_err(|e| Forward::NotSent(unavailable(e)))?;
    // Connect first, so an unreachable leader is told apart from one that took the batch and
    // then failed to answer (which must not be retried elsewhere: it may still commit).
    let channel = tokio::time::timeout(FORWARD_CONNECT_TIMEOUT, endpoint.connect())
        .await
        .map_err(|_| Forward::NotSent(unavailable("connection timed out".into())))?
        .map_err(|e| Forward::NotSent(unavailable(e.to_string())))?;
    let mut client = RaftClient::new(channel).max_decoding_message_size(64 << 20);
    let payload = serde_json::to_vec(proposal).expect("proposals serialise");
    let reply = client
        .propose(RaftRequest { payload })
        .await
        .map_err(|s| Forward::Failed(unavailable(s.message().to_string())))?
        .into_inner();
    if !reply.error.is_empty() {
        let e: StoreError = serde_json::from_str(&reply.error)
            .unwrap_or_else(|_| StoreError::Unavailable(reply.error.clone()));
        return Err(match e {
            StoreError::NotLeader { .. } => Forward::NotSent(e),
            e => Forward::Failed(e),
        });
    }
    serde_json::from_slice(&reply.payload).map_err(|e| {
        Forward::Failed(StoreError::Unavailable(format!(
            "bad reply from the leader: {e}"
        )))
    })
}

/// The server side: hands incoming Raft RPCs to the local Raft node.
pub struct RaftService {
    raft: Raft,
}

impl RaftService {
    /// The service, to be wrapped (e.g. with an authorising interceptor) by the caller.
    pub fn new(raft: Raft) -> raft_server::RaftServer<RaftService> {
        raft_server::RaftServer::new(RaftService { raft }).max_decoding_message_size(64 << 20)
    }
}

fn reply<T: Serialize, E: Serialize>(
    res: Result<T, E>,
) -> Result<tonic::Response<RaftReply>, tonic::Status> {
    let reply = match res {
        Ok(v) => RaftReply {
            payload: serde_json::to_vec(&v).expect("serialises"),
            error: String::new(),
        },
        Err(e) => RaftReply {
            payload: Vec::new(),
            error: serde_json::to_string(&e).expect("serialises"),
        },
    };
    Ok(tonic::Response::new(reply))
}

fn decode<T: DeserializeOwned>(req: tonic::Request<RaftRequest>) -> Result<T, tonic::Status> {
    serde_json::from_slice(&req.into_inner().payload)
        .map_err(|e| tonic::Status::invalid_argument(format!("bad raft payload: {e}")))
}

#[tonic::async_trait]
impl raft_server::Raft for RaftService {
    async fn append_entries(
        &self,
        req: tonic::Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, tonic::Status> {
        reply(self.raft.append_entries(decode(req)?).await)
    }

    async fn vote(
        &self,
        req: tonic::Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, tonic::Status> {
        reply(self.raft.vote(decode(req)?).await)
    }

    async fn install_snapshot(
        &self,
        req: tonic::Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, tonic::Status> {
        reply(self.raft.install_snapshot(decode(req)?).await)
    }

    async fn propose(
        &self,
        req: tonic::Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, tonic::Status> {
        let proposal: Proposal = decode(req)?;
        let res = write_local(&self.raft, proposal)
            .await
            .map(|(results, index)| ForwardReply { results, index });
        reply(res)
    }
}
