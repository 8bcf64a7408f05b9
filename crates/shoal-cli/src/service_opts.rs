//! `service create` and `service update` flags and how they become a `ServiceSpec`
//! (docker/cli's `serviceOptions.ToService` and `updateService`).

use bollard_stubs::models::{
    EndpointSpecModeEnum, HealthConfig, Limit, ResourceObject, ServiceSpecModeReplicatedJob,
    TaskSpecPlacementPreferences, TaskSpecRestartPolicyConditionEnum,
};
use clap::Args;
use shoal_types::service::{
    EndpointPortConfig, EndpointSpec, Mount, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec, TaskSpecPlacement,
    TaskSpecResources, TaskSpecRestartPolicy,
};

use crate::error::CliError;
use crate::service_flags as f;

/// The service label of shoal's canary gate: the manager's updater pauses a rolling update
/// once this many slots run the new spec.
pub(crate) const PAUSE_AFTER_LABEL: &str = "shoal.update.pause-after";

/// Flags `create` and `update` share.
#[derive(Debug, Default, Args)]
pub struct CommonFlags {
    /// Number of tasks
    #[arg(long)]
    pub replicas: Option<u64>,
    /// Maximum number of tasks per node (default 0 = unlimited)
    #[arg(long = "replicas-max-per-node")]
    pub max_per_node: Option<u64>,
    /// Limit CPUs
    #[arg(long = "limit-cpu", value_parser = f::nano_cpus)]
    pub limit_cpu: Option<i64>,
    /// Limit Memory
    #[arg(long = "limit-memory", value_parser = f::mem_bytes)]
    pub limit_memory: Option<i64>,
    /// Reserve CPUs
    #[arg(long = "reserve-cpu", value_parser = f::nano_cpus)]
    pub reserve_cpu: Option<i64>,
    /// Reserve Memory
    #[arg(long = "reserve-memory", value_parser = f::mem_bytes)]
    pub reserve_memory: Option<i64>,
    /// Restart when condition is met ("none", "on-failure", "any")
    #[arg(long = "restart-condition")]
    pub restart_condition: Option<String>,
    /// Delay between restart attempts (ns|us|ms|s|m|h)
    #[arg(long = "restart-delay", value_parser = f::duration)]
    pub restart_delay: Option<i64>,
    /// Maximum number of restarts before giving up
    #[arg(long = "restart-max-attempts")]
    pub restart_max_attempts: Option<u64>,
    /// Window used to evaluate the restart policy (ns|us|ms|s|m|h)
    #[arg(long = "restart-window", value_parser = f::duration)]
    pub restart_window: Option<i64>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Container hostname
    #[arg(long)]
    pub hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Time to wait before force killing a container (ns|us|ms|s|m|h)
    #[arg(long = "stop-grace-period", value_parser = f::duration)]
    pub stop_grace_period: Option<i64>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(
        long = "health-interval",
        value_parser = f::positive_duration,
        allow_hyphen_values = true
    )]
    pub health_interval: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long = "health-timeout", value_parser = f::positive_duration, allow_hyphen_values = true)]
    pub health_timeout: Option<i64>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries", allow_negative_numbers = true)]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)
    #[arg(
        long = "health-start-period",
        value_parser = f::positive_duration,
        allow_hyphen_values = true
    )]
    pub health_start_period: Option<i64>,
    /// Time between running the check during the start period (ms|s|m|h)
    #[arg(
        long = "health-start-interval",
        value_parser = f::positive_duration,
        allow_hyphen_values = true
    )]
    pub health_start_interval: Option<i64>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    #[command(flatten)]
    pub update: crate::service_update_cfg::UpdateConfigFlags,
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short, long)]
    pub detach: bool,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
}

/// `service create` flags.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Service name
    #[arg(long)]
    pub name: Option<String>,
    /// Service mode ("replicated", "global", "replicated-job", "global-job")
    #[arg(long, default_value = "replicated")]
    pub mode: String,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Service labels
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Container labels
    #[arg(long = "container-label")]
    pub container_label: Vec<String>,
    /// Placement constraints
    #[arg(long)]
    pub constraint: Vec<String>,
    /// Add a placement preference
    #[arg(long = "placement-pref", value_parser = f::placement_pref)]
    pub placement_pref: Vec<TaskSpecPlacementPreferences>,
    /// Attach a filesystem mount to the service
    #[arg(long, value_parser = f::mount)]
    pub mount: Vec<Mount>,
    /// Publish a port as a node port
    #[arg(short, long, value_parser = f::publish)]
    pub publish: Vec<Vec<EndpointPortConfig>>,
    /// Specify secrets to expose to the service
    #[arg(long, value_parser = crate::service_refs::parse_ref)]
    pub secret: Vec<crate::service_refs::FileRef>,
    /// Specify configurations to expose to the service
    #[arg(long, value_parser = crate::service_refs::parse_ref)]
    pub config: Vec<crate::service_refs::FileRef>,
    #[command(flatten)]
    pub common: CommonFlags,
    /// The image, then the command and its arguments
    #[arg(value_name = "IMAGE", required = true)]
    pub image: String,
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

/// `service update` flags.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Service image tag
    #[arg(long)]
    pub image: Option<String>,
    /// Service command args
    #[arg(long)]
    pub args: Option<String>,
    /// Force update even if no changes require it
    #[arg(long)]
    pub force: bool,
    /// Rollback to previous specification
    #[arg(long)]
    pub rollback: bool,
    /// Pause rolling updates once N tasks run the new spec, a canary gate until `service
    /// update --continue` or `service rollback` (sets the service label
    /// shoal.update.pause-after=N; 0 removes it; not in Docker)
    #[arg(long = "update-pause-after", value_name = "N")]
    pub update_pause_after: Option<u64>,
    /// Resume a paused update: posts the service's current spec unchanged, which resumes it as
    /// any update does (not in Docker)
    #[arg(long = "continue")]
    pub resume: bool,
    /// Add or update an environment variable
    #[arg(long = "env-add")]
    pub env_add: Vec<String>,
    /// Remove an environment variable
    #[arg(long = "env-rm")]
    pub env_rm: Vec<String>,
    /// Add or update a service label
    #[arg(long = "label-add")]
    pub label_add: Vec<String>,
    /// Remove a label by its key
    #[arg(long = "label-rm")]
    pub label_rm: Vec<String>,
    /// Add or update a container label
    #[arg(long = "container-label-add")]
    pub container_label_add: Vec<String>,
    /// Remove a container label by its key
    #[arg(long = "container-label-rm")]
    pub container_label_rm: Vec<String>,
    /// Add or update a placement constraint
    #[arg(long = "constraint-add")]
    pub constraint_add: Vec<String>,
    /// Add or update a secret on a service
    #[arg(long = "secret-add", value_parser = crate::service_refs::parse_ref)]
    pub secret_add: Vec<crate::service_refs::FileRef>,
    /// Remove a secret
    #[arg(long = "secret-rm")]
    pub secret_rm: Vec<String>,
    /// Add or update a config file on a service
    #[arg(long = "config-add", value_parser = crate::service_refs::parse_ref)]
    pub config_add: Vec<crate::service_refs::FileRef>,
    /// Remove a configuration file
    #[arg(long = "config-rm")]
    pub config_rm: Vec<String>,
    /// Remove a constraint
    #[arg(long = "constraint-rm")]
    pub constraint_rm: Vec<String>,
    /// Add a placement preference
    #[arg(long = "placement-pref-add", value_parser = f::placement_pref)]
    pub placement_pref_add: Vec<TaskSpecPlacementPreferences>,
    /// Add or update a mount on a service
    #[arg(long = "mount-add", value_parser = f::mount)]
    pub mount_add: Vec<Mount>,
    /// Remove a mount by its target path
    #[arg(long = "mount-rm")]
    pub mount_rm: Vec<String>,
    /// Add or update a published port
    #[arg(long = "publish-add", value_parser = f::publish)]
    pub publish_add: Vec<Vec<EndpointPortConfig>>,
    /// Remove a published port by its target port
    #[arg(long = "publish-rm")]
    pub publish_rm: Vec<String>,
    #[command(flatten)]
    pub common: CommonFlags,
    /// The service to update
    pub service: String,
}

impl UpdateArgs {
    /// True when any flag besides `--rollback`, `--continue`, `-d` and `-q` is given (docker
    /// refuses to combine them with `--rollback`).
    fn changes_anything(&self) -> bool {
        let c = &self.common;
        let mut probe = ServiceSpec::default();
        apply_common(&mut probe, c).ok();
        probe != ServiceSpec::default()
            || self.image.is_some()
            || self.args.is_some()
            || self.force
            || self.update_pause_after.is_some()
            || c.health_cmd.is_some()
            || !(self.env_add.is_empty()
                && self.env_rm.is_empty()
                && self.label_add.is_empty()
                && self.label_rm.is_empty()
                && self.container_label_add.is_empty()
                && self.container_label_rm.is_empty()
                && self.constraint_add.is_empty()
                && self.constraint_rm.is_empty()
                && self.secret_add.is_empty()
                && self.secret_rm.is_empty()
                && self.config_add.is_empty()
                && self.config_rm.is_empty()
                && self.placement_pref_add.is_empty()
                && self.mount_add.is_empty()
                && self.mount_rm.is_empty()
                && self.publish_add.is_empty()
                && self.publish_rm.is_empty())
            || c.replicas.is_some()
    }
}

/// docker's `ToServiceMode` with its texts.
fn service_mode(a: &CreateArgs) -> Result<ServiceSpecMode, CliError> {
    let replicas = a.common.replicas.map(|r| r as i64);
    let not_with = |what: &str| {
        CliError::msg(format!(
            "{what} can only be used with replicated or replicated-job mode"
        ))
    };
    let mut mode = ServiceSpecMode::default();
    match a.mode.as_str() {
        "global" | "global-job" => {
            if replicas.is_some() {
                return Err(not_with("replicas"));
            }
            if a.common.max_per_node.unwrap_or(0) > 0 {
                return Err(not_with("replicas-max-per-node"));
            }
            if a.mode == "global" {
                mode.global = Some(Default::default());
            } else {
                mode.global_job = Some(Default::default());
            }
        }
        "replicated" => mode.replicated = Some(ServiceSpecModeReplicated { replicas }),
        "replicated-job" => {
            mode.replicated_job = Some(ServiceSpecModeReplicatedJob {
                max_concurrent: replicas,
                total_completions: replicas,
            })
        }
        m => {
            return Err(CliError::msg(format!(
                "Unknown mode: {m}, only replicated and global supported"
            )));
        }
    }
    Ok(mode)
}

/// `service create`'s spec.
pub(crate) fn create_spec(a: &CreateArgs) -> Result<ServiceSpec, CliError> {
    let mut env = Vec::new();
    for file in &a.env_file {
        f::merge_env(&mut env, &f::env_file(file).map_err(CliError::msg)?);
    }
    let given: Vec<String> = a.env.iter().map(|e| f::env_entry(e)).collect();
    f::merge_env(&mut env, &given);
    let mut spec = ServiceSpec {
        name: a.name.clone(),
        labels: Some(f::kv_map(&a.label)),
        mode: Some(service_mode(a)?),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(a.image.clone()),
                args: (!a.args.is_empty()).then(|| a.args.clone()),
                env: (!env.is_empty()).then_some(env),
                labels: (!a.container_label.is_empty()).then(|| f::kv_map(&a.container_label)),
                mounts: (!a.mount.is_empty()).then(|| a.mount.clone()),
                ..Default::default()
            }),
            placement: Some(TaskSpecPlacement {
                constraints: (!a.constraint.is_empty()).then(|| a.constraint.clone()),
                preferences: (!a.placement_pref.is_empty()).then(|| a.placement_pref.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::VIP),
            ports: Some(a.publish.iter().flatten().cloned().collect()),
        }),
        ..Default::default()
    };
    let mode = spec.mode.as_ref().expect("set above");
    if (mode.replicated_job.is_some() || mode.global_job.is_some()) && a.common.update.any() {
        return Err(CliError::msg(
            "update and rollback configuration is not supported for jobs",
        ));
    }
    apply_common(&mut spec, &a.common)?;
    Ok(spec)
}

fn task(spec: &mut ServiceSpec) -> &mut TaskSpec {
    spec.task_template.get_or_insert_with(TaskSpec::default)
}

fn container(spec: &mut ServiceSpec) -> &mut TaskSpecContainerSpec {
    task(spec)
        .container_spec
        .get_or_insert_with(TaskSpecContainerSpec::default)
}

/// The flags both commands share, applied only where given.
fn apply_common(spec: &mut ServiceSpec, c: &CommonFlags) -> Result<(), CliError> {
    if let Some(max) = c.max_per_node {
        task(spec)
            .placement
            .get_or_insert_with(TaskSpecPlacement::default)
            .max_replicas = Some(max as i64);
    }
    apply_resources(spec, c);
    apply_restart(spec, c)?;
    c.update.apply(spec)?;
    let cs = container(spec);
    for (flag, field) in [
        (&c.workdir, &mut cs.dir),
        (&c.user, &mut cs.user),
        (&c.hostname, &mut cs.hostname),
        (&c.stop_signal, &mut cs.stop_signal),
    ] {
        if let Some(v) = flag {
            *field = Some(v.clone());
        }
    }
    if let Some(e) = &c.entrypoint {
        cs.command = Some(f::shell_words(e).map_err(CliError::msg)?);
    }
    if let Some(g) = c.stop_grace_period {
        cs.stop_grace_period = Some(g);
    }
    apply_health(cs, c)?;
    if spec.task_template.as_ref()
        == Some(&TaskSpec {
            container_spec: Some(TaskSpecContainerSpec::default()),
            ..Default::default()
        })
    {
        // Nothing was set: leave the template as it was absent.
        spec.task_template = None;
    }
    Ok(())
}

fn apply_resources(spec: &mut ServiceSpec, c: &CommonFlags) {
    if c.limit_cpu.is_some() || c.limit_memory.is_some() {
        let r = task(spec)
            .resources
            .get_or_insert_with(TaskSpecResources::default);
        let l = r.limits.get_or_insert_with(Limit::default);
        if c.limit_cpu.is_some() {
            l.nano_cpus = c.limit_cpu;
        }
        if c.limit_memory.is_some() {
            l.memory_bytes = c.limit_memory;
        }
    }
    if c.reserve_cpu.is_some() || c.reserve_memory.is_some() {
        let r = task(spec)
            .resources
            .get_or_insert_with(TaskSpecResources::default);
        let l = r.reservations.get_or_insert_with(ResourceObject::default);
        if c.reserve_cpu.is_some() {
            l.nano_cpus = c.reserve_cpu;
        }
        if c.reserve_memory.is_some() {
            l.memory_bytes = c.reserve_memory;
        }
    }
}

fn apply_restart(spec: &mut ServiceSpec, c: &CommonFlags) -> Result<(), CliError> {
    if c.restart_condition.is_none()
        && c.restart_delay.is_none()
        && c.restart_max_attempts.is_none()
        && c.restart_window.is_none()
    {
        return Ok(());
    }
    let rp = task(spec)
        .restart_policy
        .get_or_insert_with(TaskSpecRestartPolicy::default);
    if let Some(cond) = &c.restart_condition {
        // Sent as given: the daemon answers an unknown value with its own text.
        rp.condition = Some(
            serde_json::from_value::<TaskSpecRestartPolicyConditionEnum>(serde_json::json!(cond))
                .map_err(|_| CliError::msg(format!("invalid RestartCondition: \"{cond}\"")))?,
        );
    }
    if c.restart_delay.is_some() {
        rp.delay = c.restart_delay;
    }
    if let Some(n) = c.restart_max_attempts {
        rp.max_attempts = Some(n as i64);
    }
    if c.restart_window.is_some() {
        rp.window = c.restart_window;
    }
    Ok(())
}

/// docker's `toHealthConfig` (create) and `updateHealthcheck` (update): `--no-healthcheck`
/// alone sets `["NONE"]`; other health flags change only what they name, starting from the
/// current check (a `NONE` test is dropped) and `--health-cmd ""` removing the test.
fn apply_health(cs: &mut TaskSpecContainerSpec, c: &CommonFlags) -> Result<(), CliError> {
    let settings = c.health_cmd.is_some()
        || c.health_interval.is_some()
        || c.health_timeout.is_some()
        || c.health_retries.is_some()
        || c.health_start_period.is_some()
        || c.health_start_interval.is_some();
    if c.no_healthcheck {
        if settings {
            return Err(CliError::msg(
                "--no-healthcheck conflicts with --health-* options",
            ));
        }
        cs.health_check = Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        });
        return Ok(());
    }
    if !settings {
        return Ok(());
    }
    let created = cs.health_check.is_none();
    let hc = cs.health_check.get_or_insert_with(HealthConfig::default);
    if hc.test.as_ref().and_then(|t| t.first()).map(String::as_str) == Some("NONE") {
        hc.test = None;
    }
    for (v, field) in [
        (c.health_interval, &mut hc.interval),
        (c.health_timeout, &mut hc.timeout),
        (c.health_start_period, &mut hc.start_period),
        (c.health_start_interval, &mut hc.start_interval),
        (c.health_retries, &mut hc.retries),
    ] {
        if v.is_some() {
            *field = v;
        }
    }
    if let Some(cmd) = &c.health_cmd {
        hc.test = (!cmd.is_empty()).then(|| vec!["CMD-SHELL".into(), cmd.clone()]);
    }
    if created && *hc == HealthConfig::default() {
        // docker's create: `--health-cmd ""` alone sets no check.
        cs.health_check = None;
    }
    Ok(())
}

/// docker's `updateService`: the flags given, merged into the spec read from the daemon.
pub(crate) fn merge_update(spec: &mut ServiceSpec, a: &UpdateArgs) -> Result<(), CliError> {
    if a.resume {
        if a.rollback || a.changes_anything() {
            return Err(CliError::msg(
                "other flags may not be combined with --continue",
            ));
        }
        return Ok(());
    }
    if a.rollback {
        if a.changes_anything() {
            return Err(CliError::msg(
                "other flags may not be combined with --rollback",
            ));
        }
        return Ok(());
    }
    let labels = spec.labels.get_or_insert_with(Default::default);
    a.label_rm.iter().for_each(|k| {
        labels.remove(k);
    });
    labels.extend(f::kv_map(&a.label_add));
    match a.update_pause_after {
        Some(0) => {
            labels.remove(PAUSE_AFTER_LABEL);
        }
        Some(n) => {
            labels.insert(PAUSE_AFTER_LABEL.into(), n.to_string());
        }
        None => {}
    }
    if let Some(r) = a.common.replicas {
        match spec.mode.as_mut().and_then(|m| m.replicated.as_mut()) {
            Some(rep) => rep.replicas = Some(r as i64),
            None => {
                return Err(CliError::msg(
                    "replicas can only be used with replicated mode",
                ));
            }
        }
    }
    apply_common(spec, &a.common)?;
    let cs = container(spec);
    if let Some(image) = &a.image {
        cs.image = Some(image.clone());
    }
    if let Some(args) = &a.args {
        cs.args = Some(f::shell_words(args).map_err(CliError::msg)?);
    }
    if !a.container_label_add.is_empty() || !a.container_label_rm.is_empty() {
        let l = cs.labels.get_or_insert_with(Default::default);
        a.container_label_rm.iter().for_each(|k| {
            l.remove(k);
        });
        l.extend(f::kv_map(&a.container_label_add));
    }
    if !a.env_add.is_empty() || !a.env_rm.is_empty() {
        let env = cs.env.get_or_insert_with(Vec::new);
        env.retain(|e| !a.env_rm.iter().any(|k| f::env_key(e) == k));
        let added: Vec<String> = a.env_add.iter().map(|e| f::env_entry(e)).collect();
        f::merge_env(env, &added);
    }
    if !a.mount_add.is_empty() || !a.mount_rm.is_empty() {
        let mounts = cs.mounts.get_or_insert_with(Vec::new);
        mounts.retain(|m| {
            let t = m.target.as_deref().unwrap_or_default();
            !a.mount_rm.iter().any(|r| r == t)
                && !a.mount_add.iter().any(|n| n.target.as_deref() == Some(t))
        });
        mounts.extend(a.mount_add.iter().cloned());
    }
    update_placement(spec, a);
    update_ports(spec, a);
    if a.force {
        let t = task(spec);
        t.force_update = Some(t.force_update.unwrap_or(0) + 1);
    }
    Ok(())
}

fn update_placement(spec: &mut ServiceSpec, a: &UpdateArgs) {
    if a.constraint_add.is_empty() && a.constraint_rm.is_empty() && a.placement_pref_add.is_empty()
    {
        return;
    }
    let p = task(spec)
        .placement
        .get_or_insert_with(TaskSpecPlacement::default);
    let cons = p.constraints.get_or_insert_with(Vec::new);
    cons.retain(|c| !a.constraint_rm.contains(c));
    for c in &a.constraint_add {
        if !cons.contains(c) {
            cons.push(c.clone());
        }
    }
    if !a.placement_pref_add.is_empty() {
        p.preferences
            .get_or_insert_with(Vec::new)
            .extend(a.placement_pref_add.iter().cloned());
    }
}

fn update_ports(spec: &mut ServiceSpec, a: &UpdateArgs) {
    if a.publish_add.is_empty() && a.publish_rm.is_empty() {
        return;
    }
    let ep = spec.endpoint_spec.get_or_insert_with(EndpointSpec::default);
    let ports = ep.ports.get_or_insert_with(Vec::new);
    let target = |p: &EndpointPortConfig| p.target_port.unwrap_or(0).to_string();
    let proto = |p: &EndpointPortConfig| {
        p.protocol
            .map(|x| x.to_string())
            .unwrap_or_else(|| "tcp".into())
    };
    ports.retain(|p| {
        !a.publish_rm.iter().any(|r| {
            let (t, pr) = r.split_once('/').unwrap_or((r, "tcp"));
            t == target(p) && pr == proto(p)
        })
    });
    for new in a.publish_add.iter().flatten() {
        ports.retain(|p| {
            p.published_port.unwrap_or(0) == 0
                || p.published_port != new.published_port
                || proto(p) != proto(new)
        });
        ports.push(new.clone());
    }
}
