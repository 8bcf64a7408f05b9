//! What the HTTP API needs from the node behind it.

use std::future::Future;

use shoal_types::info::{InitRequest, JoinRequest, SwarmUpdateFlags};
use shoal_types::{Error, Filters, Node, NodeSpec, Swarm, SwarmSpec};

/// The node's side of the Engine API. Implemented by the `shoal` binary.
pub trait Backend: Send + Sync + 'static {
    /// The `Swarm` header of `_ping`: `inactive`, `active/manager`, `active/worker`, `locked`…
    fn swarm_status(&self) -> String;
    /// `GET /version` body.
    fn version(&self) -> serde_json::Value;
    /// `GET /info` body.
    fn info(&self) -> impl Future<Output = Result<serde_json::Value, Error>> + Send;

    fn swarm_init(&self, req: InitRequest) -> impl Future<Output = Result<String, Error>> + Send;
    fn swarm_join(&self, req: JoinRequest) -> impl Future<Output = Result<(), Error>> + Send;
    fn swarm_leave(&self, force: bool) -> impl Future<Output = Result<(), Error>> + Send;
    fn swarm_inspect(&self) -> Result<Swarm, Error>;
    fn swarm_update(
        &self,
        version: u64,
        spec: SwarmSpec,
        flags: SwarmUpdateFlags,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    fn node_list(&self, filters: Filters) -> Result<Vec<Node>, Error>;
    fn node_inspect(&self, id: &str) -> Result<Node, Error>;
    fn node_update(
        &self,
        id: &str,
        version: u64,
        spec: NodeSpec,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn node_remove(&self, id: &str, force: bool) -> impl Future<Output = Result<(), Error>> + Send;
}
