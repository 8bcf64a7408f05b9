//! `Engine`: a Docker Engine of its own for one host of a `Net`, so the docker driver's
//! containers of different test nodes live in different network stacks, as on real machines.
//!
//! Each engine is a `dockerd` plus a `containerd`, both started inside the host's network
//! namespace with `nsenter --net` (only the network changes: files, /sys and cgroups stay the
//! machine's), everything under one temporary directory `<tmp>/shoal-engine-XXXXXX`:
//!
//! * `--config-file` points to our own `daemon.json`: the machine's /etc/docker/daemon.json
//!   (its data-root, storage driver, ...) must not be read. It holds only
//!   `deprecated-key-path` (a config-file key, no flag, in 20.10), so the engine's ID key is
//!   its own and nothing is written to /etc/docker.
//! * containerd is started here and given with `--containerd`: left alone, dockerd would use a
//!   system containerd whenever /run/containerd/containerd.sock exists (as on stock Debian),
//!   sharing it with the machine's engine and running its shims outside the namespace.
//! * `--bip` 10.214.H.1/24: clear of the Nets' 10.213.0.0/16 and distinct per host.
//! * containers go under the cgroup `/shoal-engine-XXXXXX` (cgroupfs), so every process of an
//!   engine, even of a dead one, is found and killed.
//! * storage: overlay2, or vfs where overlay cannot be mounted (nested in an overlay root).
//!
//! iptables and docker0 live in the namespace, so they touch nothing of the machine. A test
//! process killed before its engines were dropped leaves them running: the next `Engine`
//! sweeps engines whose owner process is gone (as `Net` does with its networks).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::Net;
use crate::daemon::{kill_processes_under, signal};
use crate::http::{HttpResponse, request};
use crate::netns::sys;

/// Engine directories are `<tmp>/shoal-engine-XXXXXX`; the name is also the cgroup parent.
const PREFIX: &str = "shoal-engine-";
/// Holds the owner's identity (`sys::owner_alias`), so a sweep can tell a dead owner's engine.
const OWNER_FILE: &str = "owner";
/// Tried in order: overlay2 needs a filesystem overlay can stack on.
const STORAGE_DRIVERS: [&str; 2] = ["overlay2", "vfs"];
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running Docker Engine inside a network namespace. Dropping it removes its containers,
/// stops it and deletes everything it had.
#[derive(Debug)]
pub struct Engine {
    dir: PathBuf,
    netns_path: String,
    bip: String,
    containerd: Option<Child>,
    dockerd: Option<Child>,
    storage_driver: &'static str,
}

impl Engine {
    /// An engine inside `host` of `net`, with docker0 on 10.214.`host`.1/24.
    pub fn start_in(net: &Net, host: usize) -> anyhow::Result<Engine> {
        Self::start(&net.netns_path(host), &format!("10.214.{host}.1/24"))
    }

    /// An engine inside the network namespace at `netns_path` (`/run/netns/NAME`), with
    /// docker0 holding `bip` (CIDR). Returns once the engine answers `/_ping`.
    pub fn start(netns_path: &str, bip: &str) -> anyhow::Result<Engine> {
        let dockerd = sys::find("dockerd")
            .ok_or_else(|| anyhow::anyhow!("`dockerd` not found (apt-get install docker.io)"))?;
        let containerd = sys::find("containerd").ok_or_else(|| {
            anyhow::anyhow!("`containerd` not found (apt-get install containerd)")
        })?;
        let mut engine = Engine {
            dir: claim_dir()?,
            netns_path: netns_path.to_string(),
            bip: bip.to_string(),
            containerd: None,
            dockerd: None,
            storage_driver: STORAGE_DRIVERS[0],
        };
        // On error `engine` drops here, which cleans up whatever was started.
        engine.start_containerd(&containerd)?;
        engine.start_dockerd(&dockerd)?;
        Ok(engine)
    }

    /// The engine's API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// `unix://…`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The namespace the engine runs in.
    pub fn netns_path(&self) -> &str {
        &self.netns_path
    }

    /// The storage driver in use (`overlay2` or `vfs`).
    pub fn storage_driver(&self) -> &str {
        self.storage_driver
    }

    /// The engine's directory (data root, exec root, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// dockerd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    /// One raw request to the Engine API.
    pub fn http(&self, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
        request(&self.socket(), method, path, body.map(str::as_bytes))
            .unwrap_or_else(|e| panic!("engine {method} {path}: {e}\n{}", self.log()))
    }

    /// Runs the stock `docker` CLI against this engine.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir.join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .args(args)
            .output()
            .expect("the docker CLI must be installed (apt-get install docker.io)")
    }

    /// Builds the test busybox image (`crate::build_busybox_image`) in this engine.
    pub fn build_busybox_image(&self, tag: &str) -> anyhow::Result<()> {
        crate::build_busybox_image_at(&self.host(), tag)
    }

    /// The IDs of all containers, running or not.
    pub fn container_ids(&self) -> anyhow::Result<Vec<String>> {
        let r = request(&self.socket(), "GET", "/containers/json?all=1", None)?;
        anyhow::ensure!(r.status == 200, "list containers: {}", r.text());
        let list = r.json();
        let ids = list.as_array().into_iter().flatten();
        Ok(ids
            .filter_map(|c| c["Id"].as_str().map(str::to_string))
            .collect())
    }

    /// Removes the containers, then stops dockerd and containerd (SIGTERM, SIGKILL after a
    /// bound). Idempotent; `Drop` calls it.
    pub fn stop(&mut self) {
        if self.dockerd.is_some() {
            // Before stopping: dockerd would otherwise wait for each to stop on shutdown.
            for id in self.container_ids().unwrap_or_default() {
                let path = format!("/containers/{id}?force=1&v=1");
                let _ = request(&self.socket(), "DELETE", &path, None);
            }
        }
        // dockerd first: it still talks to containerd while shutting down.
        for child in [self.dockerd.take(), self.containerd.take()]
            .into_iter()
            .flatten()
        {
            terminate(child, STOP_TIMEOUT);
        }
    }

    fn start_containerd(&mut self, bin: &Path) -> anyhow::Result<()> {
        let config = self.dir.join("containerd.toml");
        std::fs::write(&config, containerd_config(&self.dir))?;
        let log = self.dir.join("containerd.log");
        let mut cmd = crate::netns::nsenter_command(&self.netns_path, bin);
        cmd.arg("--config").arg(&config);
        self.containerd = Some(spawn_logged(cmd, &log)?);
        let sock = containerd_socket(&self.dir);
        let child = self.containerd.as_mut().expect("just spawned");
        wait_up(child, "containerd", &log, || {
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        })
    }

    /// Starts dockerd with the first storage driver that works here.
    fn start_dockerd(&mut self, bin: &Path) -> anyhow::Result<()> {
        let key = self.dir.join("key.json");
        let config = serde_json::json!({"deprecated-key-path": key});
        std::fs::write(self.dir.join("daemon.json"), config.to_string())?;
        let mut errors = Vec::new();
        for driver in STORAGE_DRIVERS {
            match self.try_dockerd(bin, driver) {
                Ok(()) => {
                    self.storage_driver = driver;
                    return Ok(());
                }
                Err(e) => {
                    errors.push(format!("with {driver}: {e:#}"));
                    if let Some(c) = self.dockerd.take() {
                        terminate(c, STOP_TIMEOUT);
                    }
                    // A fresh data root for the next driver.
                    let data = self.dir.join("data");
                    unmount_under(&data);
                    let _ = std::fs::remove_dir_all(&data);
                }
            }
        }
        anyhow::bail!("dockerd did not start:\n{}", errors.join("\n"))
    }

    fn try_dockerd(&mut self, bin: &Path, driver: &str) -> anyhow::Result<()> {
        let d = &self.dir;
        let name = cgroup_name(d);
        let mut cmd = crate::netns::nsenter_command(&self.netns_path, bin);
        cmd.arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(self.host())
            .arg("--containerd")
            .arg(containerd_socket(d))
            .args(["--bip", &self.bip, "--storage-driver", driver])
            .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
            .arg(format!("--cgroup-parent=/{name}"))
            // Containers are removed before the stop; this bounds it if that failed.
            .args(["--shutdown-timeout", "2"]);
        let log = d.join("dockerd.log");
        // Attempts share the log: mark where this one starts.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        writeln!(file, "===== dockerd --storage-driver {driver}")?;
        self.dockerd = Some(spawn_logged(cmd, &log)?);
        let sock = self.socket();
        let child = self.dockerd.as_mut().expect("just spawned");
        wait_up(child, "dockerd", &log, || {
            request(&sock, "GET", "/_ping", None).is_ok_and(|r| r.status == 200)
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
        tear_down(&self.dir);
    }
}

/// containerd's own configuration: every path under `dir`, and no CRI (as dockerd configures
/// the containerd it manages); without `--config` the machine's would be read.
fn containerd_config(dir: &Path) -> String {
    let c = dir.join("containerd");
    let (c, sock) = (c.display(), containerd_socket(dir));
    format!(
        "version = 2\n\
         root = \"{c}/root\"\n\
         state = \"{c}/state\"\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
         [grpc]\n  address = \"{}\"\n\
         [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{c}/opt\"\n",
        sock.display()
    )
}

fn containerd_socket(dir: &Path) -> PathBuf {
    dir.join("containerd/containerd.sock")
}

/// `shoal-engine-XXXXXX`: the directory's name, used as the engine's cgroup parent.
fn cgroup_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Spawns `cmd` with both streams appended to `log`, and sbin directories on PATH (dockerd
/// runs iptables, docker-proxy and modprobe by name; a non-login root shell may lack them).
fn spawn_logged(mut cmd: Command, log: &Path) -> anyhow::Result<Child> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env(
        "PATH",
        format!("{path}:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"),
    )
    // Not systemd's child: no readiness notification.
    .env_remove("NOTIFY_SOCKET")
    .stdin(Stdio::null())
    .stdout(Stdio::from(out.try_clone()?))
    .stderr(Stdio::from(out));
    Ok(cmd.spawn()?)
}

/// Waits until `ready`, failing early (with the log) if the process exits.
fn wait_up(
    child: &mut Child,
    what: &str,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("{what} exited ({status}):\n{}", tail(log));
        }
        if ready() {
            return Ok(());
        }
        if start.elapsed() > START_TIMEOUT {
            anyhow::bail!("{what} not up after {START_TIMEOUT:?}:\n{}", tail(log));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last lines of a log, for error messages.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// SIGTERM, then SIGKILL if the process is still there after `bound`.
fn terminate(mut child: Child, bound: Duration) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    signal(child.id(), "TERM");
    let start = Instant::now();
    while start.elapsed() < bound {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A new engine directory with our identity in it. Under the machine-wide lock, with the sweep
/// of dead owners' engines: a directory without an owner file is never a live one in the
/// making.
fn claim_dir() -> anyhow::Result<PathBuf> {
    let _lock = sys::lock()?;
    sweep_stale();
    let dir = tempfile::Builder::new().prefix(PREFIX).tempdir()?.keep();
    std::fs::write(dir.join(OWNER_FILE), sys::owner_alias())?;
    Ok(dir)
}

/// Tears down every engine directory whose owner process is gone.
fn sweep_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for dir in entries.flatten().map(|e| e.path()) {
        let ours = dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(PREFIX));
        if !ours || !dir.is_dir() {
            continue;
        }
        let owner = std::fs::read_to_string(dir.join(OWNER_FILE)).unwrap_or_default();
        if !sys::owner_alive(&owner) {
            tear_down(&dir);
        }
    }
}

/// Removes whatever an engine left: its processes (dockerd, containerd and shims name the
/// directory on their command lines; containers are in its cgroup), mounts and directory.
fn tear_down(dir: &Path) {
    kill_processes_under(&format!("{}/", dir.display()));
    kill_cgroup(&cgroup_name(dir));
    remove_shim_sockets(dir);
    unmount_under(dir);
    // Never delete through a mount that would not go: it could reach files outside.
    if mounts_under(dir).is_empty() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Removes the sockets of killed containerd shims: a shim deletes its own on a clean exit, but
/// they are outside the engine's directory, in /run/containerd/s, named (containerd 1.6)
/// `sha256(<containerd address>/<namespace>/<container id>)`; dockerd's namespace is `moby`.
fn remove_shim_sockets(dir: &Path) {
    let address = containerd_socket(dir);
    let containers = std::fs::read_dir(dir.join("data/containers"));
    for id in containers.into_iter().flatten().flatten() {
        let key = format!(
            "{}/moby/{}",
            address.display(),
            id.file_name().to_string_lossy()
        );
        if let Some(hash) = sha256_hex(&key) {
            let _ = std::fs::remove_file(Path::new("/run/containerd/s").join(hash));
        }
    }
}

/// `sha256sum` of `text` (coreutils; this crate has no hashing dependency).
fn sha256_hex(text: &str) -> Option<String> {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let hex = String::from_utf8(out.stdout).ok()?;
    Some(hex.split_whitespace().next()?.to_string())
}

/// The mount points at or below `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let (exact, below) = (dir.display().to_string(), format!("{}/", dir.display()));
    let mut found: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|t| *t == exact || t.starts_with(&below))
        .map(str::to_string)
        .collect();
    found.sort_by_key(|t| std::cmp::Reverse(t.len()));
    found
}

/// Lazily unmounts everything at or below `dir` (dockerd bind-mounts its data root onto
/// itself, overlay2 mounts rootfs, libnetwork binds namespaces under the exec root).
fn unmount_under(dir: &Path) {
    for target in mounts_under(dir) {
        let _ = Command::new("umount").args(["-l", &target]).status();
    }
}

/// Kills every process in cgroup `/name` (any hierarchy, v1 or v2) and removes the cgroups.
fn kill_cgroup(name: &str) {
    if name.is_empty() {
        return;
    }
    let root = Path::new("/sys/fs/cgroup");
    let mut tops = vec![root.join(name)];
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        tops.push(e.path().join(name));
    }
    let dirs: Vec<PathBuf> = tops
        .iter()
        .filter(|d| d.is_dir())
        .flat_map(|d| subtree(d))
        .collect();
    if dirs.is_empty() {
        return;
    }
    // Repeated: a process may fork while its siblings die.
    let _ = crate::wait_for("an empty engine cgroup", Duration::from_secs(5), || {
        let pids: Vec<u32> = dirs.iter().flat_map(|d| procs(d)).collect();
        for pid in &pids {
            signal(*pid, "KILL");
        }
        pids.is_empty().then_some(())
    });
    for d in &dirs {
        let _ = std::fs::remove_dir(d);
    }
}

/// `dir` and the directories below it, deepest first (the order cgroups can be removed in).
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(subtree(&e.path()));
        }
    }
    out.push(dir.to_path_buf());
    out
}

/// The PIDs in one cgroup.
fn procs(cgroup: &Path) -> Vec<u32> {
    std::fs::read_to_string(cgroup.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_socket_names_are_containerds() {
        // Seen on this machine: a killed shim's socket left in /run/containerd/s.
        let key = "/tmp/engtest/exec/containerd/containerd.sock/moby/\
                   425a0fd585930cef1a9e404ee338de213190f9a00978544236662891e9902423";
        assert_eq!(
            sha256_hex(key).unwrap(),
            "a3f827590701611343a9b0b0a3e64281939bb149bba577310816ff89e9661975"
        );
    }

    #[test]
    fn containerd_keeps_everything_in_the_engine_dir() {
        let cfg = containerd_config(Path::new("/tmp/shoal-engine-x"));
        for line in cfg.lines().filter(|l| l.contains('/')) {
            assert!(line.contains("\"/tmp/shoal-engine-x/containerd/"), "{line}");
        }
        assert!(cfg.contains("address = \"/tmp/shoal-engine-x/containerd/containerd.sock\""));
        assert_eq!(
            cgroup_name(Path::new("/tmp/shoal-engine-x")),
            "shoal-engine-x"
        );
    }
}
