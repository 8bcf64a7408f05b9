//! The worker's local task DB: one JSON file per assigned task under `<state dir>/tasks/`,
//! holding the task as last assigned and its last status, so a restarted agent knows what it
//! runs before the manager tells it again. Kept in memory too; files are written on change.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shoal_types::Task;
use shoal_types::task::TaskStatus;

use super::WorkerError;

/// One assigned task and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub task: Task,
    pub status: TaskStatus,
}

/// The task DB.
#[derive(Debug)]
pub struct TaskDb {
    dir: PathBuf,
    records: BTreeMap<String, Record>,
}

impl TaskDb {
    /// Opens (creating) the DB in `dir` and loads every record; unreadable files (a write cut
    /// short by a crash) are skipped with a warning.
    pub fn open(dir: &Path) -> Result<Self, WorkerError> {
        let io = |e| WorkerError::io(format!("opening task DB {}", dir.display()), e);
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut records = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&path).map(|b| serde_json::from_slice::<Record>(&b)) {
                Ok(Ok(r)) => {
                    records.insert(r.task.id.clone(), r);
                }
                Ok(Err(e)) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping bad task record")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping unreadable task record")
                }
            }
        }
        Ok(TaskDb {
            dir: dir.to_path_buf(),
            records,
        })
    }

    /// Every record, by task ID.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    pub fn get(&self, task_id: &str) -> Option<&Record> {
        self.records.get(task_id)
    }

    /// Inserts or replaces a record.
    pub fn put(&mut self, record: Record) -> Result<(), WorkerError> {
        self.write(&record)?;
        self.records.insert(record.task.id.clone(), record);
        Ok(())
    }

    /// Records a new status of a task still in the DB; a removed task's late status is dropped.
    pub fn set_status(&mut self, task_id: &str, status: TaskStatus) -> Result<bool, WorkerError> {
        let Some(mut record) = self.records.get(task_id).cloned() else {
            return Ok(false);
        };
        record.status = status;
        self.put(record)?;
        Ok(true)
    }

    /// Forgets a task.
    pub fn delete(&mut self, task_id: &str) -> Result<(), WorkerError> {
        self.records.remove(task_id);
        match std::fs::remove_file(self.path(task_id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(WorkerError::io(
                format!("deleting task record {task_id}"),
                e,
            )),
        }
    }

    fn path(&self, task_id: &str) -> PathBuf {
        self.dir.join(format!("{task_id}.json"))
    }

    /// Temp file and rename, so a crash leaves the old record or the new one, never half.
    /// No fsync: a record lost to a power cut is rebuilt from the manager's assignment.
    /// Secret and config data stay in memory: the record on disk has the task without them.
    fn write(&self, record: &Record) -> Result<(), WorkerError> {
        let path = self.path(&record.task.id);
        let io = |e| WorkerError::io(format!("writing {}", path.display()), e);
        let on_disk = Record {
            task: record.task.without_files(),
            status: record.status.clone(),
        };
        let bytes = serde_json::to_vec(&on_disk).map_err(|e| io(std::io::Error::other(e)))?;
        let tmp = path.with_extension("tmp");
        std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&bytes))
            .map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_types::TaskState;

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = TaskDb::open(dir.path()).unwrap();
        let task = Task {
            id: "t1".into(),
            ..Default::default()
        };
        db.put(Record {
            task,
            status: TaskStatus::default(),
        })
        .unwrap();
        let running = TaskStatus {
            state: TaskState::Running,
            ..Default::default()
        };
        assert!(db.set_status("t1", running.clone()).unwrap());
        assert!(!db.set_status("gone", running.clone()).unwrap());
        std::fs::write(dir.path().join("broken.json"), "{").unwrap();

        let db = TaskDb::open(dir.path()).unwrap();
        assert_eq!(db.records().count(), 1);
        assert_eq!(db.get("t1").unwrap().status, running);
        let mut db = db;
        db.delete("t1").unwrap();
        assert_eq!(TaskDb::open(dir.path()).unwrap().records().count(), 0);
    }
}
