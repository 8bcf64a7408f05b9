//! Scheduling throughput (figures are reported, never asserted):
//!
//! - `100k_tasks_1k_nodes`: 100 services × 1,000 tasks onto 1,000 nodes (target ≤ 0.5 s on
//!   one core; swarmkit's equivalent took 22.6 s);
//! - `100k_tasks_1k_nodes_one_service`: the same 100,000 tasks as one service (one group);
//! - `1m_tasks_10k_nodes`: 1,000 services × 1,000 tasks onto 10,000 nodes.
//!
//! Every service spreads over `node.labels.zone` (10 zones; half the services also over
//! `node.labels.rack`, 10 racks per zone), carries two constraints, reserves CPU and memory,
//! and some set `MaxReplicas`. 1 % of the nodes are drained. Only `schedule` is timed; each
//! iteration starts from a fresh clone of the empty view.
//!
//! Run: `cargo bench -p shoal-scheduler` (add `-- 100k` or `-- 1m` for one case).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use shoal_scheduler::{ClusterView, Requirements, TaskToPlace, schedule};
use shoal_types::service::TaskSpec;
use shoal_types::{
    Availability, Node, NodeDescription, NodeRole, NodeSpec, NodeState, NodeStatus, Platform,
    Resources,
};

const CPU: i64 = 1_000_000_000;
const GIB: i64 = 1 << 30;

fn cluster(nodes: usize) -> Vec<Node> {
    (0..nodes)
        .map(|i| {
            let mut spec = NodeSpec {
                role: if i % 100 == 0 {
                    NodeRole::Manager
                } else {
                    NodeRole::Worker
                },
                availability: if i % 100 == 50 {
                    Availability::Drain
                } else {
                    Availability::Active
                },
                ..Default::default()
            };
            spec.labels.insert("zone".into(), format!("z{}", i % 10));
            spec.labels
                .insert("rack".into(), format!("r{}", (i / 10) % 10));
            spec.labels
                .insert("disk".into(), if i % 3 == 0 { "hdd" } else { "ssd" }.into());
            Node {
                id: format!("node{i:06}xxxxxxxxxxxxxxxxxxx"),
                spec,
                description: NodeDescription {
                    hostname: format!("host{i}"),
                    platform: Platform {
                        architecture: "x86_64".into(),
                        os: "linux".into(),
                    },
                    resources: Resources {
                        nano_cpus: 64 * CPU,
                        memory_bytes: 256 * GIB,
                    },
                    ..Default::default()
                },
                status: NodeStatus {
                    state: NodeState::Ready,
                    addr: format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
                    ..Default::default()
                },
                ..Default::default()
            }
        })
        .collect()
}

fn service_spec(s: usize) -> TaskSpec {
    let rack = if s.is_multiple_of(2) {
        r#", {"Spread": {"SpreadDescriptor": "node.labels.rack"}}"#
    } else {
        ""
    };
    let max = if s % 4 == 1 {
        r#", "MaxReplicas": 4"#
    } else {
        ""
    };
    let json = format!(
        r#"{{"Placement": {{
            "Constraints": ["node.role==worker", "node.labels.disk{}"],
            "Preferences": [{{"Spread": {{"SpreadDescriptor": "node.labels.zone"}}}}{rack}]{max}}},
           "Resources": {{"Reservations": {{"NanoCPUs": 10000000, "MemoryBytes": 16777216}}}}}}"#,
        if s.is_multiple_of(3) {
            "==ssd"
        } else {
            "!=tape"
        },
    );
    serde_json::from_str(&json).expect("bench spec")
}

fn batch(services: usize, per_service: usize) -> Vec<TaskToPlace> {
    let mut out = Vec::with_capacity(services * per_service);
    for s in 0..services {
        let req = Arc::new(Requirements::new(&service_spec(s), None));
        let service_id = format!("svc{s:06}xxxxxxxxxxxxxxxxxxxx");
        for t in 0..per_service {
            out.push(TaskToPlace {
                task_id: format!("task{s:06}{t:06}xxxxxxxxxxxxx"),
                service_id: service_id.clone(),
                requirements: Arc::clone(&req),
                preassigned_node: None,
            });
        }
    }
    out
}

fn bench_case(c: &mut Criterion, name: &str, nodes: usize, services: usize, per: usize) {
    let nodes = cluster(nodes);
    let view = ClusterView::new(&nodes);
    let tasks = batch(services, per);
    // A quick min-of-5 alongside criterion's statistics: on a shared 2-core machine the
    // minimum is the steadiest figure.
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let mut v = view.clone();
        let start = Instant::now();
        let plan = black_box(schedule(&mut v, &tasks));
        best = best.min(start.elapsed());
        assert_eq!(plan.assigned.len() + plan.unassigned.len(), tasks.len());
    }
    let plan = schedule(&mut view.clone(), &tasks);
    eprintln!(
        "{name}: {} assigned, {} unassigned; min of 5 runs {best:?}",
        plan.assigned.len(),
        plan.unassigned.len()
    );
    let mut group = c.benchmark_group("schedule");
    group.sample_size(10);
    if per * services > 200_000 {
        // One iteration per sample: keeps the whole bench run well under two minutes.
        group.sampling_mode(SamplingMode::Flat);
        group.warm_up_time(Duration::from_secs(2));
        group.measurement_time(Duration::from_secs(10));
    } else {
        group.measurement_time(Duration::from_secs(5));
    }
    group.bench_function(name, |b| {
        b.iter_batched(
            || view.clone(),
            |mut v| black_box(schedule(&mut v, black_box(&tasks))),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn small(c: &mut Criterion) {
    bench_case(c, "100k_tasks_1k_nodes", 1_000, 100, 1_000);
    // swarmkit's own benchmark shape: one service, so a single group.
    bench_case(c, "100k_tasks_1k_nodes_one_service", 1_000, 1, 100_000);
}

fn large(c: &mut Criterion) {
    bench_case(c, "1m_tasks_10k_nodes", 10_000, 1_000, 1_000);
}

criterion_group!(benches, small, large);
criterion_main!(benches);
