//! Leader-only reconcile loops: level-triggered passes over the store, run again after every
//! commit (coalesced) or when a plan asks to be woken (a restart delay running out).

mod demote;
mod orchestrate;
mod reachability;
mod schedule;

use std::time::Duration;

use shoal_store::Store;
use tokio_util::sync::CancellationToken;

pub use demote::demote;
pub use orchestrate::orchestrate;
pub use reachability::reachability;
pub use schedule::schedule;

/// Waits for the next commit, a wake-up time, or shutdown; false on shutdown.
pub(crate) async fn wait_for_change(
    events: &mut tokio::sync::broadcast::Receiver<shoal_store::Event>,
    wake: Option<std::time::SystemTime>,
    shutdown: &CancellationToken,
) -> bool {
    let until_wake = wake
        .and_then(|w| w.duration_since(std::time::SystemTime::now()).ok())
        .unwrap_or(Duration::from_secs(5))
        .min(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(until_wake) => return true,
            ev = events.recv() => match ev {
                Ok(shoal_store::Event::Commit { .. }) | Err(_) => return true,
                Ok(_) => continue,
            },
        }
    }
}

/// Sleeps while this manager is not the leader; false on shutdown.
pub(crate) async fn wait_leadership(store: &Store, shutdown: &CancellationToken) -> bool {
    while !store.is_leader() {
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    true
}
