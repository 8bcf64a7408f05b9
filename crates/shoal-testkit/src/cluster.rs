//! A swarm of real daemons, one per host of a private `Net`: the first initialises the swarm,
//! the next managers join with the manager token and the rest with the worker token, each over
//! its own address, so any of them can be killed, paused or cut off.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{Daemon, Net, wait_for};

/// A running swarm.
pub struct Cluster {
    /// One daemon per host; index `i` runs on host `i` of `net`.
    pub nodes: Vec<Daemon>,
    /// How many of the first nodes joined as managers.
    pub managers: usize,
    /// Node IDs by index, read once everyone has joined.
    ids: Vec<String>,
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
        anyhow::ensure!(managers >= 1, "a swarm needs a manager");
        let net = Net::new(managers + workers)?;
        let mut nodes = Vec::new();
        for host in 0..managers + workers {
            nodes.push(Daemon::start_in(bin.as_ref(), &net, host, extra_args)?);
        }
        let init = json!({"ListenAddr": nodes[0].cluster_addr(), "Spec": init_spec});
        let r = nodes[0].http("POST", "/swarm/init", Some(&init.to_string()));
        anyhow::ensure!(r.status == 200, "swarm init: {}", r.text());
        let mut cluster = Cluster {
            nodes,
            managers,
            ids: Vec::new(),
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

    /// Starts one more daemon on a new host of the network, not yet in the swarm; returns its
    /// index. After it joins, call `refresh_ids`.
    pub fn add_node(
        &mut self,
        bin: impl AsRef<Path>,
        extra_args: &[&str],
    ) -> anyhow::Result<usize> {
        let host = self.net.add_host()?;
        self.nodes
            .push(Daemon::start_in(bin.as_ref(), &self.net, host, extra_args)?);
        Ok(self.nodes.len() - 1)
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
