//! The Docker-compatible HTTP server (axum): the swarm part of the Engine API on a unix socket
//! or TCP, versioned (`/v1.24` … `/v1.50`) and unversioned paths, `_ping` headers, and the one
//! place where errors become HTTP statuses. It defines the `Backend` trait it needs and knows
//! nothing of how the node implements it.
//!
//! Layer L4: depends on shoal-types only (never on manager, agent or store).
#![forbid(unsafe_code)]

mod backend;
mod error;
mod extract;
mod routes;
mod version;

use std::sync::Arc;

use axum::Router;
use axum::ServiceExt;
use axum::extract::Request;
use tower::Layer;

pub use backend::{Backend, LogTarget};
pub use error::ApiError;
pub use version::{API_VERSION, MIN_API_VERSION};

/// The full router for a backend.
pub fn router<B: Backend>(backend: Arc<B>) -> Router {
    routes::all::<B>().with_state(backend)
}

/// Serves the API on a listener (unix socket or TCP) until `shutdown` resolves.
pub async fn serve<B, L>(
    listener: L,
    backend: Arc<B>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    B: Backend,
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    // The version prefix must be stripped before routing, so the layer wraps the router.
    let app = axum::middleware::from_fn(version::strip_and_check).layer(router(backend));
    axum::serve(listener, ServiceExt::<Request>::into_make_service(app))
        .with_graceful_shutdown(shutdown)
        .await
}
