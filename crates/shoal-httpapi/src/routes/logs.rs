//! `GET /services/{id}/logs` and `GET /tasks/{id}/logs`: the lines of a service's tasks as a
//! multiplexed stream (stdcopy frames: `[stream, 0, 0, 0, length BE u32]` then the payload),
//! each line `[timestamp ]<details> <message>` as moby's `WriteLogStream` writes it. The docker
//! CLI parses the `com.docker.swarm.{node,service,task}.id` details to label each line.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, Query as QueryParams};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use shoal_types::{Error, LogEntry};

use super::State;
use crate::backend::{Backend, LogTarget};
use crate::error::ApiError;
use crate::extract::{Query, bool_value};

/// What the client asked for.
#[derive(Debug, Clone, Copy)]
struct Options {
    stdout: bool,
    stderr: bool,
    follow: bool,
    tail: i64,
    timestamps: bool,
    details: bool,
}

fn options(q: &Query) -> Result<Options, ApiError> {
    let tail = match q.get("tail").map(String::as_str) {
        None | Some("") | Some("all") => -1,
        Some(n) => n
            .parse::<i64>()
            .map_err(|_| Error::invalid(format!("invalid tail value: {n}")))?,
    };
    let o = Options {
        stdout: bool_value(q, "stdout"),
        stderr: bool_value(q, "stderr"),
        follow: bool_value(q, "follow"),
        tail,
        timestamps: bool_value(q, "timestamps"),
        details: bool_value(q, "details"),
    };
    if !o.stdout && !o.stderr {
        return Err(Error::invalid("Bad parameters: you must choose at least one stream").into());
    }
    Ok(o)
}

pub async fn service<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
) -> Result<Response, ApiError> {
    stream(state, LogTarget::Service(id), &q).await
}

pub async fn task<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
) -> Result<Response, ApiError> {
    stream(state, LogTarget::Task(id), &q).await
}

async fn stream<B: Backend>(
    state: State<B>,
    target: LogTarget,
    q: &Query,
) -> Result<Response, ApiError> {
    let o = options(q)?;
    let lines = state.logs(target, o.follow, o.tail).await?;
    let frames = lines
        .filter(move |e| {
            std::future::ready((e.stream == 2 && o.stderr) || (e.stream != 2 && o.stdout))
        })
        .map(move |e| Ok::<_, Infallible>(frame(&e, o)));
    let mut resp = (StatusCode::OK, Body::from_stream(frames)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.docker.multiplexed-stream"),
    );
    Ok(resp)
}

/// `k=v` pairs sorted by key, URL-escaped, joined by commas (moby's `attrsByteSlice`).
fn details(e: &LogEntry) -> String {
    let mut attrs = [
        ("com.docker.swarm.node.id", e.node_id.as_str()),
        ("com.docker.swarm.service.id", e.service_id.as_str()),
        ("com.docker.swarm.task.id", e.task_id.as_str()),
    ];
    attrs.sort();
    attrs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Go's `url.QueryEscape` for the characters IDs and keys can contain.
fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn frame(e: &LogEntry, o: Options) -> Vec<u8> {
    let mut payload = Vec::with_capacity(e.line.len() + 128);
    if o.timestamps {
        payload.extend_from_slice(e.timestamp.as_bytes());
        payload.push(b' ');
    }
    if o.details {
        payload.extend_from_slice(details(e).as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(&e.line);
    if !payload.ends_with(b"\n") {
        payload.push(b'\n');
    }
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&[if e.stream == 2 { 2 } else { 1 }, 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_stdcopy_with_details_the_cli_parses() {
        let e = LogEntry {
            task_id: "t1".into(),
            service_id: "s1".into(),
            node_id: "n1".into(),
            stream: 2,
            timestamp: "2026-11-21T10:00:00.000000001Z".into(),
            line: b"hello".to_vec(),
        };
        let o = Options {
            stdout: true,
            stderr: true,
            follow: false,
            tail: -1,
            timestamps: true,
            details: true,
        };
        let f = frame(&e, o);
        assert_eq!(&f[..4], &[2, 0, 0, 0]);
        let len = u32::from_be_bytes(f[4..8].try_into().unwrap()) as usize;
        assert_eq!(len, f.len() - 8);
        assert_eq!(
            std::str::from_utf8(&f[8..]).unwrap(),
            "2026-11-21T10:00:00.000000001Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 hello\n"
        );
    }
}
