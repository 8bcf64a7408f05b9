//! Request parsing with Docker's error texts: JSON bodies (bad JSON is a 400 with the parse
//! error, an oversized body a 400 too, never a half-read request), booleans and versions in the
//! query string.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use shoal_types::Error;

use crate::error::ApiError;

/// Largest request body accepted (secrets and configs are under 1 MB; the rest is small).
pub const MAX_BODY: usize = 4 << 20;

/// A JSON request body.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                Error::invalid(format!(
                    "request body is larger than the limit of {MAX_BODY} bytes"
                ))
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::invalid("request body is empty: expected a JSON object").into());
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| Error::invalid(format!("invalid JSON body: {e}")).into())
    }
}

/// Query parameters as given.
pub type Query = HashMap<String, String>;

/// moby's `httputils.BoolValue`: absent, "", "0", "no", "false" and "none" are false.
pub fn bool_value(q: &Query, key: &str) -> bool {
    match q.get(key) {
        None => false,
        Some(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "no" | "false" | "none"
        ),
    }
}

/// The `version` parameter of an update, with moby's text on a bad one.
pub fn version_param(q: &Query, what: &str) -> Result<u64, ApiError> {
    let raw = q.get("version").map(String::as_str).unwrap_or("");
    raw.parse::<u64>().map_err(|e| {
        Error::invalid(format!(
            "invalid {what} version '{raw}': {}",
            go_parse_error(raw, &e)
        ))
        .into()
    })
}

fn go_parse_error(raw: &str, e: &std::num::ParseIntError) -> String {
    // Go's strconv error reads `strconv.ParseUint: parsing "x": invalid syntax`.
    let why = match e.kind() {
        std::num::IntErrorKind::PosOverflow => "value out of range",
        _ => "invalid syntax",
    };
    format!("strconv.ParseUint: parsing \"{raw}\": {why}")
}

/// The `filters` parameter.
pub fn filters_param(q: &Query) -> Result<shoal_types::Filters, ApiError> {
    shoal_types::Filters::parse(q.get("filters").map(String::as_str).unwrap_or(""))
        .map_err(ApiError)
}
