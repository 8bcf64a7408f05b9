//! Judges a rolling update before the updater replaces more tasks, as swarmkit's updater
//! does while it runs:
//! - new tasks that ended within the monitor period of starting (or never ran) are failures;
//!   once their share of the slots passes `MaxFailureRatio`, the failure action fires:
//!   `pause`, `continue`, or `rollback` to `PreviousSpec` (a rollback is never rolled back: it
//!   pauses instead), with swarmkit's status texts;
//! - a paused update moves no further until the service is updated again (the control API
//!   resumes it);
//! - beyond Swarm, a canary gate: the label `shoal.update.pause-after=N` pauses the update once
//!   N slots run the new spec, until `service update --continue` or `service rollback`.
//!
//! Stateless: failures are read from the tasks themselves (`running_at`, the status
//! timestamp) and counted from the status's `StartedAt`, so a leader change or a resume starts
//! no count twice.

use shoal_types::service::UpdateStatus;
use shoal_types::{Service, Task, TaskState};

use crate::action::{Action, Plan, StatusChange, parse_time};
use crate::slots::is_live;
use crate::update::{FailureAction, UpdateCfg, rolling_back};

/// The service label holding the canary gate's slot count.
pub const PAUSE_AFTER_LABEL: &str = "shoal.update.pause-after";

/// What the updater may do this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Nothing: the update is paused, or was just paused or rolled back.
    Stop,
    /// Replace at most this many more slots (beyond what the update config allows anyway).
    Go(usize),
}

/// Judges the update of `service` over its `tasks`, covering `slots` slots (replicas, or the
/// nodes of a global service). Status changes it decides are pushed to `plan`.
pub(crate) fn judge(service: &Service, tasks: &[&Task], slots: usize, plan: &mut Plan) -> Gate {
    let Some(status) = service.update_status.as_ref() else {
        return Gate::Go(usize::MAX);
    };
    match status.state.as_str() {
        "paused" | "rollback_paused" => return Gate::Stop,
        "updating" | "rollback_started" => {}
        _ => return Gate::Go(usize::MAX),
    }
    let cfg = UpdateCfg::of(service);
    let failed = failures(service, tasks, status, &cfg);
    let ratio = failed.len() as f64 / slots.max(1) as f64;
    if let Some(last) = failed.last().filter(|_| ratio > cfg.max_failure_ratio)
        && let Some(change) = failure_action(service, &cfg, &last.id)
    {
        plan.actions.push(Action::SetUpdateStatus(Box::new(change)));
        return Gate::Stop;
    }
    if rolling_back(service) || status.resumed {
        return Gate::Go(usize::MAX);
    }
    canary(service, tasks, slots, plan)
}

/// New tasks of this update that ended early, oldest first.
fn failures<'a>(
    service: &Service,
    tasks: &[&'a Task],
    status: &UpdateStatus,
    cfg: &UpdateCfg,
) -> Vec<&'a Task> {
    let since = parse_time(&status.started_at);
    let mut failed: Vec<&Task> = tasks
        .iter()
        .copied()
        .filter(|t| t.spec_version == service.spec_version)
        // Shut down by the orchestrator is not a failure; exiting (even with 0) is.
        .filter(|t| {
            matches!(
                t.status.state,
                TaskState::Complete | TaskState::Failed | TaskState::Rejected
            )
        })
        .filter(|t| {
            let ended = parse_time(&t.status.timestamp);
            let within = t.running_at.is_empty()
                || ended
                    .duration_since(parse_time(&t.running_at))
                    .is_ok_and(|ran| ran <= cfg.monitor);
            ended >= since && within
        })
        .collect();
    failed.sort_by_key(|t| parse_time(&t.status.timestamp));
    failed
}

/// The status change the failure action makes, or `None` for `continue`.
fn failure_action(service: &Service, cfg: &UpdateCfg, task_id: &str) -> Option<StatusChange> {
    let change = |state: &str, message: String, rollback: bool| StatusChange {
        service_id: service.id.clone(),
        spec_version: service.spec_version,
        state: state.into(),
        message,
        rollback,
    };
    let why = format!("due to failure or early termination of task {task_id}");
    match cfg.failure_action {
        FailureAction::Continue => None,
        _ if rolling_back(service) => Some(change(
            "rollback_paused",
            format!("rollback paused {why}"),
            false,
        )),
        FailureAction::Pause => Some(change("paused", format!("update paused {why}"), false)),
        FailureAction::Rollback if service.previous_spec.is_none() => Some(change(
            "paused",
            "update paused: cannot roll back service because no previous spec is available".into(),
            false,
        )),
        FailureAction::Rollback => Some(change(
            "rollback_started",
            format!("update rolled back {why}"),
            true,
        )),
    }
}

/// The canary gate: how many more slots may be updated, or a pause once the gate's slots run
/// the new spec while old ones remain.
fn canary(service: &Service, tasks: &[&Task], slots: usize, plan: &mut Plan) -> Gate {
    let Some(n) = pause_after(service) else {
        return Gate::Go(usize::MAX);
    };
    let live: Vec<&Task> = tasks.iter().copied().filter(|t| is_live(t)).collect();
    let current = |t: &&Task| t.spec_version == service.spec_version;
    let mut updated: Vec<u64> = live.iter().filter(|t| current(t)).map(|t| t.slot).collect();
    updated.sort_unstable();
    updated.dedup();
    // Global services have no slots: count their new tasks.
    let done = if service.mode() == shoal_types::Mode::Global {
        live.iter().filter(|t| current(t)).count()
    } else {
        updated.len()
    };
    if done < n {
        return Gate::Go(n - done);
    }
    let old_left = live.iter().any(|t| !current(t));
    let all_running = live
        .iter()
        .filter(|t| current(t))
        .all(|t| t.status.state == TaskState::Running);
    if old_left && all_running {
        plan.actions
            .push(Action::SetUpdateStatus(Box::new(StatusChange {
                service_id: service.id.clone(),
                spec_version: service.spec_version,
                state: "paused".into(),
                message: format!(
                    "update paused after {done} of {slots} tasks ({PAUSE_AFTER_LABEL}={n}): \
                     `service update --continue` resumes it, `service rollback` returns"
                ),
                rollback: false,
            })));
        return Gate::Stop;
    }
    Gate::Go(0)
}

/// The canary gate's slot count, when the service has a valid one.
fn pause_after(service: &Service) -> Option<usize> {
    let labels = service.spec.labels.as_ref()?;
    let n: usize = labels.get(PAUSE_AFTER_LABEL)?.trim().parse().ok()?;
    (n > 0).then_some(n)
}
