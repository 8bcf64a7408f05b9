//! Builders shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use shoal_scheduler::{ClusterView, Plan, Requirements, TaskToPlace, schedule};
use shoal_types::service::TaskSpec;
use shoal_types::{
    Availability, Node, NodeDescription, NodeRole, NodeSpec, NodeState, NodeStatus, Platform,
    Resources, Task, TaskState, TaskStatus,
};

pub const CPU: i64 = 1_000_000_000;
pub const GIB: i64 = 1 << 30;

/// A READY, ACTIVE linux/x86_64 worker with 4 CPUs and 8 GiB.
pub fn node(id: &str) -> Node {
    Node {
        id: id.to_string(),
        spec: NodeSpec {
            role: NodeRole::Worker,
            availability: Availability::Active,
            ..Default::default()
        },
        description: NodeDescription {
            hostname: format!("host-{id}"),
            platform: Platform {
                architecture: "x86_64".into(),
                os: "linux".into(),
            },
            resources: Resources {
                nano_cpus: 4 * CPU,
                memory_bytes: 8 * GIB,
            },
            ..Default::default()
        },
        status: NodeStatus {
            state: NodeState::Ready,
            addr: "10.0.0.1".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// `node(id)` with a node label.
pub fn labeled(id: &str, key: &str, value: &str) -> Node {
    let mut n = node(id);
    n.spec.labels.insert(key.into(), value.into());
    n
}

/// A task spec from Engine API JSON (`{"Placement": {...}}`).
pub fn spec(json: &str) -> TaskSpec {
    serde_json::from_str(json).expect("task spec JSON")
}

/// Requirements from task spec JSON, without host ports.
pub fn reqs(json: &str) -> Arc<Requirements> {
    Arc::new(Requirements::new(&spec(json), None))
}

/// `n` tasks of `service` named `<service>.<i>`.
pub fn tasks(service: &str, n: usize, req: &Arc<Requirements>) -> Vec<TaskToPlace> {
    (0..n)
        .map(|i| TaskToPlace {
            task_id: format!("{service}.{i}"),
            service_id: service.to_string(),
            requirements: Arc::clone(req),
            preassigned_node: None,
        })
        .collect()
}

/// A RUNNING task of `service` on `node`, desired RUNNING.
pub fn running(id: &str, service: &str, node: &str, spec_json: &str) -> Task {
    Task {
        id: id.into(),
        service_id: service.into(),
        node_id: node.into(),
        spec: spec(spec_json),
        status: TaskStatus {
            state: TaskState::Running,
            ..Default::default()
        },
        desired_state: TaskState::Running,
        ..Default::default()
    }
}

/// Schedules on a fresh view of `nodes`.
pub fn run(nodes: &[Node], batch: &[TaskToPlace]) -> (ClusterView, Plan) {
    let mut view = ClusterView::new(nodes);
    let plan = schedule(&mut view, batch);
    (view, plan)
}

/// How many tasks the plan put on each node, in the order of `nodes`.
pub fn per_node(plan: &Plan, nodes: &[Node]) -> Vec<usize> {
    nodes
        .iter()
        .map(|n| plan.assigned.iter().filter(|(_, id)| *id == n.id).count())
        .collect()
}

/// The distinct errors of the unassigned tasks.
pub fn errors(plan: &Plan) -> Vec<String> {
    let mut e: Vec<String> = plan.unassigned.iter().map(|(_, e)| e.clone()).collect();
    e.dedup();
    e
}
