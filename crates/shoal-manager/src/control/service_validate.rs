//! Service spec rules with Docker's texts, in the order Docker applies them: first moby's
//! REST → swarmkit conversion (`daemon/cluster/convert/service.go`: plain texts, HTTP 400,
//! defaults filled in), then swarmkit's `controlapi/service.go validateServiceSpec` (texts
//! carried as gRPC status errors, which moby passes through as `rpc error: code = … desc = …`).

use bollard_stubs::models::{
    EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpecModeEnum,
    HealthConfig, ServiceSpecModeReplicated, ServiceSpecModeReplicatedJob,
    TaskSpecRestartPolicyConditionEnum,
};
use shoal_types::service::{EndpointPortConfig, ServiceSpec, ServiceSpecMode, TaskSpec};
use shoal_types::{Error, ErrorKind};

/// A swarmkit error as moby reports it: `rpc error: code = <Code> desc = <text>`.
pub(crate) fn rpc(code: &str, text: impl std::fmt::Display) -> Error {
    let kind = match code {
        "InvalidArgument" | "FailedPrecondition" => ErrorKind::InvalidArgument,
        "AlreadyExists" => ErrorKind::AlreadyExists,
        "NotFound" => ErrorKind::NotFound,
        "Unimplemented" => ErrorKind::NotImplemented,
        _ => ErrorKind::Internal,
    };
    Error::new(kind, format!("rpc error: code = {code} desc = {text}"))
}

fn invalid(text: impl std::fmt::Display) -> Error {
    rpc("InvalidArgument", text)
}

/// moby's conversion step: refuses what cannot be converted and fills the defaults the daemon
/// stores (a random name, one replica, the container runtime), so the stored spec reads back
/// the way Docker's does.
pub(crate) fn prepare(spec: &mut ServiceSpec) -> Result<(), Error> {
    let task = spec.task_template.get_or_insert_with(TaskSpec::default);
    match task.runtime.as_deref() {
        None | Some("") | Some("container") => {
            if task.container_spec.is_none() {
                return Err(Error::invalid("mismatched Runtime and *Spec fields"));
            }
            task.runtime = Some("container".into());
        }
        Some(_) => return Err(Error::invalid("unsupported runtime")),
    }
    task.force_update.get_or_insert(0);
    if let Some(rp) = task.restart_policy.as_mut() {
        if matches!(
            rp.condition,
            None | Some(TaskSpecRestartPolicyConditionEnum::EMPTY)
        ) {
            rp.condition = Some(TaskSpecRestartPolicyConditionEnum::ANY);
        }
        rp.max_attempts.get_or_insert(0);
    }
    if let Some(ep) = spec.endpoint_spec.as_mut() {
        for p in ep.ports.iter_mut().flatten() {
            default_port(p);
        }
    }
    prepare_mode(spec)?;
    if spec.name.as_deref().unwrap_or_default().is_empty() {
        spec.name = Some(random_name());
    }
    spec.labels.get_or_insert_with(Default::default);
    Ok(())
}

/// Protocol tcp and publish mode ingress when unset (swarmkit's enum zero values).
fn default_port(p: &mut EndpointPortConfig) {
    if matches!(
        p.protocol,
        None | Some(EndpointPortConfigProtocolEnum::EMPTY)
    ) {
        p.protocol = Some(EndpointPortConfigProtocolEnum::TCP);
    }
    if matches!(
        p.publish_mode,
        None | Some(EndpointPortConfigPublishModeEnum::EMPTY)
    ) {
        p.publish_mode = Some(EndpointPortConfigPublishModeEnum::INGRESS);
    }
}

fn prepare_mode(spec: &mut ServiceSpec) -> Result<(), Error> {
    let mode = spec.mode.get_or_insert_with(ServiceSpecMode::default);
    let count = [
        mode.global.is_some(),
        mode.replicated.is_some(),
        mode.replicated_job.is_some(),
        mode.global_job.is_some(),
    ]
    .iter()
    .filter(|set| **set)
    .count();
    if count > 1 {
        return Err(Error::invalid("must specify only one service mode"));
    }
    if let Some(job) = mode.replicated_job.as_mut() {
        let concurrent = *job.max_concurrent.get_or_insert(1);
        job.total_completions.get_or_insert(concurrent);
    } else if mode.global.is_none() && mode.global_job.is_none() {
        let r = mode
            .replicated
            .get_or_insert_with(ServiceSpecModeReplicated::default);
        r.replicas.get_or_insert(1);
    }
    Ok(())
}

/// `validateServiceSpec`: annotations, task spec, mode, update config, endpoint.
pub(crate) fn validate(spec: &ServiceSpec) -> Result<(), Error> {
    validate_name(spec.name.as_deref().unwrap_or_default())?;
    let task = spec.task_template.clone().unwrap_or_default();
    validate_task(&task)?;
    validate_mode(spec)?;
    let mode = spec.mode.clone().unwrap_or_default();
    if mode.replicated_job.is_some() || mode.global_job.is_some() {
        if spec.update_config.is_some() {
            return Err(invalid("Jobs may not have an update config"));
        }
    } else if let Some(u) = &spec.update_config {
        update_config(u.delay, u.monitor, u.max_failure_ratio)?;
    }
    validate_endpoint(spec)
}

/// swarmkit's `isValidDNSName`: `^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`, at most 63 bytes.
pub(crate) fn validate_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(invalid("meta: name must be provided"));
    }
    let b = name.as_bytes();
    let valid = b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        && b[b.len() - 1].is_ascii_alphanumeric();
    if !valid {
        return Err(invalid("name must be valid as a DNS name component"));
    }
    if name.len() > 63 {
        return Err(invalid("name must be 63 characters or fewer"));
    }
    Ok(())
}

fn validate_task(task: &TaskSpec) -> Result<(), Error> {
    if let Some(r) = &task.resources {
        if let Some(l) = &r.limits {
            resources(l.nano_cpus, l.memory_bytes)?;
        }
        if let Some(l) = &r.reservations {
            resources(l.nano_cpus, l.memory_bytes)?;
        }
    }
    if let Some(rp) = &task.restart_policy {
        if rp.delay.is_some_and(|d| d < 0) {
            return Err(invalid("TaskSpec: restart-delay cannot be negative"));
        }
        if rp.window.is_some_and(|d| d < 0) {
            return Err(invalid("TaskSpec: restart-window cannot be negative"));
        }
    }
    let constraints = task.placement.as_ref().and_then(|p| p.constraints.clone());
    // swarmkit returns the parser's plain error: gRPC Unknown, which moby answers with 500.
    shoal_scheduler::parse_constraints(constraints.as_deref().unwrap_or_default())
        .map_err(|e| rpc("Unknown", e))?;
    let c = task.container_spec.clone().unwrap_or_default();
    validate_image(c.image.as_deref().unwrap_or_default())?;
    let mut targets = std::collections::HashSet::new();
    for m in c.mounts.iter().flatten() {
        let target = m.target.clone().unwrap_or_default();
        if !targets.insert(target.clone()) {
            return Err(invalid(format!(
                "ContainerSpec: duplicate mount point: {target}"
            )));
        }
    }
    c.health_check.as_ref().map_or(Ok(()), health_check)
}

fn resources(nano_cpus: Option<i64>, memory: Option<i64>) -> Result<(), Error> {
    let cpus = nano_cpus.unwrap_or(0);
    if cpus != 0 && cpus < 1_000_000 {
        return Err(invalid(format!(
            "invalid cpu value {}: Must be at least 0.001",
            go_float(cpus as f64 / 1e9)
        )));
    }
    let mem = memory.unwrap_or(0);
    if mem != 0 && mem < 4 * 1024 * 1024 {
        return Err(invalid(format!(
            "invalid memory value {mem}: Must be at least 4MiB"
        )));
    }
    Ok(())
}

/// Go's `%g` for the small values the cpu check prints (`0.0005`, `1e-09`).
fn go_float(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-4 {
        let s = format!("{v:e}");
        // Rust writes `1e-9`; Go writes `1e-09`.
        match s.split_once("e-") {
            Some((m, e)) if e.len() == 1 => format!("{m}e-0{e}"),
            _ => s,
        }
    } else {
        format!("{v}")
    }
}

fn health_check(hc: &HealthConfig) -> Result<(), Error> {
    const MIN: i64 = 1_000_000; // swarmkit's minimumDuration, 1ms
    for (value, name) in [
        (hc.interval, "Interval"),
        (hc.timeout, "Timeout"),
        (hc.start_period, "StartPeriod"),
    ] {
        let v = value.unwrap_or(0);
        if v != 0 && v < MIN {
            return Err(invalid(format!(
                "ContainerSpec: {name} in HealthConfig cannot be less than 1ms"
            )));
        }
    }
    if hc.retries.is_some_and(|r| r < 0) {
        return Err(invalid(
            "ContainerSpec: Retries in HealthConfig cannot be negative",
        ));
    }
    Ok(())
}

fn validate_mode(spec: &ServiceSpec) -> Result<(), Error> {
    let mode = spec.mode.clone().unwrap_or_default();
    if let Some(ServiceSpecModeReplicated {
        replicas: Some(r), ..
    }) = mode.replicated
        && r < 0
    {
        return Err(invalid("Number of replicas must be non-negative"));
    }
    if let Some(ServiceSpecModeReplicatedJob {
        max_concurrent,
        total_completions,
    }) = mode.replicated_job
    {
        if max_concurrent.is_some_and(|v| v < 0) {
            return Err(invalid("Maximum concurrent jobs must not be negative"));
        }
        if total_completions.is_some_and(|v| v < 0) {
            return Err(invalid("Total completed jobs must not be negative"));
        }
    }
    Ok(())
}

fn update_config(
    delay: Option<i64>,
    monitor: Option<i64>,
    ratio: Option<f64>,
) -> Result<(), Error> {
    if delay.is_some_and(|d| d < 0) {
        return Err(invalid("TaskSpec: update-delay cannot be negative"));
    }
    if monitor.is_some_and(|d| d < 0) {
        return Err(invalid("TaskSpec: update-monitor cannot be negative"));
    }
    if ratio.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
        return Err(invalid(
            "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1",
        ));
    }
    Ok(())
}

fn validate_endpoint(spec: &ServiceSpec) -> Result<(), Error> {
    let Some(ep) = &spec.endpoint_spec else {
        return Ok(());
    };
    let dnsrr = ep.mode == Some(EndpointSpecModeEnum::DNSRR);
    let mut seen = std::collections::HashSet::new();
    for p in ep.ports.iter().flatten() {
        let ingress = matches!(
            p.publish_mode,
            None | Some(EndpointPortConfigPublishModeEnum::EMPTY)
                | Some(EndpointPortConfigPublishModeEnum::INGRESS)
        );
        if dnsrr && ingress {
            return Err(invalid(
                "EndpointSpec: port published with ingress mode can't be used with dnsrr mode",
            ));
        }
        let published = p.published_port.unwrap_or(0);
        if published == 0 {
            continue;
        }
        if !seen.insert((published, protocol(p).to_string())) {
            return Err(invalid("EndpointSpec: duplicate published ports provided"));
        }
    }
    Ok(())
}

/// A port's protocol with the default applied.
pub(crate) fn protocol(p: &EndpointPortConfig) -> EndpointPortConfigProtocolEnum {
    match p.protocol {
        None | Some(EndpointPortConfigProtocolEnum::EMPTY) => EndpointPortConfigProtocolEnum::TCP,
        Some(v) => v,
    }
}

/// True when the port is published in host mode (else ingress, the default).
pub(crate) fn host_mode(p: &EndpointPortConfig) -> bool {
    p.publish_mode == Some(EndpointPortConfigPublishModeEnum::HOST)
}

/// swarmkit's `validateImage`: present, and a valid reference (`reference.ParseNormalizedNamed`).
fn validate_image(image: &str) -> Result<(), Error> {
    if image.is_empty() {
        return Err(invalid("ContainerSpec: image reference must be provided"));
    }
    if !is_reference(image) {
        return Err(invalid(format!(
            "ContainerSpec: \"{image}\" is not a valid repository/tag"
        )));
    }
    Ok(())
}

/// The distribution reference grammar: `[domain/]path[:tag][@digest]`, path components
/// lowercase, at most 255 characters of name.
pub(crate) fn is_reference(s: &str) -> bool {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest
        && !is_digest(d)
    {
        return false;
    }
    // A tag follows the last ':' unless that ':' belongs to a domain's port (then a '/' follows).
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(t) = tag
        && !is_tag(t)
    {
        return false;
    }
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let (domain, path) = match name.split_once('/') {
        Some((d, p)) if d.contains(['.', ':']) || d == "localhost" || d.to_lowercase() != d => {
            (Some(d), p)
        }
        _ => (None, name),
    };
    if domain.is_some_and(|d| !is_domain(d)) {
        return false;
    }
    path.split('/').all(is_path_component)
}

fn is_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    alg.starts_with(|c: char| c.is_ascii_alphabetic())
        && alg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c))
        && hex.len() >= 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn is_domain(d: &str) -> bool {
    let (host, port) = if let Some(end) = d.find(']').filter(|_| d.starts_with('[')) {
        match &d[end + 1..] {
            "" => (&d[..=end], None),
            rest => match rest.strip_prefix(':') {
                Some(p) => (&d[..=end], Some(p)),
                None => return false,
            },
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if port.is_some_and(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return false;
    }
    if let Some(ip) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return ip.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(p: &str) -> bool {
    let b = p.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &p[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// moby's `namesgenerator.GetRandomName`: `adjective_surname`, for a service created without
/// a name. A short excerpt of its lists.
fn random_name() -> String {
    const LEFT: [&str; 24] = [
        "admiring",
        "agitated",
        "blissful",
        "bold",
        "brave",
        "busy",
        "clever",
        "compassionate",
        "dazzling",
        "eager",
        "ecstatic",
        "elegant",
        "festive",
        "focused",
        "gallant",
        "happy",
        "hopeful",
        "jolly",
        "keen",
        "loving",
        "nifty",
        "peaceful",
        "quirky",
        "vibrant",
    ];
    const RIGHT: [&str; 24] = [
        "albattani",
        "babbage",
        "bardeen",
        "curie",
        "darwin",
        "einstein",
        "euclid",
        "fermi",
        "galileo",
        "hopper",
        "hypatia",
        "johnson",
        "kepler",
        "lamarr",
        "lovelace",
        "meitner",
        "newton",
        "noether",
        "pasteur",
        "ritchie",
        "shannon",
        "tesla",
        "turing",
        "wozniak",
    ];
    let id = shoal_types::new_id();
    let n = u64::from_str_radix(&id[..10], 36).unwrap_or(0);
    format!(
        "{}_{}",
        LEFT[(n % 24) as usize],
        RIGHT[((n / 24) % 24) as usize]
    )
}

#[cfg(test)]
#[path = "service_validate_tests.rs"]
mod tests;
