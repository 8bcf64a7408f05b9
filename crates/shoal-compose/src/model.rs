//! The typed compose v3 model, after normalisation (short syntaxes already expanded to long
//! ones, lists-or-maps already maps), so each field has exactly one shape here. Numbers and
//! booleans also accept strings, because interpolation turns `${N}` into text (docker/cli
//! casts those paths back, `interpolateTypeCastMapping`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, de::Error as _};
use serde_json::Value;

use crate::origin::Origins;
use crate::units;

/// A whole (merged) compose file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compose {
    pub version: String,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default)]
    pub networks: BTreeMap<String, Network>,
    #[serde(default)]
    pub volumes: BTreeMap<String, Volume>,
    #[serde(default)]
    pub secrets: BTreeMap<String, FileObject>,
    #[serde(default)]
    pub configs: BTreeMap<String, FileObject>,
    /// Top-level `x-*` keys, untouched.
    #[serde(skip)]
    pub extensions: BTreeMap<String, Value>,
    /// The file and line each key came from, so that conversion errors can name them.
    #[serde(skip)]
    pub origins: Origins,
}

/// One service. Keys swarm ignores are dropped before this point (see `Loaded::warnings`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Service {
    #[serde(deserialize_with = "opt_string")]
    pub image: Option<String>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub environment: BTreeMap<String, Option<String>>,
    pub env_file: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<Port>,
    pub secrets: Vec<FileRef>,
    pub configs: Vec<FileRef>,
    pub healthcheck: Option<Healthcheck>,
    pub deploy: Deploy,
    pub networks: BTreeMap<String, Option<ServiceNetwork>>,
    pub volumes: Vec<ServiceVolume>,
    #[serde(deserialize_with = "opt_string")]
    pub hostname: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub user: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub working_dir: Option<String>,
    /// Nanoseconds.
    #[serde(deserialize_with = "opt_duration")]
    pub stop_grace_period: Option<i64>,
    pub stop_signal: Option<String>,
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub read_only: bool,
    #[serde(deserialize_with = "opt_bool")]
    pub init: Option<bool>,
    #[serde(deserialize_with = "lenient_bool")]
    pub tty: bool,
    #[serde(deserialize_with = "lenient_bool")]
    pub stdin_open: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub sysctls: BTreeMap<String, String>,
    pub ulimits: BTreeMap<String, Ulimit>,
    pub logging: Option<Logging>,
    pub depends_on: Vec<DependsOn>,
    /// Kept (although docker warns it is unsupported) because it feeds the restart policy.
    pub restart: Option<String>,
    pub tmpfs: Vec<String>,
    pub isolation: Option<String>,
}

/// A long-syntax port (short syntax is expanded to these with mode `ingress`, protocol `tcp`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Port {
    #[serde(deserialize_with = "opt_u64")]
    pub target: Option<u64>,
    #[serde(deserialize_with = "opt_u64")]
    pub published: Option<u64>,
    pub protocol: Option<String>,
    pub mode: Option<String>,
}

/// A secret or config reference of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileRef {
    pub source: String,
    pub target: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub uid: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub gid: Option<String>,
    #[serde(deserialize_with = "opt_u64")]
    pub mode: Option<u64>,
}

/// `healthcheck`; durations in nanoseconds; a string `test` is already `["CMD-SHELL", s]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Healthcheck {
    pub test: Option<Vec<String>>,
    #[serde(deserialize_with = "opt_duration")]
    pub interval: Option<i64>,
    #[serde(deserialize_with = "opt_duration")]
    pub timeout: Option<i64>,
    #[serde(deserialize_with = "opt_u64")]
    pub retries: Option<u64>,
    #[serde(deserialize_with = "opt_duration")]
    pub start_period: Option<i64>,
    #[serde(deserialize_with = "opt_duration")]
    pub start_interval: Option<i64>,
    #[serde(deserialize_with = "lenient_bool")]
    pub disable: bool,
}

/// `deploy`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deploy {
    pub mode: Option<String>,
    #[serde(deserialize_with = "opt_u64")]
    pub replicas: Option<u64>,
    pub labels: BTreeMap<String, String>,
    pub update_config: Option<UpdateConfig>,
    pub rollback_config: Option<UpdateConfig>,
    pub resources: Resources,
    pub restart_policy: Option<RestartPolicy>,
    pub placement: Placement,
    pub endpoint_mode: Option<String>,
}

/// `update_config` / `rollback_config`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateConfig {
    #[serde(deserialize_with = "opt_u64")]
    pub parallelism: Option<u64>,
    #[serde(deserialize_with = "opt_duration")]
    pub delay: Option<i64>,
    pub failure_action: Option<String>,
    #[serde(deserialize_with = "opt_duration")]
    pub monitor: Option<i64>,
    #[serde(deserialize_with = "opt_f64")]
    pub max_failure_ratio: Option<f64>,
    pub order: Option<String>,
}

/// `deploy.resources`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Resources {
    pub limits: Option<ResourceSpec>,
    pub reservations: Option<ResourceSpec>,
}

/// Limits or reservations: NanoCPUs, bytes, pids and discrete generic resources.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceSpec {
    #[serde(deserialize_with = "opt_cpus")]
    pub cpus: Option<i64>,
    #[serde(deserialize_with = "opt_bytes")]
    pub memory: Option<i64>,
    #[serde(deserialize_with = "opt_u64")]
    pub pids: Option<u64>,
    /// `(kind, value)` of each `discrete_resource_spec`.
    #[serde(deserialize_with = "generic_resources")]
    pub generic_resources: Vec<(String, i64)>,
    pub devices: Option<Value>,
}

/// `deploy.restart_policy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestartPolicy {
    pub condition: Option<String>,
    #[serde(deserialize_with = "opt_duration")]
    pub delay: Option<i64>,
    #[serde(deserialize_with = "opt_u64")]
    pub max_attempts: Option<u64>,
    #[serde(deserialize_with = "opt_duration")]
    pub window: Option<i64>,
}

/// `deploy.placement`; preferences as their spread descriptors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Placement {
    pub constraints: Vec<String>,
    #[serde(deserialize_with = "spread_prefs")]
    pub preferences: Vec<String>,
    #[serde(deserialize_with = "opt_u64")]
    pub max_replicas_per_node: Option<u64>,
}

/// A service's attachment to one network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
}

/// A long-syntax service volume (short syntax is expanded to this).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceVolume {
    #[serde(rename = "type")]
    pub kind: String,
    pub source: Option<String>,
    pub target: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub read_only: bool,
    pub consistency: Option<String>,
    pub bind: Option<Value>,
    pub volume: Option<Value>,
    pub tmpfs: Option<Value>,
}

/// `ulimits.<name>`: a single number or soft/hard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ulimit {
    pub single: Option<i64>,
    pub soft: Option<i64>,
    pub hard: Option<i64>,
}

/// `logging`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logging {
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
}

/// One `depends_on` entry (list form gives condition `service_started`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DependsOn {
    pub service: String,
    pub condition: String,
}

/// A top-level network. `external: {name}` is folded into `external` + `name`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub ipam: Option<Value>,
    #[serde(deserialize_with = "lenient_bool")]
    pub external: bool,
    #[serde(deserialize_with = "lenient_bool")]
    pub internal: bool,
    #[serde(deserialize_with = "lenient_bool")]
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub name: Option<String>,
}

/// A top-level volume.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Volume {
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub external: bool,
    pub labels: BTreeMap<String, String>,
    pub name: Option<String>,
}

/// A top-level secret or config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileObject {
    pub file: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub external: bool,
    pub labels: BTreeMap<String, String>,
    pub name: Option<String>,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub template_driver: Option<String>,
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// "expected …, got <value as JSON>": the message of a value of the wrong type.
fn expected(what: &str, v: &Value) -> String {
    format!("expected {what}, got {v}")
}

/// An optional value read from the JSON `f` accepts; `f`'s error is the whole message.
fn opt_with<'de, D, T>(d: D, f: impl Fn(&Value) -> Result<T, String>) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => f(&v).map(Some).map_err(D::Error::custom),
    }
}

fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    opt_with(d, |v| scalar_text(v).ok_or_else(|| expected("a string", v)))
}

fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    opt_with(d, |v| match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| expected("an unsigned integer", v)),
        Value::String(s) => s.trim().parse().map_err(|_| expected("an integer", v)),
        _ => Err(expected("an integer", v)),
    })
}

fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    opt_with(d, |v| match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| expected("a number", v)),
        Value::String(s) => s.trim().parse().map_err(|_| expected("a number", v)),
        _ => Err(expected("a number", v)),
    })
}

fn parse_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" => Ok(true),
            "false" | "no" | "n" | "off" => Ok(false),
            _ => Err(expected("a boolean", v)),
        },
        _ => Err(expected("a boolean", v)),
    }
}

fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    opt_with(d, parse_bool)
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(opt_bool(d)?.unwrap_or(false))
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    opt_with(d, |v| match v {
        Value::String(s) => units::parse_duration(s),
        _ => Err(expected("a duration string like \"10s\"", v)),
    })
}

fn opt_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    opt_with(d, |v| match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| expected("a number of bytes", v)),
        Value::String(s) => units::parse_bytes(s),
        _ => Err(expected("a size like \"100M\"", v)),
    })
}

fn opt_cpus<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    opt_with(d, |v| {
        units::parse_cpus(&scalar_text(v).ok_or_else(|| expected("a number", v))?)
    })
}

fn generic_resources<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, i64)>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Discrete {
        kind: String,
        value: i64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        discrete_resource_spec: Discrete,
    }
    let items = Option::<Vec<Item>>::deserialize(d)?.unwrap_or_default();
    Ok(items
        .into_iter()
        .map(|i| {
            (
                i.discrete_resource_spec.kind,
                i.discrete_resource_spec.value,
            )
        })
        .collect())
}

fn spread_prefs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Pref {
        spread: String,
    }
    let items = Option::<Vec<Pref>>::deserialize(d)?.unwrap_or_default();
    Ok(items.into_iter().map(|p| p.spread).collect())
}
