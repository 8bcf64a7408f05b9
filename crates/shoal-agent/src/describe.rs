//! What a node reports about itself (`Node.Description`).

use std::collections::BTreeMap;
use std::time::Duration;

use shoal_types::{EngineDescription, NodeDescription, Platform, Resources};
use tracing::debug;

/// What was learnt from the local Docker Engine, if one answered.
#[derive(Debug, Clone, Default)]
pub struct EngineProbe {
    pub version: String,
    pub api_version: String,
    pub labels: BTreeMap<String, String>,
}

/// Asks the Docker Engine at `socket` for its version and labels, giving up after `timeout`.
pub async fn probe_engine(socket: &str, timeout: Duration) -> Option<EngineProbe> {
    let docker = bollard::Docker::connect_with_unix(
        socket,
        timeout.as_secs().max(1),
        bollard::API_DEFAULT_VERSION,
    )
    .ok()?;
    let work = async {
        let docker = docker.negotiate_version().await.ok()?;
        let version = docker.version().await.ok()?;
        let info = docker.info().await.ok()?;
        let labels = info
            .labels
            .unwrap_or_default()
            .into_iter()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        Some(EngineProbe {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            labels,
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(found) => found,
        Err(_) => {
            debug!(socket, "docker engine did not answer in time");
            None
        }
    }
}

/// This machine's description. Without an engine, the engine version is shoal's own, so the
/// `ENGINE VERSION` column still says what runs the node's tasks.
pub fn describe_node(engine: Option<&EngineProbe>) -> NodeDescription {
    let engine = match engine {
        Some(e) => EngineDescription {
            engine_version: e.version.clone(),
            labels: e.labels.clone(),
            plugins: vec![],
        },
        None => EngineDescription {
            engine_version: format!("shoal-{}", env!("CARGO_PKG_VERSION")),
            labels: BTreeMap::new(),
            plugins: vec![],
        },
    };
    NodeDescription {
        hostname: hostname(),
        platform: Platform {
            architecture: std::env::consts::ARCH.to_string(),
            os: std::env::consts::OS.to_string(),
        },
        resources: Resources {
            nano_cpus: cpus() * 1_000_000_000,
            memory_bytes: memory_bytes(),
        },
        engine,
        tls_info: Default::default(),
    }
}

/// The kernel's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

fn cpus() -> i64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as i64)
}

fn memory_bytes() -> i64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<i64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_has_the_machine_facts() {
        let d = describe_node(None);
        assert!(!d.hostname.is_empty());
        assert_eq!(d.platform.os, "linux");
        assert!(d.resources.nano_cpus >= 1_000_000_000);
        assert!(d.resources.memory_bytes > 0);
        assert!(d.engine.engine_version.starts_with("shoal-"));
    }

    #[tokio::test]
    async fn missing_engine_socket_is_none_quickly() {
        let t = std::time::Instant::now();
        assert!(
            probe_engine("/nonexistent/docker.sock", Duration::from_secs(2))
                .await
                .is_none()
        );
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
