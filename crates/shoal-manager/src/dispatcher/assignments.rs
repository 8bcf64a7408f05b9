//! Which tasks a node is told about, and how store events become incremental assignments.

use std::collections::{BTreeMap, BTreeSet};

use shoal_proto::dispatcher::{Assignments, assignments::Kind};
use shoal_store::Event;
use shoal_types::{Object, Task, TaskState};

/// A node runs the tasks the scheduler assigned to it, until the reaper deletes them.
pub fn is_assigned_to(t: &Task, node_id: &str) -> bool {
    t.node_id == node_id && t.status.state >= TaskState::Assigned
}

fn to_json(t: &Task) -> Vec<u8> {
    serde_json::to_vec(t).expect("a task serialises")
}

/// The complete set message.
pub fn complete(tasks: &[Task]) -> Assignments {
    Assignments {
        kind: Kind::Complete as i32,
        tasks_json: tasks.iter().map(to_json).collect(),
        removed: vec![],
    }
}

/// Changes gathered from events until the next commit.
#[derive(Default)]
pub struct Pending {
    changed: BTreeMap<String, Task>,
    removed: BTreeSet<String>,
}

impl Pending {
    /// Folds one event in.
    pub fn on_event(&mut self, event: &Event, node_id: &str) {
        let task = |o: &Object| match o {
            Object::Task(t) => Some((**t).clone()),
            _ => None,
        };
        match event {
            Event::Created(o) => {
                if let Some(t) = task(o).filter(|t| is_assigned_to(t, node_id)) {
                    self.removed.remove(&t.id);
                    self.changed.insert(t.id.clone(), t);
                }
            }
            Event::Updated { old, new } => {
                let (Some(old), Some(new)) = (task(old), task(new)) else {
                    return;
                };
                if is_assigned_to(&new, node_id) {
                    self.removed.remove(&new.id);
                    self.changed.insert(new.id.clone(), new);
                } else if is_assigned_to(&old, node_id) {
                    self.changed.remove(&old.id);
                    self.removed.insert(old.id);
                }
            }
            Event::Deleted(o) => {
                if let Some(t) = task(o).filter(|t| is_assigned_to(t, node_id)) {
                    self.changed.remove(&t.id);
                    self.removed.insert(t.id);
                }
            }
            Event::Commit { .. } => {}
        }
    }

    /// The incremental message, if anything changed; `prepare` readies each changed task
    /// for the wire (its files attached).
    pub fn take(&mut self, prepare: impl Fn(Task) -> Task) -> Option<Assignments> {
        if self.changed.is_empty() && self.removed.is_empty() {
            return None;
        }
        let changed = std::mem::take(&mut self.changed);
        let removed = std::mem::take(&mut self.removed);
        Some(Assignments {
            kind: Kind::Incremental as i32,
            tasks_json: changed
                .into_values()
                .map(|t| to_json(&prepare(t)))
                .collect(),
            removed: removed.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_types::StoreObject;

    fn task(id: &str, node: &str, state: TaskState) -> Object {
        let mut t = Task {
            id: id.into(),
            node_id: node.into(),
            ..Default::default()
        };
        t.status.state = state;
        t.into_object()
    }

    #[test]
    fn only_this_nodes_assigned_tasks_flow() {
        let mut p = Pending::default();
        p.on_event(
            &Event::Created(Box::new(task("a", "n1", TaskState::Pending))),
            "n1",
        );
        assert!(p.take(|t| t).is_none(), "not assigned yet");
        let ev = Event::Updated {
            old: Box::new(task("a", "n1", TaskState::Pending)),
            new: Box::new(task("a", "n1", TaskState::Assigned)),
        };
        p.on_event(&ev, "n1");
        p.on_event(
            &Event::Created(Box::new(task("b", "n2", TaskState::Assigned))),
            "n1",
        );
        let m = p.take(|t| t).unwrap();
        assert_eq!(m.kind, Kind::Incremental as i32);
        assert_eq!(m.tasks_json.len(), 1);
        p.on_event(
            &Event::Deleted(Box::new(task("a", "n1", TaskState::Shutdown))),
            "n1",
        );
        assert_eq!(p.take(|t| t).unwrap().removed, ["a"]);
    }
}
