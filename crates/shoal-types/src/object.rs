//! The closed set of stored objects and the trait the store indexes them by.

use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::meta::Meta;
use crate::network::Network;
use crate::node::Node;
use crate::secret::{Config, Secret};
use crate::service::Service;
use crate::task::Task;

/// The kinds of stored objects (one store table each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Cluster,
    Node,
    Service,
    Task,
    Secret,
    Config,
    Network,
}

impl Kind {
    /// Every kind, in a fixed order (snapshots are written in it).
    pub const ALL: [Kind; 7] = [
        Kind::Cluster,
        Kind::Node,
        Kind::Network,
        Kind::Secret,
        Kind::Config,
        Kind::Service,
        Kind::Task,
    ];

    /// The lowercase noun Docker's messages use ("node X not found").
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Cluster => "cluster",
            Kind::Node => "node",
            Kind::Service => "service",
            Kind::Task => "task",
            Kind::Secret => "secret",
            Kind::Config => "config",
            Kind::Network => "network",
        }
    }
}

/// Any stored object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Object {
    Cluster(Cluster),
    Node(Node),
    // Boxed: services and tasks carry whole Engine API specs, far larger than the rest.
    Service(Box<Service>),
    Task(Box<Task>),
    Secret(Secret),
    Config(Config),
    Network(Network),
}

/// A secondary index entry: (index name, key).
pub type IndexKey = (&'static str, String);

/// What the store needs to know about an object to keep its tables and indexes.
pub trait StoreObject: Clone + Sized {
    const KIND: Kind;
    fn id(&self) -> &str;
    fn meta(&self) -> &Meta;
    fn meta_mut(&mut self) -> &mut Meta;
    /// A name that must be unique among objects of this kind, if the kind has one.
    fn unique_name(&self) -> Option<&str> {
        None
    }
    /// Non-unique secondary index keys ("name", "service", "node", "desired-state", "role").
    fn index_keys(&self) -> Vec<IndexKey> {
        Vec::new()
    }
    fn into_object(self) -> Object;
    fn from_object(o: &Object) -> Option<&Self>;
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Cluster(_) => Kind::Cluster,
            Object::Node(_) => Kind::Node,
            Object::Service(_) => Kind::Service,
            Object::Task(_) => Kind::Task,
            Object::Secret(_) => Kind::Secret,
            Object::Config(_) => Kind::Config,
            Object::Network(_) => Kind::Network,
        }
    }
    pub fn id(&self) -> &str {
        match self {
            Object::Cluster(o) => o.id(),
            Object::Node(o) => o.id(),
            Object::Service(o) => o.id(),
            Object::Task(o) => o.id(),
            Object::Secret(o) => o.id(),
            Object::Config(o) => o.id(),
            Object::Network(o) => o.id(),
        }
    }
    pub fn meta(&self) -> &Meta {
        match self {
            Object::Cluster(o) => o.meta(),
            Object::Node(o) => o.meta(),
            Object::Service(o) => o.meta(),
            Object::Task(o) => o.meta(),
            Object::Secret(o) => o.meta(),
            Object::Config(o) => o.meta(),
            Object::Network(o) => o.meta(),
        }
    }
    pub fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Object::Cluster(o) => o.meta_mut(),
            Object::Node(o) => o.meta_mut(),
            Object::Service(o) => o.meta_mut(),
            Object::Task(o) => o.meta_mut(),
            Object::Secret(o) => o.meta_mut(),
            Object::Config(o) => o.meta_mut(),
            Object::Network(o) => o.meta_mut(),
        }
    }
    pub fn unique_name(&self) -> Option<&str> {
        match self {
            Object::Cluster(o) => o.unique_name(),
            Object::Node(o) => o.unique_name(),
            Object::Service(o) => o.unique_name(),
            Object::Task(o) => o.unique_name(),
            Object::Secret(o) => o.unique_name(),
            Object::Config(o) => o.unique_name(),
            Object::Network(o) => o.unique_name(),
        }
    }
    pub fn index_keys(&self) -> Vec<IndexKey> {
        match self {
            Object::Cluster(o) => o.index_keys(),
            Object::Node(o) => o.index_keys(),
            Object::Service(o) => o.index_keys(),
            Object::Task(o) => o.index_keys(),
            Object::Secret(o) => o.index_keys(),
            Object::Config(o) => o.index_keys(),
            Object::Network(o) => o.index_keys(),
        }
    }
}

macro_rules! meta_accessors {
    () => {
        fn id(&self) -> &str {
            &self.id
        }
        fn meta(&self) -> &Meta {
            &self.meta
        }
        fn meta_mut(&mut self) -> &mut Meta {
            &mut self.meta
        }
    };
}

impl StoreObject for Cluster {
    const KIND: Kind = Kind::Cluster;
    meta_accessors!();
    fn unique_name(&self) -> Option<&str> {
        Some(&self.spec.name)
    }
    fn into_object(self) -> Object {
        Object::Cluster(self)
    }
    fn from_object(o: &Object) -> Option<&Self> {
        match o {
            Object::Cluster(c) => Some(c),
            _ => None,
        }
    }
}

impl StoreObject for Node {
    const KIND: Kind = Kind::Node;
    meta_accessors!();
    fn index_keys(&self) -> Vec<IndexKey> {
        vec![
            ("name", self.display_name().to_string()),
            ("role", self.spec.role.as_str().to_string()),
        ]
    }
    fn into_object(self) -> Object {
        Object::Node(self)
    }
    fn from_object(o: &Object) -> Option<&Self> {
        match o {
            Object::Node(n) => Some(n),
            _ => None,
        }
    }
}

impl StoreObject for Service {
    const KIND: Kind = Kind::Service;
    meta_accessors!();
    fn unique_name(&self) -> Option<&str> {
        Some(self.name())
    }
    fn into_object(self) -> Object {
        Object::Service(Box::new(self))
    }
    fn from_object(o: &Object) -> Option<&Self> {
        match o {
            Object::Service(s) => Some(s),
            _ => None,
        }
    }
}

impl StoreObject for Task {
    const KIND: Kind = Kind::Task;
    meta_accessors!();
    fn index_keys(&self) -> Vec<IndexKey> {
        let mut keys = vec![
            ("service", self.service_id.clone()),
            ("desired-state", self.desired_state.as_str().to_string()),
        ];
        if !self.node_id.is_empty() {
            keys.push(("node", self.node_id.clone()));
        }
        keys
    }
    fn into_object(self) -> Object {
        Object::Task(Box::new(self))
    }
    fn from_object(o: &Object) -> Option<&Self> {
        match o {
            Object::Task(t) => Some(t),
            _ => None,
        }
    }
}

impl StoreObject for Secret {
    const KIND: Kind = Kind::Secret;
    meta_accessors!();
    fn unique_name(&self) -> Option<&str> {
        Some(self.name())
    }
    fn into_object(self) -> Object {
        Object::Secret(self)
    }
    fn from_object(o: &Object) -> Option<&Self> {
        match o {
            Object::Secret(s) => Some(s),
            _ => None,
        }
    }
}

impl StoreObject for Config {
    const KIND: Kind = Kind::Config;
    meta_accessors!();
    fn unique_name(&self) -> Option<&str> {
        Some(self.name())
    }
    fn into_object(self) -> Object {
        Object::Config(self)
    }
    fn from_object(o: &Object) -> Option<&Self> {
        match o {
            Object::Config(c) => Some(c),
            _ => None,
        }
    }
}

impl StoreObject for Network {
    const KIND: Kind = Kind::Network;
    meta_accessors!();
    fn unique_name(&self) -> Option<&str> {
        Some(self.name())
    }
    fn into_object(self) -> Object {
        Object::Network(self)
    }
    fn from_object(o: &Object) -> Option<&Self> {
        match o {
            Object::Network(n) => Some(n),
            _ => None,
        }
    }
}
