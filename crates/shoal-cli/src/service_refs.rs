//! `--secret`, `--config` on `service create` and `--secret-add/-rm`, `--config-add/-rm` on
//! `service update`: docker/cli's option syntax (`NAME` or `source=…,target=…,uid=…,gid=…,
//! mode=…`) and its resolution of names to IDs (`secret not found: X`).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use shoal_types::service::ServiceSpec;

use crate::client::{Client, filters_json, query};
use crate::error::CliError;

/// One parsed `--secret`/`--config` reference, before its ID is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub source: String,
    pub target: String,
    pub uid: String,
    pub gid: String,
    pub mode: u32,
}

/// `NAME` or `source=NAME[,target=T][,uid=U][,gid=G][,mode=0444]`.
pub(crate) fn parse_ref(value: &str) -> Result<FileRef, String> {
    let mut r = FileRef {
        source: String::new(),
        target: String::new(),
        uid: "0".into(),
        gid: "0".into(),
        mode: 0o444,
    };
    if !value.contains('=') {
        r.source = value.to_string();
    } else {
        for field in value.split(',') {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))?;
            match k.to_ascii_lowercase().as_str() {
                "source" | "src" => r.source = v.to_string(),
                "target" => r.target = v.to_string(),
                "uid" => r.uid = v.to_string(),
                "gid" => r.gid = v.to_string(),
                "mode" => {
                    r.mode = u32::from_str_radix(v, 8)
                        .map_err(|e| format!("invalid mode specified: {e}"))?
                }
                _ => return Err(format!("invalid field in secret request: {k}")),
            }
        }
    }
    if r.source.is_empty() {
        return Err("source is required".into());
    }
    if r.target.is_empty() {
        r.target = r.source.clone();
    }
    Ok(r)
}

/// Which of the two a reference is to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RefKind {
    Secret,
    Config,
}

impl RefKind {
    fn path(self) -> &'static str {
        match self {
            RefKind::Secret => "secrets",
            RefKind::Config => "configs",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            RefKind::Secret => "secret",
            RefKind::Config => "config",
        }
    }
}

/// The IDs of the named objects; docker's error for the first missing one.
async fn ids(
    c: &Client,
    kind: RefKind,
    refs: &[FileRef],
) -> Result<HashMap<String, String>, CliError> {
    if refs.is_empty() {
        return Ok(HashMap::new());
    }
    let names: Vec<String> = refs.iter().map(|r| r.source.clone()).collect();
    let filters = BTreeMap::from([("name".to_string(), names)]);
    let found: Vec<Value> = c
        .get_json(&format!(
            "/{}{}",
            kind.path(),
            query(&[("filters", filters_json(&filters))])
        ))
        .await?;
    let by_name: HashMap<String, String> = found
        .iter()
        .map(|o| {
            (
                o["Spec"]["Name"].as_str().unwrap_or_default().to_string(),
                o["ID"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for r in refs {
        if !by_name.contains_key(&r.source) {
            return Err(CliError::msg(format!(
                "{} not found: {}",
                kind.noun(),
                r.source
            )));
        }
    }
    Ok(by_name)
}

fn file(r: &FileRef) -> Value {
    serde_json::json!({"Name": r.target, "UID": r.uid, "GID": r.gid, "Mode": r.mode})
}

/// Adds `add` (resolved) and drops the references named in `remove`.
pub(crate) async fn apply(
    c: &Client,
    spec: &mut ServiceSpec,
    kind: RefKind,
    add: &[FileRef],
    remove: &[String],
) -> Result<(), CliError> {
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    let ids = ids(c, kind, add).await?;
    let container = spec
        .task_template
        .get_or_insert_with(Default::default)
        .container_spec
        .get_or_insert_with(Default::default);
    match kind {
        RefKind::Secret => {
            let list = container.secrets.get_or_insert_with(Vec::new);
            list.retain(|r| !remove.iter().any(|n| r.secret_name.as_deref() == Some(n)));
            for r in add {
                let v = serde_json::json!({"SecretID": ids[&r.source], "SecretName": r.source, "File": file(r)});
                list.push(serde_json::from_value(v).expect("a secret reference"));
            }
        }
        RefKind::Config => {
            let list = container.configs.get_or_insert_with(Vec::new);
            list.retain(|r| !remove.iter().any(|n| r.config_name.as_deref() == Some(n)));
            for r in add {
                let v = serde_json::json!({"ConfigID": ids[&r.source], "ConfigName": r.source, "File": file(r)});
                list.push(serde_json::from_value(v).expect("a config reference"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms_with_docker_defaults() {
        let r = parse_ref("db_pass").unwrap();
        assert_eq!(
            (r.source.as_str(), r.target.as_str(), r.uid.as_str(), r.mode),
            ("db_pass", "db_pass", "0", 0o444)
        );
        let r = parse_ref("source=conf,target=/etc/app.conf,uid=33,gid=33,mode=0400").unwrap();
        assert_eq!(r.target, "/etc/app.conf");
        assert_eq!(
            (r.uid.as_str(), r.gid.as_str(), r.mode),
            ("33", "33", 0o400)
        );
        assert!(parse_ref("target=/x").is_err());
        assert!(parse_ref("source=a,colour=red").is_err());
    }
}
