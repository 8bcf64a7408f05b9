//! Conversion of a loaded [`Compose`] into what `stack deploy` creates, as docker/cli's
//! `cli/compose/convert` does: names scoped `<stack>_<name>` unless `name:` is set, the
//! `com.docker.stack.namespace` label everywhere, `<stack>_default` for services without
//! networks. Object IDs are not resolved here: references carry names only.

mod policy;
mod service;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bollard_stubs::models::{Ipam, IpamConfig, NetworkCreateRequest};
use shoal_types::secret::{ConfigSpec, SecretSpec};
use shoal_types::service::ServiceSpec;

use crate::error::Error;
use crate::model::{Compose, FileObject};

/// Label carrying the stack name on every object of a stack.
pub const STACK_NAMESPACE_LABEL: &str = "com.docker.stack.namespace";
/// Label carrying the image as written in the compose file, on services.
pub const STACK_IMAGE_LABEL: &str = "com.docker.stack.image";

/// A network the stack creates (`Name` already scoped).
pub type NetworkToCreate = NetworkCreateRequest;

/// A secret to create from a file: the spec without data, and the file for the caller to read.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretToCreate {
    pub spec: SecretSpec,
    pub file: String,
}

/// A config to create from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigToCreate {
    pub spec: ConfigSpec,
    pub file: String,
}

/// A named volume services mount (`<stack>_<vol>` unless external or `name:`); swarm creates
/// it on each node through the mount's driver config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeToCreate {
    pub name: String,
    pub external: bool,
}

/// Everything a stack deploy needs, in creation order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stack {
    pub namespace: String,
    pub networks: Vec<NetworkToCreate>,
    pub external_networks: Vec<String>,
    pub secrets: Vec<SecretToCreate>,
    pub external_secrets: Vec<String>,
    pub configs: Vec<ConfigToCreate>,
    pub external_configs: Vec<String>,
    pub volumes: Vec<VolumeToCreate>,
    /// Services as `(short name, spec)`, dependencies (`depends_on`) first.
    pub services: Vec<(String, ServiceSpec)>,
    /// `(service, dependency)` pairs whose condition is `service_healthy`: the deployer
    /// should wait for the dependency to be healthy before creating the service.
    pub wait_healthy: Vec<(String, String)>,
}

pub(crate) fn scope(ns: &str, name: &str) -> String {
    format!("{ns}_{name}")
}

pub(crate) fn stack_labels(ns: &str, labels: &BTreeMap<String, String>) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = labels.clone().into_iter().collect();
    out.insert(STACK_NAMESPACE_LABEL.into(), ns.into());
    out
}

/// Converts a loaded compose model for the stack `namespace`. Errors that name a key are
/// located in the file it came from (`file:line: …`).
pub fn convert(namespace: &str, compose: &Compose) -> Result<Stack, Error> {
    convert_stack(namespace, compose).map_err(|e| compose.origins.locate(e))
}

/// A service's reference to a network the file does not declare (`default` needs none).
fn check_networks(compose: &Compose) -> Result<(), Error> {
    for (svc, s) in &compose.services {
        if let Some(net) = s
            .networks
            .keys()
            .find(|n| *n != "default" && !compose.networks.contains_key(*n))
        {
            return Err(Error::Undefined {
                path: format!("services.{svc}.networks"),
                kind: "network",
                name: net.clone(),
            });
        }
    }
    Ok(())
}

fn convert_stack(namespace: &str, compose: &Compose) -> Result<Stack, Error> {
    check_networks(compose)?;
    let mut stack = Stack {
        namespace: namespace.into(),
        ..Stack::default()
    };
    let mut used: BTreeSet<String> = BTreeSet::new();
    for svc in compose.services.values() {
        if svc.networks.is_empty() {
            used.insert("default".into());
        }
        used.extend(svc.networks.keys().cloned());
    }
    for name in &used {
        let net = compose.networks.get(name);
        match net {
            Some(n) if n.external => stack
                .external_networks
                .push(n.name.clone().unwrap_or_else(|| name.clone())),
            _ => {
                let n = net.cloned().unwrap_or_default();
                stack.networks.push(NetworkCreateRequest {
                    name: n.name.clone().unwrap_or_else(|| scope(namespace, name)),
                    driver: Some(n.driver.clone().unwrap_or_else(|| "overlay".into())),
                    internal: Some(n.internal),
                    attachable: Some(n.attachable),
                    options: Some(n.driver_opts.clone().into_iter().collect()),
                    labels: Some(stack_labels(namespace, &n.labels)),
                    ipam: n.ipam.as_ref().map(ipam),
                    ..Default::default()
                });
            }
        }
    }
    for (name, obj) in &compose.secrets {
        match file_object(namespace, name, obj, "secret")? {
            Err(ext) => stack.external_secrets.push(ext),
            Ok((spec_name, labels, file)) => stack.secrets.push(SecretToCreate {
                spec: SecretSpec {
                    name: Some(spec_name),
                    labels: Some(labels),
                    ..Default::default()
                },
                file,
            }),
        }
    }
    for (name, obj) in &compose.configs {
        match file_object(namespace, name, obj, "config")? {
            Err(ext) => stack.external_configs.push(ext),
            Ok((spec_name, labels, file)) => stack.configs.push(ConfigToCreate {
                spec: ConfigSpec {
                    name: Some(spec_name),
                    labels: Some(labels),
                    ..Default::default()
                },
                file,
            }),
        }
    }
    for (name, vol) in &compose.volumes {
        let scoped = vol.name.clone().unwrap_or_else(|| scope(namespace, name));
        stack.volumes.push(VolumeToCreate {
            name: if vol.external {
                vol.name.clone().unwrap_or(name.clone())
            } else {
                scoped
            },
            external: vol.external,
        });
    }
    for name in dependency_order(compose)? {
        let svc = &compose.services[&name];
        for dep in svc
            .depends_on
            .iter()
            .filter(|d| d.condition == "service_healthy")
        {
            stack.wait_healthy.push((name.clone(), dep.service.clone()));
        }
        let spec = service::convert_service(namespace, &name, svc, compose)?;
        stack.services.push((name, spec));
    }
    Ok(stack)
}

fn ipam(v: &serde_json::Value) -> Ipam {
    let config = v.get("config").and_then(|c| c.as_array()).map(|items| {
        items
            .iter()
            .map(|c| IpamConfig {
                subnet: c.get("subnet").and_then(|s| s.as_str()).map(str::to_string),
                ..Default::default()
            })
            .collect()
    });
    Ipam {
        driver: v.get("driver").and_then(|d| d.as_str()).map(str::to_string),
        config,
        options: None,
    }
}

type FileSpec = (String, HashMap<String, String>, String);

/// `Ok((name, labels, file))` for an object to create, `Err(name)` for an external one.
fn file_object(
    ns: &str,
    name: &str,
    obj: &FileObject,
    kind: &str,
) -> Result<Result<FileSpec, String>, Error> {
    if obj.external {
        return Ok(Err(obj.name.clone().unwrap_or_else(|| name.into())));
    }
    let file = obj.file.clone().ok_or_else(|| {
        Error::value(
            format!("{kind}s.{name}"),
            "only `file:` and `external:` are supported",
        )
    })?;
    let spec_name = obj.name.clone().unwrap_or_else(|| scope(ns, name));
    Ok(Ok((spec_name, stack_labels(ns, &obj.labels), file)))
}

/// Service names with every `depends_on` target before its dependants (then by name).
fn dependency_order(compose: &Compose) -> Result<Vec<String>, Error> {
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < compose.services.len() {
        let ready: Vec<String> = compose
            .services
            .iter()
            .filter(|(n, s)| {
                // Unknown services are ignored, as docker (which ignores depends_on) would.
                !done.contains(*n)
                    && s.depends_on.iter().all(|d| {
                        done.contains(&d.service) || !compose.services.contains_key(&d.service)
                    })
            })
            .map(|(n, _)| n.clone())
            .collect();
        if ready.is_empty() {
            let rest: Vec<&String> = compose
                .services
                .keys()
                .filter(|n| !done.contains(*n))
                .collect();
            return Err(Error::value(
                format!("services.{}.depends_on", rest[0]),
                format!("dependency cycle between services {rest:?}"),
            ));
        }
        done.extend(ready.iter().cloned());
        order.extend(ready);
    }
    Ok(order)
}
