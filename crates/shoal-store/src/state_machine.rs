//! openraft's state machine: the in-memory tables. Applying an entry checks the transaction's
//! preconditions again (another proposal may have won in between), changes the tables and
//! publishes the events under the same lock, so `view_and_watch` never misses or repeats one.
//! Snapshots are the serialised tables, kept in the redb file.

// openraft's StorageError is large by design and is what its traits return; boxing it only
// here would just add conversions.
#![allow(clippy::result_large_err)]

use std::io::Cursor;
use std::sync::{Arc, RwLock};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use redb::{Database, ReadableDatabase};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::disk::SNAPSHOT;
use crate::raft_types::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TxResponse, TypeConfig,
};
use crate::seal::Sealer;
use crate::tables::{Tables, TablesImage};
use crate::tx::{self, Event};

/// State shared between the state machine (writer) and store readers.
pub struct Shared {
    pub tables: RwLock<Tables>,
    pub events: broadcast::Sender<Event>,
}

/// The serialised snapshot body.
#[derive(Serialize, Deserialize)]
struct SnapshotBody {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    tables: TablesImage,
}

/// The snapshot body with its objects left unparsed, so they can be parsed on every core
/// (restart time is mostly this parse).
#[derive(Deserialize)]
struct RawSnapshotBody<'a> {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    #[serde(borrow)]
    tables: RawTables<'a>,
}

#[derive(Deserialize)]
struct RawTables<'a> {
    #[serde(borrow)]
    objects: Vec<&'a serde_json::value::RawValue>,
}

/// Parses the objects in as many chunks as there are cores.
fn parse_parallel(
    raw: &[&serde_json::value::RawValue],
) -> Result<Vec<shoal_types::Object>, serde_json::Error> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = raw.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = raw
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|r| serde_json::from_str(r.get()))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(raw.len());
        for h in handles {
            out.extend(h.join().expect("snapshot parser thread")?);
        }
        Ok(out)
    })
}

/// The state machine half of the store.
pub struct StateMachine {
    shared: Arc<Shared>,
    db: Arc<Database>,
    /// Snapshots on disk are sealed with the manager's data key.
    sealer: Sealer,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    snapshot_seq: u64,
}

impl StateMachine {
    /// Restores the state machine from the latest snapshot in `db`, if any.
    pub fn restore(
        db: Arc<Database>,
        shared: Arc<Shared>,
        sealer: Sealer,
    ) -> Result<Self, StorageError> {
        let mut sm = Self {
            shared,
            db,
            sealer,
            last_applied: None,
            membership: StoredMembership::default(),
            snapshot_seq: 0,
        };
        if let Some((_, data)) = read_snapshot(&sm.db, &sm.sealer)
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?
        {
            sm.load(&data)?;
        }
        Ok(sm)
    }

    fn load(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let body: RawSnapshotBody<'_> =
            serde_json::from_slice(data).map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        let objects = parse_parallel(&body.tables.objects)
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        self.last_applied = body.last_applied;
        self.membership = body.membership;
        *self.shared.tables.write().expect("tables lock") =
            Tables::from_image(TablesImage { objects });
        Ok(())
    }

    /// Writes a snapshot (sealed) to the redb file, off the async threads.
    async fn persist_snapshot(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StorageError> {
        let (db, sealer, m, d) = (
            self.db.clone(),
            self.sealer.clone(),
            meta.clone(),
            data.to_vec(),
        );
        tokio::task::spawn_blocking(move || write_snapshot(&db, &sealer, &m, &d))
            .await
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        Ok(())
    }

    fn snapshot_bytes(&self) -> Vec<u8> {
        let tables = self.shared.tables.read().expect("tables lock");
        let body = SnapshotBody {
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            tables: tables.image(),
        };
        serde_json::to_vec(&body).expect("the tables serialise")
    }

    fn apply_entry(&mut self, entry: &Entry) -> TxResponse {
        self.last_applied = Some(entry.log_id);
        match &entry.payload {
            EntryPayload::Blank => TxResponse::default(),
            EntryPayload::Membership(m) => {
                self.membership = StoredMembership::new(Some(entry.log_id), m.clone());
                TxResponse::default()
            }
            EntryPayload::Normal(p) => {
                let mut tables = self.shared.tables.write().expect("tables lock");
                let results = p
                    .txs
                    .iter()
                    .map(|t| self.apply_tx(&mut tables, t, entry.log_id.index))
                    .collect();
                TxResponse { results }
            }
        }
    }

    /// Checks and applies one transaction; events go out under the tables' write lock.
    fn apply_tx(
        &self,
        tables: &mut Tables,
        t: &tx::Transaction,
        index: u64,
    ) -> Result<(), crate::StoreError> {
        tx::check(tables, t)?;
        for event in tx::apply(tables, t, index) {
            // No receivers is fine: nobody is watching yet.
            let _ = self.shared.events.send(event);
        }
        Ok(())
    }
}

fn read_snapshot(
    db: &Database,
    sealer: &Sealer,
) -> Result<Option<(SnapshotMeta, Vec<u8>)>, redb::Error> {
    let tx = db.begin_read()?;
    let table = tx.open_table(SNAPSHOT)?;
    let (Some(meta), Some(data)) = (table.get("meta")?, table.get("data")?) else {
        return Ok(None);
    };
    let meta: SnapshotMeta = serde_json::from_slice(meta.value())
        .map_err(|e| redb::Error::Corrupted(format!("snapshot meta: {e}")))?;
    let data = sealer
        .open(data.value())
        .map_err(|e| redb::Error::Corrupted(format!("snapshot: {e}")))?
        .into_owned();
    Ok(Some((meta, data)))
}

fn write_snapshot(
    db: &Database,
    sealer: &Sealer,
    meta: &SnapshotMeta,
    data: &[u8],
) -> Result<(), redb::Error> {
    let meta = serde_json::to_vec(meta).expect("snapshot meta serialises");
    let data = sealer.seal(data.to_vec());
    let data = data.as_slice();
    let tx = db.begin_write()?;
    {
        let mut table = tx.open_table(SNAPSHOT)?;
        table.insert("meta", meta.as_slice())?;
        table.insert("data", data)?;
    }
    tx.commit()?;
    Ok(())
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let data = self.snapshot_bytes();
        self.snapshot_seq += 1;
        let last = self.last_applied;
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: self.membership.clone(),
            snapshot_id: format!("{}-{}", last.map_or(0, |l| l.index), self.snapshot_seq),
        };
        self.persist_snapshot(&meta, &data).await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<TxResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        Ok(entries.into_iter().map(|e| self.apply_entry(&e)).collect())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // The builder must see a consistent image; building it from a clone of the state is
        // what openraft expects, and our tables clone cheaply enough for swarm-sized state.
        StateMachine {
            shared: Arc::new(Shared {
                tables: RwLock::new(self.shared.tables.read().expect("tables lock").clone()),
                events: broadcast::channel(1).0,
            }),
            db: self.db.clone(),
            sealer: self.sealer.clone(),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            snapshot_seq: self.snapshot_seq,
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        self.persist_snapshot(meta, &data).await?;
        self.load(&data)
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let (db, sealer) = (self.db.clone(), self.sealer.clone());
        let found = tokio::task::spawn_blocking(move || read_snapshot(&db, &sealer))
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(found.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
