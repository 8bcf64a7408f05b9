//! Task → Docker container configuration, as moby's swarm executor builds it
//! (`daemon/cluster/executor/container/container.go`): entrypoint = command and cmd = args,
//! swarm labels, limits, mounts, stop signal and grace, health check, init, read-only root.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};
use shoal_types::Task;

use crate::driver::{DriverError, container_spec, stop_grace};

/// Marks containers this agent created (with the node's ID as value), so leftover cleanup
/// never touches containers of Docker's own swarm mode or of another shoal node on the
/// same engine.
pub const MANAGED_LABEL: &str = "com.shoal.node.id";

/// The label holding the task ID, by which containers are found and adopted.
pub const TASK_ID_LABEL: &str = "com.docker.swarm.task.id";

/// The image reference as the engine stores it: a tag `latest` when none is given.
pub fn image_ref(image: &str) -> String {
    let name_part = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || name_part.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The container configuration for `task` on node `node_id`.
pub fn create_body(task: &Task, node_id: &str) -> Result<ContainerCreateBody, DriverError> {
    let spec = container_spec(task)?;
    let image = spec.image.as_deref().filter(|i| !i.is_empty());
    let image =
        image.ok_or_else(|| DriverError::InvalidSpec("dockerexec: image required".into()))?;
    let (entrypoint, cmd) = match (&spec.command, &spec.args) {
        // A command replaces the image's whole invocation; args then are its arguments.
        (Some(c), args) if !c.is_empty() => (Some(c.clone()), args.clone()),
        // Args alone are arguments to the image's entrypoint.
        (_, Some(a)) if !a.is_empty() => (None, Some(a.clone())),
        _ => (None, None),
    };
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let (exposed_ports, port_bindings) = super::ports::bindings(task).unzip();
    let mut host_config = host_config(task);
    host_config.port_bindings = port_bindings;
    Ok(ContainerCreateBody {
        exposed_ports,
        image: Some(image_ref(image)),
        entrypoint,
        cmd,
        env: spec.env.clone(),
        working_dir: non_empty(&spec.dir),
        user: non_empty(&spec.user),
        hostname: non_empty(&spec.hostname),
        labels: Some(labels(task, node_id)),
        stop_signal: non_empty(&spec.stop_signal),
        stop_timeout: Some(grace_seconds(task)),
        healthcheck: spec.health_check.clone(),
        tty: spec.tty,
        open_stdin: spec.open_stdin,
        host_config: Some(host_config),
        ..Default::default()
    })
}

/// The stop grace period in whole seconds, rounded up (the Engine API counts seconds).
pub fn grace_seconds(task: &Task) -> i64 {
    stop_grace(task).as_millis().div_ceil(1000) as i64
}

/// Spec labels, then the task's own, then the swarm system labels, which win.
fn labels(task: &Task, node_id: &str) -> HashMap<String, String> {
    let spec_labels = task
        .spec
        .container_spec
        .as_ref()
        .and_then(|c| c.labels.clone());
    let mut labels: HashMap<String, String> = spec_labels.unwrap_or_default();
    labels.extend(task.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let node = if task.node_id.is_empty() {
        node_id
    } else {
        &task.node_id
    };
    let system = [
        ("task", String::new()),
        ("task.id", task.id.clone()),
        ("task.name", task.container_name()),
        ("node.id", node.to_string()),
        ("service.id", task.service_id.clone()),
        ("service.name", task.service_name.clone()),
    ];
    for (k, v) in system {
        labels.insert(format!("com.docker.swarm.{k}"), v);
    }
    labels.insert(MANAGED_LABEL.to_string(), node_id.to_string());
    labels
}

fn host_config(task: &Task) -> HostConfig {
    let spec = task.spec.container_spec.clone().unwrap_or_default();
    let limits = task
        .spec
        .resources
        .as_ref()
        .and_then(|r| r.limits.clone())
        .unwrap_or_default();
    let dns = spec.dns_config.unwrap_or_default();
    HostConfig {
        mounts: spec.mounts,
        nano_cpus: limits.nano_cpus.filter(|n| *n > 0),
        memory: limits.memory_bytes.filter(|m| *m > 0),
        pids_limit: limits.pids.filter(|p| *p > 0),
        init: spec.init,
        readonly_rootfs: spec.read_only,
        group_add: spec.groups,
        sysctls: spec.sysctls,
        cap_add: spec.capability_add,
        cap_drop: spec.capability_drop,
        ulimits: spec.ulimits,
        oom_score_adj: spec.oom_score_adj,
        dns: dns.nameservers,
        dns_search: dns.search,
        dns_options: dns.options,
        // Swarm's `IP host [aliases]` entries become the engine's `host:IP`.
        extra_hosts: spec.hosts.map(|hosts| {
            hosts
                .iter()
                .filter_map(|h| {
                    let mut parts = h.split_whitespace();
                    let ip = parts.next()?;
                    Some(format!("{}:{ip}", parts.next()?))
                })
                .collect()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{HealthConfig, Mount, MountType};
    use shoal_types::service::TaskSpecContainerSpec;

    fn task(spec: TaskSpecContainerSpec) -> Task {
        let mut t = Task {
            id: "tid".into(),
            service_id: "sid".into(),
            service_name: "web".into(),
            slot: 1,
            node_id: "nid".into(),
            ..Default::default()
        };
        t.spec.container_spec = Some(spec);
        t
    }

    #[test]
    fn image_refs_get_latest() {
        assert_eq!(image_ref("busybox"), "busybox:latest");
        assert_eq!(image_ref("busybox:1.36"), "busybox:1.36");
        assert_eq!(image_ref("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(image_ref("app@sha256:abc"), "app@sha256:abc");
    }

    #[test]
    fn command_becomes_entrypoint_and_args_cmd() {
        let b = create_body(
            &task(TaskSpecContainerSpec {
                image: Some("img".into()),
                command: Some(vec!["/bin/sh".into()]),
                args: Some(vec!["-c".into(), "echo hi".into()]),
                ..Default::default()
            }),
            "nid",
        )
        .unwrap();
        assert_eq!(b.entrypoint.unwrap(), ["/bin/sh"]);
        assert_eq!(b.cmd.unwrap(), ["-c", "echo hi"]);
        let args_only = create_body(
            &task(TaskSpecContainerSpec {
                image: Some("img".into()),
                args: Some(vec!["x".into()]),
                ..Default::default()
            }),
            "nid",
        )
        .unwrap();
        assert_eq!(
            (args_only.entrypoint, args_only.cmd),
            (None, Some(vec!["x".to_string()]))
        );
    }

    #[test]
    fn labels_limits_and_options() {
        let mut t = task(TaskSpecContainerSpec {
            image: Some("img".into()),
            labels: Some(
                [
                    ("com.docker.swarm.task.id".to_string(), "spoof".to_string()),
                    ("app".into(), "x".into()),
                ]
                .into(),
            ),
            stop_signal: Some("SIGUSR1".into()),
            stop_grace_period: Some(1_500_000_000),
            init: Some(true),
            read_only: Some(true),
            health_check: Some(HealthConfig {
                test: Some(vec!["CMD".into(), "true".into()]),
                ..Default::default()
            }),
            mounts: Some(vec![Mount {
                target: Some("/data".into()),
                typ: Some(MountType::TMPFS),
                ..Default::default()
            }]),
            hosts: Some(vec!["10.0.0.1 db alias".into()]),
            ..Default::default()
        });
        t.spec.resources = Some(shoal_types::service::TaskSpecResources {
            limits: Some(bollard::models::Limit {
                nano_cpus: Some(500_000_000),
                memory_bytes: Some(64 << 20),
                pids: None,
            }),
            ..Default::default()
        });
        let b = create_body(&t, "nid").unwrap();
        let labels = b.labels.unwrap();
        assert_eq!(labels["com.docker.swarm.task.id"], "tid");
        assert_eq!(labels["com.docker.swarm.task.name"], "web.1.tid");
        assert_eq!(labels["com.docker.swarm.service.name"], "web");
        assert_eq!(labels["com.docker.swarm.task"], "");
        assert_eq!(labels["app"], "x");
        assert_eq!(labels[MANAGED_LABEL], "nid");
        assert_eq!(
            (b.stop_signal.as_deref(), b.stop_timeout),
            (Some("SIGUSR1"), Some(2))
        );
        assert!(b.healthcheck.is_some());
        let hc = b.host_config.unwrap();
        assert_eq!(
            (hc.nano_cpus, hc.memory),
            (Some(500_000_000), Some(64 << 20))
        );
        assert_eq!((hc.init, hc.readonly_rootfs), (Some(true), Some(true)));
        assert_eq!(hc.mounts.unwrap()[0].target.as_deref(), Some("/data"));
        assert_eq!(hc.extra_hosts.unwrap(), ["db:10.0.0.1"]);
    }

    #[test]
    fn an_image_is_required() {
        let err = create_body(&task(TaskSpecContainerSpec::default()), "n").unwrap_err();
        assert_eq!(err.to_string(), "dockerexec: image required");
    }
}
