//! Multi-node swarms on the docker driver, every node with a Docker Engine of its own inside its
//! network namespace (`shoal_testkit::Engine`): containers of different nodes live in different
//! network stacks, as on separate machines, so traffic between nodes really crosses the
//! network.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use shoal_testkit::{Cluster, http_get, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");
const DOCKER: &[&str] = &["--driver", "docker"];
const IMAGE: &str = "shoal-test-busybox:1";

/// A 1 s heartbeat, so the nodes are ready within seconds.
fn fast() -> Value {
    json!({"Dispatcher": {"HeartbeatPeriod": 1_000_000_000u64}})
}

/// `web`: 2 busybox httpd replicas on the workers, each serving its own hostname, published
/// on 8080 through the routing mesh.
fn web() -> Value {
    json!({
        "Name": "web",
        "Mode": {"Replicated": {"Replicas": 2}},
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": IMAGE,
                "Command": ["/bin/sh", "-c",
                    "/bin/busybox mkdir -p /www && echo \"$HOSTNAME\" > /www/index.html && \
                     exec /bin/busybox httpd -f -p 80 -h /www"],
                "StopGracePeriod": 1_000_000_000u64
            },
            "Placement": {"Constraints": ["node.role==worker"]}
        },
        "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080}]}
    })
}

/// `GET /` on `ip:port`: the body of a 200 answer, trimmed.
fn get(ip: &str, port: u16) -> Option<String> {
    http_get(ip, port).ok().map(|b| b.trim().to_string())
}

/// The hostnames of the running containers in node `i`'s engine.
fn hostnames(c: &Cluster, i: usize) -> Vec<String> {
    let engine = c.engine(i);
    let list = engine.http("GET", "/containers/json", None).json();
    let ids = list.as_array().cloned().unwrap_or_default();
    ids.iter()
        .map(|x| {
            let id = x["Id"].as_str().unwrap();
            let inspect = engine.http("GET", &format!("/containers/{id}/json"), None);
            inspect.json()["Config"]["Hostname"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn the_routing_mesh_spans_nodes_that_each_have_their_own_engine() {
    let c = Cluster::start_with_engines(BIN, 1, 2, DOCKER, fast()).expect("cluster");
    c.build_busybox_image(IMAGE)
        .expect("the image in every engine");
    let r = c.nodes[0].http("POST", "/services/create", Some(&web().to_string()));
    assert_eq!(r.status, 201, "{}", r.text());

    // One replica per worker, each in that worker's own engine; none in the manager's.
    let replicas: BTreeSet<String> = wait_for(
        "one running container in each worker's engine",
        Duration::from_secs(30),
        || {
            let per_node: Vec<Vec<String>> = (0..3).map(|i| hostnames(&c, i)).collect();
            let spread = per_node[0].is_empty() && per_node[1..].iter().all(|h| h.len() == 1);
            spread.then(|| per_node.concat().into_iter().collect())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    assert_eq!(replicas.len(), 2, "{replicas:?}");

    // Every node answers on 8080, the manager too, and spreads requests over both replicas,
    // whichever node runs them.
    for i in 0..3 {
        let ip = c.net.ip(i);
        let seen = wait_for(
            &format!("both replicas through node {i}'s port 8080"),
            Duration::from_secs(30),
            || {
                let seen: BTreeSet<String> = (0..6).filter_map(|_| get(&ip, 8080)).collect();
                (seen == replicas).then_some(seen)
            },
        )
        .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", replicas, c.logs()));
        assert_eq!(seen, replicas);
    }
}

/// Builds shoal's own image (the demo apps) in every node's engine.
fn build_demo_image(c: &Cluster, tag: &str) {
    for i in 0..c.nodes.len() {
        let out = std::process::Command::new(BIN)
            .args(["image", "build", "-q", "-t", tag])
            .env("DOCKER_HOST", c.engine(i).host())
            .output()
            .unwrap();
        assert!(out.status.success(), "image build: {out:?}");
    }
}

fn create(c: &Cluster, spec: Value) {
    let r = c.nodes[0].http("POST", "/services/create", Some(&spec.to_string()));
    assert_eq!(r.status, 201, "{}", r.text());
}

/// The user guides' visitor counter across nodes: a Redis-protocol store with no published
/// port on the manager, 3 web replicas on the workers that find it by name over an overlay
/// network (so every visit crosses nodes over VXLAN), published on 8080. Each node's 8080
/// reaches every replica in turn, and they share one count.
#[test]
fn the_visitor_counter_finds_its_store_by_name_across_nodes() {
    const DEMO: &str = "shoal-test-demo:1";
    // Not Docker's defaults (VXLAN on 4789, MTU 1450), to see both options carried through.
    let init = json!({"Spec": fast(), "DataPathPort": 7789});
    let c = Cluster::start_with_engines_init(BIN, 1, 2, DOCKER, init).expect("cluster");
    build_demo_image(&c, DEMO);
    let r = c.nodes[0].http(
        "POST",
        "/networks/create",
        Some(
            &json!({"Name": "counter", "Driver": "overlay",
                "Options": {"com.docker.network.driver.mtu": "1400"}})
            .to_string(),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    create(
        &c,
        json!({"Name": "store",
            "TaskTemplate": {"ContainerSpec": {"Image": DEMO, "Args": ["demo-app", "store"]},
                "Placement": {"Constraints": ["node.role==manager"]},
                "Networks": [{"Target": "counter"}]}}),
    );
    create(
        &c,
        json!({"Name": "web", "Mode": {"Replicated": {"Replicas": 3}},
            "TaskTemplate": {"ContainerSpec": {"Image": DEMO, "Args": ["demo-app", "counter"],
                    "Env": ["REDIS_HOST=store"], "StopGracePeriod": 1_000_000_000u64},
                "Placement": {"Constraints": ["node.role==worker"]},
                "Networks": [{"Target": "counter"}]},
            "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080}]}}),
    );

    let mut last = 0u64;
    for i in 0..3 {
        let ip = c.net.ip(i);
        let visits = wait_for(
            &format!("the 3 counters through node {i}'s port 8080"),
            Duration::from_secs(60),
            || {
                let answers: Vec<String> = (0..6).filter_map(|_| get(&ip, 8080)).collect();
                let hosts: BTreeSet<&str> = answers
                    .iter()
                    .filter_map(|a| a.split(" > ").next())
                    .collect();
                (answers.len() == 6 && hosts.len() == 3).then_some(answers)
            },
        )
        .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", get(&ip, 8080), c.logs()));
        // One count, shared: each visit is the next number, whichever replica served it.
        let counts: Vec<u64> = visits
            .iter()
            .map(|a| a.rsplit(" > ").next().unwrap().parse().unwrap())
            .collect();
        assert!(counts[0] > last, "{counts:?} after {last}");
        assert!(
            counts.windows(2).all(|w| w[1] == w[0] + 1),
            "one shared count: {visits:?}"
        );
        last = *counts.last().unwrap();
    }

    // The visits crossed nodes on the swarm's data path port, at the network's MTU.
    let vni = c.nodes[0].http("GET", "/networks/counter", None).json()["Options"]
        ["com.docker.network.driver.overlay.vxlanid_list"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..3 {
        let out = c
            .net
            .command(i, "ip")
            .args(["-d", "link", "show", &format!("shvx{vni}")])
            .output()
            .unwrap();
        let link = String::from_utf8_lossy(&out.stdout);
        assert!(
            link.contains("dstport 7789") && link.contains("mtu 1400"),
            "node {i}: {link}"
        );
    }
    let bridges = c.engine(1).docker(&[
        "network",
        "inspect",
        "--format",
        "{{index .Options \"com.docker.network.driver.mtu\"}}",
        &format!("counter_{}", &network_id(&c)[..12]),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&bridges.stdout).trim(),
        "1400",
        "{bridges:?}"
    );
}

fn network_id(c: &Cluster) -> String {
    c.nodes[0].http("GET", "/networks/counter", None).json()["Id"]
        .as_str()
        .unwrap()
        .to_string()
}
