//! One service to a `ServiceSpec` (docker/cli `convert.Service`).

use std::collections::HashMap;

use bollard_stubs::models::{
    MountTmpfsOptions, MountVolumeOptions, MountVolumeOptionsDriverConfig, NetworkAttachmentConfig,
    ResourcesUlimits, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecDnsConfig,
    TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1, TaskSpecContainerSpecSecrets,
    TaskSpecLogDriver, TaskSpecPlacementPreferences, TaskSpecPlacementSpread,
};
use serde::de::DeserializeOwned;
use shoal_types::service::{
    EndpointPortConfig, EndpointSpec, Mount, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecModeReplicatedJob, TaskSpec, TaskSpecContainerSpec,
    TaskSpecPlacement,
};

use super::policy::{healthcheck, resources, restart_policy, rollback_config, update_config};
use super::{STACK_IMAGE_LABEL, scope, stack_labels};
use crate::error::Error;
use crate::model::{Compose, FileRef, Service};

/// An Engine API enum from its JSON spelling, found at the key `path`.
pub(super) fn enum_of<T: DeserializeOwned>(path: &str, s: &str) -> Result<T, Error> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| Error::value(path, format!("invalid value {s:?}")))
}

pub(super) fn none_if_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

pub(super) fn convert_service(
    ns: &str,
    name: &str,
    svc: &Service,
    compose: &Compose,
) -> Result<ServiceSpec, Error> {
    let p = format!("services.{name}");
    let image = svc
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| Error::value(&p, "no image specified"))?;
    let mut labels = stack_labels(ns, &svc.deploy.labels);
    labels.insert(STACK_IMAGE_LABEL.into(), image.clone());
    let mut env: Vec<String> = svc
        .environment
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    env.sort();
    let container = TaskSpecContainerSpec {
        image: Some(image),
        labels: Some(stack_labels(ns, &svc.labels)),
        command: svc.entrypoint.clone(),
        args: svc.command.clone(),
        hostname: svc.hostname.clone(),
        env: none_if_empty(env),
        dir: svc.working_dir.clone(),
        user: svc.user.clone(),
        tty: svc.tty.then_some(true),
        open_stdin: svc.stdin_open.then_some(true),
        read_only: svc.read_only.then_some(true),
        mounts: none_if_empty(mounts(ns, &p, svc, compose)?),
        stop_signal: svc.stop_signal.clone(),
        stop_grace_period: svc.stop_grace_period,
        health_check: healthcheck(&p, svc)?,
        hosts: none_if_empty(svc.extra_hosts.iter().map(|h| host_entry(h)).collect()),
        dns_config: (!svc.dns.is_empty() || !svc.dns_search.is_empty()).then(|| {
            TaskSpecContainerSpecDnsConfig {
                nameservers: none_if_empty(svc.dns.clone()),
                search: none_if_empty(svc.dns_search.clone()),
                options: None,
            }
        }),
        secrets: none_if_empty(secrets(ns, &p, svc, compose)?),
        configs: none_if_empty(configs(ns, &p, svc, compose)?),
        init: svc.init,
        sysctls: (!svc.sysctls.is_empty()).then(|| svc.sysctls.clone().into_iter().collect()),
        capability_add: none_if_empty(svc.cap_add.clone()),
        capability_drop: none_if_empty(svc.cap_drop.clone()),
        ulimits: none_if_empty(
            svc.ulimits
                .iter()
                .map(|(n, u)| ResourcesUlimits {
                    name: Some(n.clone()),
                    soft: u.single.or(u.soft),
                    hard: u.single.or(u.hard),
                })
                .collect(),
        ),
        isolation: svc
            .isolation
            .as_deref()
            .map(|i| enum_of(&format!("{p}.isolation"), i))
            .transpose()?,
        ..Default::default()
    };
    let placement = &svc.deploy.placement;
    let task = TaskSpec {
        container_spec: Some(container),
        resources: resources(svc),
        restart_policy: restart_policy(&p, svc)?,
        placement: Some(TaskSpecPlacement {
            constraints: none_if_empty(placement.constraints.clone()),
            preferences: none_if_empty(
                placement
                    .preferences
                    .iter()
                    .map(|s| TaskSpecPlacementPreferences {
                        spread: Some(TaskSpecPlacementSpread {
                            spread_descriptor: Some(s.clone()),
                        }),
                    })
                    .collect(),
            ),
            max_replicas: placement.max_replicas_per_node.map(|n| n as i64),
            platforms: None,
        }),
        networks: Some(networks(ns, name, svc, compose)),
        log_driver: svc.logging.as_ref().map(|l| TaskSpecLogDriver {
            name: l.driver.clone(),
            options: Some(l.options.clone().into_iter().collect()),
        }),
        ..Default::default()
    };
    let update = svc
        .deploy
        .update_config
        .as_ref()
        .map(|u| update_config(&format!("{p}.deploy.update_config"), u))
        .transpose()?;
    let rollback = svc
        .deploy
        .rollback_config
        .as_ref()
        .map(|r| rollback_config(&format!("{p}.deploy.rollback_config"), r))
        .transpose()?;
    Ok(ServiceSpec {
        name: Some(scope(ns, name)),
        labels: Some(labels),
        task_template: Some(task),
        mode: Some(mode(&p, svc)?),
        update_config: update,
        rollback_config: rollback,
        networks: None,
        endpoint_spec: Some(endpoint(&p, svc)?),
    })
}

/// `host:ip` or `host=ip` (compose) to `ip host` (`/etc/hosts`, docker/cli
/// `convertExtraHosts`); a host name has no `:` or `=`, an IPv6 address may have `:`.
fn host_entry(h: &str) -> String {
    match h.split_once('=').or_else(|| h.split_once(':')) {
        Some((host, ip)) => format!("{} {}", ip.trim(), host.trim()),
        None => h.to_string(),
    }
}

fn mode(p: &str, svc: &Service) -> Result<ServiceSpecMode, Error> {
    let replicas = svc.deploy.replicas.map(|r| r as i64);
    let m = svc.deploy.mode.as_deref().unwrap_or("replicated");
    if replicas.is_some() && !matches!(m, "replicated" | "replicated-job") {
        return Err(Error::value(
            format!("{p}.deploy.replicas"),
            "can only be used with replicated or replicated-job mode",
        ));
    }
    Ok(match m {
        "global" => ServiceSpecMode {
            global: Some(HashMap::new()),
            ..Default::default()
        },
        "global-job" => ServiceSpecMode {
            global_job: Some(HashMap::new()),
            ..Default::default()
        },
        "replicated" => ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas }),
            ..Default::default()
        },
        "replicated-job" => ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob {
                max_concurrent: replicas.or(Some(1)),
                total_completions: replicas.or(Some(1)),
            }),
            ..Default::default()
        },
        other => {
            return Err(Error::value(
                format!("{p}.deploy.mode"),
                format!("Unknown mode: {other}"),
            ));
        }
    })
}

/// Ports and endpoint mode. Port errors name the list, not an item: merged and expanded
/// lists do not keep the files' indices.
fn endpoint(p: &str, svc: &Service) -> Result<EndpointSpec, Error> {
    let ports_path = format!("{p}.ports");
    let mut ports = svc
        .ports
        .iter()
        .map(|p| {
            Ok(EndpointPortConfig {
                name: None,
                protocol: p
                    .protocol
                    .as_deref()
                    .map(|x| enum_of(&ports_path, x))
                    .transpose()?,
                target_port: p.target.map(|t| t as i64),
                published_port: p.published.map(|t| t as i64),
                publish_mode: p
                    .mode
                    .as_deref()
                    .map(|x| enum_of(&ports_path, x))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    ports.sort_by_key(|p| p.published_port);
    Ok(EndpointSpec {
        mode: svc
            .deploy
            .endpoint_mode
            .as_deref()
            .map(|m| enum_of(&format!("{p}.deploy.endpoint_mode"), m))
            .transpose()?,
        ports: none_if_empty(ports),
    })
}

fn networks(
    ns: &str,
    name: &str,
    svc: &Service,
    compose: &Compose,
) -> Vec<NetworkAttachmentConfig> {
    let default = [("default".to_string(), None)].into_iter().collect();
    let nets = if svc.networks.is_empty() {
        &default
    } else {
        &svc.networks
    };
    let mut out: Vec<NetworkAttachmentConfig> = nets
        .iter()
        .map(|(net, cfg)| {
            let top = compose.networks.get(net);
            let target = top.and_then(|t| t.name.clone()).unwrap_or_else(|| {
                if top.is_some_and(|t| t.external) {
                    net.clone()
                } else {
                    scope(ns, net)
                }
            });
            let mut aliases = cfg.as_ref().map(|c| c.aliases.clone()).unwrap_or_default();
            aliases.push(name.to_string());
            NetworkAttachmentConfig {
                target: Some(target),
                aliases: Some(aliases),
                driver_opts: cfg
                    .as_ref()
                    .filter(|c| !c.driver_opts.is_empty())
                    .map(|c| c.driver_opts.clone().into_iter().collect()),
            }
        })
        .collect();
    out.sort_by(|a, b| a.target.cmp(&b.target));
    out
}

/// A secret or config reference of the service; `p` is the service's path.
fn file_ref(
    ns: &str,
    p: &str,
    r: &FileRef,
    objs: &std::collections::BTreeMap<String, crate::model::FileObject>,
    kind: &'static str,
) -> Result<(String, TaskSpecContainerSpecFile), Error> {
    let obj = objs.get(&r.source).ok_or_else(|| Error::Undefined {
        path: format!("{p}.{kind}s"),
        kind,
        name: r.source.clone(),
    })?;
    let name = obj.name.clone().unwrap_or_else(|| {
        if obj.external {
            r.source.clone()
        } else {
            scope(ns, &r.source)
        }
    });
    Ok((
        name,
        TaskSpecContainerSpecFile {
            name: Some(r.target.clone().unwrap_or_else(|| r.source.clone())),
            uid: Some(r.uid.clone().unwrap_or_else(|| "0".into())),
            gid: Some(r.gid.clone().unwrap_or_else(|| "0".into())),
            mode: Some(r.mode.map(|m| m as u32).unwrap_or(0o444)),
        },
    ))
}

fn secrets(
    ns: &str,
    p: &str,
    svc: &Service,
    c: &Compose,
) -> Result<Vec<TaskSpecContainerSpecSecrets>, Error> {
    let mut out = svc
        .secrets
        .iter()
        .map(|r| {
            let (name, file) = file_ref(ns, p, r, &c.secrets, "secret")?;
            Ok(TaskSpecContainerSpecSecrets {
                file: Some(file),
                secret_id: None,
                secret_name: Some(name),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    out.sort_by(|a, b| a.secret_name.cmp(&b.secret_name));
    Ok(out)
}

fn configs(
    ns: &str,
    p: &str,
    svc: &Service,
    c: &Compose,
) -> Result<Vec<TaskSpecContainerSpecConfigs>, Error> {
    let mut out = svc
        .configs
        .iter()
        .map(|r| {
            let (name, f) = file_ref(ns, p, r, &c.configs, "config")?;
            let file = TaskSpecContainerSpecFile1 {
                name: f.name,
                uid: f.uid,
                gid: f.gid,
                mode: f.mode,
            };
            Ok(TaskSpecContainerSpecConfigs {
                file: Some(file),
                runtime: None,
                config_id: None,
                config_name: Some(name),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    out.sort_by(|a, b| a.config_name.cmp(&b.config_name));
    Ok(out)
}

/// The service's mounts. Errors name the `volumes` list, not an item: merged lists are
/// sorted by target, so their indices are not the files'.
fn mounts(ns: &str, p: &str, svc: &Service, c: &Compose) -> Result<Vec<Mount>, Error> {
    let path = format!("{p}.volumes");
    svc.volumes
        .iter()
        .map(|v| {
            let mut m = Mount {
                target: Some(v.target.clone()),
                typ: Some(enum_of(&path, &v.kind)?),
                read_only: v.read_only.then_some(true),
                consistency: v.consistency.clone(),
                ..Default::default()
            };
            match (v.kind.as_str(), &v.source) {
                ("volume", Some(src)) => {
                    let top = c.volumes.get(src).ok_or_else(|| Error::Undefined {
                        path: path.clone(),
                        kind: "volume",
                        name: src.clone(),
                    })?;
                    let external = top.external;
                    m.source = Some(top.name.clone().unwrap_or_else(|| {
                        if external {
                            src.clone()
                        } else {
                            scope(ns, src)
                        }
                    }));
                    if !external {
                        m.volume_options = Some(MountVolumeOptions {
                            no_copy: v
                                .volume
                                .as_ref()
                                .and_then(|o| o.get("nocopy"))
                                .and_then(|b| b.as_bool()),
                            labels: Some(stack_labels(ns, &top.labels)),
                            driver_config: top.driver.as_ref().map(|d| {
                                MountVolumeOptionsDriverConfig {
                                    name: Some(d.clone()),
                                    options: Some(top.driver_opts.clone().into_iter().collect()),
                                }
                            }),
                            subpath: None,
                        });
                    }
                }
                ("tmpfs", _) => {
                    // `tmpfs: {size: 100M}` (a number of bytes or a size string).
                    let size = v.tmpfs.as_ref().and_then(|t| t.get("size"));
                    let size_bytes = match size {
                        Some(serde_json::Value::Number(n)) => n.as_i64(),
                        Some(serde_json::Value::String(s)) => {
                            Some(crate::units::parse_bytes(s).map_err(|e| Error::value(&path, e))?)
                        }
                        _ => None,
                    };
                    if size_bytes.is_some() {
                        m.tmpfs_options = Some(MountTmpfsOptions {
                            size_bytes,
                            ..Default::default()
                        });
                    }
                }
                (_, src) => m.source = src.clone(),
            }
            Ok(m)
        })
        .collect()
}

#[cfg(test)]
mod host_tests {
    use super::host_entry;

    #[test]
    fn extra_hosts_in_both_forms() {
        assert_eq!(host_entry("db.local:10.0.0.5"), "10.0.0.5 db.local");
        assert_eq!(host_entry("db.local=10.0.0.5"), "10.0.0.5 db.local");
        assert_eq!(host_entry("v6:::1"), "::1 v6");
        assert_eq!(host_entry("gw:host-gateway"), "host-gateway gw");
    }
}
