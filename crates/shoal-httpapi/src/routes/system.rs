//! `_ping`, `version`, `info`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::State;
use crate::backend::Backend;
use crate::error::{ApiError, json_response};

/// `HEAD|GET /_ping`: `OK` plus the headers the docker CLI negotiates with.
pub async fn ping<B: Backend>(state: State<B>) -> Response {
    let mut resp = (StatusCode::OK, "OK").into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&state.swarm_status()) {
        h.insert("Swarm", v);
    }
    resp
}

pub async fn version<B: Backend>(state: State<B>) -> Response {
    json_response(StatusCode::OK, &state.version())
}

pub async fn info<B: Backend>(state: State<B>) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &state.info().await?))
}
