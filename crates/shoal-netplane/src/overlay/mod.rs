//! Overlay networks across nodes, routed at L3 over VXLAN.
//!
//! On each node, the tasks of an overlay network sit on a local Linux bridge that holds the
//! network's gateway address (with the docker driver, a Docker bridge network the driver
//! creates with the overlay's subnet). Tasks on other nodes are reached through one VXLAN
//! device per network: a /32 route per remote task via that device, a permanent neighbour
//! entry giving it the remote node's VXLAN MAC, and a forwarding entry sending that MAC to the
//! remote node's address. The bridge answers ARP for remote tasks (proxy ARP), so a task
//! sends to them as if they were on its own segment, and nothing floods between nodes.
//!
//! Routing instead of bridging the nodes' segments together means no container MAC has to be
//! known anywhere (Docker may give containers random MACs), and each node keeps its own copy
//! of the gateway address without ARP conflicts. VXLAN MACs are derived from node addresses,
//! so every node computes every other node's without being told.

mod kernel;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub use kernel::{IpRoute2, Kernel};
use tracing::warn;

/// The VXLAN UDP port (IANA's, as Docker's overlay uses by default; `swarm init
/// --data-path-port` chooses another).
pub const VXLAN_PORT: u16 = 4789;

/// One overlay network as this node must build it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayNet {
    pub vni: u32,
    /// The local bridge the network's tasks on this node are attached to.
    pub bridge: String,
    /// This node's address: VXLAN packets leave from it.
    pub local: Ipv4Addr,
    /// Every task of the network on another node: its address → its node's address.
    pub remotes: BTreeMap<Ipv4Addr, Ipv4Addr>,
    /// The subnet (CIDR): traffic within it is not masqueraded.
    pub subnet: String,
    /// The UDP port VXLAN packets go to and come in on (the swarm's data path port).
    pub port: u16,
    /// The MTU of the VXLAN device: the network's, as its tasks' interfaces have it.
    pub mtu: u32,
}

impl OverlayNet {
    /// Whether `other` is served by the same device (only remote tasks differ, if anything).
    fn same_device(&self, other: &OverlayNet) -> bool {
        (self.local, &self.bridge, self.port, self.mtu)
            == (other.local, &other.bridge, other.port, other.mtu)
    }
}

/// The VXLAN device of network `vni`.
pub fn vxlan_name(vni: u32) -> String {
    format!("shvx{vni}")
}

/// The VXLAN MAC of the node at `addr`: locally administered, from the address's bytes.
pub fn node_mac(addr: Ipv4Addr) -> [u8; 6] {
    let o = addr.octets();
    [0x02, 0x5e, o[0], o[1], o[2], o[3]]
}

/// The overlay networks of one node, made to match what [`Overlay::apply`] is given.
pub struct Overlay<K: Kernel> {
    kernel: K,
    /// What is programmed now, per VNI.
    current: BTreeMap<u32, OverlayNet>,
}

impl<K: Kernel> Overlay<K> {
    pub fn new(kernel: K) -> Self {
        Overlay {
            kernel,
            current: BTreeMap::new(),
        }
    }

    /// Makes the kernel match `nets`: devices for new networks (an existing device of that
    /// name, left by an earlier run, is replaced), remote entries added and removed, devices
    /// of networks no longer wanted deleted. Errors are logged and the network retried on the
    /// next call; returns how many networks failed.
    pub fn apply(&mut self, nets: Vec<OverlayNet>) -> usize {
        let wanted: BTreeMap<u32, OverlayNet> = nets.into_iter().map(|n| (n.vni, n)).collect();
        let gone: Vec<u32> = self
            .current
            .keys()
            .filter(|vni| !wanted.contains_key(vni))
            .copied()
            .collect();
        for vni in gone {
            if let Some(old) = self.current.remove(&vni)
                && let Err(e) = self.kernel.remove(&old)
            {
                warn!(vni, error = %e, "overlay device not removed");
            }
        }
        let mut failed = 0;
        for (vni, net) in wanted {
            let result = match self.current.get(&vni) {
                Some(old) if old.same_device(&net) => self.update(old.clone(), &net),
                _ => self
                    .kernel
                    .create(&net)
                    .and_then(|()| self.update(empty(&net), &net)),
            };
            match result {
                Ok(()) => {
                    self.current.insert(vni, net);
                }
                Err(e) => {
                    warn!(vni, error = %e, "overlay network not set up; retried on the next table");
                    self.current.remove(&vni);
                    failed += 1;
                }
            }
        }
        failed
    }

    /// Adds and removes remote tasks; refreshes the bridge's settings (it may have been
    /// made since the last call).
    fn update(&mut self, old: OverlayNet, new: &OverlayNet) -> std::io::Result<()> {
        for (ip, node) in &old.remotes {
            if new.remotes.get(ip) != Some(node) {
                self.kernel.del_remote(new, *ip, *node)?;
            }
        }
        for (ip, node) in &new.remotes {
            if old.remotes.get(ip) != Some(node) {
                self.kernel.add_remote(new, *ip, *node)?;
            }
        }
        self.kernel.refresh(new)
    }
}

/// `net` with no remote task programmed yet.
fn empty(net: &OverlayNet) -> OverlayNet {
    OverlayNet {
        remotes: BTreeMap::new(),
        ..net.clone()
    }
}

#[cfg(test)]
mod tests;
