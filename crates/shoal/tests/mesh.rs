//! The routing mesh on one node, with both drivers: a published port answers on the node and
//! spreads requests over every running replica; scaling changes the set; a replica killed
//! under the mesh costs no request; a rolling update under steady load loses none; a replica
//! whose health check fails leaves the mesh within one health interval.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use shoal_testkit::{Daemon, build_busybox_image, free_port, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");
const IMAGE: &str = "shoal-test-busybox:1";

/// `GET /` over HTTP/1.0 through the mesh; the body.
fn get(port: u16) -> Option<String> {
    fetch(port).ok()
}

/// `GET /` as `get`, with what went wrong.
fn fetch(port: u16) -> Result<String, String> {
    shoal_testkit::http_get("127.0.0.1", port)
}

/// Which replica answered: whoami's `Port:` line (process tasks) or the container's hostname
/// (busybox httpd serving it).
fn replica(body: &str) -> String {
    body.lines()
        .find(|l| l.starts_with("Port: "))
        .unwrap_or(body.trim())
        .to_string()
}

fn spec(driver: &str, port: u16, replicas: u64, text: &str) -> Value {
    let container = if driver == "process" {
        json!({"Image": "shoal-demo:latest", "Command": [BIN], "Args": ["demo-app", "whoami"],
               "Env": [format!("DEMO_TEXT={text}")], "StopGracePeriod": 2_000_000_000u64})
    } else {
        json!({"Image": IMAGE, "Command": ["/bin/sh", "-c",
               "/bin/busybox mkdir -p /www && echo \"$HOSTNAME $DEMO_TEXT\" > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www"],
               "Env": [format!("DEMO_TEXT={text}")], "StopGracePeriod": 2_000_000_000u64})
    };
    json!({
        "Name": "web",
        "Mode": {"Replicated": {"Replicas": replicas}},
        "TaskTemplate": {"ContainerSpec": container},
        "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": port}]}
    })
}

/// The replicas answering over `n` requests.
fn seen(port: u16, n: usize) -> BTreeSet<String> {
    (0..n)
        .filter_map(|_| get(port))
        .map(|b| replica(&b))
        .collect()
}

fn running_pids(d: &Daemon) -> Vec<i64> {
    let r = d.http("GET", "/tasks", None);
    r.json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|t| t["Status"]["State"] == "running" && t["DesiredState"] == "running")
        .filter_map(|t| t["Status"]["ContainerStatus"]["PID"].as_i64())
        .collect()
}

fn scenario(driver: &str) {
    if driver == "docker" {
        build_busybox_image(IMAGE).unwrap();
    }
    let d = Daemon::start(BIN, &["--driver", driver]).unwrap();
    d.init_swarm();
    let port = free_port();
    let r = d.http(
        "POST",
        "/services/create",
        Some(&spec(driver, port, 3, "v1").to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    // Every replica answers through the published port, in turn.
    wait_for(
        "3 replicas behind the mesh",
        Duration::from_secs(60),
        || (seen(port, 6).len() == 3).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", seen(port, 6), d.log()));

    // Scaled to 2: two answer.
    let svc = d.http("GET", "/services/web", None).json();
    let version = svc["Version"]["Index"].as_u64().unwrap();
    let r = d.http(
        "POST",
        &format!("/services/web/update?version={version}"),
        Some(&spec(driver, port, 2, "v1").to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    wait_for(
        "2 replicas behind the mesh",
        Duration::from_secs(30),
        || (seen(port, 6).len() == 2).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", seen(port, 6), d.log()));

    // A replica killed outright: no request fails while the mesh learns it.
    let pids = running_pids(&d);
    assert_eq!(pids.len(), 2, "{pids:?}");
    let _ = std::process::Command::new("kill")
        .args(["-9", &pids[0].to_string()])
        .status();
    // Once it is gone: reaped, which for a multi-threaded process happens only after its last
    // thread ended and closed its sockets (its main thread shows as a zombie earlier, while
    // the listening socket may still take connections that are then lost with it).
    let proc_dir = format!("/proc/{}", pids[0]);
    wait_for("the killed replica gone", Duration::from_secs(10), || {
        (!std::path::Path::new(&proc_dir).exists()).then_some(())
    })
    .unwrap();
    // …and known to be gone: with the docker driver the task's published port is held by
    // Docker's userland proxy, which accepts and then closes while its container is dead, so
    // only the mesh table (sent as the manager learns of the exit) keeps requests away. The
    // pause covers the table's trip to the node.
    wait_for(
        "the killed task no longer running",
        Duration::from_secs(10),
        || (!running_pids(&d).contains(&pids[0])).then_some(()),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let failed: Vec<String> = (0..20).filter_map(|_| fetch(port).err()).collect();
    assert!(
        failed.is_empty(),
        "requests lost to a killed replica: {failed:?}\n{}",
        d.log()
    );

    // The restart policy brings the replica back.
    wait_for("2 replicas again", Duration::from_secs(30), || {
        (running_pids(&d).len() == 2 && seen(port, 6).len() == 2).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));

    // A rolling update under steady load (stop-first, one at a time): not one request lost.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, lost) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, ok, lost) = (stop.clone(), ok.clone(), lost.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match get(port) {
                    Some(_) => ok.fetch_add(1, Ordering::Relaxed),
                    None => lost.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let svc = d.http("GET", "/services/web", None).json();
    let version = svc["Version"]["Index"].as_u64().unwrap();
    let r = d.http(
        "POST",
        &format!("/services/web/update?version={version}"),
        Some(&spec(driver, port, 2, "v2").to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    wait_for("v2 everywhere", Duration::from_secs(60), || {
        let bodies: Vec<String> = (0..4).filter_map(|_| get(port)).collect();
        (bodies.len() == 4 && bodies.iter().all(|b| b.contains("v2"))).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let (ok, lost) = (ok.load(Ordering::Relaxed), lost.load(Ordering::Relaxed));
    assert!(ok > 20, "the load ran: {ok} answered");
    assert_eq!(
        lost,
        0,
        "{lost} of {} requests lost during the update",
        ok + lost
    );
}

#[test]
fn process_driver_routing_mesh() {
    scenario("process");
}

#[test]
fn docker_driver_routing_mesh() {
    scenario("docker");
}

/// `-p 80` with no published port: the swarm picks one from 30000–32767 and the mesh serves it.
#[test]
fn an_unpublished_port_gets_one_from_the_dynamic_range() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let out = d.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        "auto",
        "-p",
        "80",
        "shoal-demo:latest",
        BIN,
        "demo-app",
        "whoami",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svc = d.http("GET", "/services/auto", None).json();
    let port = svc["Endpoint"]["Ports"][0]["PublishedPort"]
        .as_u64()
        .unwrap();
    assert!((30000..=32767).contains(&port), "{svc}");
    let port = port as u16;
    let body = wait_for(
        "an answer on the assigned port",
        Duration::from_secs(30),
        || get(port),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    assert!(body.contains("Port: "), "{body}");
    // Kept across an update.
    let out = d.docker(&["service", "update", "-d", "--env-add", "A=1", "auto"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svc = d.http("GET", "/services/auto", None).json();
    assert_eq!(
        svc["Endpoint"]["Ports"][0]["PublishedPort"], port as u64,
        "{svc}"
    );
}

/// Beyond Swarm: with `shoal.mesh.proxy-protocol`, the task sees the client's own address.
#[test]
fn with_the_proxy_protocol_the_task_sees_the_client() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let port = free_port();
    let mut s = spec("process", port, 1, "v1");
    s["Labels"] = json!({"shoal.mesh.proxy-protocol": port.to_string()});
    s["TaskTemplate"]["ContainerSpec"]["Args"] = json!(["demo-app", "whoami", "--proxy-protocol"]);
    let r = d.http("POST", "/services/create", Some(&s.to_string()));
    assert_eq!(r.status, 201, "{}", r.text());
    let (client, body) = wait_for(
        "an answer through the mesh",
        Duration::from_secs(30),
        || {
            let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
            let me = c.local_addr().ok()?;
            c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            write!(c, "GET / HTTP/1.0\r\n\r\n").ok()?;
            let mut raw = String::new();
            c.read_to_string(&mut raw).ok()?;
            raw.contains(" 200 ").then_some((me, raw))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    assert!(
        body.contains(&format!("RemoteAddr: {client}")),
        "the task sees {client}: {body}"
    );
}

/// A replica whose health check starts failing leaves the mesh within one health interval
/// (retries 1): its node-local port, as the mesh reports it in the task's port status.
#[test]
fn an_unhealthy_replica_stops_getting_traffic_within_one_health_interval() {
    let markers = tempfile::tempdir().unwrap();
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let port = free_port();
    let mut s = spec("process", port, 2, "v1");
    // Healthy until a file named after the task appears.
    let check = format!("test ! -e {}/$SHOAL_TASK_ID", markers.path().display());
    s["TaskTemplate"]["ContainerSpec"]["Healthcheck"] = json!({
        "Test": ["CMD-SHELL", check], "Interval": 1_000_000_000u64,
        "Timeout": 1_000_000_000u64, "Retries": 1});
    let r = d.http("POST", "/services/create", Some(&s.to_string()));
    assert_eq!(r.status, 201, "{}", r.text());
    wait_for(
        "2 replicas behind the mesh",
        Duration::from_secs(30),
        || (seen(port, 6).len() == 2).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));

    // One running task and the `Port:` line its whoami answers with.
    let tasks = d.http("GET", "/tasks", None).json();
    let task = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["Status"]["State"] == "running")
        .unwrap()
        .clone();
    let task_port = task["Status"]["PortStatus"]["Ports"][0]["PublishedPort"]
        .as_i64()
        .unwrap();
    let sick = format!("Port: {task_port}");
    std::fs::write(markers.path().join(task["ID"].as_str().unwrap()), "").unwrap();
    let marked = std::time::Instant::now();

    // Requests go on; the last one the sick replica answers comes within the interval (plus
    // the check's own run and the table's trip through the manager).
    let mut last_sick = None;
    while marked.elapsed() < Duration::from_secs(6) {
        if let Some(body) = get(port)
            && replica(&body) == sick
        {
            last_sick = Some(marked.elapsed());
        }
    }
    let last_sick = last_sick.unwrap_or_default();
    println!("the unhealthy replica answered last {last_sick:?} after its check began failing");
    assert!(
        last_sick < Duration::from_millis(2500),
        "still routed {last_sick:?} after the check failed (interval 1 s)\n{}",
        d.log()
    );
    // It stays out (its replacement, if the restart policy made it already, has its own port).
    let now = seen(port, 4);
    assert!(!now.is_empty() && !now.contains(&sick), "{now:?}");
}
