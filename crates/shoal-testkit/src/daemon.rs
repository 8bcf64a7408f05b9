//! A `shoal daemon` process in a temporary directory, on the host or inside a host of a `Net`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::http::{HttpResponse, request};
use crate::{Engine, Net};

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running daemon and its files. Killed when dropped.
pub struct Daemon {
    bin: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    extra: Vec<String>,
    place: Option<Place>,
    /// The Docker Engine socket the daemon drives (`SHOAL_ENGINE_SOCKET`), if not the
    /// machine's.
    engine_socket: Option<PathBuf>,
}

/// Where a daemon started with `start_in` runs: kept so `restart` returns to the same host.
struct Place {
    netns_path: String,
    ip: String,
}

impl Daemon {
    /// Starts `bin daemon` with its own data dir and socket and waits until it answers `_ping`.
    pub fn start(bin: impl AsRef<Path>, extra_args: &[&str]) -> anyhow::Result<Daemon> {
        Self::start_at(bin.as_ref(), None, None, extra_args)
    }

    /// Like `start`, but inside `host` of `net`. Its cluster listen and advertise addresses
    /// default to `IP:2377` (through `SHOAL_LISTEN_ADDR`/`SHOAL_ADVERTISE_ADDR`, so flags in
    /// `extra_args` still win): the namespace has no default route, so the daemon could not
    /// guess them. The API socket stays on the test's filesystem, reachable as usual.
    pub fn start_in(
        bin: impl AsRef<Path>,
        net: &Net,
        host: usize,
        extra_args: &[&str],
    ) -> anyhow::Result<Daemon> {
        let place = Place {
            netns_path: net.netns_path(host),
            ip: net.ip(host),
        };
        Self::start_at(bin.as_ref(), Some(place), None, extra_args)
    }

    /// Like `start_in`, but the daemon drives `engine` (through `SHOAL_ENGINE_SOCKET`), which
    /// must run in the same host, instead of the machine's engine. Pass `--driver docker` in
    /// `extra_args` so a failure to reach it is not hidden by the process-driver fallback.
    pub fn start_in_with_engine(
        bin: impl AsRef<Path>,
        net: &Net,
        host: usize,
        engine: &Engine,
        extra_args: &[&str],
    ) -> anyhow::Result<Daemon> {
        let netns_path = net.netns_path(host);
        anyhow::ensure!(
            engine.netns_path() == netns_path,
            "the engine runs in {}, not in host {host} ({netns_path})",
            engine.netns_path()
        );
        let place = Place {
            netns_path,
            ip: net.ip(host),
        };
        let socket = Some(engine.socket());
        Self::start_at(bin.as_ref(), Some(place), socket, extra_args)
    }

    fn start_at(
        bin: &Path,
        place: Option<Place>,
        engine_socket: Option<PathBuf>,
        extra_args: &[&str],
    ) -> anyhow::Result<Daemon> {
        let dir = tempfile::Builder::new().prefix("shoal-test-").tempdir()?;
        let mut d = Daemon {
            bin: bin.to_path_buf(),
            dir,
            child: None,
            extra: extra_args.iter().map(|s| s.to_string()).collect(),
            place,
            engine_socket,
        };
        d.spawn()?;
        Ok(d)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let mut cmd = match &self.place {
            Some(p) => {
                let mut c = crate::netns::nsenter_command(&p.netns_path, &self.bin);
                c.env("SHOAL_LISTEN_ADDR", format!("{}:2377", p.ip))
                    .env("SHOAL_ADVERTISE_ADDR", &p.ip);
                c
            }
            None => Command::new(&self.bin),
        };
        if let Some(socket) = &self.engine_socket {
            cmd.env("SHOAL_ENGINE_SOCKET", socket);
        }
        let child = cmd
            .arg("daemon")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("-H")
            .arg(self.host())
            .args(&self.extra)
            .env(
                "SHOAL_LOG",
                std::env::var("SHOAL_TEST_LOG").unwrap_or_else(|_| "info,openraft=warn".into()),
            )
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()?;
        self.child = Some(child);
        let sock = self.socket();
        crate::wait_for("the daemon's API socket", Duration::from_secs(30), || {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("daemon exited early ({status}):\n{}", self.log());
            }
            request(&sock, "GET", "/_ping", None)
                .ok()
                .filter(|r| r.status == 200)
        })?;
        Ok(())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("shoal.sock")
    }
    /// `unix://…` for `-H`, `SHOAL_HOST` or `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
    fn log_path(&self) -> PathBuf {
        self.dir.path().join("daemon.log")
    }
    /// Everything the daemon has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
    /// The daemon's process ID (also under `start_in`: nsenter execs the daemon).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }
    /// The address of the `Net` host the daemon runs in.
    pub fn ip(&self) -> &str {
        let place = self.place.as_ref();
        &place.expect("Daemon::ip: not started with start_in").ip
    }
    /// `IP:2377`, the default cluster address of a daemon started with `start_in`.
    pub fn cluster_addr(&self) -> String {
        format!("{}:2377", self.ip())
    }

    /// One raw HTTP request to the API.
    pub fn http(&self, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
        request(&self.socket(), method, path, body.map(str::as_bytes))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()))
    }

    /// Runs the `shoal` CLI against this daemon.
    pub fn shoal(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .env("SHOAL_HOST", self.host())
            .args(args)
            .output()
            .expect("run shoal")
    }

    /// Runs the stock `docker` CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .args(args)
            .output()
            .expect("the docker CLI must be installed (.ci/run installs docker.io)")
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        signal(c.id(), "TERM");
        // A paused daemon would never act on the SIGTERM.
        signal(c.id(), "CONT");
        c.wait().ok()?.code()
    }

    /// SIGSTOP: the daemon hangs (its sockets stay open and the kernel still completes TCP
    /// handshakes on its listeners) until `resume`.
    pub fn pause(&self) {
        assert!(signal(self.pid(), "STOP"), "SIGSTOP {}", self.pid());
    }

    /// SIGCONT, undoing `pause`.
    pub fn resume(&self) {
        assert!(signal(self.pid(), "CONT"), "SIGCONT {}", self.pid());
    }

    /// Starts the daemon again on the same data dir and socket (and `Net` host, if any).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9();
        self.spawn()
    }
}

impl Drop for Daemon {
    /// Kills the daemon and what it left behind: process-driver tasks outlive their daemon by
    /// design (their shims are detached), and their secrets' tmpfs stay mounted; both are
    /// found by the daemon's directory, so the directory can be deleted.
    fn drop(&mut self) {
        self.kill9();
        remove_containers_of(&self.data_dir(), self.engine_socket.as_deref());
        let prefix = self.dir.path().display().to_string();
        kill_processes_under(&prefix);
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        for target in mounts.lines().filter_map(|l| l.split_whitespace().nth(1)) {
            if target.starts_with(&prefix) {
                let _ = Command::new("umount").args(["-l", target]).status();
            }
        }
    }
}

impl Daemon {
    /// `POST /swarm/init` on a loopback port the kernel picks (port 0: no race with other
    /// tests for a "free" port), or on `IP:2377` in a `Net`; returns the new node's ID.
    pub fn init_swarm(&self) -> String {
        let listen = match &self.place {
            Some(p) => format!("{}:2377", p.ip),
            None => "127.0.0.1:0".to_string(),
        };
        let body = format!(r#"{{"ListenAddr":"{listen}"}}"#);
        let r = self.http("POST", "/swarm/init", Some(&body));
        assert_eq!(r.status, 200, "swarm init: {}\n{}", r.text(), self.log());
        r.json().as_str().expect("node ID string").to_string()
    }
}

/// Sends `SIG<sig>` with kill(1) (this crate forbids unsafe code, so no libc); true if sent.
pub(crate) fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success())
}

/// The stdout of a command that must have succeeded (else a panic showing both streams).
pub fn success(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// SIGKILLs every process whose command line or working directory is under `prefix`.
pub(crate) fn kill_processes_under(prefix: &str) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
        let ours = String::from_utf8_lossy(&cmdline).contains(prefix)
            || cwd.to_string_lossy().starts_with(prefix);
        if ours {
            signal(pid, "KILL");
        }
    }
}

/// Removes the Docker containers a docker-driver daemon left (they outlive it by design, so a
/// restarted daemon adopts them): those labelled with the node ID its data dir records, in its
/// own engine if it had one, else the machine's.
fn remove_containers_of(data_dir: &Path, engine_socket: Option<&Path>) {
    // An engine already stopped took its containers with it.
    if engine_socket.is_some_and(|s| !s.exists()) {
        return;
    }
    let Ok(state) = std::fs::read(data_dir.join("swarm/state.json")) else {
        return;
    };
    let Some(node) = serde_json::from_slice::<serde_json::Value>(&state)
        .ok()
        .and_then(|v| v["node_id"].as_str().map(str::to_string))
    else {
        return;
    };
    let docker = || {
        let mut c = Command::new("docker");
        match engine_socket {
            // The CLI refuses DOCKER_CONTEXT together with DOCKER_HOST.
            Some(s) => c
                .env("DOCKER_HOST", format!("unix://{}", s.display()))
                .env_remove("DOCKER_CONTEXT"),
            None => c.env_remove("DOCKER_HOST"),
        };
        c
    };
    let Ok(out) = docker()
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=com.docker.swarm.node.id={node}"))
        .output()
    else {
        return;
    };
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let _ = docker().args(["rm", "-f"]).args(&ids).output();
    }
    // And the bridge networks it made for its overlays (their subnets would clash with the
    // next test's).
    let Ok(out) = docker()
        .args(["network", "ls", "-q", "--filter"])
        .arg(format!("label=com.docker.swarm.node.id={node}"))
        .output()
    else {
        return;
    };
    for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let _ = docker().args(["network", "rm", id]).output();
    }
    remove_vip_rules(&node);
}

/// Deletes the VIP redirect rules the node's netplane added (commented with its ID).
fn remove_vip_rules(node: &str) {
    shoal_netplane::vip::IpTablesVips {
        owner: node.to_string(),
    }
    .clear_stale();
}
