//! Hand-made state for the reconcilers' tests.
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

pub use shoal_orchestrator::{Action, Context, Plan, plan_global, plan_replicated};
pub use shoal_types::service::{
    ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum as Cond,
};
pub use shoal_types::{Node, NodeState, Service, Task, TaskState};

pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

pub fn ts(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

pub fn service(replicas: Option<i64>, restart: Option<Cond>) -> Service {
    let mode = match replicas {
        Some(r) => ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(r) }),
            ..Default::default()
        },
        None => ServiceSpecMode {
            global: Some(Default::default()),
            ..Default::default()
        },
    };
    let task_template = TaskSpec {
        restart_policy: restart.map(|c| TaskSpecRestartPolicy {
            condition: Some(c),
            delay: Some(5_000_000_000),
            ..Default::default()
        }),
        ..Default::default()
    };
    Service {
        id: "svc".into(),
        spec: ServiceSpec {
            name: Some("web".into()),
            mode: Some(mode),
            task_template: Some(task_template),
            ..Default::default()
        },
        spec_version: 1,
        ..Default::default()
    }
}

pub fn node(id: &str) -> Node {
    let mut n = Node {
        id: id.into(),
        ..Default::default()
    };
    n.status.state = NodeState::Ready;
    n
}

pub struct T(pub Task);
impl T {
    pub fn new(id: &str, slot: u64, node: &str, state: TaskState) -> T {
        let mut t = Task {
            id: id.into(),
            service_id: "svc".into(),
            slot,
            node_id: node.into(),
            spec_version: 1,
            ..Default::default()
        };
        t.status.state = state;
        t.status.timestamp = ts(now());
        t.desired_state = TaskState::Running;
        t.meta.version.index = id.bytes().map(u64::from).sum();
        T(t)
    }
    pub fn desired(mut self, s: TaskState) -> T {
        self.0.desired_state = s;
        self
    }
    pub fn ended_at(mut self, at: SystemTime) -> T {
        self.0.status.timestamp = ts(at);
        self
    }
    pub fn ran_at(mut self, at: SystemTime) -> T {
        self.0.running_at = ts(at);
        self
    }
    pub fn version(mut self, v: u64) -> T {
        self.0.spec_version = v;
        self
    }
    pub fn index(mut self, i: u64) -> T {
        self.0.meta.version.index = i;
        self
    }
}

pub fn run(svc: &Service, tasks: Vec<T>, nodes: &[Node], at: SystemTime) -> Plan {
    // Tasks carry their service's task spec, as the orchestrator makes them.
    let tasks: Vec<Task> = tasks
        .into_iter()
        .map(|T(mut t)| {
            t.spec = svc.task_spec();
            t
        })
        .collect();
    let ok = |_: &Node, _: &TaskSpec| true;
    let ctx = Context {
        now: at,
        nodes,
        constraints_ok: &ok,
    };
    match svc.mode() {
        shoal_types::Mode::Global => plan_global(svc, &tasks, &ctx),
        shoal_types::Mode::ReplicatedJob { .. } => {
            shoal_orchestrator::plan_replicated_job(svc, &tasks, &ctx)
        }
        _ => plan_replicated(svc, &tasks, &ctx),
    }
}

pub fn created_slots(p: &Plan) -> Vec<u64> {
    p.actions
        .iter()
        .filter_map(|a| {
            if let Action::Create(t) = a {
                Some(t.slot)
            } else {
                None
            }
        })
        .collect()
}

pub fn desired(p: &Plan) -> Vec<(String, TaskState)> {
    p.actions
        .iter()
        .filter_map(|a| {
            if let Action::SetDesired { task_id, state } = a {
                Some((task_id.clone(), *state))
            } else {
                None
            }
        })
        .collect()
}

pub fn with_update(parallelism: i64, delay: Duration, order: Option<&str>) -> Service {
    use shoal_types::service::{ServiceSpecUpdateConfig, ServiceSpecUpdateConfigOrderEnum as O};
    let mut svc = service(Some(5), None);
    svc.spec_version = 2;
    svc.spec.update_config = Some(ServiceSpecUpdateConfig {
        parallelism: Some(parallelism),
        delay: Some(delay.as_nanos() as i64),
        order: order.map(|o| {
            if o == "start-first" {
                O::START_FIRST
            } else {
                O::STOP_FIRST
            }
        }),
        ..Default::default()
    });
    svc
}

pub fn old_five() -> Vec<T> {
    ["a", "b", "c", "d", "e"]
        .iter()
        .enumerate()
        .map(|(i, id)| T::new(id, i as u64 + 1, "n1", TaskState::Running).version(1))
        .collect()
}
