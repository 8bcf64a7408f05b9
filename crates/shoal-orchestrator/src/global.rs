//! Global services: one task on every node that is up, active and matches the constraints;
//! tasks leave nodes that go down, drain or stop matching. Paused nodes keep their tasks but
//! get no new ones.

use std::collections::BTreeMap;

use shoal_types::{Availability, Mode, NodeState, Service, Task, TaskState};

use crate::action::{Action, Context, Plan, new_task};
use crate::failure::{Gate, judge};
use crate::slots::{Slot, is_live, reconcile_slot};

/// Plans one global service. `tasks` are all of the service's tasks.
pub fn plan_global(service: &Service, tasks: &[Task], ctx: &Context<'_>) -> Plan {
    let mut plan = Plan::default();
    if service.mode() != Mode::Global {
        return plan;
    }
    let all: Vec<&Task> = tasks.iter().collect();
    let nodes_live = tasks.iter().filter(|t| is_live(t)).count();
    let mut budget = match judge(service, &all, nodes_live, &mut plan) {
        Gate::Go(n) => n,
        Gate::Stop => 0,
    };
    let mut by_node: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
    for t in tasks {
        by_node.entry(t.node_id.as_str()).or_default().push(t);
    }
    for node in ctx.nodes {
        let slot_tasks = by_node.remove(node.id.as_str()).unwrap_or_default();
        let eligible = node.status.state != NodeState::Down
            && node.spec.availability == Availability::Active
            && (ctx.constraints_ok)(node, &service.task_spec());
        let successor = || eligible.then(|| new_task(service, 0, Some(&node.id), ctx.now));
        let state = reconcile_slot(service, &slot_tasks, ctx, &mut plan, &successor);
        if state == Slot::Empty && eligible {
            plan.actions.push(Action::Create(Box::new(new_task(
                service,
                0,
                Some(&node.id),
                ctx.now,
            ))));
        } else if state == Slot::Live
            && budget > 0
            && update_on_node(service, &slot_tasks, ctx, &mut plan)
        {
            budget -= 1;
        }
    }
    // Tasks on nodes that no longer exist.
    for t in by_node.into_values().flatten().filter(|t| is_live(t)) {
        plan.actions.push(Action::SetDesired {
            task_id: t.id.clone(),
            state: TaskState::Shutdown,
        });
    }
    if !plan
        .actions
        .iter()
        .any(|a| matches!(a, Action::SetUpdateStatus(_)))
    {
        crate::update::finish_update(service, &all, None, ctx.now, &mut plan);
    }
    plan
}

/// Replaces the node's out-of-date task (stop-first); whether it did.
fn update_on_node(service: &Service, tasks: &[&Task], ctx: &Context<'_>, plan: &mut Plan) -> bool {
    let Some(old) = tasks
        .iter()
        .find(|t| is_live(t) && t.spec_version != service.spec_version)
    else {
        return false;
    };
    if plan
        .actions
        .iter()
        .any(|a| matches!(a, Action::SetDesired { task_id, .. } if *task_id == old.id))
    {
        return false;
    }
    plan.actions.push(Action::SetDesired {
        task_id: old.id.clone(),
        state: TaskState::Shutdown,
    });
    plan.actions.push(Action::Create(Box::new(new_task(
        service,
        0,
        Some(&old.node_id),
        ctx.now,
    ))));
    true
}
