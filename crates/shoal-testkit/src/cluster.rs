//! A swarm of real daemons, one per host of a private `Net`: the first initialises the swarm,
//! the next managers join with the manager token and the rest with the worker token, each over
//! its own address, so any of them can be killed, paused or cut off. With
//! `start_with_engines`, every host also gets a Docker Engine of its own (`Engine`), which its
//! daemon drives.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{Daemon, Engine, Net, wait_for};

/// A running swarm.
pub struct Cluster {
    /// One daemon per host; index `i` runs on host `i` of `net`.
    pub nodes: Vec<Daemon>,
    /// How many of the first nodes joined as managers.
    pub managers: usize,
    /// Node IDs by index, read once everyone has joined.
    ids: Vec<String>,
    /// One engine per host (same index) under `start_with_engines`, else none. `Drop` stops
    /// them after the daemons and before the network.
    engines: Vec<Engine>,
    // Declared last: dropped after the daemons, so their namespaces go only once they are dead.
    pub net: Net,
}

impl Cluster {
    /// Starts `managers + workers` daemons with `extra_args` (e.g. `--driver process`) and
    /// builds the swarm; `init_spec` is the `Spec` of `swarm init` (e.g. a faster heartbeat).
    pub fn start(
        bin: impl AsRef<Path>,
        managers: usize,
        workers: usize,
        extra_args: &[&str],
        init_spec: Value,
    ) -> anyhow::Result<Cluster> {
        Self::start_on(
            bin.as_ref(),
            managers,
            workers,
            extra_args,
            json!({ "Spec": init_spec }),
            false,
        )
    }

    /// Like `start`, but every host first gets its own Docker Engine, which its daemon drives
    /// (pass `--driver docker`): containers of different nodes are in different network
    /// namespaces. The engines hold no images yet (see `build_busybox_image`).
    pub fn start_with_engines(
        bin: impl AsRef<Path>,
        managers: usize,
        workers: usize,
        extra_args: &[&str],
        init_spec: Value,
    ) -> anyhow::Result<Cluster> {
        Self::start_with_engines_init(
            bin,
            managers,
            workers,
            extra_args,
            json!({ "Spec": init_spec }),
        )
    }

    /// Like `start_with_engines`, with the whole `swarm init` request but its `ListenAddr`
    /// (e.g. `{"Spec": …, "DataPathPort": 7789}`).
    pub fn start_with_engines_init(
        bin: impl AsRef<Path>,
        managers: usize,
        workers: usize,
        extra_args: &[&str],
        init: Value,
    ) -> anyhow::Result<Cluster> {
        Self::start_on(bin.as_ref(), managers, workers, extra_args, init, true)
    }

    fn start_on(
        bin: &Path,
        managers: usize,
        workers: usize,
        extra_args: &[&str],
        mut init: Value,
        with_engines: bool,
    ) -> anyhow::Result<Cluster> {
        anyhow::ensure!(managers >= 1, "a swarm needs a manager");
        let net = Net::new(managers + workers)?;
        let hosts: Vec<usize> = (0..managers + workers).collect();
        let engines = match with_engines {
            true => start_engines(&net, &hosts)?,
            false => Vec::new(),
        };
        let mut nodes = Vec::new();
        for host in hosts {
            nodes.push(match engines.get(host) {
                Some(e) => Daemon::start_in_with_engine(bin, &net, host, e, extra_args)?,
                None => Daemon::start_in(bin, &net, host, extra_args)?,
            });
        }
        init["ListenAddr"] = json!(nodes[0].cluster_addr());
        let r = nodes[0].http("POST", "/swarm/init", Some(&init.to_string()));
        anyhow::ensure!(r.status == 200, "swarm init: {}", r.text());
        let mut cluster = Cluster {
            nodes,
            managers,
            ids: Vec::new(),
            engines,
            net,
        };
        let tokens = cluster.nodes[0].http("GET", "/swarm", None).json()["JoinTokens"].clone();
        for i in 1..managers + workers {
            let kind = if i < managers { "Manager" } else { "Worker" };
            let token = tokens[kind].as_str().expect("join token");
            cluster.join(i, token)?;
        }
        cluster.refresh_ids();
        Ok(cluster)
    }

    /// `POST /swarm/join` on node `i` through node 0, with `token`.
    pub fn join(&self, i: usize, token: &str) -> anyhow::Result<()> {
        let body = json!({
            "ListenAddr": self.nodes[i].cluster_addr(),
            "AdvertiseAddr": self.nodes[i].cluster_addr(),
            "RemoteAddrs": [self.nodes[0].cluster_addr()],
            "JoinToken": token,
        });
        let r = self.nodes[i].http("POST", "/swarm/join", Some(&body.to_string()));
        anyhow::ensure!(r.status == 200, "node {i} join: {} {}", r.status, r.text());
        Ok(())
    }

    /// Starts one more daemon on a new host of the network (with its own engine if the
    /// cluster has engines), not yet in the swarm; returns its index. After it joins, call
    /// `refresh_ids`.
    pub fn add_node(
        &mut self,
        bin: impl AsRef<Path>,
        extra_args: &[&str],
    ) -> anyhow::Result<usize> {
        let host = self.net.add_host()?;
        let daemon = if self.engines.is_empty() {
            Daemon::start_in(bin.as_ref(), &self.net, host, extra_args)?
        } else {
            let engine = Engine::start_in(&self.net, host)?;
            let d = Daemon::start_in_with_engine(bin, &self.net, host, &engine, extra_args)?;
            self.engines.push(engine);
            d
        };
        self.nodes.push(daemon);
        Ok(self.nodes.len() - 1)
    }

    /// Node `i`'s own Docker Engine (only under `start_with_engines`).
    pub fn engine(&self, i: usize) -> &Engine {
        let none = "Cluster::engine: the cluster was not started with engines";
        self.engines.get(i).expect(none)
    }

    /// Builds the test busybox image (`crate::build_busybox_image`) in every node's engine.
    pub fn build_busybox_image(&self, tag: &str) -> anyhow::Result<()> {
        anyhow::ensure!(!self.engines.is_empty(), "the cluster has no engines");
        std::thread::scope(|s| {
            let builds: Vec<_> = self
                .engines
                .iter()
                .map(|e| s.spawn(move || e.build_busybox_image(tag)))
                .collect();
            builds
                .into_iter()
                .try_for_each(|b| b.join().expect("image build thread"))
        })
    }

    /// Reads every node's ID again (after a node joined).
    pub fn refresh_ids(&mut self) {
        self.ids = (0..self.nodes.len())
            .map(|i| {
                crate::request(&self.nodes[i].socket(), "GET", "/info", None)
                    .map(|r| {
                        r.json()["Swarm"]["NodeID"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string()
                    })
                    .unwrap_or_else(|_| self.ids.get(i).cloned().unwrap_or_default())
            })
            .collect();
    }

    /// Node `i`'s ID.
    pub fn node_id(&self, i: usize) -> &str {
        &self.ids[i]
    }

    /// The index of the node with ID `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|x| x == id)
    }

    /// The index of the node that manager `asker` reports as Leader.
    pub fn leader_seen_by(&self, asker: usize) -> Option<usize> {
        let r = crate::request(&self.nodes[asker].socket(), "GET", "/nodes", None).ok()?;
        let nodes = r.json();
        let id = nodes
            .as_array()?
            .iter()
            .find(|n| n["ManagerStatus"]["Leader"] == true)?["ID"]
            .as_str()?
            .to_string();
        self.index_of(&id)
    }

    /// Waits until every listed manager reports the same leader among `candidates`.
    pub fn wait_leader(
        &self,
        askers: &[usize],
        candidates: &[usize],
        timeout: Duration,
    ) -> anyhow::Result<usize> {
        wait_for("an agreed leader", timeout, || {
            let seen: Vec<Option<usize>> = askers.iter().map(|&a| self.leader_seen_by(a)).collect();
            let first = seen.first().copied().flatten()?;
            (seen.iter().all(|s| *s == Some(first)) && candidates.contains(&first)).then_some(first)
        })
    }

    /// Every daemon's log, labelled, for failure messages.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, d)| format!("===== node {i} =====\n{}", d.log()))
            .collect()
    }
}

impl Drop for Cluster {
    /// The daemons die first, so none restarts a task while its engine removes it; then the
    /// engines stop in parallel (each takes seconds); the network goes last with the fields.
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill9();
        }
        std::thread::scope(|s| {
            for engine in self.engines.drain(..) {
                s.spawn(move || drop(engine));
            }
        });
    }
}

/// One engine per host, started in parallel (each takes a second or two).
fn start_engines(net: &Net, hosts: &[usize]) -> anyhow::Result<Vec<Engine>> {
    std::thread::scope(|s| {
        let started: Vec<_> = hosts
            .iter()
            .map(|&h| s.spawn(move || Engine::start_in(net, h)))
            .collect();
        // Collected in full before failing: the engines that did start are dropped cleanly.
        let results: Vec<anyhow::Result<Engine>> = started
            .into_iter()
            .map(|t| t.join().expect("engine start thread"))
            .collect();
        results.into_iter().collect()
    })
}
