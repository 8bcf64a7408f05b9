//! Jobs through the stock `docker` CLI against a real daemon (process driver): the CLI's job
//! progress, `service ls` counting completions of the current iteration only, and
//! `service update --force` re-running the job as a new iteration.

use shoal_testkit::{Daemon, success as ok};

/// The REPLICAS cell of `docker service ls` for `name`.
fn replicas(d: &Daemon, name: &str) -> String {
    let ls = ok(d.docker(&[
        "service",
        "ls",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Replicas}}",
    ]));
    ls.trim().to_string()
}

/// `(JobIteration.Index, state, desired state)` of every task of `name`, history included.
fn tasks(d: &Daemon, name: &str) -> Vec<(u64, String, String)> {
    let ids = ok(d.docker(&["service", "ps", "-q", "--no-trunc", name]));
    let mut args = vec![
        "inspect",
        "--type",
        "task",
        "--format",
        "{{.JobIteration.Index}} {{.Status.State}} {{.DesiredState}}",
    ];
    args.extend(ids.split_whitespace());
    ok(d.docker(&args))
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].parse().unwrap(), f[1].into(), f[2].into())
        })
        .collect()
}

fn job_iteration(d: &Daemon, name: &str) -> u64 {
    let out = ok(d.docker(&[
        "service",
        "inspect",
        "--format",
        "{{.JobStatus.JobIteration.Index}}",
        name,
    ]));
    out.trim().parse().unwrap()
}

#[test]
fn docker_cli_runs_a_replicated_job_and_reruns_it_on_force_update() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_shoal"), &["--driver", "process"]).unwrap();
    d.init_swarm();
    // Not detached: the CLI follows the tasks of the service's JobIteration until 2 complete.
    let created = ok(d.docker(&[
        "service",
        "create",
        "--mode",
        "replicated-job",
        "--replicas",
        "2",
        "--name",
        "once",
        "busybox",
        "sh",
        "-c",
        "exit 0",
    ]));
    assert!(created.contains("job complete"), "{created}");
    assert_eq!(replicas(&d, "once"), "0/2 (2/2 completed)");
    let first = job_iteration(&d, "once");
    let last_execution = ok(d.docker(&[
        "service",
        "inspect",
        "--format",
        "{{.JobStatus.LastExecution}}",
        "once",
    ]));
    assert!(last_execution.trim().starts_with("20"), "{last_execution}");
    let done = |i: u64| (i, "complete".to_string(), "running".to_string());
    assert_eq!(tasks(&d, "once"), [done(first), done(first)]);

    // A forced update is a new execution: two new tasks run, the old ones stay as history.
    let updated = ok(d.docker(&["service", "update", "--force", "once"]));
    assert!(updated.contains("job complete"), "{updated}");
    let second = job_iteration(&d, "once");
    assert!(second > first, "{first} -> {second}");
    assert_eq!(replicas(&d, "once"), "0/2 (2/2 completed)");
    let mut all = tasks(&d, "once");
    all.sort();
    let history = (first, "complete".to_string(), "shutdown".to_string());
    assert_eq!(
        all,
        [history.clone(), history, done(second), done(second)],
        "{all:?}"
    );
    ok(d.docker(&["service", "rm", "once"]));
}
