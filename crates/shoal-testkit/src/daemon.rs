//! A `shoal daemon` process in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::http::{HttpResponse, request};

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
}

impl Daemon {
    /// Starts `bin daemon` with its own data dir and socket and waits until it answers `_ping`.
    pub fn start(bin: impl AsRef<Path>, extra_args: &[&str]) -> anyhow::Result<Daemon> {
        let dir = tempfile::Builder::new().prefix("shoal-test-").tempdir()?;
        let mut d = Daemon {
            bin: bin.as_ref().to_path_buf(),
            dir,
            child: None,
            extra: extra_args.iter().map(|s| s.to_string()).collect(),
        };
        d.spawn()?;
        Ok(d)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let child = Command::new(&self.bin)
            .arg("daemon")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("-H")
            .arg(self.host())
            .args(&self.extra)
            .env("SHOAL_LOG", "info,openraft=warn")
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
    /// The daemon's process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
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
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        c.wait().ok()?.code()
    }

    /// Starts the daemon again on the same data dir and socket.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9();
        self.spawn()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

impl Daemon {
    /// `POST /swarm/init` on a free loopback port; returns the new node's ID.
    pub fn init_swarm(&self) -> String {
        let body = format!(r#"{{"ListenAddr":"127.0.0.1:{}"}}"#, free_port());
        let r = self.http("POST", "/swarm/init", Some(&body));
        assert_eq!(r.status, 200, "swarm init: {}\n{}", r.text(), self.log());
        r.json().as_str().expect("node ID string").to_string()
    }
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
