//! API versions: strip `/v1.NN` before routing, refuse versions outside what we serve with
//! moby's texts, and stamp every response with the headers the docker CLI reads.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use shoal_types::Error;

use crate::error::{ApiError, json_response};

/// The API version this server speaks (the spec it follows).
pub const API_VERSION: &str = "1.47";
/// The oldest version accepted.
pub const MIN_API_VERSION: &str = "1.24";
/// The newest version a client may ask for (docker CLI 28 asks for up to 1.50).
const MAX_ACCEPTED: (u32, u32) = (1, 50);

fn parse(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Splits `/v1.41/nodes` into (Some("1.41"), "/nodes").
fn split_version(path: &str) -> (Option<&str>, &str) {
    let Some(rest) = path.strip_prefix("/v") else {
        return (None, path);
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let ver = &rest[..end];
    if ver.is_empty() || !ver.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return (None, path);
    }
    (Some(ver), &rest[end..])
}

fn check(ver: &str) -> Result<(), Error> {
    let v = parse(ver).ok_or_else(|| Error::invalid(format!("malformed version: {ver}")))?;
    if v > MAX_ACCEPTED {
        return Err(Error::invalid(format!(
            "client version {ver} is too new. Maximum supported API version is {}.{}",
            MAX_ACCEPTED.0, MAX_ACCEPTED.1
        )));
    }
    if v < parse(MIN_API_VERSION).expect("valid") {
        return Err(Error::invalid(format!(
            "client version {ver} is too old. Minimum supported API version is {MIN_API_VERSION}, \
             please upgrade your client to a newer version"
        )));
    }
    Ok(())
}

/// The middleware: version check and prefix strip, then common headers.
pub async fn strip_and_check(mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let (ver, rest) = split_version(&path);
    let mut resp = match ver.map(check) {
        Some(Err(e)) => {
            let err = ApiError(e);
            json_response(
                crate::error::status_of(err.0.kind),
                &serde_json::json!({"message": err.0.message}),
            )
        }
        _ => {
            if ver.is_some() {
                let rest = if rest.is_empty() { "/" } else { rest };
                let pq = match req.uri().query() {
                    Some(q) => format!("{rest}?{q}"),
                    None => rest.to_string(),
                };
                match pq.parse::<Uri>() {
                    Ok(uri) => *req.uri_mut() = uri,
                    Err(_) => return bad_path(),
                }
            }
            next.run(req).await
        }
    };
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        "Server",
        HeaderValue::from_str(&format!("shoal/{} (linux)", env!("CARGO_PKG_VERSION")))
            .expect("ascii"),
    );
    resp
}

fn bad_path() -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({"message": "malformed request path"}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefixes() {
        assert_eq!(split_version("/v1.41/nodes"), (Some("1.41"), "/nodes"));
        assert_eq!(split_version("/nodes"), (None, "/nodes"));
        assert_eq!(split_version("/version"), (None, "/version"));
        assert_eq!(split_version("/v1.47"), (Some("1.47"), ""));
    }

    #[test]
    fn version_bounds() {
        assert!(check("1.24").is_ok());
        assert!(check("1.50").is_ok());
        assert_eq!(
            check("1.51").unwrap_err().message,
            "client version 1.51 is too new. Maximum supported API version is 1.50"
        );
        assert!(check("1.12").unwrap_err().message.contains("too old"));
        assert!(check("x.y").is_err());
    }
}
