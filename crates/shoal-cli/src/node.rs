//! `shoal node ls|inspect|update|rm|promote|demote`, mirroring docker/cli's
//! `cli/command/node`.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use shoal_types::{Availability, Node, NodeRole};

use crate::client::{Client, filters_json, path_escape, query};
use crate::error::CliError;
use crate::flags::{parse_availability, parse_filter, parse_role};
use crate::node_pretty::{self, wire_name};
use crate::system::SystemInfo;
use crate::table::{natural_cmp, pretty_print, table};
use crate::template;

/// `shoal node …`
#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// List nodes in the swarm
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more nodes
    Inspect(InspectArgs),
    /// Update a node
    Update(UpdateArgs),
    /// Remove one or more nodes from the swarm
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Promote one or more nodes to manager in the swarm
    Promote(NodesArgs),
    /// Demote one or more nodes from manager in the swarm
    Demote(NodesArgs),
}

/// `node ls` flags.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided (name=value)
    #[arg(short, long, value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
    /// Format output: `json`, or a template such as '{{.Hostname}}'
    #[arg(long, default_value = "")]
    pub format: String,
}

/// `node inspect` flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output: `json`, `pretty`, or a template such as '{{.Status.Addr}}'
    #[arg(short, long, default_value = "")]
    pub format: String,
    /// Print the information in a human friendly format
    #[arg(long)]
    pub pretty: bool,
    /// `self` or node IDs/names
    #[arg(required = true, value_name = "self|NODE")]
    pub nodes: Vec<String>,
}

/// `node update` flags.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Availability of the node ("active", "pause", "drain")
    #[arg(long, value_parser = parse_availability)]
    pub availability: Option<Availability>,
    /// Role of the node ("worker", "manager")
    #[arg(long, value_parser = parse_role)]
    pub role: Option<NodeRole>,
    /// Add or update a node label ("key=value")
    #[arg(long = "label-add")]
    pub label_add: Vec<String>,
    /// Remove a node label if exists
    #[arg(long = "label-rm")]
    pub label_rm: Vec<String>,
    /// The node to update
    pub node: String,
}

/// `node rm` flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force remove a node from the swarm
    #[arg(short, long)]
    pub force: bool,
    /// Nodes to remove
    #[arg(required = true, value_name = "NODE")]
    pub nodes: Vec<String>,
}

/// Nodes for `promote` / `demote`.
#[derive(Debug, Args)]
pub struct NodesArgs {
    /// Nodes to change
    #[arg(required = true, value_name = "NODE")]
    pub nodes: Vec<String>,
}

/// Runs one `node` subcommand.
pub async fn run(c: &Client, cmd: NodeCmd) -> Result<(), CliError> {
    match cmd {
        NodeCmd::Ls(a) => ls(c, a).await,
        NodeCmd::Inspect(a) => inspect(c, a).await,
        NodeCmd::Update(a) => {
            let ok = |r: &str| println!("{r}");
            update_nodes(
                c,
                std::slice::from_ref(&a.node),
                |n| merge_update(&a, n),
                ok,
            )
            .await
        }
        NodeCmd::Rm(a) => remove(c, a).await,
        NodeCmd::Promote(a) => {
            let ok = |id: &str| println!("Node {id} promoted to a manager in the swarm.");
            update_nodes(c, &a.nodes, |n| set_role(n, NodeRole::Manager), ok).await
        }
        NodeCmd::Demote(a) => {
            let ok = |id: &str| println!("Manager {id} demoted in the swarm.");
            update_nodes(c, &a.nodes, |n| set_role(n, NodeRole::Worker), ok).await
        }
    }
}

async fn ls(c: &Client, a: LsArgs) -> Result<(), CliError> {
    let mut filters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in a.filter {
        filters.entry(k).or_default().push(v);
    }
    let q = if filters.is_empty() {
        String::new()
    } else {
        query(&[("filters", filters_json(&filters))])
    };
    let mut nodes: Vec<Node> = c.get_json(&format!("/nodes{q}")).await?;
    // Docker reads /info only to mark the current node, so not for -q or an empty list.
    let info = if nodes.is_empty() || a.quiet {
        SystemInfo::default()
    } else {
        c.get_json("/info").await?
    };
    sort_nodes(&mut nodes);
    if a.quiet {
        nodes.iter().for_each(|n| println!("{}", n.id));
        return Ok(());
    }
    match a.format.as_str() {
        "" => print!("{}", table(&ls_rows(&nodes, &info.swarm.node_id))),
        "json" => nodes
            .iter()
            .for_each(|n| println!("{}", row_context(n, &info))),
        tmpl => {
            for n in &nodes {
                println!("{}", template::render(tmpl, &row_context(n, &info))?);
            }
        }
    }
    Ok(())
}

/// Docker's order: natural order of hostnames (`node2` before `node10`); the ID breaks ties
/// so the output is stable.
pub(crate) fn sort_nodes(nodes: &mut [Node]) {
    nodes.sort_by(|a, b| {
        natural_cmp(&a.description.hostname, &b.description.hostname).then_with(|| a.id.cmp(&b.id))
    });
}

/// The header and one row per node of docker's default `node ls` table
/// (`{{.ID}} {{if .Self}}*{{else}} {{end}}\t{{.Hostname}}\t…`).
pub(crate) fn ls_rows(nodes: &[Node], self_id: &str) -> Vec<Vec<String>> {
    let header = [
        "ID  ",
        "HOSTNAME",
        "STATUS",
        "AVAILABILITY",
        "MANAGER STATUS",
        "ENGINE VERSION",
    ];
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect()];
    for n in nodes {
        let mark = if n.id == self_id { "*" } else { " " };
        rows.push(vec![
            format!("{} {mark}", n.id),
            n.description.hostname.clone(),
            status_cell(n),
            pretty_print(n.spec.availability.as_str()),
            manager_status_cell(n),
            n.description.engine.engine_version.clone(),
        ]);
    }
    rows
}

/// `Ready`, `Down`, `Unknown`, `Disconnected`.
pub(crate) fn status_cell(n: &Node) -> String {
    pretty_print(n.status.state.as_str())
}

/// `Leader`, else the reachability capitalised; empty for workers.
pub(crate) fn manager_status_cell(n: &Node) -> String {
    match &n.manager_status {
        None => String::new(),
        Some(ms) if ms.leader => "Leader".into(),
        Some(ms) => pretty_print(&wire_name(&ms.reachability)),
    }
}

/// The fields docker's `node ls --format` templates see (its `nodeContext`).
fn row_context(n: &Node, info: &SystemInfo) -> Value {
    let cluster_tls = info.swarm.cluster.as_ref().map(|c| &c.tls_info);
    let empty = shoal_types::TlsInfo::default();
    let tls = match cluster_tls {
        Some(ct) if *ct != empty && n.description.tls_info != empty => {
            if n.description.tls_info == *ct {
                "Ready"
            } else {
                "Needs Rotation"
            }
        }
        _ => "Unknown",
    };
    json!({
        "ID": n.id, "Self": n.id == info.swarm.node_id, "Hostname": n.description.hostname,
        "Status": status_cell(n), "Availability": pretty_print(n.spec.availability.as_str()),
        "ManagerStatus": manager_status_cell(n), "EngineVersion": n.description.engine.engine_version,
        "TLSStatus": tls,
    })
}

/// Docker's `node.Reference`: `self` is this daemon's node ID from `/info`.
async fn reference(c: &Client, r: &str) -> Result<String, CliError> {
    if r != "self" {
        return Ok(r.to_string());
    }
    let info: SystemInfo = c.get_json("/info").await?;
    if info.swarm.node_id.is_empty() {
        // A node list gives the daemon's own, more precise error (e.g. not a manager).
        c.get_raw("/nodes").await?;
        return Err(CliError::msg("node ID not found in /info"));
    }
    Ok(info.swarm.node_id)
}

async fn get_node(c: &Client, r: &str) -> Result<Node, CliError> {
    let id = reference(c, r).await?;
    c.get_json(&format!("/nodes/{}", path_escape(&id))).await
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
    for r in &a.nodes {
        match get_node(c, r).await {
            Ok(n) => found.push(n),
            Err(e) => errors.push(e),
        }
    }
    print!("{}", inspect_text(format, &found)?);
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(CliError::Multiple(errors)),
    }
}

/// The inspect output for the nodes found: docker's 4-space indented JSON array by default,
/// compact with `json`, the pretty text, or a template per node.
pub(crate) fn inspect_text(format: &str, nodes: &[Node]) -> Result<String, CliError> {
    let mut out = String::new();
    match format {
        "" => out = indented_json(nodes) + "\n",
        "json" => out = serde_json::to_string(nodes).expect("nodes serialise") + "\n",
        "pretty" => nodes
            .iter()
            .for_each(|n| out += &(node_pretty::render(n) + "\n")),
        tmpl => {
            for n in nodes {
                let v = serde_json::to_value(n).expect("nodes serialise");
                out += &(template::render(tmpl, &v)? + "\n");
            }
        }
    }
    Ok(out)
}

/// Go's `json.MarshalIndent(v, "", "    ")`.
fn indented_json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser).expect("JSON values serialise");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// What a merge decided: update the node, or skip it (role already as asked).
enum Merge {
    Update,
    Skip,
}

/// Docker's `updateNodes`: read, merge, write back with the version read; stops at the first
/// error.
async fn update_nodes(
    c: &Client,
    refs: &[String],
    mut merge: impl FnMut(&mut Node) -> Result<Merge, CliError>,
    success: impl Fn(&str),
) -> Result<(), CliError> {
    for r in refs {
        let mut node: Node = c.get_json(&format!("/nodes/{}", path_escape(r))).await?;
        if let Merge::Skip = merge(&mut node)? {
            continue;
        }
        let q = query(&[("version", node.meta.version.index.to_string())]);
        c.post_raw(
            &format!("/nodes/{}/update{q}", path_escape(&node.id)),
            &node.spec,
        )
        .await?;
        success(r);
    }
    Ok(())
}

fn set_role(n: &mut Node, role: NodeRole) -> Result<Merge, CliError> {
    if n.spec.role == role {
        match role {
            NodeRole::Manager => println!("Node {} is already a manager.", n.id),
            NodeRole::Worker => println!("Node {} is already a worker.", n.id),
        }
        return Ok(Merge::Skip);
    }
    n.spec.role = role;
    Ok(Merge::Update)
}

/// Docker's `mergeNodeUpdate`.
fn merge_update(a: &UpdateArgs, n: &mut Node) -> Result<Merge, CliError> {
    if let Some(role) = a.role {
        n.spec.role = role;
    }
    if let Some(av) = a.availability {
        n.spec.availability = av;
    }
    for kv in &a.label_add {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        n.spec.labels.insert(k.to_string(), v.to_string());
    }
    for k in &a.label_rm {
        if n.spec.labels.remove(k).is_none() {
            return Err(CliError::msg(format!(
                "key {k} doesn't exist in node's labels"
            )));
        }
    }
    Ok(Merge::Update)
}

async fn remove(c: &Client, a: RmArgs) -> Result<(), CliError> {
    let q = if a.force {
        query(&[("force", "1".to_string())])
    } else {
        String::new()
    };
    let mut errors = Vec::new();
    for id in &a.nodes {
        match c.delete(&format!("/nodes/{}{q}", path_escape(id))).await {
            Ok(()) => println!("{id}"),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(CliError::Multiple(errors)),
    }
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
