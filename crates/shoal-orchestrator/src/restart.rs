//! The restart policy: whether a task that ended gets a successor in its slot, and when.

use std::time::{Duration, SystemTime};

use shoal_types::service::TaskSpec;
use shoal_types::{Task, TaskState};

use crate::action::{after, parse_time};

/// swarmkit's defaults: condition any, delay 5 s, unlimited attempts, no window.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(5);

/// `RestartPolicy.Condition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    None,
    OnFailure,
    Any,
}

/// A task spec's restart policy with defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub condition: Condition,
    pub delay: Duration,
    /// 0 = unlimited.
    pub max_attempts: u64,
    /// Attempts are counted within this window (zero = forever).
    pub window: Duration,
}

fn ns(v: Option<i64>) -> Option<Duration> {
    v.map(|n| Duration::from_nanos(n.max(0) as u64))
}

impl RestartPolicy {
    /// Reads the policy from a task spec.
    pub fn of(spec: &TaskSpec) -> RestartPolicy {
        let p = spec.restart_policy.clone().unwrap_or_default();
        use bollard_condition as c;
        let condition = match p.condition {
            Some(c::NONE) => Condition::None,
            Some(c::ON_FAILURE) => Condition::OnFailure,
            _ => Condition::Any,
        };
        RestartPolicy {
            condition,
            delay: ns(p.delay).unwrap_or(DEFAULT_DELAY),
            max_attempts: p.max_attempts.unwrap_or(0).max(0) as u64,
            window: ns(p.window).unwrap_or_default(),
        }
    }

    /// Whether a task that ended this way may be followed by another, given the earlier
    /// attempts in its slot for the same spec version (`attempts`, ended tasks).
    pub fn allows(&self, ended: &Task, attempts: &[&Task], now: SystemTime) -> bool {
        let allowed = match self.condition {
            Condition::None => false,
            Condition::OnFailure => ended.status.state != TaskState::Complete,
            Condition::Any => true,
        };
        if !allowed || self.max_attempts == 0 {
            return allowed;
        }
        let counted = attempts
            .iter()
            .filter(|t| {
                self.window.is_zero() || after(parse_time(&t.status.timestamp), self.window) > now
            })
            .count() as u64;
        counted < self.max_attempts
    }

    /// When the successor may start: the delay after the task ended.
    pub fn start_at(&self, ended: &Task) -> SystemTime {
        after(parse_time(&ended.status.timestamp), self.delay)
    }
}

/// The generated enum's variants, renamed for readability here.
mod bollard_condition {
    pub use shoal_types::service::TaskSpecRestartPolicyConditionEnum::{NONE, ON_FAILURE};
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_types::service::{TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum as C};

    fn ended(state: TaskState, at: SystemTime) -> Task {
        let mut t = Task::default();
        t.status.state = state;
        t.status.timestamp = humantime::format_rfc3339_nanos(at).to_string();
        t
    }

    fn policy(condition: C, max_attempts: i64, window_s: i64) -> RestartPolicy {
        let spec = TaskSpec {
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(condition),
                delay: Some(2_000_000_000),
                max_attempts: Some(max_attempts),
                window: Some(window_s * 1_000_000_000),
            }),
            ..Default::default()
        };
        RestartPolicy::of(&spec)
    }

    #[test]
    fn defaults_are_swarmkits() {
        let p = RestartPolicy::of(&TaskSpec::default());
        assert_eq!(p.condition, Condition::Any);
        assert_eq!(p.delay, DEFAULT_DELAY);
        assert_eq!(p.max_attempts, 0);
    }

    #[test]
    fn conditions() {
        let now = SystemTime::now();
        let ok = ended(TaskState::Complete, now);
        let bad = ended(TaskState::Failed, now);
        assert!(!policy(C::NONE, 0, 0).allows(&bad, &[], now));
        assert!(!policy(C::ON_FAILURE, 0, 0).allows(&ok, &[], now));
        assert!(policy(C::ON_FAILURE, 0, 0).allows(&bad, &[], now));
        assert!(policy(C::ANY, 0, 0).allows(&ok, &[], now));
        assert_eq!(
            policy(C::ANY, 0, 0).start_at(&bad),
            now + Duration::from_secs(2)
        );
    }

    #[test]
    fn max_attempts_within_a_window() {
        let now = SystemTime::now();
        let old = ended(TaskState::Failed, now - Duration::from_secs(100));
        let recent = ended(TaskState::Failed, now - Duration::from_secs(1));
        let p = policy(C::ANY, 2, 0);
        assert!(p.allows(&recent, &[&old], now));
        assert!(!p.allows(&recent, &[&old, &recent], now));
        // With a 10 s window the old failure no longer counts.
        let p = policy(C::ANY, 2, 10);
        assert!(p.allows(&recent, &[&old, &recent], now));
    }
}
