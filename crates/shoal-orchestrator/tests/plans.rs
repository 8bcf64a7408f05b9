//! The reconcilers' rules, each on hand-made state.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use shoal_orchestrator::plan_reaper;
use shoal_types::Availability;

#[test]
fn creates_missing_slots_from_one_and_fills_gaps() {
    let svc = service(Some(3), None);
    let p = run(&svc, vec![], &[node("n1")], now());
    assert_eq!(created_slots(&p), [1, 2, 3]);
    let p = run(
        &svc,
        vec![T::new("a", 2, "n1", TaskState::Running)],
        &[node("n1")],
        now(),
    );
    assert_eq!(created_slots(&p), [1, 3]);
    for a in &p.actions {
        if let Action::Create(t) = a {
            assert_eq!(t.status.state, TaskState::Pending);
            assert_eq!(t.desired_state, TaskState::Running);
            assert_eq!(t.service_name, "web");
        }
    }
}

#[test]
fn scale_down_prefers_not_running_then_busiest_node() {
    let svc = service(Some(2), None);
    let tasks = vec![
        T::new("a", 1, "n1", TaskState::Running),
        T::new("b", 2, "n1", TaskState::Running),
        T::new("c", 3, "n2", TaskState::Running),
        T::new("d", 4, "n2", TaskState::Assigned),
    ];
    let p = run(&svc, tasks, &[node("n1"), node("n2")], now());
    // d is not running yet; then one of n1's two copies (n1 has 2, n2 then has 1).
    assert_eq!(
        desired(&p),
        [
            ("d".to_string(), TaskState::Remove),
            ("b".to_string(), TaskState::Remove)
        ]
    );
    assert!(created_slots(&p).is_empty());
}

#[test]
fn failed_task_restarts_after_the_delay_in_its_slot() {
    let svc = service(Some(1), None);
    let failed_at = now() - Duration::from_secs(2);
    let tasks = || vec![T::new("a", 1, "n1", TaskState::Failed).ended_at(failed_at)];
    let early = run(&svc, tasks(), &[node("n1")], now());
    assert!(
        early.actions.is_empty(),
        "waits for the 5 s delay: {early:?}"
    );
    assert_eq!(early.wake_at, Some(failed_at + Duration::from_secs(5)));
    let later = run(
        &svc,
        tasks(),
        &[node("n1")],
        failed_at + Duration::from_secs(5),
    );
    assert_eq!(desired(&later), [("a".to_string(), TaskState::Shutdown)]);
    assert_eq!(created_slots(&later), [1]);
}

#[test]
fn restart_condition_none_and_on_failure() {
    let nodes = [node("n1")];
    let none = service(Some(1), Some(Cond::NONE));
    let p = run(
        &none,
        vec![T::new("a", 1, "n1", TaskState::Failed)],
        &nodes,
        now() + Duration::from_secs(60),
    );
    assert_eq!(desired(&p), [("a".to_string(), TaskState::Shutdown)]);
    assert!(created_slots(&p).is_empty());
    // Once shut down, the slot stays empty for this spec version...
    let p = run(
        &none,
        vec![T::new("a", 1, "n1", TaskState::Failed).desired(TaskState::Shutdown)],
        &nodes,
        now(),
    );
    assert!(p.actions.is_empty(), "{p:?}");
    // ...and is refilled after the spec changes.
    let mut changed = none.clone();
    changed.spec_version = 2;
    let p = run(
        &changed,
        vec![T::new("a", 1, "n1", TaskState::Failed).desired(TaskState::Shutdown)],
        &nodes,
        now(),
    );
    assert_eq!(created_slots(&p), [1]);

    let on_failure = service(Some(1), Some(Cond::ON_FAILURE));
    let p = run(
        &on_failure,
        vec![T::new("a", 1, "n1", TaskState::Complete)],
        &nodes,
        now() + Duration::from_secs(60),
    );
    assert!(
        created_slots(&p).is_empty(),
        "a completed task is not restarted on-failure"
    );
}

#[test]
fn tasks_on_down_or_drained_nodes_are_replaced_at_once() {
    let svc = service(Some(2), None);
    let mut down = node("n1");
    down.status.state = NodeState::Down;
    let mut drained = node("n2");
    drained.spec.availability = Availability::Drain;
    let tasks = vec![
        T::new("a", 1, "n1", TaskState::Running),
        T::new("b", 2, "n2", TaskState::Running),
    ];
    let p = run(&svc, tasks, &[down, drained, node("n3")], now());
    assert_eq!(
        desired(&p),
        [
            ("a".to_string(), TaskState::Shutdown),
            ("b".to_string(), TaskState::Shutdown)
        ]
    );
    assert_eq!(created_slots(&p), [1, 2]);
}

#[test]
fn a_start_first_service_keeps_its_drained_task_until_the_replacement_runs() {
    use shoal_types::service::{ServiceSpecUpdateConfig, ServiceSpecUpdateConfigOrderEnum};
    let mut svc = service(Some(1), None);
    svc.spec.update_config = Some(ServiceSpecUpdateConfig {
        order: Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
        ..Default::default()
    });
    let mut drained = node("n1");
    drained.spec.availability = Availability::Drain;
    let nodes = [drained, node("n2")];
    // The replacement is created; the drained task goes on running.
    let p = run(
        &svc,
        vec![T::new("a", 1, "n1", TaskState::Running)],
        &nodes,
        now(),
    );
    assert_eq!(created_slots(&p), [1]);
    assert!(desired(&p).is_empty(), "{:?}", p.actions);
    // While the replacement starts, nothing moves.
    let starting = vec![
        T::new("a", 1, "n1", TaskState::Running),
        T::new("a2", 1, "", TaskState::Pending),
    ];
    assert!(run(&svc, starting, &nodes, now()).actions.is_empty());
    // Once it runs, the drained task stops.
    let running = vec![
        T::new("a", 1, "n1", TaskState::Running),
        T::new("a2", 1, "n2", TaskState::Running),
    ];
    let p = run(&svc, running, &nodes, now());
    assert_eq!(desired(&p), [("a".to_string(), TaskState::Shutdown)]);
    assert!(created_slots(&p).is_empty());
    // A node that is down is not waited for, start-first or not.
    let mut down = node("n1");
    down.status.state = NodeState::Down;
    let p = run(
        &svc,
        vec![T::new("a", 1, "n1", TaskState::Running)],
        &[down, node("n2")],
        now(),
    );
    assert_eq!(desired(&p), [("a".to_string(), TaskState::Shutdown)]);
    assert_eq!(created_slots(&p), [1]);
}

#[test]
fn update_replaces_one_task_at_a_time() {
    let mut svc = service(Some(3), None);
    svc.spec_version = 2;
    let old = |id: &str, slot| T::new(id, slot, "n1", TaskState::Running).version(1);
    let p = run(
        &svc,
        vec![old("a", 1), old("b", 2), old("c", 3)],
        &[node("n1")],
        now(),
    );
    assert_eq!(desired(&p), [("a".to_string(), TaskState::Shutdown)]);
    assert_eq!(created_slots(&p), [1]);
    // While the new slot-1 task is starting, nothing else moves.
    let tasks = vec![
        old("a", 1).desired(TaskState::Shutdown),
        T::new("a2", 1, "n1", TaskState::Assigned).version(2),
        old("b", 2),
        old("c", 3),
    ];
    assert!(run(&svc, tasks, &[node("n1")], now()).actions.is_empty());
    // Once it runs, the next one goes.
    let tasks = vec![
        old("a", 1).desired(TaskState::Shutdown),
        T::new("a2", 1, "n1", TaskState::Running).version(2),
        old("b", 2),
        old("c", 3),
    ];
    let p = run(&svc, tasks, &[node("n1")], now());
    assert_eq!(desired(&p), [("b".to_string(), TaskState::Shutdown)]);
}

#[test]
fn global_follows_eligible_nodes() {
    let svc = service(None, None);
    let mut paused = node("n3");
    paused.spec.availability = Availability::Pause;
    let mut down = node("n4");
    down.status.state = NodeState::Down;
    let tasks = vec![
        T::new("x", 0, "n3", TaskState::Running),
        T::new("y", 0, "n4", TaskState::Running),
    ];
    let p = run(&svc, tasks, &[node("n1"), node("n2"), paused, down], now());
    let created: Vec<String> = p
        .actions
        .iter()
        .filter_map(|a| {
            if let Action::Create(t) = a {
                Some(t.node_id.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        created,
        ["n1", "n2"],
        "paused keeps its task, down gets none"
    );
    assert_eq!(desired(&p), [("y".to_string(), TaskState::Shutdown)]);
}

#[test]
fn reaper_keeps_history_per_slot_and_removes_orphans() {
    let services = BTreeSet::from(["svc".to_string()]);
    let mut tasks: Vec<Task> = (1..=8)
        .map(|i| {
            T::new(&format!("old{i}"), 1, "n1", TaskState::Failed)
                .desired(TaskState::Shutdown)
                .index(i)
                .0
        })
        .collect();
    tasks.push(T::new("live", 1, "n1", TaskState::Running).index(100).0);
    tasks.push(
        T::new("gone", 2, "n1", TaskState::Shutdown)
            .desired(TaskState::Remove)
            .0,
    );
    let mut orphan = T::new("orphan", 1, "n1", TaskState::Running).0;
    orphan.service_id = "deleted".into();
    tasks.push(orphan);
    let p = plan_reaper(&tasks, &services, 5);
    let deleted: BTreeSet<String> = p
        .actions
        .iter()
        .filter_map(|a| {
            if let Action::Delete { task_id } = a {
                Some(task_id.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        deleted,
        BTreeSet::from(["old1", "old2", "old3", "gone"].map(String::from))
    );
    assert!(p.actions.contains(&Action::SetDesired {
        task_id: "orphan".into(),
        state: TaskState::Remove
    }));
    assert!(
        plan_reaper(&tasks, &services, -1)
            .actions
            .iter()
            .all(|a| !matches!(a, Action::Delete { task_id } if task_id.starts_with("old")))
    );
}

fn job(max: i64, total: i64) -> Service {
    let mut s = service(Some(1), None);
    s.spec.mode = Some(ServiceSpecMode {
        replicated_job: Some(shoal_types::service::ServiceSpecModeReplicatedJob {
            max_concurrent: Some(max),
            total_completions: Some(total),
        }),
        ..Default::default()
    });
    s
}

fn run_job(svc: &Service, tasks: Vec<T>) -> Plan {
    run(svc, tasks, &[node("n1")], now())
}

#[test]
fn replicated_job_runs_to_total_completions_at_most_max_concurrent() {
    let svc = job(2, 5);
    // Slots count from 0, as in swarmkit.
    assert_eq!(created_slots(&run_job(&svc, vec![])), [0, 1]);
    // Slot 0 completed, slot 1 running: one more may start.
    let p = run_job(
        &svc,
        vec![
            T::new("a", 0, "n1", TaskState::Complete),
            T::new("b", 1, "n1", TaskState::Running),
        ],
    );
    assert_eq!(created_slots(&p), [2]);
    // Four done, one running: nothing more to start; completed tasks are never rerun.
    let done: Vec<T> = (0..4)
        .map(|i| T::new(&format!("d{i}"), i, "n1", TaskState::Complete))
        .collect();
    let mut all = done;
    all.push(T::new("e", 4, "n1", TaskState::Running));
    assert!(run_job(&svc, all).actions.is_empty());
    // All five complete: done.
    let done: Vec<T> = (0..5)
        .map(|i| T::new(&format!("d{i}"), i, "n1", TaskState::Complete))
        .collect();
    assert!(run_job(&svc, done).actions.is_empty());
}

#[test]
fn a_new_job_iteration_starts_over() {
    let mut svc = job(1, 1);
    // What `docker service update --force` leaves: a new spec version and the next iteration.
    svc.spec_version = 2;
    svc.job_status = Some(shoal_types::service::JobStatus {
        job_iteration: shoal_types::Version { index: 1 },
        ..Default::default()
    });
    let p = run_job(&svc, vec![T::new("old", 0, "n1", TaskState::Complete)]);
    assert_eq!(desired(&p), [("old".to_string(), TaskState::Shutdown)]);
    assert_eq!(created_slots(&p), [0]);
}

#[test]
fn parallelism_replaces_that_many_slots_at_once_stop_first() {
    let svc = with_update(2, Duration::ZERO, None);
    let p = run(&svc, old_five(), &[node("n1")], now());
    assert_eq!(
        desired(&p),
        [
            ("a".to_string(), TaskState::Shutdown),
            ("b".to_string(), TaskState::Shutdown)
        ]
    );
    assert_eq!(created_slots(&p), [1, 2]);
    // One of the two new tasks runs: one more slot goes, never more than two in flight.
    let mut tasks = old_five();
    tasks[0] = T::new("a", 1, "n1", TaskState::Running)
        .version(1)
        .desired(TaskState::Shutdown);
    tasks[1] = T::new("b", 2, "n1", TaskState::Running)
        .version(1)
        .desired(TaskState::Shutdown);
    tasks.push(T::new("a2", 1, "n1", TaskState::Running).version(2));
    tasks.push(T::new("b2", 2, "n1", TaskState::Starting).version(2));
    let p = run(&svc, tasks, &[node("n1")], now());
    assert_eq!(desired(&p), [("c".to_string(), TaskState::Shutdown)]);
    assert_eq!(created_slots(&p), [3]);
    // Parallelism 0 means all at once.
    let all = with_update(0, Duration::ZERO, None);
    assert_eq!(
        created_slots(&run(&all, old_five(), &[node("n1")], now())),
        [1, 2, 3, 4, 5]
    );
}

#[test]
fn a_delay_waits_after_each_slot_runs() {
    let svc = with_update(1, Duration::from_secs(10), None);
    let mut tasks = old_five();
    tasks[0] = T::new("a", 1, "n1", TaskState::Shutdown)
        .version(1)
        .desired(TaskState::Shutdown);
    // Slot 1's new task has run since `now`: slot 2 waits 10 s.
    tasks.push(
        T::new("a2", 1, "n1", TaskState::Running)
            .version(2)
            .ended_at(now()),
    );
    let p = run(&svc, tasks, &[node("n1")], now() + Duration::from_secs(3));
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(p.wake_at, Some(now() + Duration::from_secs(10)));
    let mut tasks = old_five();
    tasks[0] = T::new("a", 1, "n1", TaskState::Shutdown)
        .version(1)
        .desired(TaskState::Shutdown);
    tasks.push(
        T::new("a2", 1, "n1", TaskState::Running)
            .version(2)
            .ended_at(now()),
    );
    let p = run(&svc, tasks, &[node("n1")], now() + Duration::from_secs(11));
    assert_eq!(created_slots(&p), [2]);
}

#[test]
fn start_first_keeps_the_old_task_until_the_new_one_runs() {
    let svc = with_update(1, Duration::ZERO, Some("start-first"));
    let p = run(&svc, old_five(), &[node("n1")], now());
    assert!(
        desired(&p).is_empty(),
        "nothing stops first: {:?}",
        p.actions
    );
    assert_eq!(created_slots(&p), [1]);
    // While the new task starts, both live; nothing else moves.
    let mut tasks = old_five();
    tasks.push(T::new("a2", 1, "n1", TaskState::Starting).version(2));
    let p = run(&svc, tasks, &[node("n1")], now());
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    // Once it runs, the old task of slot 1 stops and slot 2's new task starts (b keeps
    // running meanwhile: never fewer than five up).
    let mut tasks = old_five();
    tasks.push(T::new("a2", 1, "n1", TaskState::Running).version(2));
    let p = run(&svc, tasks, &[node("n1")], now());
    assert_eq!(desired(&p), [("a".to_string(), TaskState::Shutdown)]);
    assert_eq!(created_slots(&p), [2]);
}
