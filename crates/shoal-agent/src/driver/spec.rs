//! Reading what drivers need out of a task spec, with swarmkit's defaults.

use std::time::Duration;

use shoal_types::Task;
use shoal_types::service::{EndpointPortConfig, TaskSpecContainerSpec};

use super::DriverError;

/// Swarmkit's default stop grace period.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

/// A task label holding the JSON list of `EndpointPortConfig` to publish, for tasks made
/// without an endpoint (tests, hand-made tasks); `Task.endpoint` comes first.
pub const PUBLISHED_PORTS_LABEL: &str = "com.shoal.task.published-ports";

/// The task's container spec, or an error that rejects the task.
pub fn container_spec(task: &Task) -> Result<&TaskSpecContainerSpec, DriverError> {
    task.spec
        .container_spec
        .as_ref()
        .ok_or_else(|| DriverError::InvalidSpec("task has no container spec".into()))
}

/// `StopGracePeriod` (nanoseconds in the spec), 10 s when unset or negative.
pub fn stop_grace(task: &Task) -> Duration {
    task.spec
        .container_spec
        .as_ref()
        .and_then(|c| c.stop_grace_period)
        .filter(|ns| *ns >= 0)
        .map_or(DEFAULT_STOP_GRACE, |ns| Duration::from_nanos(ns as u64))
}

/// `StopSignal` when the spec sets one.
pub fn stop_signal(task: &Task) -> Option<&str> {
    task.spec
        .container_spec
        .as_ref()
        .and_then(|c| c.stop_signal.as_deref())
        .filter(|s| !s.is_empty())
}

/// The ports the task publishes (see [`PUBLISHED_PORTS_LABEL`]); empty when none or unreadable.
pub fn published_ports(task: &Task) -> Vec<EndpointPortConfig> {
    if let Some(e) = task.endpoint.as_ref().filter(|e| !e.ports.is_empty()) {
        return e.ports.clone();
    }
    task.labels
        .get(PUBLISHED_PORTS_LABEL)
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task_with(spec: TaskSpecContainerSpec) -> Task {
        let mut t = Task::default();
        t.spec.container_spec = Some(spec);
        t
    }

    #[test]
    fn grace_defaults_to_ten_seconds() {
        assert_eq!(stop_grace(&Task::default()), DEFAULT_STOP_GRACE);
        let t = task_with(TaskSpecContainerSpec {
            stop_grace_period: Some(2_500_000_000),
            ..Default::default()
        });
        assert_eq!(stop_grace(&t), Duration::from_millis(2500));
    }

    #[test]
    fn empty_stop_signal_is_none() {
        let t = task_with(TaskSpecContainerSpec {
            stop_signal: Some(String::new()),
            ..Default::default()
        });
        assert_eq!(stop_signal(&t), None);
        assert!(container_spec(&Task::default()).is_err());
    }

    #[test]
    fn published_ports_come_from_the_label() {
        let mut t = Task::default();
        assert!(published_ports(&t).is_empty());
        t.labels.insert(
            PUBLISHED_PORTS_LABEL.into(),
            r#"[{"Protocol":"tcp","TargetPort":80,"PublishedPort":8080}]"#.into(),
        );
        let ports = published_ports(&t);
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].target_port, Some(80));
    }
}
