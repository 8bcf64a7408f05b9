//! `shoal daemon`: validate the configuration, bind the API socket, resume the node's swarm
//! if it had one, serve until SIGTERM or SIGINT, then stop cleanly.

mod addr;
mod agent;
mod autolock;
pub mod config;
mod lifecycle;
mod mesh;
mod overlay;
mod renew;
mod runtime;
mod state_file;
mod system;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tracing::info;

use config::{ApiAddr, DaemonConfig};
pub use config::{DaemonArgs, default_host};
use runtime::NodeRuntime;

/// Runs the daemon until a termination signal.
pub async fn run(cfg: DaemonConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            cfg.data_dir.display()
        )
    })?;
    let engine = shoal_agent::probe_engine(&cfg.engine_socket, Duration::from_secs(2)).await;
    match &engine {
        Some(e) => info!(version = %e.version, "docker engine found"),
        None => {
            info!(socket = %cfg.engine_socket, "no docker engine; the process driver will run tasks")
        }
    }
    let runtime = Arc::new(NodeRuntime::new(cfg.clone(), engine));
    runtime.resume().await.map_err(|e| anyhow::anyhow!(e))?;
    tokio::spawn(runtime.clone().follow_role_changes());
    tokio::spawn(runtime.clone().renew_certificates());
    tokio::spawn({
        // Autolock changed through another manager reaches this one's key file.
        let rt = runtime.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                rt.sync_autolock();
            }
        }
    });

    let shutdown = async {
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            _ = int.recv() => info!("SIGINT: shutting down"),
        }
    };
    match &cfg.api {
        ApiAddr::Unix(path) => {
            let listener = bind_unix(path)?;
            info!(socket = %path.display(), "serving the Engine API");
            shoal_httpapi::serve(listener, runtime.clone(), shutdown).await?;
            let _ = std::fs::remove_file(path);
        }
        ApiAddr::Tcp(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            info!(%addr, "serving the Engine API");
            shoal_httpapi::serve(listener, runtime.clone(), shutdown).await?;
        }
    }
    runtime.stop().await;
    info!("stopped");
    Ok(())
}

/// Binds the API socket, replacing a stale one but never a live daemon's.
fn bind_unix(path: &std::path::Path) -> anyhow::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!("another daemon is already serving {}", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    tokio::net::UnixListener::bind(path)
        .with_context(|| format!("cannot listen on {}", path.display()))
}
