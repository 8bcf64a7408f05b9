//! openraft's log storage on redb: entries, vote and committed index. Every append is one redb
//! transaction committed with fsync before openraft is told the entries are durable, so an
//! acknowledged write survives `kill -9`. openraft 0.9 appends one client write per fsync, so
//! the store groups concurrent transactions into one entry before proposing (see `batch.rs`).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader, StorageIOError};
use redb::{Database, ReadableDatabase, ReadableTable};

use crate::disk::{self, KEY_COMMITTED, KEY_PURGED, KEY_VOTE, LOG};
use crate::raft_types::{Entry, LogId, StorageError, TypeConfig, Vote};
use crate::seal::Sealer;

/// The Raft log in the store's redb file.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    /// Entries on disk are sealed with the manager's data key (they carry secrets' data).
    sealer: Sealer,
}

impl LogStore {
    pub fn new(db: Arc<Database>, sealer: Sealer) -> Self {
        Self { db, sealer }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, redb::Error> + Send + 'static,
    ) -> Result<T, redb::Error> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| redb::Error::Corrupted(format!("storage task failed: {e}")))?
    }

    fn read_json<T: serde::de::DeserializeOwned>(
        db: &Database,
        key: &str,
    ) -> Result<Option<T>, redb::Error> {
        match disk::get_meta(db, key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| redb::Error::Corrupted(format!("{key}: {e}"))),
        }
    }
}

/// An entry as stored (sealed, or clear from before encryption).
fn decode_entry(sealer: &Sealer, stored: &[u8]) -> Result<Entry, redb::Error> {
    let plain = sealer
        .open(stored)
        .map_err(|e| redb::Error::Corrupted(format!("log entry: {e}")))?;
    serde_json::from_slice(&plain).map_err(|e| redb::Error::Corrupted(format!("log entry: {e}")))
}

fn to_bounds(range: impl RangeBounds<u64>) -> (u64, Option<u64>) {
    let start = match range.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => s + 1,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(e) => Some(e + 1),
        Bound::Excluded(e) => Some(*e),
        Bound::Unbounded => None,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = to_bounds(range);
        let sealer = self.sealer.clone();
        self.blocking(move |db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(LOG)?;
            let iter = match end {
                Some(end) => table.range(start..end)?,
                None => table.range(start..)?,
            };
            let mut out = Vec::new();
            for item in iter {
                let (_, v) = item?;
                let entry = decode_entry(&sealer, v.value())?;
                out.push(entry);
            }
            Ok(out)
        })
        .await
        .map_err(|e| StorageIOError::read_logs(&e).into())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let sealer = self.sealer.clone();
        self.blocking(move |db| {
            let last_purged: Option<LogId> = Self::read_json(db, KEY_PURGED)?;
            let tx = db.begin_read()?;
            let table = tx.open_table(LOG)?;
            let last = match table.last()? {
                Some((_, v)) => Some(decode_entry(&sealer, v.value())?.log_id),
                None => last_purged,
            };
            Ok(LogState {
                last_purged_log_id: last_purged,
                last_log_id: last,
            })
        })
        .await
        .map_err(|e| StorageIOError::read_logs(&e).into())
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(vote).expect("a vote serialises");
        self.blocking(move |db| disk::put_meta(db, KEY_VOTE, &bytes, true))
            .await
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.blocking(|db| Self::read_json(db, KEY_VOTE))
            .await
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not fsynced on its own: it rides on the next durable commit. Losing it only means
        // replaying a little more of the log after a crash, never losing an entry.
        let bytes = serde_json::to_vec(&committed).expect("a log id serialises");
        self.blocking(move |db| disk::put_meta(db, KEY_COMMITTED, &bytes, false))
            .await
            .map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let v: Option<Option<LogId>> = self
            .blocking(|db| Self::read_json(db, KEY_COMMITTED))
            .await
            .map_err(|e| StorageError::from(StorageIOError::read(&e)))?;
        Ok(v.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let rows: Vec<(u64, Vec<u8>)> = entries
            .into_iter()
            .map(|e| {
                (
                    e.log_id.index,
                    self.sealer
                        .seal(serde_json::to_vec(&e).expect("an entry serialises")),
                )
            })
            .collect();
        let res = self
            .blocking(move |db| {
                let tx = db.begin_write()?;
                {
                    let mut table = tx.open_table(LOG)?;
                    for (index, bytes) in &rows {
                        table.insert(*index, bytes.as_slice())?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await;
        match res {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(StorageIOError::write_logs(&e).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.blocking(move |db| {
            let tx = db.begin_write()?;
            {
                let mut table = tx.open_table(LOG)?;
                table.retain_in(log_id.index.., |_, _| false)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(&Some(log_id)).expect("a log id serialises");
        self.blocking(move |db| {
            let tx = db.begin_write()?;
            {
                let mut meta = tx.open_table(disk::META)?;
                meta.insert(KEY_PURGED, bytes.as_slice())?;
                let mut table = tx.open_table(LOG)?;
                table.retain_in(..=log_id.index, |_, _| false)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}
