//! openraft's network over our gRPC Raft service. Payloads are openraft's own request and
//! response types as JSON inside the proto's bytes field. How a channel to a peer is made
//! (mutual TLS with the node's certificate) is the caller's business: it passes a `Connector`.

use std::sync::Arc;

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
use tonic::transport::Channel;

use crate::raft_types::{NodeId, Raft, TypeConfig};

/// Makes a gRPC channel to a manager's cluster address.
pub trait Connector: Send + Sync + 'static {
    fn connect(&self, addr: &str) -> Result<Channel, String>;
}

/// Creates one `PeerClient` per target node.
#[derive(Clone)]
pub struct Network {
    connector: Arc<dyn Connector>,
}

impl Network {
    pub fn new(connector: Arc<dyn Connector>) -> Self {
        Self { connector }
    }
}

/// The client side toward one peer.
pub struct PeerClient {
    target: NodeId,
    channel: Result<Channel, String>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            target,
            channel: self.connector.connect(&node.addr),
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

/// The server side: hands incoming Raft RPCs to the local Raft node.
pub struct RaftService {
    raft: Raft,
}

impl RaftService {
    /// A tonic service to add to the cluster port's server.
    pub fn server(raft: Raft) -> raft_server::RaftServer<RaftService> {
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
}
