//! What a plan asks the manager to do, and what a plan may look at.

use std::time::{Duration, SystemTime};

use shoal_types::{Node, Service, Task, TaskSpec, TaskState, TaskStatus};

/// One change to commit.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A new task (already PENDING, or ASSIGNED to its node for global services).
    Create(Box<Task>),
    /// Move a task's desired state forward (never backward), with a reason for the logs.
    SetDesired { task_id: String, state: TaskState },
    /// Mark an assigned task as no longer wanted where it is (swarmkit's constraint enforcer
    /// rejects such tasks with a message).
    Reject { task_id: String, message: String },
    /// Remove a task from the store (reaper).
    Delete { task_id: String },
    /// The service's rolling update changes state (completed, paused, rolled back…).
    SetUpdateStatus(Box<StatusChange>),
    /// Give the service a VIP on each network it attaches to (the manager's IPAM; planned
    /// there, not by this crate's plans).
    SetVips { service_id: String },
}

/// A new `UpdateStatus` for a service, applied only if the service is still at the spec
/// version the plan saw (a user's update in between wins).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub service_id: String,
    pub spec_version: u64,
    /// `completed`, `paused`, `rollback_started`, `rollback_paused`, `rollback_completed`.
    pub state: String,
    /// swarmkit's text, e.g. "update paused due to failure or early termination of task X".
    pub message: String,
    /// Also return the service to its `PreviousSpec` (an automatic rollback).
    pub rollback: bool,
}

/// The outcome of a pass: actions now, and when to look again if nothing else happens
/// (a restart delay running out).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub wake_at: Option<SystemTime>,
}

impl Plan {
    pub(crate) fn wake(&mut self, at: SystemTime) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }
}

/// What every plan may consult.
pub struct Context<'a> {
    pub now: SystemTime,
    pub nodes: &'a [Node],
    /// Whether a node satisfies a task's placement constraints (the scheduler's rules).
    pub constraints_ok: &'a dyn Fn(&Node, &TaskSpec) -> bool,
}

impl Context<'_> {
    pub(crate) fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// Parses a status timestamp (RFC 3339); unreadable ones count as "long ago".
pub(crate) fn parse_time(s: &str) -> SystemTime {
    humantime::parse_rfc3339_weak(s).unwrap_or(SystemTime::UNIX_EPOCH)
}

/// A new task for `service` in `slot` (replicated) or on `node_id` (global), as swarmkit's
/// `orchestrator.NewTask` makes it: desired RUNNING, waiting for the scheduler.
pub fn new_task(service: &Service, slot: u64, node_id: Option<&str>, now: SystemTime) -> Task {
    Task {
        id: shoal_types::new_id(),
        labels: service
            .spec
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        spec: service.task_spec(),
        service_id: service.id.clone(),
        slot,
        node_id: node_id.unwrap_or_default().to_string(),
        status: TaskStatus {
            timestamp: rfc3339(now),
            state: TaskState::Pending,
            message: "pending task scheduling".into(),
            ..Default::default()
        },
        desired_state: TaskState::Running,
        spec_version: service.spec_version,
        service_name: service.name().to_string(),
        endpoint: (!service.endpoint.ports.is_empty()).then(|| service.endpoint.clone()),
        ..Default::default()
    }
}

/// Adds a duration to a time, saturating.
pub(crate) fn after(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d).unwrap_or(t)
}
