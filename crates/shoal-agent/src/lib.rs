//! The worker role of every node: describing the node to the cluster, and running the tasks
//! the manager assigns to it.
//!
//! - [`driver`]: the [`Driver`] contract a runtime implements (prepare, start, wait, shutdown,
//!   remove, adopt, list, logs).
//! - [`ProcessDriver`]: tasks as supervised host processes, each under a detached shim
//!   ([`shim_main`], run by the `shoal task-shim` subcommand), the default without an engine.
//! - [`DockerDriver`]: tasks as Docker Engine containers, through bollard.
//! - [`runner`]: the task state machine (ACCEPTED … RUNNING → COMPLETE / FAILED / SHUTDOWN /
//!   REJECTED), pure planning plus a thin async loop per task.
//! - [`Worker`]: the node's assigned task set, its runners, the local task DB that lets a
//!   restarted agent adopt what it left running, and the status updates for the manager.
//!
//! - [`join`]: joining a swarm through a manager's certificate authority.
//!
//! Layer L3: depends on shoal-types, ca and proto; never on the manager, store or HTTP crates.
#![forbid(unsafe_code)]

mod describe;
pub mod docker;
pub mod driver;
mod files;
pub mod join;
pub mod process;
pub mod runner;
pub mod session;
pub mod worker;

pub use describe::{EngineProbe, describe_node, probe_engine};
pub use docker::DockerDriver;
pub use driver::{
    Driver, DriverError, Exit, LogLine, LogOptions, LogSource, LogStream, Observed, Phase,
};
pub use process::{ProcessConfig, ProcessDriver, shim_main};
pub use runner::Runner;
pub use worker::{StatusUpdate, Worker, WorkerError};
