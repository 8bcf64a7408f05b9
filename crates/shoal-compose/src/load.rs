//! Loading: YAML texts → checks (version, forbidden keys, top-level keys) → interpolation →
//! normalisation → merge → typed [`Compose`], plus the warnings `docker stack deploy` prints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::interpolate::interpolate;
use crate::merge::merge_files;
use crate::model::Compose;
use crate::normalize::{self, DEPRECATED, FORBIDDEN, UNSUPPORTED};

/// The version docker/cli assumes when a file has none (and for `"3"`).
pub const DEFAULT_VERSION: &str = "3.13";
const SECTIONS: [&str; 5] = ["services", "networks", "volumes", "secrets", "configs"];

/// One compose file's name (for messages) and text.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub filename: String,
    pub content: String,
}

/// A loaded, merged compose model and the warnings to print on stderr, verbatim (each ends
/// with the blank line docker prints after it).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub compose: Compose,
    pub warnings: Vec<String>,
}

/// Reads the files and loads them; relative paths resolve against the first file's
/// directory. This is the crate's only IO. `.env` handling is the caller's (see
/// [`crate::parse_env_file`]): docker's `stack deploy` reads none, compose reads one.
pub fn load(paths: &[&Path], lookup: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, Error> {
    let files = paths
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|content| ConfigFile {
                    filename: p.display().to_string(),
                    content,
                })
                .map_err(|e| Error::Io {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dir = paths
        .first()
        .and_then(|p| std::path::absolute(p).ok())
        .and_then(|p| p.parent().map(|d| d.display().to_string()))
        .unwrap_or_else(|| ".".into());
    let mut loaded = load_files(&files, &dir, lookup)?;
    merge_env_files(&mut loaded.compose, &dir, lookup)?;
    Ok(loaded)
}

/// docker/cli reads each service's `env_file`s while loading: their variables join the
/// environment, where `environment` wins; a bare `KEY` takes its value from the variables.
fn merge_env_files(
    compose: &mut Compose,
    dir: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    for svc in compose.services.values_mut() {
        // Later files override earlier ones; `environment` overrides them all.
        let mut from_files: BTreeMap<String, Option<String>> = BTreeMap::new();
        for file in &svc.env_file {
            let path = Path::new(dir).join(file);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            for (k, v) in crate::parse_env_file(&text)? {
                let v = v.or_else(|| lookup(&k));
                from_files.insert(k, v);
            }
        }
        for (k, v) in from_files {
            svc.environment.entry(k).or_insert(v);
        }
    }
    Ok(())
}

/// docker/cli fills an `environment` entry given without a value from the variables, when set.
fn fill_environment(compose: &mut Compose, lookup: &dyn Fn(&str) -> Option<String>) {
    for svc in compose.services.values_mut() {
        for (k, v) in svc.environment.iter_mut() {
            if v.as_deref().is_none_or(str::is_empty)
                && let Some(value) = lookup(k)
            {
                *v = Some(value);
            }
        }
    }
}

/// Parses one file's YAML into its top-level mapping (YAML 1.1 octals like `0440`, as go-yaml).
pub fn parse_files(file: &ConfigFile) -> Result<Map<String, Value>, Error> {
    let opts = serde_saphyr::options!(legacy_octal_numbers: true, strict_booleans: true);
    let value: Value =
        serde_saphyr::from_str_with_options(&file.content, opts).map_err(|e| Error::Yaml {
            file: file.filename.clone(),
            message: e.to_string(),
        })?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(Error::invalid("top-level object must be a mapping")),
    }
}

fn version_of(m: &Map<String, Value>) -> Result<String, Error> {
    let v = match m.get("version") {
        None | Some(Value::Null) => return Ok(DEFAULT_VERSION.into()),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let ok = v == "3"
        || v.strip_prefix("3.")
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m <= 13);
    if !ok {
        return Err(Error::invalid(format!(
            "unsupported Compose file version: {v}"
        )));
    }
    Ok(if v == "3" { DEFAULT_VERSION.into() } else { v })
}

fn service_keys(m: &Map<String, Value>) -> impl Iterator<Item = &String> {
    m.get("services")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|s| s.values())
        .filter_map(Value::as_object)
        .flat_map(|s| s.keys())
}

fn property_list(props: &BTreeMap<&str, &str>) -> String {
    let msgs: Vec<String> = props.iter().map(|(k, d)| format!("{k}: {d}")).collect();
    msgs.join("\n\n")
}

/// Loads and merges the files (texts already read). `working_dir` anchors relative bind
/// mounts and secret/config files; `lookup` supplies variables.
pub fn load_files(
    files: &[ConfigFile],
    working_dir: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Error> {
    if files.is_empty() {
        return Err(Error::invalid("No files specified"));
    }
    let mut raws = Vec::new();
    for f in files {
        raws.push(parse_files(f)?);
    }
    let mut warnings = Vec::new();
    let unsupported: BTreeSet<&str> = raws
        .iter()
        .flat_map(service_keys)
        .filter_map(|k| UNSUPPORTED.iter().find(|u| *u == k).copied())
        .collect();
    if !unsupported.is_empty() {
        let list: Vec<&str> = unsupported.into_iter().collect();
        warnings.push(format!(
            "Ignoring unsupported options: {}\n\n",
            list.join(", ")
        ));
    }
    let deprecated: BTreeMap<&str, &str> = raws
        .iter()
        .flat_map(service_keys)
        .filter_map(|k| DEPRECATED.iter().find(|(d, _)| d == k).copied())
        .collect();
    if !deprecated.is_empty() {
        warnings.push(format!(
            "Ignoring deprecated options:\n\n{}\n\n",
            property_list(&deprecated)
        ));
    }

    let version = version_of(&raws[0])?;
    let mut merged: Option<Map<String, Value>> = None;
    for (file, mut raw) in files.iter().zip(raws) {
        let v = version_of(&raw)?;
        if v != version {
            return Err(Error::invalid(format!(
                "version mismatched between two composefiles : {version} and {v}"
            )));
        }
        let forbidden: BTreeMap<&str, &str> = service_keys(&raw)
            .filter_map(|k| FORBIDDEN.iter().find(|(f, _)| f == k).copied())
            .collect();
        if !forbidden.is_empty() {
            return Err(Error::Forbidden(property_list(&forbidden)));
        }
        for section in SECTIONS {
            if let Some(v) = raw.get_mut(section) {
                interpolate(v, section, lookup)?;
            }
        }
        normalize_file(&mut raw).map_err(|e| match e {
            Error::Invalid(m) if files.len() > 1 => {
                Error::invalid(format!("{}: {m}", file.filename))
            }
            e => e,
        })?;
        match merged.as_mut() {
            None => merged = Some(raw),
            Some(base) => merge_files(base, raw),
        }
    }
    let mut merged = merged.unwrap_or_default();
    merged.insert("version".into(), version.into());
    let mut compose = typed(merged, working_dir, lookup)?;
    fill_environment(&mut compose, lookup);
    Ok(Loaded { compose, warnings })
}

fn normalize_file(raw: &mut Map<String, Value>) -> Result<(), Error> {
    if let Some(k) = raw.keys().find(|k| {
        !(k.starts_with("x-") || k.as_str() == "version" || SECTIONS.contains(&k.as_str()))
    }) {
        return Err(Error::invalid(format!(
            "(root) Additional property {k} is not allowed"
        )));
    }
    for section in SECTIONS {
        let entry = raw
            .entry(section)
            .or_insert_with(|| Value::Object(Map::new()));
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(items) = entry else {
            return Err(Error::invalid(format!("{section} must be a mapping")));
        };
        for (name, v) in items.iter_mut() {
            match section {
                "services" => normalize::service(name, v)?,
                _ => normalize::top_object(section.trim_end_matches('s'), name, v)?,
            }
        }
    }
    Ok(())
}

fn section<T: DeserializeOwned>(
    m: &mut Map<String, Value>,
    key: &str,
) -> Result<BTreeMap<String, T>, Error> {
    let Some(Value::Object(items)) = m.remove(key) else {
        return Ok(BTreeMap::new());
    };
    items
        .into_iter()
        .map(|(name, v)| {
            serde_json::from_value(v)
                .map(|t| (name.clone(), t))
                .map_err(|e| Error::invalid(format!("{key}.{name}: {e}")))
        })
        .collect()
}

fn abs_path(dir: &str, p: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let p = match (p.strip_prefix('~'), lookup("HOME")) {
        (Some(rest), Some(home)) => format!("{home}{rest}"),
        _ => p.to_string(),
    };
    if Path::new(&p).is_absolute() {
        p
    } else {
        let joined = Path::new(dir).join(p.trim_start_matches("./"));
        let s = joined.display().to_string();
        s.strip_suffix("/.").map(str::to_string).unwrap_or(s)
    }
}

fn typed(
    mut m: Map<String, Value>,
    dir: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Compose, Error> {
    let mut compose = Compose {
        version: m
            .remove("version")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        services: section(&mut m, "services")?,
        networks: section(&mut m, "networks")?,
        volumes: section(&mut m, "volumes")?,
        secrets: section(&mut m, "secrets")?,
        configs: section(&mut m, "configs")?,
        extensions: BTreeMap::new(),
    };
    compose.extensions = m.into_iter().collect();
    for svc in compose.services.values_mut() {
        for v in svc.volumes.iter_mut().filter(|v| v.kind == "bind") {
            match &v.source {
                Some(s) => v.source = Some(abs_path(dir, s, lookup)),
                None => {
                    return Err(Error::invalid(
                        "invalid mount config for type \"bind\": field Source must not be empty",
                    ));
                }
            }
        }
    }
    for obj in compose
        .secrets
        .values_mut()
        .chain(compose.configs.values_mut())
    {
        if let Some(f) = obj.file.as_mut().filter(|_| !obj.external) {
            *f = abs_path(dir, f, lookup);
        }
    }
    Ok(compose)
}
