//! Job iterations: each execution of a job is told apart by `JobIteration`; only tasks of the
//! current one count towards completion, and new tasks carry it.

mod common;

use common::*;
use shoal_orchestrator::plan_global_job;
use shoal_types::Version;
use shoal_types::service::{JobStatus, ServiceSpecModeReplicatedJob};

/// A replicated job at `iteration`.
fn job(max: i64, total: i64, iteration: u64) -> Service {
    let mut s = service(Some(1), None);
    s.spec.mode = Some(ServiceSpecMode {
        replicated_job: Some(ServiceSpecModeReplicatedJob {
            max_concurrent: Some(max),
            total_completions: Some(total),
        }),
        ..Default::default()
    });
    s.job_status = Some(JobStatus {
        job_iteration: Version { index: iteration },
        ..Default::default()
    });
    s
}

fn global_job(iteration: u64) -> Service {
    let mut s = job(1, 1, iteration);
    s.spec.mode = Some(ServiceSpecMode {
        global_job: Some(Default::default()),
        ..Default::default()
    });
    s
}

/// A task of `iteration`.
fn of(iteration: u64, t: T) -> T {
    let mut t = t;
    t.0.job_iteration = Some(Version { index: iteration });
    t
}

fn created(p: &Plan) -> Vec<&Task> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            Action::Create(t) => Some(&**t),
            _ => None,
        })
        .collect()
}

#[test]
fn new_tasks_carry_the_current_iteration() {
    let svc = job(2, 2, 7);
    let p = run(&svc, vec![], &[node("n1")], now());
    let made = created(&p);
    assert_eq!(made.len(), 2);
    assert!(
        made.iter()
            .all(|t| t.job_iteration == Some(Version { index: 7 }))
    );
}

#[test]
fn completions_of_an_old_iteration_do_not_count() {
    // A label-only update: the spec version is unchanged, the iteration is not.
    let svc = job(2, 2, 1);
    let tasks = vec![
        of(0, T::new("a", 0, "n1", TaskState::Complete)),
        of(0, T::new("b", 1, "n1", TaskState::Complete)),
    ];
    let p = run(&svc, tasks, &[node("n1")], now());
    assert_eq!(created_slots(&p), [0, 1]);
    assert!(
        created(&p)
            .iter()
            .all(|t| t.job_iteration == Some(Version { index: 1 }))
    );
    // The old completions become history: shut down, never deleted.
    assert_eq!(
        desired(&p),
        [
            ("a".to_string(), TaskState::Shutdown),
            ("b".to_string(), TaskState::Shutdown)
        ]
    );
    assert!(!p.actions.iter().any(|a| matches!(a, Action::Delete { .. })));
}

#[test]
fn the_current_iteration_counts_towards_completion_and_concurrency() {
    let svc = job(1, 2, 3);
    // Old iteration: one still running (stopped now), one complete (history already).
    let old = [
        of(2, T::new("o1", 0, "n1", TaskState::Running)),
        of(
            2,
            T::new("o2", 1, "n1", TaskState::Complete).desired(TaskState::Shutdown),
        ),
    ];
    // Current: slot 0 done, slot 1 running; max concurrent 1 leaves no room.
    let tasks: Vec<T> = old
        .into_iter()
        .chain([
            of(3, T::new("c1", 0, "n1", TaskState::Complete)),
            of(3, T::new("c2", 1, "n1", TaskState::Running)),
        ])
        .collect();
    let p = run(&svc, tasks, &[node("n1")], now());
    assert!(created(&p).is_empty(), "{:?}", p.actions);
    assert_eq!(desired(&p), [("o1".to_string(), TaskState::Shutdown)]);
    // Both current slots complete: the job is done, whatever old iterations left.
    let done = vec![
        of(
            2,
            T::new("o1", 0, "n1", TaskState::Shutdown).desired(TaskState::Shutdown),
        ),
        of(3, T::new("c1", 0, "n1", TaskState::Complete)),
        of(3, T::new("c2", 1, "n1", TaskState::Complete)),
    ];
    assert!(run(&svc, done, &[node("n1")], now()).actions.is_empty());
}

#[test]
fn tasks_stored_without_an_iteration_belong_to_iteration_zero() {
    // A job stored before JobStatus existed: neither side has an iteration, nothing re-runs.
    let mut svc = job(1, 1, 0);
    svc.job_status = None;
    let p = run(
        &svc,
        vec![T::new("a", 0, "n1", TaskState::Complete)],
        &[node("n1")],
        now(),
    );
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    // Its first update (iteration 1) runs it again.
    let svc = job(1, 1, 1);
    let p = run(
        &svc,
        vec![T::new("a", 0, "n1", TaskState::Complete)],
        &[node("n1")],
        now(),
    );
    assert_eq!(created_slots(&p), [0]);
}

#[test]
fn a_global_job_runs_again_on_every_node_for_a_new_iteration() {
    let nodes = [node("n1"), node("n2")];
    let ok = |_: &Node, _: &TaskSpec| true;
    let ctx = Context {
        now: now(),
        nodes: &nodes,
        constraints_ok: &ok,
    };
    let svc = global_job(5);
    let tasks = [
        of(4, T::new("old1", 0, "n1", TaskState::Complete)).0,
        of(5, T::new("new2", 0, "n2", TaskState::Complete)).0,
    ];
    let p = plan_global_job(&svc, &tasks, &ctx);
    let made = created(&p);
    assert_eq!(made.len(), 1, "{:?}", p.actions);
    assert_eq!(made[0].node_id, "n1");
    assert_eq!(made[0].job_iteration, Some(Version { index: 5 }));
    assert_eq!(desired(&p), [("old1".to_string(), TaskState::Shutdown)]);
}
