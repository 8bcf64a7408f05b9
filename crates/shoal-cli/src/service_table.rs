//! The `service ls` and `service ps` tables (docker/cli's `service/formatter.go` and
//! `task/formatter.go`, `task/print.go`), built from the daemon's JSON.

use std::collections::BTreeMap;

use serde::Deserialize;
use shoal_types::Service;
use shoal_types::service::EndpointPortConfig;

use crate::duration::human_duration;
use crate::table::{natural_cmp, pretty_print};

/// A task as the client reads it: states stay strings, so tasks of any Engine API version
/// (with states shoal does not have, such as `allocated`) decode.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskView {
    #[serde(rename = "ID")]
    pub id: String,
    pub created_at: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    pub slot: u64,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub desired_state: String,
    pub status: TaskStatusView,
    pub spec: TaskSpecView,
    /// For jobs: the execution the task belongs to (`JobIteration.Index`).
    pub job_iteration: Option<shoal_types::Version>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskStatusView {
    pub timestamp: String,
    pub state: String,
    pub message: String,
    pub err: String,
    pub port_status: PortStatusView,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortStatusView {
    #[serde(deserialize_with = "shoal_types::validate::null_as_default")]
    pub ports: Vec<EndpointPortConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskSpecView {
    pub container_spec: ContainerView,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerView {
    pub image: String,
}

/// `formatter.TruncateID`: the first 12 characters.
pub(crate) fn truncate_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// `service ls`'s MODE column.
pub(crate) fn mode_cell(s: &Service) -> &'static str {
    let m = s.spec.mode.clone().unwrap_or_default();
    if m.global.is_some() {
        "global"
    } else if m.replicated.is_some() {
        "replicated"
    } else if m.replicated_job.is_some() {
        "replicated job"
    } else if m.global_job.is_some() {
        "global job"
    } else {
        ""
    }
}

/// `service ls`'s REPLICAS column: `running/desired`, with jobs' completions and the
/// per-node maximum.
pub(crate) fn replicas_cell(s: &Service) -> String {
    let st = s.service_status.unwrap_or_default();
    let (running, desired, completed) = (st.running_tasks, st.desired_tasks, st.completed_tasks);
    let m = s.spec.mode.clone().unwrap_or_default();
    if let Some(job) = m.replicated_job {
        let total = job.total_completions.unwrap_or(0);
        return format!("{running}/{desired} ({completed}/{total} completed)");
    }
    if m.global_job.is_some() {
        return format!(
            "{running}/{desired} ({completed}/{} completed)",
            desired + completed
        );
    }
    let max = s
        .spec
        .task_template
        .as_ref()
        .and_then(|t| t.placement.as_ref())
        .and_then(|p| p.max_replicas)
        .unwrap_or(0);
    if mode_cell(s) == "replicated" && max > 0 {
        return format!("{running}/{desired} (max {max} per node)");
    }
    format!("{running}/{desired}")
}

/// The IMAGE column: a tagged reference without its digest, in its familiar form.
pub(crate) fn image_cell(image: &str) -> String {
    let Some((named, _digest)) = image.split_once('@') else {
        return familiar(image);
    };
    let last = named.rsplit('/').next().unwrap_or(named);
    if last.contains(':') {
        familiar(named)
    } else {
        image.to_string()
    }
}

fn familiar(image: &str) -> String {
    image
        .strip_prefix("docker.io/library/")
        .or_else(|| image.strip_prefix("docker.io/"))
        .unwrap_or(image)
        .to_string()
}

/// The PORTS column: ingress ports of `Endpoint.Ports`, consecutive ones grouped into ranges
/// (`*:80-81->80-81/tcp`).
pub(crate) fn ports_cell(s: &Service) -> String {
    let mut ports: Vec<&EndpointPortConfig> = s.endpoint.ports.iter().collect();
    let proto = |p: &EndpointPortConfig| p.protocol.map(|x| x.to_string()).unwrap_or_default();
    ports.sort_by(|a, b| {
        proto(a)
            .cmp(&proto(b))
            .then(a.published_port.cmp(&b.published_port))
    });
    #[derive(Default)]
    struct Range {
        p: (i64, i64),
        t: (i64, i64),
        proto: String,
    }
    let show = |r: &Range| {
        let side = |(a, b): (i64, i64)| {
            if b > a {
                format!("{a}-{b}")
            } else {
                a.to_string()
            }
        };
        format!("*:{}->{}/{}", side(r.p), side(r.t), r.proto)
    };
    let mut out = Vec::new();
    let mut cur = Range::default();
    for p in ports {
        let ingress = matches!(
            p.publish_mode.map(|m| m.to_string()).as_deref(),
            Some("ingress") | Some("") | None
        );
        if !ingress {
            continue;
        }
        let (pp, tp) = (p.published_port.unwrap_or(0), p.target_port.unwrap_or(0));
        let is_range = cur.t.1 != cur.t.0;
        // Go compares these as unsigned numbers: going backwards is a gap too.
        let gap = |a: i64, b: i64| a < b || a - b > 1;
        if proto(p) != cur.proto
            || gap(pp, cur.p.1)
            || gap(tp, cur.t.1)
            || (is_range && tp <= cur.t.1)
        {
            if cur.p.0 > 0 {
                out.push(show(&cur));
            }
            cur = Range {
                p: (pp, pp),
                t: (tp, tp),
                proto: proto(p),
            };
            continue;
        }
        cur.p.1 = pp;
        cur.t.1 = tp;
    }
    if cur.p.0 > 0 {
        out.push(show(&cur));
    }
    out.join(", ")
}

/// Header and rows of `service ls`, services in natural name order.
pub(crate) fn ls_rows(services: &mut [Service]) -> Vec<Vec<String>> {
    services.sort_by(|a, b| natural_cmp(a.name(), b.name()));
    let mut rows = vec![
        ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    ];
    for s in services.iter() {
        let image = s
            .spec
            .task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        rows.push(vec![
            truncate_id(&s.id).to_string(),
            s.name().to_string(),
            mode_cell(s).to_string(),
            replicas_cell(s),
            image_cell(&image),
            ports_cell(s),
        ]);
    }
    rows
}

/// What `service ps` prints besides the task: names of services and nodes (IDs when
/// unresolved or `--no-resolve`), and the current time in Unix nanoseconds.
pub(crate) struct PsContext {
    pub service_names: BTreeMap<String, String>,
    pub node_names: BTreeMap<String, String>,
    pub now_ns: i128,
    pub trunc: bool,
}

/// `task.Print`: tasks named `<service>.<slot>` (or `.<node>`), sorted by name then newest
/// first, older tasks of a slot indented with ` \_ `.
pub(crate) fn ps_rows(tasks: &[TaskView], ctx: &PsContext) -> Vec<Vec<String>> {
    let name_of = |t: &TaskView| {
        let svc = ctx
            .service_names
            .get(&t.service_id)
            .cloned()
            .unwrap_or_else(|| t.service_id.clone());
        if t.slot != 0 {
            format!("{svc}.{}", t.slot)
        } else {
            format!("{svc}.{}", t.node_id)
        }
    };
    let mut named: Vec<(String, &TaskView)> = tasks.iter().map(|t| (name_of(t), t)).collect();
    named.sort_by(|(na, a), (nb, b)| {
        natural_cmp(na, nb).then_with(|| unix_ns(&b.created_at).cmp(&unix_ns(&a.created_at)))
    });
    let header = [
        "ID",
        "NAME",
        "IMAGE",
        "NODE",
        "DESIRED STATE",
        "CURRENT STATE",
        "ERROR",
        "PORTS",
    ];
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    let mut prev = String::new();
    for (name, t) in named {
        let shown = if name == prev {
            format!(" \\_ {name}")
        } else {
            name.clone()
        };
        prev = name;
        rows.push(vec![
            if ctx.trunc {
                truncate_id(&t.id).to_string()
            } else {
                t.id.clone()
            },
            shown,
            if ctx.trunc {
                image_cell(&t.spec.container_spec.image)
            } else {
                t.spec.container_spec.image.clone()
            },
            ctx.node_names
                .get(&t.node_id)
                .cloned()
                .unwrap_or_else(|| t.node_id.clone()),
            pretty_print(&t.desired_state),
            current_state(t, ctx.now_ns),
            error_cell(&t.status.err, ctx.trunc),
            task_ports(t),
        ]);
    }
    rows
}

/// `Running 5 minutes ago`.
fn current_state(t: &TaskView, now_ns: i128) -> String {
    let since = unix_ns(&t.status.timestamp).map_or(0, |ts| now_ns - ts);
    format!(
        "{} {} ago",
        pretty_print(&t.status.state),
        human_duration(since.clamp(0, i64::MAX as i128) as i64).to_lowercase()
    )
}

/// The error, cut to 30 characters (`…`) unless `--no-trunc`, and quoted.
fn error_cell(err: &str, trunc: bool) -> String {
    if err.is_empty() {
        return String::new();
    }
    let chars: Vec<char> = err.chars().collect();
    let shown = if trunc && chars.len() > 30 {
        chars[..29].iter().collect::<String>() + "…"
    } else {
        err.to_string()
    };
    format!("\"{shown}\"")
}

fn task_ports(t: &TaskView) -> String {
    t.status
        .port_status
        .ports
        .iter()
        .map(|p| {
            format!(
                "*:{}->{}/{}",
                p.published_port.unwrap_or(0),
                p.target_port.unwrap_or(0),
                p.protocol.map(|x| x.to_string()).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// An RFC 3339 timestamp as Unix nanoseconds (`None` when empty or unreadable).
pub(crate) fn unix_ns(s: &str) -> Option<i128> {
    crate::timefmt::unix_nanos(s)
}

/// Now, as Unix nanoseconds.
pub(crate) fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}
