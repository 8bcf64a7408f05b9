//! The store facade: consistent reads of the in-memory tables, writes committed through Raft,
//! and change events.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use openraft::{BasicNode, SnapshotPolicy};
use tokio::sync::broadcast;
use tracing::info;

use crate::batch::Batcher;
use crate::disk;
use crate::error::StoreError;
use crate::log_store::LogStore;
use crate::network::{Connector, Contacts, Network};
use crate::raft_types::{NodeId, Raft};
use crate::seal::Sealer;
use crate::state_machine::{Shared, StateMachine};
use crate::tables::Tables;
use crate::tx::{Event, ReadTx, Transaction, WriteTx};

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Directory of the redb file.
    pub dir: PathBuf,
    /// This manager's Raft member ID.
    pub raft_id: NodeId,
    /// Take a snapshot (and compact the log) every this many entries.
    pub snapshot_interval: u64,
    /// Entries kept behind a snapshot for slow followers.
    pub keep_entries: u64,
    pub heartbeat: Duration,
    pub election_timeout: (Duration, Duration),
    /// Seals log entries and snapshots on disk (the manager's data key); plain when unset.
    pub sealer: Sealer,
}

impl StoreConfig {
    /// Defaults: snapshots every 10,000 entries as swarmkit. Elections: openraft 0.9 lets a
    /// follower campaign only after the leader lease (= the maximum election timeout) plus a
    /// random election timeout, so with 0.5-0.9 s a dead leader is replaced 1.4-1.8 s after its
    /// last heartbeat, where swarmkit waits 10 s and more (docs/benchmarks.md).
    pub fn new(dir: PathBuf, raft_id: NodeId) -> Self {
        Self {
            dir,
            raft_id,
            snapshot_interval: 10_000,
            keep_entries: 500,
            heartbeat: Duration::from_millis(100),
            election_timeout: (Duration::from_millis(500), Duration::from_millis(900)),
            sealer: Sealer::plain(),
        }
    }
}

/// Capacity of the event channel; a watcher that falls further behind gets `Lagged` and must
/// re-read the state (every loop is level-triggered anyway).
const EVENT_BUFFER: usize = 16 * 1024;

/// The replicated cluster store.
#[derive(Clone)]
pub struct Store {
    raft: Raft,
    shared: Arc<Shared>,
    raft_id: NodeId,
    /// Held weakly so `shutdown` can wait until Raft's tasks have let go of the file.
    db: Weak<redb::Database>,
    batcher: Batcher,
    /// A leader that has heard from no quorum for this long no longer counts as leader.
    quorum_lease: Duration,
    contacts: Contacts,
}

impl Store {
    /// Opens the data directory (creating it if new) and starts this manager's Raft node.
    /// A restarted node replays its log on top of its latest snapshot before serving.
    pub async fn open(
        cfg: StoreConfig,
        connector: Arc<dyn Connector>,
    ) -> Result<Store, StoreError> {
        let db = disk::open(&cfg.dir)?;
        let shared = Arc::new(Shared {
            tables: RwLock::new(Tables::default()),
            events: broadcast::channel(EVENT_BUFFER).0,
        });
        let sm = StateMachine::restore(db.clone(), shared.clone(), cfg.sealer.clone())
            .map_err(|e| StoreError::Disk(format!("cannot load the snapshot: {e}")))?;
        let raft_cfg = openraft::Config {
            cluster_name: "shoal".into(),
            heartbeat_interval: cfg.heartbeat.as_millis() as u64,
            election_timeout_min: cfg.election_timeout.0.as_millis() as u64,
            election_timeout_max: cfg.election_timeout.1.as_millis() as u64,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_interval),
            max_in_snapshot_log_to_keep: cfg.keep_entries,
            ..Default::default()
        }
        .validate()
        .map_err(|e| StoreError::Disk(format!("invalid raft configuration: {e}")))?;
        let weak = Arc::downgrade(&db);
        let contacts = Contacts::default();
        let raft = Raft::new(
            cfg.raft_id,
            Arc::new(raft_cfg),
            Network::new(connector.clone(), contacts.clone()),
            LogStore::new(db, cfg.sealer.clone()),
            sm,
        )
        .await
        .map_err(|e| StoreError::Disk(format!("cannot start raft: {e}")))?;
        Ok(Store {
            batcher: Batcher::spawn(raft.clone(), cfg.raft_id, connector),
            quorum_lease: cfg.election_timeout.1,
            contacts,
            raft,
            shared,
            raft_id: cfg.raft_id,
            db: weak,
        })
    }

    /// Makes this node the single voter of a new cluster (`swarm init`).
    pub async fn bootstrap(&self, addr: &str) -> Result<(), StoreError> {
        let members = BTreeMap::from([(
            self.raft_id,
            BasicNode {
                addr: addr.to_string(),
            },
        )]);
        self.raft
            .initialize(members)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot initialise raft: {e}")))?;
        self.wait_leader(Duration::from_secs(10)).await
    }

    /// Waits until this node leads (single-node clusters after start-up).
    pub async fn wait_leader(&self, timeout: Duration) -> Result<(), StoreError> {
        let me = self.raft_id;
        self.raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader == Some(me), "this node leads")
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(format!("no leader: {e}")))
    }

    /// The underlying Raft node (for the transport service and membership changes).
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// This manager's Raft member ID.
    pub fn raft_id(&self) -> NodeId {
        self.raft_id
    }

    /// True when this node is the Raft leader and a quorum acknowledged it recently. A leader
    /// cut off in a minority keeps its Raft role (openraft 0.9 does not step down) but must stop
    /// acting as leader: scheduling, dispatching and marking nodes down.
    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.current_leader == Some(self.raft_id)
            && m.millis_since_quorum_ack
                .is_some_and(|ms| ms <= self.quorum_lease.as_millis() as u64)
    }

    /// Whether manager `raft_id` answered this node's Raft RPCs within the quorum lease. Only
    /// the leader talks to every peer, so only its answer means much for others.
    pub fn reachable(&self, raft_id: NodeId) -> bool {
        raft_id == self.raft_id
            || self
                .contacts
                .lock()
                .expect("contacts")
                .get(&raft_id)
                .is_some_and(|t| t.elapsed() <= self.quorum_lease)
    }

    /// Runs `f` on a consistent view of the committed state.
    pub fn view<R>(&self, f: impl FnOnce(&ReadTx<'_>) -> R) -> R {
        let tables = self.shared.tables.read().expect("tables lock");
        f(&ReadTx { tables: &tables })
    }

    /// Builds a transaction with `f` and commits it through Raft. The closure is synchronous
    /// (no `.await` inside a transaction); its preconditions are checked again at apply time,
    /// so a concurrent change makes this fail instead of being overwritten.
    pub async fn update<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let (result, actions) = {
            let tables = self.shared.tables.read().expect("tables lock");
            let mut tx = WriteTx::new(&tables);
            let result = f(&mut tx)?;
            (result, tx.into_actions())
        };
        if actions.is_empty() {
            return Ok(result);
        }
        let timestamp = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
        self.batcher
            .propose(Transaction { actions, timestamp })
            .await?;
        Ok(result)
    }

    /// Takes a snapshot of everything applied, if the log has grown since the last one, so the
    /// next start loads one snapshot instead of replaying a log tail.
    async fn snapshot_now(&self) {
        let m = self.raft.metrics().borrow().clone();
        let Some(applied) = m.last_applied else {
            return;
        };
        if m.snapshot == Some(applied) || self.raft.trigger().snapshot().await.is_err() {
            return;
        }
        let waited = self
            .raft
            .wait(Some(Duration::from_secs(10)))
            .metrics(
                |m| m.snapshot.is_some_and(|s| s.index >= applied.index),
                "snapshot at shutdown",
            )
            .await;
        if let Err(e) = waited {
            info!(error = %e, "no snapshot at shutdown; the log will be replayed");
        }
    }

    /// Change events from now on.
    pub fn watch(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// A view and a subscription taken atomically: every change after the view is delivered.
    pub fn view_and_watch<R>(
        &self,
        f: impl FnOnce(&ReadTx<'_>) -> R,
    ) -> (R, broadcast::Receiver<Event>) {
        let tables = self.shared.tables.read().expect("tables lock");
        // Events are sent under the write lock, so subscribing under the read lock is exact.
        let rx = self.shared.events.subscribe();
        (f(&ReadTx { tables: &tables }), rx)
    }

    /// Stops the Raft node (pending writes fail) and waits until its tasks have closed the
    /// data file, so the same directory can be opened again in this process.
    pub async fn shutdown(&self) {
        self.snapshot_now().await;
        if let Err(e) = self.raft.shutdown().await {
            info!(error = %e, "raft shutdown");
        }
        for _ in 0..500 {
            if self.db.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tracing::warn!("raft tasks still hold the store file after 5 s");
    }
}
