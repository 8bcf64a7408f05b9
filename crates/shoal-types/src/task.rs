//! Task: one scheduled instance of a service, as `GET /tasks` shows it.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::meta::Meta;
use crate::service::{EndpointPortConfig, TaskSpec};

/// Task states as swarmkit orders them; they only move forward.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    #[default]
    New,
    Pending,
    Assigned,
    Accepted,
    Preparing,
    Ready,
    Starting,
    Running,
    Complete,
    Shutdown,
    Failed,
    Rejected,
    Remove,
    Orphaned,
}

impl TaskState {
    /// The lowercase name the Engine API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::New => "new",
            TaskState::Pending => "pending",
            TaskState::Assigned => "assigned",
            TaskState::Accepted => "accepted",
            TaskState::Preparing => "preparing",
            TaskState::Ready => "ready",
            TaskState::Starting => "starting",
            TaskState::Running => "running",
            TaskState::Complete => "complete",
            TaskState::Shutdown => "shutdown",
            TaskState::Failed => "failed",
            TaskState::Rejected => "rejected",
            TaskState::Remove => "remove",
            TaskState::Orphaned => "orphaned",
        }
    }
}

/// `Status.ContainerStatus`: what the runtime reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerStatus {
    #[serde(
        rename = "ContainerID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub container_id: String,
    #[serde(rename = "PID", default, skip_serializing_if = "is_zero_i64")]
    pub pid: i64,
    #[serde(default)]
    pub exit_code: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskStatus {
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub state: TaskState,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub err: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_status: Option<ContainerStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_status: Option<PortStatus>,
}

/// `Status.PortStatus`: host-mode ports the task published.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPortConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(flatten)]
    pub meta: Meta,
    #[serde(default, deserialize_with = "crate::validate::null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub spec: TaskSpec,
    #[serde(rename = "ServiceID", default)]
    pub service_id: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub slot: u64,
    #[serde(rename = "NodeID", default, skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    #[serde(default)]
    pub status: TaskStatus,
    #[serde(default)]
    pub desired_state: TaskState,
    /// For job-mode services, the service's `JobStatus.JobIteration` when the task was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_iteration: Option<crate::meta::Version>,
    /// The service's spec version this task was made from (internal).
    #[serde(rename = "ShoalSpecVersion", default, skip_serializing_if = "is_zero")]
    pub spec_version: u64,
    /// When the task first reported RUNNING (its status timestamp then; internal): the updater
    /// counts a task that fails within the update's monitor period of this as a failure of
    /// the update. Empty when it never ran.
    #[serde(
        rename = "ShoalRunningAt",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub running_at: String,
    /// The ports the service publishes, copied when the task is made (swarmkit's
    /// `Task.Endpoint`; internal: the agent reads it, the API does not show it).
    #[serde(
        rename = "ShoalEndpoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub endpoint: Option<crate::service::ServiceEndpoint>,
    /// The overlay networks the task is attached to, with its address on each.
    #[serde(
        rename = "NetworksAttachments",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub networks: Vec<crate::network::NetworkAttachment>,
    /// The service's name when the task was made, for container names and logs (internal).
    #[serde(
        rename = "ShoalServiceName",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub service_name: String,
    /// The secret and config files the task mounts, with their data, added by the dispatcher
    /// only to what it sends the node that runs the task: never in the store, the API, or
    /// anything an agent writes to disk.
    #[serde(rename = "ShoalFiles", default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<TaskFile>,
}

/// Whether a task file is a secret or a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Secret,
    Config,
}

/// One secret or config as a task sees it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskFile {
    pub kind: FileKind,
    /// The secret's or config's name.
    pub name: String,
    /// Where the task finds it: a relative target of a secret is under `/run/secrets/`, of a
    /// config under `/` (Docker's rules).
    pub path: String,
    pub uid: String,
    pub gid: String,
    pub mode: u32,
    /// The content, base64.
    pub data: String,
}

impl std::fmt::Debug for TaskFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskFile")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl TaskFile {
    /// Where a reference's `target` ends up for `kind`.
    pub fn path_for(kind: FileKind, target: &str) -> String {
        match (kind, target.starts_with('/')) {
            (_, true) => target.to_string(),
            (FileKind::Secret, false) => format!("/run/secrets/{target}"),
            (FileKind::Config, false) => format!("/{target}"),
        }
    }
}

impl Task {
    /// The job iteration this task belongs to; a task stored before tasks carried one counts
    /// as iteration 0, the iteration of a service stored without a `JobStatus`.
    pub fn job_iteration(&self) -> u64 {
        self.job_iteration.map_or(0, |v| v.index)
    }

    /// The task without its files' data (what an agent may keep on disk).
    pub fn without_files(&self) -> Task {
        Task {
            files: Vec::new(),
            ..self.clone()
        }
    }

    /// The task as the API shows it (internal fields removed).
    pub fn to_api(&self) -> Task {
        Task {
            files: Vec::new(),
            spec_version: 0,
            service_name: String::new(),
            ..self.clone()
        }
    }

    /// `<service>.<slot>.<task id>` (global tasks: the node ID instead of the slot), the
    /// name swarmkit gives containers.
    pub fn container_name(&self) -> String {
        if self.slot > 0 {
            format!("{}.{}.{}", self.service_name, self.slot, self.id)
        } else {
            format!("{}.{}.{}", self.service_name, self.node_id, self.id)
        }
    }
}

pub(crate) fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
