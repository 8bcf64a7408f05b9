//! `shoal daemon` flags (each with an environment fallback), defaults for root and non-root
//! users, and validation before anything binds.

use std::path::PathBuf;

use clap::Args;

/// Flags of `shoal daemon`.
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {
    /// Where the node keeps its state [default: /var/lib/shoal as root, else $XDG_DATA_HOME/shoal]
    #[arg(long, env = "SHOAL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Default cluster listen address for `swarm init`/`join` requests that give none
    #[arg(long, env = "SHOAL_LISTEN_ADDR", default_value = "0.0.0.0:2377")]
    pub listen_addr: String,
    /// Default advertised cluster address for requests that give none (IP, interface or IP:port)
    #[arg(long, env = "SHOAL_ADVERTISE_ADDR")]
    pub advertise_addr: Option<String>,
    /// Docker Engine socket the node drives, when present
    #[arg(
        long,
        env = "SHOAL_ENGINE_SOCKET",
        default_value = "/var/run/docker.sock"
    )]
    pub engine_socket: String,
    /// Log filter (error, warn, info, debug, trace, or tracing directives)
    #[arg(long, env = "SHOAL_LOG", default_value = "info,openraft=warn")]
    pub log_level: String,
    /// Raft entries between store snapshots
    #[arg(long, env = "SHOAL_SNAPSHOT_INTERVAL", default_value_t = 10_000)]
    pub snapshot_interval: u64,
    /// What runs tasks: the Docker Engine, host processes, or docker when reachable
    #[arg(long, env = "SHOAL_DRIVER", value_enum, default_value_t = DriverChoice::Auto)]
    pub driver: DriverChoice,
    /// Missed heartbeat periods before a node is marked Down
    #[arg(long, env = "SHOAL_HEARTBEAT_GRACE", default_value_t = 3)]
    pub heartbeat_grace: u32,
    /// Testing aid: renew the node certificate once it is this old (e.g. 2s), instead of at a
    /// random 50-80 % of its lifetime
    #[arg(long, hide = true, value_parser = humantime::parse_duration)]
    pub cert_renew_after: Option<std::time::Duration>,
}

/// The validated daemon configuration.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub data_dir: PathBuf,
    /// The API socket path (unix) or TCP address.
    pub api: ApiAddr,
    pub listen_addr: String,
    pub advertise_addr: Option<String>,
    pub engine_socket: String,
    pub log_level: String,
    pub snapshot_interval: u64,
    pub heartbeat_grace: u32,
    pub driver: DriverChoice,
    pub cert_renew_after: Option<std::time::Duration>,
}

/// `--driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DriverChoice {
    Auto,
    Docker,
    Process,
}

/// Where the Engine API is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiAddr {
    Unix(PathBuf),
    Tcp(String),
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|r| r.split_whitespace().next() == Some("0"))
            })
        })
        .unwrap_or(false)
}

/// The default API address: `/run/shoal/shoal.sock` as root, else under `$XDG_RUNTIME_DIR`.
pub fn default_host() -> String {
    if is_root() {
        return "unix:///run/shoal/shoal.sock".into();
    }
    let dir = std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into());
    format!("unix://{dir}/shoal/shoal.sock")
}

fn default_data_dir() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/lib/shoal");
    }
    let base = std::env::var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()))
                .join(".local/share")
        });
    base.join("shoal")
}

/// Parses `unix:///path` or `tcp://host:port`.
pub fn parse_host(host: &str) -> Result<ApiAddr, String> {
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() || !path.starts_with('/') {
            return Err(format!(
                "invalid host {host}: a unix socket needs an absolute path"
            ));
        }
        return Ok(ApiAddr::Unix(PathBuf::from(path)));
    }
    if let Some(addr) = host.strip_prefix("tcp://") {
        shoal_types::validate::host_port(addr, 2375)
            .map_err(|e| format!("invalid host {host}: {e}"))?;
        return Ok(ApiAddr::Tcp(addr.to_string()));
    }
    Err(format!(
        "invalid host {host}: expected unix:///path or tcp://host:port"
    ))
}

impl DaemonArgs {
    /// Validates every flag; nothing is bound or written here.
    pub fn validate(self, host: Option<&str>) -> Result<DaemonConfig, String> {
        let api = parse_host(host.unwrap_or(&default_host()))?;
        shoal_types::validate::host_port(&self.listen_addr, 2377)
            .map_err(|_| format!("invalid --listen-addr {}", self.listen_addr))?;
        if let Some(a) = &self.advertise_addr {
            shoal_types::validate::host_port(a, 2377)
                .map_err(|_| format!("invalid --advertise-addr {a}"))?;
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| format!("invalid --log-level {}: {e}", self.log_level))?;
        if self.heartbeat_grace == 0 {
            return Err("invalid --heartbeat-grace 0: must be at least 1".into());
        }
        if self.snapshot_interval == 0 {
            return Err("invalid --snapshot-interval 0: must be at least 1".into());
        }
        let data_dir = self.data_dir.unwrap_or_else(default_data_dir);
        if data_dir.exists() && !data_dir.is_dir() {
            return Err(format!(
                "invalid --data-dir {}: not a directory",
                data_dir.display()
            ));
        }
        Ok(DaemonConfig {
            data_dir,
            api,
            listen_addr: self.listen_addr,
            advertise_addr: self.advertise_addr,
            engine_socket: self.engine_socket,
            log_level: self.log_level,
            snapshot_interval: self.snapshot_interval,
            heartbeat_grace: self.heartbeat_grace,
            cert_renew_after: self.cert_renew_after,
            driver: self.driver,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse() {
        assert_eq!(
            parse_host("unix:///run/x.sock").unwrap(),
            ApiAddr::Unix("/run/x.sock".into())
        );
        assert_eq!(
            parse_host("tcp://127.0.0.1:2375").unwrap(),
            ApiAddr::Tcp("127.0.0.1:2375".into())
        );
        assert!(parse_host("unix://relative.sock").is_err());
        assert!(parse_host("http://x").is_err());
        assert!(parse_host("tcp://1.2.3.4:notaport").is_err());
    }
}
