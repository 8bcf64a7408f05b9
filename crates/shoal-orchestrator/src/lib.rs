//! Reconcilers: from what services ask for and what tasks exist, decide what to change.
//! Each is a pure `plan` function (state and the current time in, actions out), so every rule
//! is tested without a store, a clock or a cluster; the manager runs them in thin watch loops
//! and commits the actions in one transaction per pass.
//!
//! Owns: replicated and global slots (gaps filled from slot 1, scale-down from the nodes with
//! the most copies, non-running first), the restart policy (condition, delay, max attempts,
//! window), replacing tasks on down, drained or no-longer-matching nodes, rolling updates and
//! rollbacks (parallelism, delay, order, failure monitor and action, UpdateStatus), jobs (replicated and global, run to completion), and the task reaper
//! (history per slot).
//!
//! Layer L3: depends on shoal-types only; no IO, no clock, no store.
#![forbid(unsafe_code)]

mod action;
mod failure;
mod global;
mod jobs;
mod reaper;
mod replicated;
mod restart;
mod slots;
mod update;

pub use action::{Action, Context, Plan, StatusChange, new_task};
pub use failure::PAUSE_AFTER_LABEL;
pub use global::plan_global;
pub use jobs::{plan_global_job, plan_replicated_job};
pub use reaper::plan_reaper;
pub use replicated::plan_replicated;
pub use restart::RestartPolicy;
