//! Secrets and configs: named blobs that services mount as files. Both keep their data in the
//! store; the API never returns a secret's data (a config's it does, as Docker does, because
//! `docker config inspect` shows it). Their specs are the Engine API's own models.

use serde::{Deserialize, Serialize};

pub use bollard_stubs::models::{ConfigSpec, SecretSpec};

use crate::meta::Meta;

/// `GET /secrets/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Secret {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(flatten)]
    pub meta: Meta,
    pub spec: SecretSpec,
    /// Beyond Swarm: the data's versions, newest first (see [`DataVersion`]).
    #[serde(
        rename = "ShoalVersions",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub versions: Vec<DataVersion>,
}

/// `GET /configs/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(flatten)]
    pub meta: Meta,
    pub spec: ConfigSpec,
    /// Beyond Swarm: the data's versions, newest first (see [`DataVersion`]).
    #[serde(
        rename = "ShoalVersions",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub versions: Vec<DataVersion>,
}

/// One version of a secret's or config's data. Swarm's secrets and configs are immutable
/// (users rename them to change them, moby#35803); shoal stores a new version instead and
/// rolls the services that use it. The current data is the spec's; older ones are kept, as
/// many as the cluster's task history limit, so a rollback can go back to them. The API shows
/// the version numbers and times, never the data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataVersion {
    pub version: u64,
    pub created_at: String,
    #[serde(
        rename = "ShoalData",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub data: String,
}

impl Secret {
    /// The name users refer to it by.
    pub fn name(&self) -> &str {
        self.spec.name.as_deref().unwrap_or_default()
    }

    /// As the API shows it: everything but the data (of any version).
    pub fn to_api(&self) -> Secret {
        let mut out = self.clone();
        out.spec.data = None;
        out.versions.iter_mut().for_each(|v| v.data.clear());
        out
    }
}

impl Config {
    /// The name users refer to it by.
    pub fn name(&self) -> &str {
        self.spec.name.as_deref().unwrap_or_default()
    }

    /// As the API shows it: the current data (as Docker shows it), no older data.
    pub fn to_api(&self) -> Config {
        let mut out = self.clone();
        out.versions.iter_mut().for_each(|v| v.data.clear());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_its_data() {
        let s = Secret {
            id: "abc".into(),
            spec: SecretSpec {
                name: Some("db-pass".into()),
                data: Some("c2VjcmV0".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let json = serde_json::to_value(s.to_api()).unwrap();
        assert_eq!(json["Spec"]["Name"], "db-pass");
        assert!(json["Spec"].get("Data").is_none(), "{json}");
        assert_eq!(s.name(), "db-pass");
    }
}
