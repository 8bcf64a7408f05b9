//! Live agent sessions and the node-down monitor.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shoal_store::Store;
use shoal_types::{Cluster, Node, NodeState};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::DispatcherConfig;

struct Entry {
    session_id: String,
    last_seen: Instant,
    /// The heartbeat period this agent was last told; its deadline follows it, so changing the
    /// cluster's period never expires agents still beating at the old one.
    period: Duration,
    /// Fires when the session is replaced or expires, ending its assignment stream.
    ended: CancellationToken,
}

/// Sessions by node ID.
pub struct Sessions {
    /// The period follows the cluster spec (`swarm update --dispatcher-heartbeat`), read by the
    /// monitor on every tick.
    cfg: Mutex<DispatcherConfig>,
    /// When this manager last became leader: nodes get a full grace period from then to open
    /// a session here before they are marked Down.
    leader_since: Mutex<Option<Instant>>,
    inner: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    pub fn new(cfg: DispatcherConfig) -> Self {
        Self {
            cfg: Mutex::new(cfg),
            leader_since: Mutex::new(None),
            inner: Mutex::new(HashMap::new()),
        }
    }

    /// Takes the heartbeat period from the cluster spec when it has one.
    fn follow_spec(&self, store: &Store) {
        let period_ns = store
            .view(|v| {
                v.list::<Cluster>()
                    .first()
                    .map(|c| c.spec.dispatcher.heartbeat_period)
            })
            .filter(|p| *p > 0);
        if let Some(ns) = period_ns {
            self.cfg.lock().expect("dispatcher config").period = Duration::from_nanos(ns as u64);
        }
    }

    /// Follows leadership: a manager that stops leading ends every session (its agents then
    /// find the new leader); one that starts leading starts the grace period.
    fn track_leadership(&self, leading: bool) {
        let mut since = self.leader_since.lock().expect("leader_since");
        match (leading, since.is_some()) {
            (true, false) => *since = Some(Instant::now()),
            (false, true) => {
                *since = None;
                let ended: Vec<Entry> = self
                    .inner
                    .lock()
                    .expect("sessions")
                    .drain()
                    .map(|(_, e)| e)
                    .collect();
                if !ended.is_empty() {
                    info!(
                        sessions = ended.len(),
                        "no longer the leader: agent sessions ended"
                    );
                }
                for e in ended {
                    e.ended.cancel();
                }
            }
            _ => {}
        }
    }

    pub fn config(&self) -> DispatcherConfig {
        *self.cfg.lock().expect("dispatcher config")
    }

    /// Opens a session for `node_id`, ending any previous one; returns its ID and end signal.
    pub fn open(&self, node_id: &str) -> (String, CancellationToken) {
        let session_id = shoal_types::new_id();
        let ended = CancellationToken::new();
        let entry = Entry {
            session_id: session_id.clone(),
            last_seen: Instant::now(),
            period: self.config().period,
            ended: ended.clone(),
        };
        if let Some(old) = self
            .inner
            .lock()
            .expect("sessions")
            .insert(node_id.to_string(), entry)
        {
            old.ended.cancel();
        }
        (session_id, ended)
    }

    /// Records a heartbeat; false when the session is unknown (the agent must reconnect).
    pub fn heartbeat(&self, node_id: &str, session_id: &str) -> bool {
        let mut map = self.inner.lock().expect("sessions");
        match map.get_mut(node_id) {
            Some(e) if e.session_id == session_id => {
                e.last_seen = Instant::now();
                e.period = self.config().period;
                true
            }
            _ => false,
        }
    }

    /// True when `session_id` is the node's current session.
    pub fn is_current(&self, node_id: &str, session_id: &str) -> bool {
        self.inner
            .lock()
            .expect("sessions")
            .get(node_id)
            .is_some_and(|e| e.session_id == session_id)
    }

    fn grace(&self) -> Duration {
        let cfg = self.config();
        cfg.period * cfg.grace_periods
    }

    /// Ends expired sessions and returns the nodes that should now be Down: nodes whose
    /// session expired, and Ready nodes that never opened one within the grace period.
    fn expired(&self, ready_nodes: &[String]) -> Vec<String> {
        let grace = self.grace();
        let periods = self.config().grace_periods;
        let mut map = self.inner.lock().expect("sessions");
        let mut down: Vec<String> = Vec::new();
        map.retain(|node, e| {
            let alive = e.last_seen.elapsed() <= e.period * periods;
            if !alive {
                e.ended.cancel();
                down.push(node.clone());
            }
            alive
        });
        let settled = self
            .leader_since
            .lock()
            .expect("leader_since")
            .is_some_and(|t| t.elapsed() > grace);
        if settled {
            down.extend(
                ready_nodes
                    .iter()
                    .filter(|n| !map.contains_key(*n))
                    .cloned(),
            );
        }
        down.sort();
        down.dedup();
        down
    }

    /// Marks nodes Down as their heartbeats stop, until `shutdown`.
    pub async fn monitor(&self, store: Store, shutdown: CancellationToken) {
        loop {
            let tick = (self.config().period / 5).max(Duration::from_millis(100));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(tick) => {}
            }
            self.follow_spec(&store);
            let leading = store.is_leader();
            self.track_leadership(leading);
            if !leading {
                continue;
            }
            let ready: Vec<String> = store.view(|v| {
                v.list::<Node>()
                    .into_iter()
                    .filter(|n| n.status.state == NodeState::Ready)
                    .map(|n| n.id)
                    .collect()
            });
            let down = self.expired(&ready);
            if !down.is_empty() {
                mark_down(&store, &down).await;
            }
        }
    }
}

async fn mark_down(store: &Store, nodes: &[String]) {
    let res = store
        .update(|tx| {
            for id in nodes {
                if let Some(mut n) = tx
                    .get::<Node>(id)
                    .filter(|n| n.status.state != NodeState::Down)
                {
                    n.status.state = NodeState::Down;
                    n.status.message = "heartbeat failure".into();
                    tx.update(n)?;
                }
            }
            Ok::<_, shoal_store::StoreError>(())
        })
        .await;
    match res {
        Ok(()) => info!(nodes = ?nodes, "nodes down: heartbeat failure"),
        Err(e) => warn!(error = %e, "could not mark nodes down"),
    }
}
