//! `shoal service create|inspect|logs|ls|ps|rm|rollback|scale|update`, mirroring docker/cli's
//! `cli/command/service`: the same requests, output and error texts.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use shoal_types::Service;

use crate::client::{Client, filters_json, path_escape, query};
use crate::error::CliError;
use crate::flags::parse_filter;
use crate::progress::{Outcome, POLL, Progress, Renderer, Snapshot, terminal_width};
use crate::service_opts::{CreateArgs, UpdateArgs, create_spec, merge_update};
use crate::service_refs::{self, RefKind};
use crate::service_table::{PsContext, TaskView, ls_rows, now_ns, ps_rows};
use crate::table::table;
use crate::{service_pretty, template};

/// `shoal service …`
#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// Create a new service
    Create(Box<CreateArgs>),
    /// Display detailed information on one or more services
    Inspect(InspectArgs),
    /// Fetch the logs of a service
    Logs(crate::service_logs::LogsArgs),
    /// List services
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// List the tasks of one or more services
    Ps(PsArgs),
    /// Remove one or more services
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Revert changes to a service's configuration
    Rollback(RollbackArgs),
    /// Scale one or multiple replicated services
    Scale(ScaleArgs),
    /// Update a service
    Update(Box<UpdateArgs>),
}

/// `service inspect` flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output: `json`, `pretty`, or a template such as '{{.Spec.Name}}'
    #[arg(short, long, default_value = "")]
    pub format: String,
    /// Print the information in a human friendly format
    #[arg(long)]
    pub pretty: bool,
    #[arg(required = true, value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `service ls` flags.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided
    #[arg(short, long, value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
    /// Format output: `json`, or a template such as '{{.Name}}'
    #[arg(long, default_value = "")]
    pub format: String,
}

/// `service ps` flags.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Only display task IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Do not map IDs to Names
    #[arg(long = "no-resolve")]
    pub no_resolve: bool,
    /// Filter output based on conditions provided
    #[arg(short, long, value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
    /// Format output: `json`, or a template such as '{{.Name}}'
    #[arg(long, default_value = "")]
    pub format: String,
    #[arg(required = true, value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `service rm` arguments.
#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required = true, value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `service rollback` flags.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short, long)]
    pub detach: bool,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(value_name = "SERVICE")]
    pub service: String,
}

/// `service scale` arguments.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short, long)]
    pub detach: bool,
    #[arg(required = true, value_name = "SERVICE=REPLICAS")]
    pub pairs: Vec<String>,
}

/// Runs one `service` subcommand.
pub async fn run(c: &Client, cmd: ServiceCmd) -> Result<(), CliError> {
    match cmd {
        ServiceCmd::Create(a) => create(c, *a).await,
        ServiceCmd::Inspect(a) => inspect(c, a).await,
        ServiceCmd::Ls(a) => ls(c, a).await,
        ServiceCmd::Ps(a) => ps(c, a).await,
        ServiceCmd::Rm(a) => rm(c, a).await,
        ServiceCmd::Rollback(a) => rollback(c, a).await,
        ServiceCmd::Scale(a) => scale(c, a).await,
        ServiceCmd::Update(a) => update(c, *a).await,
        ServiceCmd::Logs(a) => crate::service_logs::logs(c, a).await,
    }
}

fn join(mut errors: Vec<CliError>) -> Result<(), CliError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(CliError::Multiple(errors)),
    }
}

async fn create(c: &Client, a: CreateArgs) -> Result<(), CliError> {
    let mut spec = create_spec(&a)?;
    service_refs::apply(c, &mut spec, RefKind::Secret, &a.secret, &[]).await?;
    service_refs::apply(c, &mut spec, RefKind::Config, &a.config, &[]).await?;
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Created {
        #[serde(rename = "ID")]
        id: String,
        #[serde(default, deserialize_with = "shoal_types::validate::null_as_default")]
        warnings: Vec<String>,
    }
    let resp: Created = c.post_json("/services/create", &spec).await?;
    resp.warnings.iter().for_each(|w| eprintln!("{w}"));
    println!("{}", resp.id);
    if a.common.detach {
        return Ok(());
    }
    wait_on_service(c, &resp.id, a.common.quiet).await
}

async fn get_service(c: &Client, r: &str, defaults: bool) -> Result<Service, CliError> {
    let q = query(&[("insertDefaults", defaults.to_string())]);
    c.get_json(&format!("/services/{}{q}", path_escape(r)))
        .await
}

/// `POST /services/{id}/update` with the spec of `s` at its version; `rollback` asks for
/// `rollback=previous`, `auth_from_spec` for `registryAuthFrom=spec` (docker's `service
/// update` sends it; `scale` and `rollback` do not).
async fn post_update(
    c: &Client,
    s: &Service,
    rollback: bool,
    auth_from_spec: bool,
) -> Result<(), CliError> {
    let mut params = vec![("version", s.meta.version.index.to_string())];
    if auth_from_spec {
        params.push(("registryAuthFrom", "spec".into()));
    }
    if rollback {
        params.push(("rollback", "previous".into()));
    }
    let path = format!("/services/{}/update{}", path_escape(&s.id), query(&params));
    let resp: Value = c.post_json(&path, &s.spec).await?;
    resp["Warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .for_each(|w| eprintln!("{w}"));
    Ok(())
}

/// How often a read-modify-write of a service is tried when the service changed in between
/// (the managers write a service's update status as its rollout moves on).
const UPDATE_ATTEMPTS: usize = 5;

/// Reads the service, changes it with `change` and posts it back, reading it again and
/// redoing the change when another write came in between ("update out of sequence").
async fn read_modify_write(
    c: &Client,
    reference: &str,
    (rollback, auth_from_spec): (bool, bool),
    mut change: impl AsyncFnMut(&mut Service) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut attempt = 1;
    loop {
        let mut service = get_service(c, reference, false).await?;
        change(&mut service).await?;
        match post_update(c, &service, rollback, auth_from_spec).await {
            Err(e)
                if attempt < UPDATE_ATTEMPTS
                    && e.to_string().contains("update out of sequence") =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn update(c: &Client, a: UpdateArgs) -> Result<(), CliError> {
    read_modify_write(
        c,
        &a.service,
        (a.rollback, true),
        async |service: &mut Service| {
            merge_update(&mut service.spec, &a)?;
            let s = &mut service.spec;
            service_refs::apply(c, s, RefKind::Secret, &a.secret_add, &a.secret_rm).await?;
            service_refs::apply(c, s, RefKind::Config, &a.config_add, &a.config_rm).await
        },
    )
    .await?;
    println!("{}", a.service);
    if a.common.detach {
        return Ok(());
    }
    wait_on_service(c, &a.service, a.common.quiet).await
}

/// docker's `runRollback`: the current spec posted back with `rollback=previous` (the daemon
/// swaps in the previous spec), then the progress unless `-d`.
async fn rollback(c: &Client, a: RollbackArgs) -> Result<(), CliError> {
    read_modify_write(c, &a.service, (true, false), async |_: &mut Service| Ok(())).await?;
    println!("{}", a.service);
    if a.detach {
        return Ok(());
    }
    wait_on_service(c, &a.service, a.quiet).await
}

/// docker's `scaleArgs` check: every argument is `SERVICE=REPLICAS`.
fn check_scale_args(pairs: &[String]) -> Result<(), CliError> {
    for p in pairs {
        if !matches!(p.split_once('='), Some((k, v)) if !k.is_empty() && !v.is_empty()) {
            return Err(CliError::msg(format!(
                "invalid scale specifier '{p}'.\nSee 'shoal service scale --help'.\n\n\
                 Usage:  shoal service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\n\
                 Scale one or multiple replicated services"
            )));
        }
    }
    Ok(())
}

async fn scale(c: &Client, a: ScaleArgs) -> Result<(), CliError> {
    check_scale_args(&a.pairs)?;
    let mut errors = Vec::new();
    let mut scaled = Vec::new();
    for p in &a.pairs {
        let (name, n) = p.split_once('=').expect("checked");
        let Ok(replicas) = n.parse::<u64>() else {
            let why = if n.chars().all(|ch| ch.is_ascii_digit()) {
                "value out of range"
            } else {
                "invalid syntax"
            };
            errors.push(CliError::msg(format!(
                "{name}: invalid replicas value {n}: strconv.ParseUint: parsing \"{n}\": {why}"
            )));
            continue;
        };
        match scale_one(c, name, replicas).await {
            Ok(()) => {
                println!("{name} scaled to {replicas}");
                scaled.push(name);
            }
            Err(e) => errors.push(CliError::msg(format!("{name}: {e}"))),
        }
    }
    if !a.detach {
        for name in scaled {
            if let Err(e) = wait_on_service(c, name, false).await {
                errors.push(CliError::msg(format!("{name}: {e}")));
            }
        }
    }
    join(errors)
}

async fn scale_one(c: &Client, name: &str, replicas: u64) -> Result<(), CliError> {
    read_modify_write(c, name, (false, false), async |s: &mut Service| {
        let mode = s.spec.mode.get_or_insert_with(Default::default);
        if let Some(r) = mode.replicated.as_mut() {
            r.replicas = Some(replicas as i64);
        } else if let Some(j) = mode.replicated_job.as_mut() {
            j.total_completions = Some(replicas as i64);
        } else {
            return Err(CliError::msg(
                "scale can only be used with replicated or replicated-job mode",
            ));
        }
        Ok(())
    })
    .await
}

async fn rm(c: &Client, a: RmArgs) -> Result<(), CliError> {
    let mut errors = Vec::new();
    for r in &a.services {
        match c.delete(&format!("/services/{}", path_escape(r))).await {
            Ok(()) => println!("{r}"),
            Err(e) => errors.push(e),
        }
    }
    join(errors)
}

fn filters_query(pairs: &[(String, String)], extra: &[(&str, String)]) -> String {
    let mut filters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        filters.entry(k.clone()).or_default().push(v.clone());
    }
    let mut params: Vec<(&str, String)> = extra.to_vec();
    if !filters.is_empty() {
        params.push(("filters", filters_json(&filters)));
    }
    query(&params)
}

async fn ls(c: &Client, a: LsArgs) -> Result<(), CliError> {
    let q = filters_query(&a.filter, &[("status", "true".into())]);
    let mut services: Vec<Service> = c.get_json(&format!("/services{q}")).await?;
    let rows = ls_rows(&mut services);
    if a.quiet {
        rows.iter().skip(1).for_each(|r| println!("{}", r[0]));
        return Ok(());
    }
    print_rows(
        &rows,
        &["ID", "Name", "Mode", "Replicas", "Image", "Ports"],
        &a.format,
    )
}

/// A table, `json` lines, or a template per row (keys are docker's context field names).
fn print_rows(rows: &[Vec<String>], keys: &[&str], format: &str) -> Result<(), CliError> {
    if format.is_empty() {
        print!("{}", table(rows));
        return Ok(());
    }
    for row in rows.iter().skip(1) {
        let ctx: serde_json::Map<String, Value> = keys
            .iter()
            .zip(row)
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let ctx = Value::Object(ctx);
        if format == "json" {
            println!("{ctx}");
        } else {
            println!("{}", template::render(format, &ctx)?);
        }
    }
    Ok(())
}

pub(crate) async fn ps(c: &Client, a: PsArgs) -> Result<(), CliError> {
    let lookup = |key: &str| {
        let f: BTreeMap<String, Vec<String>> = [(key.to_string(), a.services.clone())].into();
        format!("/services{}", query(&[("filters", filters_json(&f))]))
    };
    let by_id: Vec<Service> = c.get_json(&lookup("id")).await?;
    let by_name: Vec<Service> = c.get_json(&lookup("name")).await?;
    let mut ids = Vec::new();
    let mut notfound = Vec::new();
    for r in &a.services {
        if let Some(s) = by_id
            .iter()
            .find(|s| &s.id == r)
            .or_else(|| by_name.iter().find(|s| s.name() == r))
        {
            ids.push(s.id.clone());
            continue;
        }
        let prefixed: Vec<&Service> = by_id
            .iter()
            .filter(|s| s.id.starts_with(r.as_str()))
            .collect();
        match prefixed.len() {
            0 => notfound.push(format!("no such service: {r}")),
            1 => ids.push(prefixed[0].id.clone()),
            _ => {
                return Err(CliError::msg(format!(
                    "multiple services found with provided prefix: {r}"
                )));
            }
        }
    }
    if ids.is_empty() {
        return Err(CliError::msg(notfound.join("\n")));
    }
    let mut pairs = a.filter.clone();
    for (k, v) in pairs.iter_mut() {
        if k == "node" && v == "self" {
            let info: Value = c.get_json("/info").await?;
            *v = info["Swarm"]["NodeID"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
    }
    pairs.extend(ids.iter().map(|id| ("service".to_string(), id.clone())));
    let tasks: Vec<TaskView> = c
        .get_json(&format!("/tasks{}", filters_query(&pairs, &[])))
        .await?;
    let ctx = ps_context(c, &tasks, by_id.iter().chain(&by_name), &a).await;
    if a.quiet {
        let rows = ps_rows(
            &tasks,
            &PsContext {
                trunc: false,
                ..ctx
            },
        );
        rows.iter().skip(1).for_each(|r| println!("{}", r[0]));
    } else {
        let keys = [
            "ID",
            "Name",
            "Image",
            "Node",
            "DesiredState",
            "CurrentState",
            "Error",
            "Ports",
        ];
        print_rows(&ps_rows(&tasks, &ctx), &keys, &a.format)?;
    }
    if notfound.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg(notfound.join("\n")))
    }
}

/// docker's `idresolver`: service and node names (hostnames), IDs when unresolved.
async fn ps_context<'a>(
    c: &Client,
    tasks: &[TaskView],
    known: impl Iterator<Item = &'a Service>,
    a: &PsArgs,
) -> PsContext {
    let mut service_names = BTreeMap::new();
    let mut node_names = BTreeMap::new();
    if !a.no_resolve {
        for s in known {
            service_names.insert(s.id.clone(), s.name().to_string());
        }
        for t in tasks {
            if !service_names.contains_key(&t.service_id)
                && let Ok(s) = get_service(c, &t.service_id, false).await
            {
                service_names.insert(s.id.clone(), s.name().to_string());
            }
            if t.node_id.is_empty() || node_names.contains_key(&t.node_id) {
                continue;
            }
            let node: Option<Value> = c
                .get_json(&format!("/nodes/{}", path_escape(&t.node_id)))
                .await
                .ok();
            let host = node
                .as_ref()
                .and_then(|n| n["Description"]["Hostname"].as_str())
                .unwrap_or(&t.node_id)
                .to_string();
            node_names.insert(t.node_id.clone(), host);
        }
    }
    PsContext {
        service_names,
        node_names,
        now_ns: now_ns(),
        trunc: !a.no_trunc,
    }
}

async fn inspect(c: &Client, a: InspectArgs) -> Result<(), CliError> {
    let format = if a.pretty {
        "pretty"
    } else {
        a.format.as_str()
    };
    if format.starts_with("pretty") && format != "pretty" {
        return Err(CliError::msg(
            "cannot supply extra formatting options to the pretty template",
        ));
    }
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for r in &a.services {
        match get_service(c, r, true).await {
            Ok(s) => found.push(s),
            Err(e) if e.status() == Some(404) => {
                errors.push(CliError::msg(format!("Error: no such service: {r}")))
            }
            Err(e) => errors.push(e),
        }
    }
    print!("{}", inspect_text(format, &found)?);
    join(errors)
}

/// Docker's 4-space indented JSON array by default, compact with `json`, the pretty text,
/// or a template per service.
pub(crate) fn inspect_text(format: &str, services: &[Service]) -> Result<String, CliError> {
    Ok(match format {
        "" => {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(services, &mut ser).expect("services serialise");
            String::from_utf8(buf).expect("UTF-8") + "\n"
        }
        "json" => serde_json::to_string(services).expect("services serialise") + "\n",
        "pretty" => services
            .iter()
            .map(|s| service_pretty::render(s, now_ns()) + "\n")
            .collect(),
        tmpl => {
            let mut out = String::new();
            for s in services {
                let v = serde_json::to_value(s).expect("services serialise");
                out += &(template::render(tmpl, &v)? + "\n");
            }
            out
        }
    })
}

/// docker's `WaitOnService`: polls the service, its up-to-date tasks and the nodes every
/// 200 ms and shows convergence until it is stable, fails, or Ctrl-C (the update goes on).
pub(crate) async fn wait_on_service(
    c: &Client,
    reference: &str,
    quiet: bool,
) -> Result<(), CliError> {
    let width = terminal_width();
    let mut renderer = Renderer::new(width.is_some(), width.unwrap_or(0));
    let mut progress = Progress::new(reference);
    let start = Instant::now();
    let mut out = std::io::stdout();
    let mut show = |msgs: &[crate::progress::Msg], renderer: &mut Renderer| {
        if !quiet {
            let text: String = msgs.iter().map(|m| renderer.render(m)).collect();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    };
    let result = loop {
        let snap = match snapshot(c, reference).await {
            Ok(s) => s,
            Err(e) => break Err(e),
        };
        let (msgs, outcome) = progress.step(start.elapsed(), &snap);
        show(&msgs, &mut renderer);
        match outcome {
            Outcome::Continue => {}
            Outcome::Done => break Ok(()),
            Outcome::Failed(e) => break Err(CliError::msg(e)),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = tokio::signal::ctrl_c() => {
                show(&progress.interrupted(), &mut renderer);
                break Ok(());
            }
        }
    };
    if !quiet {
        print!("{}", renderer.finish());
    }
    result
}

async fn snapshot(c: &Client, reference: &str) -> Result<Snapshot, CliError> {
    let service = get_service(c, reference, false).await?;
    let f: BTreeMap<String, Vec<String>> = [
        ("service".to_string(), vec![service.id.clone()]),
        ("_up-to-date".to_string(), vec!["true".to_string()]),
    ]
    .into();
    let tasks: Vec<TaskView> = c
        .get_json(&format!(
            "/tasks{}",
            query(&[("filters", filters_json(&f))])
        ))
        .await?;
    let nodes: Vec<Value> = c.get_json("/nodes").await?;
    let active_nodes = nodes
        .iter()
        .filter(|n| n["Status"]["State"] != "down")
        .filter_map(|n| n["ID"].as_str().map(str::to_string))
        .collect();
    Ok(Snapshot {
        service,
        tasks,
        active_nodes,
    })
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
