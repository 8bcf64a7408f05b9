//! Multi-node swarms of real daemons, each in its own network namespace with its own address:
//! joining (shoal and the stock docker CLI), spreading a service, and the security of the
//! cluster port (bad and rotated tokens, a worker's certificate against manager-only calls).

use std::time::Duration;

use serde_json::{Value, json};
use shoal_testkit::{Cluster, success, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");
const PROCESS: &[&str] = &["--driver", "process"];

/// A 1 s heartbeat, so node failures show within seconds.
fn fast() -> Value {
    json!({"Dispatcher": {"HeartbeatPeriod": 1_000_000_000u64}})
}

fn sleeper(name: &str, replicas: u64) -> String {
    json!({
        "Name": name,
        "Mode": {"Replicated": {"Replicas": replicas}},
        "TaskTemplate": {
            "ContainerSpec": {"Image": "busybox", "Command": ["/bin/sh", "-c", "exec sleep 600"],
                              "StopGracePeriod": 1_000_000_000u64},
        }
    })
    .to_string()
}

fn json_array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => panic!("expected an array, got {other}"),
    }
}

/// Running tasks of service `name` (desired running), as manager `i` sees them.
fn running(c: &Cluster, i: usize, name: &str) -> Vec<Value> {
    let path = format!("/tasks?filters=%7B%22service%22%3A%5B%22{name}%22%5D%7D");
    json_array(c.nodes[i].http("GET", &path, None).json())
        .into_iter()
        .filter(|t| t["Status"]["State"] == "running" && t["DesiredState"] == "running")
        .collect()
}

#[test]
fn three_managers_two_workers_spread_a_service_and_guard_the_cluster_port() {
    let mut c = Cluster::start(BIN, 3, 1, PROCESS, fast()).expect("cluster");
    // The fifth node joins with the stock docker CLI, as the user guides do.
    let five = c.add_node(BIN, PROCESS).expect("fifth daemon");
    let token = c.nodes[0].http("GET", "/swarm", None).json()["JoinTokens"]["Worker"]
        .as_str()
        .unwrap()
        .to_string();
    let addr = c.nodes[five].cluster_addr();
    let out = c.nodes[five].docker(&[
        "swarm",
        "join",
        "--token",
        &token,
        "--listen-addr",
        &addr,
        "--advertise-addr",
        &addr,
        &c.nodes[0].cluster_addr(),
    ]);
    let joined = success(out);
    assert!(
        joined.contains("This node joined a swarm as a worker."),
        "{joined}"
    );
    c.refresh_ids();

    // Every manager sees five ready nodes, one leader and two reachable managers.
    for m in 0..3 {
        wait_for("five ready nodes", Duration::from_secs(20), || {
            let nodes = json_array(c.nodes[m].http("GET", "/nodes", None).json());
            let ready = nodes
                .iter()
                .filter(|n| n["Status"]["State"] == "ready")
                .count();
            (ready == 5).then_some(nodes)
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    }
    let ls = success(c.nodes[1].docker(&["node", "ls"]));
    assert_eq!(ls.matches("Leader").count(), 1, "{ls}");
    assert_eq!(ls.matches("Reachable").count(), 2, "{ls}");
    assert_eq!(ls.lines().count(), 6, "{ls}");

    // A service created through a follower spreads over all five nodes.
    let follower = (1..3)
        .find(|&i| c.leader_seen_by(0) != Some(i))
        .expect("a follower");
    let r = c.nodes[follower].http("POST", "/services/create", Some(&sleeper("spread", 10)));
    assert_eq!(r.status, 201, "{}", r.text());
    let tasks = wait_for("10 running tasks", Duration::from_secs(30), || {
        let t = running(&c, follower, "spread");
        (t.len() == 10).then_some(t)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    for i in 0..5 {
        let on_node = tasks.iter().filter(|t| t["NodeID"] == c.node_id(i)).count();
        assert_eq!(on_node, 2, "node {i} runs {on_node} of 10 tasks");
    }

    // Logs through a follower: agents keep their sessions with the leader, whose broker the
    // follower subscribes through.
    let talker = json!({
        "Name": "talker",
        "Mode": {"Replicated": {"Replicas": 2}},
        "TaskTemplate": {"ContainerSpec": {"Image": "busybox",
            "Command": ["/bin/sh", "-c", "echo line-from-task; exec sleep 600"]}}
    });
    let r = c.nodes[follower].http("POST", "/services/create", Some(&talker.to_string()));
    assert_eq!(r.status, 201, "{}", r.text());
    wait_for(
        "both talkers said their line",
        Duration::from_secs(30),
        || {
            let r = c.nodes[follower].http("GET", "/services/talker/logs?stdout=1&stderr=1", None);
            (r.status == 200 && r.text().matches("line-from-task").count() == 2).then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));

    // A worker's certificate cannot reach manager-only calls.
    let worker_dir = c.nodes[3].data_dir().join("swarm/certificates");
    let denied = manager_only_calls_with_cert(&worker_dir, &c.nodes[0].cluster_addr());
    for (call, status) in denied {
        assert_eq!(
            status.code(),
            tonic::Code::PermissionDenied,
            "{call}: {status:?}"
        );
        assert!(
            status.message().contains("unauthorized peer role"),
            "{call}: {status:?}"
        );
    }

    // A wrong token and a rotated one are refused with Docker's text; joined nodes stay.
    let stranger = c.add_node(BIN, PROCESS).expect("sixth daemon");
    let bad = format!("{}-0000000000000000000000000", &token[..token.len() - 26]);
    let rotate = success(c.nodes[0].shoal(&["swarm", "join-token", "--rotate", "-q", "worker"]));
    assert_ne!(rotate.trim(), token);
    for t in [bad.as_str(), token.as_str()] {
        let out = c.nodes[stranger].docker(&[
            "swarm",
            "join",
            "--token",
            t,
            "--advertise-addr",
            &c.nodes[stranger].cluster_addr(),
            &c.nodes[0].cluster_addr(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains("A valid join token is necessary to join this cluster"),
            "{err}"
        );
    }
    let info = c.nodes[stranger].http("GET", "/info", None).json();
    assert_eq!(info["Swarm"]["LocalNodeState"], "inactive");
    std::thread::sleep(Duration::from_secs(3));
    let nodes = json_array(c.nodes[0].http("GET", "/nodes", None).json());
    assert_eq!(
        nodes.len(),
        5,
        "a refused join must not leave a node behind"
    );
    assert!(nodes.iter().all(|n| n["Status"]["State"] == "ready"));
}

/// Calls Raft's `Propose` and Membership's `Join` on `manager` with the certificate in
/// `cert_dir`; returns each call's status.
fn manager_only_calls_with_cert(
    cert_dir: &std::path::Path,
    manager: &str,
) -> Vec<(&'static str, tonic::Status)> {
    use shoal_proto::membership::{JoinRequest, membership_client::MembershipClient};
    use shoal_proto::raft::{RaftRequest, raft_client::RaftClient};
    use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
    let read = |f: &str| std::fs::read_to_string(cert_dir.join(f)).expect("certificate file");
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("swarm-root-ca.crt")))
        .identity(Identity::from_pem(
            read("swarm-node.crt"),
            read("swarm-node.key"),
        ))
        .domain_name("swarm-manager");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let channel = Channel::from_shared(format!("https://{manager}"))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .expect("TLS with the worker's certificate");
        let propose = RaftClient::new(channel.clone())
            .propose(RaftRequest {
                payload: b"{\"txs\":[]}".to_vec(),
            })
            .await
            .expect_err("a worker must not propose raft entries");
        let join = MembershipClient::new(channel)
            .join(JoinRequest {
                raft_id: 7,
                addr: "10.0.0.1:2377".into(),
            })
            .await
            .expect_err("a worker must not join the raft cluster");
        vec![("raft.Propose", propose), ("membership.Join", join)]
    })
}

fn service_names(c: &Cluster, i: usize) -> Option<Vec<String>> {
    let r = shoal_testkit::request(&c.nodes[i].socket(), "GET", "/services", None).ok()?;
    (r.status == 200).then(|| {
        let mut names: Vec<String> = json_array(r.json())
            .iter()
            .map(|s| s["Spec"]["Name"].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        names
    })
}

#[test]
fn a_killed_leader_is_replaced_and_acknowledged_writes_survive() {
    let mut c = Cluster::start(BIN, 3, 0, PROCESS, fast()).expect("cluster");
    let leader = c
        .wait_leader(&[0, 1, 2], &[0, 1, 2], Duration::from_secs(10))
        .unwrap();
    // Writes acknowledged through every manager, followers forwarding to the leader.
    let mut expected = Vec::new();
    for k in 0..12 {
        let name = format!("before{k:02}");
        let r = c.nodes[k % 3].http("POST", "/services/create", Some(&sleeper(&name, 0)));
        assert_eq!(r.status, 201, "{name}: {}", r.text());
        expected.push(name);
    }
    c.nodes[leader].kill9();
    let survivors: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let new_leader = c
        .wait_leader(&survivors, &survivors, Duration::from_secs(15))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    assert_ne!(new_leader, leader);
    for &s in &survivors {
        let r = c.nodes[s].http(
            "POST",
            "/services/create",
            Some(&sleeper(&format!("after{s}"), 0)),
        );
        assert_eq!(r.status, 201, "create on node {s}: {}", r.text());
        expected.push(format!("after{s}"));
    }
    expected.sort();
    for &s in &survivors {
        let names = wait_for("all services", Duration::from_secs(10), || {
            service_names(&c, s).filter(|n| *n == expected)
        });
        assert!(names.is_ok(), "node {s} has {:?}", service_names(&c, s));
    }
    // The old leader comes back as a follower and catches up.
    c.nodes[leader].restart().expect("restart");
    wait_for(
        "the old leader to catch up",
        Duration::from_secs(20),
        || service_names(&c, leader).filter(|n| *n == expected),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", service_names(&c, leader), c.logs()));
    assert_eq!(c.leader_seen_by(leader), Some(new_leader));
}

#[test]
fn a_manager_cut_off_in_the_minority_takes_no_writes_and_converges_after_healing() {
    let c = Cluster::start(BIN, 3, 0, PROCESS, fast()).expect("cluster");
    let old = c
        .wait_leader(&[0, 1, 2], &[0, 1, 2], Duration::from_secs(10))
        .unwrap();
    let majority: Vec<usize> = (0..3).filter(|&i| i != old).collect();
    c.net.cut(old);
    let new = c
        .wait_leader(&majority, &majority, Duration::from_secs(15))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    let r = c.nodes[majority[0]].http("POST", "/services/create", Some(&sleeper("majority", 0)));
    assert_eq!(r.status, 201, "{}", r.text());
    // The cut-off manager refuses: it cannot commit without a quorum.
    let r = c.nodes[old].http("POST", "/services/create", Some(&sleeper("minority", 0)));
    assert_eq!(r.status, 503, "{}", r.text());
    let msg = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains("quorum"), "{msg}");
    // Reads still answer there.
    assert_eq!(service_names(&c, old), Some(vec![]));
    c.net.heal(old);
    wait_for(
        "the healed manager to converge",
        Duration::from_secs(20),
        || {
            (service_names(&c, old)? == vec!["majority".to_string()]
                && c.leader_seen_by(old) == Some(new))
            .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    for i in 0..3 {
        assert_eq!(
            service_names(&c, i),
            Some(vec!["majority".to_string()]),
            "node {i}"
        );
    }
}

#[test]
fn a_dead_workers_tasks_move_and_it_comes_back_without_extra_tasks() {
    let mut c = Cluster::start(BIN, 1, 2, PROCESS, fast()).expect("cluster");
    let r = c.nodes[0].http("POST", "/services/create", Some(&sleeper("web", 6)));
    assert_eq!(r.status, 201, "{}", r.text());
    let ids: Vec<String> = (0..3).map(|i| c.node_id(i).to_string()).collect();
    let on = |tasks: &[Value], i: usize| tasks.iter().filter(|t| t["NodeID"] == ids[i]).count();
    let tasks = wait_for("6 running", Duration::from_secs(30), || {
        let t = running(&c, 0, "web");
        (t.len() == 6).then_some(t)
    })
    .unwrap();
    assert_eq!(on(&tasks, 1), 2);
    c.nodes[1].kill9();
    let moved = wait_for(
        "the dead worker's tasks elsewhere",
        Duration::from_secs(30),
        || {
            let t = running(&c, 0, "web");
            (t.len() == 6 && on(&t, 1) == 0).then_some(t)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    assert_eq!(on(&moved, 0) + on(&moved, 2), 6);
    let nodes = json_array(c.nodes[0].http("GET", "/nodes", None).json());
    let dead = nodes.iter().find(|n| n["ID"] == ids[1]).unwrap();
    assert_eq!(dead["Status"]["State"], "down");
    // Back: it stops what was moved away; the service never exceeds six running tasks.
    c.nodes[1].restart().expect("restart");
    wait_for(
        "the worker to be ready again",
        Duration::from_secs(20),
        || {
            let nodes = json_array(c.nodes[0].http("GET", "/nodes", None).json());
            nodes
                .iter()
                .all(|n| n["Status"]["State"] == "ready")
                .then_some(())
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let all = json_array(
        c.nodes[0]
            .http(
                "GET",
                "/tasks?filters=%7B%22service%22%3A%5B%22web%22%5D%7D",
                None,
            )
            .json(),
    );
    let live: Vec<&Value> = all
        .iter()
        .filter(|t| t["Status"]["State"] == "running")
        .collect();
    assert_eq!(
        live.len(),
        6,
        "running tasks after the worker returned: {all:#?}"
    );
    let old_on_worker = all
        .iter()
        .filter(|t| t["NodeID"] == ids[1])
        .filter(|t| t["Status"]["State"] == "running")
        .count();
    let table: Vec<String> = all
        .iter()
        .map(|t| {
            format!(
                "slot {} node {:?} desired {} state {} {}",
                t["Slot"],
                c.index_of(t["NodeID"].as_str().unwrap_or_default()),
                t["DesiredState"],
                t["Status"]["State"],
                t["Status"]["Message"]
            )
        })
        .collect();
    assert_eq!(
        old_on_worker, 0,
        "the returning worker must stop the tasks moved away: {table:#?}"
    );
}

#[test]
fn drain_pause_and_active_move_and_place_tasks() {
    let c = Cluster::start(BIN, 1, 2, PROCESS, fast()).expect("cluster");
    let r = c.nodes[0].http("POST", "/services/create", Some(&sleeper("web", 6)));
    assert_eq!(r.status, 201, "{}", r.text());
    let on =
        |tasks: &[Value], i: usize| tasks.iter().filter(|t| t["NodeID"] == c.node_id(i)).count();
    wait_for("6 running", Duration::from_secs(30), || {
        (running(&c, 0, "web").len() == 6).then_some(())
    })
    .unwrap();
    let set = |i: usize, availability: &str| {
        success(c.nodes[0].shoal(&[
            "node",
            "update",
            "--availability",
            availability,
            c.node_id(i),
        ]));
    };
    set(1, "drain");
    let t = wait_for("node 1 drained", Duration::from_secs(30), || {
        let t = running(&c, 0, "web");
        (t.len() == 6 && on(&t, 1) == 0).then_some(t)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    assert_eq!(on(&t, 0) + on(&t, 2), 6);
    // Paused: keeps its tasks, gets no new ones.
    set(2, "pause");
    let before_2 = on(&t, 2);
    success(c.nodes[0].shoal(&["service", "scale", "-d", "web=9"]));
    let t = wait_for("9 running", Duration::from_secs(30), || {
        let t = running(&c, 0, "web");
        (t.len() == 9).then_some(t)
    })
    .unwrap();
    assert_eq!(
        on(&t, 2),
        before_2,
        "a paused node keeps its tasks and takes no new ones"
    );
    assert_eq!(on(&t, 1), 0, "a drained node takes none");
    // Active again: new tasks may land there.
    set(1, "active");
    set(2, "active");
    success(c.nodes[0].shoal(&["service", "scale", "-d", "web=12"]));
    let t = wait_for("12 running", Duration::from_secs(30), || {
        let t = running(&c, 0, "web");
        (t.len() == 12).then_some(t)
    })
    .unwrap();
    assert!(
        on(&t, 1) >= 3,
        "the reactivated node takes new tasks: {}",
        on(&t, 1)
    );

    // `node rm`: refused while the node is up; once it is down, removed, and when it comes
    // back it is refused by the cluster and leaves the swarm by itself.
    let out = c.nodes[0].shoal(&["node", "rm", c.node_id(2)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "rpc error: code = FailedPrecondition desc = node {} is not down and can't be removed",
            c.node_id(2)
        )),
        "{err}"
    );
    let id2 = c.node_id(2).to_string();
    let mut c = c;
    c.nodes[2].kill9();
    wait_for("node 2 down", Duration::from_secs(30), || {
        let n = c.nodes[0]
            .http("GET", &format!("/nodes/{id2}"), None)
            .json();
        (n["Status"]["State"] == "down").then_some(())
    })
    .unwrap();
    success(c.nodes[0].shoal(&["node", "rm", &id2]));
    c.nodes[2].restart().expect("restart");
    wait_for("the removed node to leave", Duration::from_secs(30), || {
        let info = c.nodes[2].http("GET", "/info", None).json();
        (info["Swarm"]["LocalNodeState"] == "inactive").then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
}

fn manager_statuses(c: &Cluster, asker: usize) -> Vec<(usize, String)> {
    let r = shoal_testkit::request(&c.nodes[asker].socket(), "GET", "/nodes", None);
    let Ok(r) = r else { return Vec::new() };
    if r.status != 200 {
        return Vec::new();
    }
    let mut out: Vec<(usize, String)> = json_array(r.json())
        .iter()
        .filter(|n| n["Spec"]["Role"] == "manager")
        .filter_map(|n| {
            let i = c.index_of(n["ID"].as_str()?)?;
            let s = if n["ManagerStatus"]["Leader"] == true {
                "leader".to_string()
            } else {
                n["ManagerStatus"]["Reachability"].as_str()?.to_string()
            };
            Some((i, s))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn promote_demote_and_leave_change_the_managers() {
    let c = Cluster::start(BIN, 1, 2, PROCESS, fast()).expect("cluster");
    // Promote both workers: they get manager certificates, join Raft and serve the API.
    for i in [1, 2] {
        success(c.nodes[0].shoal(&["node", "promote", c.node_id(i)]));
    }
    let want = vec![
        (0, "leader".to_string()),
        (1, "reachable".to_string()),
        (2, "reachable".to_string()),
    ];
    wait_for("three managers", Duration::from_secs(30), || {
        (manager_statuses(&c, 0) == want && manager_statuses(&c, 2) == want).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", manager_statuses(&c, 0), c.logs()));
    let r = c.nodes[2].http(
        "POST",
        "/services/create",
        Some(&sleeper("via-promoted", 0)),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    // Demote the leader itself: another manager takes over and node 0 becomes a worker.
    success(c.nodes[1].shoal(&["node", "demote", c.node_id(0)]));
    let led = wait_for("node 0 demoted", Duration::from_secs(30), || {
        let m = manager_statuses(&c, 1);
        (m.len() == 2 && m.iter().any(|(_, s)| s == "leader")).then_some(m)
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", manager_statuses(&c, 1), c.logs()));
    assert!(led.iter().all(|(i, _)| *i != 0), "{led:?}");
    wait_for(
        "node 0 to answer as a worker",
        Duration::from_secs(30),
        || {
            let r = c.nodes[0].http("GET", "/nodes", None);
            (r.status == 503 && r.text().contains("Worker nodes can't be used")).then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    assert_eq!(service_names(&c, 2), Some(vec!["via-promoted".to_string()]));

    // A manager leaves the swarm: Docker asks for --force when fewer than a quorum of the
    // managers would remain reachable; with it, the node still leaves the membership cleanly.
    let out = c.nodes[2].shoal(&["swarm", "leave"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("Removing this node leaves 1 managers out of 2"),
        "{err}"
    );
    success(c.nodes[2].shoal(&["swarm", "leave", "--force"]));
    wait_for("one manager left", Duration::from_secs(30), || {
        (manager_statuses(&c, 1) == vec![(1, "leader".to_string())]).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", manager_statuses(&c, 1), c.logs()));
    let out = c.nodes[1].shoal(&["node", "demote", c.node_id(1)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("attempting to demote the last manager of the swarm"),
        "{err}"
    );
    let r = c.nodes[1].http(
        "POST",
        "/services/create",
        Some(&sleeper("still-writable", 0)),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

/// The node certificate in a daemon's data dir.
fn node_cert(c: &Cluster, i: usize) -> String {
    std::fs::read_to_string(
        c.nodes[i]
            .data_dir()
            .join("swarm/certificates/swarm-node.crt"),
    )
    .unwrap_or_default()
}

#[test]
fn certificates_renew_themselves_with_the_clusters_expiry_and_the_swarm_keeps_working() {
    let args = ["--driver", "process", "--cert-renew-after", "4s"];
    let c = Cluster::start(BIN, 1, 1, &args, fast()).expect("cluster");
    success(c.nodes[0].shoal(&["swarm", "update", "--cert-expiry", "2h"]));
    let first: Vec<String> = (0..2).map(|i| node_cert(&c, i)).collect();
    let renewed = wait_for("both nodes renewed", Duration::from_secs(30), || {
        let now: Vec<String> = (0..2).map(|i| node_cert(&c, i)).collect();
        (now[0] != first[0] && now[1] != first[1]).then_some(now)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    for (i, pem) in renewed.iter().enumerate() {
        let id = shoal_ca::identity_from_pem(pem).expect("a node certificate");
        assert_eq!(id.node_id, c.node_id(i));
        let life = id.not_after.duration_since(id.not_before).unwrap() - shoal_ca::CERT_BACKDATE;
        assert!(
            life.as_secs().abs_diff(7200) < 60,
            "node {i}: lifetime {life:?}, the cluster says 2h"
        );
    }
    // Sessions and the cluster port work with the new certificates.
    let r = c.nodes[0].http("POST", "/services/create", Some(&sleeper("renewed", 4)));
    assert_eq!(r.status, 201, "{}", r.text());
    let tasks = wait_for("4 running on both nodes", Duration::from_secs(30), || {
        let t = running(&c, 0, "renewed");
        (t.len() == 4).then_some(t)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    assert_eq!(
        tasks.iter().filter(|t| t["NodeID"] == c.node_id(1)).count(),
        2,
        "the worker, on its renewed certificate, runs its share"
    );
}

#[test]
fn force_new_cluster_recovers_the_swarm_from_one_surviving_manager() {
    let mut c = Cluster::start(BIN, 3, 1, PROCESS, fast()).expect("cluster");
    let r = c.nodes[0].http("POST", "/services/create", Some(&sleeper("kept", 2)));
    assert_eq!(r.status, 201, "{}", r.text());
    wait_for("2 running", Duration::from_secs(30), || {
        (running(&c, 0, "kept").len() == 2).then_some(())
    })
    .unwrap();
    // Two of three managers are gone for good: no quorum, no writes.
    wait_for("node 2 to have caught up", Duration::from_secs(20), || {
        (service_names(&c, 2)? == vec!["kept".to_string()]).then_some(())
    })
    .unwrap();
    c.nodes[0].kill9();
    c.nodes[1].kill9();
    let r = c.nodes[2].http("POST", "/services/create", Some(&sleeper("lost", 0)));
    assert_eq!(r.status, 503, "{}", r.text());
    let out = c.nodes[2].docker(&["swarm", "init", "--force-new-cluster"]);
    let text = success(out);
    assert!(text.contains("Swarm initialized"), "{text}");
    // The survivor leads a swarm that kept its state; the worker and its tasks carry on.
    let r = c.nodes[2].http("POST", "/services/create", Some(&sleeper("after", 0)));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        service_names(&c, 2),
        Some(vec!["after".to_string(), "kept".to_string()])
    );
    wait_for(
        "the worker ready under the new cluster",
        Duration::from_secs(30),
        || {
            let nodes = json_array(c.nodes[2].http("GET", "/nodes", None).json());
            let worker = nodes.iter().find(|n| n["ID"] == c.node_id(3))?;
            (worker["Status"]["State"] == "ready").then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    wait_for("2 running again", Duration::from_secs(30), || {
        (running(&c, 2, "kept").len() == 2).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    let statuses = manager_statuses(&c, 2);
    assert!(
        statuses.contains(&(2, "leader".to_string())),
        "{statuses:?}"
    );
}

/// `GET /` to `ip:port`; the replica that answered (whoami's `Task:` line).
fn whoami_task(ip: &str, port: u16) -> Option<String> {
    let body = shoal_testkit::http_get(ip, port).ok()?;
    body.lines()
        .find(|l| l.starts_with("Task: "))
        .map(str::to_string)
}

#[test]
fn the_routing_mesh_answers_on_every_node_from_tasks_on_any_node() {
    let c = Cluster::start(BIN, 1, 2, PROCESS, fast()).expect("cluster");
    // Two replicas, only on the workers: the manager has none and still answers.
    let spec = json!({
        "Name": "web",
        "Mode": {"Replicated": {"Replicas": 2}},
        "TaskTemplate": {
            "ContainerSpec": {"Image": "shoal-demo:latest", "Command": [BIN],
                              "Args": ["demo-app", "whoami"], "StopGracePeriod": 1_000_000_000u64},
            "Placement": {"Constraints": ["node.role==worker"]}
        },
        "EndpointSpec": {"Ports": [{"TargetPort": 80, "PublishedPort": 8080}]}
    });
    let r = c.nodes[0].http("POST", "/services/create", Some(&spec.to_string()));
    assert_eq!(r.status, 201, "{}", r.text());
    for i in 0..3 {
        let ip = c.net.ip(i);
        wait_for(
            &format!("both replicas through node {i}'s port 8080"),
            Duration::from_secs(30),
            || {
                let seen: std::collections::BTreeSet<String> =
                    (0..6).filter_map(|_| whoami_task(&ip, 8080)).collect();
                (seen.len() == 2).then_some(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    }
}
