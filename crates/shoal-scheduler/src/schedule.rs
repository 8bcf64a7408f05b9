//! `schedule`: preassigned tasks first, then the rest grouped by service and spec, each group
//! spread over the nodes that pass the filters.

use std::collections::HashMap;
use std::sync::Arc;

use crate::constraint::Constraint;
use crate::filter::{Failures, Filter, first_failure, static_failure};
use crate::requirements::{PlatformReq, Requirements, SpreadKey, TaskToPlace};
use crate::tree::{Partition, Placer};
use crate::view::ClusterView;

/// At this many recent failures of a service a node is tried last for it (swarmkit's
/// `maxFailures`; its window is 5 minutes, counted by the caller).
pub const MAX_FAILURES: u32 = 5;

/// The scheduler's decisions. Every task passed in appears in exactly one of the two lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// `(task ID, node ID)`: set the task ASSIGNED on that node.
    pub assigned: Vec<(String, String)>,
    /// `(task ID, Status.Err)`: leave the task PENDING with this error, retry later.
    pub unassigned: Vec<(String, String)>,
}

/// Tasks of one service sharing one set of requirements, in input order.
struct Group {
    service_id: String,
    requirements: Arc<Requirements>,
    tasks: Vec<usize>,
}

/// The node-only part of a group's requirements: constraints and platforms.
type StaticKey = (Vec<Constraint>, Vec<PlatformReq>);

/// Filter results and spread trees reused between groups of one `schedule` call.
#[derive(Default)]
struct Caches {
    /// Per node, the static filter it fails (if any).
    statics: HashMap<StaticKey, Vec<Option<Filter>>>,
    partitions: HashMap<Vec<SpreadKey>, Partition>,
}

/// Places `tasks` on the nodes of `view` and records the placements in `view`, so it can
/// schedule the next batch.
///
/// Preassigned tasks (global services) are only confirmed on their node; a rejection leaves
/// the bare explanation (`insufficient resources on 1 node`), as swarmkit's `taskFitNode`
/// does, and a node missing from the view counts as not available. The other tasks are
/// grouped by service and requirements (groups in order of first appearance, tasks in input
/// order); see the crate documentation for the strategy.
pub fn schedule(view: &mut ClusterView, tasks: &[TaskToPlace]) -> Plan {
    let mut plan = Plan {
        assigned: Vec::with_capacity(tasks.len()),
        unassigned: Vec::new(),
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut by_service: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, task) in tasks.iter().enumerate() {
        if let Some(node) = &task.preassigned_node {
            confirm_preassigned(view, task, node, &mut plan);
            continue;
        }
        let candidates = by_service.entry(task.service_id.as_str()).or_default();
        let found = candidates.iter().copied().find(|&g| {
            let have = &groups[g].requirements;
            Arc::ptr_eq(have, &task.requirements) || **have == *task.requirements
        });
        let g = found.unwrap_or_else(|| {
            groups.push(Group {
                service_id: task.service_id.clone(),
                requirements: Arc::clone(&task.requirements),
                tasks: Vec::new(),
            });
            candidates.push(groups.len() - 1);
            groups.len() - 1
        });
        groups[g].tasks.push(i);
    }
    let mut caches = Caches::default();
    for group in &groups {
        schedule_group(view, group, tasks, &mut caches, &mut plan);
    }
    plan
}

fn confirm_preassigned(view: &mut ClusterView, task: &TaskToPlace, node: &str, plan: &mut Plan) {
    let req = &*task.requirements;
    let Some(idx) = view.index_of(node) else {
        plan.unassigned
            .push((task.task_id.clone(), Filter::Ready.explain(1)));
        return;
    };
    let count = view.service_task_count(node, &task.service_id);
    let verdict = static_failure(&view.nodes[idx as usize], req);
    if let Some(failed) = first_failure(view, idx, req, verdict, count) {
        let mut failures = Failures::default();
        failures.add(failed);
        plan.unassigned
            .push((task.task_id.clone(), failures.explain()));
        return;
    }
    view.take(idx, &req.reservations, &req.host_ports, true);
    let svc = view.services.entry(task.service_id.clone()).or_default();
    *svc.tasks.entry(idx).or_default() += 1;
    plan.assigned
        .push((task.task_id.clone(), view.nodes[idx as usize].id.clone()));
}

fn schedule_group(
    view: &mut ClusterView,
    group: &Group,
    tasks: &[TaskToPlace],
    caches: &mut Caches,
    plan: &mut Plan,
) {
    let req = &*group.requirements;
    let statics = caches
        .statics
        .entry(req.static_key())
        .or_insert_with(|| view.nodes.iter().map(|n| static_failure(n, req)).collect());
    let partition = caches
        .partitions
        .entry(req.spread.clone())
        .or_insert_with(|| Partition::new(view, &req.spread));
    let (counts, fail_rank) = service_arrays(view, &group.service_id);

    let mut placer = Placer::new(view, req, partition, statics, counts, fail_rank);
    let placed = placer.place(group.tasks.len());
    let leftover = (placed < group.tasks.len()).then(|| explain(&placer));
    let Placer {
        view,
        counts,
        chosen,
        ..
    } = placer;

    // Only nodes that received a task need their sparse count written back.
    let svc = view.services.entry(group.service_id.clone()).or_default();
    svc.tasks.reserve(chosen.len().min(view.nodes.len()));
    for &idx in &chosen {
        svc.tasks.insert(idx, counts[idx as usize]);
    }
    for (&t, &idx) in group.tasks.iter().zip(&chosen) {
        let node = view.nodes[idx as usize].id.clone();
        plan.assigned.push((tasks[t].task_id.clone(), node));
    }
    if let Some(err) = leftover {
        for &t in &group.tasks[placed..] {
            plan.unassigned
                .push((tasks[t].task_id.clone(), err.clone()));
        }
    }
}

/// Dense per-node arrays of the service's task counts and failure ranks for one group.
fn service_arrays(view: &ClusterView, service_id: &str) -> (Vec<u32>, Vec<u32>) {
    let n = view.nodes.len();
    let mut counts = vec![0u32; n];
    let mut fail_rank = vec![0u32; n];
    if let Some(svc) = view.services.get(service_id) {
        for (&idx, &c) in &svc.tasks {
            counts[idx as usize] = c;
        }
        for (&idx, &f) in &svc.failures {
            if f >= MAX_FAILURES {
                fail_rank[idx as usize] = f;
            }
        }
    }
    (counts, fail_rank)
}

/// Why the rest of a group found no node: every node charged to the first filter it now fails.
fn explain(placer: &Placer<'_>) -> String {
    let mut failures = Failures::default();
    for idx in 0..placer.view.nodes.len() as u32 {
        if let Some(f) = placer.failure(idx) {
            failures.add(f);
        }
    }
    failures.no_suitable_node()
}
