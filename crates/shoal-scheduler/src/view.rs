//! `ClusterView`: the scheduler's picture of the nodes and what already runs on them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use shoal_types::{Availability, Node, NodeState, Task, TaskState};

use crate::constraint::NodeAttrs;
use crate::requirements::{HostPort, Reservations, normalize_arch};

/// One node as the filters see it.
#[derive(Debug, Clone)]
pub(crate) struct NodeEntry {
    pub(crate) id: String,
    hostname: String,
    role: &'static str,
    addr: Option<IpAddr>,
    pub(crate) os: String,
    arch: String,
    /// The architecture with swarmkit's aliases folded, for the platform filter.
    pub(crate) norm_arch: String,
    pub(crate) node_labels: BTreeMap<String, String>,
    pub(crate) engine_labels: BTreeMap<String, String>,
}

/// What the dynamic filters read for every node of every group, kept apart from the
/// attributes so a scan over all nodes stays in cache.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeLoad {
    /// READY and ACTIVE: the ready filter's verdict, fixed for the view's lifetime.
    pub(crate) schedulable: bool,
    /// `Description.Resources` minus the reservations of the tasks on the node.
    pub(crate) free: Reservations,
    /// Active tasks of every service.
    pub(crate) total_tasks: u32,
}

impl NodeEntry {
    fn new(node: &Node) -> NodeEntry {
        let platform = &node.description.platform;
        NodeEntry {
            id: node.id.clone(),
            hostname: node.description.hostname.clone(),
            role: node.spec.role.as_str(),
            addr: node.status.addr.parse().ok(),
            os: platform.os.clone(),
            arch: platform.architecture.clone(),
            norm_arch: normalize_arch(&platform.architecture).to_string(),
            node_labels: node.spec.labels.clone(),
            engine_labels: node.description.engine.labels.clone(),
        }
    }
}

impl NodeLoad {
    fn new(node: &Node) -> NodeLoad {
        NodeLoad {
            schedulable: node.status.state == NodeState::Ready
                && node.spec.availability == Availability::Active,
            free: Reservations {
                nano_cpus: node.description.resources.nano_cpus,
                memory_bytes: node.description.resources.memory_bytes,
            },
            total_tasks: 0,
        }
    }
}

impl NodeAttrs for NodeEntry {
    fn id(&self) -> &str {
        &self.id
    }
    fn hostname(&self) -> &str {
        &self.hostname
    }
    fn addr(&self) -> Option<IpAddr> {
        self.addr
    }
    fn role(&self) -> &str {
        self.role
    }
    fn os(&self) -> &str {
        &self.os
    }
    fn arch(&self) -> &str {
        &self.arch
    }
    fn node_labels(&self) -> &BTreeMap<String, String> {
        &self.node_labels
    }
    fn engine_labels(&self) -> &BTreeMap<String, String> {
        &self.engine_labels
    }
}

/// Per-service facts, keyed by node index. Sparse because most services run on few nodes.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServiceState {
    /// Active tasks of the service per node.
    pub(crate) tasks: HashMap<u32, u32>,
    /// Recent failures of the service per node, as the caller counted them.
    pub(crate) failures: HashMap<u32, u32>,
}

/// The nodes of the cluster with the resources, ports and task counts already taken on each.
///
/// Build it from the store (nodes, tasks holding resources, host-mode ports of services,
/// recent failures), hand it to [`schedule`](crate::schedule), which updates it as it places
/// tasks; the same view can schedule the next batch.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// Sorted by node ID, so a node's index is also its tie-break rank.
    pub(crate) nodes: Vec<NodeEntry>,
    /// Parallel to `nodes`.
    pub(crate) loads: Vec<NodeLoad>,
    /// Host-mode ports in use, parallel to `nodes`.
    pub(crate) ports: Vec<HashSet<HostPort>>,
    index: HashMap<String, u32>,
    pub(crate) services: HashMap<String, ServiceState>,
}

impl ClusterView {
    /// A view of `nodes` with nothing running yet (a repeated ID keeps its first node).
    pub fn new<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> ClusterView {
        let mut sorted: Vec<&Node> = nodes.into_iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        sorted.dedup_by(|b, a| a.id == b.id);
        let index = sorted
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i as u32))
            .collect();
        ClusterView {
            nodes: sorted.iter().map(|n| NodeEntry::new(n)).collect(),
            loads: sorted.iter().map(|n| NodeLoad::new(n)).collect(),
            ports: vec![HashSet::new(); sorted.len()],
            index,
            services: HashMap::new(),
        }
    }

    /// The whole view in one call: `service_host_ports` maps a service ID to its host-mode
    /// ports ([`host_mode_ports`](crate::host_mode_ports) of its endpoint spec) and
    /// `recent_failures` maps `(node ID, service ID)` to the failures the caller counted in its
    /// window (swarmkit: 5 minutes).
    pub fn build(
        nodes: &[Node],
        tasks: &[Task],
        service_host_ports: &HashMap<String, Vec<HostPort>>,
        recent_failures: &HashMap<(String, String), u32>,
    ) -> ClusterView {
        let mut view = ClusterView::new(nodes);
        for task in tasks {
            let ports = service_host_ports
                .get(&task.service_id)
                .map_or(&[][..], Vec::as_slice);
            view.add_task(task, ports);
        }
        for ((node, service), count) in recent_failures {
            view.set_recent_failures(node, service, *count);
        }
        view
    }

    /// Accounts for a task already on a node. Only tasks in ASSIGNED..=RUNNING hold anything;
    /// those also count towards spreading and max-replicas unless they are being shut down
    /// (desired state past COMPLETE), as in swarmkit's `NodeInfo.addTask`. Returns whether the
    /// task was taken into account.
    pub fn add_task(&mut self, task: &Task, host_ports: &[HostPort]) -> bool {
        let state = task.status.state;
        if !(TaskState::Assigned..=TaskState::Running).contains(&state) {
            return false;
        }
        let Some(idx) = self.index_of(&task.node_id) else {
            return false;
        };
        let active = task.desired_state <= TaskState::Complete;
        let reserved = Reservations::of(&task.spec);
        self.take(idx, &reserved, host_ports, active);
        if active {
            let svc = self.services.entry(task.service_id.clone()).or_default();
            *svc.tasks.entry(idx).or_default() += 1;
        }
        true
    }

    /// Sets how many times tasks of `service_id` failed on `node_id` recently; at
    /// [`MAX_FAILURES`](crate::MAX_FAILURES) or more the node is tried last for that service.
    pub fn set_recent_failures(&mut self, node_id: &str, service_id: &str, failures: u32) {
        let Some(idx) = self.index_of(node_id) else {
            return;
        };
        let svc = self.services.entry(service_id.to_string()).or_default();
        if failures == 0 {
            svc.failures.remove(&idx);
        } else {
            svc.failures.insert(idx, failures);
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the view has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node IDs in the view's order (sorted).
    pub fn node_ids(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.id.as_str())
    }

    /// Whether the node is READY and ACTIVE (`None`: unknown node).
    pub fn is_schedulable(&self, node_id: &str) -> Option<bool> {
        self.load(node_id).map(|n| n.schedulable)
    }

    /// Resources the node has left (`None`: unknown node).
    pub fn free_resources(&self, node_id: &str) -> Option<Reservations> {
        self.load(node_id).map(|n| n.free)
    }

    /// Active tasks of all services on the node (`None`: unknown node).
    pub fn task_count(&self, node_id: &str) -> Option<u32> {
        self.load(node_id).map(|n| n.total_tasks)
    }

    /// Active tasks of `service_id` on the node.
    pub fn service_task_count(&self, node_id: &str, service_id: &str) -> u32 {
        let (Some(idx), Some(svc)) = (self.index_of(node_id), self.services.get(service_id)) else {
            return 0;
        };
        svc.tasks.get(&idx).copied().unwrap_or(0)
    }

    /// Whether a task on the node already publishes `port` in host mode.
    pub fn host_port_in_use(&self, node_id: &str, port: HostPort) -> bool {
        self.index_of(node_id)
            .is_some_and(|i| self.ports[i as usize].contains(&port))
    }

    /// Takes a task's reservation, ports and (if active) its place in the total on node `idx`.
    pub(crate) fn take(
        &mut self,
        idx: u32,
        reserved: &Reservations,
        ports: &[HostPort],
        active: bool,
    ) {
        let load = &mut self.loads[idx as usize];
        load.free.nano_cpus -= reserved.nano_cpus;
        load.free.memory_bytes -= reserved.memory_bytes;
        if active {
            load.total_tasks += 1;
        }
        if !ports.is_empty() {
            self.ports[idx as usize].extend(ports.iter().copied());
        }
    }

    pub(crate) fn index_of(&self, node_id: &str) -> Option<u32> {
        self.index.get(node_id).copied()
    }

    fn load(&self, node_id: &str) -> Option<&NodeLoad> {
        self.index_of(node_id).map(|i| &self.loads[i as usize])
    }
}
