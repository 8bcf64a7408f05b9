//! Per-file normalisation of the raw YAML value: short syntaxes expanded, lists-or-maps made
//! maps, `x-*` keys dropped, so files can be merged key by key and deserialised into
//! [`crate::model`].

use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::model::Port;
use crate::syntax::{parse_port, parse_volume};
use crate::typed::check;
use crate::units::shell_split;

/// docker/cli `types.UnsupportedProperties`: warned about and ignored.
pub const UNSUPPORTED: [&str; 16] = [
    "build",
    "cgroupns_mode",
    "cgroup_parent",
    "devices",
    "domainname",
    "external_links",
    "ipc",
    "links",
    "mac_address",
    "network_mode",
    "pid",
    "privileged",
    "restart",
    "security_opt",
    "shm_size",
    "userns_mode",
];
/// docker/cli `types.DeprecatedProperties`.
pub const DEPRECATED: [(&str, &str); 2] = [
    (
        "container_name",
        "Setting the container name is not supported.",
    ),
    (
        "expose",
        "Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
    ),
];
/// docker/cli `types.ForbiddenProperties`.
pub const FORBIDDEN: [(&str, &str); 8] = [
    ("extends", "Support for `extends` is not implemented yet."),
    (
        "volume_driver",
        "Instead of setting the volume driver on the service, define a volume using the top-level `volumes` option and specify the driver there.",
    ),
    (
        "volumes_from",
        "To share a volume between services, define it using the top-level `volumes` option and reference it from each service that shares it using the service-level `volumes` option.",
    ),
    ("cpu_quota", "Set resource limits using deploy.resources"),
    ("cpu_shares", "Set resource limits using deploy.resources"),
    ("cpuset", "Set resource limits using deploy.resources"),
    ("mem_limit", "Set resource limits using deploy.resources"),
    (
        "memswap_limit",
        "Set resource limits using deploy.resources",
    ),
];
/// Other service keys of docker/cli's v3.13 schema that swarm conversion does not use.
const IGNORED: [&str; 1] = ["credential_spec"];
/// Service keys the model reads.
const MODELLED: [&str; 36] = [
    "image",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "labels",
    "ports",
    "secrets",
    "configs",
    "healthcheck",
    "deploy",
    "networks",
    "volumes",
    "hostname",
    "user",
    "working_dir",
    "stop_grace_period",
    "stop_signal",
    "extra_hosts",
    "dns",
    "dns_search",
    "read_only",
    "init",
    "tty",
    "stdin_open",
    "cap_add",
    "cap_drop",
    "sysctls",
    "ulimits",
    "logging",
    "depends_on",
    "restart",
    "tmpfs",
    "isolation",
    "container_name",
    "expose",
];

fn stringify(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

/// A list of `K<sep>V` strings or a map, to a map of strings (null kept when `allow_nil`).
fn map_or_list(v: &Value, sep: char, allow_nil: bool, path: &str) -> Result<Value, Error> {
    let mut out = Map::new();
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let v = stringify(v);
                out.insert(
                    k.clone(),
                    if v.is_null() && !allow_nil {
                        "".into()
                    } else {
                        v
                    },
                );
            }
        }
        Value::Array(items) => {
            for item in items {
                let s = item
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| item.to_string());
                match s.split_once(sep) {
                    Some((k, v)) => out.insert(k.into(), v.into()),
                    None if allow_nil => out.insert(s, Value::Null),
                    None => out.insert(s, "".into()),
                };
            }
        }
        Value::Null => {}
        _ => {
            return Err(Error::value(path, "must be a mapping or a list"));
        }
    }
    Ok(Value::Object(out))
}

fn string_list(v: &Value, path: &str) -> Result<Value, Error> {
    match v {
        Value::String(_) => Ok(json!([v])),
        Value::Array(items) => Ok(Value::Array(items.iter().map(stringify).collect())),
        Value::Null => Ok(json!([])),
        _ => Err(Error::value(path, "must be a string or a list")),
    }
}

fn strip_extensions(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|k, _| !k.starts_with("x-"));
    }
}

/// Normalises one service in place and returns nothing; keys swarm ignores are removed.
pub fn service(name: &str, svc: &mut Value) -> Result<(), Error> {
    let path = format!("services.{name}");
    let Value::Object(m) = svc else {
        return Err(Error::value(path, "must be a mapping"));
    };
    m.retain(|k, _| !k.starts_with("x-"));
    let known = |k: &str| MODELLED.contains(&k) || UNSUPPORTED.contains(&k) || IGNORED.contains(&k);
    if let Some(k) = m.keys().find(|k| !known(k)) {
        return Err(Error::UnknownKey {
            parent: path,
            key: k.clone(),
        });
    }
    m.retain(|k, _| {
        k == "restart"
            || !(UNSUPPORTED.contains(&k.as_str())
                || IGNORED.contains(&k.as_str())
                || DEPRECATED.iter().any(|(d, _)| d == k))
    });
    for (key, slot) in m.iter_mut() {
        let p = format!("{path}.{key}");
        let v: &Value = slot;
        let new = match key.as_str() {
            "command" | "entrypoint" => match v {
                Value::String(s) => {
                    json!(shell_split(s).map_err(|e| Error::value(&p, e))?)
                }
                other => string_list(other, &p)?,
            },
            "environment" => map_or_list(v, '=', true, &p)?,
            "labels" | "sysctls" => map_or_list(v, '=', false, &p)?,
            "env_file" | "dns" | "dns_search" | "tmpfs" | "cap_add" | "cap_drop" => {
                string_list(v, &p)?
            }
            "extra_hosts" => match v {
                Value::Object(h) => {
                    let mut l: Vec<String> = h
                        .iter()
                        .map(|(k, v)| format!("{k}:{}", stringify(v).as_str().unwrap_or("")))
                        .collect();
                    l.sort();
                    json!(l)
                }
                other => string_list(other, &p)?,
            },
            "ports" => ports(v, &p)?,
            "volumes" => volumes(v, &p)?,
            "secrets" | "configs" => file_refs(v, &p)?,
            "networks" => networks(v, &p)?,
            "depends_on" => depends_on(v, &p)?,
            "ulimits" => ulimits(v),
            "healthcheck" => healthcheck(v),
            "deploy" => deploy(v, &p)?,
            "logging" => {
                let mut l = v.clone();
                if let Some(o) = l.get_mut("options") {
                    *o = map_or_list(o, '=', false, &format!("{p}.options"))?;
                }
                l
            }
            _ => v.clone(),
        };
        *slot = new;
    }
    Ok(())
}

/// The items of the list at `p`, with their paths (`p.0`, `p.1`, …).
fn items<'a>(v: &'a Value, p: &str) -> Result<impl Iterator<Item = (String, &'a Value)>, Error> {
    let items = v
        .as_array()
        .ok_or_else(|| Error::value(p, "must be a list"))?;
    Ok(items
        .iter()
        .enumerate()
        .map(move |(i, item)| (format!("{p}.{i}"), item)))
}

fn ports(v: &Value, p: &str) -> Result<Value, Error> {
    let mut out = Vec::new();
    for (ip, item) in items(v, p)? {
        match item {
            Value::Number(n) => out.extend(parse_port(&n.to_string()).map_err(|e| e.under(&ip))?),
            Value::String(s) => out.extend(parse_port(s).map_err(|e| e.under(&ip))?),
            Value::Object(_) => {
                let mut item = item.clone();
                strip_extensions(&mut item);
                // Checked here: a short range before it expands to several items, so the
                // merged list's indices are not the file's.
                check::<Port>(&ip, &item)?;
                out.push(item);
            }
            _ => return Err(Error::value(ip, "must be a string, a number or a mapping")),
        }
    }
    Ok(Value::Array(out))
}

fn volumes(v: &Value, p: &str) -> Result<Value, Error> {
    items(v, p)?
        .map(|(ip, item)| match item {
            Value::String(s) => parse_volume(s).map_err(|e| e.under(&ip)),
            Value::Object(m) => {
                let no_source = m.get("source").is_none_or(Value::is_null);
                if m.get("type") == Some(&json!("bind")) && no_source {
                    return Err(Error::value(
                        ip,
                        "invalid mount config for type \"bind\": field Source must not be empty",
                    ));
                }
                Ok(item.clone())
            }
            _ => Err(Error::value(ip, "must be a string or a mapping")),
        })
        .collect::<Result<_, _>>()
        .map(Value::Array)
}

fn file_refs(v: &Value, p: &str) -> Result<Value, Error> {
    Ok(Value::Array(
        items(v, p)?
            .map(|(_, i)| match i {
                Value::String(s) => json!({ "source": s }),
                other => other.clone(),
            })
            .collect(),
    ))
}

fn networks(v: &Value, p: &str) -> Result<Value, Error> {
    match v {
        Value::Array(items) => Ok(Value::Object(
            items
                .iter()
                .map(|n| (n.as_str().unwrap_or_default().to_string(), Value::Null))
                .collect(),
        )),
        Value::Object(m) => {
            let mut out = m.clone();
            for (name, n) in out.iter_mut() {
                strip_extensions(n);
                if let Some(o) = n.get_mut("driver_opts") {
                    *o = map_or_list(o, '=', false, &format!("{p}.{name}.driver_opts"))?;
                }
            }
            Ok(Value::Object(out))
        }
        _ => Err(Error::value(p, "must be a list or a mapping")),
    }
}

fn depends_on(v: &Value, p: &str) -> Result<Value, Error> {
    match v {
        Value::Array(items) => Ok(Value::Array(
            items
                .iter()
                .map(|s| json!({"service": s, "condition": "service_started"}))
                .collect(),
        )),
        Value::Object(m) => Ok(Value::Array(
            m.iter()
                .map(|(s, c)| {
                    let cond = c
                        .get("condition")
                        .cloned()
                        .unwrap_or("service_started".into());
                    json!({"service": s, "condition": cond})
                })
                .collect(),
        )),
        _ => Err(Error::value(p, "must be a list or a mapping")),
    }
}

fn ulimits(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| match v {
                    Value::Number(_) | Value::String(_) => (k.clone(), json!({ "single": v })),
                    other => (k.clone(), other.clone()),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn healthcheck(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(t) = v.get_mut("test")
        && let Value::String(s) = t
    {
        *t = json!(["CMD-SHELL", s]);
    }
    v
}

fn deploy(v: &Value, p: &str) -> Result<Value, Error> {
    let mut v = v.clone();
    if let Some(l) = v.get_mut("labels") {
        *l = map_or_list(l, '=', false, &format!("{p}.labels"))?;
    }
    Ok(v)
}

/// Normalises a top-level network, volume, secret or config entry (`kind` for messages).
pub fn top_object(kind: &str, name: &str, v: &mut Value) -> Result<(), Error> {
    if v.is_null() {
        *v = json!({});
    }
    strip_extensions(v);
    let path = format!("{kind}s.{name}");
    let Value::Object(m) = v else {
        return Err(Error::value(path, "must be a mapping"));
    };
    for key in ["labels", "driver_opts"] {
        if let Some(l) = m.get_mut(key) {
            *l = map_or_list(l, '=', false, &format!("{path}.{key}"))?;
        }
    }
    if let Some(Value::Object(ext)) = m.get("external").cloned() {
        let ext_name = ext.get("name").map(stringify);
        m.insert("external".into(), true.into());
        if let Some(n) = ext_name.filter(|n| !n.is_null()) {
            if m.contains_key("name") {
                return Err(Error::value(
                    format!("{path}.external.name"),
                    format!("{kind}.external.name and {kind}.name conflict; only use {kind}.name"),
                ));
            }
            m.insert("name".into(), n);
        }
    }
    if kind == "volume" && m.get("external") == Some(&Value::Bool(true)) {
        for key in ["driver", "driver_opts", "labels"] {
            if m.get(key)
                .is_some_and(|v| v.as_object().is_none_or(|o| !o.is_empty()))
            {
                return Err(Error::value(
                    format!("{path}.{key}"),
                    format!(
                        "conflicting parameters \"external\" and {key:?} specified for volume {name:?}"
                    ),
                ));
            }
        }
    }
    Ok(())
}
