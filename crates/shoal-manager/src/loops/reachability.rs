//! The leader records which managers it can reach in their node objects, so every manager shows
//! the same MANAGER STATUS (swarmkit's raft member monitoring does the same).

use std::time::Duration;

use shoal_store::Store;
use shoal_types::{Node, Reachability};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::wait_leadership;

/// How often the leader looks.
const PERIOD: Duration = Duration::from_millis(500);

/// Runs until `shutdown`, acting only while this manager leads.
pub async fn reachability(store: Store, shutdown: CancellationToken) {
    loop {
        if !wait_leadership(&store, &shutdown).await {
            return;
        }
        let changes: Vec<(String, Reachability)> = store.view(|v| {
            v.list::<Node>()
                .into_iter()
                .filter_map(|n| {
                    let raft_id = n.raft_id?;
                    let stored = n.manager_status.as_ref()?.reachability;
                    let now = if store.reachable(raft_id) {
                        Reachability::Reachable
                    } else {
                        Reachability::Unreachable
                    };
                    (now != stored).then_some((n.id, now))
                })
                .collect()
        });
        if !changes.is_empty() {
            let res = store
                .update(|tx| {
                    for (id, r) in &changes {
                        if let Some(mut n) = tx.get::<Node>(id) {
                            info!(node.id = %id, reachability = ?r, "manager reachability");
                            if let Some(ms) = n.manager_status.as_mut() {
                                ms.reachability = *r;
                            }
                            tx.update(n)?;
                        }
                    }
                    Ok::<_, shoal_store::StoreError>(())
                })
                .await;
            if let Err(e) = res {
                warn!(error = %e, "cannot record manager reachability");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PERIOD) => {}
        }
    }
}
