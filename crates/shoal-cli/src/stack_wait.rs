//! `depends_on: {X: {condition: service_healthy}}` in `shoal stack deploy` (beyond docker,
//! which ignores `depends_on` in swarm mode): before a service is created or updated, each
//! such dependency must have its desired number of tasks running at its current spec. A task
//! with a health check only counts as running once its check passed, so this is "healthy".
//!
//! The wait is bounded (`--healthy-timeout`, `SHOAL_STACK_HEALTHY_TIMEOUT`, 120 s by
//! default); past it the deploy fails naming the dependency and what its tasks are doing.
//! It happens with `--detach` too: waiting for health is what the condition asks for.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shoal_types::Service;

use crate::client::{Client, filters_json, path_escape, query};
use crate::error::CliError;
use crate::progress::{POLL, has_health_check};
use crate::service_table::TaskView;

/// How long a dependency may take to become healthy, unless told.
pub const DEFAULT_TIMEOUT: &str = "120s";

/// `--healthy-timeout`: a Go duration, not negative.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let ns = crate::duration::parse_duration(s)?;
    u64::try_from(ns)
        .map(Duration::from_nanos)
        .map_err(|_| format!("invalid timeout {s:?}: must not be negative"))
}

/// Where a dependency stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub ready: bool,
    /// What its tasks are doing, for the error: `0 of 1 tasks running; s_db.1 starting
    /// (health check); last task error: …`.
    pub what: String,
}

/// Whether `svc` has its desired tasks running at its current spec. `current` are its
/// up-to-date tasks, `all` every task of it (for the last error).
pub fn health(svc: &Service, current: &[TaskView], all: &[TaskView]) -> Health {
    let mode = svc.spec.mode.clone().unwrap_or_default();
    let job = mode.replicated_job.is_some() || mode.global_job.is_some();
    let wanted: Vec<&TaskView> = current
        .iter()
        .filter(|t| t.desired_state == "running" || (job && t.desired_state == "complete"))
        .collect();
    let desired = if let Some(r) = &mode.replicated {
        r.replicas.unwrap_or(1).max(0) as usize
    } else if let Some(j) = &mode.replicated_job {
        j.total_completions.unwrap_or(1).max(0) as usize
    } else {
        // Global: one per node the orchestrator placed a task on; none yet is not healthy.
        wanted.len().max(1)
    };
    let done = |t: &TaskView| t.status.state == "running" || (job && t.status.state == "complete");
    let running = wanted.iter().filter(|t| done(t)).count();
    let ready = running >= desired;
    let noun = if job { "tasks done" } else { "tasks running" };
    let mut what = format!("{running} of {desired} {noun}");
    let checked = has_health_check(&svc.spec);
    let last_error = all
        .iter()
        .filter(|t| !t.status.err.is_empty())
        .max_by(|a, b| a.status.timestamp.cmp(&b.status.timestamp))
        .map(|t| t.status.err.as_str());
    let mut doing: BTreeMap<(u64, String), String> = BTreeMap::new();
    for t in wanted.iter().filter(|t| !done(t)) {
        let label = if t.slot > 0 {
            format!("{}.{}", svc.name(), t.slot)
        } else {
            format!(
                "{}.{}",
                svc.name(),
                crate::service_table::truncate_id(&t.node_id)
            )
        };
        let mut state = t.status.state.clone();
        if state == "starting" && checked {
            state += " (health check)";
        }
        // An error said once: the last one comes at the end.
        if !t.status.err.is_empty() && Some(t.status.err.as_str()) != last_error {
            state += &format!(" ({})", t.status.err);
        }
        doing.insert((t.slot, t.node_id.clone()), format!("{label} {state}"));
    }
    if !doing.is_empty() {
        what += &format!("; {}", doing.into_values().collect::<Vec<_>>().join(", "));
    }
    if let Some(err) = last_error {
        what += &format!("; last task error: {err}");
    }
    Health { ready, what }
}

/// Seconds as Go prints short durations: `120s`, `1.5s`, `500ms`.
fn secs(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", (d.as_millis() as f64 / 1000.0))
    }
}

/// Waits until the service `dep` is healthy, at most `timeout`; `dependant` is the service
/// that waits on it (for the messages).
pub async fn wait_healthy(
    c: &Client,
    dep: &str,
    dependant: &str,
    timeout: Duration,
) -> Result<(), CliError> {
    let start = Instant::now();
    let mut announced = false;
    loop {
        let h = poll(c, dep).await?;
        if h.ready {
            return Ok(());
        }
        if !announced {
            println!("Waiting for service {dep} to be healthy ({dependant} depends on it)...");
            announced = true;
        }
        if start.elapsed() >= timeout {
            return Err(CliError::msg(format!(
                "service {dep} did not become healthy within {} ({dependant} depends on it with \
                 condition service_healthy): {}",
                secs(timeout),
                h.what
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn poll(c: &Client, dep: &str) -> Result<Health, CliError> {
    let svc: Service = c
        .get_json(&format!("/services/{}", path_escape(dep)))
        .await
        .map_err(|e| match e.status() {
            Some(404) => {
                CliError::msg(format!("service {dep} not found: it cannot become healthy"))
            }
            _ => e,
        })?;
    let tasks = |up_to_date: bool| {
        let mut f: BTreeMap<String, Vec<String>> =
            [("service".to_string(), vec![svc.id.clone()])].into();
        if up_to_date {
            f.insert("_up-to-date".into(), vec!["true".into()]);
        }
        let path = format!("/tasks{}", query(&[("filters", filters_json(&f))]));
        async move { c.get_json::<Vec<TaskView>>(&path).await }
    };
    let current = tasks(true).await?;
    let all = tasks(false).await?;
    Ok(health(&svc, &current, &all))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(mode: serde_json::Value, health: bool) -> Service {
        let mut cs = serde_json::json!({"Image": "busybox"});
        if health {
            cs["HealthCheck"] = serde_json::json!({"Test": ["CMD-SHELL", "true"]});
        }
        serde_json::from_value(serde_json::json!({
            "ID": "db1", "Spec": {"Name": "s_db", "Mode": mode, "TaskTemplate": {"ContainerSpec": cs}}}))
        .unwrap()
    }

    fn task(slot: u64, state: &str, desired: &str, err: &str, at: &str) -> TaskView {
        serde_json::from_value(serde_json::json!({
            "ID": format!("t{slot}{state}"), "Slot": slot, "NodeID": "node1", "DesiredState": desired,
            "Status": {"State": state, "Err": err, "Timestamp": at}}))
        .unwrap()
    }

    #[test]
    fn ready_once_every_replica_runs_at_the_current_spec() {
        let db = svc(serde_json::json!({"Replicated": {"Replicas": 2}}), true);
        let old = task(
            1,
            "failed",
            "shutdown",
            "task: non-zero exit (137): dockerexec: unhealthy container",
            "2026-01-01T00:00:01Z",
        );
        let current = vec![
            task(1, "starting", "running", "", "2026-01-01T00:00:02Z"),
            task(2, "running", "running", "", "2026-01-01T00:00:02Z"),
        ];
        let mut all = current.clone();
        all.push(old);
        let h = health(&db, &current, &all);
        assert!(!h.ready);
        assert_eq!(
            h.what,
            "1 of 2 tasks running; s_db.1 starting (health check); \
             last task error: task: non-zero exit (137): dockerexec: unhealthy container"
        );
        let both = vec![
            task(1, "running", "running", "", "2026-01-01T00:00:03Z"),
            task(2, "running", "running", "", "2026-01-01T00:00:02Z"),
        ];
        assert!(health(&db, &both, &both).ready);
        // Nothing yet: not ready; no replicas: nothing to wait for.
        assert!(!health(&db, &[], &[]).ready);
        let none = svc(serde_json::json!({"Replicated": {"Replicas": 0}}), true);
        assert!(health(&none, &[], &[]).ready);
    }

    #[test]
    fn global_services_need_a_task_and_every_one_running() {
        let g = svc(serde_json::json!({"Global": {}}), false);
        let h = health(&g, &[], &[]);
        assert_eq!((h.ready, h.what.as_str()), (false, "0 of 1 tasks running"));
        let mut t = task(0, "pending", "running", "no suitable node", "x");
        t.node_id = "abcdefabcdefabcdef".into();
        let h = health(&g, std::slice::from_ref(&t), std::slice::from_ref(&t));
        assert_eq!(
            h.what,
            "0 of 1 tasks running; s_db.abcdefabcdef pending; last task error: no suitable node",
            "an error is said once"
        );
        // A task's own error other than the last one is said beside it.
        let mut old = task(0, "failed", "shutdown", "task: non-zero exit (1)", "y");
        old.node_id = t.node_id.clone();
        let h = health(&g, std::slice::from_ref(&t), &[t.clone(), old]);
        assert_eq!(
            h.what,
            "0 of 1 tasks running; s_db.abcdefabcdef pending (no suitable node); \
             last task error: task: non-zero exit (1)"
        );
        let r = task(0, "running", "running", "", "x");
        let r = std::slice::from_ref(&r);
        assert!(health(&g, r, r).ready);
    }

    #[test]
    fn timeouts_parse_as_go_durations() {
        assert_eq!(parse_timeout("120s"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_timeout("-1s").is_err());
        assert!(parse_timeout("5").is_err());
        assert_eq!(secs(Duration::from_secs(120)), "120s");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5s");
        assert_eq!(secs(Duration::from_millis(300)), "300ms");
    }
}
