//! The `shoal` binary: the composition root. `shoal daemon` runs a node; every other command
//! is a client of the Engine API (`shoal swarm …`, `shoal node …`, `shoal info`).
#![recursion_limit = "256"]

mod daemon;
mod demo;
mod image;
mod lab;

use clap::{Parser, Subcommand};

/// Exit code for usage errors (sysexits EX_USAGE).
const EX_USAGE: i32 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "shoal",
    version,
    about = "A container orchestrator compatible with Docker Swarm mode"
)]
struct Cli {
    /// Daemon socket to connect to (unix:///path or tcp://host:port)
    #[arg(short = 'H', long = "host", env = "SHOAL_HOST", global = true)]
    host: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a shoal node (manager and agent)
    Daemon(daemon::DaemonArgs),
    /// Supervise one task's process (started by the process driver, not by users)
    #[command(hide = true)]
    TaskShim { args: Vec<String> },
    /// Run a demo HTTP app built into the binary (for services to run without a registry)
    #[command(subcommand, name = "demo-app")]
    DemoApp(demo::DemoApp),
    /// Build local Docker images (of shoal itself, for the docker driver)
    #[command(subcommand)]
    Image(image::ImageCmd),
    /// A practice swarm of several nodes on this machine (needs root)
    #[command(subcommand)]
    Lab(lab::LabCmd),
    #[command(flatten)]
    Client(shoal_cli::Command),
}

/// `shoal daemon …` on its own: only the daemon's flags (see `main`).
#[derive(Debug, Parser)]
#[command(
    name = "shoal daemon",
    version,
    about = "Run a shoal node (manager and agent)"
)]
struct DaemonCli {
    /// Daemon socket to serve (unix:///path or tcp://host:port)
    #[arg(short = 'H', long = "host", env = "SHOAL_HOST")]
    host: Option<String>,
    #[command(flatten)]
    args: daemon::DaemonArgs,
}

/// Parses `T` from `args`, or exits as clap does (help and version with 0, usage with 64).
fn parse_or_exit<T: Parser>(args: impl IntoIterator<Item = std::ffi::OsString>) -> T {
    T::try_parse_from(args).unwrap_or_else(|e| {
        let code = if e.use_stderr() { EX_USAGE } else { 0 };
        let _ = e.print();
        std::process::exit(code);
    })
}

fn main() {
    // A node (`shoal daemon`) and each process task's shim run for long, so they parse only
    // their own arguments: building the whole CLI's argument tree, every client command's
    // flags included, leaves its code resident in them for good (about 1 MB of RSS).
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match argv.get(1).and_then(|a| a.to_str()) {
        Some("daemon") => {
            let rest = argv.iter().skip(2).cloned();
            let d: DaemonCli = parse_or_exit(std::iter::once("shoal daemon".into()).chain(rest));
            let _ = rustls::crypto::ring::default_provider().install_default();
            std::process::exit(run_daemon(d.args, d.host.as_deref()));
        }
        Some("task-shim") => {
            let args = argv.iter().skip(2);
            std::process::exit(shoal_agent::shim_main(
                args.map(|a| a.to_string_lossy().into_owned()).collect(),
            ));
        }
        _ => {}
    }
    let cli: Cli = parse_or_exit(argv);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let code = match cli.command {
        Command::Daemon(args) => run_daemon(args, cli.host.as_deref()),
        Command::TaskShim { args } => shoal_agent::shim_main(args),
        Command::DemoApp(app) => demo::run(app),
        Command::Image(cmd) => image::run(cmd),
        Command::Lab(cmd) => lab::run(cmd),
        Command::Client(cmd) => run_client(cli.host.unwrap_or_else(daemon::default_host), cmd),
    };
    std::process::exit(code);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn run_daemon(args: daemon::DaemonArgs, host: Option<&str>) -> i32 {
    let cfg = match args.validate(host) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shoal daemon: {e}");
            return EX_USAGE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cfg.log_level))
        .with_writer(std::io::stderr)
        .init();
    match runtime().block_on(daemon::run(cfg)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shoal daemon: {e:#}");
            1
        }
    }
}

fn run_client(host: String, cmd: shoal_cli::Command) -> i32 {
    match runtime().block_on(shoal_cli::run(&host, cmd)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}
