//! The in-memory tables: one map per kind, a unique-name index, and secondary indexes
//! (name, role, service, node, desired state). Owned by the state machine; readers borrow it
//! under a read lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use shoal_types::{Kind, Object};

/// Every stored object, indexed.
#[derive(Debug, Default, Clone)]
pub struct Tables {
    objects: HashMap<Kind, BTreeMap<String, Object>>,
    names: HashMap<(Kind, String), String>,
    index: BTreeSet<(Kind, &'static str, String, String)>,
}

/// The serialised form of the tables (snapshots): objects only, indexes are rebuilt.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TablesImage {
    pub objects: Vec<Object>,
}

impl Tables {
    /// Looks an object up by kind and full ID.
    pub fn get(&self, kind: Kind, id: &str) -> Option<&Object> {
        self.objects.get(&kind)?.get(id)
    }

    /// Looks an object up by its unique name (kinds that have one).
    pub fn get_by_name(&self, kind: Kind, name: &str) -> Option<&Object> {
        let id = self.names.get(&(kind, name.to_string()))?;
        self.get(kind, id)
    }

    /// All objects of a kind, in ID order.
    pub fn list(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        self.objects.get(&kind).into_iter().flat_map(|m| m.values())
    }

    /// Objects whose ID starts with `prefix`.
    pub fn list_prefix<'a>(
        &'a self,
        kind: Kind,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects
            .get(&kind)
            .into_iter()
            .flat_map(move |m| m.range(prefix.to_string()..))
            .take_while(move |(id, _)| id.starts_with(prefix))
            .map(|(_, o)| o)
    }

    /// Objects whose secondary index `index` has the key `key`.
    pub fn find<'a>(
        &'a self,
        kind: Kind,
        index: &'static str,
        key: &str,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        let start = (kind, index, key.to_string(), String::new());
        let key = key.to_string();
        self.index
            .range(start..)
            .take_while(move |(k, i, v, _)| *k == kind && *i == index && *v == key)
            .filter_map(move |(_, _, _, id)| self.get(kind, id))
    }

    /// Number of objects of a kind.
    pub fn count(&self, kind: Kind) -> usize {
        self.objects.get(&kind).map_or(0, |m| m.len())
    }

    /// Inserts or replaces an object, keeping every index right. Returns the previous one.
    pub fn put(&mut self, object: Object) -> Option<Object> {
        let kind = object.kind();
        let old = self.remove(kind, object.id());
        if let Some(name) = object.unique_name() {
            self.names
                .insert((kind, name.to_string()), object.id().to_string());
        }
        for (index, key) in object.index_keys() {
            self.index
                .insert((kind, index, key, object.id().to_string()));
        }
        self.objects
            .entry(kind)
            .or_default()
            .insert(object.id().to_string(), object);
        old
    }

    /// Removes an object and its index entries.
    pub fn remove(&mut self, kind: Kind, id: &str) -> Option<Object> {
        let old = self.objects.get_mut(&kind)?.remove(id)?;
        if let Some(name) = old.unique_name() {
            self.names.remove(&(kind, name.to_string()));
        }
        for (index, key) in old.index_keys() {
            self.index.remove(&(kind, index, key, id.to_string()));
        }
        Some(old)
    }

    /// The owner of a unique name, if any.
    pub fn name_owner(&self, kind: Kind, name: &str) -> Option<&str> {
        self.names
            .get(&(kind, name.to_string()))
            .map(String::as_str)
    }

    /// Everything, for a snapshot.
    pub fn image(&self) -> TablesImage {
        let objects = Kind::ALL
            .iter()
            .flat_map(|k| self.list(*k).cloned())
            .collect();
        TablesImage { objects }
    }

    /// Rebuilds tables and indexes from a snapshot image, in bulk: every map and index is
    /// built from sorted input at once instead of one insert at a time (restart time is mostly
    /// this and the parse).
    pub fn from_image(image: TablesImage) -> Self {
        let mut by_kind: HashMap<Kind, Vec<(String, Object)>> = HashMap::new();
        let mut names = HashMap::with_capacity(image.objects.len());
        let mut index = Vec::with_capacity(image.objects.len() * 2);
        for o in image.objects {
            let kind = o.kind();
            let id = o.id().to_string();
            if let Some(name) = o.unique_name() {
                names.insert((kind, name.to_string()), id.clone());
            }
            for (i, key) in o.index_keys() {
                index.push((kind, i, key, id.clone()));
            }
            by_kind.entry(kind).or_default().push((id, o));
        }
        let objects = by_kind
            .into_iter()
            .map(|(kind, mut objs)| {
                objs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                (kind, objs.into_iter().collect::<BTreeMap<_, _>>())
            })
            .collect();
        index.sort_unstable();
        Tables {
            objects,
            names,
            index: index.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_types::{Node, NodeRole, StoreObject, Task, TaskState};

    fn task(id: &str, service: &str, node: &str, desired: TaskState) -> Object {
        Task {
            id: id.into(),
            service_id: service.into(),
            node_id: node.into(),
            desired_state: desired,
            ..Default::default()
        }
        .into_object()
    }

    #[test]
    fn secondary_indexes_follow_updates_and_removes() {
        let mut t = Tables::default();
        t.put(task("t1", "s1", "n1", TaskState::Running));
        t.put(task("t2", "s1", "n2", TaskState::Running));
        t.put(task("t3", "s2", "n1", TaskState::Shutdown));
        let ids = |it: Vec<&Object>| it.iter().map(|o| o.id().to_string()).collect::<Vec<_>>();
        assert_eq!(
            ids(t.find(Kind::Task, "service", "s1").collect()),
            ["t1", "t2"]
        );
        assert_eq!(
            ids(t.find(Kind::Task, "node", "n1").collect()),
            ["t1", "t3"]
        );
        assert_eq!(
            ids(t.find(Kind::Task, "desired-state", "running").collect()),
            ["t1", "t2"]
        );
        // Moving t1 to another node re-indexes it.
        t.put(task("t1", "s1", "n2", TaskState::Shutdown));
        assert_eq!(ids(t.find(Kind::Task, "node", "n1").collect()), ["t3"]);
        assert_eq!(
            ids(t.find(Kind::Task, "desired-state", "running").collect()),
            ["t2"]
        );
        t.remove(Kind::Task, "t2");
        assert_eq!(ids(t.find(Kind::Task, "service", "s1").collect()), ["t1"]);
        assert!(
            t.find(Kind::Task, "service", "s").next().is_none(),
            "exact keys only"
        );
    }

    #[test]
    fn bulk_rebuild_matches_inserting_one_at_a_time() {
        let mut t = Tables::default();
        for i in 0..50 {
            let (svc, node) = (format!("s{}", i % 3), format!("n{}", i % 4));
            let desired = if i % 5 == 0 {
                TaskState::Shutdown
            } else {
                TaskState::Running
            };
            t.put(task(&format!("t{i:02}"), &svc, &node, desired));
            let mut n = Node {
                id: format!("node{i}"),
                ..Default::default()
            };
            n.description.hostname = format!("h{i}");
            n.spec.role = if i % 2 == 0 {
                NodeRole::Manager
            } else {
                NodeRole::Worker
            };
            t.put(n.into_object());
        }
        let bulk = Tables::from_image(t.image());
        assert_eq!(bulk.index, t.index);
        assert_eq!(bulk.names, t.names);
        assert_eq!(bulk.objects, t.objects);
    }

    #[test]
    fn prefix_listing_and_image_round_trip() {
        let mut t = Tables::default();
        for id in ["abc1", "abc2", "abd3"] {
            let mut n = Node {
                id: id.into(),
                ..Default::default()
            };
            n.spec.role = NodeRole::Manager;
            n.description.hostname = format!("host-{id}");
            t.put(n.into_object());
        }
        assert_eq!(t.list_prefix(Kind::Node, "abc").count(), 2);
        assert_eq!(t.list_prefix(Kind::Node, "abd").count(), 1);
        let back = Tables::from_image(t.image());
        assert_eq!(back.count(Kind::Node), 3);
        assert_eq!(back.find(Kind::Node, "name", "host-abd3").count(), 1);
        assert_eq!(back.find(Kind::Node, "role", "manager").count(), 3);
    }
}
