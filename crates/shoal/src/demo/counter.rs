//! `counter`: `GET /` answers `<hostname> > <visits>`. Visits are counted in memory, or with
//! `INCR` in a Redis-protocol store shared by every replica.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const KEY: &str = "shoal-demo-counter";

struct Counter {
    store: Option<String>,
    local: AtomicU64,
}

pub fn router(store: Option<String>) -> Router {
    let store = store.map(|s| {
        if s.contains(':') {
            s
        } else {
            format!("{s}:6379")
        }
    });
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/", get(visit))
        .with_state(Arc::new(Counter {
            store,
            local: AtomicU64::new(0),
        }))
}

async fn visit(State(c): State<Arc<Counter>>) -> Result<String, (StatusCode, String)> {
    let n = match &c.store {
        None => c.local.fetch_add(1, Ordering::SeqCst) + 1,
        Some(addr) => incr(addr).await.map_err(|e| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("store {addr}: {e}\n"),
            )
        })?,
    };
    Ok(format!("{} > {n}\n", super::hostname()))
}

/// `INCR` over the Redis protocol (RESP); the reply is `:<n>`.
async fn incr(addr: &str) -> anyhow::Result<u64> {
    let stream = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        tokio::net::TcpStream::connect(addr),
    )
    .await??;
    let mut stream = BufReader::new(stream);
    let cmd = format!("*2\r\n$4\r\nINCR\r\n${}\r\n{KEY}\r\n", KEY.len());
    stream.get_mut().write_all(cmd.as_bytes()).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let line = line.trim_end();
    match line.strip_prefix(':') {
        Some(n) => Ok(n.parse()?),
        None => anyhow::bail!("unexpected reply {line:?}"),
    }
}
