//! The lab's nodes: daemons started detached inside their namespaces, the swarm built with the
//! `shoal` CLI itself (init on node 1, join with the manager or worker token), and the record
//! in `<dir>/lab.json` that `down` and `status` read.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::UpArgs;
use super::net::{self, tool};

#[derive(Debug, Serialize, Deserialize)]
struct Lab {
    nodes: Vec<LabNode>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LabNode {
    index: usize,
    role: String,
    ip: String,
    socket: PathBuf,
    pid: u32,
    log: PathBuf,
}

fn lab_file(dir: &Path) -> PathBuf {
    dir.join("lab.json")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// `shoal lab up`.
pub fn up(a: &UpArgs) -> Result<(), String> {
    if !is_root() {
        return Err("a lab needs root (network namespaces, a bridge and veths)".into());
    }
    if a.managers == 0 {
        return Err("a swarm needs at least one manager".into());
    }
    if lab_file(&a.dir.dir).exists() {
        return Err(format!(
            "a lab is already up in {}; run `shoal lab down` first",
            a.dir.dir.display()
        ));
    }
    std::fs::create_dir_all(&a.dir.dir).map_err(|e| format!("{}: {e}", a.dir.dir.display()))?;
    net::create_bridge()?;
    let mut started = Vec::new();
    match build(a, &mut started) {
        Ok(lab) => {
            let json = serde_json::to_vec_pretty(&lab).expect("lab serialises");
            std::fs::write(lab_file(&a.dir.dir), json).map_err(|e| e.to_string())?;
            print_summary(&lab, &a.dir.dir);
            Ok(())
        }
        Err(e) => {
            stop_all(&started);
            net::remove(a.managers + a.workers);
            let _ = std::fs::remove_dir_all(&a.dir.dir);
            Err(e)
        }
    }
}

fn build(a: &UpArgs, started: &mut Vec<u32>) -> Result<Lab, String> {
    let total = a.managers + a.workers;
    let mut nodes = Vec::new();
    for i in 1..=total {
        net::add_node(i)?;
        let node = spawn(
            &a.dir.dir,
            i,
            &a.driver,
            if i <= a.managers { "manager" } else { "worker" },
        )?;
        started.push(node.pid);
        nodes.push(node);
    }
    for n in &nodes {
        wait_ping(&n.socket, &n.log)?;
    }
    let first = &nodes[0];
    let addr = format!("{}:2377", first.ip);
    client(
        &first.socket,
        &[
            "swarm",
            "init",
            "--listen-addr",
            &addr,
            "--advertise-addr",
            &first.ip,
        ],
    )?;
    let token = |kind: &str| client(&first.socket, &["swarm", "join-token", "-q", kind]);
    let (manager_token, worker_token) = (token("manager")?, token("worker")?);
    for n in &nodes[1..] {
        let t = if n.role == "manager" {
            &manager_token
        } else {
            &worker_token
        };
        let own = format!("{}:2377", n.ip);
        client(
            &n.socket,
            &[
                "swarm",
                "join",
                "--token",
                t.trim(),
                "--listen-addr",
                &own,
                "--advertise-addr",
                &n.ip,
                &addr,
            ],
        )?;
    }
    Ok(Lab { nodes })
}

/// Starts node `i`'s daemon in its namespace, in a session of its own so it outlives `up`.
fn spawn(dir: &Path, i: usize, driver: &str, role: &str) -> Result<LabNode, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the shoal binary: {e}"))?;
    let socket = dir.join(format!("node-{i}.sock"));
    let log = dir.join(format!("node-{i}.log"));
    let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(tool("setsid")?)
        .arg(tool("nsenter")?)
        .arg(format!("--net=/run/netns/{}", net::netns(i)))
        .arg("--")
        .arg(exe)
        .arg("daemon")
        .arg("--data-dir")
        .arg(dir.join(format!("node-{i}")))
        .arg("-H")
        .arg(format!("unix://{}", socket.display()))
        .args(["--listen-addr", &format!("{}:2377", net::ip(i))])
        .args(["--advertise-addr", &net::ip(i), "--driver", driver])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start node {i}: {e}"))?;
    Ok(LabNode {
        index: i,
        role: role.into(),
        ip: net::ip(i),
        socket,
        pid: child.id(),
        log,
    })
}

/// Waits until the daemon answers `_ping` on its socket.
fn wait_ping(socket: &Path, log: &Path) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(mut s) = UnixStream::connect(socket) {
            let _ = s.write_all(b"GET /_ping HTTP/1.0\r\nHost: lab\r\n\r\n");
            let mut reply = String::new();
            let _ = s.read_to_string(&mut reply);
            if reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("a node did not start; see {}", log.display()))
}

/// Runs the shoal CLI against a node; its stdout.
fn client(socket: &Path, args: &[&str]) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env("SHOAL_HOST", format!("unix://{}", socket.display()))
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "shoal {}: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
}

/// SIGTERM, then SIGKILL for any daemon still running after 10 s.
fn stop_all(pids: &[u32]) {
    let signal = |sig: &str, pid: u32| {
        let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
    };
    for &p in pids {
        signal("-TERM", p);
    }
    let start = Instant::now();
    while pids.iter().any(|&p| alive(p)) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    for &p in pids.iter().filter(|&&p| alive(p)) {
        signal("-KILL", p);
    }
}

fn read_lab(dir: &Path) -> Result<Lab, String> {
    let raw =
        std::fs::read(lab_file(dir)).map_err(|_| format!("no lab is up in {}", dir.display()))?;
    serde_json::from_slice(&raw).map_err(|e| format!("{} is corrupt: {e}", lab_file(dir).display()))
}

/// `shoal lab down`.
pub fn down(dir: &Path) -> Result<(), String> {
    let lab = read_lab(dir)?;
    let pids: Vec<u32> = lab.nodes.iter().map(|n| n.pid).collect();
    stop_all(&pids);
    net::remove(lab.nodes.len());
    std::fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    println!(
        "The lab is down: {} nodes stopped, its network and files removed.",
        pids.len()
    );
    Ok(())
}

/// `shoal lab status`.
pub fn status(dir: &Path) -> Result<(), String> {
    let lab = read_lab(dir)?;
    println!("NODE   ROLE      ADDRESS        PROCESS   API");
    for n in &lab.nodes {
        let state = if alive(n.pid) { "running" } else { "stopped" };
        println!(
            "{:<6} {:<9} {:<14} {:<9} unix://{}",
            n.index,
            n.role,
            n.ip,
            state,
            n.socket.display()
        );
    }
    Ok(())
}

fn print_summary(lab: &Lab, dir: &Path) {
    let managers = lab.nodes.iter().filter(|n| n.role == "manager").count();
    println!(
        "A practice swarm of {managers} managers and {} workers is up.\n",
        lab.nodes.len() - managers
    );
    let _ = status(dir);
    let first = lab.nodes[0].socket.display();
    println!(
        "\nTry:\n  export SHOAL_HOST=unix://{first}      # or DOCKER_HOST=… for the docker CLI\n  \
         shoal node ls\n  shoal service create --name web --replicas 6 busybox sleep 1000\n  \
         shoal service ps web\n\nCut node 2 off the network: ip link set {} down (and up again)\n\
         Stop it: kill {} · logs in {}\nRemove the lab: shoal lab down",
        net::veth(2),
        lab.nodes.get(1).map_or(0, |n| n.pid),
        dir.display()
    );
}
