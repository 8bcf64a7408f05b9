//! `shoal swarm init|join|join-token|leave|update`, mirroring docker/cli's
//! `cli/command/swarm`.
//!
//! Where docker's text says `docker swarm join`, shoal's own output says `shoal swarm join`
//! (the join line and the `join-token manager` hint) so a user can paste it; every other
//! text is docker's word for word.

use clap::{Args, Subcommand};
use serde::Deserialize;
use shoal_types::info::{InitRequest, JoinRequest};
use shoal_types::{Availability, Node, Swarm, SwarmSpec};

use crate::client::{Client, path_escape, query};
use crate::duration::parse_duration;
use crate::error::CliError;
use crate::flags::{parse_availability, parse_cidr, parse_listen_addr};
use crate::system::SystemInfo;

/// `shoal swarm …`
#[derive(Debug, Subcommand)]
pub enum SwarmCmd {
    /// Initialize a swarm
    Init(InitArgs),
    /// Join a swarm as a node and/or manager
    Join(JoinArgs),
    /// Manage join tokens
    JoinToken(JoinTokenArgs),
    /// Leave the swarm
    Leave(LeaveArgs),
    /// Update the swarm
    #[command(arg_required_else_help = true)]
    Update(UpdateArgs),
    /// Unlock swarm
    Unlock,
    /// Manage the unlock key
    UnlockKey(crate::swarm_lock::UnlockKeyArgs),
}

/// Cluster settings shared by `init` and `update` (docker's `addSwarmFlags`); only the
/// flags given change the spec.
#[derive(Debug, Args)]
pub struct SpecFlags {
    /// Task history retention limit
    #[arg(long)]
    pub task_history_limit: Option<i64>,
    /// Dispatcher heartbeat period (ns|us|ms|s|m|h)
    #[arg(long, value_parser = parse_duration)]
    pub dispatcher_heartbeat: Option<i64>,
    /// Validity period for node certificates (ns|us|ms|s|m|h)
    #[arg(long, value_parser = parse_duration)]
    pub cert_expiry: Option<i64>,
    /// Number of additional Raft snapshots to retain
    #[arg(long)]
    pub max_snapshots: Option<u64>,
    /// Number of log entries between Raft snapshots
    #[arg(long)]
    pub snapshot_interval: Option<u64>,
}

impl SpecFlags {
    /// Docker's `mergeSwarmSpec`.
    fn merge(&self, spec: &mut SwarmSpec) {
        if let Some(v) = self.task_history_limit {
            spec.orchestration.task_history_retention_limit = v;
        }
        if let Some(v) = self.dispatcher_heartbeat {
            spec.dispatcher.heartbeat_period = v;
        }
        if let Some(v) = self.cert_expiry {
            spec.ca_config.node_cert_expiry = v;
        }
        if let Some(v) = self.max_snapshots {
            spec.raft.keep_old_snapshots = v;
        }
        if let Some(v) = self.snapshot_interval {
            spec.raft.snapshot_interval = v;
        }
    }
}

/// `swarm init` flags.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Listen address (format: "<ip|interface>[:port]")
    #[arg(long, default_value = "0.0.0.0:2377", value_parser = parse_listen_addr)]
    pub listen_addr: String,
    /// Advertised address (format: "<ip|interface>[:port]")
    #[arg(long, default_value = "")]
    pub advertise_addr: String,
    /// Address or interface to use for data path traffic (format: "<ip|interface>")
    #[arg(long, default_value = "")]
    pub data_path_addr: String,
    /// Port number to use for data path traffic (1024 - 49151); 0 uses the default (4789)
    #[arg(long, default_value_t = 0)]
    pub data_path_port: u32,
    /// Force create a new cluster from current state
    #[arg(long)]
    pub force_new_cluster: bool,
    /// Enable manager autolocking (requiring an unlock key to start a stopped manager)
    #[arg(long)]
    pub autolock: bool,
    /// Availability of the node ("active", "pause", "drain")
    #[arg(long, value_parser = parse_availability)]
    pub availability: Option<Availability>,
    /// default address pool in CIDR format
    #[arg(long, value_delimiter = ',', value_parser = parse_cidr)]
    pub default_addr_pool: Vec<String>,
    /// default address pool subnet mask length
    #[arg(long, default_value_t = 24)]
    pub default_addr_pool_mask_length: u32,
    #[command(flatten)]
    pub spec: SpecFlags,
}

/// `swarm join` flags.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// Token for entry into the swarm
    #[arg(long, required = true)]
    pub token: String,
    /// Listen address (format: "<ip|interface>[:port]")
    #[arg(long, default_value = "0.0.0.0:2377", value_parser = parse_listen_addr)]
    pub listen_addr: String,
    /// Advertised address (format: "<ip|interface>[:port]")
    #[arg(long, default_value = "")]
    pub advertise_addr: String,
    /// Address or interface to use for data path traffic (format: "<ip|interface>")
    #[arg(long, default_value = "")]
    pub data_path_addr: String,
    /// Availability of the node ("active", "pause", "drain")
    #[arg(long, value_parser = parse_availability)]
    pub availability: Option<Availability>,
    /// A manager's address (HOST:PORT)
    pub remote: String,
}

/// `swarm join-token` flags.
#[derive(Debug, Args)]
pub struct JoinTokenArgs {
    /// Rotate join token
    #[arg(long)]
    pub rotate: bool,
    /// Only display token
    #[arg(short, long)]
    pub quiet: bool,
    /// worker or manager
    pub role: String,
}

/// `swarm leave` flags.
#[derive(Debug, Args)]
pub struct LeaveArgs {
    /// Force this node to leave the swarm, ignoring warnings
    #[arg(short, long)]
    pub force: bool,
}

/// `swarm update` flags.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Change manager autolocking setting (true|false)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub autolock: Option<bool>,
    #[command(flatten)]
    pub spec: SpecFlags,
}

/// Runs one `swarm` subcommand.
pub async fn run(c: &Client, cmd: SwarmCmd) -> Result<(), CliError> {
    match cmd {
        SwarmCmd::Init(a) => init(c, a).await,
        SwarmCmd::Join(a) => join(c, a).await,
        SwarmCmd::JoinToken(a) => join_token(c, a).await,
        SwarmCmd::Leave(a) => leave(c, a).await,
        SwarmCmd::Update(a) => update(c, a).await,
        SwarmCmd::Unlock => crate::swarm_lock::unlock(c).await,
        SwarmCmd::UnlockKey(a) => crate::swarm_lock::unlock_key(c, a).await,
    }
}

async fn init(c: &Client, a: InitArgs) -> Result<(), CliError> {
    let mut spec = SwarmSpec::default();
    a.spec.merge(&mut spec);
    let req = InitRequest {
        listen_addr: a.listen_addr,
        advertise_addr: a.advertise_addr,
        data_path_addr: a.data_path_addr,
        data_path_port: a.data_path_port,
        force_new_cluster: a.force_new_cluster,
        default_addr_pool: a.default_addr_pool,
        subnet_size: a.default_addr_pool_mask_length,
        spec: Some(spec),
        auto_lock_managers: a.autolock,
        availability: a.availability,
    };
    let node_id: String = c
        .post_json("/swarm/init", &req)
        .await
        .map_err(advertise_hint)?;
    print!("Swarm initialized: current node ({node_id}) is now a manager.\n\n");
    print!("{}", join_command_text(c, &node_id, "worker").await?);
    println!(
        "To add a manager to this swarm, run 'shoal swarm join-token manager' and follow the \
         instructions."
    );
    if a.autolock {
        print!("{}", unlock_text(&unlock_key(c).await?));
    }
    Ok(())
}

/// Docker adds this hint when the daemon cannot pick an address by itself.
fn advertise_hint(e: CliError) -> CliError {
    let text = e.to_string();
    if text.contains("could not choose an IP address to advertise")
        || text.contains("could not find the system's IP address")
    {
        CliError::msg(format!("{text} - specify one with --advertise-addr"))
    } else {
        e
    }
}

async fn join(c: &Client, a: JoinArgs) -> Result<(), CliError> {
    let req = JoinRequest {
        listen_addr: a.listen_addr,
        advertise_addr: a.advertise_addr,
        data_path_addr: a.data_path_addr,
        remote_addrs: vec![a.remote],
        join_token: a.token,
        availability: a.availability,
    };
    c.post_raw("/swarm/join", &req).await?;
    let info: SystemInfo = c.get_json("/info").await?;
    let role = if info.swarm.control_available {
        "manager"
    } else {
        "worker"
    };
    println!("This node joined a swarm as a {role}.");
    Ok(())
}

async fn join_token(c: &Client, a: JoinTokenArgs) -> Result<(), CliError> {
    if a.role != "worker" && a.role != "manager" {
        return Err(CliError::msg(format!("unknown role {}", a.role)));
    }
    if a.rotate {
        let sw: Swarm = c.get_json("/swarm").await?;
        let flags = [
            ("rotateWorkerToken", a.role == "worker"),
            ("rotateManagerToken", a.role == "manager"),
            ("rotateManagerUnlockKey", false),
        ];
        c.post_raw(&update_path(sw.meta.version.index, flags), &sw.spec)
            .await?;
        if !a.quiet {
            print!("Successfully rotated {} join token.\n\n", a.role);
        }
    }
    // Read again: the rotation above changed the tokens.
    let sw: Swarm = c.get_json("/swarm").await?;
    if a.quiet {
        let token = if a.role == "worker" {
            &sw.join_tokens.worker
        } else {
            &sw.join_tokens.manager
        };
        println!("{token}");
        return Ok(());
    }
    let info: SystemInfo = c.get_json("/info").await?;
    print!(
        "{}",
        join_command_text(c, &info.swarm.node_id, &a.role).await?
    );
    Ok(())
}

/// Docker's `printJoinCommand` for one role: empty when the node is not a manager.
async fn join_command_text(c: &Client, node_id: &str, role: &str) -> Result<String, CliError> {
    let node: Node = c
        .get_json(&format!("/nodes/{}", path_escape(node_id)))
        .await?;
    let sw: Swarm = c.get_json("/swarm").await?;
    let Some(ms) = node.manager_status else {
        return Ok(String::new());
    };
    let token = if role == "manager" {
        &sw.join_tokens.manager
    } else {
        &sw.join_tokens.worker
    };
    Ok(join_text(role, token, &ms.addr))
}

/// `To add a worker to this swarm, run the following command:` and the indented join line.
pub(crate) fn join_text(role: &str, token: &str, addr: &str) -> String {
    format!(
        "To add a {role} to this swarm, run the following command:\n\n    \
         shoal swarm join --token {token} {addr}\n\n"
    )
}

/// `POST /swarm/update` with the docker client's query (every rotate flag, keys sorted).
fn update_path(version: u64, flags: [(&str, bool); 3]) -> String {
    let mut pairs = vec![("version", version.to_string())];
    pairs.extend(flags.iter().map(|(k, v)| (*k, v.to_string())));
    format!("/swarm/update{}", query(&pairs))
}

async fn leave(c: &Client, a: LeaveArgs) -> Result<(), CliError> {
    let q = if a.force {
        query(&[("force", "1".to_string())])
    } else {
        String::new()
    };
    c.post_empty(&format!("/swarm/leave{q}")).await?;
    println!("Node left the swarm.");
    Ok(())
}

async fn update(c: &Client, a: UpdateArgs) -> Result<(), CliError> {
    let mut sw: Swarm = c.get_json("/swarm").await?;
    let was_locked = sw.spec.encryption_config.auto_lock_managers;
    a.spec.merge(&mut sw.spec);
    if let Some(v) = a.autolock {
        sw.spec.encryption_config.auto_lock_managers = v;
    }
    let no_rotation = [
        ("rotateWorkerToken", false),
        ("rotateManagerToken", false),
        ("rotateManagerUnlockKey", false),
    ];
    c.post_raw(&update_path(sw.meta.version.index, no_rotation), &sw.spec)
        .await?;
    println!("Swarm updated.");
    if sw.spec.encryption_config.auto_lock_managers && !was_locked {
        print!("{}", unlock_text(&unlock_key(c).await?));
    }
    Ok(())
}

pub(crate) async fn unlock_key(c: &Client) -> Result<String, CliError> {
    #[derive(Deserialize)]
    struct UnlockKey {
        #[serde(rename = "UnlockKey", default)]
        unlock_key: String,
    }
    let key: UnlockKey = c
        .get_json("/swarm/unlockkey")
        .await
        .map_err(|e| CliError::msg(format!("could not fetch unlock key: {e}")))?;
    Ok(key.unlock_key)
}

/// Docker's `printUnlockCommand`, naming `docker swarm unlock` as Docker does (`shoal swarm
/// unlock` is the same command).
pub(crate) fn unlock_text(key: &str) -> String {
    if key.is_empty() {
        return String::new();
    }
    format!(
        "To unlock a swarm manager after it restarts, run the `docker swarm unlock`\n\
         command and provide the following key:\n\n    {key}\n\n\
         Remember to store this key in a password manager, since without it you\n\
         will not be able to restart the manager.\n"
    )
}

#[cfg(test)]
#[path = "swarm_tests.rs"]
mod tests;
