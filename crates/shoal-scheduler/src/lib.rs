//! Task placement for shoal: which node each pending task goes to, or why none fits.
//!
//! This crate owns the scheduling decision and nothing around it: a [`ClusterView`] of the
//! nodes (readiness, remaining resources, tasks per service, host ports in use, recent
//! failures), the filter pipeline with swarmkit's order and explanation texts
//! ([`Filter`]), placement constraints ([`constraint`]), spread preferences, and
//! [`schedule`], which turns a batch of [`TaskToPlace`] into a [`Plan`].
//!
//! It is layer L1 and must stay pure: no tokio, no IO, no clock, no store. Anything
//! time-dependent (recent failures) is counted by the caller and passed in; the manager's
//! scheduler loop reads the store, calls [`schedule`] and commits the plan.
//!
//! # Strategy (swarmkit's, made incremental)
//!
//! - Preassigned tasks (global services) are confirmed on their node first.
//! - The others are grouped by service and requirements. For each group, nodes are split
//!   into a tree by the spread preferences (`node.labels.*` / `engine.labels.*`; a missing
//!   label is its own `""` branch) and tasks are divided so branches end up even, counting
//!   tasks already there; a branch that runs out of room is dropped and the rest re-split.
//! - Within a leaf each task goes to the best node by swarmkit's order: nodes with at least
//!   [`MAX_FAILURES`] recent failures of the service last, then fewer tasks of the service,
//!   then fewer tasks in total, then node ID. The chosen node's filters are re-checked after
//!   every placement. swarmkit walks a once-sorted list round-robin instead, which can leave
//!   a service uneven when nodes start uneven; always taking the current best keeps every
//!   service within one task per node whenever nothing else interferes.
//! - Tasks left over get `no suitable node (…)`: every node is charged to the first filter it
//!   fails once the group is done, explanations sorted by count (ties in pipeline order).
#![forbid(unsafe_code)]

pub mod constraint;
mod filter;
mod requirements;
mod schedule;
mod tree;
mod view;

pub use constraint::{Constraint, ConstraintError, Operator, parse_constraints};
pub use filter::Filter;
pub use requirements::{
    HostPort, PlatformReq, Protocol, Requirements, Reservations, SpreadKey, TaskToPlace,
    host_mode_ports,
};
pub use schedule::{MAX_FAILURES, Plan, schedule};
pub use view::ClusterView;
