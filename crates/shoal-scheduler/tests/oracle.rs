//! Property tests: whatever the cluster, the plan obeys every filter, explains every task it
//! could not place (and only when no node could take it), and spreads evenly when nothing
//! else constrains it.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{CPU, GIB, node, running};
use proptest::prelude::*;
use shoal_scheduler::constraint::matches_all;
use shoal_scheduler::{
    ClusterView, HostPort, Plan, PlatformReq, Protocol, Requirements, Reservations, SpreadKey,
    TaskToPlace, parse_constraints, schedule,
};
use shoal_types::{Availability, Node, NodeState, Task};

const ZONES: [&str; 4] = ["a", "b", "c", ""];
const CONSTRAINTS: [&str; 4] = [
    "node.labels.zone==a",
    "node.labels.zone!=b",
    "node.role==worker",
    "node.platform.os==linux",
];

fn arb_node(i: usize) -> impl Strategy<Value = Node> {
    (0usize..4, 0u8..10, 1i64..5, 1i64..5, any::<bool>()).prop_map(
        move |(z, health, cpus, mem, win)| {
            let mut n = node(&format!("n{i:02}"));
            if !ZONES[z].is_empty() {
                n.spec.labels.insert("zone".into(), ZONES[z].into());
            }
            match health {
                0 => n.status.state = NodeState::Down,
                1 => n.spec.availability = Availability::Drain,
                _ => {}
            }
            n.description.resources.nano_cpus = cpus * CPU;
            n.description.resources.memory_bytes = mem * GIB;
            if win && health == 2 {
                n.description.platform.os = "windows".into();
            }
            n
        },
    )
}

fn arb_nodes() -> impl Strategy<Value = Vec<Node>> {
    (0usize..10).prop_flat_map(|n| (0..n).map(arb_node).collect::<Vec<_>>())
}

fn arb_requirements() -> impl Strategy<Value = Requirements> {
    (
        0i64..3,
        0usize..5,
        0u64..4,
        any::<bool>(),
        0u16..3,
        any::<bool>(),
    )
        .prop_map(
            |(cpu, constraint, max_replicas, spread, port, linux_only)| Requirements {
                reservations: Reservations {
                    nano_cpus: cpu * CPU / 2,
                    memory_bytes: cpu * GIB / 2,
                },
                constraints: match constraint {
                    0 => Vec::new(),
                    c => parse_constraints(&[CONSTRAINTS[c - 1].to_string()]).unwrap(),
                },
                platforms: if linux_only {
                    vec![PlatformReq::new("linux", "amd64")]
                } else {
                    Vec::new()
                },
                max_replicas,
                spread: if spread {
                    vec![SpreadKey::NodeLabel("zone".into())]
                } else {
                    Vec::new()
                },
                host_ports: match port {
                    0 => Vec::new(),
                    p => vec![HostPort {
                        protocol: Protocol::Tcp,
                        port: 8000 + p,
                    }],
                },
            },
        )
}

/// Nodes, services (requirements, tasks to place) and existing light tasks
/// (node index, service index).
type Case = (Vec<Node>, Vec<(Requirements, usize)>, Vec<(usize, usize)>);

fn arb_case() -> impl Strategy<Value = Case> {
    (
        arb_nodes(),
        prop::collection::vec((arb_requirements(), 0usize..25), 1..4),
        prop::collection::vec((0usize..10, 0usize..4), 0..12),
    )
}

fn ready(n: &Node) -> bool {
    n.status.state == NodeState::Ready && n.spec.availability == Availability::Active
}

fn platform_ok(r: &Requirements, n: &Node) -> bool {
    r.platforms.is_empty()
        || r.platforms
            .iter()
            .any(|p| p.os == n.description.platform.os)
}

/// Whether a task of `r` (service `s`) could still go on `n` in the final `view`.
fn fits(view: &ClusterView, r: &Requirements, s: &str, n: &Node) -> bool {
    let free = view.free_resources(&n.id).unwrap();
    ready(n)
        && (r.reservations.is_zero() || r.reservations.fits_in(&free))
        && matches_all(&r.constraints, n)
        && platform_ok(r, n)
        && !r
            .host_ports
            .iter()
            .any(|p| view.host_port_in_use(&n.id, *p))
        && (r.max_replicas == 0 || u64::from(view.service_task_count(&n.id, s)) < r.max_replicas)
}

/// The service index of a task named `s<i>.<t>`.
fn service_of(task: &str) -> usize {
    task[1..task.find('.').unwrap()].parse().unwrap()
}

/// One scheduled case: the view before and after, the requirements per service, the plan.
struct Outcome {
    before: ClusterView,
    after: ClusterView,
    reqs: Vec<Arc<Requirements>>,
    plan: Plan,
}

fn run_case(
    nodes: &[Node],
    services: &[(Requirements, usize)],
    existing: &[(usize, usize)],
) -> Outcome {
    let existing: Vec<Task> = existing
        .iter()
        .filter(|(n, _)| *n < nodes.len())
        .enumerate()
        .map(|(i, (n, s))| running(&format!("e{i}"), &format!("s{s}"), &nodes[*n].id, "{}"))
        .collect();
    let mut after = ClusterView::build(nodes, &existing, &HashMap::new(), &HashMap::new());
    let before = after.clone();
    let reqs: Vec<Arc<Requirements>> = services.iter().map(|(r, _)| Arc::new(r.clone())).collect();
    let mut batch = Vec::new();
    for (s, (_, count)) in services.iter().enumerate() {
        batch.extend((0..*count).map(|t| TaskToPlace {
            task_id: format!("s{s}.{t}"),
            service_id: format!("s{s}"),
            requirements: Arc::clone(&reqs[s]),
            preassigned_node: None,
        }));
    }
    let plan = schedule(&mut after, &batch);
    assert_eq!(plan.assigned.len() + plan.unassigned.len(), batch.len());
    Outcome {
        before,
        after,
        reqs,
        plan,
    }
}

/// Every assignment passes the ready, constraint and platform filters, and no host port is
/// taken twice on a node.
fn check_assignments(nodes: &[Node], o: &Outcome) -> Result<(), TestCaseError> {
    let by_id: HashMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut ports: HashMap<(&str, HostPort), u32> = HashMap::new();
    for (task, node_id) in &o.plan.assigned {
        let r = &o.reqs[service_of(task)];
        let n = by_id[node_id.as_str()];
        prop_assert!(ready(n), "{} on unavailable {}", task, node_id);
        prop_assert!(
            matches_all(&r.constraints, n),
            "{} breaks constraints on {}",
            task,
            node_id
        );
        prop_assert!(platform_ok(r, n));
        for p in &r.host_ports {
            let users = ports.entry((node_id.as_str(), *p)).or_default();
            *users += 1;
            prop_assert!(*users == 1, "host port {:?} twice on {}", p, node_id);
        }
    }
    Ok(())
}

/// No node that received a task is over max-replicas or over capacity.
fn check_totals(o: &Outcome) -> Result<(), TestCaseError> {
    let mut used: HashMap<&str, Reservations> = HashMap::new();
    for (task, node_id) in &o.plan.assigned {
        let s = service_of(task);
        let r = &o.reqs[s];
        let total = u64::from(o.after.service_task_count(node_id, &format!("s{s}")));
        prop_assert!(
            r.max_replicas == 0 || total <= r.max_replicas,
            "max replicas on {}",
            node_id
        );
        let u = used.entry(node_id.as_str()).or_default();
        u.nano_cpus += r.reservations.nano_cpus;
        u.memory_bytes += r.reservations.memory_bytes;
    }
    for (node_id, u) in &used {
        let free = o.before.free_resources(node_id).unwrap();
        let reserving = u.nano_cpus > 0 || u.memory_bytes > 0;
        let fits = u.nano_cpus <= free.nano_cpus && u.memory_bytes <= free.memory_bytes;
        prop_assert!(!reserving || fits, "{} over capacity", node_id);
    }
    Ok(())
}

/// Every task left over is explained, and rightly: no node could take it.
fn check_unassigned(nodes: &[Node], o: &Outcome) -> Result<(), TestCaseError> {
    for (task, err) in &o.plan.unassigned {
        let s = service_of(task);
        prop_assert!(err.starts_with("no suitable node"), "{}", err);
        let open: Vec<&str> = nodes
            .iter()
            .filter(|n| fits(&o.after, &o.reqs[s], &format!("s{s}"), n))
            .map(|n| n.id.as_str())
            .collect();
        prop_assert!(
            open.is_empty(),
            "{} left unplaced ({}) but {:?} could take it",
            task,
            err,
            open
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plans_obey_every_filter((nodes, services, existing) in arb_case()) {
        let outcome = run_case(&nodes, &services, &existing);
        check_assignments(&nodes, &outcome)?;
        check_totals(&outcome)?;
        check_unassigned(&nodes, &outcome)?;
    }

    #[test]
    fn unconstrained_services_stay_balanced(n in 1usize..12, counts in prop::collection::vec(0usize..60, 1..4), others in prop::collection::vec(0usize..12, 0..20)) {
        let nodes: Vec<Node> = (0..n).map(|i| node(&format!("n{i:02}"))).collect();
        // Tasks of an unrelated service only change tie-breaks.
        let existing: Vec<Task> = others.iter().filter(|&&i| i < n).enumerate().map(|(k, &i)| running(&format!("o{k}"), "other", &nodes[i].id, "{}")).collect();
        let mut view = ClusterView::build(&nodes, &existing, &HashMap::new(), &HashMap::new());
        let r = Arc::new(Requirements::default());
        let batch: Vec<TaskToPlace> = counts.iter().enumerate().flat_map(|(s, &c)| (0..c).map({
            let r = Arc::clone(&r);
            move |t| TaskToPlace { task_id: format!("s{s}.{t}"), service_id: format!("s{s}"), requirements: Arc::clone(&r), preassigned_node: None }
        })).collect();
        let plan = schedule(&mut view, &batch);
        prop_assert!(plan.unassigned.is_empty());
        for s in 0..counts.len() {
            let per: Vec<u32> = nodes.iter().map(|x| view.service_task_count(&x.id, &format!("s{s}"))).collect();
            let (min, max) = (per.iter().min().unwrap(), per.iter().max().unwrap());
            prop_assert!(max - min <= 1, "service s{} spread {:?}", s, per);
        }
    }

    #[test]
    fn spread_keeps_label_values_even(zones in prop::collection::vec(0usize..4, 1..16), count in 0usize..80) {
        let nodes: Vec<Node> = zones.iter().enumerate().map(|(i, &z)| {
            let mut n = node(&format!("n{i:02}"));
            if !ZONES[z].is_empty() {
                n.spec.labels.insert("zone".into(), ZONES[z].into());
            }
            n
        }).collect();
        let r = Arc::new(Requirements { spread: vec![SpreadKey::NodeLabel("zone".into())], ..Default::default() });
        let batch: Vec<TaskToPlace> = (0..count).map(|t| TaskToPlace { task_id: format!("s0.{t}"), service_id: "s0".into(), requirements: Arc::clone(&r), preassigned_node: None }).collect();
        let mut view = ClusterView::new(&nodes);
        let plan = schedule(&mut view, &batch);
        prop_assert_eq!(plan.assigned.len(), count);
        let mut per_zone: HashMap<&str, usize> = HashMap::new();
        for (node, &z) in nodes.iter().zip(&zones) {
            *per_zone.entry(ZONES[z]).or_default() += view.service_task_count(&node.id, "s0") as usize;
        }
        let (min, max) = (per_zone.values().min().unwrap(), per_zone.values().max().unwrap());
        prop_assert!(max - min <= 1, "zones {:?}", per_zone);
    }
}
