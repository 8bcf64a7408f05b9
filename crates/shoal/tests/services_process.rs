//! Services end to end with both drivers: the real daemon places, starts, restarts, scales,
//! updates and removes host processes (process driver) or containers (docker driver, on the
//! real engine), and a daemon killed in the middle comes back without starting duplicates.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use shoal_testkit::{Daemon, wait_for};

/// Each test run uses its own sleep length, so its processes can be counted exactly.
fn marker() -> String {
    format!("{}", 40_000 + std::process::id() % 20_000)
}

/// How one driver runs the test's sleeper.
struct Driver {
    name: &'static str,
    image: &'static str,
    /// The command, and the exact command line its process shows on the host.
    command: fn(&str) -> (Vec<String>, String),
}

const PROCESS: Driver = Driver {
    name: "process",
    image: "busybox",
    command: |m| {
        (
            vec!["/bin/sh".into(), "-c".into(), format!("exec sleep {m}")],
            format!("sleep {m}"),
        )
    },
};

const DOCKER: Driver = Driver {
    name: "docker",
    image: "shoal-test-busybox:1",
    command: |m| {
        (
            vec!["/bin/busybox".into(), "sleep".into(), m.into()],
            format!("/bin/busybox sleep {m}"),
        )
    },
};

fn processes(k: &Driver, marker: &str) -> usize {
    let out = Command::new("pgrep")
        .args(["-fx", &(k.command)(marker).1])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn spec(k: &Driver, replicas: u64, marker: &str, env: &[&str]) -> Value {
    json!({
        "Name": "web",
        "Mode": {"Replicated": {"Replicas": replicas}},
        "TaskTemplate": {
            "ContainerSpec": {"Image": k.image, "Command": (k.command)(marker).0, "Env": env, "StopGracePeriod": 2_000_000_000u64},
            "RestartPolicy": {"Condition": "any", "Delay": 1_000_000_000u64}
        }
    })
}

fn tasks(d: &Daemon) -> Vec<Value> {
    let r = d.http(
        "GET",
        "/tasks?filters=%7B%22service%22%3A%5B%22web%22%5D%7D",
        None,
    );
    match r.json() {
        Value::Array(a) => a,
        other => panic!("GET /tasks: {} {other}", r.status),
    }
}

fn running(d: &Daemon) -> Vec<Value> {
    tasks(d)
        .into_iter()
        .filter(|t| t["Status"]["State"] == "running" && t["DesiredState"] == "running")
        .collect()
}

fn converge(k: &Driver, d: &Daemon, n: usize, marker: &str) {
    wait_for(
        &format!("{n} running tasks and processes"),
        Duration::from_secs(30),
        || (running(d).len() == n && processes(k, marker) == n).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}: tasks {:#?}\n{}", tasks(d), d.log()));
}

fn update(d: &Daemon, spec: &Value) {
    let svc = d.http("GET", "/services/web", None).json();
    let version = svc["Version"]["Index"].as_u64().unwrap();
    let r = d.http(
        "POST",
        &format!("/services/web/update?version={version}"),
        Some(&spec.to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn process_driver_runs_restarts_scales_updates_and_removes() {
    lifecycle(&PROCESS, &marker());
}

#[test]
fn docker_driver_runs_restarts_scales_updates_and_removes() {
    shoal_testkit::build_busybox_image(DOCKER.image).unwrap();
    // Its own marker: the two tests may run at the same time.
    lifecycle(
        &DOCKER,
        &format!("{}", 60_000 + std::process::id() % 20_000),
    );
}

fn lifecycle(k: &Driver, m: &str) {
    let m = m.to_string();
    let mut d = Daemon::start(env!("CARGO_BIN_EXE_shoal"), &["--driver", k.name]).unwrap();
    d.init_swarm();
    let r = d.http(
        "POST",
        "/services/create",
        Some(&spec(k, 3, &m, &[]).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    converge(k, &d, 3, &m);
    let slots: Vec<u64> = {
        let mut s: Vec<u64> = running(&d)
            .iter()
            .map(|t| t["Slot"].as_u64().unwrap())
            .collect();
        s.sort();
        s
    };
    assert_eq!(slots, [1, 2, 3]);

    // A killed process: its task fails and a new one takes the slot after the restart delay.
    let victim = running(&d)[0].clone();
    let pid = victim["Status"]["ContainerStatus"]["PID"].as_i64().unwrap();
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    wait_for(
        "the killed task to be replaced",
        Duration::from_secs(30),
        || {
            let ts = tasks(&d);
            let failed = ts
                .iter()
                .any(|t| t["ID"] == victim["ID"] && t["Status"]["State"] == "failed");
            let replaced = ts.iter().any(|t| {
                t["Slot"] == victim["Slot"]
                    && t["ID"] != victim["ID"]
                    && t["Status"]["State"] == "running"
            });
            (failed && replaced).then_some(())
        },
    )
    .unwrap();
    let failed = tasks(&d)
        .into_iter()
        .find(|t| t["ID"] == victim["ID"])
        .unwrap();
    assert_eq!(failed["Status"]["Err"], "task: non-zero exit (137)");
    converge(k, &d, 3, &m);

    // The daemon dies; its tasks keep running and are adopted, not started twice.
    d.kill9();
    assert_eq!(processes(k, &m), 3, "tasks outlive the daemon");
    d.restart().unwrap();
    converge(k, &d, 3, &m);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(processes(k, &m), 3, "no duplicates after the restart");

    // Scale up and down.
    update(&d, &spec(k, 5, &m, &[]));
    converge(k, &d, 5, &m);
    update(&d, &spec(k, 1, &m, &[]));
    converge(k, &d, 1, &m);
    update(&d, &spec(k, 3, &m, &[]));
    converge(k, &d, 3, &m);

    // A changed environment replaces the tasks one at a time.
    let before: Vec<String> = running(&d)
        .iter()
        .map(|t| t["ID"].as_str().unwrap().to_string())
        .collect();
    update(&d, &spec(k, 3, &m, &["A=1"]));
    let mut max_down = 0;
    wait_for("all tasks on the new spec", Duration::from_secs(60), || {
        let live = running(&d);
        max_down = max_down.max(3usize.saturating_sub(live.len()));
        let fresh = live
            .iter()
            .filter(|t| !before.contains(&t["ID"].as_str().unwrap().to_string()))
            .count();
        (fresh == 3).then_some(())
    })
    .unwrap();
    assert!(
        max_down <= 1,
        "one task at a time: {max_down} were down at once"
    );
    for t in running(&d) {
        assert_eq!(t["Spec"]["ContainerSpec"]["Env"], json!(["A=1"]));
    }
    converge(k, &d, 3, &m);

    // Removing the service stops everything.
    assert_eq!(d.http("DELETE", "/services/web", None).status, 200);
    wait_for("every process to stop", Duration::from_secs(30), || {
        (processes(k, &m) == 0).then_some(())
    })
    .unwrap();
    wait_for("the tasks to be reaped", Duration::from_secs(30), || {
        (d.http("GET", "/tasks", None).json() == json!([])).then_some(())
    })
    .unwrap();
}

#[test]
fn replicated_job_runs_to_completion() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_shoal"), &["--driver", "process"]).unwrap();
    d.init_swarm();
    let spec = json!({
        "Name": "batch",
        "Mode": {"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 3}},
        "TaskTemplate": {"ContainerSpec": {"Image": "busybox", "Command": ["/bin/sh", "-c", "sleep 0.2"]}}
    });
    let r = d.http("POST", "/services/create", Some(&spec.to_string()));
    assert_eq!(r.status, 201, "{}", r.text());
    let all = wait_for("three completed tasks", Duration::from_secs(30), || {
        let ts = d.http("GET", "/tasks", None).json();
        let ts = ts.as_array().unwrap().clone();
        (ts.iter()
            .filter(|t| t["Status"]["State"] == "complete")
            .count()
            == 3)
            .then_some(ts)
    })
    .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let after = d.http("GET", "/tasks", None).json();
    assert_eq!(
        after.as_array().unwrap().len(),
        all.len(),
        "no task after the third completion"
    );
    // Job slots count from 0 as in swarmkit; slot 0 is omitted from the JSON, as Docker does.
    let mut slots: Vec<u64> = all
        .iter()
        .map(|t| t["Slot"].as_u64().unwrap_or(0))
        .collect();
    slots.sort();
    assert_eq!(slots, [0, 1, 2]);
}
