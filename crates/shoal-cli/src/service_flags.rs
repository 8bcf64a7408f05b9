//! Value parsers of `service create|update` flags, with docker/cli's texts: ports, mounts,
//! sizes, CPUs, placement preferences, env files and shell-style word splitting.

use bollard_stubs::models::{
    EndpointPortConfigProtocolEnum as Proto, EndpointPortConfigPublishModeEnum as PubMode,
    MountBindOptions, MountBindOptionsPropagationEnum, MountTmpfsOptions, MountType,
    MountVolumeOptions, TaskSpecPlacementPreferences, TaskSpecPlacementSpread,
};
use shoal_types::service::{EndpointPortConfig, Mount};

use crate::duration::parse_duration;

/// A Go duration flag (`10s`, `1m30s`) in nanoseconds.
pub(crate) fn duration(s: &str) -> Result<i64, String> {
    parse_duration(s)
}

/// docker's `PositiveDurationOpt` (the `--health-*` durations): a Go duration that is not
/// negative.
pub(crate) fn positive_duration(s: &str) -> Result<i64, String> {
    let d = parse_duration(s)?;
    if d < 0 {
        return Err("duration cannot be negative".into());
    }
    Ok(d)
}

/// docker's `floatValue` (`--update-max-failure-ratio`): `strconv.ParseFloat` and its text;
/// the range (0 to 1) is the daemon's to check.
pub(crate) fn float(s: &str) -> Result<f64, String> {
    let bad = |why: &str| format!("strconv.ParseFloat: parsing \"{s}\": {why}");
    let v: f64 = s.parse().map_err(|_| bad("invalid syntax"))?;
    // Go parses it as a float32.
    if v.is_finite() && v.abs() > f32::MAX as f64 {
        return Err(bad("value out of range"));
    }
    Ok(v)
}

/// `units.RAMInBytes`: `512m`, `1g`, `1.5GiB`, `1024` (binary multiples).
pub(crate) fn mem_bytes(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let t = s.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit
        .strip_suffix('b')
        .unwrap_or(&unit)
        .trim_end_matches('i');
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024f64.powi(2),
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    Ok((value * mult) as i64)
}

/// `opts.NanoCPUs`: a decimal number of CPUs (`0.5`, `2`) as nano-CPUs.
pub(crate) fn nano_cpus(s: &str) -> Result<i64, String> {
    let bad = || format!("failed to parse {s} as a rational number");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let all_digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(bad());
    }
    if frac.len() > 9 {
        return Err("value is too precise".into());
    }
    let whole: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac_ns: i64 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
    Ok(whole * 1_000_000_000 + frac_ns)
}

/// `--placement-pref spread=node.labels.zone`.
pub(crate) fn placement_pref(s: &str) -> Result<TaskSpecPlacementPreferences, String> {
    let (strategy, arg) = s
        .split_once('=')
        .ok_or("placement preference must be of the format \"<strategy>=<arg>\"")?;
    if strategy != "spread" {
        return Err(format!(
            "unsupported placement preference {strategy} (only spread is supported)"
        ));
    }
    Ok(TaskSpecPlacementPreferences {
        spread: Some(TaskSpecPlacementSpread {
            spread_descriptor: Some(arg.to_string()),
        }),
    })
}

/// `-p/--publish`: `[published:]target[/protocol]` (ranges `8080-8081:80-81`) or the long
/// form `published=8080,target=80,protocol=udp,mode=host`.
pub(crate) fn publish(s: &str) -> Result<Vec<EndpointPortConfig>, String> {
    if s.contains('=') {
        return publish_long(s).map(|p| vec![p]);
    }
    let (spec, proto) = match s.split_once('/') {
        Some((a, p)) => (a, protocol(p)?),
        None => (s, Proto::TCP),
    };
    let (published, target) = match spec.rsplit_once(':') {
        Some((p, t)) if !p.contains(':') => (Some(p), t),
        Some(_) => return Err(format!("hostip is not supported: {s}")),
        None => (None, spec),
    };
    let targets = port_range(target, s)?;
    let publisheds = match published {
        None | Some("") => vec![0; targets.len()],
        Some(p) => port_range(p, s)?,
    };
    if publisheds.len() != targets.len() {
        return Err(format!("invalid port range: {s}"));
    }
    Ok(publisheds
        .into_iter()
        .zip(targets)
        .map(|(p, t)| port(p, t, proto, PubMode::INGRESS))
        .collect())
}

fn port(published: i64, target: i64, proto: Proto, mode: PubMode) -> EndpointPortConfig {
    EndpointPortConfig {
        protocol: Some(proto),
        target_port: Some(target),
        published_port: Some(published),
        publish_mode: Some(mode),
        ..Default::default()
    }
}

fn port_range(r: &str, whole: &str) -> Result<Vec<i64>, String> {
    let bad = || format!("invalid containerPort: {whole}");
    let parse = |p: &str| p.parse::<u16>().map(i64::from).map_err(|_| bad());
    match r.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                return Err(bad());
            }
            Ok((a..=b).collect())
        }
        None => Ok(vec![parse(r)?]),
    }
}

fn protocol(p: &str) -> Result<Proto, String> {
    match p.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Proto::TCP),
        "udp" => Ok(Proto::UDP),
        "sctp" => Ok(Proto::SCTP),
        _ => Err(format!("invalid protocol '{p}' for port")),
    }
}

fn publish_long(s: &str) -> Result<EndpointPortConfig, String> {
    let mut p = port(0, 0, Proto::TCP, PubMode::INGRESS);
    for field in s.split(',') {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| format!("invalid field {field}"))?;
        let num = || {
            v.parse::<u16>()
                .map(i64::from)
                .map_err(|_| format!("invalid {k} port {v}"))
        };
        match k.to_ascii_lowercase().as_str() {
            "mode" => {
                p.publish_mode = Some(match v {
                    "host" => PubMode::HOST,
                    "ingress" => PubMode::INGRESS,
                    _ => {
                        return Err(format!(
                            "invalid publish mode value ({v}): must be either 'ingress' or 'host'"
                        ));
                    }
                })
            }
            "target" => p.target_port = Some(num()?),
            "published" => p.published_port = Some(num()?),
            "protocol" => p.protocol = Some(protocol(v)?),
            _ => return Err(format!("invalid field key {k}")),
        }
    }
    if p.target_port == Some(0) {
        return Err(format!("missing mandatory field \"target\": {s}"));
    }
    Ok(p)
}

/// `--mount type=bind,source=/a,target=/b,readonly` (docker's `MountOpt`).
pub(crate) fn mount(s: &str) -> Result<Mount, String> {
    let mut m = Mount {
        typ: Some(MountType::VOLUME),
        ..Default::default()
    };
    let truthy = |v: &str| -> Result<bool, String> {
        match v.to_ascii_lowercase().as_str() {
            "" | "1" | "true" => Ok(true),
            "0" | "false" => Ok(false),
            _ => Err(format!("invalid value for {v}")),
        }
    };
    for field in s.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k.to_ascii_lowercase().as_str() {
            "type" => {
                m.typ = Some(match v {
                    "bind" => MountType::BIND,
                    "volume" => MountType::VOLUME,
                    "tmpfs" => MountType::TMPFS,
                    _ => return Err(format!("invalid mount type: {v}")),
                })
            }
            "source" | "src" => m.source = Some(v.into()),
            "target" | "dst" | "destination" => m.target = Some(v.into()),
            "readonly" | "ro" => m.read_only = Some(truthy(v)?),
            "consistency" => m.consistency = Some(v.into()),
            "bind-propagation" => {
                let p: MountBindOptionsPropagationEnum =
                    serde_json::from_value(serde_json::Value::String(v.into()))
                        .map_err(|_| format!("invalid bind propagation: {v}"))?;
                m.bind_options
                    .get_or_insert_with(MountBindOptions::default)
                    .propagation = Some(p);
            }
            "volume-nocopy" => {
                m.volume_options
                    .get_or_insert_with(MountVolumeOptions::default)
                    .no_copy = Some(truthy(v)?)
            }
            "tmpfs-size" => {
                m.tmpfs_options
                    .get_or_insert_with(MountTmpfsOptions::default)
                    .size_bytes = Some(mem_bytes(v)?)
            }
            "tmpfs-mode" => {
                let mode =
                    i64::from_str_radix(v, 8).map_err(|_| format!("invalid tmpfs-mode {v}"))?;
                m.tmpfs_options
                    .get_or_insert_with(MountTmpfsOptions::default)
                    .mode = Some(mode)
            }
            _ => return Err(format!("unexpected key '{k}' in '{field}'")),
        }
    }
    if m.target.as_deref().unwrap_or_default().is_empty() {
        return Err("target is required".into());
    }
    Ok(m)
}

/// docker's `opts.ValidateEnv`: `KEY=value` as given; a bare `KEY` takes its value from this
/// process's environment when set.
pub(crate) fn env_entry(s: &str) -> String {
    if s.contains('=') {
        return s.to_string();
    }
    match std::env::var(s) {
        Ok(v) => format!("{s}={v}"),
        Err(_) => s.to_string(),
    }
}

/// `--env-file`: one `KEY=value` per line, `#` comments and blank lines skipped.
pub(crate) fn env_file(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("open {path}: {e}"))?;
    Ok(text
        .lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(env_entry)
        .collect())
}

/// Merges env entries in order, a later entry replacing an earlier one with the same key
/// (docker's `ToService` and `updateEnvironment`).
pub(crate) fn merge_env(current: &mut Vec<String>, added: &[String]) {
    for e in added {
        let key = env_key(e);
        match current.iter().position(|c| env_key(c) == key) {
            Some(i) => current[i] = e.clone(),
            None => current.push(e.clone()),
        }
    }
}

pub(crate) fn env_key(e: &str) -> &str {
    e.split_once('=').map_or(e, |(k, _)| k)
}

/// Shell-style word splitting (`shlex`) for `--entrypoint` and `--args`.
pub(crate) fn shell_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err("EOF found when expecting closing quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x)
                            }
                            None => return Err("EOF found after escape character".into()),
                        },
                        Some(x) => cur.push(x),
                        None => return Err("EOF found when expecting closing quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(x) => cur.push(x),
                    None => return Err("EOF found after escape character".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// `key=value` labels into a map (`key` alone means an empty value).
pub(crate) fn kv_map(items: &[String]) -> std::collections::HashMap<String, String> {
    items
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_cpus_and_words() {
        assert_eq!(mem_bytes("512m"), Ok(512 << 20));
        assert_eq!(mem_bytes("1g"), Ok(1 << 30));
        assert_eq!(mem_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(mem_bytes("1024"), Ok(1024));
        assert_eq!(mem_bytes("lots"), Err("invalid size: 'lots'".into()));
        assert_eq!(nano_cpus("0.5"), Ok(500_000_000));
        assert_eq!(nano_cpus("2"), Ok(2_000_000_000));
        assert!(nano_cpus("x").is_err());
        assert_eq!(
            shell_words(r#"sh -c 'echo hi' "a b" c\ d"#).unwrap(),
            ["sh", "-c", "echo hi", "a b", "c d"]
        );
        assert!(shell_words("'open").is_err());
        assert_eq!(float("0.25"), Ok(0.25));
        assert_eq!(float("1"), Ok(1.0));
        assert_eq!(
            float("half"),
            Err("strconv.ParseFloat: parsing \"half\": invalid syntax".into())
        );
        assert_eq!(
            float("1e39"),
            Err("strconv.ParseFloat: parsing \"1e39\": value out of range".into())
        );
        assert_eq!(positive_duration("30s"), Ok(30_000_000_000));
        assert_eq!(
            positive_duration("-1s"),
            Err("duration cannot be negative".into())
        );
    }

    #[test]
    fn ports() {
        let p = publish("8080:80").unwrap();
        assert_eq!(
            (p[0].published_port, p[0].target_port),
            (Some(8080), Some(80))
        );
        let p = publish("53/udp").unwrap();
        assert_eq!(
            (p[0].published_port, p[0].protocol),
            (Some(0), Some(Proto::UDP))
        );
        assert_eq!(publish("8080-8081:80-81").unwrap().len(), 2);
        let p = publish("published=9000,target=90,mode=host,protocol=udp").unwrap();
        assert_eq!(p[0].publish_mode, Some(PubMode::HOST));
        assert_eq!(p[0].published_port, Some(9000));
        assert!(publish("x:80").is_err());
        assert!(publish("published=1").is_err());
    }

    #[test]
    fn mounts_prefs_and_env() {
        let m = mount("type=bind,source=/a,target=/b,readonly").unwrap();
        assert_eq!(m.typ, Some(MountType::BIND));
        assert_eq!(m.read_only, Some(true));
        assert_eq!(mount("source=v").unwrap_err(), "target is required");
        assert!(placement_pref("spread=node.labels.zone").is_ok());
        assert!(placement_pref("pack=x").is_err());
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        merge_env(&mut env, &["B=3".into(), "C=4".into()]);
        assert_eq!(env, ["A=1", "B=3", "C=4"]);
    }
}
