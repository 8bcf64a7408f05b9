//! The overlay networks' table from cluster state (see `shoal_types::overlay`): every task
//! holding an address, with its node's address, and every attached service's VIP and names.

use std::collections::BTreeMap;

use shoal_types::overlay::{OverlayEndpoint, OverlayNetwork, OverlayService};
use shoal_types::{Network, Node, Service, Task, TaskState};

use crate::ipam::holds_addresses;

/// The whole table, sorted (two tables compare equal when nothing changed). Networks no task
/// uses are left out: no node has anything to build for them.
pub fn overlay_table(
    networks: &[Network],
    services: &[Service],
    tasks: &[Task],
    nodes: &[Node],
) -> Vec<OverlayNetwork> {
    let addr: BTreeMap<&str, &str> = nodes
        .iter()
        .filter(|n| !n.status.addr.is_empty())
        .map(|n| (n.id.as_str(), n.status.addr.as_str()))
        .collect();
    let mut table: BTreeMap<&str, OverlayNetwork> = networks
        .iter()
        .filter(|n| !n.is_ingress())
        .map(|n| (n.id.as_str(), empty(n)))
        .collect();
    for t in tasks.iter().filter(|t| holds_addresses(t)) {
        let Some(node_addr) = addr.get(t.node_id.as_str()) else {
            continue; // not placed yet: nowhere to reach it
        };
        for a in &t.networks {
            let (Some(net), Some(ip)) = (table.get_mut(a.network.id.as_str()), a.ip()) else {
                continue;
            };
            net.endpoints.push(OverlayEndpoint {
                ip: ip.to_string(),
                node_id: t.node_id.clone(),
                node_addr: node_addr.to_string(),
                task_id: t.id.clone(),
                service_id: t.service_id.clone(),
                serving: t.status.state == TaskState::Running
                    && t.desired_state == TaskState::Running,
            });
        }
    }
    for s in services {
        for (net_id, aliases) in attachments(s) {
            if let Some(net) = table.get_mut(net_id.as_str()) {
                let vip = s
                    .endpoint
                    .virtual_ips
                    .iter()
                    .find(|v| v.network_id == net_id && !v.addr.is_empty())
                    .and_then(|v| v.addr.split('/').next().map(str::to_string));
                net.services.push(OverlayService {
                    name: s.spec.name.clone().unwrap_or_default(),
                    id: s.id.clone(),
                    aliases,
                    vip,
                });
            }
        }
    }
    let mut out: Vec<OverlayNetwork> = table
        .into_values()
        .filter(|n| !n.endpoints.is_empty())
        .collect();
    for n in &mut out {
        n.endpoints.sort();
        n.services.sort();
    }
    out
}

fn empty(n: &Network) -> OverlayNetwork {
    OverlayNetwork {
        id: n.id.clone(),
        name: n.name().to_string(),
        subnet: n.subnet.clone(),
        gateway: n.gateway.clone(),
        vni: n.vni,
        internal: n.spec.internal.unwrap_or(false),
        mtu: n.mtu(),
        ..Default::default()
    }
}

/// The networks a service's tasks attach to, with the aliases they have there.
fn attachments(s: &Service) -> Vec<(String, Vec<String>)> {
    s.spec
        .task_template
        .as_ref()
        .and_then(|t| t.networks.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n.target.clone()?, n.aliases.clone().unwrap_or_default())))
        .collect()
}
