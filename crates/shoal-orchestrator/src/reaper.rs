//! The task reaper: keeps `history` ended tasks per slot (swarmkit's task history retention,
//! 5 by default, negative = all), deletes removed tasks once they stopped, and winds down tasks
//! of services that no longer exist.

use std::collections::{BTreeMap, BTreeSet};

use shoal_types::{Task, TaskState};

use crate::action::{Action, Plan};
use crate::slots::has_ended;

/// A task that no longer runs anywhere: it ended, or it never reached a node.
fn is_finished(t: &Task) -> bool {
    has_ended(t) || t.status.state < TaskState::Assigned
}

/// Plans deletions over all tasks. `services` are the IDs of existing services.
pub fn plan_reaper(tasks: &[Task], services: &BTreeSet<String>, history: i64) -> Plan {
    let mut plan = Plan::default();
    let mut groups: BTreeMap<(&str, u64, &str), Vec<&Task>> = BTreeMap::new();
    for t in tasks {
        if !services.contains(&t.service_id) {
            orphan(t, &mut plan);
            continue;
        }
        if t.desired_state >= TaskState::Remove && is_finished(t) {
            plan.actions.push(Action::Delete {
                task_id: t.id.clone(),
            });
            continue;
        }
        let node = if t.slot == 0 { t.node_id.as_str() } else { "" };
        groups
            .entry((t.service_id.as_str(), t.slot, node))
            .or_default()
            .push(t);
    }
    if history < 0 {
        return plan;
    }
    for tasks in groups.values_mut() {
        let mut old: Vec<&&Task> = tasks
            .iter()
            .filter(|t| t.desired_state > TaskState::Running && is_finished(t))
            .collect();
        old.sort_by_key(|t| std::cmp::Reverse(t.meta.version.index));
        for t in old.into_iter().skip(history as usize) {
            plan.actions.push(Action::Delete {
                task_id: t.id.clone(),
            });
        }
    }
    plan
}

/// A task whose service was deleted: stop it, then delete it once stopped.
fn orphan(t: &Task, plan: &mut Plan) {
    if is_finished(t) {
        plan.actions.push(Action::Delete {
            task_id: t.id.clone(),
        });
    } else if t.desired_state < TaskState::Remove {
        plan.actions.push(Action::SetDesired {
            task_id: t.id.clone(),
            state: TaskState::Remove,
        });
    }
}
