//! Loading: YAML texts (with the line of every key) → per-file checks (version, forbidden
//! keys, top-level keys), interpolation, normalisation and type checks → merge → typed
//! [`Compose`], plus the warnings `docker stack deploy` prints. Errors that name a key are
//! located as `file:line:` in the file that key came from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::interpolate::interpolate;
use crate::marked;
use crate::merge::merge_files;
use crate::model::Compose;
use crate::normalize::{self, DEPRECATED, FORBIDDEN, UNSUPPORTED};
use crate::origin::{FileLines, Origins, join};
use crate::typed::{check_types, typed};

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
    for (name, svc) in compose.services.iter_mut() {
        // Later files override earlier ones; `environment` overrides them all.
        let mut from_files: BTreeMap<String, Option<String>> = BTreeMap::new();
        for file in &svc.env_file {
            let path = Path::new(dir).join(file);
            // Located at the service's `env_file`, the key that names the file.
            let bad = |e: &dyn std::fmt::Display| {
                let e = Error::value(
                    format!("services.{name}.env_file"),
                    format!("{}: {e}", path.display()),
                );
                compose.origins.locate(e)
            };
            let text = std::fs::read_to_string(&path).map_err(|e| bad(&e))?;
            for (k, v) in crate::parse_env_file(&text).map_err(|e| bad(&e))? {
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
    parse_file(file).map(|(m, _)| m)
}

/// Parses one file into its top-level mapping and the lines of its keys.
fn parse_file(file: &ConfigFile) -> Result<(Map<String, Value>, FileLines), Error> {
    let (value, lines) = marked::parse(&file.filename, &file.content)?;
    match value {
        Value::Object(m) => Ok((m, lines)),
        _ => Err(Error::At {
            file: file.filename.clone(),
            line: lines.line("").unwrap_or(1),
            error: Box::new(Error::invalid("top-level object must be a mapping")),
        }),
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
        return Err(Error::value(
            "version",
            format!("unsupported Compose file version: {v}"),
        ));
    }
    Ok(if v == "3" { DEFAULT_VERSION.into() } else { v })
}

/// Each service's keys, with the service's path (`services.web`).
fn service_keys(m: &Map<String, Value>) -> impl Iterator<Item = (String, &String)> {
    m.get("services")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|s| s.iter())
        .filter_map(|(name, s)| Some((format!("services.{name}"), s.as_object()?)))
        .flat_map(|(path, s)| s.keys().map(move |k| (path.clone(), k)))
}

fn property_list(props: &BTreeMap<&str, &str>) -> String {
    let msgs: Vec<String> = props.iter().map(|(k, d)| format!("{k}: {d}")).collect();
    msgs.join("\n\n")
}

/// The warnings docker prints for unsupported and deprecated service keys of all files.
fn warnings(raws: &[Map<String, Value>]) -> Vec<String> {
    let mut warnings = Vec::new();
    let unsupported: BTreeSet<&str> = raws
        .iter()
        .flat_map(service_keys)
        .filter_map(|(_, k)| UNSUPPORTED.iter().find(|u| *u == k).copied())
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
        .filter_map(|(_, k)| DEPRECATED.iter().find(|(d, _)| d == k).copied())
        .collect();
    if !deprecated.is_empty() {
        warnings.push(format!(
            "Ignoring deprecated options:\n\n{}\n\n",
            property_list(&deprecated)
        ));
    }
    warnings
}

/// docker's error for forbidden service keys, located at the first one in the file.
fn check_forbidden(raw: &Map<String, Value>, lines: &FileLines) -> Result<(), Error> {
    let mut found: Vec<(String, &str, &str)> = service_keys(raw)
        .filter_map(|(svc, k)| {
            let (key, why) = FORBIDDEN.iter().find(|(f, _)| f == k)?;
            Some((join(&svc, key), *key, *why))
        })
        .collect();
    found.sort_by_key(|(path, ..)| lines.line(path));
    let Some((at, ..)) = found.first() else {
        return Ok(());
    };
    let list: BTreeMap<&str, &str> = found.iter().map(|(_, k, why)| (*k, *why)).collect();
    Err(Error::Forbidden {
        list: property_list(&list),
        at: at.clone(),
    })
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
    let (raws, lines): (Vec<_>, Vec<_>) = files
        .iter()
        .map(parse_file)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .unzip();
    let warnings = warnings(&raws);
    let version = version_of(&raws[0]).map_err(|e| lines[0].locate(e))?;
    let mut merged: Option<Map<String, Value>> = None;
    for (mut raw, lines) in raws.into_iter().zip(&lines) {
        // Each file is checked on its own, so an error names the file its key is in.
        prepare_file(&mut raw, lines, &version, lookup).map_err(|e| lines.locate(e))?;
        match merged.as_mut() {
            None => merged = Some(raw),
            Some(base) => merge_files(base, raw),
        }
    }
    let mut merged = merged.unwrap_or_default();
    merged.insert("version".into(), version.into());
    let origins = Origins::new(lines);
    let mut compose = typed(merged, working_dir, lookup).map_err(|e| origins.locate(e))?;
    compose.origins = origins;
    fill_environment(&mut compose, lookup);
    Ok(Loaded { compose, warnings })
}

/// One file's checks, interpolation and normalisation, in docker/cli's order.
fn prepare_file(
    raw: &mut Map<String, Value>,
    lines: &FileLines,
    version: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    let v = version_of(raw)?;
    if v != version {
        return Err(Error::value(
            "version",
            format!("version mismatched between two composefiles : {version} and {v}"),
        ));
    }
    check_forbidden(raw, lines)?;
    for section in SECTIONS {
        if let Some(v) = raw.get_mut(section) {
            interpolate(v, section, lookup)?;
        }
    }
    normalize_file(raw)?;
    check_types(raw)
}

fn normalize_file(raw: &mut Map<String, Value>) -> Result<(), Error> {
    if let Some(k) = raw.keys().find(|k| {
        !(k.starts_with("x-") || k.as_str() == "version" || SECTIONS.contains(&k.as_str()))
    }) {
        return Err(Error::UnknownKey {
            parent: String::new(),
            key: k.clone(),
        });
    }
    for section in SECTIONS {
        let entry = raw
            .entry(section)
            .or_insert_with(|| Value::Object(Map::new()));
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(items) = entry else {
            return Err(Error::value(section, "must be a mapping"));
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
