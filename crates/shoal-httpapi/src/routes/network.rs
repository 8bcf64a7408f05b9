//! `/networks`: create (201 `{"Id", "Warning"}`), list, inspect, delete (204).

use axum::extract::{Path, Query as QueryParams};
use axum::http::StatusCode;
use axum::response::Response;
use shoal_types::network::NetworkCreateRequest;

use super::State;
use crate::backend::Backend;
use crate::error::{ApiError, json_response};
use crate::extract::{JsonBody, Query, filters_param};

pub async fn create<B: Backend>(
    state: State<B>,
    JsonBody(req): JsonBody<NetworkCreateRequest>,
) -> Result<Response, ApiError> {
    let id = state.network_create(req).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({ "Id": id, "Warning": "" }),
    ))
}

pub async fn list<B: Backend>(
    state: State<B>,
    QueryParams(q): QueryParams<Query>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.network_list(filters_param(&q)?)?,
    ))
}

pub async fn inspect<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &state.network_inspect(&id)?))
}

pub async fn remove<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.network_remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
