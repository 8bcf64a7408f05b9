//! Jobs: replicated jobs run `total_completions` tasks to completion, at most `max_concurrent`
//! at a time; global jobs run once to completion on every eligible node. A failed task is
//! retried in its slot as its restart policy allows (a completed one never is). Every update
//! of the job starts a new iteration (`JobStatus.JobIteration`, set by the control API): only
//! tasks of the current iteration count towards completion, and what an old one still runs
//! is stopped, its tasks kept as history.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use shoal_types::{Availability, Mode, NodeState, Service, Task, TaskState, Version};

use crate::action::{Action, Context, Plan, new_task};
use crate::slots::{Slot, reconcile_slot};

fn completed(t: &Task) -> bool {
    t.status.state == TaskState::Complete
}

/// A task for the job's current iteration (swarmkit stamps each job task with it, so that
/// `docker service ls` and the CLI's progress count only the current execution).
fn job_task(service: &Service, slot: u64, node_id: Option<&str>, now: SystemTime) -> Task {
    let mut task = new_task(service, slot, node_id, now);
    task.job_iteration = Some(Version {
        index: service.job_iteration(),
    });
    task
}

/// Old-iteration tasks are shut down (running ones stop, the rest become history); returns
/// the current iteration's tasks.
fn current_iteration<'a>(service: &Service, tasks: &'a [Task], plan: &mut Plan) -> Vec<&'a Task> {
    let mut current = Vec::new();
    for t in tasks {
        if t.job_iteration() == service.job_iteration() {
            current.push(t);
        } else if t.desired_state < TaskState::Shutdown {
            plan.actions.push(Action::SetDesired {
                task_id: t.id.clone(),
                state: TaskState::Shutdown,
            });
        }
    }
    current
}

/// Plans a replicated job.
pub fn plan_replicated_job(service: &Service, tasks: &[Task], ctx: &Context<'_>) -> Plan {
    let mut plan = Plan::default();
    let Mode::ReplicatedJob {
        max_concurrent,
        total_completions,
    } = service.mode()
    else {
        return plan;
    };
    let current = current_iteration(service, tasks, &mut plan);
    let mut by_slot: BTreeMap<u64, Vec<&Task>> = BTreeMap::new();
    for t in &current {
        by_slot.entry(t.slot).or_default().push(t);
    }
    let mut busy = 0u64;
    let mut taken = BTreeSet::new();
    for (&slot, slot_tasks) in &by_slot {
        taken.insert(slot);
        if slot_tasks.iter().any(|t| completed(t)) {
            continue; // this completion is done
        }
        let successor = || Some(job_task(service, slot, None, ctx.now));
        match reconcile_slot(service, slot_tasks, ctx, &mut plan, &successor) {
            Slot::Live | Slot::Waiting => busy += 1,
            Slot::Done => {}
            Slot::Empty => {
                taken.remove(&slot);
            }
        }
    }
    let done = by_slot
        .values()
        .filter(|ts| ts.iter().any(|t| completed(t)))
        .count() as u64;
    let remaining = total_completions.saturating_sub(done);
    let room = max_concurrent.min(remaining).saturating_sub(busy);
    // Slots run from 0 as in swarmkit: the docker CLI's job progress reads slots
    // 0..completions (and shows slot + 1), so 1-based slots would never look complete.
    let free = (0..total_completions)
        .filter(|s| !taken.contains(s))
        .take(room as usize);
    for slot in free {
        plan.actions.push(Action::Create(Box::new(job_task(
            service, slot, None, ctx.now,
        ))));
    }
    plan
}

/// Plans a global job.
pub fn plan_global_job(service: &Service, tasks: &[Task], ctx: &Context<'_>) -> Plan {
    let mut plan = Plan::default();
    if service.mode() != Mode::GlobalJob {
        return plan;
    }
    let current = current_iteration(service, tasks, &mut plan);
    let mut by_node: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
    for t in current {
        by_node.entry(t.node_id.as_str()).or_default().push(t);
    }
    for node in ctx.nodes {
        let slot_tasks = by_node.remove(node.id.as_str()).unwrap_or_default();
        if slot_tasks.iter().any(|t| completed(t)) {
            continue;
        }
        let eligible = node.status.state != NodeState::Down
            && node.spec.availability == Availability::Active
            && (ctx.constraints_ok)(node, &service.task_spec());
        let successor = || eligible.then(|| job_task(service, 0, Some(&node.id), ctx.now));
        if reconcile_slot(service, &slot_tasks, ctx, &mut plan, &successor) == Slot::Empty
            && eligible
        {
            plan.actions.push(Action::Create(Box::new(job_task(
                service,
                0,
                Some(&node.id),
                ctx.now,
            ))));
        }
    }
    plan
}
