//! The filter pipeline (swarmkit's `pipeline.go` order) and the explanation texts of
//! `filter.go`, with their exact pluralisation.

use crate::requirements::Requirements;
use crate::view::{ClusterView, NodeEntry};

/// One filter of the pipeline, in the order swarmkit runs them. A node is charged to the first
/// filter it fails. (swarmkit's plugin and CSI-volume filters have no counterpart yet.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Filter {
    /// The node is READY and its availability ACTIVE.
    Ready,
    /// The task's reservations fit into what the node has left.
    Resources,
    /// The placement constraints hold.
    Constraints,
    /// The node runs one of the image's platforms.
    Platform,
    /// No task on the node publishes the same host-mode port.
    HostPort,
    /// The node runs fewer tasks of the service than `MaxReplicas`.
    MaxReplicas,
}

impl Filter {
    /// Every filter, in pipeline order.
    pub const PIPELINE: [Filter; 6] = [
        Filter::Ready,
        Filter::Resources,
        Filter::Constraints,
        Filter::Platform,
        Filter::HostPort,
        Filter::MaxReplicas,
    ];

    /// swarmkit's explanation when this filter rejected `nodes` nodes.
    pub fn explain(self, nodes: usize) -> String {
        let what = match self {
            Filter::Ready => {
                return match nodes {
                    1 => "1 node not available for new tasks".to_string(),
                    n => format!("{n} nodes not available for new tasks"),
                };
            }
            // Upstream says neither how many nodes nor "exceeded"; kept verbatim because users
            // and tools match on it.
            Filter::MaxReplicas => return "max replicas per node limit exceed".to_string(),
            Filter::Resources => "insufficient resources on",
            Filter::Constraints => "scheduling constraints not satisfied on",
            Filter::Platform => "unsupported platform on",
            Filter::HostPort => "host-mode port already in use on",
        };
        match nodes {
            1 => format!("{what} 1 node"),
            n => format!("{what} {n} nodes"),
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// How many nodes each filter rejected, for one task or task group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Failures([usize; 6]);

impl Failures {
    pub(crate) fn add(&mut self, filter: Filter) {
        self.0[filter.slot()] += 1;
    }

    /// The explanations joined by `"; "`, most failures first; ties keep pipeline order
    /// (swarmkit's sort is stable for this few entries).
    pub(crate) fn explain(&self) -> String {
        let mut hit: Vec<Filter> = Filter::PIPELINE
            .into_iter()
            .filter(|f| self.0[f.slot()] > 0)
            .collect();
        hit.sort_by_key(|f| std::cmp::Reverse(self.0[f.slot()]));
        hit.iter()
            .map(|f| f.explain(self.0[f.slot()]))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The `Status.Err` of a task no node could take.
    pub(crate) fn no_suitable_node(&self) -> String {
        let explanation = self.explain();
        if explanation.is_empty() {
            "no suitable node".to_string()
        } else {
            format!("no suitable node ({explanation})")
        }
    }
}

/// The filters whose verdict depends only on the node and the spec (constraints, platform),
/// never on what has been placed: computed once per node and shared between task groups.
pub(crate) fn static_failure(node: &NodeEntry, req: &Requirements) -> Option<Filter> {
    if !req.constraints.iter().all(|c| c.matches_attrs(node)) {
        return Some(Filter::Constraints);
    }
    if !req.platforms.is_empty()
        && !req
            .platforms
            .iter()
            .any(|p| p.matches(&node.os, &node.norm_arch))
    {
        return Some(Filter::Platform);
    }
    None
}

/// The first filter node `idx` of `view` fails for a task of `req`, given the node's static
/// verdict and how many tasks of the service it already runs; `None` when the task may go
/// there.
pub(crate) fn first_failure(
    view: &ClusterView,
    idx: u32,
    req: &Requirements,
    static_verdict: Option<Filter>,
    service_tasks: u32,
) -> Option<Filter> {
    let load = &view.loads[idx as usize];
    if !load.schedulable {
        return Some(Filter::Ready);
    }
    if !req.reservations.is_zero() && !req.reservations.fits_in(&load.free) {
        return Some(Filter::Resources);
    }
    if static_verdict.is_some() {
        return static_verdict;
    }
    let ports = &view.ports[idx as usize];
    if !ports.is_empty() && req.host_ports.iter().any(|p| ports.contains(p)) {
        return Some(Filter::HostPort);
    }
    if req.max_replicas > 0 && u64::from(service_tasks) >= req.max_replicas {
        return Some(Filter::MaxReplicas);
    }
    None
}
