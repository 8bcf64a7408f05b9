//! `GET /version` and `GET /info` bodies: the fields the docker CLI prints, filled from this
//! machine and the node's swarm state.

use serde_json::{Value, json};

use super::runtime::NodeRuntime;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Go's architecture names, which the docker CLI shows.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn operating_system() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

pub fn version_json(_rt: &NodeRuntime) -> Value {
    let (api, min) = (shoal_httpapi::API_VERSION, shoal_httpapi::MIN_API_VERSION);
    let kernel = kernel_version();
    json!({
        "Platform": {"Name": "shoal"},
        "Components": [{
            "Name": "Engine",
            "Version": VERSION,
            "Details": {
                "ApiVersion": api, "MinAPIVersion": min, "GitCommit": "", "GoVersion": "rust",
                "Os": "linux", "Arch": go_arch(), "KernelVersion": kernel, "Experimental": "false",
                "BuildTime": ""
            }
        }],
        "Version": VERSION, "ApiVersion": api, "MinAPIVersion": min, "GitCommit": "",
        "GoVersion": "rust", "Os": "linux", "Arch": go_arch(), "KernelVersion": kernel, "BuildTime": ""
    })
}

pub fn info_json(rt: &NodeRuntime) -> Value {
    let swarm = rt.swarm_info();
    let d = &rt.description;
    json!({
        "ID": swarm.node_id,
        "Containers": 0, "ContainersRunning": 0, "ContainersPaused": 0, "ContainersStopped": 0,
        "Images": 0, "Driver": "", "DriverStatus": [],
        "Plugins": {"Volume": [], "Network": [], "Authorization": null, "Log": []},
        "MemoryLimit": true, "SwapLimit": false, "CpuCfsPeriod": true, "CpuCfsQuota": true,
        "CPUShares": true, "CPUSet": true, "PidsLimit": true, "IPv4Forwarding": true,
        "Debug": false, "NFd": 0, "OomKillDisable": false, "NGoroutines": 0,
        "SystemTime": humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        "LoggingDriver": "json-file", "CgroupDriver": "", "CgroupVersion": "",
        "NEventsListener": 0, "KernelVersion": kernel_version(),
        "OperatingSystem": operating_system(), "OSVersion": "", "OSType": "linux",
        "Architecture": d.platform.architecture, "IndexServerAddress": "",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": [], "Mirrors": []},
        "NCPU": d.resources.nano_cpus / 1_000_000_000, "MemTotal": d.resources.memory_bytes,
        "GenericResources": null, "DockerRootDir": rt.cfg.data_dir.display().to_string(),
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "", "Name": d.hostname,
        "Labels": [], "ExperimentalBuild": false, "ServerVersion": VERSION,
        "Runtimes": {}, "DefaultRuntime": "", "LiveRestoreEnabled": false, "Isolation": "",
        "InitBinary": "", "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""},
        "InitCommit": {"ID": ""}, "SecurityOptions": [], "Warnings": null,
        "Swarm": swarm,
        "ShoalEngine": rt.engine.as_ref().map(|e| json!({"Version": e.version, "ApiVersion": e.api_version})),
    })
}
