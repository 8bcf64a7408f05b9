//! Node order (failures, service tasks, total tasks, ID) and spread preferences.

mod common;

use std::collections::HashMap;

use common::{labeled, node, per_node, reqs, run, running, tasks};
use shoal_scheduler::{ClusterView, MAX_FAILURES, schedule};
use shoal_types::Node;

const SPREAD_ZONE: &str =
    r#"{"Placement": {"Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]}}"#;

fn zone_count(plan: &shoal_scheduler::Plan, nodes: &[Node], zone: &str) -> usize {
    let counts = per_node(plan, nodes);
    nodes
        .iter()
        .zip(counts)
        .filter(|(n, _)| n.spec.labels.get("zone").map_or("", String::as_str) == zone)
        .map(|(_, c)| c)
        .sum()
}

#[test]
fn fills_evenly_and_breaks_ties_by_node_id() {
    let nodes = [node("c"), node("a"), node("b")];
    let (_, plan) = run(&nodes, &tasks("s", 7, &reqs("{}")));
    assert_eq!(per_node(&plan, &nodes), [2, 3, 2]);
    assert_eq!(plan.assigned[0], ("s.0".to_string(), "a".to_string()));
}

#[test]
fn prefers_fewer_tasks_of_the_service_then_fewer_in_total() {
    let nodes = [node("a"), node("b"), node("c")];
    let existing = [
        running("x1", "other", "a", "{}"),
        running("x2", "other", "a", "{}"),
        running("s1", "s", "b", "{}"),
    ];
    let mut view = ClusterView::build(&nodes, &existing, &HashMap::new(), &HashMap::new());
    let plan = schedule(&mut view, &tasks("s", 1, &reqs("{}")));
    assert_eq!(plan.assigned[0].1, "c");
    let plan = schedule(&mut view, &tasks("s", 1, &reqs("{}")));
    // a and b both run one task now... b has one of `s`, a none: a wins despite its total.
    assert_eq!(plan.assigned[0].1, "a");
}

#[test]
fn levels_uneven_nodes_before_round_robin() {
    let nodes = [node("a"), node("b"), node("c")];
    let existing: Vec<_> = (0..5)
        .map(|i| running(&format!("e{i}"), "s", "c", "{}"))
        .collect();
    let mut view = ClusterView::build(&nodes, &existing, &HashMap::new(), &HashMap::new());
    let plan = schedule(&mut view, &tasks("s", 9, &reqs("{}")));
    // 5 + 9 = 14 over three nodes: 5, 5, 4 with c untouched until a and b catch up.
    assert_eq!(per_node(&plan, &nodes), [5, 4, 0]);
}

#[test]
fn recently_failing_nodes_go_last() {
    let nodes = [node("a"), node("b")];
    let mut view = ClusterView::new(&nodes);
    view.set_recent_failures("a", "s", MAX_FAILURES);
    view.set_recent_failures("b", "s", MAX_FAILURES - 1);
    let plan = schedule(&mut view, &tasks("s", 3, &reqs("{}")));
    assert_eq!(per_node(&plan, &nodes), [0, 3]);
    // Failures of another service do not matter.
    let plan = schedule(&mut view, &tasks("t", 2, &reqs("{}")));
    assert_eq!(per_node(&plan, &nodes), [1, 1]);
    // A failing node still takes tasks when nothing else can.
    let r = reqs(r#"{"Placement": {"MaxReplicas": 4}}"#);
    let plan = schedule(&mut view, &tasks("s", 3, &r));
    assert_eq!(per_node(&plan, &nodes), [2, 1]);
}

#[test]
fn spread_splits_evenly_across_label_values() {
    let nodes = [
        labeled("a1", "zone", "a"),
        labeled("a2", "zone", "a"),
        labeled("b1", "zone", "b"),
        labeled("c1", "zone", "c"),
        labeled("c2", "zone", "c"),
        labeled("c3", "zone", "c"),
    ];
    let (_, plan) = run(&nodes, &tasks("s", 9, &reqs(SPREAD_ZONE)));
    for zone in ["a", "b", "c"] {
        assert_eq!(zone_count(&plan, &nodes, zone), 3, "zone {zone}");
    }
    assert_eq!(per_node(&plan, &nodes), [2, 1, 3, 1, 1, 1]);
}

#[test]
fn a_missing_label_is_its_own_branch() {
    let nodes = [
        labeled("a1", "zone", "a"),
        labeled("a2", "zone", "a"),
        labeled("a3", "zone", "a"),
        node("n1"),
    ];
    let (_, plan) = run(&nodes, &tasks("s", 4, &reqs(SPREAD_ZONE)));
    assert_eq!(zone_count(&plan, &nodes, ""), 2);
    assert_eq!(zone_count(&plan, &nodes, "a"), 2);
}

#[test]
fn spread_counts_existing_tasks() {
    let nodes = [
        labeled("a1", "zone", "a"),
        labeled("b1", "zone", "b"),
        labeled("c1", "zone", "c"),
    ];
    let existing: Vec<_> = (0..3)
        .map(|i| running(&format!("e{i}"), "s", "a1", "{}"))
        .collect();
    let mut view = ClusterView::build(&nodes, &existing, &HashMap::new(), &HashMap::new());
    let plan = schedule(&mut view, &tasks("s", 6, &reqs(SPREAD_ZONE)));
    assert_eq!(per_node(&plan, &nodes), [0, 3, 3]);
}

#[test]
fn a_full_branch_hands_its_share_to_the_others() {
    let nodes = [
        labeled("a1", "zone", "a"),
        labeled("b1", "zone", "b"),
        labeled("b2", "zone", "b"),
    ];
    let r = reqs(
        r#"{"Placement": {"MaxReplicas": 2,
            "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]}}"#,
    );
    let (_, plan) = run(&nodes, &tasks("s", 8, &r));
    assert_eq!(per_node(&plan, &nodes), [2, 2, 2]);
    assert_eq!(plan.unassigned.len(), 2);
    // Branches with no eligible node (constraints) are skipped too.
    let r = reqs(
        r#"{"Placement": {"Constraints": ["node.labels.zone!=a"],
            "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]}}"#,
    );
    let (_, plan) = run(&nodes, &tasks("s", 4, &r));
    assert_eq!(per_node(&plan, &nodes), [0, 2, 2]);
}

#[test]
fn nested_spread_and_engine_labels() {
    let mut nodes = Vec::new();
    for (id, dc, rack) in [
        ("n1", "x", "1"),
        ("n2", "x", "1"),
        ("n3", "x", "2"),
        ("n4", "y", "1"),
    ] {
        let mut n = labeled(id, "dc", dc);
        n.description
            .engine
            .labels
            .insert("rack".into(), rack.into());
        nodes.push(n);
    }
    let r = reqs(
        r#"{"Placement": {"Preferences": [
            {"Spread": {"SpreadDescriptor": "node.labels.dc"}},
            {"Spread": {"SpreadDescriptor": "engine.labels.rack"}}]}}"#,
    );
    let (_, plan) = run(&nodes, &tasks("s", 8, &r));
    // dc x and y get 4 each; inside x, racks 1 and 2 get 2 each.
    assert_eq!(per_node(&plan, &nodes), [1, 1, 2, 4]);
}

#[test]
fn unsupported_spread_descriptors_are_ignored() {
    let nodes = [labeled("a1", "zone", "a"), node("n1"), node("n2")];
    let r =
        reqs(r#"{"Placement": {"Preferences": [{"Spread": {"SpreadDescriptor": "node.id"}}]}}"#);
    let (_, plan) = run(&nodes, &tasks("s", 3, &r));
    assert_eq!(per_node(&plan, &nodes), [1, 1, 1]);
}

#[test]
fn groups_by_service_and_spec_in_order() {
    let nodes = [node("a"), node("b")];
    let mut batch = tasks("s", 2, &reqs("{}"));
    batch.extend(tasks(
        "t",
        2,
        &reqs(r#"{"Placement": {"Constraints": ["node.id==b"]}}"#),
    ));
    batch.extend(tasks("s", 1, &reqs(r#"{"Placement": {"MaxReplicas": 5}}"#)));
    let (view, plan) = run(&nodes, &batch);
    assert_eq!(plan.assigned.len(), 5);
    assert_eq!(
        view.service_task_count("a", "s") + view.service_task_count("b", "s"),
        3
    );
    assert_eq!(view.service_task_count("b", "t"), 2);
    // The first group of `s` took a and b; the later one of `s` prefers a (fewer in total).
    assert_eq!(plan.assigned[4], ("s.0".to_string(), "a".to_string()));
}
