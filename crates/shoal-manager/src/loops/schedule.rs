//! The scheduler loop: PENDING tasks get a node (ASSIGNED, "scheduler assigned task to node")
//! or stay PENDING with the scheduler's explanation in `Status.Err`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use shoal_scheduler::{ClusterView, Requirements, TaskToPlace, host_mode_ports};
use shoal_store::{Store, StoreError};
use shoal_types::{Node, Service, Task, TaskState};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{wait_for_change, wait_leadership};

/// swarmkit counts a service's failures on a node over the last 5 minutes.
const FAILURE_WINDOW: Duration = Duration::from_secs(300);

/// Runs until `shutdown`, acting only while this manager leads.
pub async fn schedule(store: Store, shutdown: CancellationToken) {
    loop {
        if !wait_leadership(&store, &shutdown).await {
            return;
        }
        let (decisions, mut events) = store.view_and_watch(|v| {
            plan(
                &v.list::<Node>(),
                &v.list::<Service>(),
                &v.list::<Task>(),
                SystemTime::now(),
            )
        });
        if !decisions.is_empty() {
            debug!(tasks = decisions.len(), "scheduler pass");
            match store.update(|tx| commit(tx, &decisions)).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    warn!(error = %e, "scheduler commit failed; retrying");
                    continue;
                }
            }
        }
        if !wait_for_change(&mut events, None, &shutdown).await {
            return;
        }
    }
}

/// A decision for one pending task.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Assign { task_id: String, node_id: String },
    Unschedulable { task_id: String, err: String },
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// Builds the view and places every pending task.
pub fn plan(
    nodes: &[Node],
    services: &[Service],
    tasks: &[Task],
    now: SystemTime,
) -> Vec<Decision> {
    let pending: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.status.state == TaskState::Pending && t.desired_state <= TaskState::Running)
        .collect();
    if pending.is_empty() {
        return Vec::new();
    }
    let by_id: HashMap<&str, &Service> = services.iter().map(|s| (s.id.as_str(), s)).collect();
    let ports: HashMap<String, Vec<shoal_scheduler::HostPort>> = services
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                s.spec
                    .endpoint_spec
                    .as_ref()
                    .map(host_mode_ports)
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut view = ClusterView::build(nodes, tasks, &ports, &recent_failures(tasks, now));
    let mut reqs: HashMap<(&str, u64), Arc<Requirements>> = HashMap::new();
    let to_place: Vec<TaskToPlace> = pending
        .iter()
        .map(|t| {
            let endpoint = by_id
                .get(t.service_id.as_str())
                .and_then(|s| s.spec.endpoint_spec.as_ref());
            let requirements = reqs
                .entry((t.service_id.as_str(), t.spec_version))
                .or_insert_with(|| Arc::new(Requirements::new(&t.spec, endpoint)))
                .clone();
            TaskToPlace {
                task_id: t.id.clone(),
                service_id: t.service_id.clone(),
                requirements,
                preassigned_node: (!t.node_id.is_empty()).then(|| t.node_id.clone()),
            }
        })
        .collect();
    let result = shoal_scheduler::schedule(&mut view, &to_place);
    let mut out: Vec<Decision> = result
        .assigned
        .into_iter()
        .map(|(task_id, node_id)| Decision::Assign { task_id, node_id })
        .collect();
    let current: HashMap<&str, &str> = pending
        .iter()
        .map(|t| (t.id.as_str(), t.status.err.as_str()))
        .collect();
    out.extend(
        result
            .unassigned
            .into_iter()
            .filter(|(id, err)| current.get(id.as_str()) != Some(&err.as_str()))
            .map(|(task_id, err)| Decision::Unschedulable { task_id, err }),
    );
    out
}

/// Failures per (node, service) in the last five minutes.
fn recent_failures(tasks: &[Task], now: SystemTime) -> HashMap<(String, String), u32> {
    let mut out = HashMap::new();
    for t in tasks
        .iter()
        .filter(|t| t.status.state == TaskState::Failed && !t.node_id.is_empty())
    {
        let at =
            humantime::parse_rfc3339_weak(&t.status.timestamp).unwrap_or(SystemTime::UNIX_EPOCH);
        if now
            .duration_since(at)
            .is_ok_and(|age| age <= FAILURE_WINDOW)
        {
            *out.entry((t.node_id.clone(), t.service_id.clone()))
                .or_default() += 1;
        }
    }
    out
}

/// Applies decisions to tasks that are still pending; true when anything changed.
fn commit(tx: &mut shoal_store::WriteTx<'_>, decisions: &[Decision]) -> Result<bool, StoreError> {
    let mut changed = false;
    let now = rfc3339(SystemTime::now());
    for d in decisions {
        let id = match d {
            Decision::Assign { task_id, .. } | Decision::Unschedulable { task_id, .. } => task_id,
        };
        let Some(mut t) = tx
            .get::<Task>(id)
            .filter(|t| t.status.state == TaskState::Pending)
        else {
            continue;
        };
        match d {
            Decision::Assign { node_id, .. } => {
                let preassigned = t.node_id == *node_id;
                t.node_id = node_id.clone();
                t.status.state = TaskState::Assigned;
                t.status.err = String::new();
                t.status.message = if preassigned {
                    "scheduler confirmed task can run on preassigned node".into()
                } else {
                    "scheduler assigned task to node".into()
                };
            }
            Decision::Unschedulable { err, .. } => t.status.err = err.clone(),
        }
        t.status.timestamp = now.clone();
        tx.update(t)?;
        changed = true;
    }
    Ok(changed)
}
