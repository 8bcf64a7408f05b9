//! Test helpers for end-to-end tests: run real `shoal daemon` processes in their own temporary
//! directories (optionally each in its own network namespace of a private `Net`, to be cut
//! off, paused or made lossy, and each with a Docker Engine of its own), talk raw HTTP to their
//! API sockets, and run the `shoal` and stock `docker` CLIs against them. Dev-only; no
//! production crate depends on it.
#![forbid(unsafe_code)]

mod cluster;
mod daemon;
mod engine;
mod http;
mod netns;

pub use cluster::Cluster;
pub use daemon::{Daemon, free_port, success};
pub use engine::Engine;
pub use http::{HttpResponse, http_get, request};
pub use netns::Net;

/// Polls `f` every 50 ms until it returns `Some`, or fails after `timeout`.
pub fn wait_for<T>(
    what: &str,
    timeout: std::time::Duration,
    mut f: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Builds a local image `FROM scratch` holding Debian's busybox-static at `/bin/busybox` and
/// `/bin/sh` (for `CMD-SHELL` health checks; busybox acts as the name it is run by), in the
/// engine the environment names (`DOCKER_HOST`, else the machine's). No registry is reachable,
/// so tests make their own images.
pub fn build_busybox_image(tag: &str) -> anyhow::Result<()> {
    build_busybox(None, tag)
}

/// `build_busybox_image` in the engine at `host` (`unix://…`, e.g. `Engine::host`).
pub fn build_busybox_image_at(host: &str, tag: &str) -> anyhow::Result<()> {
    build_busybox(Some(host), tag)
}

fn build_busybox(host: Option<&str>, tag: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::copy("/bin/busybox", dir.path().join("busybox"))
        .map_err(|e| anyhow::anyhow!("/bin/busybox: {e} (apt-get install busybox-static)"))?;
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\n",
    )?;
    let mut cmd = std::process::Command::new("docker");
    if let Some(host) = host {
        // The CLI refuses DOCKER_CONTEXT together with DOCKER_HOST.
        cmd.env("DOCKER_HOST", host).env_remove("DOCKER_CONTEXT");
    }
    let out = cmd
        .args(["build", "-q", "-t", tag])
        .arg(dir.path())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "docker build{}: {}",
        host.map(|h| format!(" at {h}")).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
