//! Cluster benchmarks on real daemons, each in its own network namespace (needs root), with
//! default settings, beside the Docker Swarm anchors in ../shared/anchors (swarm-failover.sh):
//!
//! - `failover`: the leader is killed (SIGKILL) 20 times; time until a write is accepted on
//!   another manager. Then the leader cut off from the network 5 times, as the anchor does.
//! - `worker`: a worker of a 3-manager, 1-worker swarm is cut off while running 3 of 12
//!   replicas; time until it is Down, and until all 12 run elsewhere.
//! - `loss`: 10 % packet loss on two workers' links for 60 s; how many times a node is
//!   wrongly marked Down.
//!
//! `cargo bench -p shoal --bench cluster [-- failover|worker|loss]`; figures in
//! docs/benchmarks.md.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shoal_testkit::{Cluster, request, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");
const ARGS: &[&str] = &["--driver", "process"];

fn main() {
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if run("failover") {
        failover();
    }
    if run("worker") {
        worker_cut_off();
    }
    if run("loss") {
        packet_loss();
    }
}

fn service(name: &str, replicas: u64) -> String {
    json!({
        "Name": name,
        "Mode": {"Replicated": {"Replicas": replicas}},
        "TaskTemplate": {"ContainerSpec": {"Image": "busybox",
            "Command": ["/bin/sh", "-c", "exec sleep 100000"], "StopGracePeriod": 1_000_000_000u64}}
    })
    .to_string()
}

/// Tries a create on `node` until it is accepted; the time it took.
fn write_accepted(c: &Cluster, nodes: &[usize], name: &str, t0: Instant) -> Duration {
    let body = service(name, 0);
    let mut k = 0;
    loop {
        let n = nodes[k % nodes.len()];
        k += 1;
        if let Ok(r) = request(
            &c.nodes[n].socket(),
            "POST",
            "/services/create",
            Some(body.as_bytes()),
        ) && r.status == 201
        {
            return t0.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn summary(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "{what}: n={} min={:.0} ms p50={:.0} ms p99={:.0} ms max={:.0} ms",
        times.len(),
        ms(times[0]),
        ms(p(0.5)),
        ms(p(0.99)),
        ms(times[times.len() - 1])
    );
}

fn wait_services(c: &Cluster, i: usize, count: usize) {
    wait_for("a manager to catch up", Duration::from_secs(60), || {
        let r = request(&c.nodes[i].socket(), "GET", "/services", None).ok()?;
        (r.status == 200 && r.json().as_array()?.len() == count).then_some(())
    })
    .expect("catch up");
}

fn failover() {
    let mut c = Cluster::start(BIN, 3, 0, ARGS, json!({})).expect("cluster");
    let all = [0, 1, 2];
    let (mut kills, mut elected) = (Vec::new(), Vec::new());
    let mut created = 0;
    let rounds: usize = std::env::var("FAILOVER_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    for k in 0..rounds {
        let leader = c
            .wait_leader(&all, &all, Duration::from_secs(30))
            .expect("leader");
        let others: Vec<usize> = all.iter().copied().filter(|&i| i != leader).collect();
        let t0 = Instant::now();
        c.nodes[leader].kill9();
        let t_write = std::thread::scope(|s| {
            let w = s.spawn(|| write_accepted(&c, &others, &format!("kill{k}"), t0));
            c.wait_leader(&others, &others, Duration::from_secs(30))
                .expect("new leader");
            elected.push(t0.elapsed());
            w.join().expect("writer")
        });
        kills.push(t_write);
        created += 1;
        c.nodes[leader].restart().expect("restart");
        wait_services(&c, leader, created);
    }
    summary(
        "leader killed -> new leader seen by both survivors",
        elected,
    );
    summary("leader killed -> write accepted on another manager", kills);
    let mut cuts = Vec::new();
    for k in 0..5 {
        let leader = c
            .wait_leader(&all, &all, Duration::from_secs(30))
            .expect("leader");
        let others: Vec<usize> = all.iter().copied().filter(|&i| i != leader).collect();
        let t0 = Instant::now();
        c.net.cut(leader);
        cuts.push(write_accepted(&c, &others, &format!("cut{k}"), t0));
        created += 1;
        c.net.heal(leader);
        wait_services(&c, leader, created);
    }
    summary("leader cut off -> write accepted on another manager", cuts);
}

fn running_elsewhere(c: &Cluster, name: &str, not_on: &str) -> Option<usize> {
    let path = format!("/tasks?filters=%7B%22service%22%3A%5B%22{name}%22%5D%7D");
    let r = request(&c.nodes[0].socket(), "GET", &path, None).ok()?;
    let tasks: Vec<Value> = r.json().as_array()?.clone();
    Some(
        tasks
            .iter()
            .filter(|t| t["DesiredState"] == "running" && t["Status"]["State"] == "running")
            .filter(|t| t["NodeID"] != not_on)
            .count(),
    )
}

fn node_state(c: &Cluster, id: &str) -> Option<String> {
    let r = request(&c.nodes[0].socket(), "GET", &format!("/nodes/{id}"), None).ok()?;
    Some(r.json()["Status"]["State"].as_str()?.to_string())
}

fn worker_cut_off() {
    let c = Cluster::start(BIN, 3, 1, ARGS, json!({})).expect("cluster");
    let worker = c.node_id(3).to_string();
    let (mut downs, mut moved) = (Vec::new(), Vec::new());
    for k in 0..3 {
        let name = format!("w{k}");
        let r = c.nodes[0].http("POST", "/services/create", Some(&service(&name, 12)));
        assert_eq!(r.status, 201, "{}", r.text());
        wait_for("12 running", Duration::from_secs(60), || {
            (running_elsewhere(&c, &name, "")? == 12).then_some(())
        })
        .expect("converge");
        let t0 = Instant::now();
        c.net.cut(3);
        wait_for("worker down", Duration::from_secs(60), || {
            (node_state(&c, &worker)? == "down").then_some(())
        })
        .expect("down");
        downs.push(t0.elapsed());
        wait_for("12 elsewhere", Duration::from_secs(60), || {
            (running_elsewhere(&c, &name, &worker)? == 12).then_some(())
        })
        .expect("moved");
        moved.push(t0.elapsed());
        c.net.heal(3);
        wait_for("worker ready", Duration::from_secs(60), || {
            (node_state(&c, &worker)? == "ready").then_some(())
        })
        .expect("ready");
        c.nodes[0].http("DELETE", &format!("/services/{name}"), None);
    }
    summary("worker cut off -> marked Down", downs);
    summary("worker cut off -> 12 of 12 running elsewhere", moved);
}

fn packet_loss() {
    let c = Cluster::start(BIN, 1, 2, ARGS, json!({})).expect("cluster");
    let ids: Vec<String> = (1..3).map(|i| c.node_id(i).to_string()).collect();
    c.net.set_loss(1, 10.0);
    c.net.set_loss(2, 10.0);
    let mut false_downs = 0;
    let mut was_down = [false, false];
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        for (k, id) in ids.iter().enumerate() {
            let down = node_state(&c, id).is_some_and(|s| s != "ready");
            if down && !was_down[k] {
                false_downs += 1;
            }
            was_down[k] = down;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    c.net.clear_loss(1);
    c.net.clear_loss(2);
    println!("10% packet loss on 2 workers for 60 s: {false_downs} false Down transitions");
}
