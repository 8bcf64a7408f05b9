//! What a task needs from a node, extracted once per service spec so that scheduling a
//! hundred thousand tasks never re-reads (or re-parses) a `TaskSpec`.

use std::sync::Arc;

use shoal_types::service::{EndpointSpec, TaskSpec};

use crate::constraint::{Constraint, parse_constraints};

/// The transport protocol of a published port (`""` in the spec means TCP, as in swarmkit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `tcp` (also the default).
    Tcp,
    /// `udp`.
    Udp,
    /// `sctp`.
    Sctp,
}

/// A host-mode published port: it occupies `port` on every node that runs a task of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    /// Transport protocol.
    pub protocol: Protocol,
    /// Published port on the node.
    pub port: u16,
}

/// The host-mode ports of a service's endpoint spec that name a published port. Ingress ports
/// and host-mode ports without a published port (the engine picks one) occupy nothing the
/// scheduler can check, exactly as in swarmkit's `HostPortFilter`.
pub fn host_mode_ports(endpoint: &EndpointSpec) -> Vec<HostPort> {
    let Some(ports) = &endpoint.ports else {
        return Vec::new();
    };
    let mut out: Vec<HostPort> = ports
        .iter()
        .filter(|p| {
            p.publish_mode
                .is_some_and(|m| AsRef::<str>::as_ref(&m) == "host")
        })
        .filter_map(|p| {
            let port = u16::try_from(p.published_port?).ok().filter(|&v| v != 0)?;
            let protocol = match p.protocol.as_ref().map(AsRef::<str>::as_ref) {
                Some("udp") => Protocol::Udp,
                Some("sctp") => Protocol::Sctp,
                _ => Protocol::Tcp,
            };
            Some(HostPort { protocol, port })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// CPU and memory a task reserves (`TaskSpec.Resources.Reservations`), or a node has left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Reservations {
    /// Billionths of a CPU.
    pub nano_cpus: i64,
    /// Bytes of memory.
    pub memory_bytes: i64,
}

impl Reservations {
    /// The reservations of a task spec (zero when unset).
    pub fn of(spec: &TaskSpec) -> Reservations {
        let r = spec
            .resources
            .as_ref()
            .and_then(|r| r.reservations.as_ref());
        Reservations {
            nano_cpus: r.and_then(|r| r.nano_cpus).unwrap_or(0),
            memory_bytes: r.and_then(|r| r.memory_bytes).unwrap_or(0),
        }
    }

    /// Whether nothing is reserved (the resource filter is then off).
    pub fn is_zero(&self) -> bool {
        self.nano_cpus == 0 && self.memory_bytes == 0
    }

    /// Whether `self` (a reservation) fits into `free`.
    pub fn fits_in(&self, free: &Reservations) -> bool {
        self.nano_cpus <= free.nano_cpus && self.memory_bytes <= free.memory_bytes
    }
}

/// One platform the service's image supports; empty fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PlatformReq {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// Architecture, normalised (`x86_64` → `amd64`, `aarch64` → `arm64`).
    pub architecture: String,
}

impl PlatformReq {
    /// A platform requirement with the architecture normalised.
    pub fn new(os: &str, architecture: &str) -> PlatformReq {
        PlatformReq {
            os: os.to_string(),
            architecture: normalize_arch(architecture).to_string(),
        }
    }

    /// Whether a node reporting `os` and (normalised) `arch` runs this platform.
    pub(crate) fn matches(&self, os: &str, arch: &str) -> bool {
        (self.architecture.is_empty() || self.architecture == arch)
            && (self.os.is_empty() || self.os == os)
    }
}

/// The two spellings swarmkit treats as the same architecture.
pub(crate) fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A `spread` placement preference: which label splits the nodes into branches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpreadKey {
    /// `node.labels.<name>` (the node's spec labels).
    NodeLabel(String),
    /// `engine.labels.<name>` (the engine's labels).
    EngineLabel(String),
}

impl SpreadKey {
    /// Parses a spread descriptor; other descriptors are ignored by swarmkit, so `None`.
    pub fn parse(descriptor: &str) -> Option<SpreadKey> {
        let split = |prefix: &str| {
            let head = descriptor.get(..prefix.len())?;
            (descriptor.len() > prefix.len() && head.eq_ignore_ascii_case(prefix))
                .then(|| descriptor[prefix.len()..].to_string())
        };
        split("node.labels.")
            .map(SpreadKey::NodeLabel)
            .or_else(|| split("engine.labels.").map(SpreadKey::EngineLabel))
    }
}

/// Everything the filters and the spread strategy read from a task, parsed once per service
/// spec. Tasks sharing an `Arc<Requirements>` are grouped without comparing specs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Requirements {
    /// Resource reservations (filter off when zero).
    pub reservations: Reservations,
    /// Parsed placement constraints (filter off when empty).
    pub constraints: Vec<Constraint>,
    /// Supported platforms (filter off when empty).
    pub platforms: Vec<PlatformReq>,
    /// Maximum tasks of the service per node; 0 means unlimited.
    pub max_replicas: u64,
    /// Spread preferences, highest precedence first.
    pub spread: Vec<SpreadKey>,
    /// Host-mode published ports (filter off when empty).
    pub host_ports: Vec<HostPort>,
}

impl Requirements {
    /// Extracts the requirements of a task spec and its service's endpoint spec.
    ///
    /// Constraints that fail to parse switch the constraint filter off, as in swarmkit: the API
    /// layer validates them with [`parse_constraints`] before a spec is ever stored.
    pub fn new(spec: &TaskSpec, endpoint: Option<&EndpointSpec>) -> Requirements {
        let placement = spec.placement.as_ref();
        let constraints = placement
            .and_then(|p| p.constraints.as_deref())
            .and_then(|c| parse_constraints(c).ok())
            .unwrap_or_default();
        let platforms = placement
            .and_then(|p| p.platforms.as_deref())
            .unwrap_or_default()
            .iter()
            .map(|p| {
                PlatformReq::new(
                    p.os.as_deref().unwrap_or_default(),
                    p.architecture.as_deref().unwrap_or_default(),
                )
            })
            .collect();
        let spread = placement
            .and_then(|p| p.preferences.as_deref())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.spread.as_ref()?.spread_descriptor.as_deref())
            .filter_map(SpreadKey::parse)
            .collect();
        Requirements {
            reservations: Reservations::of(spec),
            constraints,
            platforms,
            max_replicas: placement
                .and_then(|p| p.max_replicas)
                .map_or(0, |m| m.max(0) as u64),
            spread,
            host_ports: endpoint.map(host_mode_ports).unwrap_or_default(),
        }
    }

    /// The part of the requirements that depends only on the node, never on what is placed:
    /// its filter results can be shared by every group with the same constraints and platforms.
    pub(crate) fn static_key(&self) -> (Vec<Constraint>, Vec<PlatformReq>) {
        (self.constraints.clone(), self.platforms.clone())
    }
}

/// A task waiting for a node.
#[derive(Debug, Clone)]
pub struct TaskToPlace {
    /// The task's ID.
    pub task_id: String,
    /// The service the task belongs to.
    pub service_id: String,
    /// What the task needs; share one `Arc` among the tasks of a service spec.
    pub requirements: Arc<Requirements>,
    /// A node chosen by the orchestrator (global services): the scheduler only confirms the
    /// task can run there.
    pub preassigned_node: Option<String>,
}
