//! Rolling updates through the stock docker CLI: `--update-parallelism`, `--update-delay` and
//! `--update-order`, watched task by task, with both drivers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use shoal_testkit::{Daemon, success, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");

fn tasks(d: &Daemon) -> Vec<Value> {
    match d
        .http(
            "GET",
            "/tasks?filters=%7B%22service%22%3A%5B%22web%22%5D%7D",
            None,
        )
        .json()
    {
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

/// Samples the tasks until every slot runs a task with env `want`; returns the fewest tasks
/// seen running at once and, per slot, when its new task was first seen running.
fn watch_update(d: &Daemon, want: &str) -> (usize, BTreeMap<u64, Duration>) {
    let start = Instant::now();
    let mut fewest = usize::MAX;
    let mut first_new: BTreeMap<u64, Duration> = BTreeMap::new();
    while start.elapsed() < Duration::from_secs(60) {
        let all = tasks(d);
        let running: Vec<&Value> = all
            .iter()
            .filter(|t| t["Status"]["State"] == "running")
            .collect();
        fewest = fewest.min(running.len());
        for t in &running {
            let env = t["Spec"]["ContainerSpec"]["Env"].to_string();
            if env.contains(want) {
                let slot = t["Slot"].as_u64().unwrap();
                first_new.entry(slot).or_insert(start.elapsed());
            }
        }
        let done = first_new.len() == 5
            && running.len() == 5
            && running
                .iter()
                .all(|t| t["Spec"]["ContainerSpec"]["Env"].to_string().contains(want));
        if done {
            return (fewest, first_new);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the update did not finish: {first_new:?}\n{}", d.log());
}

#[test]
fn process_driver_parallel_delayed_stop_first_then_start_first_updates() {
    scenario("process", "busybox", &["sleep", "600"]);
}

#[test]
fn docker_driver_parallel_delayed_stop_first_then_start_first_updates() {
    shoal_testkit::build_busybox_image("shoal-test-busybox:1").unwrap();
    scenario(
        "docker",
        "shoal-test-busybox:1",
        &["/bin/busybox", "sleep", "600"],
    );
}

fn scenario(driver: &str, image: &str, cmd: &[&str]) {
    let d = Daemon::start(BIN, &["--driver", driver]).unwrap();
    d.init_swarm();
    let mut create = vec![
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        "5",
        "--env",
        "V=1",
        "--stop-grace-period",
        "1s",
        image,
    ];
    create.extend_from_slice(cmd);
    success(d.docker(&create));
    wait_for("5 running", Duration::from_secs(30), || {
        let n = tasks(&d)
            .iter()
            .filter(|t| t["Status"]["State"] == "running")
            .count();
        (n == 5).then_some(())
    })
    .unwrap();

    // Stop-first, two at a time, a second apart: slots 1-2, then 3-4, then 5.
    success(d.docker(&[
        "service",
        "update",
        "-d",
        "--update-parallelism",
        "2",
        "--update-delay",
        "1s",
        "--env-add",
        "V=2",
        "web",
    ]));
    let status = d.http("GET", "/services/web", None).json()["UpdateStatus"].clone();
    assert_eq!(status["State"], "updating", "{status}");
    assert!(status["StartedAt"].as_str().is_some_and(|s| !s.is_empty()));
    let (fewest, first_new) = watch_update(&d, "V=2");
    wait_for(
        "the update marked completed",
        Duration::from_secs(10),
        || {
            let u = d.http("GET", "/services/web", None).json()["UpdateStatus"].clone();
            (u["State"] == "completed"
                && u["Message"] == "update completed"
                && u["CompletedAt"].as_str().is_some_and(|s| !s.is_empty()))
            .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {}", d.http("GET", "/services/web", None).text()));
    assert!(
        fewest >= 3,
        "never more than two down at once, saw {fewest} running"
    );
    let at = |s: u64| first_new[&s];
    let later_batch = |a: u64, b: u64| at(b) >= at(a) + Duration::from_millis(900);
    assert!(
        later_batch(1, 3) && later_batch(2, 4) && later_batch(3, 5) && later_batch(4, 5),
        "batches of two, a second apart, in slot order: {first_new:?}"
    );

    // Start-first: the old task runs until its replacement does, so five are always up.
    success(d.docker(&[
        "service",
        "update",
        "-d",
        "--update-parallelism",
        "2",
        "--update-delay",
        "0s",
        "--update-order",
        "start-first",
        "--env-add",
        "V=3",
        "web",
    ]));
    let (fewest, _) = watch_update(&d, "V=3");
    assert!(
        fewest >= 5,
        "never fewer than five up with start-first, saw {fewest}"
    );
}
