//! Turning a task into the `Launch` the shim runs: argv, a clean environment, working
//! directory, user, limits, health check and the node-local port; and turning a `Launch` back
//! into a command that runs as the task does.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use shoal_types::Task;
use shoal_types::service::EndpointPortConfig;
use shoal_types::task::PortStatus;

use super::layout::{Launch, TaskDir};
use super::{health, user};
use crate::driver::{DriverError, container_spec, published_ports, stop_grace, stop_signal};

/// The `PATH` Docker gives containers.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds the launch description of `task`; `port` is the node-local port it was given.
pub fn build(
    task: &Task,
    dir: &TaskDir,
    etc: &Path,
    port: Option<u16>,
    files_root: Option<&Path>,
) -> Result<Launch, DriverError> {
    let spec = container_spec(task)?;
    let argv: Vec<String> = spec
        .command
        .iter()
        .flatten()
        .chain(spec.args.iter().flatten())
        .cloned()
        .collect();
    if argv.is_empty() {
        return Err(DriverError::InvalidSpec(
            "the process driver needs a command: the task has no command or args".into(),
        ));
    }
    let identity = match spec.user.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => Some(user::resolve(u, etc)?),
        None => None,
    };
    let home = identity.as_ref().and_then(|i| i.home.clone());
    let hostname = spec.hostname.clone().filter(|h| !h.is_empty());
    let mut env = environment(
        spec.env.as_deref().unwrap_or_default(),
        home.as_deref()
            .unwrap_or(if identity.is_none() { "/root" } else { "/" }),
        &hostname.unwrap_or_else(crate::describe::hostname),
        port,
    );
    // Who the task is, as a container would find in its hostname and labels.
    env.push(format!("SHOAL_TASK_ID={}", task.id));
    env.push(format!("SHOAL_TASK_NAME={}", task.container_name()));
    env.push(format!("SHOAL_SERVICE_NAME={}", task.service_name));
    if let Some(root) = files_root {
        env.push(format!("SHOAL_FILES={}", root.display()));
        env.push(format!(
            "SHOAL_SECRETS_DIR={}",
            root.join("run/secrets").display()
        ));
    }
    let limits = task.spec.resources.as_ref().and_then(|r| r.limits.as_ref());
    Ok(Launch {
        task_id: task.id.clone(),
        service_id: task.service_id.clone(),
        node_id: task.node_id.clone(),
        name: task.container_name(),
        image: spec.image.clone().unwrap_or_default(),
        argv,
        env,
        dir: spec
            .dir
            .as_ref()
            .filter(|d| !d.is_empty())
            .map_or_else(|| dir.work(), Into::into),
        uid: identity.as_ref().map(|i| i.uid),
        gid: identity.as_ref().map(|i| i.gid),
        port,
        ports: port.map(|p| port_status(&published_ports(task), p)),
        stop_signal: stop_signal(task).map(str::to_string),
        stop_grace_ns: stop_grace(task).as_nanos() as u64,
        memory_bytes: limits.and_then(|l| l.memory_bytes).filter(|b| *b > 0),
        nano_cpus: limits.and_then(|l| l.nano_cpus).filter(|n| *n > 0),
        health: health::from_spec(spec.health_check.as_ref())?,
    })
}

/// A command that runs `argv` as the task runs: its clean environment, working directory and
/// user, with no stdin. It leads a process group of its own, so one signal reaches it and
/// everything it started. The shim runs the task's command with it, the driver its health
/// checks, so both see the same world. `argv` must not be empty.
pub fn command(launch: &Launch, argv: &[String]) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(launch.env.iter().filter_map(|kv| kv.split_once('=')))
        .current_dir(&launch.dir)
        .process_group(0)
        .stdin(Stdio::null());
    if let Some(gid) = launch.gid {
        cmd.gid(gid);
    }
    if let Some(uid) = launch.uid {
        cmd.uid(uid);
    }
    cmd
}

/// A clean environment like a container's: `PATH`, `HOSTNAME`, `HOME`, then the spec's
/// variables (later ones win), then `PORT`, which wins because the mesh relies on it.
pub fn environment(
    spec_env: &[String],
    home: &str,
    hostname: &str,
    port: Option<u16>,
) -> Vec<String> {
    let mut env: Vec<String> = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
        format!("HOME={home}"),
    ];
    env.extend(spec_env.iter().cloned());
    if let Some(p) = port {
        env.push(format!("PORT={p}"));
    }
    // Keep the last value of each key, in first-seen order.
    let key = |kv: &str| kv.split_once('=').map_or(kv, |(k, _)| k).to_string();
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    for kv in env {
        match out.iter_mut().find(|e| key(e) == key(&kv)) {
            Some(existing) => *existing = kv,
            None => out.push(kv),
        }
    }
    out
}

/// The task's port status: its first published port's target, served on the node port.
fn port_status(published: &[EndpointPortConfig], port: u16) -> PortStatus {
    let first = published.first().cloned().unwrap_or_default();
    PortStatus {
        ports: vec![EndpointPortConfig {
            published_port: Some(port.into()),
            publish_mode: Some(bollard::models::EndpointPortConfigPublishModeEnum::HOST),
            ..first
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_types::service::{TaskSpecContainerSpec, TaskSpecResources};

    fn task(spec: TaskSpecContainerSpec) -> Task {
        let mut t = Task {
            id: "t1".into(),
            service_name: "web".into(),
            slot: 2,
            ..Default::default()
        };
        t.spec.container_spec = Some(spec);
        t
    }

    #[test]
    fn command_and_args_make_argv() {
        let t = task(TaskSpecContainerSpec {
            command: Some(vec!["/bin/sh".into(), "-c".into()]),
            args: Some(vec!["echo hi".into()]),
            env: Some(vec!["A=1".into(), "PATH=/x".into()]),
            user: Some("0:0".into()),
            ..Default::default()
        });
        let dir = TaskDir::new(Path::new("/tmp/tasks"), "t1");
        let l = build(&t, &dir, Path::new("/etc"), Some(20001), None).unwrap();
        assert_eq!(l.argv, ["/bin/sh", "-c", "echo hi"]);
        assert_eq!((l.uid, l.gid), (Some(0), Some(0)));
        assert_eq!(l.dir, dir.work());
        assert_eq!(l.name, "web.2.t1");
        assert!(l.env.contains(&"PATH=/x".to_string()));
        assert!(l.env.contains(&"A=1".to_string()));
        assert!(l.env.contains(&"PORT=20001".to_string()));
        assert_eq!(l.ports.unwrap().ports[0].published_port, Some(20001));
        assert_eq!(l.stop_grace_ns, 10_000_000_000);
    }

    #[test]
    fn no_command_is_rejected() {
        let t = task(TaskSpecContainerSpec {
            image: Some("busybox".into()),
            ..Default::default()
        });
        let dir = TaskDir::new(Path::new("/tmp"), "t1");
        assert!(
            build(&t, &dir, Path::new("/etc"), None, None)
                .unwrap_err()
                .to_string()
                .contains("needs a command")
        );
    }

    #[test]
    fn limits_are_carried() {
        let mut t = task(TaskSpecContainerSpec {
            args: Some(vec!["true".into()]),
            ..Default::default()
        });
        t.spec.resources = Some(TaskSpecResources {
            limits: Some(bollard::models::Limit {
                memory_bytes: Some(1 << 20),
                nano_cpus: Some(5),
                pids: None,
            }),
            ..Default::default()
        });
        let l = build(
            &t,
            &TaskDir::new(Path::new("/tmp"), "t1"),
            Path::new("/etc"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (l.memory_bytes, l.nano_cpus, l.port),
            (Some(1 << 20), Some(5), None)
        );
        assert!(l.env.iter().all(|e| !e.starts_with("PORT=")));
    }
}
