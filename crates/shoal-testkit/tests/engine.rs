//! Proves `Engine`: a Docker Engine of its own inside a host of a `Net`, not reading the
//! machine's configuration, whose published ports answer on the host's address; `Drop` and
//! the sweep of a dead owner's engines leave no process, mount, cgroup or directory. Needs
//! root, dockerd, containerd, the docker CLI and busybox-static.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use shoal_testkit::{Engine, Net, success, wait_for};

const IMAGE: &str = "shoal-test-busybox:1";

/// What an engine had running, to check it is all gone.
struct Footprint {
    dir: String,
    pids: Vec<u32>,
    cgroup: String,
    /// containerd shims listen outside the engine's directory, in /run/containerd/s.
    shim_sockets: Vec<String>,
}

impl Footprint {
    fn of(e: &Engine, container_pid: u32) -> Footprint {
        let dir = e.dir().display().to_string();
        let mut pids = processes_naming(&dir);
        assert!(pids.len() >= 3, "dockerd, containerd, a shim: {pids:?}");
        // Every unix socket of the namespace: only this engine's processes are in there.
        let unix = std::fs::read_to_string(format!("/proc/{}/net/unix", pids[0])).unwrap();
        let mut shim_sockets: Vec<String> = unix
            .split_whitespace()
            .filter(|w| w.starts_with("/run/containerd/s/"))
            .map(str::to_string)
            .collect();
        // Listed once listening and once per accepted connection.
        shim_sockets.sort();
        shim_sockets.dedup();
        assert_eq!(shim_sockets.len(), 1, "one shim: {unix}");
        pids.push(container_pid);
        let name = e.dir().file_name().unwrap().to_string_lossy().into_owned();
        Footprint {
            dir,
            pids,
            cgroup: name,
            shim_sockets,
        }
    }

    fn assert_gone(&self) {
        for pid in &self.pids {
            wait_for(
                &format!("process {pid} gone"),
                Duration::from_secs(5),
                || gone(*pid).then_some(()),
            )
            .unwrap();
        }
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let left: Vec<&str> = mounts.lines().filter(|l| l.contains(&self.dir)).collect();
        assert!(left.is_empty(), "mounts left: {left:#?}");
        assert!(!Path::new(&self.dir).exists(), "{} left", self.dir);
        let cgroups: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|h| h.path().join(&self.cgroup))
            .chain([Path::new("/sys/fs/cgroup").join(&self.cgroup)])
            .filter(|p| p.exists())
            .collect();
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
        for socket in &self.shim_sockets {
            assert!(!Path::new(socket).exists(), "{socket} left");
        }
    }
}

/// PIDs whose command line names `dir`.
fn processes_naming(dir: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(dir)
        })
        .collect()
}

/// Gone or a zombie (its parent, this process, may not have reaped it yet).
fn gone(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(')').next().unwrap_or_default().trim_start();
    state.is_empty() || state.starts_with('Z')
}

/// Runs busybox httpd publishing port 80 on a random port; (host port, container PID).
fn serve(e: &Engine) -> (u16, u32) {
    let id = success(e.docker(&[
        "run",
        "-d",
        "-p",
        "80",
        IMAGE,
        "/bin/sh",
        "-c",
        "/bin/busybox mkdir /www && echo hello > /www/index.html && \
         exec /bin/busybox httpd -f -p 80 -h /www",
    ]));
    let id = id.trim();
    let c = e
        .http("GET", &format!("/containers/{id}/json"), None)
        .json();
    let port = c["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no published port: {c}"));
    (port, c["State"]["Pid"].as_u64().unwrap() as u32)
}

fn get(ip: &str, port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect((ip, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    raw.contains(" 200 ").then_some(raw)
}

#[test]
fn an_engine_serves_on_its_hosts_address_and_drop_leaves_nothing() {
    let net = Net::new(1).expect("Net");
    let e = Engine::start_in(&net, 0).expect("engine");
    let info = e.http("GET", "/info", None).json();
    // The machine's daemon.json (its data-root, storage driver) was not read.
    let root = info["DockerRootDir"].as_str().unwrap();
    assert!(root.starts_with(&e.dir().display().to_string()), "{info}");
    assert_eq!(info["Driver"], e.storage_driver(), "{info}");
    assert!(e.dir().join("key.json").exists(), "its own engine ID key");

    e.build_busybox_image(IMAGE).expect("image");
    let (port, pid) = serve(&e);
    let body = wait_for("the container's answer", Duration::from_secs(20), || {
        get(&net.ip(0), port)
    })
    .unwrap_or_else(|err| panic!("{err}\n{}", e.log()));
    assert!(body.ends_with("hello\n"), "{body}");
    // Its docker0 and NAT rules are the namespace's: the port is not open on the machine.
    assert!(
        get("127.0.0.1", port).is_none(),
        "port {port} on the machine"
    );

    let footprint = Footprint::of(&e, pid);
    drop(e);
    footprint.assert_gone();
}

#[test]
fn the_engine_of_a_dead_owner_is_swept_by_the_next_engine() {
    let net = Net::new(2).expect("Net");
    let stale = Engine::start_in(&net, 0).expect("engine");
    stale.build_busybox_image(IMAGE).expect("image");
    let (_, pid) = serve(&stale);
    let footprint = Footprint::of(&stale, pid);
    // As if its test process had died: the owner named there is not running.
    std::fs::write(
        stale.dir().join("owner"),
        "shoal-test pid=1 start=99999999999",
    )
    .unwrap();

    let _next = Engine::start_in(&net, 1).expect("next engine");
    footprint.assert_gone();
    // Dropping the swept engine afterwards is harmless.
    drop(stale);
}
