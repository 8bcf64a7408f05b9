//! The leader carries out demotions: a node whose spec says worker but which is still a Raft
//! voter leaves the membership (node object first, then Raft), after which its agent renews its
//! certificate as a worker and stops its manager role. Promotions need nothing here: the node
//! renews its certificate as a manager and joins the membership itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use shoal_store::Store;
use shoal_types::{Node, NodeRole};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::wait_leadership;
use crate::members::remove_manager;

const PERIOD: Duration = Duration::from_millis(500);

/// A learner no node claims is dropped after this long (a joining manager is a learner only
/// while it catches up, before its node object records its Raft ID).
const STRAY_LEARNER: Duration = Duration::from_secs(60);

/// Runs until `shutdown`, acting only while this manager leads.
pub async fn demote(store: Store, shutdown: CancellationToken) {
    let mut strays: HashMap<u64, Instant> = HashMap::new();
    loop {
        if !wait_leadership(&store, &shutdown).await {
            return;
        }
        drop_stray_learners(&store, &mut strays).await;
        let demoted: Vec<(String, u64)> = store.view(|v| {
            v.list::<Node>()
                .into_iter()
                .filter(|n| n.spec.role == NodeRole::Worker)
                .filter_map(|n| n.raft_id.map(|r| (n.id, r)))
                .collect()
        });
        for (node_id, raft_id) in demoted {
            if let Err(e) = remove_manager(&store, &node_id, raft_id).await {
                warn!(node.id = %node_id, error = %e, "cannot demote yet; will retry");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PERIOD) => {}
        }
    }
}

/// Removes learners that no node object claims once they have been strays for a while (a
/// leader that removed itself leaves one behind).
async fn drop_stray_learners(store: &Store, strays: &mut HashMap<u64, Instant>) {
    let claimed: Vec<u64> =
        store.view(|v| v.list::<Node>().iter().filter_map(|n| n.raft_id).collect());
    let learners: Vec<u64> = store
        .learners()
        .into_iter()
        .filter(|l| !claimed.contains(l))
        .collect();
    strays.retain(|id, _| learners.contains(id));
    for id in learners {
        let since = *strays.entry(id).or_insert_with(Instant::now);
        if since.elapsed() > STRAY_LEARNER
            && let Err(e) = store.remove_voter(id).await
        {
            warn!(raft.id = id, error = %e, "cannot drop a stray learner yet");
        }
    }
}
