//! Oracle checks on the replicated plan: whatever tasks exist, applying one plan leaves exactly
//! `replicas` live tasks (restart delays elapsed, policy "any"), never two live tasks in a slot,
//! and never a live task on a down node.

use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use shoal_orchestrator::{Action, Context, plan_replicated};
use shoal_types::service::{ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec};
use shoal_types::{Node, NodeState, Service, Task, TaskState};

const STATES: [TaskState; 7] = [
    TaskState::Pending,
    TaskState::Assigned,
    TaskState::Running,
    TaskState::Complete,
    TaskState::Failed,
    TaskState::Shutdown,
    TaskState::Rejected,
];
const DESIRED: [TaskState; 3] = [TaskState::Running, TaskState::Shutdown, TaskState::Remove];

fn arb_task() -> impl Strategy<Value = (u64, usize, usize, usize, bool)> {
    (
        1u64..8,
        0usize..STATES.len(),
        0usize..DESIRED.len(),
        0usize..3,
        any::<bool>(),
    )
}

fn is_live(t: &Task) -> bool {
    t.desired_state <= TaskState::Running && t.status.state <= TaskState::Running
}

proptest! {
    #[test]
    fn one_pass_reaches_the_replica_count(
        replicas in 0u64..6,
        raw in proptest::collection::vec(arb_task(), 0..16),
        down in proptest::collection::vec(any::<bool>(), 3),
    ) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let service = Service {
            id: "svc".into(),
            spec: ServiceSpec {
                name: Some("web".into()),
                mode: Some(ServiceSpecMode {
                    replicated: Some(ServiceSpecModeReplicated { replicas: Some(replicas as i64) }),
                    ..Default::default()
                }),
                task_template: Some(TaskSpec::default()),
                ..Default::default()
            },
            spec_version: 1,
            ..Default::default()
        };
        let nodes: Vec<Node> = (0..3)
            .map(|i| {
                let mut n = Node { id: format!("n{i}"), ..Default::default() };
                n.status.state = if down[i] { NodeState::Down } else { NodeState::Ready };
                n
            })
            .collect();
        let mut tasks: Vec<Task> = raw
            .iter()
            .enumerate()
            .map(|(i, (slot, st, de, node, old))| {
                let mut t = Task { id: format!("t{i}"), service_id: "svc".into(), slot: *slot, ..Default::default() };
                t.status.state = STATES[*st];
                // Ended long ago: every restart delay has elapsed.
                t.status.timestamp = humantime::format_rfc3339_nanos(now - Duration::from_secs(3600)).to_string();
                t.desired_state = DESIRED[*de];
                t.node_id = if t.status.state >= TaskState::Assigned { format!("n{node}") } else { String::new() };
                t.spec_version = if *old { 0 } else { 1 };
                t.meta.version.index = i as u64 + 1;
                t
            })
            .collect();
        let ok = |_: &Node, _: &TaskSpec| true;
        let ctx = Context { now, nodes: &nodes, constraints_ok: &ok };
        let plan = plan_replicated(&service, &tasks, &ctx);
        for a in plan.actions {
            match a {
                Action::Create(t) => tasks.push(*t),
                Action::SetDesired { .. } | Action::Reject { .. } => {
                    let (task_id, state) = match a {
                        Action::SetDesired { task_id, state } => (task_id, state),
                        Action::Reject { task_id, .. } => (task_id, TaskState::Shutdown),
                        _ => unreachable!(),
                    };
                    let t = tasks.iter_mut().find(|t| t.id == task_id).unwrap();
                    prop_assert!(t.desired_state <= state, "desired state never goes back");
                    t.desired_state = state;
                }
                _ => {}
            }
        }
        let live: Vec<&Task> = tasks.iter().filter(|t| is_live(t)).collect();
        prop_assert_eq!(live.len() as u64, replicas, "live tasks: {:?}", live);
        let mut slots: Vec<u64> = live.iter().map(|t| t.slot).collect();
        slots.sort();
        slots.dedup();
        prop_assert_eq!(slots.len(), live.len(), "one live task per slot");
        for t in &live {
            let on_down = nodes.iter().any(|n| n.id == t.node_id && n.status.state == NodeState::Down);
            prop_assert!(!on_down, "live task on a down node: {:?}", t);
        }
    }
}
