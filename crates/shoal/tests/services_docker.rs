//! Services end to end with the docker driver against the real Docker Engine, on an image
//! built here from Debian's busybox-static (no registry is reachable).

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use shoal_testkit::{Daemon, wait_for};

const IMAGE: &str = "shoal-test-busybox:1";

fn build_image() {
    shoal_testkit::build_busybox_image(IMAGE).unwrap();
}

fn containers(service: &str) -> usize {
    let out = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.swarm.service.name={service}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn create(d: &Daemon, spec: Value) -> String {
    let r = d.http("POST", "/services/create", Some(&spec.to_string()));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["ID"].as_str().unwrap().to_string()
}

fn tasks_of(d: &Daemon, id: &str) -> Vec<Value> {
    let r = d.http(
        "GET",
        &format!("/tasks?filters=%7B%22service%22%3A%5B%22{id}%22%5D%7D"),
        None,
    );
    r.json().as_array().cloned().unwrap_or_default()
}

fn sleeper(name: &str, mode: Value) -> Value {
    json!({
        "Name": name, "Mode": mode,
        "TaskTemplate": {"ContainerSpec": {"Image": IMAGE, "Command": ["/bin/busybox", "sleep", "3600"], "StopGracePeriod": 1_000_000_000u64}}
    })
}

fn wait_running(d: &Daemon, id: &str, name: &str, n: usize) {
    wait_for(
        &format!("{n} running {name} tasks and containers"),
        Duration::from_secs(60),
        || {
            let running = tasks_of(d, id)
                .iter()
                .filter(|t| t["Status"]["State"] == "running")
                .count();
            (running == n && containers(name) == n).then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {:#?}\n{}", tasks_of(d, id), d.log()));
}

#[test]
fn docker_driver_replicated_global_unschedulable_and_missing_image() {
    build_image();
    let d = Daemon::start(env!("CARGO_BIN_EXE_shoal"), &["--driver", "docker"]).unwrap();
    d.init_swarm();

    let web = create(
        &d,
        sleeper("shoaltest-web", json!({"Replicated": {"Replicas": 3}})),
    );
    wait_running(&d, &web, "shoaltest-web", 3);
    let t = &tasks_of(&d, &web)[0];
    let cid = t["Status"]["ContainerStatus"]["ContainerID"]
        .as_str()
        .unwrap();
    let name = Command::new("docker")
        .args(["inspect", "-f", "{{.Name}}", cid])
        .output()
        .unwrap();
    let name = String::from_utf8_lossy(&name.stdout).trim().to_string();
    assert_eq!(
        name,
        format!("/shoaltest-web.{}.{}", t["Slot"], t["ID"].as_str().unwrap())
    );

    let global = create(&d, sleeper("shoaltest-global", json!({"Global": {}})));
    wait_running(&d, &global, "shoaltest-global", 1);

    let mut nowhere = sleeper("shoaltest-nowhere", json!({"Replicated": {"Replicas": 1}}));
    nowhere["TaskTemplate"]["Placement"] = json!({"Constraints": ["node.labels.zone==nowhere"]});
    let nowhere = create(&d, nowhere);
    let pending = wait_for(
        "the unschedulable task's reason",
        Duration::from_secs(30),
        || {
            tasks_of(&d, &nowhere)
                .into_iter()
                .find(|t| t["Status"]["Err"].as_str().is_some_and(|e| !e.is_empty()))
        },
    )
    .unwrap();
    assert_eq!(pending["Status"]["State"], "pending");
    assert_eq!(
        pending["Status"]["Err"],
        "no suitable node (scheduling constraints not satisfied on 1 node)"
    );

    let mut missing = sleeper("shoaltest-missing", json!({"Replicated": {"Replicas": 1}}));
    missing["TaskTemplate"]["ContainerSpec"]["Image"] = json!("shoal-test-no-such-image:404");
    let missing = create(&d, missing);
    let rejected = wait_for(
        "the missing image to reject the task",
        Duration::from_secs(30),
        || {
            tasks_of(&d, &missing)
                .into_iter()
                .find(|t| t["Status"]["State"] == "rejected")
        },
    )
    .unwrap();
    let err = rejected["Status"]["Err"].as_str().unwrap();
    assert!(
        err.contains("No such image: shoal-test-no-such-image:404"),
        "{err}"
    );

    for id in [&web, &global, &nowhere, &missing] {
        assert_eq!(
            d.http("DELETE", &format!("/services/{id}"), None).status,
            200
        );
    }
    wait_for("containers removed", Duration::from_secs(60), || {
        (containers("shoaltest-web") + containers("shoaltest-global") == 0).then_some(())
    })
    .unwrap();
}
