//! `shoal secret …` and `shoal config …`: create (from a file or `-` for stdin), ls, inspect,
//! rm, printing what docker/cli's `cli/command/secret` and `cli/command/config` print.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use base64::Engine;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::client::{Client, filters_json, path_escape, query};
use crate::duration::human_duration;
use crate::error::CliError;
use crate::flags::parse_filter;
use crate::service_table::{now_ns, unix_ns};
use crate::table::table;

/// `shoal secret …` / `shoal config …` (the same verbs).
#[derive(Debug, Subcommand)]
pub enum BlobCmd {
    /// Create from a file or STDIN as content
    Create(CreateArgs),
    /// List them
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more
    Inspect(InspectArgs),
    /// Remove one or more
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Store new content as a new version; services that use it roll to it (beyond Swarm)
    Update(UpdateArgs),
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The name or ID
    pub name: String,
    /// A file, or `-` to read STDIN
    pub file: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Labels ("key=value")
    #[arg(short, long)]
    pub label: Vec<String>,
    /// The name
    pub name: String,
    /// A file, or `-` to read STDIN
    pub file: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided (name=value)
    #[arg(short, long, value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Print the information in a human friendly format
    #[arg(long)]
    pub pretty: bool,
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
}

/// Which kind a command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Secret,
    Config,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Secret => "secrets",
            Kind::Config => "configs",
        }
    }
}

pub async fn run(c: &Client, kind: Kind, cmd: BlobCmd) -> Result<(), CliError> {
    match cmd {
        BlobCmd::Create(a) => create(c, kind, a).await,
        BlobCmd::Update(a) => update(c, kind, a).await,
        BlobCmd::Ls(a) => ls(c, kind, a).await,
        BlobCmd::Inspect(a) => inspect(c, kind, a).await,
        BlobCmd::Rm(a) => {
            let mut failed = Vec::new();
            for name in &a.names {
                match c
                    .delete(&format!("/{}/{}", kind.path(), path_escape(name)))
                    .await
                {
                    Ok(()) => println!("{name}"),
                    Err(e) => failed.push(e),
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(CliError::Multiple(failed))
            }
        }
    }
}

/// The content of `file` (`-` for stdin).
fn read_content(file: &str) -> Result<Vec<u8>, CliError> {
    let mut data = Vec::new();
    if file == "-" {
        std::io::stdin().read_to_end(&mut data)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut data))
    }
    .map_err(|e| CliError::msg(format!("error reading content from \"{file}\": {e}")))?;
    Ok(data)
}

async fn update(c: &Client, kind: Kind, a: UpdateArgs) -> Result<(), CliError> {
    let data = read_content(&a.file)?;
    let current: Value = c
        .get_json(&format!("/{}/{}", kind.path(), path_escape(&a.name)))
        .await?;
    let id = current["ID"].as_str().unwrap_or_default().to_string();
    let version = current["Version"]["Index"].as_u64().unwrap_or_default();
    let mut spec = current["Spec"].clone();
    spec["Data"] = json!(base64::engine::general_purpose::STANDARD.encode(&data));
    let q = query(&[("version", version.to_string())]);
    c.post_raw(&format!("/{}/{id}/update{q}", kind.path()), &spec)
        .await?;
    println!("{id}");
    Ok(())
}

async fn create(c: &Client, kind: Kind, a: CreateArgs) -> Result<(), CliError> {
    let data = read_content(&a.file)?;
    let labels: HashMap<String, String> = a
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    let spec = json!({
        "Name": a.name,
        "Labels": labels,
        "Data": base64::engine::general_purpose::STANDARD.encode(&data),
    });
    let created: Value = c
        .post_json(&format!("/{}/create", kind.path()), &spec)
        .await?;
    println!("{}", created["ID"].as_str().unwrap_or_default());
    Ok(())
}

async fn ls(c: &Client, kind: Kind, a: LsArgs) -> Result<(), CliError> {
    let mut filters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in a.filter {
        filters.entry(k).or_default().push(v);
    }
    let q = if filters.is_empty() {
        String::new()
    } else {
        query(&[("filters", filters_json(&filters))])
    };
    let mut items: Vec<Value> = c.get_json(&format!("/{}{q}", kind.path())).await?;
    items.sort_by(|x, y| name(x).cmp(name(y)));
    if a.quiet {
        items
            .iter()
            .for_each(|i| println!("{}", i["ID"].as_str().unwrap_or_default()));
        return Ok(());
    }
    print!("{}", table(&ls_rows(kind, &items, now_ns())));
    Ok(())
}

fn name(v: &Value) -> &str {
    v["Spec"]["Name"].as_str().unwrap_or_default()
}

/// docker's `secret ls` (ID, NAME, DRIVER, CREATED, UPDATED) and `config ls` (no DRIVER).
fn ls_rows(kind: Kind, items: &[Value], now: i128) -> Vec<Vec<String>> {
    let ago = |ts: &Value| {
        unix_ns(ts.as_str().unwrap_or_default()).map_or(String::new(), |t| {
            format!("{} ago", human_duration((now - t).max(0) as i64))
        })
    };
    let mut header = vec!["ID", "NAME", "DRIVER", "CREATED", "UPDATED"];
    if kind == Kind::Config {
        header.remove(2);
    }
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect()];
    for i in items {
        let mut row = vec![
            i["ID"].as_str().unwrap_or_default().to_string(),
            name(i).to_string(),
            i["Spec"]["Driver"]["Name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            ago(&i["CreatedAt"]),
            ago(&i["UpdatedAt"]),
        ];
        if kind == Kind::Config {
            row.remove(2);
        }
        rows.push(row);
    }
    rows
}

async fn inspect(c: &Client, kind: Kind, a: InspectArgs) -> Result<(), CliError> {
    let mut out = Vec::new();
    for n in &a.names {
        let v: Value = c
            .get_json(&format!("/{}/{}", kind.path(), path_escape(n)))
            .await?;
        out.push(v);
    }
    if !a.pretty {
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON serialises")
        );
        return Ok(());
    }
    for (k, v) in out.iter().enumerate() {
        if k > 0 {
            println!();
        }
        print!("{}", pretty(kind, v));
    }
    Ok(())
}

/// docker's `--pretty` layout (`secret inspect` has no data; `config inspect` prints it).
fn pretty(kind: Kind, v: &Value) -> String {
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    // docker/cli's `command.PrettyPrint`: first letter up, the rest down ("+0000 utc").
    let when = |k: &str| crate::table::pretty_print(&crate::timefmt::go_string(&text(k)));
    let mut s = format!("ID:\t\t\t{}\nName:\t\t\t{}\n", text("ID"), name(v));
    if let Some(labels) = v["Spec"]["Labels"].as_object().filter(|l| !l.is_empty()) {
        s.push_str("Labels:\n");
        for (k, val) in labels {
            s.push_str(&format!(" - {k}={}\n", val.as_str().unwrap_or_default()));
        }
    }
    if kind == Kind::Secret {
        s.push_str(&format!(
            "Driver:\t\t\t{}\n",
            v["Spec"]["Driver"]["Name"].as_str().unwrap_or_default()
        ));
    }
    s.push_str(&format!(
        "Created at:            \t{}\nUpdated at:            \t{}\n",
        when("CreatedAt"),
        when("UpdatedAt")
    ));
    if kind == Kind::Config {
        let data = base64::engine::general_purpose::STANDARD
            .decode(v["Spec"]["Data"].as_str().unwrap_or_default())
            .unwrap_or_default();
        s.push_str(&format!("Data:\n{}\n", String::from_utf8_lossy(&data)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_columns_like_docker() {
        let items = vec![json!({"ID": "abc", "CreatedAt": "2026-11-22T01:00:00Z",
            "UpdatedAt": "2026-11-22T01:00:00Z", "Spec": {"Name": "db"}})];
        let now = unix_ns("2026-11-22T01:05:00Z").unwrap();
        let rows = ls_rows(Kind::Secret, &items, now);
        assert_eq!(rows[0], ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"]);
        assert_eq!(rows[1], ["abc", "db", "", "5 minutes ago", "5 minutes ago"]);
        let rows = ls_rows(Kind::Config, &items, now);
        assert_eq!(rows[0], ["ID", "NAME", "CREATED", "UPDATED"]);
    }
}
