//! The kernel side of overlay networks behind a trait, so the reconciler in `mod.rs` is tested
//! without root; [`IpRoute2`] programs it with iproute2 and iptables.

use std::io;
use std::net::Ipv4Addr;

use super::{OverlayNet, node_mac, vxlan_name};
use crate::cmd::run;

/// What an overlay network needs from the kernel.
pub trait Kernel {
    /// Makes the network's VXLAN device (replacing one left behind) and its firewall rules.
    fn create(&mut self, net: &OverlayNet) -> io::Result<()>;
    /// Removes the network's device (with its routes and entries) and firewall rules.
    fn remove(&mut self, net: &OverlayNet) -> io::Result<()>;
    /// Reaches the task at `ip` on the node at `node`.
    fn add_remote(&mut self, net: &OverlayNet, ip: Ipv4Addr, node: Ipv4Addr) -> io::Result<()>;
    fn del_remote(&mut self, net: &OverlayNet, ip: Ipv4Addr, node: Ipv4Addr) -> io::Result<()>;
    /// Settings of the local bridge, which may appear after the device: proxy ARP.
    fn refresh(&mut self, net: &OverlayNet) -> io::Result<()>;
}

/// The kernel through `ip`, `bridge` and `iptables` (iproute2's `replace` verbs make each
/// step idempotent).
#[derive(Debug, Default)]
pub struct IpRoute2;

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Adds an iptables rule unless it is there (`-C` first).
fn ensure_rule(table: &str, chain: &str, rule: &[&str]) -> io::Result<()> {
    let check: Vec<&str> = [&["-t", table, "-C", chain][..], rule].concat();
    if run("iptables", &check).is_ok() {
        return Ok(());
    }
    let insert: Vec<&str> = [&["-t", table, "-I", chain, "1"][..], rule].concat();
    run("iptables", &insert)
}

fn delete_rule(table: &str, chain: &str, rule: &[&str]) {
    let del: Vec<&str> = [&["-t", table, "-D", chain][..], rule].concat();
    while run("iptables", &del).is_ok() {}
}

/// Docker's FORWARD policy drops what its own rules do not accept; `DOCKER-USER` is where
/// Docker lets others accept more. Without Docker, plain FORWARD.
fn forward_chain() -> &'static str {
    if run("iptables", &["-t", "filter", "-n", "-L", "DOCKER-USER"]).is_ok() {
        "DOCKER-USER"
    } else {
        "FORWARD"
    }
}

impl IpRoute2 {
    /// Traffic from and to the VXLAN device is forwarded, and traffic between the overlay's
    /// addresses keeps its source: Docker masquerades whatever leaves its bridge for another
    /// interface, which would hide a task's address from tasks on other nodes.
    fn firewall(net: &OverlayNet, add: bool) -> io::Result<()> {
        let dev = vxlan_name(net.vni);
        let chain = forward_chain();
        let rules: [Vec<&str>; 2] = [
            vec!["-i", &dev, "-j", "ACCEPT"],
            vec!["-o", &dev, "-j", "ACCEPT"],
        ];
        let nat = vec!["-s", &net.subnet, "-d", &net.subnet, "-j", "RETURN"];
        if add {
            for r in &rules {
                ensure_rule("filter", chain, r)?;
            }
            ensure_rule("nat", "POSTROUTING", &nat)?;
        } else {
            for r in &rules {
                delete_rule("filter", chain, r);
            }
            delete_rule("nat", "POSTROUTING", &nat);
        }
        Ok(())
    }
}

impl Kernel for IpRoute2 {
    fn create(&mut self, net: &OverlayNet) -> io::Result<()> {
        let dev = vxlan_name(net.vni);
        let _ = run("ip", &["link", "del", &dev]);
        let (vni, local, port, mtu) = (
            net.vni.to_string(),
            net.local.to_string(),
            net.port.to_string(),
            net.mtu.to_string(),
        );
        run(
            "ip",
            &[
                "link",
                "add",
                &dev,
                "type",
                "vxlan",
                "id",
                &vni,
                "local",
                &local,
                "dstport",
                &port,
                "nolearning",
            ],
        )?;
        let mac = mac_text(node_mac(net.local));
        run(
            "ip",
            &["link", "set", &dev, "address", &mac, "mtu", &mtu, "up"],
        )?;
        Self::firewall(net, true)
    }

    fn remove(&mut self, net: &OverlayNet) -> io::Result<()> {
        Self::firewall(net, false)?;
        run("ip", &["link", "del", &vxlan_name(net.vni)])
    }

    fn add_remote(&mut self, net: &OverlayNet, ip: Ipv4Addr, node: Ipv4Addr) -> io::Result<()> {
        let dev = vxlan_name(net.vni);
        let mac = mac_text(node_mac(node));
        let (ip, node) = (ip.to_string(), node.to_string());
        run(
            "bridge",
            &[
                "fdb",
                "replace",
                &mac,
                "dev",
                &dev,
                "dst",
                &node,
                "self",
                "permanent",
            ],
        )?;
        run(
            "ip",
            &[
                "neigh",
                "replace",
                &ip,
                "lladdr",
                &mac,
                "dev",
                &dev,
                "nud",
                "permanent",
            ],
        )?;
        run(
            "ip",
            &["route", "replace", &format!("{ip}/32"), "dev", &dev],
        )
    }

    fn del_remote(&mut self, net: &OverlayNet, ip: Ipv4Addr, _node: Ipv4Addr) -> io::Result<()> {
        let dev = vxlan_name(net.vni);
        let ip = ip.to_string();
        // Gone already is fine; the forwarding entry is shared by the node's other tasks.
        let _ = run("ip", &["route", "del", &format!("{ip}/32"), "dev", &dev]);
        let _ = run("ip", &["neigh", "del", &ip, "dev", &dev]);
        Ok(())
    }

    fn refresh(&mut self, net: &OverlayNet) -> io::Result<()> {
        let path = format!("/proc/sys/net/ipv4/conf/{}/proxy_arp", net.bridge);
        match std::fs::write(&path, "1") {
            Ok(()) => Ok(()),
            // No task of the network has started here yet: its bridge comes with the first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io::Error::other(format!("{path}: {e}"))),
        }
    }
}
