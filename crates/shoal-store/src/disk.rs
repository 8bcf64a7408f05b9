//! The on-disk layout: one redb file holding the Raft log, the vote, the committed index and
//! the latest snapshot. The file carries a format version so an older shoal refuses a data dir
//! written by a newer one instead of misreading it.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableDefinition};

use crate::error::StoreError;

/// The format this build writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// Raft log entries by index (JSON of openraft's `Entry`).
pub const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Small values: format, vote, committed, last purged log id.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The latest snapshot: key "meta" (JSON `SnapshotMeta`) and "data".
pub const SNAPSHOT: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshot");

pub const KEY_FORMAT: &str = "format";
pub const KEY_VOTE: &str = "vote";
pub const KEY_COMMITTED: &str = "committed";
pub const KEY_PURGED: &str = "last_purged";

/// Opens (or creates) the store file, checking its format version.
pub fn open(dir: &Path) -> Result<Arc<Database>, StoreError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::Disk(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join("raft.redb");
    let db = create_with_retry(&path)?;
    let found = read_format(&db).map_err(|e| disk_err(&path, e))?;
    match found {
        Some(v) if v > FORMAT_VERSION => {
            return Err(StoreError::Disk(format!(
                "{} was written by a newer shoal (store format {v}); this shoal reads format \
                 {FORMAT_VERSION} or older",
                path.display()
            )));
        }
        Some(_) => {}
        None => write_format(&db).map_err(|e| disk_err(&path, e))?,
    }
    Ok(Arc::new(db))
}

/// Opens the file; while a store of this process is still closing it (its last handle drops on
/// another thread just after `shutdown` returns), waits up to 5 s for the lock.
fn create_with_retry(path: &Path) -> Result<Database, StoreError> {
    let mut tries = 0;
    loop {
        match Database::create(path) {
            Ok(db) => return Ok(db),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) if tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => {
                return Err(StoreError::Disk(format!(
                    "cannot open {}: {e} (the file may be corrupt)",
                    path.display()
                )));
            }
        }
    }
}

fn disk_err(path: &Path, e: redb::Error) -> StoreError {
    StoreError::Disk(format!("{}: {e}", path.display()))
}

fn read_format(db: &Database) -> Result<Option<u64>, redb::Error> {
    let tx = db.begin_read()?;
    let table = match tx.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(v) = table.get(KEY_FORMAT)? else {
        return Ok(None);
    };
    let bytes: [u8; 8] = v
        .value()
        .try_into()
        .map_err(|_| redb::Error::Corrupted("the store format marker is not 8 bytes".into()))?;
    Ok(Some(u64::from_be_bytes(bytes)))
}

fn write_format(db: &Database) -> Result<(), redb::Error> {
    let tx = db.begin_write()?;
    {
        tx.open_table(LOG)?;
        tx.open_table(SNAPSHOT)?;
        let mut meta = tx.open_table(META)?;
        meta.insert(KEY_FORMAT, FORMAT_VERSION.to_be_bytes().as_slice())?;
    }
    tx.commit()?;
    Ok(())
}

/// Reads one small value from `META`.
pub fn get_meta(db: &Database, key: &str) -> Result<Option<Vec<u8>>, redb::Error> {
    let tx = db.begin_read()?;
    let table = tx.open_table(META)?;
    Ok(table.get(key)?.map(|v| v.value().to_vec()))
}

/// Writes one small value to `META`; `durable` decides whether it is fsynced now.
pub fn put_meta(db: &Database, key: &str, value: &[u8], durable: bool) -> Result<(), redb::Error> {
    let mut tx = db.begin_write()?;
    if !durable {
        tx.set_durability(redb::Durability::None)?;
    }
    {
        let mut table = tx.open_table(META)?;
        table.insert(key, value)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_format_is_refused_and_nothing_is_changed() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path()).unwrap();
        put_meta(&db, KEY_FORMAT, &(FORMAT_VERSION + 1).to_be_bytes(), true).unwrap();
        drop(db);
        let err = open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("written by a newer shoal"), "{err}");
        // Still refused a second time: the marker was not overwritten.
        assert!(open(dir.path()).is_err());
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("raft.redb"), vec![0x5a; 8192]).unwrap();
        let err = open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("raft.redb"), "{err}");
        assert_eq!(
            std::fs::read(dir.path().join("raft.redb")).unwrap(),
            vec![0x5a; 8192]
        );
    }
}
