//! Runs the node's routing mesh (crate netplane) from the tables the managers send through
//! the agent's session: the latest table wins, applied one at a time in order. Leaving the
//! swarm clears it, closing every published port.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use shoal_netplane::{Mesh, Protocol, Route};
use shoal_types::mesh::MeshRoute;
use tokio::sync::watch;
use tracing::{debug, warn};

/// The mesh and the channel feeding it.
pub struct MeshRunner {
    bind: IpAddr,
    tx: watch::Sender<Vec<MeshRoute>>,
    started: OnceLock<()>,
}

impl MeshRunner {
    /// A mesh listening on `bind` (all addresses by default) once started.
    pub fn new(bind: IpAddr) -> Arc<MeshRunner> {
        let (tx, _) = watch::channel(Vec::new());
        Arc::new(MeshRunner {
            bind,
            tx,
            started: OnceLock::new(),
        })
    }

    /// Starts applying tables (once; needs a tokio runtime).
    pub fn ensure_running(&self) {
        self.started.get_or_init(|| {
            let rx = self.tx.subscribe();
            tokio::spawn(run(Mesh::new(self.bind), rx));
        });
    }

    /// The agent's callback: a new table.
    pub fn on_routes(&self) -> shoal_agent::session::RoutesChanged {
        let tx = self.tx.clone();
        Arc::new(move |routes| {
            tx.send_replace(routes);
        })
    }

    /// Closes every published port (the node left the swarm).
    pub fn clear(&self) {
        self.tx.send_replace(Vec::new());
    }
}

async fn run(mesh: Mesh, mut rx: watch::Receiver<Vec<MeshRoute>>) {
    while rx.changed().await.is_ok() {
        let table = rx.borrow_and_update().clone();
        debug!(ports = table.len(), "routing mesh table");
        for e in mesh.apply(table.iter().filter_map(route).collect()).await {
            warn!(error = %e, "routing mesh");
        }
    }
}

/// The data path's view of one route; unusable backends are skipped.
fn route(r: &MeshRoute) -> Option<Route> {
    let protocol = match r.protocol.as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return None,
    };
    Some(Route {
        port: r.port,
        protocol,
        backends: r
            .backends
            .iter()
            .filter_map(|b| b.parse::<SocketAddr>().ok())
            .collect(),
        proxy_protocol: r.proxy_protocol,
    })
}
