//! `POST /services/create`, `GET /services`, `GET /services/{id}`,
//! `POST /services/{id}/update`, `DELETE /services/{id}`: validation with Docker's texts, then
//! one store transaction. Tasks are the orchestrator's business: removing a service deletes
//! only the Service object, and the orchestrator stops its tasks when it sees the deletion.

use std::time::SystemTime;

use shoal_store::StoreError;
use shoal_types::service::{
    EndpointPortConfig, JobStatus, ServiceEndpoint, ServiceSpec, ServiceStatus, UpdateStatus,
};
use shoal_types::{Error, Filters, Kind, Mode, Service, Task, TaskState, Version};

use super::lookup::resolve;
use super::service_validate::{self as rules, rpc};
use super::swarm::store_err;
use crate::manager::Manager;

/// Filter keys `GET /services` accepts (moby's `GetServices`).
const SERVICE_FILTERS: &[&str] = &["id", "label", "mode", "name", "runtime"];

/// What an update asks for besides the new spec (`?rollback=previous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rollback {
    #[default]
    None,
    /// Go back to `PreviousSpec` (the request's spec is validated, then ignored).
    Previous,
}

impl Manager {
    /// `POST /services/create`: the new service's ID.
    pub async fn create_service(&self, mut spec: ServiceSpec) -> Result<String, Error> {
        rules::prepare(&mut spec)?;
        rules::validate(&spec)?;
        let name = spec.name.clone().unwrap_or_default();
        let service = Service {
            id: shoal_types::new_id(),
            endpoint: endpoint_for(&spec, None),
            job_status: is_job(&spec).then(|| JobStatus {
                job_iteration: Version { index: 0 },
                last_execution: now_rfc3339(),
            }),
            spec,
            spec_version: 1,
            ..Default::default()
        };
        let id = service.id.clone();
        let name_taken = || {
            rpc(
                "AlreadyExists",
                format!("name conflicts with an existing object: service {name} already exists"),
            )
        };
        self.store
            .update(|tx| {
                let mut service = service;
                let all = tx.list::<Service>();
                check_port_conflicts(&all, &service.spec, "")?;
                super::port_alloc::assign(&mut service.endpoint, &all, "")?;
                super::blob::check_references(tx.committed(), &service.spec)?;
                super::network::resolve_service_networks(tx.committed(), &mut service.spec)?;
                tx.create(service).map_err(TxError::Store)
            })
            .await
            .map_err(|e| match e {
                TxError::Store(StoreError::NameConflict) => name_taken(),
                e => e.into_api(),
            })?;
        Ok(id)
    }

    /// `GET /services/{id}[?insertDefaults=true]`: by ID, name or unique ID prefix.
    pub fn get_service(&self, input: &str, insert_defaults: bool) -> Result<Service, Error> {
        let service = self
            .store
            .view(|v| resolve::<Service>(v, input, |s| s.name()))?;
        let mut out = service.to_api();
        if insert_defaults {
            out.spec = with_defaults(out.spec);
        }
        Ok(out)
    }

    /// `GET /services` with filters; `status` adds `ServiceStatus` (running/desired tasks).
    pub fn list_services(&self, filters: &Filters, status: bool) -> Result<Vec<Service>, Error> {
        filters.validate(SERVICE_FILTERS)?;
        let (services, tasks) = self
            .store
            .view(|v| (v.list::<Service>(), status.then(|| v.list::<Task>())));
        Ok(services
            .into_iter()
            .filter(|s| service_matches(s, filters))
            .map(|s| {
                let mut out = s.to_api();
                if let Some(tasks) = &tasks {
                    out.service_status = Some(service_status(&s, tasks));
                }
                out
            })
            .collect())
    }

    /// `POST /services/{id}/update?version=N[&rollback=previous]`.
    pub async fn update_service(
        &self,
        input: &str,
        version: u64,
        mut spec: ServiceSpec,
        rollback: Rollback,
    ) -> Result<(), Error> {
        rules::prepare(&mut spec)?;
        rules::validate(&spec)?;
        self.store
            .update(|tx| {
                let current = resolve::<Service>(tx.committed(), input, |s| s.name())?;
                let services = tx.list::<Service>();
                // Names become IDs first, so a spec sent again with names is not a change.
                let mut spec = spec;
                super::network::resolve_service_networks(tx.committed(), &mut spec)?;
                let updated = apply_update(current, version, spec, rollback, &services)?;
                super::blob::check_references(tx.committed(), &updated.spec)?;
                tx.update(updated).map_err(TxError::Store)
            })
            .await
            .map_err(TxError::into_api)
    }

    /// `DELETE /services/{id}`.
    pub async fn remove_service(&self, input: &str) -> Result<(), Error> {
        self.store
            .update(|tx| {
                let service = resolve::<Service>(tx.committed(), input, |s| s.name())?;
                tx.delete(Kind::Service, &service.id)
                    .map_err(TxError::Store)
            })
            .await
            .map_err(TxError::into_api)
    }
}

/// swarmkit's `UpdateService` checks and bookkeeping on the service as read in the transaction.
fn apply_update(
    mut service: Service,
    version: u64,
    spec: ServiceSpec,
    rollback: Rollback,
    all: &[Service],
) -> Result<Service, Error> {
    if spec.endpoint_spec != service.spec.endpoint_spec {
        check_port_conflicts(all, &spec, &service.id)?;
    }
    if mode_kind(&service.spec) != mode_kind(&spec) {
        return Err(rpc("Unimplemented", "service mode change is not allowed"));
    }
    if service.spec.name != spec.name {
        return Err(rpc("Unimplemented", "renaming services is not supported"));
    }
    service.meta.version = Version { index: version };
    start_next_iteration(&mut service);
    let old = service.spec.clone();
    let was_paused = service
        .update_status
        .as_ref()
        .is_some_and(|u| u.state == "paused" || u.state == "rollback_paused");
    match rollback {
        Rollback::Previous => {
            let Some(previous) = service.previous_spec.take() else {
                return Err(rpc(
                    "FailedPrecondition",
                    format!("service {} does not have a previous spec", service.id),
                ));
            };
            service.spec = previous;
            service.previous_spec = Some(old.clone());
            service.update_status = Some(update_status(
                "rollback_started",
                "manually requested rollback",
            ));
        }
        Rollback::None => {
            service.previous_spec = Some(old.clone());
            service.spec = spec;
            // As swarmkit: any update clears the status; one with work to do starts anew.
            service.update_status = None;
            if was_paused {
                // swarmkit resumes a paused update with the next update of the service.
                let mut status = update_status("updating", "update resumed");
                status.resumed = true;
                service.update_status = Some(status);
            }
        }
    }
    // Tasks go out of date only when what they run changes (swarmkit's IsTaskDirty: the task
    // template and the endpoint), so scaling or relabelling a service replaces nothing.
    if service.spec.task_template != old.task_template
        || service.spec.endpoint_spec != old.endpoint_spec
    {
        service.spec_version += 1;
        // The orchestrator marks it completed once every slot runs the new spec. Jobs have
        // no rolling update (each update re-runs them), so swarmkit leaves theirs unset.
        if matches!(rollback, Rollback::None) && service.job_status.is_none() {
            service.update_status = Some(update_status("updating", "update in progress"));
        }
    }
    service.endpoint = endpoint_for(&service.spec, Some(&service.endpoint));
    super::port_alloc::assign(&mut service.endpoint, all, &service.id)?;
    Ok(service)
}

/// Whether a spec's mode is a job (`replicated-job` or `global-job`).
fn is_job(spec: &ServiceSpec) -> bool {
    spec.mode
        .as_ref()
        .is_some_and(|m| m.replicated_job.is_some() || m.global_job.is_some())
}

/// Every update of a job re-runs it (swarmkit's `UpdateService`: the iteration goes up by one
/// and the execution time is now), so `docker service update --force` runs it again. A job
/// stored without a `JobStatus` is at iteration 0 and moves on to 1.
fn start_next_iteration(service: &mut Service) {
    if !is_job(&service.spec) {
        return;
    }
    let next = service.job_iteration() + 1;
    service.job_status = Some(JobStatus {
        job_iteration: Version { index: next },
        last_execution: now_rfc3339(),
    });
}

/// A status that starts now.
fn update_status(state: &str, message: &str) -> UpdateStatus {
    UpdateStatus {
        state: state.into(),
        started_at: now_rfc3339(),
        message: message.into(),
        ..Default::default()
    }
}

/// The variant of a spec's mode, for swarmkit's "mode change" rule.
fn mode_kind(spec: &ServiceSpec) -> u8 {
    let m = spec.mode.clone().unwrap_or_default();
    if m.global.is_some() {
        1
    } else if m.replicated_job.is_some() {
        2
    } else if m.global_job.is_some() {
        3
    } else {
        0
    }
}

/// swarmkit's `checkPortConflicts`: a published port may be used by one service only as an
/// ingress port; host-mode ports may be shared (the scheduler keeps them apart per node).
fn check_port_conflicts(all: &[Service], spec: &ServiceSpec, self_id: &str) -> Result<(), Error> {
    let wanted: Vec<&EndpointPortConfig> = spec
        .endpoint_spec
        .iter()
        .flat_map(|e| e.ports.iter().flatten())
        .filter(|p| p.published_port.unwrap_or(0) != 0)
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let key = |p: &EndpointPortConfig| (p.published_port.unwrap_or(0), rules::protocol(p));
    for other in all.iter().filter(|s| s.id != self_id) {
        let spec_ports = other
            .spec
            .endpoint_spec
            .iter()
            .flat_map(|e| e.ports.iter().flatten());
        for p in spec_ports.chain(other.endpoint.ports.iter()) {
            if p.published_port.unwrap_or(0) == 0 {
                continue;
            }
            let clash = |host: Option<bool>| {
                wanted
                    .iter()
                    .any(|w| key(w) == key(p) && host.is_none_or(|h| rules::host_mode(w) == h))
            };
            let (text, hit) = if rules::host_mode(p) {
                ("a host-published port", clash(Some(false)))
            } else {
                ("an ingress port", clash(None))
            };
            if hit {
                return Err(rpc(
                    "InvalidArgument",
                    format!(
                        "port '{}' is already in use by service '{}' ({}) as {text}",
                        p.published_port.unwrap_or(0),
                        other.name(),
                        other.id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `Endpoint` as the manager keeps it: the spec, and its ports with the published ports the
/// swarm assigned before kept across updates (`port_alloc::assign` fills new ones).
pub(crate) fn endpoint_for(
    spec: &ServiceSpec,
    previous: Option<&ServiceEndpoint>,
) -> ServiceEndpoint {
    let ep_spec = spec.endpoint_spec.clone().unwrap_or_default();
    let ports = ep_spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            if p.published_port.unwrap_or(0) != 0 {
                return p.clone();
            }
            previous
                .into_iter()
                .flat_map(|e| e.ports.iter())
                .find(|old| {
                    old.published_port.unwrap_or(0) != 0
                        && old.target_port == p.target_port
                        && rules::protocol(old) == rules::protocol(p)
                        && rules::host_mode(old) == rules::host_mode(p)
                })
                .cloned()
                .unwrap_or_else(|| p.clone())
        })
        .collect();
    ServiceEndpoint {
        spec: ep_spec,
        ports,
        virtual_ips: previous.map(|p| p.virtual_ips.clone()).unwrap_or_default(),
    }
}

fn service_matches(s: &Service, f: &Filters) -> bool {
    let labels = s
        .spec
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    f.any("id", |v| s.id.starts_with(v))
        && f.any("name", |v| s.name().starts_with(v))
        && f.labels_match("label", &labels)
        && f.any("mode", |v| v == mode_name(s.mode()))
        && f.any("runtime", |v| v == "container")
}

/// The `mode` filter's names (moby's `GetServices`).
fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Replicated { .. } => "replicated",
        Mode::Global => "global",
        Mode::ReplicatedJob { .. } => "replicated-job",
        Mode::GlobalJob => "global-job",
    }
}

/// swarmkit's `ListServiceStatuses`: desired = replicas (replicated jobs: max concurrent;
/// global: tasks whose desired state is running, or complete and not yet there for jobs);
/// running = tasks in state running; completed (jobs) = tasks in state complete. A job counts
/// only tasks of its current iteration, so a re-run starts again from 0 completed.
pub(crate) fn service_status(s: &Service, all_tasks: &[Task]) -> ServiceStatus {
    let job = matches!(s.mode(), Mode::ReplicatedJob { .. } | Mode::GlobalJob);
    let tasks = all_tasks
        .iter()
        .filter(|t| t.service_id == s.id)
        .filter(|t| !job || t.job_iteration() == s.job_iteration());
    let mut st = ServiceStatus::default();
    let global = match s.mode() {
        Mode::Replicated { replicas } => {
            st.desired_tasks = replicas;
            false
        }
        Mode::ReplicatedJob { max_concurrent, .. } => {
            st.desired_tasks = max_concurrent;
            false
        }
        Mode::Global | Mode::GlobalJob => true,
    };
    for t in tasks {
        let state = t.status.state;
        if state == TaskState::Running {
            st.running_tasks += 1;
        }
        if job && state == TaskState::Complete {
            st.completed_tasks += 1;
        }
        if global && t.desired_state == TaskState::Running {
            st.desired_tasks += 1;
        }
        if global && state != TaskState::Complete && t.desired_state == TaskState::Complete {
            st.desired_tasks += 1;
        }
    }
    st
}

/// swarmkit's `defaults.InterpolateService`, as `?insertDefaults=true` shows it: restart
/// policy any/5 s, update and rollback configs (parallelism 1, pause, monitor 5 s,
/// stop-first), stop grace period 10 s, empty resources, placement and DNS config.
fn with_defaults(mut spec: ServiceSpec) -> ServiceSpec {
    use bollard_stubs::models::{
        ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum as RbAction,
        ServiceSpecRollbackConfigOrderEnum as RbOrder, ServiceSpecUpdateConfig,
        ServiceSpecUpdateConfigFailureActionEnum as UpAction,
        ServiceSpecUpdateConfigOrderEnum as UpOrder, TaskSpecContainerSpecDnsConfig,
        TaskSpecRestartPolicyConditionEnum as Cond,
    };
    use shoal_types::service::{TaskSpecPlacement, TaskSpecResources, TaskSpecRestartPolicy};
    const SECOND: i64 = 1_000_000_000;
    let task = spec.task_template.get_or_insert_with(Default::default);
    if let Some(c) = task.container_spec.as_mut() {
        c.stop_grace_period.get_or_insert(10 * SECOND);
        c.dns_config
            .get_or_insert_with(TaskSpecContainerSpecDnsConfig::default);
    }
    task.resources
        .get_or_insert_with(TaskSpecResources::default);
    let rp = task
        .restart_policy
        .get_or_insert_with(|| TaskSpecRestartPolicy {
            condition: Some(Cond::ANY),
            max_attempts: Some(0),
            ..Default::default()
        });
    rp.delay.get_or_insert(5 * SECOND);
    task.placement
        .get_or_insert_with(TaskSpecPlacement::default);
    let up = spec
        .update_config
        .get_or_insert_with(|| ServiceSpecUpdateConfig {
            parallelism: Some(1),
            failure_action: Some(UpAction::PAUSE),
            max_failure_ratio: Some(0.0),
            order: Some(UpOrder::STOP_FIRST),
            ..Default::default()
        });
    up.monitor.get_or_insert(5 * SECOND);
    let rb = spec
        .rollback_config
        .get_or_insert_with(|| ServiceSpecRollbackConfig {
            parallelism: Some(1),
            failure_action: Some(RbAction::PAUSE),
            max_failure_ratio: Some(0.0),
            order: Some(RbOrder::STOP_FIRST),
            ..Default::default()
        });
    rb.monitor.get_or_insert(5 * SECOND);
    spec
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}

/// Why a service transaction failed: a rule (already worded) or the store.
pub(crate) enum TxError {
    Api(Error),
    Store(StoreError),
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Api(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

impl TxError {
    /// Store errors worded as swarmkit's control API reports them through moby.
    pub(crate) fn into_api(self) -> Error {
        match self {
            TxError::Api(e) => e,
            // swarmkit's ErrSequenceConflict is a plain error: gRPC Unknown, HTTP 500.
            TxError::Store(StoreError::OutOfSequence) => rpc("Unknown", "update out of sequence"),
            TxError::Store(e) => store_err(e),
        }
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
