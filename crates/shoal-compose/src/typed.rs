//! From normalised values to the typed [`Compose`] model. Type errors carry the full key path
//! of the bad value (`services.web.deploy.replicas`), so the loader can name its line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use crate::error::Error;
use crate::model::{Compose, FileObject, Network, Service, Volume};
use crate::origin::join;

/// serde's text for a key a `deny_unknown_fields` struct does not have: "unknown field `x`,
/// expected one of …".
fn unknown_field(msg: &str) -> Option<&str> {
    msg.strip_prefix("unknown field `")?.split('`').next()
}

/// Deserialises `v`, found at `path`; an error names the path of the bad value below it.
fn at<T: DeserializeOwned>(path: &str, v: Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let mut path = path.to_string();
        for seg in e.path().iter() {
            match seg {
                Segment::Seq { index } => path = join(&path, &index.to_string()),
                Segment::Map { key } | Segment::Enum { variant: key } => path = join(&path, key),
                Segment::Unknown => {}
            }
        }
        let msg = e.inner().to_string();
        match unknown_field(&msg) {
            // The path ends with the unknown key itself; docker names its parent.
            Some(key) => Error::UnknownKey {
                parent: path
                    .strip_suffix(key)
                    .map(|p| p.trim_end_matches('.'))
                    .unwrap_or(&path)
                    .to_string(),
                key: key.to_string(),
            },
            None => Error::value(path, msg),
        }
    })
}

/// Deserialises the entry `name` of the top-level `section`.
fn item<T: DeserializeOwned>(section: &str, name: &str, v: Value) -> Result<T, Error> {
    at(&join(section, name), v)
}

/// Checks that `v`, found at `path`, reads as a `T`.
pub fn check<T: DeserializeOwned>(path: &str, v: &Value) -> Result<(), Error> {
    at::<T>(path, v.clone()).map(drop)
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
        .map(|(name, v)| item(key, &name, v).map(|t| (name, t)))
        .collect()
}

/// Type-checks one normalised file before it is merged, so that a bad value is reported
/// with the index it has in that file, and in the file it is in.
pub fn check_types(raw: &Map<String, Value>) -> Result<(), Error> {
    for (section, items) in raw {
        let Some(items) = items.as_object() else {
            continue;
        };
        for (name, v) in items {
            let v = v.clone();
            match section.as_str() {
                "services" => item::<Service>(section, name, v).map(drop),
                "networks" => item::<Network>(section, name, v).map(drop),
                "volumes" => item::<Volume>(section, name, v).map(drop),
                "secrets" | "configs" => item::<FileObject>(section, name, v).map(drop),
                _ => Ok(()),
            }?;
        }
    }
    Ok(())
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

/// The merged value as a [`Compose`], with relative bind sources and secret/config files
/// made absolute against `dir`.
pub fn typed(
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
        ..Compose::default()
    };
    compose.extensions = m.into_iter().collect();
    for svc in compose.services.values_mut() {
        for v in svc.volumes.iter_mut().filter(|v| v.kind == "bind") {
            // A bind without a source is rejected while normalising.
            if let Some(s) = &v.source {
                v.source = Some(abs_path(dir, s, lookup));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_errors_name_the_full_path() {
        let v = json!({"image": "a", "deploy": {"replicas": "three"}});
        let e = item::<Service>("services", "web", v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "services.web.deploy.replicas: expected an integer, got \"three\""
        );
        let v = json!({"ports": [{"target": 80}, {"target": 81, "bogus": 1}]});
        let e = item::<Service>("services", "web", v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "services.web.ports.1 Additional property bogus is not allowed"
        );
    }
}
