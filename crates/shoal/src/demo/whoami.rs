//! `whoami`: the hostname, a version line and the request, as plain text.

use std::fmt::Write;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, Uri, Version};
use axum::routing::get;

use super::proxy::Peer;

pub fn router(text: String) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .fallback(whoami)
        .with_state(Arc::new(text))
}

async fn whoami(
    State(text): State<Arc<String>>,
    ConnectInfo(Peer(remote)): ConnectInfo<Peer>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Hostname: {}", super::hostname());
    let _ = writeln!(out, "Version: {text}");
    for (k, v) in [
        ("Task", "SHOAL_TASK_NAME"),
        ("Service", "SHOAL_SERVICE_NAME"),
        ("Port", "PORT"),
    ] {
        if let Ok(v) = std::env::var(v) {
            let _ = writeln!(out, "{k}: {v}");
        }
    }
    let _ = writeln!(out, "RemoteAddr: {remote}");
    let _ = writeln!(out, "{method} {uri} {version:?}");
    for (k, v) in &headers {
        let _ = writeln!(out, "{k}: {}", String::from_utf8_lossy(v.as_bytes()));
    }
    out
}
