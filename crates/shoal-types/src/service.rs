//! Service: what the user asked to run. The spec is the Engine API's `ServiceSpec` itself
//! (bollard's generated model, which serialises to Docker's exact JSON), so every field a
//! client sends survives a round trip even before shoal acts on it.

use serde::{Deserialize, Serialize};

pub use bollard_stubs::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, Mount, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecModeReplicatedJob, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecPlacement,
    TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};

use crate::meta::{Meta, Version};

/// `Endpoint`: the ports and virtual IPs the service actually got.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceEndpoint {
    #[serde(default)]
    pub spec: EndpointSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPortConfig>,
    #[serde(default, rename = "VirtualIPs", skip_serializing_if = "Vec::is_empty")]
    pub virtual_ips: Vec<VirtualIp>,
}

/// One of `Endpoint.VirtualIPs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VirtualIp {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    pub addr: String,
}

/// `UpdateStatus` of a rolling update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStatus {
    pub state: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub started_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub completed_at: String,
    #[serde(default)]
    pub message: String,
    /// The update was resumed after a pause (internal): a canary gate
    /// (`shoal.update.pause-after`) that paused it does not pause it again.
    #[serde(rename = "ShoalResumed", default, skip_serializing_if = "is_false")]
    pub resumed: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `ServiceStatus`, filled only when `GET /services?status=true` asks for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceStatus {
    pub running_tasks: u64,
    pub desired_tasks: u64,
    pub completed_tasks: u64,
}

/// `JobStatus` of a job-mode service: which execution of the job is current. Every update of
/// the service starts a new one (swarmkit: 0 at create, one more on each update); tasks carry
/// the iteration they were made for, so clients and the orchestrator tell executions apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobStatus {
    #[serde(default)]
    pub job_iteration: Version,
    /// When the current execution started (RFC 3339).
    #[serde(default)]
    pub last_execution: String,
}

/// The replication mode of a service, read from its spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Replicated {
        replicas: u64,
    },
    Global,
    ReplicatedJob {
        max_concurrent: u64,
        total_completions: u64,
    },
    GlobalJob,
}

/// A service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Service {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(flatten)]
    pub meta: Meta,
    pub spec: ServiceSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_spec: Option<ServiceSpec>,
    #[serde(default)]
    pub endpoint: ServiceEndpoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_status: Option<UpdateStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_status: Option<ServiceStatus>,
    /// Set for job modes only (absent on replicated and global services, as in Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<JobStatus>,
    /// Bumped when the task template or endpoint changes (internal); tasks remember the one
    /// they were made from, and are out of date when it differs.
    #[serde(
        rename = "ShoalSpecVersion",
        default,
        skip_serializing_if = "crate::task::is_zero"
    )]
    pub spec_version: u64,
}

impl Service {
    /// The service's name (`Spec.Name`).
    pub fn name(&self) -> &str {
        self.spec.name.as_deref().unwrap_or_default()
    }

    /// The mode, with Docker's defaults (replicated, 1 replica).
    pub fn mode(&self) -> Mode {
        let Some(m) = &self.spec.mode else {
            return Mode::Replicated { replicas: 1 };
        };
        if m.global.is_some() {
            Mode::Global
        } else if m.global_job.is_some() {
            Mode::GlobalJob
        } else if let Some(j) = &m.replicated_job {
            let total = j.total_completions.unwrap_or(1).max(0) as u64;
            Mode::ReplicatedJob {
                max_concurrent: j.max_concurrent.map_or(total, |v| v.max(0) as u64),
                total_completions: total,
            }
        } else {
            let replicas = m.replicated.as_ref().and_then(|r| r.replicas).unwrap_or(1);
            Mode::Replicated {
                replicas: replicas.max(0) as u64,
            }
        }
    }

    /// The current job iteration (0 when the service has no `JobStatus`).
    pub fn job_iteration(&self) -> u64 {
        self.job_status
            .as_ref()
            .map_or(0, |j| j.job_iteration.index)
    }

    /// The task template (empty when the spec has none).
    pub fn task_spec(&self) -> TaskSpec {
        self.spec.task_template.clone().unwrap_or_default()
    }

    /// The service as the API shows it (internal fields removed).
    pub fn to_api(&self) -> Service {
        Service {
            spec_version: 0,
            ..self.clone()
        }
    }
}
