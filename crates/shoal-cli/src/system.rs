//! `shoal info` and `shoal version`, laid out like docker/cli's `cli/command/system`.

use std::collections::BTreeMap;

use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};
use shoal_types::info::SwarmInfo;

use crate::client::{API_VERSION, Client};
use crate::error::CliError;
use crate::info_text::{ServerInfo, render_info};
use crate::table::tabwrite;
use crate::template;
use crate::timefmt::ansic;

/// `GET /info`, the fields the client reads.
pub type SystemInfo = ServerInfo;

/// `info` flags.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format output: `json`, or a template such as '{{.Swarm.NodeID}}'
    #[arg(short, long, default_value = "")]
    pub format: String,
}

/// `version` flags.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format output: `json`, or a template such as '{{.Server.Version}}'
    #[arg(short, long, default_value = "")]
    pub format: String,
}

/// `shoal info`: docker's layout by default, the daemon's JSON with `--format json`.
pub async fn info(c: &Client, a: InfoArgs) -> Result<(), CliError> {
    let raw = c.get_raw("/info").await?;
    match a.format.as_str() {
        "" => {
            let parsed: ServerInfo =
                serde_json::from_slice(&raw).map_err(|e| CliError::Decode(e.to_string()))?;
            let (text, warnings) = render_info(&parsed);
            print!("{text}");
            for w in warnings {
                eprintln!("{w}");
            }
        }
        "json" => println!("{}", String::from_utf8_lossy(&raw).trim_end()),
        tmpl => {
            let v: Value =
                serde_json::from_slice(&raw).map_err(|e| CliError::Decode(e.to_string()))?;
            println!("{}", template::render(tmpl, &v)?);
        }
    }
    Ok(())
}

/// `GET /version`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ServerVersion {
    platform: Platform,
    components: Option<Vec<Component>>,
    version: String,
    #[serde(rename = "ApiVersion")]
    api_version: String,
    #[serde(rename = "MinAPIVersion")]
    min_api_version: String,
    git_commit: String,
    go_version: String,
    os: String,
    arch: String,
    experimental: bool,
    build_time: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Platform {
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Component {
    name: String,
    version: String,
    details: Option<BTreeMap<String, Value>>,
}

/// `shoal version`: the client part always; the server part when the daemon answers (its
/// error is still returned, after the client part, as docker does).
pub async fn version(c: &Client, a: VersionArgs) -> Result<(), CliError> {
    let server = match c.negotiate().await {
        Ok(_) => c.get_raw("/version").await,
        Err(e) => Err(e),
    };
    let raw: Option<Value> = match &server {
        Ok(body) => {
            Some(serde_json::from_slice(body).map_err(|e| CliError::Decode(e.to_string()))?)
        }
        Err(_) => None,
    };
    match a.format.as_str() {
        "" => {
            let parsed = raw
                .as_ref()
                .map(|v| ServerVersion::deserialize(v).unwrap_or_default());
            print!("{}", render_version(c.api_version(), parsed.as_ref()));
        }
        "json" => println!("{}", version_json(c.api_version(), raw)),
        tmpl => println!(
            "{}",
            template::render(tmpl, &version_json(c.api_version(), raw))?
        ),
    }
    server.map(|_| ())
}

fn version_json(api: &str, server: Option<Value>) -> Value {
    let os = std::env::consts::OS;
    json!({
        "Client": {"Version": env!("CARGO_PKG_VERSION"), "ApiVersion": api,
                   "DefaultAPIVersion": API_VERSION, "Os": os, "Arch": go_arch()},
        "Server": server,
    })
}

/// Go's name of this machine's architecture (`amd64`, `arm64`), as docker prints it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Docker's default version template, rendered through its tabwriter (minwidth 20,
/// padding 1). The client part lists what a Rust binary has (no Go version or context).
fn render_version(api: &str, server: Option<&ServerVersion>) -> String {
    let mut t = String::from("Client:\n");
    t += &format!(" Version:\t{}\n", env!("CARGO_PKG_VERSION"));
    let downgraded = if api == API_VERSION {
        String::new()
    } else {
        format!(" (downgraded from {API_VERSION})")
    };
    t += &format!(" API version:\t{api}{downgraded}\n");
    t += &format!(" OS/Arch:\t{}/{}", std::env::consts::OS, go_arch());
    if let Some(sv) = server {
        t += "\n\nServer:";
        if !sv.platform.name.is_empty() {
            t += &format!(" {}", sv.platform.name);
        }
        for comp in components(sv) {
            t += &format!("\n {}:", comp.name);
            t += &component_lines(&comp);
        }
    }
    t.push('\n');
    tabwrite(&t, 20, 1)
}

/// The components to print; a daemon without an `Engine` entry gets one made from the
/// top-level fields, as docker does.
fn components(sv: &ServerVersion) -> Vec<Component> {
    let mut list: Vec<Component> = sv
        .components
        .iter()
        .flatten()
        .map(|c| Component {
            name: c.name.clone(),
            version: c.version.clone(),
            details: c.details.clone(),
        })
        .collect();
    if !list.iter().any(|c| c.name == "Engine") {
        let details = [
            ("ApiVersion", sv.api_version.clone()),
            ("MinAPIVersion", sv.min_api_version.clone()),
            ("GitCommit", sv.git_commit.clone()),
            ("GoVersion", sv.go_version.clone()),
            ("Os", sv.os.clone()),
            ("Arch", sv.arch.clone()),
            ("BuildTime", sv.build_time.clone()),
            ("Experimental", sv.experimental.to_string()),
        ];
        let details = details
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect();
        list.push(Component {
            name: "Engine".into(),
            version: sv.version.clone(),
            details: Some(details),
        });
    }
    list
}

fn component_lines(comp: &Component) -> String {
    let empty = BTreeMap::new();
    let details = comp.details.as_ref().unwrap_or(&empty);
    let get = |k: &str| match details.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    if comp.name != "Engine" {
        let mut t = format!("\n  Version:\t{}", comp.version);
        for key in details.keys() {
            t += &format!("\n  {key}:\t{}", get(key));
        }
        return t;
    }
    format!(
        "\n  Version:\t{}\n  API version:\t{} (minimum version {})\n  Go version:\t{}\n  \
         Git commit:\t{}\n  Built:\t{}\n  OS/Arch:\t{}/{}\n  Experimental:\t{}",
        comp.version,
        get("ApiVersion"),
        get("MinAPIVersion"),
        get("GoVersion"),
        get("GitCommit"),
        ansic(&get("BuildTime")),
        get("Os"),
        get("Arch"),
        get("Experimental"),
    )
}

/// Reads `Swarm` of `/info` leniently: a `Cluster` shoal's types cannot read (a field a
/// docker daemon sends as `null`) is dropped rather than failing the whole command.
pub(crate) fn lenient_swarm<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SwarmInfo, D::Error> {
    let mut v = Option::<Value>::deserialize(d)?.unwrap_or(Value::Null);
    if v.is_null() {
        return Ok(SwarmInfo::default());
    }
    if let Ok(info) = serde_json::from_value::<SwarmInfo>(v.clone()) {
        return Ok(info);
    }
    if let Some(m) = v.as_object_mut() {
        m.remove("Cluster");
    }
    serde_json::from_value(v).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_layout() {
        let sv: ServerVersion = serde_json::from_value(json!({
            "Platform": {"Name": "Docker Engine - Community"},
            "Components": [
                {"Name": "Engine", "Version": "28.2.2", "Details": {
                    "ApiVersion": "1.50", "MinAPIVersion": "1.24", "GoVersion": "go1.24.3",
                    "GitCommit": "45873be", "BuildTime": "2025-05-30T12:34:56.000000000+00:00",
                    "Os": "linux", "Arch": "amd64", "Experimental": "false"}},
                {"Name": "containerd", "Version": "1.7.27", "Details": {"GitCommit": "05044ec"}}
            ]
        }))
        .unwrap();
        let out = render_version("1.47", Some(&sv));
        let want_server = "\n\nServer: Docker Engine - Community\n Engine:\n  \
            Version:          28.2.2\n  \
            API version:      1.50 (minimum version 1.24)\n  \
            Go version:       go1.24.3\n  \
            Git commit:       45873be\n  \
            Built:            Fri May 30 12:34:56 2025\n  \
            OS/Arch:          linux/amd64\n  \
            Experimental:     false\n \
            containerd:\n  \
            Version:          1.7.27\n  \
            GitCommit:        05044ec\n";
        assert!(out.starts_with("Client:\n Version:           "), "{out}");
        assert!(out.contains("\n API version:       1.47\n"), "{out}");
        assert!(out.ends_with(want_server), "{out}");
    }

    #[test]
    fn version_without_server_or_engine_component() {
        let out = render_version("1.41", None);
        assert!(
            out.contains(" API version:       1.41 (downgraded from 1.47)\n"),
            "{out}"
        );
        assert!(out.ends_with('\n') && !out.contains("Server:"));
        let sv = ServerVersion {
            version: "0.1.0".into(),
            api_version: "1.47".into(),
            ..Default::default()
        };
        let out = render_version("1.47", Some(&sv));
        assert!(
            out.contains("\n Engine:\n  Version:          0.1.0\n"),
            "{out}"
        );
    }
}
