//! The orchestrator loop: replicated and global plans per service, plus the reaper, committed
//! as one transaction per pass.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use shoal_orchestrator::{
    Action, Context, Plan, StatusChange, plan_global, plan_global_job, plan_reaper,
    plan_replicated, plan_replicated_job,
};
use shoal_store::{Store, StoreError, WriteTx};
use shoal_types::{Cluster, Kind, Mode, Node, Service, Task, TaskSpec, TaskState};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{wait_for_change, wait_leadership};
use crate::control::service::endpoint_for;
use crate::ipam::{self, Ipam};

/// A task that got no address: made REJECTED with the reason, so the restart policy tries
/// again later (with its delay) instead of the loop retrying at once.
fn reject_unallocated(t: &mut Task, error: &str) {
    warn!(task.id = %t.id, %error, "no address for the task");
    t.status.state = TaskState::Rejected;
    t.status.err = error.to_string();
    t.status.message = "allocation failed".into();
    t.desired_state = TaskState::Shutdown;
}

/// Runs until `shutdown`, acting only while this manager leads.
pub async fn orchestrate(store: Store, shutdown: CancellationToken) {
    loop {
        if !wait_leadership(&store, &shutdown).await {
            return;
        }
        let (plan, mut events) = store.view_and_watch(|v| {
            let mut plan = plan_vips(&v.list::<Service>());
            let history = v
                .list::<Cluster>()
                .first()
                .map_or(5, |c| c.spec.orchestration.task_history_retention_limit);
            let tasks = plan_all(
                &v.list::<Service>(),
                &v.list::<Task>(),
                &v.list::<Node>(),
                history,
                SystemTime::now(),
            );
            plan.actions.extend(tasks.actions);
            plan.wake_at = tasks.wake_at;
            plan
        });
        if !plan.actions.is_empty() {
            debug!(actions = plan.actions.len(), "orchestrator pass");
            if let Err(e) = store.update(|tx| commit(tx, &plan.actions)).await {
                warn!(error = %e, "orchestrator commit failed; retrying on the next pass");
            }
            continue; // look again at once: the commit may enable the next step
        }
        if !wait_for_change(&mut events, plan.wake_at, &shutdown).await {
            return;
        }
    }
}

/// The service with its update's new status; an automatic rollback also returns it to its
/// previous spec (swarmkit's `rollbackUpdate`: the previous spec is used up).
fn with_status(mut s: Service, change: &StatusChange) -> Service {
    let now = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
    if change.rollback
        && let Some(previous) = s.previous_spec.take()
    {
        s.spec = previous;
        s.spec_version += 1;
        s.endpoint = endpoint_for(&s.spec, Some(&s.endpoint));
    }
    let status = s.update_status.get_or_insert_with(Default::default);
    status.state = change.state.clone();
    status.message = change.message.clone();
    if change.state.ends_with("completed") {
        status.completed_at = now;
    } else if change.rollback {
        // A rollback is a new rollout: failures count from now.
        status.started_at = now;
        status.completed_at.clear();
        status.resumed = false;
    }
    s
}

/// Whether a node satisfies a task spec's placement constraints.
fn constraints_ok(node: &Node, spec: &TaskSpec) -> bool {
    let exprs = spec
        .placement
        .as_ref()
        .and_then(|p| p.constraints.clone())
        .unwrap_or_default();
    match shoal_scheduler::parse_constraints(&exprs) {
        Ok(cs) => cs.iter().all(|c| c.matches(node)),
        Err(_) => true, // the API refuses bad constraints; a stored one never fails here
    }
}

/// One pass over everything.
pub fn plan_all(
    services: &[Service],
    tasks: &[Task],
    nodes: &[Node],
    history: i64,
    now: SystemTime,
) -> Plan {
    let mut by_service: BTreeMap<&str, Vec<Task>> = BTreeMap::new();
    for t in tasks {
        by_service
            .entry(t.service_id.as_str())
            .or_default()
            .push(t.clone());
    }
    let ctx = Context {
        now,
        nodes,
        constraints_ok: &constraints_ok,
    };
    let mut plan = Plan::default();
    for s in services {
        let own = by_service.get(s.id.as_str()).map_or(&[][..], Vec::as_slice);
        let p = match s.mode() {
            Mode::Global => plan_global(s, own, &ctx),
            Mode::Replicated { .. } => plan_replicated(s, own, &ctx),
            Mode::ReplicatedJob { .. } => plan_replicated_job(s, own, &ctx),
            Mode::GlobalJob => plan_global_job(s, own, &ctx),
        };
        plan.actions.extend(p.actions);
        if let Some(at) = p.wake_at {
            plan.wake_at = Some(plan.wake_at.map_or(at, |w: SystemTime| w.min(at)));
        }
    }
    let ids: BTreeSet<String> = services.iter().map(|s| s.id.clone()).collect();
    plan.actions
        .extend(plan_reaper(tasks, &ids, history).actions);
    plan
}

/// Services whose VIPs no longer match their networks (new, or attached differently): the
/// pass gives them their VIPs before any of their tasks is made.
fn plan_vips(services: &[Service]) -> Plan {
    let actions = services
        .iter()
        .filter(|s| ipam::vips_stale(s))
        .map(|s| Action::SetVips {
            service_id: s.id.clone(),
        })
        .collect();
    Plan {
        actions,
        wake_at: None,
    }
}

/// Applies a plan's actions on the latest state.
fn commit(tx: &mut WriteTx<'_>, actions: &[Action]) -> Result<(), StoreError> {
    // Loaded once, at the first action that allocates addresses.
    let mut ipam: Option<Ipam> = None;
    for a in actions {
        match a {
            Action::Create(t) => {
                let mut t = (**t).clone();
                if t.spec.networks.as_ref().is_some_and(|n| !n.is_empty()) {
                    let ipam = ipam.get_or_insert_with(|| Ipam::load(tx.committed()));
                    match ipam.attach(&t) {
                        Ok(networks) => t.networks = networks,
                        Err(e) => reject_unallocated(&mut t, &e),
                    }
                }
                tx.create(t)?
            }
            Action::SetVips { service_id } => {
                if let Some(mut s) = tx.get::<Service>(service_id).filter(ipam::vips_stale) {
                    let ipam = ipam.get_or_insert_with(|| Ipam::load(tx.committed()));
                    ipam.set_vips(&mut s);
                    tx.update(s)?;
                }
            }
            Action::SetDesired { task_id, state } => {
                if let Some(mut t) = tx.get::<Task>(task_id).filter(|t| t.desired_state < *state) {
                    t.desired_state = *state;
                    tx.update(t)?;
                }
            }
            Action::Reject { task_id, message } => {
                if let Some(mut t) = tx
                    .get::<Task>(task_id)
                    .filter(|t| t.desired_state < TaskState::Shutdown)
                {
                    t.desired_state = TaskState::Shutdown;
                    t.status.err = message.clone();
                    tx.update(t)?;
                }
            }
            Action::Delete { task_id } => {
                if tx.get::<Task>(task_id).is_some() {
                    tx.delete(Kind::Task, task_id)?;
                }
            }
            Action::SetUpdateStatus(change) => {
                if let Some(s) = tx.get::<Service>(&change.service_id)
                    && s.spec_version == change.spec_version
                {
                    let mut s = with_status(s, change);
                    // A port the spec rolled back to leaves unpublished gets one again.
                    if crate::control::assign_ports(&mut s.endpoint, &tx.list::<Service>(), &s.id)
                        .is_err()
                    {
                        warn!(service.id = %s.id, "no free port for the rolled-back spec");
                    }
                    tx.update(s)?;
                }
            }
        }
    }
    Ok(())
}
