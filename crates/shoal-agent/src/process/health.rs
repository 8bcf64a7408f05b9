//! Health checks of process tasks, with Docker's semantics: a task with a check counts as
//! started only once a check passed, and is stopped as unhealthy after `retries` failures in
//! a row.
//!
//! This module owns the check's configuration (the spec's `HealthConfig` with Docker's
//! defaults), the starting → healthy / unhealthy state machine (pure: it is given results
//! and times), the task's `health.json` (Docker's `State.Health` shape, plus when the task
//! started) and the loop that runs checks while the driver's `start` or `wait` waits on the
//! task. Running one check command is `probe`'s job. Stopping an unhealthy task is the
//! driver's.
//!
//! Checks run in the daemon, not in the shim: a task whose daemon is down is not checked, as
//! nobody could act on the result; a restarted daemon resumes from `health.json`.

mod probe;

use std::time::{Duration, SystemTime};

use bollard::models::HealthConfig;
use serde::{Deserialize, Serialize};

use super::control;
use super::layout::{Launch, TaskDir, read_json, write_json};
use crate::driver::{DriverError, Phase};

// Docker's defaults for `HealthConfig` fields left at 0 (the start period's is 0).
/// Between checks.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// How long one check may run before it counts as failed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Consecutive failures that make a task unhealthy.
pub const DEFAULT_RETRIES: u32 = 3;
/// Between checks while starting within the start period.
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);

/// How many results `health.json` keeps (moby's `maxLogEntries`).
const MAX_LOG: usize = 5;

/// A task's health check, resolved from its spec with Docker's defaults. Kept in
/// `launch.json`, so a restarted daemon checks an adopted task the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// What to run: `CMD`'s arguments, or `/bin/sh -c` and `CMD-SHELL`'s.
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures (after the start period) that make the task unhealthy.
    pub retries: u32,
    pub start_period: Duration,
    /// The interval while the task is starting within its start period.
    pub start_interval: Duration,
}

/// The task's check, `None` when it has none: no `HealthConfig`, an empty test (which would
/// inherit the image's check, and a process has no image) or `["NONE"]`. A test or duration
/// Docker would refuse rejects the task, with Docker's wording where it has one.
pub fn from_spec(config: Option<&HealthConfig>) -> Result<Option<HealthCheck>, DriverError> {
    let Some(config) = config else {
        return Ok(None);
    };
    let test = config.test.as_deref().unwrap_or_default();
    let invalid = |msg: String| Err(DriverError::InvalidSpec(msg));
    let argv: Vec<String> = match test.split_first() {
        None => return Ok(None),
        Some((kind, _)) if kind == "NONE" => return Ok(None),
        Some((kind, [])) if kind == "CMD" || kind == "CMD-SHELL" => {
            return invalid(format!("health check {kind} needs a command"));
        }
        Some((kind, args)) if kind == "CMD" => args.to_vec(),
        // As moby: the shell gets every remaining element (the second would be `$0`).
        Some((kind, args)) if kind == "CMD-SHELL" => ["/bin/sh", "-c"]
            .iter()
            .map(|s| s.to_string())
            .chain(args.iter().cloned())
            .collect(),
        Some((kind, _)) => {
            return invalid(format!(
                "unknown health check type {kind:?}: the test must start with NONE, CMD or CMD-SHELL"
            ));
        }
    };
    let retries = match config.retries.unwrap_or(0) {
        0 => DEFAULT_RETRIES,
        n if n < 0 => return invalid("Retries in Healthcheck cannot be negative".into()),
        n => u32::try_from(n).unwrap_or(u32::MAX),
    };
    Ok(Some(HealthCheck {
        argv,
        interval: duration("Interval", config.interval, DEFAULT_INTERVAL)?,
        timeout: duration("Timeout", config.timeout, DEFAULT_TIMEOUT)?,
        retries,
        start_period: duration("StartPeriod", config.start_period, Duration::ZERO)?,
        start_interval: duration(
            "StartInterval",
            config.start_interval,
            DEFAULT_START_INTERVAL,
        )?,
    }))
}

/// A duration in nanoseconds: 0 (or unset) means the default; below 1 ms Docker refuses.
fn duration(name: &str, ns: Option<i64>, default: Duration) -> Result<Duration, DriverError> {
    match ns.unwrap_or(0) {
        0 => Ok(default),
        ns if ns < 1_000_000 => Err(DriverError::InvalidSpec(format!(
            "{name} in Healthcheck cannot be less than 1ms"
        ))),
        ns => Ok(Duration::from_nanos(ns as u64)),
    }
}

/// Where a task is in its health, as Docker names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No check has passed yet.
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthCheck {
    /// How long after a check (or the task's start) the next one runs, `age` after the task
    /// started: the start interval while it is starting within its start period, else the
    /// interval (moby's `getInterval`). So the first check comes one interval after the start.
    pub fn next_delay(&self, status: Status, age: Duration) -> Duration {
        if status == Status::Starting && age < self.start_period {
            self.start_interval
        } else {
            self.interval
        }
    }

    /// The status and failing streak after a check that started `age` after the task
    /// (moby's `handleProbeResult`). A pass is healthy at once; a failure counts unless the
    /// task is still starting within its start period, and `retries` of them in a row make
    /// it unhealthy.
    pub fn judge(&self, status: Status, streak: u32, passed: bool, age: Duration) -> (Status, u32) {
        if passed {
            return (Status::Healthy, 0);
        }
        if status == Status::Starting && age < self.start_period {
            return (status, streak);
        }
        let streak = streak.saturating_add(1);
        if streak >= self.retries {
            (Status::Unhealthy, streak)
        } else {
            (status, streak)
        }
    }
}

/// One check's result, as in Docker's `State.Health.Log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckResult {
    #[serde(with = "rfc3339")]
    pub start: SystemTime,
    #[serde(with = "rfc3339")]
    pub end: SystemTime,
    /// 0 passed; anything else failed (-1: the check timed out or could not run).
    pub exit_code: i64,
    /// Its combined stdout and stderr, cut at 4 KiB.
    pub output: String,
}

/// A task's health: what `health.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: Status,
    pub failing_streak: u32,
    /// The last few results, oldest first.
    pub log: Vec<CheckResult>,
    /// When the task started, which the start period counts from; wall-clock time because
    /// a restarted daemon must be able to count on from it.
    #[serde(with = "rfc3339")]
    pub started_at: SystemTime,
}

impl Health {
    /// A task that started at `started_at` and has not been checked yet.
    pub fn new(started_at: SystemTime) -> Self {
        Health {
            status: Status::Starting,
            failing_streak: 0,
            log: vec![],
            started_at,
        }
    }

    /// How long after the task's start `at` is (zero if the clock went back).
    pub fn age(&self, at: SystemTime) -> Duration {
        at.duration_since(self.started_at).unwrap_or_default()
    }

    /// Takes a check's result into the status, streak and log.
    pub fn record(&mut self, check: &HealthCheck, result: CheckResult) {
        let age = self.age(result.start);
        let passed = result.exit_code == 0;
        (self.status, self.failing_streak) =
            check.judge(self.status, self.failing_streak, passed, age);
        self.log.push(result);
        let excess = self.log.len().saturating_sub(MAX_LOG);
        self.log.drain(..excess);
    }
}

/// The task's recorded health, `None` when none was recorded.
pub fn load(dir: &TaskDir) -> Result<Option<Health>, DriverError> {
    read_json(&dir.health()).map_err(|e| DriverError::io("reading health.json", e))
}

/// Records the task's health (atomically: a reader never sees half of it).
pub fn save(dir: &TaskDir, health: &Health) -> Result<(), DriverError> {
    write_json(&dir.health(), health).map_err(|e| DriverError::io("writing health.json", e))
}

/// Whether the task was last found unhealthy (so an exit is reported as caused by it).
pub fn was_unhealthy(dir: &TaskDir) -> bool {
    matches!(load(dir), Ok(Some(h)) if h.status == Status::Unhealthy)
}

/// What [`watch`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The first pass (`start`); unhealthy first ends the watch too.
    Healthy,
    /// Unhealthy (`wait`): the task runs on while checks pass.
    Unhealthy,
}

/// How a [`watch`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// The task must be stopped; `health.json` already says so.
    Unhealthy,
    /// The task stopped running on its own (or was stopped).
    Ended,
}

/// Checks the running task until `until` or until it stops running, recording each result
/// in `health.json`. Resumes from the recorded health (a restarted daemon, a second call);
/// without one it counts the start period from now. Dropping the future kills a check in
/// flight.
pub async fn watch(
    dir: &TaskDir,
    launch: &Launch,
    check: &HealthCheck,
    poll: Duration,
    until: Until,
) -> Result<Verdict, DriverError> {
    let mut health = match load(dir)? {
        Some(h) => h,
        None => {
            let h = Health::new(SystemTime::now());
            save(dir, &h)?;
            h
        }
    };
    loop {
        match (health.status, until) {
            (Status::Unhealthy, _) => return Ok(Verdict::Unhealthy),
            (Status::Healthy, Until::Healthy) => return Ok(Verdict::Healthy),
            _ => {}
        }
        let delay = check.next_delay(health.status, health.age(SystemTime::now()));
        let checked = async {
            tokio::time::sleep(delay).await;
            probe::run(launch, check).await
        };
        // The task may end at any time, also while a check runs: stop checking at once.
        let result = tokio::select! {
            result = checked => result,
            ended = ended(dir, poll) => {
                ended?;
                return Ok(Verdict::Ended);
            }
        };
        let before = health.status;
        health.record(check, result);
        if health.status != before {
            tracing::info!(task.id = %launch.task_id, from = ?before, to = ?health.status, "task health");
        }
        save(dir, &health)?;
    }
}

/// Returns once the task no longer runs.
async fn ended(dir: &TaskDir, poll: Duration) -> Result<(), DriverError> {
    loop {
        if control::observe(dir)?.map(|o| o.phase) != Some(Phase::Running) {
            return Ok(());
        }
        tokio::time::sleep(poll).await;
    }
}

/// RFC 3339 with nanoseconds, as Docker writes the times of check results.
mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_nanos(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_rfc3339(&s).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn spec(test: &[&str]) -> HealthConfig {
        HealthConfig {
            test: Some(test.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn check(retries: u32, start_period: Duration) -> HealthCheck {
        HealthCheck {
            argv: vec!["true".into()],
            interval: 100 * MS,
            timeout: 100 * MS,
            retries,
            start_period,
            start_interval: 10 * MS,
        }
    }

    fn result(start: SystemTime, exit_code: i64) -> CheckResult {
        CheckResult {
            start,
            end: start,
            exit_code,
            output: String::new(),
        }
    }

    #[test]
    fn defaults_are_dockers() {
        let c = from_spec(Some(&spec(&["CMD", "curl", "-f", "localhost"])))
            .unwrap()
            .unwrap();
        assert_eq!(c.argv, ["curl", "-f", "localhost"]);
        assert_eq!(
            (c.interval, c.timeout, c.retries),
            (Duration::from_secs(30), Duration::from_secs(30), 3)
        );
        assert_eq!(
            (c.start_period, c.start_interval),
            (Duration::ZERO, Duration::from_secs(5))
        );
        let set = HealthConfig {
            interval: Some(200_000_000),
            timeout: Some(1_000_000),
            retries: Some(7),
            start_period: Some(2_000_000_000),
            start_interval: Some(50_000_000),
            ..spec(&["CMD-SHELL", "test -f ready"])
        };
        let c = from_spec(Some(&set)).unwrap().unwrap();
        assert_eq!(c.argv, ["/bin/sh", "-c", "test -f ready"]);
        assert_eq!((c.interval, c.timeout, c.retries), (200 * MS, MS, 7));
        assert_eq!((c.start_period, c.start_interval), (2000 * MS, 50 * MS));
    }

    #[test]
    fn no_test_or_none_means_no_check() {
        assert_eq!(from_spec(None).unwrap(), None);
        assert_eq!(from_spec(Some(&HealthConfig::default())).unwrap(), None);
        assert_eq!(from_spec(Some(&spec(&[]))).unwrap(), None);
        assert_eq!(from_spec(Some(&spec(&["NONE"]))).unwrap(), None);
    }

    #[test]
    fn bad_checks_are_rejected() {
        let err = |c: HealthConfig| from_spec(Some(&c)).unwrap_err().to_string();
        assert_eq!(
            err(spec(&["curl", "localhost"])),
            "unknown health check type \"curl\": the test must start with NONE, CMD or CMD-SHELL"
        );
        assert_eq!(err(spec(&["CMD"])), "health check CMD needs a command");
        assert_eq!(
            err(HealthConfig {
                interval: Some(999),
                ..spec(&["CMD", "true"])
            }),
            "Interval in Healthcheck cannot be less than 1ms"
        );
        assert_eq!(
            err(HealthConfig {
                retries: Some(-1),
                ..spec(&["CMD", "true"])
            }),
            "Retries in Healthcheck cannot be negative"
        );
    }

    #[test]
    fn checks_come_every_start_interval_only_while_starting_in_the_start_period() {
        let c = check(3, 1000 * MS);
        assert_eq!(c.next_delay(Status::Starting, 500 * MS), 10 * MS);
        assert_eq!(c.next_delay(Status::Starting, 1000 * MS), 100 * MS);
        assert_eq!(c.next_delay(Status::Healthy, 500 * MS), 100 * MS);
        assert_eq!(
            check(3, Duration::ZERO).next_delay(Status::Starting, Duration::ZERO),
            100 * MS
        );
    }

    #[test]
    fn retries_failures_in_a_row_make_it_unhealthy() {
        let c = check(3, Duration::ZERO);
        let t = 5 * MS;
        assert_eq!(
            c.judge(Status::Starting, 0, false, t),
            (Status::Starting, 1)
        );
        assert_eq!(c.judge(Status::Starting, 1, true, t), (Status::Healthy, 0));
        assert_eq!(c.judge(Status::Healthy, 0, false, t), (Status::Healthy, 1));
        assert_eq!(c.judge(Status::Healthy, 1, false, t), (Status::Healthy, 2));
        assert_eq!(
            c.judge(Status::Healthy, 2, false, t),
            (Status::Unhealthy, 3)
        );
        assert_eq!(
            c.judge(Status::Starting, 2, false, t),
            (Status::Unhealthy, 3)
        );
    }

    #[test]
    fn the_start_period_forgives_failures_only_while_starting() {
        let c = check(1, 1000 * MS);
        assert_eq!(
            c.judge(Status::Starting, 0, false, 999 * MS),
            (Status::Starting, 0)
        );
        assert_eq!(
            c.judge(Status::Starting, 0, true, 500 * MS),
            (Status::Healthy, 0),
            "a pass within the start period is healthy at once"
        );
        assert_eq!(
            c.judge(Status::Healthy, 0, false, 500 * MS),
            (Status::Unhealthy, 1),
            "once healthy, failures count even within the start period"
        );
        assert_eq!(
            c.judge(Status::Starting, 0, false, 1000 * MS),
            (Status::Unhealthy, 1)
        );
    }

    #[test]
    fn the_record_keeps_the_last_five_results_and_round_trips() {
        let c = check(10, 1000 * MS);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = Health::new(t0);
        h.record(&c, result(t0 + 100 * MS, 1));
        assert_eq!((h.status, h.failing_streak), (Status::Starting, 0));
        for i in 0..6 {
            h.record(&c, result(t0 + 2000 * MS + i * MS, 1));
        }
        assert_eq!((h.status, h.failing_streak), (Status::Starting, 6));
        assert_eq!(h.log.len(), 5);
        assert_eq!(h.log[0].start, t0 + 2001 * MS, "oldest dropped first");
        h.record(&c, result(t0 + 3000 * MS + Duration::from_nanos(7), 0));
        assert_eq!((h.status, h.failing_streak), (Status::Healthy, 0));

        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["Status"], "healthy");
        assert_eq!(json["FailingStreak"], 0);
        assert_eq!(json["Log"][4]["ExitCode"], 0);
        assert_eq!(json["Log"][4]["Start"], "2023-11-14T22:13:23.000000007Z");
        let back: Health = serde_json::from_value(json).unwrap();
        assert_eq!(back, h);
    }
}
