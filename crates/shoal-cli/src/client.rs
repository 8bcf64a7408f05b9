//! A small HTTP/1.1 client for the Docker Engine API over a unix socket or TCP.
//!
//! One connection per request: the CLI makes a handful of calls per command, so pooling would
//! only add state. Paths are versioned (`/v1.47/...`) like the docker CLI's, after a lazy
//! `HEAD /_ping` negotiation that lowers the version for older daemons.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::{TcpStream, UnixStream};

use crate::error::CliError;

/// The API version this client speaks (Docker 27's), used unless the daemon is older.
pub const API_VERSION: &str = "1.47";

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
}

/// A status, the response headers and the whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An Engine API client bound to one daemon address.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    /// The `-H` value as given, for error messages.
    host: String,
    /// Set by the first versioned request (`HEAD /_ping`), as the docker CLI negotiates
    /// lazily: a command that fails its own checks first never touches the daemon.
    api_version: tokio::sync::OnceCell<String>,
}

impl Client {
    /// Parses `unix:///path`, `tcp://host:port` or `http://host:port` (port 2375 if missing).
    pub fn new(host: &str) -> Result<Client, CliError> {
        let invalid = || CliError::InvalidHost(host.to_string());
        let endpoint = if let Some(path) = host.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(invalid());
            }
            Endpoint::Unix(PathBuf::from(path))
        } else if let Some(rest) = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
        {
            let authority = rest.trim_end_matches('/');
            if authority.is_empty() || authority.contains('/') {
                return Err(invalid());
            }
            Endpoint::Tcp(with_default_port(authority, 2375))
        } else {
            return Err(invalid());
        };
        Ok(Client {
            endpoint,
            host: host.to_string(),
            api_version: tokio::sync::OnceCell::new(),
        })
    }

    /// The API version in use: the negotiated one, or ours before negotiation.
    pub fn api_version(&self) -> &str {
        self.api_version.get().map_or(API_VERSION, String::as_str)
    }

    /// `HEAD /_ping` once and use min(ours, the daemon's `Api-Version`), as the docker CLI
    /// does. Only connection failures are errors: a daemon that answers oddly keeps ours.
    pub async fn negotiate(&self) -> Result<&str, CliError> {
        let version = self.api_version.get_or_try_init(|| async {
            match self.head("/_ping").await {
                Ok(reply) => {
                    let theirs = reply
                        .headers
                        .get("api-version")
                        .and_then(|v| v.to_str().ok());
                    Ok(match theirs {
                        Some(v) if version_less(v, API_VERSION) => v.to_string(),
                        _ => API_VERSION.to_string(),
                    })
                }
                Err(e @ (CliError::Connect { .. } | CliError::PermissionDenied { .. })) => Err(e),
                Err(_) => Ok(API_VERSION.to_string()),
            }
        });
        version.await.map(String::as_str)
    }

    /// The versioned path for an API path (`/nodes` → `/v1.47/nodes`), negotiating first.
    pub async fn versioned(&self, path: &str) -> Result<String, CliError> {
        Ok(versioned_path(self.negotiate().await?, path))
    }

    /// `HEAD` an unversioned path (used for `/_ping`); non-2xx is an error.
    pub async fn head(&self, path: &str) -> Result<Reply, CliError> {
        self.request(Method::HEAD, path.to_string(), None).await
    }

    /// `GET` a versioned path and decode its JSON body.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        decode(&self.get_raw(path).await?)
    }

    /// `GET` a versioned path and return the body as received.
    pub async fn get_raw(&self, path: &str) -> Result<Bytes, CliError> {
        Ok(self
            .request(Method::GET, self.versioned(path).await?, None)
            .await?
            .body)
    }

    /// `GET` a versioned path and hand the body to `sink` chunk by chunk as it arrives (log
    /// streams that may never end).
    pub async fn get_stream(
        &self,
        path: &str,
        mut sink: impl FnMut(&[u8]) + Send,
    ) -> Result<(), CliError> {
        let req = self.build(Method::GET, &self.versioned(path).await?, None)?;
        let transport = |e: hyper::Error| CliError::Transport(e.to_string());
        let resp = match &self.endpoint {
            Endpoint::Unix(p) => {
                let io = UnixStream::connect(p)
                    .await
                    .map_err(|e| self.connect_error(e))?;
                send(TokioIo::new(io), req).await?
            }
            Endpoint::Tcp(addr) => {
                let io = TcpStream::connect(addr)
                    .await
                    .map_err(|e| self.connect_error(e))?;
                send(TokioIo::new(io), req).await?
            }
        };
        let (parts, mut body) = resp.into_parts();
        if !parts.status.is_success() {
            let body = body.collect().await.map_err(transport)?.to_bytes();
            return Err(daemon_error(&Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            }));
        }
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(transport)?.into_data() {
                sink(&data);
            }
        }
        Ok(())
    }

    /// `POST` a JSON body to a versioned path and decode the JSON answer.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, CliError> {
        decode(&self.post_raw(path, body).await?)
    }

    /// `POST` a JSON body to a versioned path and return the answer's bytes (often empty).
    pub async fn post_raw(&self, path: &str, body: &impl Serialize) -> Result<Bytes, CliError> {
        let json = serde_json::to_vec(body).map_err(|e| CliError::msg(e.to_string()))?;
        Ok(self
            .request(Method::POST, self.versioned(path).await?, Some(json))
            .await?
            .body)
    }

    /// `POST` with no body (e.g. `/swarm/leave`), as the docker client sends it.
    pub async fn post_empty(&self, path: &str) -> Result<Bytes, CliError> {
        Ok(self
            .request(Method::POST, self.versioned(path).await?, None)
            .await?
            .body)
    }

    /// `DELETE` a versioned path.
    pub async fn delete(&self, path: &str) -> Result<(), CliError> {
        self.request(Method::DELETE, self.versioned(path).await?, None)
            .await
            .map(|_| ())
    }

    async fn request(
        &self,
        method: Method,
        path: String,
        json: Option<Vec<u8>>,
    ) -> Result<Reply, CliError> {
        let req = self.build(method, &path, json)?;
        let reply = match &self.endpoint {
            Endpoint::Unix(p) => {
                let stream = UnixStream::connect(p)
                    .await
                    .map_err(|e| self.connect_error(e))?;
                exchange(TokioIo::new(stream), req).await?
            }
            Endpoint::Tcp(addr) => {
                let stream = TcpStream::connect(addr)
                    .await
                    .map_err(|e| self.connect_error(e))?;
                exchange(TokioIo::new(stream), req).await?
            }
        };
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(daemon_error(&reply))
        }
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        json: Option<Vec<u8>>,
    ) -> Result<Request<Full<Bytes>>, CliError> {
        // Docker sends this dummy host over unix sockets; over TCP the real authority.
        let host = match &self.endpoint {
            Endpoint::Unix(_) => "api.moby.localhost",
            Endpoint::Tcp(a) => a.as_str(),
        };
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(
                HOST,
                HeaderValue::from_str(host).map_err(|e| CliError::msg(e.to_string()))?,
            )
            .header(USER_AGENT, concat!("shoal-cli/", env!("CARGO_PKG_VERSION")));
        let body = match json {
            Some(bytes) => {
                b = b.header(CONTENT_TYPE, "application/json");
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        b.body(Full::new(body))
            .map_err(|e| CliError::msg(format!("invalid request: {e}")))
    }

    fn connect_error(&self, e: std::io::Error) -> CliError {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            CliError::PermissionDenied {
                host: self.host.clone(),
                detail: e.to_string(),
            }
        } else {
            CliError::Connect {
                host: self.host.clone(),
            }
        }
    }
}

/// Sends one request on a fresh connection and reads the whole answer.
/// Sends one request on a fresh connection and returns the response, body unread.
async fn send<I>(
    io: I,
    req: Request<Full<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, CliError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let transport = |e: hyper::Error| CliError::Transport(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(transport)?;
    // The connection future drives the socket; it ends when the response is read.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await.map_err(transport)
}

async fn exchange<I>(io: I, req: Request<Full<Bytes>>) -> Result<Reply, CliError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let transport = |e: hyper::Error| CliError::Transport(e.to_string());
    let resp = send(io, req).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(transport)?.to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// The docker client's reading of an error answer (`checkResponseErr`): JSON `message` when
/// the type is JSON, else the body text.
fn daemon_error(reply: &Reply) -> CliError {
    let status = reply.status.as_u16();
    let is_json = reply
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let message = if is_json {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            #[serde(default)]
            message: String,
        }
        match serde_json::from_slice::<ErrorBody>(&reply.body) {
            Ok(b) if !b.message.trim().is_empty() => b.message.trim().to_string(),
            Ok(_) => format!(
                "API returned a {status} ({}) but provided no error-message",
                reply.status.canonical_reason().unwrap_or("")
            ),
            Err(e) => return CliError::Decode(format!("Error reading JSON: {e}")),
        }
    } else {
        String::from_utf8_lossy(&reply.body).trim().to_string()
    };
    CliError::Daemon { status, message }
}

/// `/v{version}{path}`.
fn versioned_path(version: &str, path: &str) -> String {
    format!("/v{version}{path}")
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, CliError> {
    serde_json::from_slice(body).map_err(|e| CliError::Decode(e.to_string()))
}

fn with_default_port(authority: &str, port: u16) -> String {
    let has_port = match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    };
    if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{port}")
    }
}

/// True when API version `a` is older than `b` (`1.41` < `1.47`).
fn version_less(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a) < parse(b)
}

/// Escapes a query component as Go's `url.QueryEscape` does (space → `+`).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `?k=v&…` with keys sorted, as Go's `url.Values.Encode` writes it; empty for no pairs.
pub fn query(pairs: &[(&str, String)]) -> String {
    let sorted: BTreeMap<&str, &String> = pairs.iter().map(|(k, v)| (*k, v)).collect();
    let parts: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// The `filters` parameter: `{"role":["manager"]}` (the list form every daemon version reads).
pub fn filters_json(filters: &BTreeMap<String, Vec<String>>) -> String {
    serde_json::to_string(filters).expect("a map of strings serialises")
}

/// Escapes one path segment (a node ID or name given by the user).
pub fn path_escape(s: &str) -> String {
    query_escape(s).replace('+', "%20")
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
