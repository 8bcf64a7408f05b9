//! The task-level policies of a service: health check, resources, restart, update and
//! rollback configs (docker/cli `convertHealthcheck`, `convertResources`,
//! `convertRestartPolicy`, `convertUpdateConfig`).

use bollard_stubs::models::{
    GenericResourcesInner, GenericResourcesInnerDiscreteResourceSpec, HealthConfig, Limit,
    ResourceObject, ServiceSpecRollbackConfig,
};
use shoal_types::service::{ServiceSpecUpdateConfig, TaskSpecResources, TaskSpecRestartPolicy};

use super::service::{enum_of, none_if_empty};
use crate::error::Error;
use crate::model::{ResourceSpec, Service, UpdateConfig};

pub(super) fn healthcheck(p: &str, svc: &Service) -> Result<Option<HealthConfig>, Error> {
    let Some(h) = &svc.healthcheck else {
        return Ok(None);
    };
    if h.disable {
        if h.test.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(Error::value(
                format!("{p}.healthcheck"),
                "test and disable can't be set at the same time",
            ));
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }));
    }
    Ok(Some(HealthConfig {
        test: h.test.clone(),
        interval: h.interval,
        timeout: h.timeout,
        retries: h.retries.map(|r| r as i64),
        start_period: h.start_period,
        start_interval: h.start_interval,
    }))
}

fn resource(r: &ResourceSpec) -> (Option<i64>, Option<i64>) {
    (r.cpus, r.memory)
}

pub(super) fn resources(svc: &Service) -> Option<TaskSpecResources> {
    let r = &svc.deploy.resources;
    if r.limits.is_none() && r.reservations.is_none() {
        return None;
    }
    Some(TaskSpecResources {
        limits: r.limits.as_ref().map(|l| Limit {
            nano_cpus: resource(l).0,
            memory_bytes: resource(l).1,
            pids: l.pids.map(|p| p as i64),
        }),
        reservations: r.reservations.as_ref().map(|l| ResourceObject {
            nano_cpus: l.cpus,
            memory_bytes: l.memory,
            generic_resources: none_if_empty(
                l.generic_resources
                    .iter()
                    .map(|(kind, value)| GenericResourcesInner {
                        named_resource_spec: None,
                        discrete_resource_spec: Some(GenericResourcesInnerDiscreteResourceSpec {
                            kind: Some(kind.clone()),
                            value: Some(*value),
                        }),
                    })
                    .collect(),
            ),
        }),
        ..Default::default()
    })
}

/// `deploy.restart_policy`, else `restart:` (docker/cli `convertRestartPolicy`); `p` is the
/// service's path.
pub(super) fn restart_policy(
    p: &str,
    svc: &Service,
) -> Result<Option<TaskSpecRestartPolicy>, Error> {
    if let Some(r) = &svc.deploy.restart_policy {
        let at = format!("{p}.deploy.restart_policy.condition");
        return Ok(Some(TaskSpecRestartPolicy {
            condition: r
                .condition
                .as_deref()
                .map(|c| enum_of(&at, c))
                .transpose()?,
            delay: r.delay,
            max_attempts: r.max_attempts.map(|m| m as i64),
            window: r.window,
        }));
    }
    let Some(restart) = svc.restart.as_deref() else {
        return Ok(None);
    };
    let (policy, count) = restart.split_once(':').unwrap_or((restart, ""));
    let at = format!("{p}.restart");
    let cond = |c: &str, max: Option<i64>| TaskSpecRestartPolicy {
        condition: enum_of(&at, c).ok(),
        max_attempts: max,
        ..Default::default()
    };
    match policy {
        "no" | "" => Ok(None),
        "always" | "unless-stopped" => Ok(Some(cond("any", None))),
        "on-failure" => {
            let n: i64 = if count.is_empty() {
                0
            } else {
                count
                    .parse()
                    .map_err(|_| Error::value(&at, format!("invalid restart policy: {restart}")))?
            };
            Ok(Some(cond("on-failure", Some(n))))
        }
        _ => Err(Error::value(
            &at,
            format!("unknown restart policy: {restart}"),
        )),
    }
}

/// `update_config` or `rollback_config`, found at `p`.
pub(super) fn update_config(p: &str, u: &UpdateConfig) -> Result<ServiceSpecUpdateConfig, Error> {
    Ok(ServiceSpecUpdateConfig {
        parallelism: Some(u.parallelism.unwrap_or(1) as i64),
        delay: u.delay,
        failure_action: u
            .failure_action
            .as_deref()
            .map(|a| enum_of(&format!("{p}.failure_action"), a))
            .transpose()?,
        monitor: u.monitor,
        max_failure_ratio: u.max_failure_ratio,
        order: u
            .order
            .as_deref()
            .map(|o| enum_of(&format!("{p}.order"), o))
            .transpose()?,
    })
}

/// `rollback_config`, found at `p`: an update config whose failure action and order are the
/// rollback's own enums.
pub(super) fn rollback_config(
    p: &str,
    r: &UpdateConfig,
) -> Result<ServiceSpecRollbackConfig, Error> {
    let u = update_config(p, r)?;
    Ok(ServiceSpecRollbackConfig {
        parallelism: u.parallelism,
        delay: u.delay,
        failure_action: r
            .failure_action
            .as_deref()
            .map(|a| enum_of(&format!("{p}.failure_action"), a))
            .transpose()?,
        monitor: u.monitor,
        max_failure_ratio: u.max_failure_ratio,
        order: r
            .order
            .as_deref()
            .map(|o| enum_of(&format!("{p}.order"), o))
            .transpose()?,
    })
}
