//! `/secrets` and `/configs`: the two kinds of named blobs services mount, with swarmkit's
//! rules and texts (`controlapi/secret.go`, `config.go`, `common.go`): the name pattern, the
//! size limits, labels-only updates, and no removal while a service refers to one.

use std::collections::HashMap;

use base64::Engine;
use shoal_store::{ReadTx, StoreError};
use shoal_types::secret::{ConfigSpec, DataVersion, SecretSpec};
use shoal_types::service::ServiceSpec;
use shoal_types::{Config, Error, Filters, Kind, Secret, Service, StoreObject, Version};

use super::lookup::resolve;
use super::service::TxError;
use super::service_validate::rpc;
use crate::manager::Manager;

/// What secrets and configs have in common.
pub(crate) trait Blob: StoreObject {
    type Spec: Clone;
    /// Data must be at least 1 byte and less than this.
    const MAX_SIZE: usize;
    fn make(id: String, spec: Self::Spec) -> Self;
    fn spec_name(spec: &Self::Spec) -> &str;
    fn spec_data(spec: &Self::Spec) -> Option<&str>;
    fn spec_labels(spec: &Self::Spec) -> Option<HashMap<String, String>>;
    fn spec(&self) -> &Self::Spec;
    fn set_labels(&mut self, labels: Option<HashMap<String, String>>);
    fn set_data(&mut self, data: String);
    fn versions_mut(&mut self) -> &mut Vec<DataVersion>;
    /// The IDs of the objects of this kind a service spec refers to.
    fn referenced_by(spec: &ServiceSpec) -> Vec<String>;
    /// As the API shows it.
    fn api(&self) -> Self;
    fn name(&self) -> &str {
        Self::spec_name(self.spec())
    }
}

impl Blob for Secret {
    type Spec = SecretSpec;
    const MAX_SIZE: usize = 512_000;
    fn make(id: String, spec: SecretSpec) -> Self {
        Secret {
            id,
            spec,
            ..Default::default()
        }
    }
    fn spec_name(spec: &SecretSpec) -> &str {
        spec.name.as_deref().unwrap_or_default()
    }
    fn spec_data(spec: &SecretSpec) -> Option<&str> {
        spec.data.as_deref()
    }
    fn spec_labels(spec: &SecretSpec) -> Option<HashMap<String, String>> {
        spec.labels.clone()
    }
    fn spec(&self) -> &SecretSpec {
        &self.spec
    }
    fn set_labels(&mut self, labels: Option<HashMap<String, String>>) {
        self.spec.labels = labels;
    }
    fn set_data(&mut self, data: String) {
        self.spec.data = Some(data);
    }
    fn versions_mut(&mut self) -> &mut Vec<DataVersion> {
        &mut self.versions
    }
    fn referenced_by(spec: &ServiceSpec) -> Vec<String> {
        container(spec)
            .and_then(|c| c.secrets.as_ref())
            .map(|refs| refs.iter().filter_map(|r| r.secret_id.clone()).collect())
            .unwrap_or_default()
    }
    fn api(&self) -> Self {
        self.to_api()
    }
}

impl Blob for Config {
    type Spec = ConfigSpec;
    const MAX_SIZE: usize = 1_024_000;
    fn make(id: String, spec: ConfigSpec) -> Self {
        Config {
            id,
            spec,
            ..Default::default()
        }
    }
    fn spec_name(spec: &ConfigSpec) -> &str {
        spec.name.as_deref().unwrap_or_default()
    }
    fn spec_data(spec: &ConfigSpec) -> Option<&str> {
        spec.data.as_deref()
    }
    fn spec_labels(spec: &ConfigSpec) -> Option<HashMap<String, String>> {
        spec.labels.clone()
    }
    fn spec(&self) -> &ConfigSpec {
        &self.spec
    }
    fn set_labels(&mut self, labels: Option<HashMap<String, String>>) {
        self.spec.labels = labels;
    }
    fn set_data(&mut self, data: String) {
        self.spec.data = Some(data);
    }
    fn versions_mut(&mut self) -> &mut Vec<DataVersion> {
        &mut self.versions
    }
    fn referenced_by(spec: &ServiceSpec) -> Vec<String> {
        container(spec)
            .and_then(|c| c.configs.as_ref())
            .map(|refs| refs.iter().filter_map(|r| r.config_id.clone()).collect())
            .unwrap_or_default()
    }
    fn api(&self) -> Self {
        self.to_api()
    }
}

fn container(spec: &ServiceSpec) -> Option<&shoal_types::service::TaskSpecContainerSpec> {
    spec.task_template.as_ref()?.container_spec.as_ref()
}

/// Filter keys `GET /secrets` and `GET /configs` accept (moby `newListSecretsFilters`).
const FILTERS: &[&str] = &["id", "label", "name", "names"];

/// swarmkit's `validateConfigOrSecretAnnotations`.
fn validate_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(rpc("InvalidArgument", "name must be provided"));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric();
    let valid = name.len() <= 64
        && name.starts_with(ok_char)
        && name.ends_with(ok_char)
        && name
            .chars()
            .all(|c| ok_char(c) || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(rpc(
            "InvalidArgument",
            "invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end \
             character must be [a-zA-Z0-9]",
        ));
    }
    Ok(())
}

/// The data's size rule; the data itself arrives base64-encoded.
fn validate_data<T: Blob>(data: Option<&str>) -> Result<(), Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.unwrap_or_default())
        .map_err(|e| Error::invalid(format!("invalid base64 in Data: {e}")))?;
    if bytes.is_empty() || bytes.len() >= T::MAX_SIZE {
        return Err(rpc(
            "InvalidArgument",
            format!(
                "{} data must be larger than 0 and less than {} bytes",
                T::KIND.noun(),
                T::MAX_SIZE
            ),
        ));
    }
    Ok(())
}

fn matches<T: Blob>(o: &T, f: &Filters) -> bool {
    f.any("id", |v| o.id().starts_with(v))
        && f.any("name", |v| o.name().starts_with(v))
        && f.any("names", |v| o.name() == v)
        && f.labels_match(
            "label",
            &T::spec_labels(o.spec())
                .unwrap_or_default()
                .into_iter()
                .collect(),
        )
}

/// The services (by name) whose spec refers to `id`.
fn users<T: Blob>(view: &ReadTx<'_>, id: &str) -> Vec<String> {
    let mut names: Vec<String> = view
        .list::<Service>()
        .iter()
        .filter(|s| T::referenced_by(&s.spec).iter().any(|r| r == id))
        .map(|s| s.name().to_string())
        .collect();
    names.sort();
    names
}

impl Manager {
    pub(crate) async fn create_blob<T: Blob>(&self, spec: T::Spec) -> Result<String, Error> {
        let name = T::spec_name(&spec).to_string();
        validate_name(&name)?;
        shoal_types::validate::labels(&T::spec_labels(&spec).unwrap_or_default())?;
        validate_data::<T>(T::spec_data(&spec))?;
        let object = T::make(shoal_types::new_id(), spec);
        let id = object.id().to_string();
        self.store
            .update(|tx| tx.create(object))
            .await
            .map_err(|e| match e {
                StoreError::NameConflict => rpc(
                    "AlreadyExists",
                    format!("{} {name} already exists", T::KIND.noun()),
                ),
                e => TxError::Store(e).into_api(),
            })?;
        Ok(id)
    }

    pub(crate) fn list_blobs<T: Blob>(&self, filters: &Filters) -> Result<Vec<T>, Error> {
        filters.validate(FILTERS)?;
        Ok(self
            .store
            .view(|v| v.list::<T>())
            .into_iter()
            .filter(|o| matches(o, filters))
            .map(|o| o.api())
            .collect())
    }

    pub(crate) fn get_blob<T: Blob>(&self, input: &str) -> Result<T, Error> {
        let o = self.store.view(|v| resolve::<T>(v, input, |o| o.name()))?;
        Ok(o.api())
    }

    /// Labels change in place. New data (beyond Swarm, whose secrets and configs are
    /// immutable) becomes a new version, and every service that uses the object rolls to it
    /// through its update config; older versions are kept as the task history limit says.
    pub(crate) async fn update_blob<T: Blob>(
        &self,
        input: &str,
        version: u64,
        spec: T::Spec,
    ) -> Result<(), Error> {
        shoal_types::validate::labels(&T::spec_labels(&spec).unwrap_or_default())?;
        let new_data = T::spec_data(&spec).map(str::to_string);
        if let Some(d) = &new_data {
            validate_data::<T>(Some(d))?;
        }
        let history = self
            .cluster()
            .map_or(5, |c| c.spec.orchestration.task_history_retention_limit)
            .max(1) as usize;
        self.store
            .update(|tx| {
                let mut o = resolve::<T>(tx.committed(), input, |o| o.name())?;
                if T::spec_name(&spec) != o.name() {
                    return Err(TxError::Api(rpc(
                        "InvalidArgument",
                        "only updates to Labels are allowed",
                    )));
                }
                let id = o.id().to_string();
                o.set_labels(T::spec_labels(&spec));
                o.meta_mut().version = Version { index: version };
                let changed = new_data
                    .as_deref()
                    .is_some_and(|d| Some(d) != T::spec_data(o.spec()));
                if changed {
                    new_version(&mut o, new_data.clone().unwrap_or_default(), history);
                    for mut svc in tx.list::<Service>() {
                        if T::referenced_by(&svc.spec).contains(&id) {
                            svc.spec_version += 1;
                            tx.update(svc).map_err(TxError::Store)?;
                        }
                    }
                }
                tx.update(o).map_err(TxError::Store)
            })
            .await
            .map_err(TxError::into_api)
    }

    /// Refused while a service refers to it.
    pub(crate) async fn remove_blob<T: Blob>(&self, input: &str) -> Result<(), Error> {
        self.store
            .update(|tx| {
                let o = resolve::<T>(tx.committed(), input, |o| o.name())?;
                let users = users::<T>(tx.committed(), o.id());
                if !users.is_empty() {
                    let which = if users.len() == 1 {
                        "service"
                    } else {
                        "services"
                    };
                    return Err(TxError::Api(rpc(
                        "InvalidArgument",
                        format!(
                            "{} '{}' is in use by the following {which}: {}",
                            T::KIND.noun(),
                            o.name(),
                            users.join(", ")
                        ),
                    )));
                }
                tx.delete(T::KIND, o.id()).map_err(TxError::Store)
            })
            .await
            .map_err(TxError::into_api)
    }

    pub async fn create_secret(&self, spec: SecretSpec) -> Result<String, Error> {
        self.create_blob::<Secret>(spec).await
    }
    pub fn list_secrets(&self, filters: &Filters) -> Result<Vec<Secret>, Error> {
        self.list_blobs(filters)
    }
    pub fn get_secret(&self, input: &str) -> Result<Secret, Error> {
        self.get_blob(input)
    }
    pub async fn update_secret(
        &self,
        id: &str,
        version: u64,
        spec: SecretSpec,
    ) -> Result<(), Error> {
        self.update_blob::<Secret>(id, version, spec).await
    }
    pub async fn remove_secret(&self, id: &str) -> Result<(), Error> {
        self.remove_blob::<Secret>(id).await
    }
    pub async fn create_config(&self, spec: ConfigSpec) -> Result<String, Error> {
        self.create_blob::<Config>(spec).await
    }
    pub fn list_configs(&self, filters: &Filters) -> Result<Vec<Config>, Error> {
        self.list_blobs(filters)
    }
    pub fn get_config(&self, input: &str) -> Result<Config, Error> {
        self.get_blob(input)
    }
    pub async fn update_config(
        &self,
        id: &str,
        version: u64,
        spec: ConfigSpec,
    ) -> Result<(), Error> {
        self.update_blob::<Config>(id, version, spec).await
    }
    pub async fn remove_config(&self, id: &str) -> Result<(), Error> {
        self.remove_blob::<Config>(id).await
    }
}

/// swarmkit's `checkSecretExistence` / `checkConfigExistence` for a service spec: every
/// reference names an existing object by ID, with its current name.
pub(crate) fn check_references(view: &ReadTx<'_>, spec: &ServiceSpec) -> Result<(), Error> {
    let Some(c) = container(spec) else {
        return Ok(());
    };
    let missing_secrets: Vec<String> = c
        .secrets
        .iter()
        .flatten()
        .filter(|r| {
            let found = r.secret_id.as_deref().and_then(|id| view.get::<Secret>(id));
            found.is_none_or(|s| Some(s.name()) != r.secret_name.as_deref())
        })
        .map(|r| r.secret_name.clone().unwrap_or_default())
        .collect();
    missing(Kind::Secret, &missing_secrets)?;
    let missing_configs: Vec<String> = c
        .configs
        .iter()
        .flatten()
        .filter(|r| {
            let found = r.config_id.as_deref().and_then(|id| view.get::<Config>(id));
            found.is_none_or(|s| Some(s.name()) != r.config_name.as_deref())
        })
        .map(|r| r.config_name.clone().unwrap_or_default())
        .collect();
    missing(Kind::Config, &missing_configs)
}

fn missing(kind: Kind, names: &[String]) -> Result<(), Error> {
    match names.len() {
        0 => Ok(()),
        1 => Err(rpc(
            "InvalidArgument",
            format!("{} not found: {}", kind.noun(), names[0]),
        )),
        _ => Err(rpc(
            "InvalidArgument",
            format!("{}s not found: {}", kind.noun(), names.join(", ")),
        )),
    }
}

/// Makes `data` the current version, keeping the one it replaces (and at most `history`
/// older ones in all).
fn new_version<T: Blob>(o: &mut T, data: String, history: usize) {
    let now = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
    let previous = T::spec_data(o.spec()).unwrap_or_default().to_string();
    let created = o.meta().created_at.clone();
    let versions = o.versions_mut();
    let current = versions.first().map_or(1, |v| v.version);
    if versions.is_empty() {
        versions.push(DataVersion {
            version: 1,
            created_at: created,
            data: previous,
        });
    } else {
        versions[0].data = previous;
    }
    versions.insert(
        0,
        DataVersion {
            version: current + 1,
            created_at: now,
            data: String::new(),
        },
    );
    versions.truncate(history + 1);
    o.set_data(data);
}
