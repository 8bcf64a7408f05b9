//! Each filter, its explanation text, and how explanations combine.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{CPU, GIB, errors, labeled, node, per_node, reqs, run, running, spec, tasks};
use shoal_scheduler::{
    ClusterView, Filter, HostPort, Protocol, Requirements, TaskToPlace, host_mode_ports, schedule,
};
use shoal_types::service::EndpointSpec;
use shoal_types::{Availability, NodeState, TaskState};

#[test]
fn explanation_texts_and_plurals() {
    let cases = [
        (
            Filter::Ready,
            "1 node not available for new tasks",
            "3 nodes not available for new tasks",
        ),
        (
            Filter::Resources,
            "insufficient resources on 1 node",
            "insufficient resources on 3 nodes",
        ),
        (
            Filter::Constraints,
            "scheduling constraints not satisfied on 1 node",
            "scheduling constraints not satisfied on 3 nodes",
        ),
        (
            Filter::Platform,
            "unsupported platform on 1 node",
            "unsupported platform on 3 nodes",
        ),
        (
            Filter::HostPort,
            "host-mode port already in use on 1 node",
            "host-mode port already in use on 3 nodes",
        ),
        (
            Filter::MaxReplicas,
            "max replicas per node limit exceed",
            "max replicas per node limit exceed",
        ),
    ];
    for (f, one, three) in cases {
        assert_eq!(f.explain(1), one);
        assert_eq!(f.explain(3), three);
    }
}

#[test]
fn no_nodes_at_all() {
    let (_, plan) = run(&[], &tasks("s", 2, &reqs("{}")));
    assert_eq!(errors(&plan), ["no suitable node"]);
    assert_eq!(plan.unassigned.len(), 2);
}

#[test]
fn ready_filter_needs_ready_and_active() {
    let mut down = node("a");
    down.status.state = NodeState::Down;
    let mut drained = node("b");
    drained.spec.availability = Availability::Drain;
    let mut paused = node("c");
    paused.spec.availability = Availability::Pause;
    let (_, plan) = run(&[down.clone()], &tasks("s", 1, &reqs("{}")));
    assert_eq!(
        errors(&plan),
        ["no suitable node (1 node not available for new tasks)"]
    );
    let (_, plan) = run(
        &[down, drained, paused, node("d")],
        &tasks("s", 3, &reqs("{}")),
    );
    assert_eq!(plan.assigned.len(), 3);
    assert!(plan.assigned.iter().all(|(_, n)| n == "d"));
}

#[test]
fn resource_filter_counts_down_as_tasks_land() {
    let r = reqs(r#"{"Resources": {"Reservations": {"NanoCPUs": 1000000000}}}"#);
    let mut small = node("a");
    small.description.resources.nano_cpus = 2 * CPU;
    let (view, plan) = run(&[small.clone()], &tasks("s", 3, &r));
    assert_eq!(plan.assigned.len(), 2);
    assert_eq!(
        errors(&plan),
        ["no suitable node (insufficient resources on 1 node)"]
    );
    assert_eq!(view.free_resources("a").unwrap().nano_cpus, 0);

    let big = reqs(r#"{"Resources": {"Reservations": {"MemoryBytes": 99000000000}}}"#);
    let (_, plan) = run(&[node("a"), node("b")], &tasks("s", 1, &big));
    assert_eq!(
        errors(&plan),
        ["no suitable node (insufficient resources on 2 nodes)"]
    );
}

#[test]
fn running_tasks_hold_resources_but_only_active_ones_count() {
    let json =
        r#"{"Resources": {"Reservations": {"NanoCPUs": 3000000000, "MemoryBytes": 1073741824}}}"#;
    let mut stopping = running("t2", "s", "a", json);
    stopping.desired_state = TaskState::Shutdown;
    let mut done = running("t3", "s", "a", json);
    done.status.state = TaskState::Complete;
    let existing = [running("t1", "s", "a", json), stopping, done];
    let view = ClusterView::build(&[node("a")], &existing, &HashMap::new(), &HashMap::new());
    let free = view.free_resources("a").unwrap();
    assert_eq!((free.nano_cpus, free.memory_bytes), (-2 * CPU, 6 * GIB));
    assert_eq!(view.task_count("a"), Some(1));
    assert_eq!(view.service_task_count("a", "s"), 1);
}

#[test]
fn constraint_filter() {
    let nodes = [
        labeled("a", "zone", "x"),
        labeled("b", "zone", "y"),
        node("c"),
    ];
    let r = reqs(r#"{"Placement": {"Constraints": ["node.labels.zone==x"]}}"#);
    let (_, plan) = run(&nodes, &tasks("s", 2, &r));
    assert_eq!(per_node(&plan, &nodes), [2, 0, 0]);
    let none = reqs(r#"{"Placement": {"Constraints": ["node.labels.zone==z"]}}"#);
    let (_, plan) = run(&nodes, &tasks("s", 1, &none));
    assert_eq!(
        errors(&plan),
        ["no suitable node (scheduling constraints not satisfied on 3 nodes)"]
    );
}

#[test]
fn platform_filter_folds_architecture_aliases() {
    let mut arm = node("arm");
    arm.description.platform.architecture = "aarch64".into();
    let mut win = node("win");
    win.description.platform.os = "windows".into();
    let nodes = [node("amd"), arm, win];
    let placed_on = |json: &str| {
        let (_, plan) = run(&nodes, &tasks("s", 1, &reqs(json)));
        plan.assigned.first().map(|(_, n)| n.clone())
    };
    let amd64 = r#"{"Placement": {"Platforms": [{"OS": "linux", "Architecture": "amd64"}]}}"#;
    assert_eq!(placed_on(amd64).as_deref(), Some("amd"));
    let arm64 = r#"{"Placement": {"Platforms": [{"Architecture": "arm64"}]}}"#;
    assert_eq!(placed_on(arm64).as_deref(), Some("arm"));
    let any_os = r#"{"Placement": {"Platforms": [{"OS": "windows"}]}}"#;
    assert_eq!(placed_on(any_os).as_deref(), Some("win"));
    let empty = r#"{"Placement": {"Platforms": [{}]}}"#;
    assert_eq!(placed_on(empty).as_deref(), Some("amd"));
    let s390 = r#"{"Placement": {"Platforms": [{"OS": "linux", "Architecture": "s390x"}]}}"#;
    let (_, plan) = run(&nodes, &tasks("s", 1, &reqs(s390)));
    assert_eq!(
        errors(&plan),
        ["no suitable node (unsupported platform on 3 nodes)"]
    );
}

fn with_ports(ports_json: &str) -> (Arc<Requirements>, Vec<HostPort>) {
    let endpoint: EndpointSpec = serde_json::from_str(ports_json).unwrap();
    let ports = host_mode_ports(&endpoint);
    (
        Arc::new(Requirements::new(&spec("{}"), Some(&endpoint))),
        ports,
    )
}

#[test]
fn host_mode_ports_are_read_from_the_endpoint_spec() {
    let (_, ports) = with_ports(
        r#"{"Ports": [
            {"TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"},
            {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 53, "PublishMode": "host"},
            {"TargetPort": 81, "PublishedPort": 8081, "PublishMode": "ingress"},
            {"TargetPort": 82, "PublishedPort": 8082},
            {"TargetPort": 83, "PublishMode": "host"}
        ]}"#,
    );
    let want = [
        HostPort {
            protocol: Protocol::Tcp,
            port: 8080,
        },
        HostPort {
            protocol: Protocol::Udp,
            port: 53,
        },
    ];
    assert_eq!(ports.len(), 2);
    assert!(want.iter().all(|p| ports.contains(p)));
}

#[test]
fn host_port_filter() {
    let (r, ports) = with_ports(
        r#"{"Ports": [{"TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]}"#,
    );
    let nodes = [node("a"), node("b")];
    let (view, plan) = run(&nodes, &tasks("s", 3, &r));
    assert_eq!(per_node(&plan, &nodes), [1, 1]);
    assert_eq!(
        errors(&plan),
        ["no suitable node (host-mode port already in use on 2 nodes)"]
    );
    assert!(view.host_port_in_use("a", ports[0]));

    // A running task of another service already holds the port on `a`.
    let other = HashMap::from([("web".to_string(), ports.clone())]);
    let existing = [running("t1", "web", "a", "{}")];
    let mut view = ClusterView::build(&nodes, &existing, &other, &HashMap::new());
    let plan = schedule(&mut view, &tasks("s", 2, &r));
    assert_eq!(per_node(&plan, &nodes), [0, 1]);
    assert_eq!(
        errors(&plan),
        ["no suitable node (host-mode port already in use on 2 nodes)"]
    );

    // The same number over UDP does not collide.
    let (udp, _) = with_ports(
        r#"{"Ports": [{"Protocol": "udp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]}"#,
    );
    let plan = schedule(&mut view, &tasks("u", 2, &udp));
    assert_eq!(plan.assigned.len(), 2);
}

#[test]
fn max_replicas_filter() {
    let r = reqs(r#"{"Placement": {"MaxReplicas": 1}}"#);
    let nodes = [node("a"), node("b")];
    let (_, plan) = run(&nodes, &tasks("s", 3, &r));
    assert_eq!(per_node(&plan, &nodes), [1, 1]);
    assert_eq!(
        errors(&plan),
        ["no suitable node (max replicas per node limit exceed)"]
    );
}

#[test]
fn explanations_sort_by_count_then_pipeline_order() {
    let r = reqs(r#"{"Placement": {"MaxReplicas": 1, "Constraints": ["node.labels.ok==yes"]}}"#);
    let ok = |id: &str| labeled(id, "ok", "yes");
    let nodes = [ok("a"), ok("b"), ok("c"), node("d"), node("e")];
    let (_, plan) = run(&nodes, &tasks("s", 4, &r));
    assert_eq!(
        errors(&plan),
        [
            "no suitable node (max replicas per node limit exceed; scheduling constraints not satisfied on 2 nodes)"
        ]
    );

    let mut down = ok("a");
    down.status.state = NodeState::Down;
    let (_, plan) = run(&[down, node("b")], &tasks("s", 1, &r));
    assert_eq!(
        errors(&plan),
        [
            "no suitable node (1 node not available for new tasks; scheduling constraints not satisfied on 1 node)"
        ]
    );
}

#[test]
fn a_node_is_charged_to_the_first_filter_it_fails() {
    let r = reqs(
        r#"{"Placement": {"Constraints": ["node.labels.ok==yes"]},
            "Resources": {"Reservations": {"NanoCPUs": 8000000000}}}"#,
    );
    let mut down = node("a");
    down.status.state = NodeState::Down;
    let (_, plan) = run(&[down, node("b")], &tasks("s", 1, &r));
    assert_eq!(
        errors(&plan),
        ["no suitable node (1 node not available for new tasks; insufficient resources on 1 node)"]
    );
}

fn preassigned(id: &str, node: &str, r: &Arc<Requirements>) -> TaskToPlace {
    TaskToPlace {
        task_id: id.into(),
        service_id: "g".into(),
        requirements: Arc::clone(r),
        preassigned_node: Some(node.into()),
    }
}

#[test]
fn preassigned_tasks_are_confirmed_with_a_bare_explanation() {
    let mut drained = node("b");
    drained.spec.availability = Availability::Drain;
    let nodes = [node("a"), drained];
    let r = reqs(r#"{"Resources": {"Reservations": {"NanoCPUs": 3000000000}}}"#);
    let batch = [
        preassigned("t1", "a", &r),
        preassigned("t2", "a", &r),
        preassigned("t3", "b", &r),
        preassigned("t4", "gone", &r),
    ];
    let (view, plan) = run(&nodes, &batch);
    assert_eq!(plan.assigned, [("t1".to_string(), "a".to_string())]);
    let want = [
        ("t2", "insufficient resources on 1 node"),
        ("t3", "1 node not available for new tasks"),
        ("t4", "1 node not available for new tasks"),
    ];
    let got: Vec<(&str, &str)> = plan
        .unassigned
        .iter()
        .map(|(t, e)| (t.as_str(), e.as_str()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(view.service_task_count("a", "g"), 1);
}
