//! Health-gated updates and rollback through the stock docker CLI, with both drivers:
//! `docker service update --image …` shows docker's progress and converges; a release whose
//! health check fails rolls back by itself (`--update-failure-action rollback`) and inspect
//! says why (swarmkit then drops `PreviousSpec`, so the manual `docker service rollback` is
//! shown first).

use std::time::Duration;

use serde_json::Value;
use shoal_testkit::{Daemon, build_busybox_image, success, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");

/// What differs between the drivers: the images (the process driver ignores them, but a new
/// tag is still a new release) and the command.
struct Setup {
    driver: &'static str,
    image: [&'static str; 2],
    cmd: &'static [&'static str],
}

const PROCESS: Setup = Setup {
    driver: "process",
    image: ["busybox:1", "busybox:2"],
    cmd: &["sleep", "600"],
};

const DOCKER: Setup = Setup {
    driver: "docker",
    image: ["shoal-test-busybox:1", "shoal-test-busybox:2"],
    cmd: &["/bin/busybox", "sleep", "600"],
};

fn inspect(d: &Daemon) -> Value {
    let out = success(d.docker(&["service", "inspect", "web"]));
    serde_json::from_str::<Value>(&out).unwrap()[0].clone()
}

/// The running tasks' images and envs.
fn running(d: &Daemon) -> Vec<(String, String)> {
    let r = d.http(
        "GET",
        "/tasks?filters=%7B%22service%22%3A%5B%22web%22%5D%7D",
        None,
    );
    r.json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|t| t["Status"]["State"] == "running" && t["DesiredState"] == "running")
        .map(|t| {
            let c = &t["Spec"]["ContainerSpec"];
            (
                c["Image"].as_str().unwrap_or("").to_string(),
                c["Env"].to_string(),
            )
        })
        .collect()
}

fn all_run(d: &Daemon, image: &str, env: &str) {
    wait_for(
        &format!("3 running tasks of {image} with {env}"),
        Duration::from_secs(60),
        || {
            let r = running(d);
            (r.len() == 3
                && r.iter()
                    .all(|(i, e)| i.starts_with(image) && e.contains(env)))
            .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", running(d), d.log()));
}

/// Runs the docker CLI and returns its exit success and everything it printed.
fn docker_out(d: &Daemon, args: &[&str]) -> (bool, String) {
    let out = d.docker(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn scenario(s: &Setup) {
    if s.driver == "docker" {
        for tag in s.image {
            build_busybox_image(tag).unwrap();
        }
    }
    let d = Daemon::start(BIN, &["--driver", s.driver]).unwrap();
    d.init_swarm();
    let mut create = vec![
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        "3",
        "--env",
        "V=good",
        "--health-cmd",
        "test \"$V\" != bad",
        "--health-interval",
        "250ms",
        "--health-retries",
        "1",
        "--update-failure-action",
        "rollback",
        "--update-monitor",
        "2s",
        "--stop-grace-period",
        "1s",
        s.image[0],
    ];
    create.extend_from_slice(s.cmd);
    success(d.docker(&create));
    all_run(&d, s.image[0], "V=good");

    // A good release: docker's progress, converged, exit 0.
    let (ok, out) = docker_out(&d, &["service", "update", "--image", s.image[1], "web"]);
    assert!(ok, "{out}\n{}", d.log());
    assert!(out.contains("overall progress: 3 out of 3 tasks"), "{out}");
    assert!(out.contains("verify: Service web converged"), "{out}");
    all_run(&d, s.image[1], "V=good");
    let svc = inspect(&d);
    assert_eq!(svc["UpdateStatus"]["State"], "completed", "{svc}");
    assert_eq!(svc["UpdateStatus"]["Message"], "update completed");

    // By hand: back to the release before, with docker's progress.
    let (ok, out) = docker_out(&d, &["service", "rollback", "web"]);
    assert!(ok, "{out}\n{}", d.log());
    assert!(
        out.contains("rollback: manually requested rollback"),
        "{out}"
    );
    assert!(out.contains("verify: Service web converged"), "{out}");
    // The docker CLI waits the update's monitor (2 s), the manager the rollback's (5 s).
    wait_for("the rollback to complete", Duration::from_secs(30), || {
        (inspect(&d)["UpdateStatus"]["State"] == "rollback_completed").then_some(())
    })
    .unwrap();
    let svc = inspect(&d);
    assert_eq!(svc["UpdateStatus"]["Message"], "rollback completed");
    let image = svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        .as_str()
        .unwrap();
    assert!(image.starts_with(s.image[0]), "{svc}");
    all_run(&d, s.image[0], "V=good");

    // A release whose health check fails: rolled back by itself, and inspect says why.
    let (_, out) = docker_out(&d, &["service", "update", "--env-add", "V=bad", "web"]);
    assert!(
        out.contains("update rolled back due to failure or early termination of task"),
        "docker's progress shows the rollback: {out}\n{}",
        d.log()
    );
    wait_for("the rollback to complete", Duration::from_secs(60), || {
        (inspect(&d)["UpdateStatus"]["State"] == "rollback_completed").then_some(())
    })
    .unwrap();
    let svc = inspect(&d);
    let msg = svc["UpdateStatus"]["Message"].as_str().unwrap();
    assert!(
        msg.starts_with("update rolled back due to failure or early termination of task "),
        "{svc}"
    );
    let env = svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"].to_string();
    assert!(env.contains("V=good") && !env.contains("V=bad"), "{svc}");
    all_run(&d, s.image[0], "V=good");
    // The task it names is the failed one of the bad release.
    let failed_id = msg.rsplit(' ').next().unwrap();
    let t = d.http("GET", &format!("/tasks/{failed_id}"), None).json();
    assert!(
        t["Spec"]["ContainerSpec"]["Env"]
            .to_string()
            .contains("V=bad"),
        "{t}"
    );
    assert_ne!(t["Status"]["State"], "running", "{t}");
}

#[test]
fn process_driver_health_gated_update_and_rollback() {
    scenario(&PROCESS);
}

#[test]
fn docker_driver_health_gated_update_and_rollback() {
    scenario(&DOCKER);
}

fn shoal_out(d: &Daemon, args: &[&str]) -> (bool, String) {
    let out = d.shoal(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Beyond Swarm, with shoal's CLI: a canary gate that pauses after two slots until
/// `--continue`, and an update that rolled back by itself exiting non-zero.
#[test]
fn shoal_cli_canary_gate_continue_and_failed_release() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let (ok, out) = shoal_out(
        &d,
        &[
            "service",
            "create",
            "-d",
            "--name",
            "web",
            "--replicas",
            "4",
            "--env",
            "V=1",
            "--stop-grace-period",
            "1s",
            "--update-monitor",
            "1s",
            "busybox",
            "sleep",
            "600",
        ],
    );
    assert!(ok, "{out}");
    let count = |env: &str| running(&d).iter().filter(|(_, e)| e.contains(env)).count();
    wait_for("4 running", Duration::from_secs(30), || {
        (count("V=1") == 4).then_some(())
    })
    .unwrap();

    let (ok, out) = shoal_out(
        &d,
        &[
            "service",
            "update",
            "--update-pause-after",
            "2",
            "--env-add",
            "V=2",
            "web",
        ],
    );
    assert!(!ok, "a paused update exits non-zero: {out}");
    assert!(
        out.contains("service update paused: update paused after 2 of 4 tasks"),
        "{out}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!((count("V=2"), count("V=1")), (2, 2), "held at the canary");
    assert_eq!(inspect(&d)["UpdateStatus"]["State"], "paused");

    let (ok, out) = shoal_out(&d, &["service", "update", "--continue", "web"]);
    assert!(ok, "{out}\n{}", d.log());
    assert_eq!(count("V=2"), 4, "{out}");
    assert_eq!(inspect(&d)["UpdateStatus"]["State"], "completed");

    let (ok, out) = shoal_out(
        &d,
        &[
            "service",
            "update",
            "--update-pause-after",
            "0",
            "--env-add",
            "V=bad",
            "--health-cmd",
            "test \"$V\" != bad",
            "--health-interval",
            "250ms",
            "--health-retries",
            "1",
            "--update-failure-action",
            "rollback",
            "web",
        ],
    );
    assert!(!ok, "a release that rolled back exits non-zero: {out}");
    assert!(
        out.contains(
            "service rolled back: update rolled back due to failure or early termination of task"
        ),
        "{out}"
    );
    wait_for("V=2 again", Duration::from_secs(30), || {
        (count("V=2") == 4).then_some(())
    })
    .unwrap();
}
