//! `/tasks`, `/tasks/{id}`.

use axum::extract::{Path, Query as QueryParams};
use axum::http::StatusCode;
use axum::response::Response;

use super::State;
use crate::backend::Backend;
use crate::error::{ApiError, json_response};
use crate::extract::{Query, filters_param};

pub async fn list<B: Backend>(
    state: State<B>,
    QueryParams(q): QueryParams<Query>,
) -> Result<Response, ApiError> {
    let tasks = state.task_list(filters_param(&q)?)?;
    Ok(json_response(StatusCode::OK, &tasks))
}

pub async fn inspect<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &state.task_inspect(&id)?))
}
