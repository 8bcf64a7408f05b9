//! The task state machine as pure functions, after swarmkit's `exec.Do`: given the task's
//! observed state and its desired state, what to do next; given a result, the next status.
//! States only move forward.

use shoal_types::TaskState;
use shoal_types::task::{ContainerStatus, TaskStatus};

use crate::driver::{Exit, Observed};

/// The next thing a runner does for its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing until the desired state changes.
    Noop,
    /// Move to the state with the message, without touching the runtime.
    Transition(TaskState, &'static str),
    /// `Driver::prepare`, then READY "prepared".
    Prepare,
    /// `Driver::start`, then RUNNING "started".
    Start,
    /// `Driver::wait`, then COMPLETE "finished" or FAILED.
    Wait,
    /// `Driver::shutdown`, then SHUTDOWN "shutdown".
    Shutdown,
}

/// What to do for a task in `state` that the manager wants in `desired`.
pub fn plan(state: TaskState, desired: TaskState) -> Step {
    use TaskState as S;
    // Desired SHUTDOWN (or REMOVE) bounds the agent's work: stop whatever has not ended.
    if desired >= S::Shutdown {
        return if state >= S::Complete {
            Step::Noop
        } else {
            Step::Shutdown
        };
    }
    if state > desired {
        return Step::Noop;
    }
    // These proceed even past the desired state (a READY replacement still gets prepared).
    match state {
        S::Preparing => return Step::Prepare,
        S::Starting => return Step::Start,
        S::Running => return Step::Wait,
        _ => {}
    }
    // The rest pause until the desired state is beyond them.
    if state >= desired {
        return Step::Noop;
    }
    match state {
        S::New | S::Pending | S::Assigned => Step::Transition(S::Accepted, "accepted"),
        S::Accepted => Step::Transition(S::Preparing, "preparing"),
        S::Ready => Step::Transition(S::Starting, "starting"),
        _ => Step::Noop,
    }
}

/// `status` moved to `state` with `message` (and no error). A move backwards (a late result
/// racing a newer state) leaves the status as it was.
pub fn transition(status: &TaskStatus, state: TaskState, message: &str, now: &str) -> TaskStatus {
    if state < status.state {
        return status.clone();
    }
    TaskStatus {
        timestamp: now.to_string(),
        state,
        message: message.to_string(),
        err: String::new(),
        ..status.clone()
    }
}

/// A fatal error: REJECTED before STARTING, FAILED from STARTING on; the message stays.
pub fn fatal(status: &TaskStatus, err: &str, now: &str) -> TaskStatus {
    let state = if status.state < TaskState::Starting {
        TaskState::Rejected
    } else {
        TaskState::Failed
    };
    TaskStatus {
        timestamp: now.to_string(),
        state: state.max(status.state),
        err: err.to_string(),
        ..status.clone()
    }
}

/// A temporary error: the state stays, the error is shown while the runner retries.
pub fn retrying(status: &TaskStatus, err: &str, now: &str) -> TaskStatus {
    TaskStatus {
        timestamp: now.to_string(),
        err: err.to_string(),
        ..status.clone()
    }
}

/// The task started (or was found running): RUNNING with what runs.
pub fn started(status: &TaskStatus, observed: &Observed, message: &str, now: &str) -> TaskStatus {
    TaskStatus {
        container_status: Some(observed.container.clone()),
        port_status: observed
            .ports
            .clone()
            .or_else(|| status.port_status.clone()),
        ..transition(status, TaskState::Running, message, now)
    }
}

/// The task exited: COMPLETE "finished" on 0, else FAILED with `task: non-zero exit (N)`.
pub fn exited(status: &TaskStatus, exit: &Exit, now: &str) -> TaskStatus {
    let container = ContainerStatus {
        pid: 0,
        exit_code: exit.code,
        ..status.container_status.clone().unwrap_or_default()
    };
    let next = match exit.error() {
        None => transition(status, TaskState::Complete, "finished", now),
        Some(err) => fatal(status, &err, now),
    };
    TaskStatus {
        container_status: Some(container),
        ..next
    }
}

/// The task was stopped on request: SHUTDOWN "shutdown", with its exit code when known.
pub fn shut_down(status: &TaskStatus, observed: Option<&Observed>, now: &str) -> TaskStatus {
    let next = transition(status, TaskState::Shutdown, "shutdown", now);
    match (observed, &status.container_status) {
        (Some(o), _) if o.phase == crate::driver::Phase::Exited => TaskStatus {
            container_status: Some(ContainerStatus {
                pid: 0,
                ..o.container.clone()
            }),
            ..next
        },
        _ => next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState as S;

    #[test]
    fn a_task_walks_to_running() {
        let walk = [
            (S::Assigned, Step::Transition(S::Accepted, "accepted")),
            (S::Accepted, Step::Transition(S::Preparing, "preparing")),
            (S::Preparing, Step::Prepare),
            (S::Ready, Step::Transition(S::Starting, "starting")),
            (S::Starting, Step::Start),
            (S::Running, Step::Wait),
            (S::Complete, Step::Noop),
        ];
        for (state, step) in walk {
            assert_eq!(plan(state, S::Running), step, "{state:?}");
        }
    }

    #[test]
    fn desired_ready_pauses_after_prepare() {
        assert_eq!(plan(S::Preparing, S::Ready), Step::Prepare);
        assert_eq!(plan(S::Ready, S::Ready), Step::Noop);
        assert_eq!(
            plan(S::Ready, S::Running),
            Step::Transition(S::Starting, "starting")
        );
    }

    #[test]
    fn shutdown_stops_anything_not_ended() {
        for s in [S::Assigned, S::Preparing, S::Ready, S::Starting, S::Running] {
            assert_eq!(plan(s, S::Shutdown), Step::Shutdown, "{s:?}");
            assert_eq!(plan(s, S::Remove), Step::Shutdown, "{s:?}");
        }
        for s in [S::Complete, S::Shutdown, S::Failed, S::Rejected] {
            assert_eq!(plan(s, S::Shutdown), Step::Noop, "{s:?}");
            assert_eq!(plan(s, S::Running), Step::Noop, "{s:?}");
        }
    }

    #[test]
    fn errors_reject_before_starting_and_fail_after() {
        let at = |state| TaskStatus {
            state,
            message: "m".into(),
            ..Default::default()
        };
        let r = fatal(&at(S::Preparing), "No such image: x", "t");
        assert_eq!(
            (r.state, r.err.as_str(), r.message.as_str()),
            (S::Rejected, "No such image: x", "m")
        );
        assert_eq!(fatal(&at(S::Starting), "boom", "t").state, S::Failed);
        assert_eq!(fatal(&at(S::Running), "boom", "t").state, S::Failed);
    }

    #[test]
    fn exits_complete_or_fail_with_the_code() {
        let running = TaskStatus {
            state: S::Running,
            message: "started".into(),
            ..Default::default()
        };
        let done = exited(
            &running,
            &Exit {
                code: 0,
                cause: None,
            },
            "t",
        );
        assert_eq!(
            (done.state, done.message.as_str()),
            (S::Complete, "finished")
        );
        let failed = exited(
            &running,
            &Exit {
                code: 3,
                cause: None,
            },
            "t",
        );
        assert_eq!(failed.state, S::Failed);
        assert_eq!(failed.err, "task: non-zero exit (3)");
        assert_eq!(failed.container_status.unwrap().exit_code, 3);
    }

    #[test]
    fn states_never_move_back() {
        let failed = TaskStatus {
            state: S::Failed,
            ..Default::default()
        };
        assert_eq!(fatal(&failed, "x", "t").state, S::Failed);
        let rejected = TaskStatus {
            state: S::Rejected,
            ..Default::default()
        };
        assert_eq!(fatal(&rejected, "x", "t").state, S::Rejected);
    }
}
