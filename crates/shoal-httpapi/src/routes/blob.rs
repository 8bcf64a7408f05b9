//! `/secrets` and `/configs`: create (201 `{"ID"}`), list, inspect, update, and delete (204,
//! as moby answers for these two kinds).

use axum::extract::{Path, Query as QueryParams};
use axum::http::StatusCode;
use axum::response::Response;
use shoal_types::secret::{ConfigSpec, SecretSpec};

use super::State;
use crate::backend::Backend;
use crate::error::{ApiError, json_response};
use crate::extract::{JsonBody, Query, filters_param, version_param};

fn created(id: String) -> Response {
    json_response(StatusCode::CREATED, &serde_json::json!({ "ID": id }))
}

pub async fn secret_create<B: Backend>(
    state: State<B>,
    JsonBody(spec): JsonBody<SecretSpec>,
) -> Result<Response, ApiError> {
    Ok(created(state.secret_create(spec).await?))
}

pub async fn secret_list<B: Backend>(
    state: State<B>,
    QueryParams(q): QueryParams<Query>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.secret_list(filters_param(&q)?)?,
    ))
}

pub async fn secret_inspect<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &state.secret_inspect(&id)?))
}

pub async fn secret_update<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
    JsonBody(spec): JsonBody<SecretSpec>,
) -> Result<StatusCode, ApiError> {
    let version = version_param(&q, "secret")?;
    state.secret_update(&id, version, spec).await?;
    Ok(StatusCode::OK)
}

pub async fn secret_remove<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.secret_remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn config_create<B: Backend>(
    state: State<B>,
    JsonBody(spec): JsonBody<ConfigSpec>,
) -> Result<Response, ApiError> {
    Ok(created(state.config_create(spec).await?))
}

pub async fn config_list<B: Backend>(
    state: State<B>,
    QueryParams(q): QueryParams<Query>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.config_list(filters_param(&q)?)?,
    ))
}

pub async fn config_inspect<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &state.config_inspect(&id)?))
}

pub async fn config_update<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
    JsonBody(spec): JsonBody<ConfigSpec>,
) -> Result<StatusCode, ApiError> {
    let version = version_param(&q, "config")?;
    state.config_update(&id, version, spec).await?;
    Ok(StatusCode::OK)
}

pub async fn config_remove<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.config_remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
