//! Route table.

mod blob;
mod logs;
mod network;
mod node;
mod service;
mod swarm;
mod system;
mod task;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::backend::Backend;
use crate::error::ApiError;

/// Handlers get the backend as state.
pub type State<B> = axum::extract::State<Arc<B>>;

pub fn all<B: Backend>() -> Router<Arc<B>> {
    Router::new()
        .route("/_ping", get(system::ping::<B>).head(system::ping::<B>))
        .route("/version", get(system::version::<B>))
        .route("/info", get(system::info::<B>))
        .route("/swarm", get(swarm::inspect::<B>))
        .route("/swarm/init", post(swarm::init::<B>))
        .route("/swarm/join", post(swarm::join::<B>))
        .route("/swarm/leave", post(swarm::leave::<B>))
        .route("/swarm/update", post(swarm::update::<B>))
        .route("/swarm/unlockkey", get(swarm::unlock_key::<B>))
        .route("/swarm/unlock", post(swarm::unlock::<B>))
        .route("/nodes", get(node::list::<B>))
        .route(
            "/nodes/{id}",
            get(node::inspect::<B>).delete(node::remove::<B>),
        )
        .route("/nodes/{id}/update", post(node::update::<B>))
        .route("/services", get(service::list::<B>))
        .route("/services/create", post(service::create::<B>))
        .route(
            "/services/{id}",
            get(service::inspect::<B>).delete(service::remove::<B>),
        )
        .route("/services/{id}/update", post(service::update::<B>))
        .route("/tasks", get(task::list::<B>))
        .route("/tasks/{id}", get(task::inspect::<B>))
        .route("/tasks/{id}/logs", get(logs::task::<B>))
        .route("/services/{id}/logs", get(logs::service::<B>))
        .route("/secrets", get(blob::secret_list::<B>))
        .route("/secrets/create", post(blob::secret_create::<B>))
        .route(
            "/secrets/{id}",
            get(blob::secret_inspect::<B>).delete(blob::secret_remove::<B>),
        )
        .route("/secrets/{id}/update", post(blob::secret_update::<B>))
        .route("/configs", get(blob::config_list::<B>))
        .route("/configs/create", post(blob::config_create::<B>))
        .route(
            "/configs/{id}",
            get(blob::config_inspect::<B>).delete(blob::config_remove::<B>),
        )
        .route("/configs/{id}/update", post(blob::config_update::<B>))
        .route("/networks", get(network::list::<B>))
        .route("/networks/create", post(network::create::<B>))
        .route(
            "/networks/{id}",
            get(network::inspect::<B>).delete(network::remove::<B>),
        )
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError(shoal_types::Error::not_found("page not found"))
}
