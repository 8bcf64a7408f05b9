//! `/nodes`, `/nodes/{id}`, `/nodes/{id}/update`.

use axum::extract::{Path, Query as QueryParams};
use axum::http::StatusCode;
use axum::response::Response;
use shoal_types::NodeSpec;

use super::State;
use crate::backend::Backend;
use crate::error::{ApiError, json_response};
use crate::extract::{JsonBody, Query, bool_value, filters_param, version_param};

pub async fn list<B: Backend>(
    state: State<B>,
    QueryParams(q): QueryParams<Query>,
) -> Result<Response, ApiError> {
    let nodes = state.node_list(filters_param(&q)?)?;
    Ok(json_response(StatusCode::OK, &nodes))
}

pub async fn inspect<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &state.node_inspect(&id)?))
}

pub async fn update<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
    JsonBody(spec): JsonBody<NodeSpec>,
) -> Result<StatusCode, ApiError> {
    let version = version_param(&q, "node")?;
    state.node_update(&id, version, spec).await?;
    Ok(StatusCode::OK)
}

pub async fn remove<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
) -> Result<StatusCode, ApiError> {
    state.node_remove(&id, bool_value(&q, "force")).await?;
    Ok(StatusCode::OK)
}
