//! The `shoal` client commands: `swarm …`, `node …`, `service …`, `secret …`, `config …`, `info`
//! and `version`, printing what the docker CLI (v28) prints for the same commands.
//!
//! This crate owns the client side only. It talks to a daemon solely through the swarm part of
//! the Docker Engine HTTP API (unix socket or TCP), exactly as the docker CLI would, so it works
//! against a real Docker Engine in swarm mode too. It must never depend on the manager, agent
//! or store crates; the object model comes from `shoal-types`, used only to decode responses.
//!
//! The binary flattens [`Command`] into its own parser (adding `daemon` and the global
//! `-H/--host`) and calls [`run`]; errors are printed by the caller with
//! [`CliError::exit_code`].
#![forbid(unsafe_code)]

mod blob;
pub mod client;
mod duration;
mod error;
mod flags;
mod info_text;
mod node;
mod node_pretty;
mod progress;
mod progress_render;
mod service;
mod service_flags;
mod service_logs;
mod service_opts;
mod service_pretty;
mod service_refs;
mod service_table;
mod service_update_cfg;
mod stack;
mod stack_wait;
mod swarm;
mod swarm_lock;
mod system;
mod table;
mod template;
mod timefmt;

use clap::Subcommand;

pub use client::Client;
pub use error::CliError;
pub use node::NodeCmd;
pub use service::ServiceCmd;
pub use swarm::SwarmCmd;
pub use system::{InfoArgs, VersionArgs};

/// The client commands, for the binary to flatten into its top-level parser.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage Swarm
    #[command(subcommand)]
    Swarm(SwarmCmd),
    /// Manage Swarm nodes
    #[command(subcommand)]
    Node(NodeCmd),
    /// Manage Swarm services
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Manage Swarm stacks
    #[command(subcommand)]
    Stack(stack::StackCmd),
    /// Manage Swarm secrets
    #[command(subcommand)]
    Secret(blob::BlobCmd),
    /// Manage Swarm configs
    #[command(subcommand)]
    Config(blob::BlobCmd),
    /// Display system-wide information
    Info(InfoArgs),
    /// Show the shoal version information
    Version(VersionArgs),
}

/// Runs one client command against the daemon at `host` (`unix:///…`, `tcp://h:p` or
/// `http://h:p`), printing its output to stdout.
pub async fn run(host: &str, cmd: Command) -> Result<(), CliError> {
    let client = Client::new(host)?;
    match cmd {
        Command::Swarm(c) => swarm::run(&client, c).await,
        Command::Node(c) => node::run(&client, c).await,
        Command::Service(c) => service::run(&client, c).await,
        Command::Stack(c) => stack::run(&client, c).await,
        Command::Secret(c) => blob::run(&client, blob::Kind::Secret, c).await,
        Command::Config(c) => blob::run(&client, blob::Kind::Config, c).await,
        Command::Info(a) => system::info(&client, a).await,
        Command::Version(a) => system::version(&client, a).await,
    }
}

/// The default `-H` value for this process: `unix:///run/shoal/shoal.sock` as root, else
/// `unix://$XDG_RUNTIME_DIR/shoal/shoal.sock`.
pub fn default_host() -> String {
    default_host_for(effective_uid() == Some(0))
}

/// The default `-H` value for a root (`true`) or unprivileged user; the root path also
/// serves an unprivileged user without `XDG_RUNTIME_DIR`.
pub fn default_host_for(is_root: bool) -> String {
    const ROOT: &str = "unix:///run/shoal/shoal.sock";
    if is_root {
        return ROOT.to_string();
    }
    match std::env::var("XDG_RUNTIME_DIR") {
        Ok(dir) if !dir.is_empty() => {
            format!("unix://{}/shoal/shoal.sock", dir.trim_end_matches('/'))
        }
        _ => ROOT.to_string(),
    }
}

/// The effective UID from `/proc/self/status` (no `unsafe` `geteuid` call needed).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The binary's shape: its own subcommands plus ours flattened in.
    #[derive(Debug, Parser)]
    struct Cli {
        #[arg(short = 'H', long, global = true)]
        host: Option<String>,
        #[command(subcommand)]
        cmd: Top,
    }

    #[derive(Debug, Subcommand)]
    enum Top {
        Daemon,
        #[command(flatten)]
        Client(Command),
    }

    #[test]
    fn command_tree_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_docker_style_flags() {
        let cli = Cli::try_parse_from(["shoal", "node", "ls", "-q", "--filter", "role=manager"]);
        assert!(cli.is_ok(), "{cli:?}");
        let cli = Cli::try_parse_from(["shoal", "swarm", "update", "--autolock=false"]);
        assert!(cli.is_ok(), "{cli:?}");
        let cli = Cli::try_parse_from(["shoal", "swarm", "init", "--availability", "sleepy"]);
        assert!(cli.is_err());
        let cli = Cli::try_parse_from(["shoal", "-H", "tcp://h:1", "node", "inspect", "self"]);
        assert!(matches!(
            cli.unwrap().cmd,
            Top::Client(Command::Node(NodeCmd::Inspect(_)))
        ));
        assert!(matches!(
            Cli::try_parse_from(["shoal", "daemon"]).unwrap().cmd,
            Top::Daemon
        ));
    }

    #[test]
    fn default_hosts() {
        assert_eq!(default_host_for(true), "unix:///run/shoal/shoal.sock");
        assert!(default_host().starts_with("unix://"));
        assert!(effective_uid().is_some());
    }
}
