//! What the HTTP API needs from the node behind it.

use std::future::Future;

use shoal_types::info::{InitRequest, JoinRequest, SwarmUpdateFlags};
use shoal_types::secret::{ConfigSpec, SecretSpec};
use shoal_types::service::ServiceSpec;
use shoal_types::{
    Config, Error, Filters, Node, NodeSpec, Secret, Service, Swarm, SwarmSpec, Task,
};

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

    /// `GET /swarm/unlockkey`.
    fn swarm_unlock_key(&self) -> Result<String, Error>;
    /// `POST /swarm/unlock`: a locked manager given its autolock key.
    fn swarm_unlock(&self, key: &str) -> impl Future<Output = Result<(), Error>> + Send;

    fn node_list(&self, filters: Filters) -> Result<Vec<Node>, Error>;
    fn node_inspect(&self, id: &str) -> Result<Node, Error>;
    fn node_update(
        &self,
        id: &str,
        version: u64,
        spec: NodeSpec,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn node_remove(&self, id: &str, force: bool) -> impl Future<Output = Result<(), Error>> + Send;

    /// `POST /services/create`: the new service's ID.
    fn service_create(
        &self,
        spec: ServiceSpec,
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// `GET /services`; `status` asks for `ServiceStatus`.
    fn service_list(&self, filters: Filters, status: bool) -> Result<Vec<Service>, Error>;
    /// `GET /services/{id}`; `insert_defaults` fills swarmkit's defaults into the spec.
    fn service_inspect(&self, id: &str, insert_defaults: bool) -> Result<Service, Error>;
    /// `POST /services/{id}/update?version=N`; `rollback` is `?rollback=previous`.
    fn service_update(
        &self,
        id: &str,
        version: u64,
        spec: ServiceSpec,
        rollback: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn service_remove(&self, id: &str) -> impl Future<Output = Result<(), Error>> + Send;

    fn task_list(&self, filters: Filters) -> Result<Vec<Task>, Error>;
    fn task_inspect(&self, id: &str) -> Result<Task, Error>;

    /// `POST /secrets/create`: the new secret's ID.
    fn secret_create(&self, spec: SecretSpec)
    -> impl Future<Output = Result<String, Error>> + Send;
    fn secret_list(&self, filters: Filters) -> Result<Vec<Secret>, Error>;
    /// Never with the data.
    fn secret_inspect(&self, id: &str) -> Result<Secret, Error>;
    fn secret_update(
        &self,
        id: &str,
        version: u64,
        spec: SecretSpec,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn secret_remove(&self, id: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// `POST /configs/create`: the new config's ID.
    fn config_create(&self, spec: ConfigSpec)
    -> impl Future<Output = Result<String, Error>> + Send;
    fn config_list(&self, filters: Filters) -> Result<Vec<Config>, Error>;
    fn config_inspect(&self, id: &str) -> Result<Config, Error>;
    fn config_update(
        &self,
        id: &str,
        version: u64,
        spec: ConfigSpec,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn config_remove(&self, id: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// `POST /networks/create`: the new network's ID.
    fn network_create(
        &self,
        req: shoal_types::network::NetworkCreateRequest,
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// `GET /networks`: moby's `NetworkResource` objects.
    fn network_list(&self, filters: Filters) -> Result<Vec<serde_json::Value>, Error>;
    fn network_inspect(&self, id: &str) -> Result<serde_json::Value, Error>;
    fn network_remove(&self, id: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// The lines of a service's or a task's tasks; ends when done unless `follow`.
    fn logs(
        &self,
        target: LogTarget,
        follow: bool,
        tail: i64,
    ) -> impl Future<
        Output = Result<futures::stream::BoxStream<'static, shoal_types::LogEntry>, Error>,
    > + Send;
}

/// Whose logs `GET …/logs` asks for (as the user wrote it: ID, name or prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Service(String),
    Task(String),
}
