//! Global services: one task on every node that is up, active and matches the constraints;
//! tasks leave nodes that go down, drain or stop matching. Paused nodes keep their tasks but
//! get no new ones. Updates roll node by node as the update config says (`update.rs`).

use std::collections::BTreeMap;

use shoal_types::{Availability, Mode, NodeState, Service, Task, TaskState};

use crate::action::{Action, Context, Plan, new_task};
use crate::failure::{Gate, judge};
use crate::slots::{Slot, is_live, reconcile_slot};
use crate::update::{finish_update, rolling_update};

/// Plans one global service. `tasks` are all of the service's tasks.
pub fn plan_global(service: &Service, tasks: &[Task], ctx: &Context<'_>) -> Plan {
    let mut plan = Plan::default();
    if service.mode() != Mode::Global {
        return plan;
    }
    let all: Vec<&Task> = tasks.iter().collect();
    let nodes_live = tasks.iter().filter(|t| is_live(t)).count();
    let gate = judge(service, &all, nodes_live, &mut plan);
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
        }
    }
    // Tasks on nodes that no longer exist.
    for t in by_node.into_values().flatten().filter(|t| is_live(t)) {
        plan.actions.push(Action::SetDesired {
            task_id: t.id.clone(),
            state: TaskState::Shutdown,
        });
    }
    if let Gate::Go(budget) = gate {
        rolling_update(service, &all, budget, &plan.clone(), ctx, &mut plan);
        finish_update(service, &all, None, ctx.now, &mut plan);
    }
    plan
}
