//! `/swarm`, `/swarm/init`, `/swarm/join`, `/swarm/leave`, `/swarm/update`.

use axum::extract::Query as QueryParams;
use axum::http::StatusCode;
use axum::response::Response;
use shoal_types::SwarmSpec;
use shoal_types::info::{InitRequest, JoinRequest, SwarmUpdateFlags};

use super::State;
use crate::backend::Backend;
use crate::error::{ApiError, json_response};
use crate::extract::{JsonBody, Query, bool_value, version_param};

pub async fn inspect<B: Backend>(state: State<B>) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &state.swarm_inspect()?))
}

/// Returns the new node's ID as a JSON string, as moby does.
pub async fn init<B: Backend>(
    state: State<B>,
    JsonBody(req): JsonBody<InitRequest>,
) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &state.swarm_init(req).await?))
}

pub async fn join<B: Backend>(
    state: State<B>,
    JsonBody(req): JsonBody<JoinRequest>,
) -> Result<StatusCode, ApiError> {
    state.swarm_join(req).await?;
    Ok(StatusCode::OK)
}

pub async fn leave<B: Backend>(
    state: State<B>,
    QueryParams(q): QueryParams<Query>,
) -> Result<StatusCode, ApiError> {
    state.swarm_leave(bool_value(&q, "force")).await?;
    Ok(StatusCode::OK)
}

pub async fn update<B: Backend>(
    state: State<B>,
    QueryParams(q): QueryParams<Query>,
    JsonBody(spec): JsonBody<SwarmSpec>,
) -> Result<StatusCode, ApiError> {
    let version = version_param(&q, "swarm")?;
    let flags = SwarmUpdateFlags {
        rotate_worker_token: bool_value(&q, "rotateWorkerToken"),
        rotate_manager_token: bool_value(&q, "rotateManagerToken"),
        rotate_manager_unlock_key: bool_value(&q, "rotateManagerUnlockKey"),
    };
    state.swarm_update(version, spec, flags).await?;
    Ok(StatusCode::OK)
}

/// `GET /swarm/unlockkey`: `{"UnlockKey": "SWMKEY-1-…"}`.
pub async fn unlock_key<B: Backend>(state: State<B>) -> Result<Response, ApiError> {
    let key = state.swarm_unlock_key()?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "UnlockKey": key }),
    ))
}

/// `POST /swarm/unlock` with `{"UnlockKey": …}`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnlockRequest {
    #[serde(default)]
    unlock_key: String,
}

pub async fn unlock<B: Backend>(
    state: State<B>,
    JsonBody(req): JsonBody<UnlockRequest>,
) -> Result<StatusCode, ApiError> {
    state.swarm_unlock(&req.unlock_key).await?;
    Ok(StatusCode::OK)
}
