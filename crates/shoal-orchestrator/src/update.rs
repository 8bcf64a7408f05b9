//! Rolling updates of replicated and global services (a global service's node is its slot),
//! following the service's `UpdateConfig`:
//! `Parallelism` slots at a time (0 = all at once), `Delay` between one slot's new task running
//! and the next slot's update, and `Order`: stop-first (the old task stops as the new one is
//! made) or start-first (the old task keeps running until the new one runs; `slots.rs` then
//! stops it). While rolling back, the rollback config rules instead. Failures of new tasks and
//! the pause gates are judged in `failure.rs` before this runs.

use std::time::{Duration, SystemTime};

use shoal_types::service::ServiceSpecUpdateConfigOrderEnum as Order;
use shoal_types::{Service, Task, TaskState};

use crate::action::{Action, Context, Plan, StatusChange, new_task};
use crate::slots::is_live;

/// What to do when too many new tasks fail within the monitor period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureAction {
    Pause,
    Continue,
    Rollback,
}

/// The update (or, while rolling back, the rollback) config, with swarmkit's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct UpdateCfg {
    /// Slots updated at once; `usize::MAX` for "all".
    pub parallelism: usize,
    pub delay: Duration,
    pub start_first: bool,
    /// How long a new task is watched for failure after it runs (default 5 s).
    pub monitor: Duration,
    /// The fraction of slots whose new task may fail before `failure_action` fires.
    pub max_failure_ratio: f64,
    pub failure_action: FailureAction,
}

/// Whether the service is rolling back (its `UpdateStatus` says so).
pub(crate) fn rolling_back(service: &Service) -> bool {
    service
        .update_status
        .as_ref()
        .is_some_and(|u| u.state.starts_with("rollback"))
}

fn nanos(n: Option<i64>) -> Option<Duration> {
    n.filter(|n| *n > 0).map(|n| Duration::from_nanos(n as u64))
}

impl UpdateCfg {
    pub(crate) fn of(service: &Service) -> Self {
        use shoal_types::service::ServiceSpecRollbackConfigFailureActionEnum as R;
        use shoal_types::service::ServiceSpecRollbackConfigOrderEnum as RO;
        use shoal_types::service::ServiceSpecUpdateConfigFailureActionEnum as U;
        let spec = &service.spec;
        // Both configs have the same fields; read them as one.
        let (parallelism, delay, monitor, ratio, action, start_first) = if rolling_back(service) {
            let r = spec.rollback_config.clone().unwrap_or_default();
            let action = match r.failure_action {
                Some(R::CONTINUE) => FailureAction::Continue,
                _ => FailureAction::Pause, // "never roll back a rollback"
            };
            let order = r.order == Some(RO::START_FIRST);
            (
                r.parallelism,
                r.delay,
                r.monitor,
                r.max_failure_ratio,
                action,
                order,
            )
        } else {
            let u = spec.update_config.clone().unwrap_or_default();
            let action = match u.failure_action {
                Some(U::CONTINUE) => FailureAction::Continue,
                Some(U::ROLLBACK) => FailureAction::Rollback,
                _ => FailureAction::Pause,
            };
            let order = u.order == Some(Order::START_FIRST);
            (
                u.parallelism,
                u.delay,
                u.monitor,
                u.max_failure_ratio,
                action,
                order,
            )
        };
        UpdateCfg {
            parallelism: match parallelism {
                Some(0) => usize::MAX,
                Some(p) if p > 0 => p as usize,
                _ => 1,
            },
            delay: nanos(delay).unwrap_or_default(),
            start_first,
            monitor: nanos(monitor).unwrap_or(Duration::from_secs(5)),
            max_failure_ratio: ratio.unwrap_or(0.0).max(0.0),
            failure_action: action,
        }
    }
}

/// When a task last changed state (its status timestamp).
fn changed_at(t: &Task) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(&t.status.timestamp).ok()
}

/// Replaces out-of-date live tasks, at most `parallelism` in flight and `budget` more slots
/// (the canary gate). `planned` is what this pass already decided (slots it touches are left
/// alone).
pub(crate) fn rolling_update(
    service: &Service,
    tasks: &[&Task],
    budget: usize,
    planned: &Plan,
    ctx: &Context<'_>,
    plan: &mut Plan,
) {
    if planned
        .actions
        .iter()
        .any(|a| matches!(a, Action::Create(_)))
    {
        return; // something is being replaced already this pass
    }
    let stopping = |t: &Task| {
        planned.actions.iter().any(|a| match a {
            Action::SetDesired { task_id, .. } | Action::Reject { task_id, .. } => *task_id == t.id,
            _ => false,
        })
    };
    let cfg = UpdateCfg::of(service);
    let current = |t: &Task| t.spec_version == service.spec_version;
    let live: Vec<&Task> = tasks
        .iter()
        .copied()
        .filter(|t| is_live(t) && !stopping(t))
        .collect();
    // New tasks not running yet are updates in flight.
    let in_flight = live
        .iter()
        .filter(|t| current(t) && t.status.state < TaskState::Running)
        .count();
    if in_flight >= cfg.parallelism {
        return;
    }
    if !cfg.delay.is_zero() {
        if in_flight > 0 {
            return; // with a delay, one batch at a time
        }
        let last = live
            .iter()
            .filter(|t| current(t) && t.status.state == TaskState::Running)
            .filter_map(|t| changed_at(t))
            .max();
        if let Some(at) = last.map(|l| l + cfg.delay).filter(|at| *at > ctx.now) {
            plan.wake(at);
            return;
        }
    }
    let updated_slots: Vec<(u64, &str)> = live
        .iter()
        .filter(|t| current(t))
        .map(|t| unit(t))
        .collect();
    let mut old: Vec<&Task> = live
        .iter()
        .copied()
        .filter(|t| !current(t) && !updated_slots.contains(&unit(t)))
        .collect();
    old.sort_by_key(|t| unit(t));
    old.dedup_by_key(|t| unit(t));
    for t in old
        .into_iter()
        .take((cfg.parallelism - in_flight).min(budget))
    {
        if !cfg.start_first {
            plan.actions.push(Action::SetDesired {
                task_id: t.id.clone(),
                state: TaskState::Shutdown,
            });
        }
        plan.actions.push(Action::Create(Box::new(new_task(
            service,
            t.slot,
            (t.slot == 0).then_some(t.node_id.as_str()),
            ctx.now,
        ))));
    }
}

/// What a task fills: its slot (replicated) or its node (global services have slot 0).
fn unit(t: &Task) -> (u64, &str) {
    if t.slot > 0 {
        (t.slot, "")
    } else {
        (0, t.node_id.as_str())
    }
}

/// Marks an update (or rollback) in progress as done once every wanted slot runs a task of the
/// current spec, nothing old is live any more, and the last of them has run for the update's
/// monitor period (swarmkit's "update completed"; 5 s by default). Clients watch for this: the
/// docker CLI stops showing progress the moment it reads `completed`.
/// `replicas` is the number of slots wanted (`None` for global services: every live task).
pub(crate) fn finish_update(
    service: &Service,
    tasks: &[&Task],
    replicas: Option<usize>,
    now: SystemTime,
    plan: &mut Plan,
) {
    let Some(status) = service.update_status.as_ref() else {
        return;
    };
    let (state, message) = match status.state.as_str() {
        "updating" => ("completed", "update completed"),
        // swarmkit says "rollback completed" either way; an automatic rollback keeps its reason
        // ("update rolled back due to … task X") so inspect still says why.
        "rollback_started" if status.message == "manually requested rollback" => {
            ("rollback_completed", "rollback completed")
        }
        "rollback_started" => ("rollback_completed", status.message.as_str()),
        _ => return,
    };
    if plan
        .actions
        .iter()
        .any(|a| matches!(a, Action::Create(_) | Action::SetDesired { .. }))
    {
        return;
    }
    let live: Vec<&&Task> = tasks.iter().filter(|t| is_live(t)).collect();
    let done = replicas.is_none_or(|r| live.len() == r)
        && live.iter().all(|t| {
            t.spec_version == service.spec_version && t.status.state == TaskState::Running
        });
    if !done {
        return;
    }
    let monitor = UpdateCfg::of(service).monitor;
    let settled = live
        .iter()
        .filter_map(|t| changed_at(t))
        .max()
        .map(|last| last + monitor);
    if let Some(at) = settled.filter(|at| *at > now) {
        plan.wake(at);
        return;
    }
    plan.actions
        .push(Action::SetUpdateStatus(Box::new(StatusChange {
            service_id: service.id.clone(),
            spec_version: service.spec_version,
            state: state.into(),
            message: message.into(),
            rollback: false,
        })));
}
