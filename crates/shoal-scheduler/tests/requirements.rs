//! Reading requirements from specs, and building a view from store objects.

mod common;

use std::collections::HashMap;

use common::{CPU, node, reqs, run, running, tasks};
use shoal_scheduler::{ClusterView, MAX_FAILURES, PlatformReq, SpreadKey, schedule};

#[test]
fn requirements_come_from_the_task_spec() {
    let r = reqs(
        r#"{"Placement": {
              "Constraints": ["node.role==worker"],
              "Preferences": [{"Spread": {"SpreadDescriptor": "Node.Labels.zone"}},
                              {"Spread": {"SpreadDescriptor": "engine.labels.rack"}},
                              {"Spread": {"SpreadDescriptor": "node.hostname"}}],
              "MaxReplicas": 2,
              "Platforms": [{"OS": "linux", "Architecture": "x86_64"}]},
            "Resources": {"Reservations": {"NanoCPUs": 500000000, "MemoryBytes": 1024}}}"#,
    );
    assert_eq!(r.constraints.len(), 1);
    assert_eq!(
        r.spread,
        [
            SpreadKey::NodeLabel("zone".into()),
            SpreadKey::EngineLabel("rack".into())
        ]
    );
    assert_eq!(r.max_replicas, 2);
    assert_eq!(r.platforms, [PlatformReq::new("linux", "amd64")]);
    assert_eq!(
        (r.reservations.nano_cpus, r.reservations.memory_bytes),
        (CPU / 2, 1024)
    );
    assert!(r.host_ports.is_empty());
}

#[test]
fn invalid_constraints_switch_the_filter_off_like_swarmkit() {
    // The API layer rejects these with `parse_constraints`; a stored one must not wedge tasks.
    let r = reqs(r#"{"Placement": {"Constraints": ["node.role=manager"]}}"#);
    assert!(r.constraints.is_empty());
    let (_, plan) = run(&[node("a")], &tasks("s", 1, &r));
    assert_eq!(plan.assigned.len(), 1);
}

#[test]
fn build_takes_tasks_ports_and_failures() {
    let nodes = [node("a"), node("b")];
    let json = r#"{"Resources": {"Reservations": {"NanoCPUs": 1000000000}}}"#;
    let existing = [
        running("t1", "s", "a", json),
        running("t2", "s", "nowhere", json),
    ];
    let failures = HashMap::from([(("b".to_string(), "s".to_string()), MAX_FAILURES)]);
    let mut view = ClusterView::build(&nodes, &existing, &HashMap::new(), &failures);
    assert_eq!(view.len(), 2);
    assert_eq!(view.node_ids().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(view.free_resources("a").unwrap().nano_cpus, 3 * CPU);
    assert_eq!(view.is_schedulable("a"), Some(true));
    assert_eq!(view.is_schedulable("zzz"), None);
    // b is empty but failing; a already runs one task of s and still wins.
    let plan = schedule(&mut view, &tasks("s", 1, &reqs("{}")));
    assert_eq!(plan.assigned[0].1, "a");
    view.set_recent_failures("b", "s", 0);
    let plan = schedule(&mut view, &tasks("s", 1, &reqs("{}")));
    assert_eq!(plan.assigned[0].1, "b");
}
