//! `shoal stack deploy|ls|services|rm`, as docker/cli's `cli/command/stack` does them: the
//! compose files are loaded and converted here (crate shoal-compose), then networks, secrets,
//! configs and services are created or updated through the API, all labelled with the stack.
//! Beyond docker, a service whose `depends_on` asks for `condition: service_healthy` is
//! created or updated only once that dependency is healthy (`stack_wait`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use shoal_compose::STACK_NAMESPACE_LABEL;
use shoal_types::Service;
use shoal_types::service::ServiceSpec;

use crate::client::{Client, filters_json, path_escape, query};
use crate::error::CliError;
use crate::table::table;

/// `shoal stack …`
#[derive(Debug, Subcommand)]
pub enum StackCmd {
    /// Deploy a new stack or update an existing stack
    #[command(visible_alias = "up")]
    Deploy(DeployArgs),
    /// List stacks
    #[command(visible_alias = "list")]
    Ls,
    /// List the services in the stack
    Services(NameArg),
    /// List the tasks in the stack
    Ps(NameArg),
    /// Remove one or more stacks
    #[command(visible_alias = "remove", visible_alias = "down")]
    Rm(NamesArg),
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Path to a Compose file
    #[arg(short = 'c', long = "compose-file", required = true)]
    pub compose_file: Vec<String>,
    /// Prune services that are no longer referenced
    #[arg(long)]
    pub prune: bool,
    /// Exit immediately instead of waiting for the stack services to converge
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub detach: bool,
    /// Query the registry to resolve image digest and supported platforms ("always",
    /// "changed", "never"); shoal reaches no registry, so images are always used as named
    #[arg(long = "resolve-image", default_value = "always")]
    pub resolve_image: String,
    /// How long to wait for a `depends_on` dependency with `condition: service_healthy` to
    /// become healthy before failing (beyond docker, which ignores depends_on)
    #[arg(long = "healthy-timeout", env = "SHOAL_STACK_HEALTHY_TIMEOUT",
          default_value = crate::stack_wait::DEFAULT_TIMEOUT,
          value_parser = crate::stack_wait::parse_timeout)]
    pub healthy_timeout: Duration,
    /// Stack name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NameArg {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NamesArg {
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub async fn run(c: &Client, cmd: StackCmd) -> Result<(), CliError> {
    match cmd {
        StackCmd::Deploy(a) => deploy(c, a).await,
        StackCmd::Ls => ls(c).await,
        StackCmd::Services(a) => services(c, &a.name).await,
        StackCmd::Ps(a) => ps(c, &a.name).await,
        StackCmd::Rm(a) => {
            for name in &a.names {
                remove(c, name).await?;
            }
            Ok(())
        }
    }
}

fn label_filter(stack: Option<&str>) -> String {
    let value = match stack {
        Some(s) => format!("{STACK_NAMESPACE_LABEL}={s}"),
        None => STACK_NAMESPACE_LABEL.to_string(),
    };
    let filters = BTreeMap::from([("label".to_string(), vec![value])]);
    query(&[("filters", filters_json(&filters))])
}

async fn deploy(c: &Client, a: DeployArgs) -> Result<(), CliError> {
    let paths: Vec<&Path> = a.compose_file.iter().map(Path::new).collect();
    let dotenv = dotenv_beside(paths[0])?;
    // The environment wins over `.env`, as compose has it.
    let lookup = |k: &str| std::env::var(k).ok().or_else(|| dotenv.get(k).cloned());
    let loaded = shoal_compose::load(&paths, &lookup).map_err(|e| CliError::msg(e.to_string()))?;
    for w in &loaded.warnings {
        eprint!("{w}");
    }
    let stack = shoal_compose::convert(&a.name, &loaded.compose)
        .map_err(|e| CliError::msg(e.to_string()))?;
    // Everything that can fail without the cluster fails before the first API call, so a bad
    // file (or a missing `file:` of a secret or config) leaves nothing half-created.
    let secret_data = stack
        .secrets
        .iter()
        .map(|s| read_content(&s.file))
        .collect::<Result<Vec<_>, _>>()?;
    let config_data = stack
        .configs
        .iter()
        .map(|c| read_content(&c.file))
        .collect::<Result<Vec<_>, _>>()?;
    let existing: Vec<Value> = c
        .get_json(&format!("/networks{}", label_filter(Some(&a.name))))
        .await?;
    for net in &stack.networks {
        if existing.iter().any(|n| n["Name"] == net.name.as_str()) {
            continue;
        }
        println!("Creating network {}", net.name);
        c.post_raw("/networks/create", net).await?;
    }
    for (s, data) in stack.secrets.iter().zip(secret_data) {
        let name = s.spec.name.clone().unwrap_or_default();
        upsert(c, "secrets", "secret", &name, json!(s.spec), data).await?;
    }
    for (cf, data) in stack.configs.iter().zip(config_data) {
        let name = cf.spec.name.clone().unwrap_or_default();
        upsert(c, "configs", "config", &name, json!(cf.spec), data).await?;
    }
    let current: Vec<Service> = c
        .get_json(&format!("/services{}", label_filter(Some(&a.name))))
        .await?;
    let full_names: HashMap<&str, String> = stack
        .services
        .iter()
        .map(|(short, s)| (short.as_str(), s.name.clone().unwrap_or(short.clone())))
        .collect();
    let mut healthy: HashSet<String> = HashSet::new();
    for (short, spec) in &stack.services {
        let name = spec.name.clone().unwrap_or_else(|| short.clone());
        // Dependencies come first, so each is created (or updated) by now. One the file does
        // not define is ignored, as `depends_on` is elsewhere.
        for (_, dep) in stack.wait_healthy.iter().filter(|(s, _)| s == short) {
            let Some(dep) = full_names.get(dep.as_str()) else {
                continue;
            };
            if healthy.insert(dep.clone()) {
                crate::stack_wait::wait_healthy(c, dep, &name, a.healthy_timeout).await?;
            }
        }
        let spec = with_ids(c, as_docker_sends(spec.clone())).await?;
        match current
            .iter()
            .find(|s| s.spec.name.as_deref() == Some(name.as_str()))
        {
            Some(s) => {
                println!("Updating service {name} (id: {})", s.id);
                let q = query(&[("version", s.meta.version.index.to_string())]);
                c.post_raw(&format!("/services/{}/update{q}", s.id), &spec)
                    .await?;
            }
            None => {
                println!("Creating service {name}");
                c.post_raw("/services/create", &spec).await?;
            }
        }
    }
    if a.prune {
        let wanted: Vec<String> = stack
            .services
            .iter()
            .filter_map(|(_, s)| s.name.clone())
            .collect();
        for s in current
            .iter()
            .filter(|s| !wanted.contains(&s.name().to_string()))
        {
            println!("Removing service {}", s.name());
            c.delete(&format!("/services/{}", s.id)).await?;
        }
    }
    if !a.detach {
        for (_, s) in &stack.services {
            let name = s.name.clone().unwrap_or_default();
            crate::service::wait_on_service(c, &name, false).await?;
        }
    }
    Ok(())
}

/// The variables of the `.env` file beside the first compose file, if there is one.
fn dotenv_beside(first: &Path) -> Result<HashMap<String, String>, CliError> {
    let path = first.parent().unwrap_or(Path::new(".")).join(".env");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(HashMap::new());
    };
    let vars = shoal_compose::parse_env_file(&text)
        .map_err(|e| CliError::msg(format!("{}: {e}", path.display())))?;
    Ok(vars
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// `stack ps`: `service ps` over the stack's services.
async fn ps(c: &Client, stack: &str) -> Result<(), CliError> {
    let services: Vec<Service> = c
        .get_json(&format!("/services{}", label_filter(Some(stack))))
        .await?;
    if services.is_empty() {
        return Err(CliError::msg(format!("nothing found in stack: {stack}")));
    }
    let args = crate::service::PsArgs {
        quiet: false,
        no_trunc: false,
        no_resolve: false,
        filter: Vec::new(),
        format: String::new(),
        services: services.iter().map(|s| s.id.clone()).collect(),
    };
    crate::service::ps(c, args).await
}

/// The content of a secret's or config's `file:`.
fn read_content(file: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(file)
        .map_err(|e| CliError::msg(format!("error reading content from \"{file}\": {e}")))
}

/// Creates the secret or config with `data`, or updates it (a new version when the content
/// changed, beyond Swarm).
async fn upsert(
    c: &Client,
    path: &str,
    noun: &str,
    name: &str,
    mut spec: Value,
    data: Vec<u8>,
) -> Result<(), CliError> {
    spec["Data"] = json!(base64::engine::general_purpose::STANDARD.encode(data));
    match c
        .get_json::<Value>(&format!("/{path}/{}", path_escape(name)))
        .await
    {
        Ok(found) => {
            println!("Updating {noun} {name}");
            let id = found["ID"].as_str().unwrap_or_default();
            let version = found["Version"]["Index"].as_u64().unwrap_or_default();
            let q = query(&[("version", version.to_string())]);
            c.post_raw(&format!("/{path}/{id}/update{q}"), &spec)
                .await?;
        }
        Err(e) if e.status() == Some(404) => {
            println!("Creating {noun} {name}");
            c.post_raw(&format!("/{path}/create"), &spec).await?;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// The spec as docker's CLI sends it for the same file, so both make the same service: the
/// image tagged `latest` when it names no tag or digest, and empty `Resources` and
/// `Privileges` rather than none.
fn as_docker_sends(mut spec: ServiceSpec) -> ServiceSpec {
    let Some(task) = spec.task_template.as_mut() else {
        return spec;
    };
    task.resources.get_or_insert_with(Default::default);
    if let Some(cs) = task.container_spec.as_mut() {
        if let Some(image) = cs.image.as_mut() {
            let last = image.rsplit('/').next().unwrap_or_default();
            if !last.contains(':') && !image.contains('@') {
                image.push_str(":latest");
            }
        }
        cs.privileges
            .get_or_insert_with(Default::default)
            .no_new_privileges
            .get_or_insert(false);
    }
    spec
}

/// The IDs of the secrets and configs a converted spec names.
async fn with_ids(c: &Client, mut spec: ServiceSpec) -> Result<ServiceSpec, CliError> {
    let Some(cs) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.container_spec.as_mut())
    else {
        return Ok(spec);
    };
    let ids = |kind: &'static str| async move {
        let all: Vec<Value> = c.get_json(&format!("/{kind}")).await?;
        Ok::<HashMap<String, String>, CliError>(
            all.iter()
                .map(|o| {
                    (
                        o["Spec"]["Name"].as_str().unwrap_or_default().to_string(),
                        o["ID"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        )
    };
    if let Some(refs) = cs.secrets.as_mut() {
        let known = ids("secrets").await?;
        for r in refs {
            let name = r.secret_name.clone().unwrap_or_default();
            r.secret_id = Some(
                known
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| CliError::msg(format!("secret not found: {name}")))?,
            );
        }
    }
    if let Some(refs) = cs.configs.as_mut() {
        let known = ids("configs").await?;
        for r in refs {
            let name = r.config_name.clone().unwrap_or_default();
            r.config_id = Some(
                known
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| CliError::msg(format!("config not found: {name}")))?,
            );
        }
    }
    Ok(spec)
}

async fn ls(c: &Client) -> Result<(), CliError> {
    let services: Vec<Service> = c
        .get_json(&format!("/services{}", label_filter(None)))
        .await?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for s in &services {
        let ns = s
            .spec
            .labels
            .as_ref()
            .and_then(|l| l.get(STACK_NAMESPACE_LABEL))
            .cloned()
            .unwrap_or_default();
        *counts.entry(ns).or_default() += 1;
    }
    let mut rows = vec![vec!["NAME".to_string(), "SERVICES".to_string()]];
    rows.extend(counts.into_iter().map(|(n, k)| vec![n, k.to_string()]));
    print!("{}", table(&rows));
    Ok(())
}

async fn services(c: &Client, stack: &str) -> Result<(), CliError> {
    let q = format!("{}&status=true", label_filter(Some(stack)));
    let mut services: Vec<Service> = c.get_json(&format!("/services{q}")).await?;
    if services.is_empty() {
        eprintln!("Nothing found in stack: {stack}");
        return Ok(());
    }
    print!("{}", table(&crate::service_table::ls_rows(&mut services)));
    Ok(())
}

/// Services, secrets, configs, then networks, as docker/cli removes them.
async fn remove(c: &Client, stack: &str) -> Result<(), CliError> {
    let f = label_filter(Some(stack));
    let services: Vec<Value> = c.get_json(&format!("/services{f}")).await?;
    let secrets: Vec<Value> = c.get_json(&format!("/secrets{f}")).await?;
    let configs: Vec<Value> = c.get_json(&format!("/configs{f}")).await?;
    let networks: Vec<Value> = c.get_json(&format!("/networks{f}")).await?;
    if services.is_empty() && secrets.is_empty() && configs.is_empty() && networks.is_empty() {
        eprintln!("Nothing found in stack: {stack}");
        return Ok(());
    }
    let name = |v: &Value| {
        v["Spec"]["Name"]
            .as_str()
            .or(v["Name"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let id = |v: &Value| {
        v["ID"]
            .as_str()
            .or(v["Id"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    for (noun, path, list) in [
        ("service", "services", &services),
        ("secret", "secrets", &secrets),
        ("config", "configs", &configs),
        ("network", "networks", &networks),
    ] {
        for o in list {
            println!("Removing {noun} {}", name(o));
            c.delete(&format!("/{path}/{}", id(o))).await?;
        }
    }
    Ok(())
}
