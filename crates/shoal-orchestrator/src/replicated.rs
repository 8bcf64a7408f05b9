//! Replicated services: slots 1..=replicas, gaps filled from the lowest number, scale-down
//! from the nodes with the most copies (tasks not yet running first), and rolling updates as
//! the service's update config says (`update.rs`).

use std::collections::{BTreeMap, BTreeSet};

use shoal_types::{Mode, Service, Task, TaskState};

use crate::action::{Action, Context, Plan, new_task};
use crate::failure::{Gate, judge};
use crate::slots::{Slot, is_live, reconcile_slot};
use crate::update::{finish_update, rolling_update};

/// Plans one replicated service. `tasks` are all of the service's tasks.
pub fn plan_replicated(service: &Service, tasks: &[Task], ctx: &Context<'_>) -> Plan {
    let mut plan = Plan::default();
    let replicas = match service.mode() {
        Mode::Replicated { replicas } => replicas,
        _ => return plan,
    };
    let mut by_slot: BTreeMap<u64, Vec<&Task>> = BTreeMap::new();
    for t in tasks.iter().filter(|t| t.slot > 0) {
        by_slot.entry(t.slot).or_default().push(t);
    }
    let mut occupied: BTreeMap<u64, Slot> = BTreeMap::new();
    for (&slot, slot_tasks) in &by_slot {
        let successor = || Some(new_task(service, slot, None, ctx.now));
        let state = reconcile_slot(service, slot_tasks, ctx, &mut plan, &successor);
        if state != Slot::Empty {
            occupied.insert(slot, state);
        }
    }
    let wanted = replicas as usize;
    if occupied.len() < wanted {
        fill(service, &occupied, wanted - occupied.len(), ctx, &mut plan);
    } else if occupied.len() > wanted {
        scale_down(&by_slot, &occupied, occupied.len() - wanted, &mut plan);
    } else {
        let all: Vec<&Task> = by_slot.values().flatten().copied().collect();
        if let Gate::Go(budget) = judge(service, &all, wanted, &mut plan) {
            rolling_update(service, &all, budget, &plan.clone(), ctx, &mut plan);
            finish_update(service, &all, Some(wanted), ctx.now, &mut plan);
        }
    }
    plan
}

/// New tasks in the lowest free slot numbers.
fn fill(
    service: &Service,
    occupied: &BTreeMap<u64, Slot>,
    n: usize,
    ctx: &Context<'_>,
    plan: &mut Plan,
) {
    let taken: BTreeSet<u64> = occupied.keys().copied().collect();
    let free = (1u64..).filter(|s| !taken.contains(s)).take(n);
    for slot in free {
        plan.actions.push(Action::Create(Box::new(new_task(
            service, slot, None, ctx.now,
        ))));
    }
}

/// Removes `n` slots: ended or waiting slots first, then tasks not yet running, then running
/// tasks from the node with the most copies of the service (recounted after each pick, as
/// swarmkit does); the highest slot first on ties.
fn scale_down(
    by_slot: &BTreeMap<u64, Vec<&Task>>,
    occupied: &BTreeMap<u64, Slot>,
    n: usize,
    plan: &mut Plan,
) {
    let mut copies: BTreeMap<&str, usize> = BTreeMap::new();
    for t in by_slot.values().flatten().filter(|t| is_live(t)) {
        *copies.entry(t.node_id.as_str()).or_default() += 1;
    }
    let live_task = |slot: u64| by_slot[&slot].iter().copied().find(|t| is_live(t));
    let mut candidates: Vec<u64> = occupied.keys().copied().collect();
    for _ in 0..n {
        let rank = |slot: &u64| -> (u8, usize, u64) {
            match (occupied[slot], live_task(*slot)) {
                (Slot::Live, Some(t)) if t.status.state == TaskState::Running => (
                    2,
                    usize::MAX - copies.get(t.node_id.as_str()).copied().unwrap_or(0),
                    u64::MAX - slot,
                ),
                (Slot::Live, _) => (1, 0, u64::MAX - slot),
                _ => (0, 0, u64::MAX - slot),
            }
        };
        let Some(pos) = candidates
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| rank(s))
            .map(|(i, _)| i)
        else {
            break;
        };
        let slot = candidates.remove(pos);
        if let Some(t) = live_task(slot) {
            copies
                .entry(t.node_id.as_str())
                .and_modify(|c| *c = c.saturating_sub(1));
        }
        // A successor this pass made for the slot (its task was on a lost node) goes too.
        plan.actions
            .retain(|a| !matches!(a, Action::Create(t) if t.slot == slot));
        for t in &by_slot[&slot] {
            if t.desired_state < TaskState::Remove {
                plan.actions.push(Action::SetDesired {
                    task_id: t.id.clone(),
                    state: TaskState::Remove,
                });
            }
        }
    }
}
