//! `shoal demo-app …`: tiny HTTP servers built into the binary, like the apps of the user
//! guides, so a service has something real to run without a registry. `whoami` answers with
//! its hostname and the request (as traefik/whoami does); `counter` counts visits (as
//! subicura/counter does), in memory or in a Redis-protocol store shared by its replicas;
//! `store` is such a store (a small Redis-protocol key-value server). Each listens on `--port`, else `$PORT` (set by the process driver), else 80.

mod counter;
mod proxy;
mod store;
mod whoami;

use std::net::SocketAddr;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum DemoApp {
    /// Answer `GET /` with the hostname, a version line and the request
    Whoami(WhoamiArgs),
    /// Count visits (in memory, or in a shared Redis-protocol store with --store)
    Counter(CounterArgs),
    /// A small in-memory Redis-protocol store (PING, GET, SET, INCR, DEL) [default port 6379]
    Store(StoreArgs),
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// TCP port to listen on (all addresses) [default: $PORT, else 6379]
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct PortArg {
    /// TCP port to listen on (all addresses) [default: $PORT, else 80]
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub port: PortArg,
    /// The version line's text (changes between rolling updates)
    #[arg(long, env = "DEMO_TEXT", default_value = "whoami v1")]
    pub text: String,
    /// Connections start with a PROXY protocol v2 header (the routing mesh sends one with the
    /// service label shoal.mesh.proxy-protocol): show the client it names as RemoteAddr
    #[arg(long)]
    pub proxy_protocol: bool,
}

#[derive(Debug, Args)]
pub struct CounterArgs {
    #[command(flatten)]
    pub port: PortArg,
    /// A Redis-protocol store (HOST or HOST:PORT, default port 6379) shared by all replicas;
    /// without it each replica counts in memory
    #[arg(long, env = "REDIS_HOST")]
    pub store: Option<String>,
}

/// Runs an app until it is stopped (SIGINT/SIGTERM end it with 0).
pub fn run(app: DemoApp) -> i32 {
    let rt = crate::runtime();
    let result = rt.block_on(async move {
        match app {
            DemoApp::Whoami(a) => {
                serve(addr(&a.port), a.proxy_protocol, whoami::router(a.text)).await
            }
            DemoApp::Counter(a) => serve(addr(&a.port), false, counter::router(a.store)).await,
            DemoApp::Store(a) => {
                store::serve(SocketAddr::from(([0, 0, 0, 0], a.port.unwrap_or(6379)))).await
            }
        }
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shoal demo-app: {e:#}");
            1
        }
    }
}

fn addr(p: &PortArg) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], p.port.unwrap_or(80)))
}

async fn serve(addr: SocketAddr, proxy_protocol: bool, app: axum::Router) -> anyhow::Result<()> {
    let inner = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("listen on {addr}: {e}"))?;
    println!("listening on {}", inner.local_addr()?);
    let listener = proxy::DemoListener {
        inner,
        proxy_protocol,
    };
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<proxy::Peer>(),
    )
    .with_graceful_shutdown(stopped())
    .await?;
    Ok(())
}

async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// The host's name: `$HOSTNAME` (set by Docker and by the process driver), else the kernel's.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}
