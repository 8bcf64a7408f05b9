//! The `--update-*` and `--rollback-*` flags of `service create` and `service update`
//! (docker/cli's `addServiceFlags`, `updateOptions.updateConfig`/`rollbackConfig` and the
//! matching part of `updateService`): `UpdateConfig` and `RollbackConfig`.
//!
//! As docker does, a config the spec lacks starts from swarmkit's defaults (parallelism 1,
//! delay 0, monitor 5 s, failure action pause, max failure ratio 0, stop-first) once any of its
//! flags is given; then only the flags given change it. Values docker leaves to the daemon are
//! checked here with the daemon's texts (`unrecognized update failure action X`,
//! `unrecognized update order X`) since the typed spec cannot carry an unknown value; ranges
//! (a negative delay, a ratio above 1) are still the daemon's to refuse.

use bollard_stubs::models::{
    ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum as RbAction,
    ServiceSpecRollbackConfigOrderEnum as RbOrder, ServiceSpecUpdateConfigFailureActionEnum,
};
use clap::Args;
use shoal_types::service::{
    ServiceSpec, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigOrderEnum,
};

use crate::error::CliError;
use crate::service_flags as f;

/// swarmkit's default monitor period (`defaults.Service.Update.Monitor`).
const DEFAULT_MONITOR: i64 = 5_000_000_000;

/// The update- and rollback-config flags; only those given change the spec.
#[derive(Debug, Clone, Default, Args)]
pub struct UpdateConfigFlags {
    /// Maximum number of tasks updated simultaneously (0 to update all at once)
    #[arg(long = "update-parallelism")]
    pub update_parallelism: Option<u64>,
    /// Delay between updates (ns|us|ms|s|m|h)
    #[arg(long = "update-delay", value_parser = f::duration, allow_hyphen_values = true)]
    pub update_delay: Option<i64>,
    /// Duration after each task update to monitor for failure (ns|us|ms|s|m|h)
    #[arg(long = "update-monitor", value_parser = f::duration, allow_hyphen_values = true)]
    pub update_monitor: Option<i64>,
    /// Action on update failure ("pause", "continue", "rollback")
    #[arg(long = "update-failure-action")]
    pub update_failure_action: Option<String>,
    /// Failure rate to tolerate during an update
    #[arg(long = "update-max-failure-ratio", value_parser = f::float, allow_hyphen_values = true)]
    pub update_max_failure_ratio: Option<f64>,
    /// Update order ("start-first", "stop-first")
    #[arg(long = "update-order")]
    pub update_order: Option<String>,
    /// Maximum number of tasks rolled back simultaneously (0 to roll back all at once)
    #[arg(long = "rollback-parallelism")]
    pub rollback_parallelism: Option<u64>,
    /// Delay between task rollbacks (ns|us|ms|s|m|h)
    #[arg(long = "rollback-delay", value_parser = f::duration, allow_hyphen_values = true)]
    pub rollback_delay: Option<i64>,
    /// Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h)
    #[arg(long = "rollback-monitor", value_parser = f::duration, allow_hyphen_values = true)]
    pub rollback_monitor: Option<i64>,
    /// Action on rollback failure ("pause", "continue")
    #[arg(long = "rollback-failure-action")]
    pub rollback_failure_action: Option<String>,
    /// Failure rate to tolerate during a rollback
    #[arg(long = "rollback-max-failure-ratio", value_parser = f::float, allow_hyphen_values = true)]
    pub rollback_max_failure_ratio: Option<f64>,
    /// Rollback order ("start-first", "stop-first")
    #[arg(long = "rollback-order")]
    pub rollback_order: Option<String>,
}

/// docker's `updateConfigFromDefaults(defaults.Service.Update)`.
fn update_defaults() -> ServiceSpecUpdateConfig {
    ServiceSpecUpdateConfig {
        parallelism: Some(1),
        delay: Some(0),
        failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE),
        monitor: Some(DEFAULT_MONITOR),
        max_failure_ratio: Some(0.0),
        order: Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST),
    }
}

/// docker's `updateConfigFromDefaults(defaults.Service.Rollback)`.
fn rollback_defaults() -> ServiceSpecRollbackConfig {
    ServiceSpecRollbackConfig {
        parallelism: Some(1),
        delay: Some(0),
        failure_action: Some(RbAction::PAUSE),
        monitor: Some(DEFAULT_MONITOR),
        max_failure_ratio: Some(0.0),
        order: Some(RbOrder::STOP_FIRST),
    }
}

/// moby's `updateConfigToGRPC` texts for values it does not know.
fn unknown_action(s: &str) -> CliError {
    CliError::msg(format!("unrecognized update failure action {s}"))
}

fn unknown_order(s: &str) -> CliError {
    CliError::msg(format!("unrecognized update order {s}"))
}

impl UpdateConfigFlags {
    /// Whether any `--update-*` flag was given.
    pub fn update_given(&self) -> bool {
        self.update_parallelism.is_some()
            || self.update_delay.is_some()
            || self.update_monitor.is_some()
            || self.update_failure_action.is_some()
            || self.update_max_failure_ratio.is_some()
            || self.update_order.is_some()
    }

    /// Whether any `--rollback-*` flag was given.
    pub fn rollback_given(&self) -> bool {
        self.rollback_parallelism.is_some()
            || self.rollback_delay.is_some()
            || self.rollback_monitor.is_some()
            || self.rollback_failure_action.is_some()
            || self.rollback_max_failure_ratio.is_some()
            || self.rollback_order.is_some()
    }

    /// Whether any flag was given.
    pub fn any(&self) -> bool {
        self.update_given() || self.rollback_given()
    }

    /// Writes the given flags into the spec's update and rollback configs. Every value is
    /// checked before the spec changes.
    pub fn apply(&self, spec: &mut ServiceSpec) -> Result<(), CliError> {
        let action = parse(&self.update_failure_action, unknown_action)?;
        let order = parse(&self.update_order, unknown_order)?;
        // moby reads both configs with the same table, but shoal's rollback config has no
        // `rollback` action (a rollback never rolls back) and its daemon refuses it.
        let rb_action = parse(&self.rollback_failure_action, unknown_action)?;
        let rb_order = parse(&self.rollback_order, unknown_order)?;
        if self.update_given() {
            let u = spec.update_config.get_or_insert_with(update_defaults);
            set(
                &mut u.parallelism,
                self.update_parallelism.map(|p| p as i64),
            );
            set(&mut u.delay, self.update_delay);
            set(&mut u.monitor, self.update_monitor);
            set(&mut u.failure_action, action);
            set(&mut u.max_failure_ratio, self.update_max_failure_ratio);
            set(&mut u.order, order);
        }
        if self.rollback_given() {
            let r = spec.rollback_config.get_or_insert_with(rollback_defaults);
            set(
                &mut r.parallelism,
                self.rollback_parallelism.map(|p| p as i64),
            );
            set(&mut r.delay, self.rollback_delay);
            set(&mut r.monitor, self.rollback_monitor);
            set(&mut r.failure_action, rb_action);
            set(&mut r.max_failure_ratio, self.rollback_max_failure_ratio);
            set(&mut r.order, rb_order);
        }
        Ok(())
    }
}

/// A given enum flag read with the spec's own names (`""` is allowed, as docker sends it).
fn parse<T: std::str::FromStr>(
    given: &Option<String>,
    unknown: fn(&str) -> CliError,
) -> Result<Option<T>, CliError> {
    given
        .as_deref()
        .map(|v| v.parse().map_err(|_| unknown(v)))
        .transpose()
}

/// Overwrites `field` only when the flag was given.
fn set<T>(field: &mut Option<T>, given: Option<T>) {
    if given.is_some() {
        *field = given;
    }
}
