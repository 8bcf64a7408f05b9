//! Transactions: a write is built by a closure against a read view (`WriteTx`), shipped
//! through Raft as a list of actions with preconditions, and checked again when applied, so
//! concurrent writers never need a lock across the Raft round trip (optimistic concurrency).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use shoal_types::{Kind, Object, StoreObject};

use crate::error::StoreError;
use crate::tables::Tables;

/// One change in a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// The object must not exist yet (by ID, nor by unique name).
    Create(Object),
    /// The object must exist with exactly the version this one carries.
    Update(Object),
    /// The object must exist.
    Delete { kind: Kind, id: String },
}

/// What goes into one Raft log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub actions: Vec<Action>,
    /// RFC 3339 time chosen by the proposer, so every replica stamps the same `UpdatedAt`.
    pub timestamp: String,
}

/// A change the state machine made, as watchers see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Created(Box<Object>),
    Updated {
        old: Box<Object>,
        new: Box<Object>,
    },
    Deleted(Box<Object>),
    /// Ends every applied transaction: the Raft index its changes were stamped with.
    Commit {
        index: u64,
    },
}

/// Checks every precondition of `tx` against `tables` without changing anything.
pub fn check(tables: &Tables, tx: &Transaction) -> Result<(), StoreError> {
    let mut names: HashMap<(Kind, String), &str> = HashMap::new();
    for action in &tx.actions {
        match action {
            Action::Create(o) => {
                if tables.get(o.kind(), o.id()).is_some() {
                    return Err(StoreError::Exists);
                }
                check_name(tables, &mut names, o)?;
            }
            Action::Update(o) => {
                let current = tables.get(o.kind(), o.id()).ok_or(StoreError::NotFound)?;
                if current.meta().version != o.meta().version {
                    return Err(StoreError::OutOfSequence);
                }
                check_name(tables, &mut names, o)?;
            }
            Action::Delete { kind, id } => {
                tables.get(*kind, id).ok_or(StoreError::NotFound)?;
            }
        }
    }
    Ok(())
}

fn check_name<'a>(
    tables: &Tables,
    seen: &mut HashMap<(Kind, String), &'a str>,
    o: &'a Object,
) -> Result<(), StoreError> {
    let Some(name) = o.unique_name() else {
        return Ok(());
    };
    let key = (o.kind(), name.to_string());
    let taken_by_other = |owner: &str| owner != o.id();
    if tables
        .name_owner(o.kind(), name)
        .is_some_and(taken_by_other)
        || seen.get(&key).is_some_and(|owner| taken_by_other(owner))
    {
        return Err(StoreError::NameConflict);
    }
    seen.insert(key, o.id());
    Ok(())
}

/// Applies a checked transaction at Raft index `index`, returning the events it caused.
pub fn apply(tables: &mut Tables, tx: &Transaction, index: u64) -> Vec<Event> {
    let mut events = Vec::with_capacity(tx.actions.len() + 1);
    for action in &tx.actions {
        match action {
            Action::Create(o) => {
                let mut o = o.clone();
                let meta = o.meta_mut();
                meta.version.index = index;
                meta.created_at = tx.timestamp.clone();
                meta.updated_at = tx.timestamp.clone();
                tables.put(o.clone());
                events.push(Event::Created(Box::new(o)));
            }
            Action::Update(o) => {
                let mut o = o.clone();
                let created = tables
                    .get(o.kind(), o.id())
                    .map(|c| c.meta().created_at.clone());
                let meta = o.meta_mut();
                meta.version.index = index;
                meta.created_at = created.unwrap_or_else(|| tx.timestamp.clone());
                meta.updated_at = tx.timestamp.clone();
                if let Some(old) = tables.put(o.clone()) {
                    events.push(Event::Updated {
                        old: Box::new(old),
                        new: Box::new(o),
                    });
                }
            }
            Action::Delete { kind, id } => {
                if let Some(old) = tables.remove(*kind, id) {
                    events.push(Event::Deleted(Box::new(old)));
                }
            }
        }
    }
    events.push(Event::Commit { index });
    events
}

/// A consistent read view of the store.
pub struct ReadTx<'a> {
    pub(crate) tables: &'a Tables,
}

impl<'a> ReadTx<'a> {
    /// An object by full ID.
    pub fn get<T: StoreObject>(&self, id: &str) -> Option<T> {
        self.tables
            .get(T::KIND, id)
            .and_then(T::from_object)
            .cloned()
    }
    /// An object by unique name.
    pub fn get_by_name<T: StoreObject>(&self, name: &str) -> Option<T> {
        self.tables
            .get_by_name(T::KIND, name)
            .and_then(T::from_object)
            .cloned()
    }
    /// Every object of a kind.
    pub fn list<T: StoreObject>(&self) -> Vec<T> {
        self.tables
            .list(T::KIND)
            .filter_map(T::from_object)
            .cloned()
            .collect()
    }
    /// Objects whose ID starts with `prefix`.
    pub fn list_prefix<T: StoreObject>(&self, prefix: &str) -> Vec<T> {
        self.tables
            .list_prefix(T::KIND, prefix)
            .filter_map(T::from_object)
            .cloned()
            .collect()
    }
    /// Objects by a secondary index ("name", "role", "service", "node", "desired-state").
    pub fn find<T: StoreObject>(&self, index: &'static str, key: &str) -> Vec<T> {
        self.tables
            .find(T::KIND, index, key)
            .filter_map(T::from_object)
            .cloned()
            .collect()
    }
    /// Number of objects of a kind.
    pub fn count<T: StoreObject>(&self) -> usize {
        self.tables.count(T::KIND)
    }
}

/// A write transaction under construction: reads see the committed state plus this
/// transaction's own changes; at most one action per object is kept.
pub struct WriteTx<'a> {
    read: ReadTx<'a>,
    pending: BTreeMap<(Kind, String), Action>,
    order: Vec<(Kind, String)>,
}

impl<'a> WriteTx<'a> {
    pub(crate) fn new(tables: &'a Tables) -> Self {
        Self {
            read: ReadTx { tables },
            pending: BTreeMap::new(),
            order: Vec::new(),
        }
    }

    /// The committed state this transaction was built on (without its own changes).
    pub fn committed(&self) -> &ReadTx<'a> {
        &self.read
    }

    /// An object by ID, as this transaction would leave it.
    pub fn get<T: StoreObject>(&self, id: &str) -> Option<T> {
        match self.pending.get(&(T::KIND, id.to_string())) {
            Some(Action::Create(o) | Action::Update(o)) => T::from_object(o).cloned(),
            Some(Action::Delete { .. }) => None,
            None => self.read.get(id),
        }
    }

    /// Every object of a kind, as this transaction would leave them.
    pub fn list<T: StoreObject>(&self) -> Vec<T> {
        let mut out: BTreeMap<String, T> = self
            .read
            .list::<T>()
            .into_iter()
            .map(|o| (o.id().to_string(), o))
            .collect();
        for ((kind, id), action) in &self.pending {
            if *kind != T::KIND {
                continue;
            }
            match action {
                Action::Create(o) | Action::Update(o) => {
                    out.insert(
                        id.clone(),
                        T::from_object(o).cloned().expect("kind matches"),
                    );
                }
                Action::Delete { .. } => {
                    out.remove(id);
                }
            }
        }
        out.into_values().collect()
    }

    /// Creates an object; fails early when its ID or unique name is taken.
    pub fn create<T: StoreObject>(&mut self, object: T) -> Result<(), StoreError> {
        let object = object.into_object();
        if self.get_object(object.kind(), object.id()).is_some() {
            return Err(StoreError::Exists);
        }
        let candidate = Transaction {
            actions: vec![Action::Create(object.clone())],
            timestamp: String::new(),
        };
        check(self.read.tables, &candidate).or_else(|e| match e {
            StoreError::Exists => Ok(()), // deleted earlier in this transaction
            e => Err(e),
        })?;
        self.push(Action::Create(object));
        Ok(())
    }

    /// Updates an object; its `Meta.Version` must be the one it was read at.
    pub fn update<T: StoreObject>(&mut self, object: T) -> Result<(), StoreError> {
        let object = object.into_object();
        let key = (object.kind(), object.id().to_string());
        match self.pending.get(&key) {
            Some(Action::Create(_)) => {
                self.pending.insert(key, Action::Create(object));
                return Ok(());
            }
            Some(Action::Delete { .. }) => return Err(StoreError::NotFound),
            _ => {}
        }
        let current = self
            .read
            .tables
            .get(object.kind(), object.id())
            .ok_or(StoreError::NotFound)?;
        if current.meta().version != object.meta().version {
            return Err(StoreError::OutOfSequence);
        }
        self.push(Action::Update(object));
        Ok(())
    }

    /// Deletes an object by kind and ID.
    pub fn delete(&mut self, kind: Kind, id: &str) -> Result<(), StoreError> {
        let key = (kind, id.to_string());
        match self.pending.get(&key) {
            Some(Action::Create(_)) => {
                self.pending.remove(&key);
                self.order.retain(|k| k != &key);
                return Ok(());
            }
            Some(Action::Delete { .. }) => return Err(StoreError::NotFound),
            _ => {}
        }
        self.read.tables.get(kind, id).ok_or(StoreError::NotFound)?;
        self.push(Action::Delete {
            kind,
            id: id.to_string(),
        });
        Ok(())
    }

    fn get_object(&self, kind: Kind, id: &str) -> Option<&Object> {
        match self.pending.get(&(kind, id.to_string())) {
            Some(Action::Create(o) | Action::Update(o)) => Some(o),
            Some(Action::Delete { .. }) => None,
            None => self.read.tables.get(kind, id),
        }
    }

    fn push(&mut self, action: Action) {
        let key = match &action {
            Action::Create(o) | Action::Update(o) => (o.kind(), o.id().to_string()),
            Action::Delete { kind, id } => (*kind, id.clone()),
        };
        if self.pending.insert(key.clone(), action).is_none() {
            self.order.push(key);
        }
    }

    /// The actions, in the order first touched.
    pub(crate) fn into_actions(mut self) -> Vec<Action> {
        self.order
            .iter()
            .filter_map(|k| self.pending.remove(k))
            .collect()
    }
}

#[cfg(test)]
mod props {
    //! Transactions against an oracle: a plain map of id → (version, name).

    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use shoal_types::{Cluster, Version};

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Create { id: u8, name: u8 },
        Update { id: u8, name: u8, stale: bool },
        Delete { id: u8 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..4u8, 0..3u8).prop_map(|(id, name)| Op::Create { id, name }),
            (0..4u8, 0..3u8, any::<bool>()).prop_map(|(id, name, stale)| Op::Update {
                id,
                name,
                stale
            }),
            (0..4u8).prop_map(|id| Op::Delete { id }),
        ]
    }

    fn cluster(id: u8, name: u8, version: u64) -> Object {
        let mut c = Cluster {
            id: format!("id{id}"),
            ..Default::default()
        };
        c.spec.name = format!("name{name}");
        c.meta.version = Version { index: version };
        Object::Cluster(c)
    }

    type Oracle = BTreeMap<String, (u64, String)>;

    fn expected(oracle: &Oracle, op: &Op) -> Result<(), StoreError> {
        let name_taken = |id: &str, name: u8| {
            oracle
                .iter()
                .any(|(other, (_, n))| other != id && *n == format!("name{name}"))
        };
        match op {
            Op::Create { id, name } => {
                let id = format!("id{id}");
                if oracle.contains_key(&id) {
                    Err(StoreError::Exists)
                } else if name_taken(&id, *name) {
                    Err(StoreError::NameConflict)
                } else {
                    Ok(())
                }
            }
            Op::Update { id, name, stale } => {
                let id = format!("id{id}");
                match oracle.get(&id) {
                    None => Err(StoreError::NotFound),
                    Some(_) if *stale => Err(StoreError::OutOfSequence),
                    Some(_) if name_taken(&id, *name) => Err(StoreError::NameConflict),
                    Some(_) => Ok(()),
                }
            }
            Op::Delete { id } => {
                if oracle.contains_key(&format!("id{id}")) {
                    Ok(())
                } else {
                    Err(StoreError::NotFound)
                }
            }
        }
    }

    fn action(oracle: &Oracle, op: &Op) -> Action {
        let version_of = |id: u8| oracle.get(&format!("id{id}")).map_or(0, |(v, _)| *v);
        match op {
            Op::Create { id, name } => Action::Create(cluster(*id, *name, 0)),
            Op::Update { id, name, stale } => {
                let v = version_of(*id);
                Action::Update(cluster(
                    *id,
                    *name,
                    if *stale { v.saturating_sub(1) } else { v },
                ))
            }
            Op::Delete { id } => Action::Delete {
                kind: Kind::Cluster,
                id: format!("id{id}"),
            },
        }
    }

    proptest! {
        #[test]
        fn check_and_apply_follow_the_oracle(ops in proptest::collection::vec(op(), 1..60)) {
            let mut tables = Tables::default();
            let mut oracle = Oracle::new();
            for (i, op) in ops.iter().enumerate() {
                let index = i as u64 + 1;
                let tx = Transaction { actions: vec![action(&oracle, op)], timestamp: "t".into() };
                let want = expected(&oracle, op);
                prop_assert_eq!(check(&tables, &tx), want.clone(), "op {:?}", op);
                if want.is_ok() {
                    apply(&mut tables, &tx, index);
                    match op {
                        Op::Create { id, name } | Op::Update { id, name, .. } => {
                            oracle.insert(format!("id{id}"), (index, format!("name{name}")));
                        }
                        Op::Delete { id } => {
                            oracle.remove(&format!("id{id}"));
                        }
                    }
                }
                // Tables, versions and the unique-name index agree with the oracle.
                prop_assert_eq!(tables.count(Kind::Cluster), oracle.len());
                for (id, (version, name)) in &oracle {
                    let o = tables.get(Kind::Cluster, id).expect("present");
                    prop_assert_eq!(o.meta().version.index, *version);
                    prop_assert_eq!(tables.name_owner(Kind::Cluster, name), Some(id.as_str()));
                }
            }
        }
    }
}
