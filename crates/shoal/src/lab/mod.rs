//! `shoal lab up|down|status`: a practice swarm on one machine, as the user guides build one
//! with dind or Vagrant. Each node is a `shoal daemon` in its own network namespace with its own
//! address on a private bridge (no route out), so it can be stopped, paused or cut off like a
//! real machine. Needs root (namespaces, veths, a bridge). One lab per machine.

mod net;
mod nodes;

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `shoal lab …`.
#[derive(Debug, Subcommand)]
pub enum LabCmd {
    /// Start a practice swarm of several nodes on this machine
    Up(UpArgs),
    /// Stop every node of the lab and remove its network and files
    Down(DirArg),
    /// Show the lab's nodes
    Status(DirArg),
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Number of managers (the first one initialises the swarm)
    #[arg(long, default_value_t = 3)]
    pub managers: usize,
    /// Number of workers
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// What runs tasks on the nodes (`docker` shares this machine's engine)
    #[arg(long, default_value = "process")]
    pub driver: String,
    #[command(flatten)]
    pub dir: DirArg,
}

#[derive(Debug, Args)]
pub struct DirArg {
    /// Where the lab keeps its nodes' data, sockets and logs
    #[arg(long, default_value = "/var/lib/shoal-lab")]
    pub dir: PathBuf,
}

/// Runs a lab command; the exit code.
pub fn run(cmd: LabCmd) -> i32 {
    let result = match cmd {
        LabCmd::Up(a) => nodes::up(&a),
        LabCmd::Down(d) => nodes::down(&d.dir),
        LabCmd::Status(d) => nodes::status(&d.dir),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shoal lab: {e}");
            1
        }
    }
}
