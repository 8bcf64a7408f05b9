//! `docker info`'s text layout (`prettyPrintInfo` in docker/cli `cli/command/system/info.go`)
//! over the fields of `GET /info` that it prints.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Deserialize;
use serde_json::Value;
use shoal_types::info::{LocalNodeState, SwarmInfo};

use crate::duration::{bytes_size, human_duration};

/// `GET /info`. Lists are `Option` because Go daemons send `null` for empty ones.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServerInfo {
    #[serde(rename = "ID")]
    pub id: String,
    pub containers: i64,
    pub containers_running: i64,
    pub containers_paused: i64,
    pub containers_stopped: i64,
    pub images: i64,
    pub driver: String,
    pub driver_status: Option<Vec<Vec<String>>>,
    pub server_version: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub plugins: PluginsInfo,
    #[serde(deserialize_with = "crate::system::lenient_swarm")]
    pub swarm: SwarmInfo,
    pub runtimes: Option<BTreeMap<String, Value>>,
    pub default_runtime: String,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    pub mem_total: i64,
    pub name: String,
    pub docker_root_dir: String,
    pub debug: bool,
    pub http_proxy: String,
    pub https_proxy: String,
    pub no_proxy: String,
    pub labels: Option<Vec<String>>,
    pub experimental_build: bool,
    pub live_restore_enabled: bool,
    pub warnings: Option<Vec<String>>,
}

/// `Plugins` of `/info`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PluginsInfo {
    pub volume: Option<Vec<String>>,
    pub network: Option<Vec<String>>,
    pub authorization: Option<Vec<String>>,
    pub log: Option<Vec<String>>,
}

/// Go's `fmt.Fprintln(w, a, b)`: operands joined by one space.
macro_rules! line {
    ($o:expr, $label:expr, $v:expr) => {
        let _ = writeln!($o, "{} {}", $label, $v);
    };
}

/// Docker's `fprintlnNonEmpty`.
fn line_non_empty(o: &mut String, label: &str, v: &str) {
    if !v.is_empty() {
        line!(o, label, v);
    }
}

fn joined(v: &Option<Vec<String>>) -> String {
    v.as_deref().unwrap_or_default().join(" ")
}

/// The text docker prints for `docker info` (client part reduced to shoal's version), and
/// the daemon's warnings, which go to stderr.
pub fn render_info(i: &ServerInfo) -> (String, Vec<String>) {
    let mut o = String::from("Client:\n");
    line!(o, " Version:   ", env!("CARGO_PKG_VERSION"));
    o.push_str("\nServer:\n");
    line!(o, " Containers:", i.containers);
    line!(o, "  Running:", i.containers_running);
    line!(o, "  Paused:", i.containers_paused);
    line!(o, "  Stopped:", i.containers_stopped);
    line!(o, " Images:", i.images);
    line_non_empty(&mut o, " Server Version:", &i.server_version);
    line_non_empty(&mut o, " Storage Driver:", &i.driver);
    for pair in i.driver_status.iter().flatten().filter(|p| p.len() == 2) {
        let _ = writeln!(o, "  {}: {}", pair[0], pair[1]);
    }
    line_non_empty(&mut o, " Logging Driver:", &i.logging_driver);
    line_non_empty(&mut o, " Cgroup Driver:", &i.cgroup_driver);
    line_non_empty(&mut o, " Cgroup Version:", &i.cgroup_version);
    o.push_str(" Plugins:\n");
    line!(o, "  Volume:", joined(&i.plugins.volume));
    line!(o, "  Network:", joined(&i.plugins.network));
    if i.plugins
        .authorization
        .as_ref()
        .is_some_and(|a| !a.is_empty())
    {
        line!(o, "  Authorization:", joined(&i.plugins.authorization));
    }
    line!(o, "  Log:", joined(&i.plugins.log));
    line!(o, " Swarm:", i.swarm.local_node_state.as_str());
    o.push_str(&swarm_text(&i.swarm));
    if let Some(rt) = i.runtimes.as_ref().filter(|r| !r.is_empty()) {
        line!(
            o,
            " Runtimes:",
            rt.keys().cloned().collect::<Vec<_>>().join(" ")
        );
        line!(o, " Default Runtime:", i.default_runtime);
    }
    host_text(&mut o, i);
    (o, i.warnings.clone().unwrap_or_default())
}

/// The host part of the server section, from "Kernel Version" to the final blank line.
fn host_text(o: &mut String, i: &ServerInfo) {
    line_non_empty(o, " Kernel Version:", &i.kernel_version);
    line_non_empty(o, " Operating System:", &i.operating_system);
    line_non_empty(o, " OSType:", &i.os_type);
    line_non_empty(o, " Architecture:", &i.architecture);
    line!(o, " CPUs:", i.ncpu);
    line!(o, " Total Memory:", bytes_size(i.mem_total as f64));
    line_non_empty(o, " Name:", &i.name);
    line_non_empty(o, " ID:", &i.id);
    line!(o, " Docker Root Dir:", i.docker_root_dir);
    line!(o, " Debug Mode:", i.debug);
    line_non_empty(o, " HTTP Proxy:", &i.http_proxy);
    line_non_empty(o, " HTTPS Proxy:", &i.https_proxy);
    line_non_empty(o, " No Proxy:", &i.no_proxy);
    if let Some(labels) = i.labels.as_ref().filter(|l| !l.is_empty()) {
        o.push_str(" Labels:\n");
        for l in labels {
            let _ = writeln!(o, "  {l}");
        }
    }
    line!(o, " Experimental:", i.experimental_build);
    line!(o, " Live Restore Enabled:", i.live_restore_enabled);
    o.push('\n');
}

/// Docker's `printSwarmInfo`.
pub fn swarm_text(s: &SwarmInfo) -> String {
    let mut o = String::new();
    if matches!(
        s.local_node_state,
        LocalNodeState::Inactive | LocalNodeState::Locked
    ) {
        return o;
    }
    line!(o, "  NodeID:", s.node_id);
    if !s.error.is_empty() {
        line!(o, "  Error:", s.error);
    }
    line!(o, "  Is Manager:", s.control_available);
    let healthy = s.error.is_empty() && s.local_node_state != LocalNodeState::Error;
    if let Some(cl) = s
        .cluster
        .as_ref()
        .filter(|_| s.control_available && healthy)
    {
        line!(o, "  ClusterID:", cl.id);
        line!(o, "  Managers:", s.managers.unwrap_or(0));
        line!(o, "  Nodes:", s.nodes.unwrap_or(0));
        let pools: String = cl
            .default_addr_pool
            .iter()
            .map(|p| format!("{p}  "))
            .collect();
        line!(o, "  Default Address Pool:", pools);
        line!(o, "  SubnetSize:", cl.subnet_size);
        if cl.data_path_port > 0 {
            line!(o, "  Data Path Port:", cl.data_path_port);
        }
        cluster_spec_text(&mut o, cl);
    }
    line!(o, "  Node Address:", s.node_addr);
    if !s.remote_managers.is_empty() {
        let mut addrs: Vec<&str> = s.remote_managers.iter().map(|m| m.addr.as_str()).collect();
        addrs.sort_unstable();
        o.push_str("  Manager Addresses:\n");
        for a in addrs {
            let _ = writeln!(o, "   {a}");
        }
    }
    o
}

fn cluster_spec_text(o: &mut String, cl: &shoal_types::Swarm) {
    let spec = &cl.spec;
    o.push_str("  Orchestration:\n");
    line!(
        o,
        "   Task History Retention Limit:",
        spec.orchestration.task_history_retention_limit
    );
    o.push_str("  Raft:\n");
    line!(o, "   Snapshot Interval:", spec.raft.snapshot_interval);
    let _ = writeln!(
        o,
        "   Number of Old Snapshots to Retain: {}",
        spec.raft.keep_old_snapshots
    );
    line!(o, "   Heartbeat Tick:", spec.raft.heartbeat_tick);
    line!(o, "   Election Tick:", spec.raft.election_tick);
    o.push_str("  Dispatcher:\n");
    line!(
        o,
        "   Heartbeat Period:",
        human_duration(spec.dispatcher.heartbeat_period)
    );
    o.push_str("  CA Configuration:\n");
    line!(
        o,
        "   Expiry Duration:",
        human_duration(spec.ca_config.node_cert_expiry)
    );
    line!(o, "   Force Rotate:", spec.ca_config.force_rotate);
    if !spec.ca_config.external_cas.is_empty() {
        o.push_str("   External CAs:\n");
        for ca in &spec.ca_config.external_cas {
            let field = |k: &str| {
                ca.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let _ = writeln!(o, "     {}: {}", field("Protocol"), field("URL"));
        }
    }
    line!(
        o,
        "  Autolock Managers:",
        spec.encryption_config.auto_lock_managers
    );
    line!(
        o,
        "  Root Rotation In Progress:",
        cl.root_rotation_in_progress
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture() -> ServerInfo {
        serde_json::from_value(json!({
            "ID": "x", "Containers": 2, "ContainersRunning": 1, "ServerVersion": "0.1.0",
            "NCPU": 4, "MemTotal": 8_359_657_472_i64, "Name": "node-1", "Warnings": null,
            "Labels": null, "Plugins": {"Volume": null, "Network": ["overlay"], "Log": null},
            "Swarm": {
                "NodeID": "abc", "NodeAddr": "10.0.0.1", "LocalNodeState": "active",
                "ControlAvailable": true, "Error": "", "Nodes": 3, "Managers": 1,
                "RemoteManagers": [{"NodeID": "abc", "Addr": "10.0.0.1:2377"}],
                "Cluster": {"ID": "clu", "Version": {"Index": 9},
                            "Spec": {"Name": "default", "Dispatcher": {"HeartbeatPeriod": 5_000_000_000_i64}},
                            "DefaultAddrPool": ["10.0.0.0/8"], "SubnetSize": 24}
            }
        }))
        .unwrap()
    }

    #[test]
    fn swarm_section_like_docker() {
        let text = swarm_text(&fixture().swarm);
        let want = "  NodeID: abc\n  Is Manager: true\n  ClusterID: clu\n  Managers: 1\n  \
            Nodes: 3\n  Default Address Pool: 10.0.0.0/8  \n  SubnetSize: 24\n  Orchestration:\n   \
            Task History Retention Limit: 5\n  Raft:\n   Snapshot Interval: 10000\n   \
            Number of Old Snapshots to Retain: 0\n   Heartbeat Tick: 1\n   Election Tick: 10\n  \
            Dispatcher:\n   Heartbeat Period: 5 seconds\n  CA Configuration:\n   \
            Expiry Duration: 3 months\n   Force Rotate: 0\n  Autolock Managers: false\n  \
            Root Rotation In Progress: false\n  Node Address: 10.0.0.1\n  Manager Addresses:\n   \
            10.0.0.1:2377\n";
        assert_eq!(text, want);
    }

    #[test]
    fn server_section_lines() {
        let (text, warnings) = render_info(&fixture());
        assert!(warnings.is_empty());
        for want in [
            "\nServer:\n Containers: 2\n  Running: 1\n  Paused: 0\n  Stopped: 0\n Images: 0\n",
            " Server Version: 0.1.0\n Plugins:\n  Volume: \n  Network: overlay\n  Log: \n",
            " Swarm: active\n  NodeID: abc\n",
            " CPUs: 4\n Total Memory: 7.786GiB\n Name: node-1\n ID: x\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(text.ends_with(" Live Restore Enabled: false\n\n"));
    }

    #[test]
    fn inactive_swarm_prints_state_only() {
        let s = SwarmInfo::default();
        assert_eq!(swarm_text(&s), "");
    }

    #[test]
    fn null_addr_pool_from_go_is_read_as_empty() {
        let i: ServerInfo = serde_json::from_value(json!({"Swarm": {
            "NodeID": "abc", "LocalNodeState": "active",
            "Cluster": {"ID": "c", "Spec": {}, "DefaultAddrPool": null}}}))
        .unwrap();
        assert_eq!(i.swarm.node_id, "abc");
        let cluster = i.swarm.cluster.expect("cluster is read");
        assert!(cluster.default_addr_pool.is_empty());
    }

    #[test]
    fn unreadable_cluster_is_dropped() {
        let i: ServerInfo = serde_json::from_value(json!({"Swarm": {
            "NodeID": "abc", "LocalNodeState": "active",
            "Cluster": {"ID": 7, "Spec": "not a spec"}}}))
        .unwrap();
        assert_eq!(i.swarm.node_id, "abc");
        assert!(i.swarm.cluster.is_none());
    }
}
