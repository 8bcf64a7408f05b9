//! The demo apps built into the binary answer over HTTP, run as a process-driver service, and
//! `shoal image build` makes an image the Docker Engine runs without a registry.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use shoal_testkit::{Daemon, free_port, success, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");

/// `GET path` over HTTP/1.0 to `ip:port`; the status code and body.
fn get(ip: &str, port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect((ip, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {ip}:{port}\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// A child process killed when dropped.
struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_app(args: &[&str], env: &[(&str, &str)]) -> Kill {
    let mut c = Command::new(BIN);
    c.arg("demo-app").args(args).stdout(Stdio::null());
    c.env_remove("PORT")
        .env_remove("DEMO_TEXT")
        .env_remove("REDIS_HOST");
    for (k, v) in env {
        c.env(k, v);
    }
    Kill(c.spawn().expect("spawn shoal demo-app"))
}

fn answer(port: u16, path: &str) -> (u16, String) {
    wait_for(
        &format!("an answer on port {port}"),
        Duration::from_secs(20),
        || get("127.0.0.1", port, path),
    )
    .unwrap()
}

#[test]
fn whoami_answers_with_hostname_version_and_request() {
    let port = free_port();
    let _app = spawn_app(
        &["whoami", "--port", &port.to_string(), "--text", "web v2"],
        &[("HOSTNAME", "demo-host")],
    );
    let (status, body) = answer(port, "/some/path?x=1");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Hostname: demo-host"), "{body}");
    assert!(body.contains("Version: web v2"), "{body}");
    assert!(body.contains("GET /some/path?x=1"), "{body}");
    assert!(body.to_lowercase().contains("host: 127.0.0.1"), "{body}");
    assert_eq!(answer(port, "/health").0, 200);

    // The port and the version line also come from the environment.
    let port = free_port();
    let _app = spawn_app(
        &["whoami"],
        &[("PORT", &port.to_string()), ("DEMO_TEXT", "from env")],
    );
    let (status, body) = answer(port, "/");
    assert_eq!(status, 200);
    assert!(body.contains("Version: from env"), "{body}");
}

#[test]
fn counter_counts_visits_in_memory_and_in_a_shared_store() {
    let port = free_port();
    let _app = spawn_app(
        &["counter", "--port", &port.to_string()],
        &[("HOSTNAME", "c1")],
    );
    assert_eq!(answer(port, "/"), (200, "c1 > 1\n".into()));
    assert_eq!(answer(port, "/"), (200, "c1 > 2\n".into()));
    assert_eq!(answer(port, "/health").0, 200);

    // Two replicas sharing a Redis-protocol store count together.
    let store = fake_redis();
    let (p1, p2) = (free_port(), free_port());
    let _a = spawn_app(
        &["counter", "--port", &p1.to_string(), "--store", &store],
        &[("HOSTNAME", "a")],
    );
    let _b = spawn_app(
        &["counter", "--port", &p2.to_string()],
        &[("HOSTNAME", "b"), ("REDIS_HOST", &store)],
    );
    assert_eq!(answer(p1, "/"), (200, "a > 1\n".into()));
    assert_eq!(answer(p2, "/"), (200, "b > 2\n".into()));
    assert_eq!(answer(p1, "/"), (200, "a > 3\n".into()));
}

/// A store answering every `INCR` with the next number, as Redis does for one key.
fn fake_redis() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut n = 0u64;
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 256];
            let Ok(len) = c.read(&mut buf) else { continue };
            if String::from_utf8_lossy(&buf[..len]).contains("INCR") {
                n += 1;
                let _ = write!(c, ":{n}\r\n");
            }
        }
    });
    addr
}

fn tasks(d: &Daemon) -> Vec<Value> {
    match d.http("GET", "/tasks", None).json() {
        Value::Array(a) => a,
        other => panic!("GET /tasks: {other}"),
    }
}

#[test]
fn a_process_service_of_whoami_answers_on_each_replicas_port() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let spec = json!({
        "Name": "whoami",
        "Mode": {"Replicated": {"Replicas": 2}},
        "TaskTemplate": {"ContainerSpec": {
            "Image": "shoal-demo:latest",
            "Command": [BIN],
            "Args": ["demo-app", "whoami"],
            "Env": ["DEMO_TEXT=process v1"]
        }},
        "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080}]}
    });
    let r = d.http("POST", "/services/create", Some(&spec.to_string()));
    assert_eq!(r.status, 201, "{}", r.text());

    let ports: Vec<u16> = wait_for(
        "2 running replicas with ports",
        Duration::from_secs(30),
        || {
            let ports: Vec<u16> = tasks(&d)
                .iter()
                .filter(|t| t["Status"]["State"] == "running")
                .filter_map(|t| t["Status"]["PortStatus"]["Ports"][0]["PublishedPort"].as_u64())
                .map(|p| p as u16)
                .collect();
            (ports.len() == 2).then_some(ports)
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {:#?}\n{}", tasks(&d), d.log()));
    assert_ne!(ports[0], ports[1]);
    for &port in &ports {
        assert!((20000..=29999).contains(&port), "{port}");
        let (status, body) = answer(port, "/");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("Version: process v1"), "{body}");
        assert!(body.contains(&format!("Port: {port}")), "{body}");
    }
    let r = d.http("DELETE", "/services/whoami", None);
    assert_eq!(r.status, 200, "{}", r.text());
    // Removing the service stops its processes (a daemon killed now would leave them running).
    wait_for("the replicas to stop", Duration::from_secs(30), || {
        ports
            .iter()
            .all(|p| get("127.0.0.1", *p, "/health").is_none())
            .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
}

#[test]
fn image_build_makes_an_image_the_engine_runs() {
    let tag = format!("shoal-demo:test-{}", std::process::id());
    let out = Command::new(BIN)
        .args(["image", "build", "--tag", &tag])
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    let stdout = success(out);
    assert!(stdout.contains(&tag), "{stdout}");

    let name = format!("shoal-demo-test-{}", std::process::id());
    let cleanup = || {
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
        let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
    };
    let run = Command::new("docker")
        .args(["run", "--rm", &tag, "demo-app", "whoami", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&run.stdout).to_string();
    if !run.status.success() || !help.contains("--text") {
        cleanup();
        panic!("docker run: {help}{}", String::from_utf8_lossy(&run.stderr));
    }

    // A real container answers HTTP on its bridge address.
    let started = Command::new("docker")
        .args(["run", "-d", "--name", &name, "-e", "DEMO_TEXT=container v1"])
        .args([tag.as_str(), "demo-app", "whoami"])
        .output()
        .unwrap();
    let result = container_answer(started, &name);
    cleanup();
    let (status, body) = result.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Version: container v1"), "{body}");
}

/// The answer of the container `name` (started by `started`) on its bridge address, port 80.
fn container_answer(started: std::process::Output, name: &str) -> anyhow::Result<(u16, String)> {
    anyhow::ensure!(
        started.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", name])
        .output()?;
    let ip = String::from_utf8_lossy(&out.stdout).trim().to_string();
    anyhow::ensure!(!ip.is_empty(), "no bridge address for {name}");
    wait_for("the container's answer", Duration::from_secs(20), || {
        get(&ip, 80, "/")
    })
}
