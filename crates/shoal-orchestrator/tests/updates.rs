//! The updater's judgement: failures within the monitor period, failure actions, pauses,
//! the canary gate, and completion.

mod common;

use std::time::Duration;

use common::*;
use shoal_orchestrator::StatusChange;
use shoal_types::service::{
    ServiceSpecRollbackConfig, ServiceSpecUpdateConfigFailureActionEnum as F, UpdateStatus,
};

/// 5 replicas at spec 2, updating one at a time since a minute before `now()`.
fn updating(action: Option<F>, ratio: Option<f64>) -> Service {
    let mut svc = with_update(1, Duration::ZERO, None);
    let u = svc.spec.update_config.as_mut().unwrap();
    u.failure_action = action;
    u.max_failure_ratio = ratio;
    svc.previous_spec = Some(svc.spec.clone());
    svc.update_status = Some(UpdateStatus {
        state: "updating".into(),
        started_at: ts(now() - Duration::from_secs(60)),
        message: "update in progress".into(),
        ..Default::default()
    });
    svc
}

/// Slot 1 updated; its new task `a2` failed `ran` after it started running, and the restart
/// policy already replaced it with `a9`, running.
fn slot_one_failed(ran: Duration) -> Vec<T> {
    let mut tasks = old_five();
    tasks[0] = T::new("a", 1, "n1", TaskState::Shutdown)
        .version(1)
        .desired(TaskState::Shutdown);
    let started = now() - Duration::from_secs(30);
    tasks.push(
        T::new("a2", 1, "n1", TaskState::Failed)
            .version(2)
            .desired(TaskState::Shutdown)
            .ran_at(started)
            .ended_at(started + ran),
    );
    tasks.push(T::new("a9", 1, "n1", TaskState::Running).version(2));
    tasks
}

fn status_changes(p: &Plan) -> Vec<StatusChange> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            Action::SetUpdateStatus(c) => Some((**c).clone()),
            _ => None,
        })
        .collect()
}

fn created(p: &Plan) -> usize {
    p.actions
        .iter()
        .filter(|a| matches!(a, Action::Create(t) if t.spec_version == 2 && t.slot > 1))
        .count()
}

#[test]
fn a_task_failing_within_the_monitor_pauses_the_update_by_default() {
    let svc = updating(None, None);
    let p = run(
        &svc,
        slot_one_failed(Duration::from_secs(2)),
        &[node("n1")],
        now(),
    );
    let c = status_changes(&p);
    assert_eq!(c.len(), 1, "{:?}", p.actions);
    assert_eq!(c[0].state, "paused");
    assert_eq!(
        c[0].message,
        "update paused due to failure or early termination of task a2"
    );
    assert!(!c[0].rollback);
    assert_eq!(created(&p), 0, "no further slot is updated");
}

#[test]
fn a_failure_after_the_monitor_period_or_before_the_update_does_not_count() {
    let svc = updating(None, None);
    let p = run(
        &svc,
        slot_one_failed(Duration::from_secs(6)),
        &[node("n1")],
        now(),
    );
    assert!(status_changes(&p).is_empty(), "{:?}", p.actions);
    assert_eq!(created(&p), 1, "the update goes on");
    // A failure from before this update started (an earlier, resumed one) is not counted.
    let mut svc = updating(None, None);
    svc.update_status.as_mut().unwrap().started_at = ts(now());
    let p = run(
        &svc,
        slot_one_failed(Duration::from_secs(2)),
        &[node("n1")],
        now(),
    );
    assert!(status_changes(&p).is_empty(), "{:?}", p.actions);
}

#[test]
fn a_task_that_never_ran_counts_as_a_failure() {
    // It failed long after it was made, but it never ran: swarmkit's "startedAt is zero".
    let mut tasks = slot_one_failed(Duration::from_secs(20));
    let n = tasks.len();
    tasks[n - 2].0.running_at.clear();
    let c = status_changes(&run(&updating(None, None), tasks, &[node("n1")], now()));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].state, "paused");
    // With failure action continue it is counted, but the update goes on.
    let mut tasks = slot_one_failed(Duration::from_secs(20));
    tasks[n - 2].0.running_at.clear();
    let p = run(
        &updating(Some(F::CONTINUE), None),
        tasks,
        &[node("n1")],
        now(),
    );
    assert!(status_changes(&p).is_empty());
    assert_eq!(created(&p), 1);
}

#[test]
fn failure_action_rollback_returns_to_the_previous_spec() {
    let svc = updating(Some(F::ROLLBACK), None);
    let p = run(
        &svc,
        slot_one_failed(Duration::from_secs(1)),
        &[node("n1")],
        now(),
    );
    let c = status_changes(&p);
    assert_eq!(c.len(), 1, "{:?}", p.actions);
    assert_eq!(c[0].state, "rollback_started");
    assert_eq!(
        c[0].message,
        "update rolled back due to failure or early termination of task a2"
    );
    assert!(c[0].rollback);
    assert_eq!(c[0].spec_version, 2);
    // Without a previous spec there is nothing to return to: pause instead.
    let mut svc = updating(Some(F::ROLLBACK), None);
    svc.previous_spec = None;
    let c = status_changes(&run(
        &svc,
        slot_one_failed(Duration::from_secs(1)),
        &[node("n1")],
        now(),
    ));
    assert_eq!(c[0].state, "paused");
}

#[test]
fn a_rollback_is_never_rolled_back_it_pauses() {
    let mut svc = updating(Some(F::ROLLBACK), None);
    svc.update_status.as_mut().unwrap().state = "rollback_started".into();
    svc.spec.rollback_config = Some(ServiceSpecRollbackConfig::default());
    let c = status_changes(&run(
        &svc,
        slot_one_failed(Duration::from_secs(1)),
        &[node("n1")],
        now(),
    ));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].state, "rollback_paused");
    assert_eq!(
        c[0].message,
        "rollback paused due to failure or early termination of task a2"
    );
}

#[test]
fn the_max_failure_ratio_tolerates_that_share_of_slots() {
    // 5 slots, ratio 0.2: one failure is 0.2, not above it.
    let svc = updating(Some(F::PAUSE), Some(0.2));
    let p = run(
        &svc,
        slot_one_failed(Duration::from_secs(1)),
        &[node("n1")],
        now(),
    );
    assert!(status_changes(&p).is_empty(), "{:?}", p.actions);
    // A second failure passes it.
    let mut tasks = slot_one_failed(Duration::from_secs(1));
    let t = now() - Duration::from_secs(20);
    tasks.push(
        T::new("a3", 1, "n1", TaskState::Failed)
            .version(2)
            .desired(TaskState::Shutdown)
            .ran_at(t)
            .ended_at(t + Duration::from_secs(1)),
    );
    let c = status_changes(&run(&svc, tasks, &[node("n1")], now()));
    assert_eq!(c[0].state, "paused");
    assert!(
        c[0].message.ends_with("task a3"),
        "the latest: {}",
        c[0].message
    );
}

#[test]
fn a_paused_update_moves_nothing() {
    let mut svc = updating(None, None);
    svc.update_status.as_mut().unwrap().state = "paused".into();
    let p = run(&svc, old_five(), &[node("n1")], now());
    assert!(p.actions.is_empty(), "{:?}", p.actions);
}

fn canary(n: &str) -> Service {
    let mut svc = updating(Some(F::CONTINUE), None);
    svc.spec.labels = Some(
        [("shoal.update.pause-after".to_string(), n.to_string())]
            .into_iter()
            .collect(),
    );
    svc.spec.update_config.as_mut().unwrap().parallelism = Some(3);
    svc
}

#[test]
fn the_canary_gate_pauses_after_n_slots_run_the_new_spec() {
    // Parallelism 3, but the gate lets only 2 slots go.
    let svc = canary("2");
    let p = run(&svc, old_five(), &[node("n1")], now());
    assert_eq!(created_slots(&p), [1, 2]);
    // Both new tasks run: pause, and say how to go on.
    let mut tasks = old_five();
    for (i, id) in ["a", "b"].iter().enumerate() {
        tasks[i] = T::new(id, i as u64 + 1, "n1", TaskState::Shutdown)
            .version(1)
            .desired(TaskState::Shutdown);
        tasks.push(T::new(&format!("{id}2"), i as u64 + 1, "n1", TaskState::Running).version(2));
    }
    let p = run(&svc, tasks, &[node("n1")], now());
    let c = status_changes(&p);
    assert_eq!(c.len(), 1, "{:?}", p.actions);
    assert_eq!(c[0].state, "paused");
    assert!(
        c[0].message.contains("update paused after 2 of 5 tasks"),
        "{}",
        c[0].message
    );
    assert!(c[0].message.contains("service update --continue"));
    assert!(created_slots(&p).is_empty());
    // Resumed: the gate has done its job; the rest follows.
    let mut resumed = svc.clone();
    resumed.update_status.as_mut().unwrap().resumed = true;
    let mut tasks = old_five();
    for (i, id) in ["a", "b"].iter().enumerate() {
        tasks[i] = T::new(id, i as u64 + 1, "n1", TaskState::Shutdown)
            .version(1)
            .desired(TaskState::Shutdown);
        tasks.push(T::new(&format!("{id}2"), i as u64 + 1, "n1", TaskState::Running).version(2));
    }
    assert_eq!(
        created_slots(&run(&resumed, tasks, &[node("n1")], now())),
        [3, 4, 5]
    );
}

#[test]
fn the_update_completes_once_every_slot_ran_the_new_spec_for_the_monitor_period() {
    let svc = updating(None, None);
    let new: Vec<T> = (1..=5)
        .map(|s| {
            T::new(&format!("n{s}"), s, "n1", TaskState::Running)
                .version(2)
                .ended_at(now() - Duration::from_secs(3))
        })
        .collect();
    let p = run(&svc, new, &[node("n1")], now());
    assert!(status_changes(&p).is_empty());
    assert_eq!(p.wake_at, Some(now() + Duration::from_secs(2)));
    let new: Vec<T> = (1..=5)
        .map(|s| {
            T::new(&format!("n{s}"), s, "n1", TaskState::Running)
                .version(2)
                .ended_at(now() - Duration::from_secs(6))
        })
        .collect();
    let c = status_changes(&run(&svc, new, &[node("n1")], now()));
    assert_eq!(c[0].state, "completed");
    assert_eq!(c[0].message, "update completed");
}

#[test]
fn a_finished_automatic_rollback_still_says_why() {
    let mut svc = updating(None, None);
    let why = "update rolled back due to failure or early termination of task a2";
    let status = svc.update_status.as_mut().unwrap();
    status.state = "rollback_started".into();
    status.message = why.into();
    let settled = |svc: &Service| {
        let new: Vec<T> = (1..=5)
            .map(|s| {
                T::new(&format!("n{s}"), s, "n1", TaskState::Running)
                    .version(2)
                    .ended_at(now() - Duration::from_secs(6))
            })
            .collect();
        status_changes(&run(svc, new, &[node("n1")], now()))
    };
    let c = settled(&svc);
    assert_eq!(c[0].state, "rollback_completed");
    assert_eq!(c[0].message, why);
    // A manual rollback finishes with swarmkit's text.
    svc.update_status.as_mut().unwrap().message = "manually requested rollback".into();
    assert_eq!(settled(&svc)[0].message, "rollback completed");
}

#[test]
fn a_global_service_rolls_node_by_node_with_its_parallelism() {
    let mut svc = service(None, None);
    svc.spec_version = 2;
    svc.spec.update_config = with_update(1, Duration::ZERO, None).spec.update_config;
    let nodes = [node("n1"), node("n2"), node("n3")];
    let old = |n: &str| T::new(&format!("t{n}"), 0, n, TaskState::Running).version(1);
    let p = run(&svc, vec![old("n1"), old("n2"), old("n3")], &nodes, now());
    let made: Vec<String> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Create(t) => Some(t.node_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(made, ["n1"], "one node at a time: {:?}", p.actions);
    // While n1's new task starts, nothing else moves.
    let tasks = vec![
        old("n1").desired(TaskState::Shutdown),
        T::new("new1", 0, "n1", TaskState::Starting).version(2),
        old("n2"),
        old("n3"),
    ];
    let p = run(&svc, tasks, &nodes, now());
    assert!(
        p.actions.iter().all(|a| !matches!(a, Action::Create(_))),
        "{:?}",
        p.actions
    );
}
