//! One slot of a service (a replica number, or a node for global services): which of its
//! tasks is live, and what the restart policy says when the live one ended.

use shoal_types::{Availability, NodeState, Service, Task, TaskState};

use crate::action::{Action, Context, Plan};
use crate::restart::RestartPolicy;

/// A task is live while it is wanted (desired ≤ RUNNING) and has not ended.
pub(crate) fn is_live(t: &Task) -> bool {
    t.desired_state <= TaskState::Running && t.status.state <= TaskState::Running
}

/// A task ended (complete, failed, rejected, shut down…).
pub(crate) fn has_ended(t: &Task) -> bool {
    t.status.state > TaskState::Running
}

/// Where a slot stands after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Has a live task (possibly just created).
    Live,
    /// Its task ended and the successor waits for the restart delay.
    Waiting,
    /// Its task ended and the policy allows no successor for this spec version.
    Done,
    /// Nothing wanted here: needs a task if the service wants this slot.
    Empty,
}

const DRAINED: &str = "node is drained";
const DUPLICATE: &str = "duplicate task in slot";

/// Whether the service's update order is start-first (the replacement starts before the old
/// task stops).
fn starts_first(service: &Service) -> bool {
    use shoal_types::service::ServiceSpecUpdateConfigOrderEnum as Order;
    service
        .spec
        .update_config
        .as_ref()
        .and_then(|u| u.order)
        .is_some_and(|o| o == Order::START_FIRST)
}

/// Why a node can no longer run a task, if it cannot.
pub(crate) fn node_problem(ctx: &Context<'_>, t: &Task) -> Option<&'static str> {
    if t.node_id.is_empty() {
        return None;
    }
    match ctx.node(&t.node_id) {
        None => Some("node no longer exists"),
        Some(n) if n.status.state == NodeState::Down => Some("node is down"),
        Some(n) if n.spec.availability == Availability::Drain => Some(DRAINED),
        Some(n) if !(ctx.constraints_ok)(n, &t.spec) => {
            Some("assigned node no longer meets constraints")
        }
        Some(_) => None,
    }
}

/// Decides one slot. `tasks` are the slot's tasks; `successor` makes a replacement task.
/// Live tasks on a node that cannot run them are shut down and replaced at once (global
/// services pass a successor that returns `None`: their slot is the node itself).
pub(crate) fn reconcile_slot(
    service: &Service,
    tasks: &[&Task],
    ctx: &Context<'_>,
    plan: &mut Plan,
    successor: &dyn Fn() -> Option<Task>,
) -> Slot {
    let live: Vec<&&Task> = tasks.iter().filter(|t| is_live(t)).collect();
    if !live.is_empty() {
        // One live task per slot: the furthest along (then the newest) stays; a duplicate
        // (e.g. left by a leader change mid-write) is shut down, as swarmkit does.
        // Start-first: the task of the current spec is the one to keep even before it runs.
        let start_first = starts_first(service);
        let keep = live
            .iter()
            .filter(|t| node_problem(ctx, t).is_none())
            .max_by_key(|t| {
                let current = start_first && t.spec_version == service.spec_version;
                (current, t.status.state, t.meta.version.index)
            })
            .copied();
        // Start-first (an update, or draining a node): the old task runs on until its
        // replacement runs, so the slot is never down.
        let replacement_runs = keep.is_some_and(|k| k.status.state == TaskState::Running);
        let hold = start_first && !replacement_runs;
        for t in &live {
            if keep.is_some_and(|k| k.id == t.id) {
                continue;
            }
            let why = node_problem(ctx, t).unwrap_or(DUPLICATE);
            if hold && (why == DRAINED || why == DUPLICATE) {
                continue;
            }
            plan.actions.push(shutdown(t, why));
        }
        let keep = keep.map(|t| t.id.clone());
        if keep.is_some() {
            return Slot::Live;
        }
        return match successor() {
            Some(new) => {
                plan.actions.push(Action::Create(Box::new(new)));
                Slot::Live
            }
            None => Slot::Empty,
        };
    }
    let newest_ended = tasks
        .iter()
        .filter(|t| t.desired_state <= TaskState::Running && has_ended(t))
        .max_by_key(|t| t.meta.version.index);
    if let Some(ended) = newest_ended {
        return restart(service, tasks, ended, ctx, plan, successor);
    }
    if slot_is_done(service, tasks, ctx) {
        Slot::Done
    } else {
        Slot::Empty
    }
}

fn shutdown(t: &Task, why: &str) -> Action {
    if why == "assigned node no longer meets constraints" {
        Action::Reject {
            task_id: t.id.clone(),
            message: why.to_string(),
        }
    } else {
        Action::SetDesired {
            task_id: t.id.clone(),
            state: TaskState::Shutdown,
        }
    }
}

/// Earlier ended attempts of this spec version in the slot (for max attempts).
fn attempts<'a>(service: &Service, tasks: &[&'a Task], except: &Task) -> Vec<&'a Task> {
    tasks
        .iter()
        .filter(|t| t.id != except.id && t.spec_version == service.spec_version && has_ended(t))
        .copied()
        .collect()
}

fn restart(
    service: &Service,
    tasks: &[&Task],
    ended: &Task,
    ctx: &Context<'_>,
    plan: &mut Plan,
    successor: &dyn Fn() -> Option<Task>,
) -> Slot {
    let policy = RestartPolicy::of(&ended.spec);
    let done = SetDone(ended.id.clone());
    if ended.spec_version == service.spec_version
        && !policy.allows(ended, &attempts(service, tasks, ended), ctx.now)
    {
        plan.actions.push(done.action());
        return Slot::Done;
    }
    // No delay when the node itself is the reason (swarmkit restarts those at once).
    let start_at = if node_problem(ctx, ended).is_some() {
        ctx.now
    } else {
        policy.start_at(ended)
    };
    if start_at > ctx.now {
        plan.wake(start_at);
        return Slot::Waiting;
    }
    plan.actions.push(done.action());
    match successor() {
        Some(new) => {
            plan.actions.push(Action::Create(Box::new(new)));
            Slot::Live
        }
        None => Slot::Empty,
    }
}

struct SetDone(String);

impl SetDone {
    fn action(self) -> Action {
        Action::SetDesired {
            task_id: self.0,
            state: TaskState::Shutdown,
        }
    }
}

/// A slot whose newest task, made from the current spec, ended and may not be restarted stays
/// empty until the spec changes (swarmkit refills such slots only on a service update).
fn slot_is_done(service: &Service, tasks: &[&Task], ctx: &Context<'_>) -> bool {
    let Some(newest) = tasks.iter().max_by_key(|t| t.meta.version.index) else {
        return false;
    };
    if newest.spec_version != service.spec_version || !has_ended(newest) {
        return false;
    }
    if newest.desired_state > TaskState::Shutdown {
        return false; // removed on purpose (scale-down): not a policy decision
    }
    let policy = RestartPolicy::of(&newest.spec);
    !policy.allows(newest, &attempts(service, tasks, newest), ctx.now)
}
