//! `service inspect --pretty`: docker/cli's `serviceInspectPrettyTemplate`, rendered by hand
//! with the template's tabs and whitespace trimming. Secrets, configs, capabilities, sysctls
//! and ulimits are not shown (shoal's services do not carry them yet).

use std::collections::BTreeMap;
use std::fmt::Write;

use shoal_types::Service;

use crate::duration::{bytes_size, human_duration};
use crate::service_table::unix_ns;

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1m0s`, `300ms`, `4ns`, `0s`.
pub(crate) fn go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let sign = if d < 0 { "-" } else { "" };
    let u = d.unsigned_abs();
    let frac = |v: u64, div: u64| {
        let (int, rest) = (v / div, v % div);
        if rest == 0 {
            return int.to_string();
        }
        let digits = div.to_string().len() - 1;
        let f = format!("{rest:0digits$}");
        format!("{int}.{}", f.trim_end_matches('0'))
    };
    const S: u64 = 1_000_000_000;
    let body = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", frac(u, 1_000))
    } else if u < S {
        format!("{}ms", frac(u, 1_000_000))
    } else {
        let (h, m) = (u / (3600 * S), (u / (60 * S)) % 60);
        let mut out = String::new();
        if h > 0 {
            let _ = write!(out, "{h}h");
        }
        if h > 0 || m > 0 {
            let _ = write!(out, "{m}m");
        }
        out + &frac(u % (60 * S), S) + "s"
    };
    format!("{sign}{body}")
}

/// One service's pretty text (the caller adds the trailing newline, as docker's formatter).
pub(crate) fn render(s: &Service, now_ns: i128) -> String {
    let spec = &s.spec;
    let mut o = format!("\nID:\t\t{}\nName:\t\t{}", s.id, s.name());
    let labels: BTreeMap<_, _> = spec
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    if !labels.is_empty() {
        o += "\nLabels:";
        for (k, v) in &labels {
            let _ = write!(
                o,
                "\n {k}{}",
                if v.is_empty() {
                    String::new()
                } else {
                    format!("={v}")
                }
            );
        }
    }
    o += "\nService Mode:";
    let mode = spec.mode.clone().unwrap_or_default();
    if mode.global.is_some() {
        o += "\tGlobal";
    } else if let Some(r) = &mode.replicated {
        o += "\tReplicated";
        if let Some(n) = r.replicas {
            let _ = write!(o, "\n Replicas:\t{n}");
        }
    }
    update_status(&mut o, s, now_ns);
    let task = spec.task_template.clone().unwrap_or_default();
    let placement = task.placement.clone().unwrap_or_default();
    o += "\nPlacement:";
    if let Some(c) = placement.constraints.filter(|c| !c.is_empty()) {
        let _ = write!(o, "\n Constraints:\t[{}]", c.join(" "));
    }
    let prefs: Vec<String> = placement
        .preferences
        .iter()
        .flatten()
        .filter_map(|p| p.spread.as_ref())
        .map(|sp| {
            format!(
                "spread={}",
                sp.spread_descriptor.clone().unwrap_or_default()
            )
        })
        .collect();
    if !prefs.is_empty() {
        let _ = write!(o, "\n Preferences:   [{}]", prefs.join(" "));
    }
    if let Some(m) = placement.max_replicas.filter(|m| *m > 0) {
        let _ = write!(o, "\n Max Replicas Per Node:   {m}");
    }
    if let Some(u) = &spec.update_config {
        let order = u.order.map(|x| x.to_string()).unwrap_or_default();
        let action = u.failure_action.map(|x| x.to_string()).unwrap_or_default();
        let cfg = (
            u.parallelism,
            u.delay,
            action,
            u.monitor,
            u.max_failure_ratio,
            order,
        );
        rollout(&mut o, "UpdateConfig", "Update order:      ", cfg);
    }
    if let Some(u) = &spec.rollback_config {
        let order = u.order.map(|x| x.to_string()).unwrap_or_default();
        let action = u.failure_action.map(|x| x.to_string()).unwrap_or_default();
        let cfg = (
            u.parallelism,
            u.delay,
            action,
            u.monitor,
            u.max_failure_ratio,
            order,
        );
        rollout(&mut o, "RollbackConfig", "Rollback order:    ", cfg);
    }
    container(&mut o, &task);
    resources(&mut o, &task);
    if let Some(n) = task.networks.as_ref().filter(|n| !n.is_empty()) {
        o += "\nNetworks:";
        for net in n {
            let _ = write!(o, " {}", net.target.clone().unwrap_or_default());
        }
        o += " ";
    }
    let ep_mode = spec
        .endpoint_spec
        .as_ref()
        .and_then(|e| e.mode)
        .map(|m| m.to_string())
        .unwrap_or_default();
    let _ = write!(o, "\nEndpoint Mode:\t{ep_mode}");
    if !s.endpoint.ports.is_empty() {
        o += "\nPorts:";
        for p in &s.endpoint.ports {
            let _ = write!(
                o,
                "\n PublishedPort = {}\n  Protocol = {}\n  TargetPort = {}\n  PublishMode = {}",
                p.published_port.unwrap_or(0),
                p.protocol.map(|x| x.to_string()).unwrap_or_default(),
                p.target_port.unwrap_or(0),
                p.publish_mode.map(|x| x.to_string()).unwrap_or_default()
            );
        }
        o += " ";
    }
    healthcheck(&mut o, &task);
    o + "\n"
}

fn update_status(o: &mut String, s: &Service, now_ns: i128) {
    let Some(u) = s.update_status.as_ref().filter(|u| !u.state.is_empty()) else {
        return;
    };
    let ago = |t: &str| {
        let d = unix_ns(t)
            .map_or(0, |t| now_ns - t)
            .clamp(0, i64::MAX as i128) as i64;
        format!("{} ago", human_duration(d))
    };
    let _ = write!(o, "\nUpdateStatus:\n State:\t\t{}", u.state);
    if !u.started_at.is_empty() {
        let _ = write!(o, "\n Started:\t{}", ago(&u.started_at));
    }
    if u.state == "completed" && !u.completed_at.is_empty() {
        let _ = write!(o, "\n Completed:\t{}", ago(&u.completed_at));
    }
    let _ = write!(o, "\n Message:\t{}", u.message);
}

type Rollout = (
    Option<i64>,
    Option<i64>,
    String,
    Option<i64>,
    Option<f64>,
    String,
);

fn rollout(o: &mut String, title: &str, order_label: &str, c: Rollout) {
    let (parallelism, delay, action, monitor, ratio, order) = c;
    let _ = write!(o, "\n{title}:\n Parallelism:\t{}", parallelism.unwrap_or(0));
    if let Some(d) = delay.filter(|d| *d > 0) {
        let _ = write!(o, "\n Delay:\t\t{}", go_duration(d));
    }
    let _ = write!(o, "\n On failure:\t{action}");
    if let Some(m) = monitor.filter(|m| *m > 0) {
        let _ = write!(o, "\n Monitoring Period: {}", go_duration(m));
    }
    let _ = write!(o, "\n Max failure ratio: {}", ratio.unwrap_or(0.0));
    let _ = write!(o, "\n {order_label}{order}");
}

fn container(o: &mut String, task: &shoal_types::service::TaskSpec) {
    let c = task.container_spec.clone().unwrap_or_default();
    let _ = write!(
        o,
        "\nContainerSpec:\n Image:\t\t{}",
        c.image.unwrap_or_default()
    );
    for (title, list) in [("Args", &c.args), ("Env", &c.env)] {
        if let Some(l) = list.as_ref().filter(|l| !l.is_empty()) {
            let _ = write!(o, "\n {title}:\t\t");
            l.iter().for_each(|a| *o += &format!("{a} "));
        }
    }
    if let Some(d) = c.dir.filter(|d| !d.is_empty()) {
        let _ = write!(o, "\n Dir:\t\t{d}");
    }
    if let Some(i) = c.init {
        let _ = write!(o, "\n Init:\t\t{i}");
    }
    if let Some(u) = c.user.filter(|u| !u.is_empty()) {
        let _ = write!(o, "\n User: {u}");
    }
    if let Some(m) = c.mounts.filter(|m| !m.is_empty()) {
        *o += "\nMounts:";
        for m in m {
            let _ = write!(
                o,
                "\n Target:\t{}\n  Source:\t{}\n  ReadOnly:\t{}\n  Type:\t\t{}",
                m.target.unwrap_or_default(),
                m.source.unwrap_or_default(),
                m.read_only.unwrap_or(false),
                m.typ.map(|t| t.to_string()).unwrap_or_default()
            );
        }
    }
    if let Some(ld) = &task.log_driver {
        *o += "\nLog Driver:";
        if let Some(n) = ld.name.as_ref().filter(|n| !n.is_empty()) {
            let _ = write!(o, "\n Name:\t\t{n}");
        }
        let opts: BTreeMap<_, _> = ld.options.clone().unwrap_or_default().into_iter().collect();
        if !opts.is_empty() {
            *o += "\n LogOpts:";
            for (k, v) in opts {
                let v = if v.is_empty() {
                    String::new()
                } else {
                    format!(":       {v}")
                };
                let _ = write!(o, "\n  {k}{v}");
            }
        }
        *o += "\n";
    }
}

fn resources(o: &mut String, task: &shoal_types::service::TaskSpec) {
    let Some(r) = &task.resources else {
        return;
    };
    *o += "\nResources:";
    let cpu = |n: Option<i64>| n.unwrap_or(0) as f64 / 1e9;
    let mem = |m: Option<i64>| m.filter(|m| *m != 0).map(|m| bytes_size(m as f64));
    if let Some(res) = r
        .reservations
        .as_ref()
        .filter(|x| x.nano_cpus.unwrap_or(0) > 0 || x.memory_bytes.unwrap_or(0) > 0)
    {
        *o += "\n Reservations:";
        if cpu(res.nano_cpus) > 0.0 {
            let _ = write!(o, "\n  CPU:\t\t{}", cpu(res.nano_cpus));
        }
        if let Some(m) = mem(res.memory_bytes) {
            let _ = write!(o, "\n  Memory:\t{m}");
        }
    }
    let limits = r.limits.clone().unwrap_or_default();
    let any = [limits.nano_cpus, limits.memory_bytes, limits.pids]
        .iter()
        .any(|v| v.unwrap_or(0) > 0);
    if any {
        *o += "\n Limits:";
        if cpu(limits.nano_cpus) > 0.0 {
            let _ = write!(o, "\n  CPU:\t\t{}", cpu(limits.nano_cpus));
        }
        if let Some(m) = mem(limits.memory_bytes) {
            let _ = write!(o, "\n  Memory:\t{m}");
        }
    }
    if let Some(p) = limits.pids.filter(|p| *p > 0) {
        let _ = write!(o, "\n  PIDs:\t\t{p}");
    }
}

fn healthcheck(o: &mut String, task: &shoal_types::service::TaskSpec) {
    let Some(hc) = task
        .container_spec
        .as_ref()
        .and_then(|c| c.health_check.clone())
    else {
        return;
    };
    let _ = write!(
        o,
        "\n Healthcheck:\n  Interval = {}\n  Retries = {}\n  StartPeriod =\t{}\n  Timeout =\t{}",
        go_duration(hc.interval.unwrap_or(0)),
        hc.retries.unwrap_or(0),
        go_duration(hc.start_period.unwrap_or(0)),
        go_duration(hc.timeout.unwrap_or(0))
    );
    if let Some(tests) = hc.test.filter(|t| !t.is_empty()) {
        *o += "\n  Tests:";
        tests.iter().for_each(|t| *o += &format!("\n\t Test = {t}"));
        *o += " ";
    }
}
