//! Spread preferences: the nodes split into a tree by label values, and the placement of one
//! task group down that tree (swarmkit's `nodeset.tree` and `scheduleNTasksOnSubtree`).
//!
//! Each leaf keeps a min-heap of its eligible nodes ordered by swarmkit's `nodeLess`. Placing a
//! task changes the key of one node only (its counts) and never makes another node of the
//! group more attractive, so a pop, an update and a re-push per task keeps the order exact
//! without re-sorting: O(log n) per task instead of swarmkit's repeated sorts.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::filter::{Filter, first_failure};
use crate::requirements::{Requirements, SpreadKey};
use crate::view::ClusterView;

/// One branch of the spread tree; a leaf when it has no children.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    /// The label value this branch stands for (`""` for nodes without the label).
    label: String,
    children: Vec<u32>,
    /// Node indices, for leaves only.
    nodes: Vec<u32>,
}

/// The nodes of a view split by a list of spread keys. Branch 0 is the root. The shape does
/// not depend on the service, so every group with the same preferences shares it.
#[derive(Debug, Clone)]
pub(crate) struct Partition {
    branches: Vec<Branch>,
}

impl Partition {
    pub(crate) fn new(view: &ClusterView, spread: &[SpreadKey]) -> Partition {
        let root = Branch {
            label: String::new(),
            children: Vec::new(),
            nodes: Vec::new(),
        };
        let mut branches = vec![root];
        let mut lookup: HashMap<(u32, &str), u32> = HashMap::new();
        for (idx, node) in view.nodes.iter().enumerate() {
            let mut at = 0u32;
            for key in spread {
                // A missing label is its own "" branch, so the tree does not depend on
                // which nodes carry the label.
                let value = match key {
                    SpreadKey::NodeLabel(k) => node.node_labels.get(k),
                    SpreadKey::EngineLabel(k) => node.engine_labels.get(k),
                }
                .map_or("", String::as_str);
                at = *lookup.entry((at, value)).or_insert_with(|| {
                    let child = branches.len() as u32;
                    branches.push(Branch {
                        label: value.to_string(),
                        children: Vec::new(),
                        nodes: Vec::new(),
                    });
                    branches[at as usize].children.push(child);
                    child
                });
            }
            branches[at as usize].nodes.push(idx as u32);
        }
        Partition { branches }
    }
}

/// swarmkit's `nodeLess` as a sort key, smallest first: nodes with at least `MAX_FAILURES`
/// recent failures of the service go last (more failures later still), then fewer tasks of
/// the service, then fewer tasks in total, then the node ID (the index) for determinism.
type NodeKey = (u32, u32, u32, u32);

/// The state of placing one task group: per-node service counts and per-branch heaps.
pub(crate) struct Placer<'a> {
    pub(crate) view: &'a mut ClusterView,
    req: &'a Requirements,
    partition: &'a Partition,
    /// Static (constraint/platform) verdict per node.
    statics: &'a [Option<Filter>],
    /// Tasks of this service per node, updated as tasks are placed.
    pub(crate) counts: Vec<u32>,
    /// Failure rank per node: the recent failures if at least `MAX_FAILURES`, else 0.
    fail_rank: Vec<u32>,
    /// Tasks of the service per branch, updated as tasks are placed.
    branch_tasks: Vec<u64>,
    full: Vec<bool>,
    heaps: Vec<Option<BinaryHeap<Reverse<NodeKey>>>>,
    /// The node chosen for each placed task, in order.
    pub(crate) chosen: Vec<u32>,
}

impl<'a> Placer<'a> {
    pub(crate) fn new(
        view: &'a mut ClusterView,
        req: &'a Requirements,
        partition: &'a Partition,
        statics: &'a [Option<Filter>],
        counts: Vec<u32>,
        fail_rank: Vec<u32>,
    ) -> Placer<'a> {
        let n = partition.branches.len();
        let mut branch_tasks = vec![0u64; n];
        // Children always come after their parent in the arena, so a reverse walk sums leaves
        // before the branches that contain them.
        for b in (0..n).rev() {
            let branch = &partition.branches[b];
            let own: u64 = branch
                .nodes
                .iter()
                .map(|&i| u64::from(counts[i as usize]))
                .sum();
            let below: u64 = branch
                .children
                .iter()
                .map(|&c| branch_tasks[c as usize])
                .sum();
            branch_tasks[b] = own + below;
        }
        Placer {
            view,
            req,
            partition,
            statics,
            counts,
            fail_rank,
            branch_tasks,
            full: vec![false; n],
            heaps: vec![None; n],
            chosen: Vec::new(),
        }
    }

    /// Places up to `want` tasks in the whole tree; returns how many found a node.
    pub(crate) fn place(&mut self, want: usize) -> usize {
        self.place_in(0, want)
    }

    /// The first filter node `idx` fails now (`None`: it can take another task).
    pub(crate) fn failure(&self, idx: u32) -> Option<Filter> {
        let i = idx as usize;
        first_failure(self.view, idx, self.req, self.statics[i], self.counts[i])
    }

    fn place_in(&mut self, b: u32, want: usize) -> usize {
        let placed = if self.partition.branches[b as usize].children.is_empty() {
            self.place_on_leaf(b, want)
        } else {
            self.place_on_children(b, want)
        };
        self.branch_tasks[b as usize] += placed as u64;
        placed
    }

    /// Splits `want` tasks so the branches end up as even as possible, counting the tasks
    /// already there; a branch that cannot take its share is dropped and the rest re-split.
    fn place_on_children(&mut self, b: u32, want: usize) -> usize {
        let partition = self.partition;
        let mut usable: Vec<u32> = partition.branches[b as usize]
            .children
            .iter()
            .copied()
            .filter(|&c| !self.full[c as usize])
            .collect();
        let mut placed = 0;
        while placed < want && !usable.is_empty() {
            let existing: u64 = usable.iter().map(|&c| self.branch_tasks[c as usize]).sum();
            let total = existing + (want - placed) as u64;
            let k = usable.len() as u64;
            let (even, mut extra) = (total / k, total % k);
            // The emptiest branches get the remainder; labels break ties deterministically.
            usable.sort_by(|&x, &y| {
                let key = |c: u32| {
                    (
                        self.branch_tasks[c as usize],
                        &partition.branches[c as usize].label,
                    )
                };
                key(x).cmp(&key(y))
            });
            for &c in &usable {
                if placed == want {
                    break;
                }
                let target = even + u64::from(extra > 0);
                let have = self.branch_tasks[c as usize];
                if have >= target {
                    continue;
                }
                let ask = (target - have).min((want - placed) as u64) as usize;
                let got = self.place_in(c, ask);
                placed += got;
                if got < ask {
                    self.full[c as usize] = true;
                } else {
                    extra = extra.saturating_sub(1);
                }
            }
            usable.retain(|&c| !self.full[c as usize]);
        }
        if usable.is_empty() {
            self.full[b as usize] = true;
        }
        placed
    }

    /// Fills a leaf one task at a time, always onto its best node, re-checking that node's
    /// filters after each placement (resources, ports and max-replicas change as we go).
    fn place_on_leaf(&mut self, b: u32, want: usize) -> usize {
        let mut heap = match self.heaps[b as usize].take() {
            Some(heap) => heap,
            None => self.leaf_heap(b),
        };
        let mut placed = 0;
        while placed < want {
            let Some(Reverse(key)) = heap.pop() else {
                break;
            };
            let idx = key.3;
            self.take(idx);
            placed += 1;
            if self.failure(idx).is_none() {
                heap.push(Reverse(self.key(idx)));
            }
        }
        if heap.is_empty() {
            self.full[b as usize] = true;
        }
        self.heaps[b as usize] = Some(heap);
        placed
    }

    fn leaf_heap(&self, b: u32) -> BinaryHeap<Reverse<NodeKey>> {
        let nodes = &self.partition.branches[b as usize].nodes;
        // Sized up front: a filtered iterator would grow the vector step by step.
        let mut keys = Vec::with_capacity(nodes.len());
        keys.extend(
            nodes
                .iter()
                .filter(|&&idx| self.failure(idx).is_none())
                .map(|&idx| Reverse(self.key(idx))),
        );
        BinaryHeap::from(keys)
    }

    fn key(&self, idx: u32) -> NodeKey {
        let i = idx as usize;
        (
            self.fail_rank[i],
            self.counts[i],
            self.view.loads[i].total_tasks,
            idx,
        )
    }

    /// Records one task of the group on node `idx`.
    fn take(&mut self, idx: u32) {
        let req = self.req;
        self.view
            .take(idx, &req.reservations, &req.host_ports, true);
        self.counts[idx as usize] += 1;
        self.chosen.push(idx);
    }
}
