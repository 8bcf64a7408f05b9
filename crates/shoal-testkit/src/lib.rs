//! Test helpers for end-to-end tests: run real `shoal daemon` processes in their own temporary
//! directories (optionally each in its own network namespace of a private `Net`, to be cut
//! off, paused or made lossy), talk raw HTTP to their API sockets, and run the `shoal` and stock
//! `docker` CLIs against them. Dev-only; no production crate depends on it.
#![forbid(unsafe_code)]

mod cluster;
mod daemon;
mod http;
mod netns;

pub use cluster::Cluster;
pub use daemon::{Daemon, free_port, success};
pub use http::{HttpResponse, request};
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
/// `/bin/sh` (for `CMD-SHELL` health checks; busybox acts as the name it is run by). No
/// registry is reachable, so tests make their own images.
pub fn build_busybox_image(tag: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::copy("/bin/busybox", dir.path().join("busybox"))
        .map_err(|e| anyhow::anyhow!("/bin/busybox: {e} (apt-get install busybox-static)"))?;
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\n",
    )?;
    let out = std::process::Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(dir.path())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
