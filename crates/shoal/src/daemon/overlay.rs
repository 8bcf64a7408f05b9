//! Runs the node's side of overlay networks (crate netplane's `overlay`) from the tables the
//! managers send through the agent's session: each network this node runs tasks of gets its
//! VXLAN device and a route to every task of it on other nodes. Applied on every new table and
//! again every few seconds, since a network's local bridge appears only with its first task.
//! The embedded DNS answers on each local network's gateway, and services' VIPs are served on
//! each local network's bridge. Only with the docker driver: process tasks share the host's
//! network.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use shoal_netplane::dns::{ClientNames, Dns, Names};
use shoal_netplane::overlay::{IpRoute2, Overlay, OverlayNet, VXLAN_PORT};
use shoal_netplane::vip::{IpTablesVips, VipPlumbing, VipProxy, VipTable};
use shoal_types::network::DEFAULT_MTU;
use shoal_types::overlay::{OverlayNetwork, bridge_name};
use tokio::sync::watch;
use tracing::{debug, warn};

/// How often the latest table is applied again without a change.
const REFRESH: Duration = Duration::from_secs(3);

/// The overlay plumbing and the channel feeding it.
pub struct OverlayRunner {
    tx: watch::Sender<Vec<OverlayNetwork>>,
    started: OnceLock<()>,
}

impl OverlayRunner {
    pub fn new() -> Arc<OverlayRunner> {
        let (tx, _) = watch::channel(Vec::new());
        Arc::new(OverlayRunner {
            tx,
            started: OnceLock::new(),
        })
    }

    /// Starts applying tables for node `node_id` (once; needs a tokio runtime).
    pub fn ensure_running(&self, node_id: &str) {
        self.started.get_or_init(|| {
            let rx = self.tx.subscribe();
            tokio::spawn(run(node_id.to_string(), rx));
        });
    }

    /// The agent's callback: a new table.
    pub fn on_networks(&self) -> shoal_agent::session::NetworksChanged {
        let tx = self.tx.clone();
        Arc::new(move |networks| {
            tx.send_replace(networks);
        })
    }

    /// Removes every overlay device (the node left the swarm).
    pub fn clear(&self) {
        self.tx.send_replace(Vec::new());
    }
}

async fn run(node_id: String, mut rx: watch::Receiver<Vec<OverlayNetwork>>) {
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut dns = Dns::new(Dns::upstream_from(&resolv));
    let vips = match VipProxy::start().await {
        Ok(v) => v,
        Err(e) => {
            warn!(error = %e, "cannot serve VIPs; overlay networks stay down on this node");
            return;
        }
    };
    let iptables = IpTablesVips {
        owner: node_id.clone(),
    };
    let iptables = match tokio::task::spawn_blocking(move || {
        iptables.clear_stale();
        iptables
    })
    .await
    {
        Ok(i) => i,
        Err(_) => return,
    };
    let mut kernel = Some((
        Overlay::new(IpRoute2),
        VipPlumbing::new(iptables, vips.port()),
    ));
    loop {
        let changed = tokio::time::timeout(REFRESH, rx.changed()).await;
        if matches!(changed, Ok(Err(_))) {
            return; // the runner is gone
        }
        let table = rx.borrow_and_update().clone();
        for e in dns.apply(dns_tables(&table, &node_id), client_names(&table, &node_id)) {
            debug!(error = %e, "DNS not served yet");
        }
        let (vip_backends, vip_bridges) = vip_tables(&table, &node_id);
        vips.set(vip_backends);
        let nets = local_nets(&table, &node_id);
        let Some((mut o, mut p)) = kernel.take() else {
            return;
        };
        // iproute2 and iptables are blocking commands.
        let result = tokio::task::spawn_blocking(move || {
            let failed = o.apply(nets);
            p.apply(&vip_bridges);
            (o, p, failed)
        })
        .await;
        match result {
            Ok((o, p, failed)) => {
                if failed > 0 {
                    debug!(failed, "overlay networks not set up yet");
                }
                kernel = Some((o, p));
            }
            Err(_) => return,
        }
    }
}

/// The networks this node runs tasks of and that have tasks on other nodes, as the netplane
/// builds them.
fn local_nets(table: &[OverlayNetwork], node_id: &str) -> Vec<OverlayNet> {
    table
        .iter()
        .filter_map(|n| {
            let mine = n.endpoints.iter().find(|e| e.node_id == node_id)?;
            let local: Ipv4Addr = mine.node_addr.parse().ok()?;
            let remotes: BTreeMap<Ipv4Addr, Ipv4Addr> = n
                .endpoints
                .iter()
                .filter(|e| e.node_id != node_id)
                .filter_map(|e| Some((e.ip.parse().ok()?, e.node_addr.parse().ok()?)))
                .filter(|(_, node)| *node != local)
                .collect();
            Some(OverlayNet {
                vni: n.vni,
                bridge: bridge_name(&n.id),
                local,
                remotes,
                subnet: n.subnet.clone(),
                port: match n.data_path_port {
                    0 => VXLAN_PORT,
                    p => p,
                },
                mtu: match n.mtu {
                    0 => DEFAULT_MTU,
                    m => m,
                },
            })
        })
        // A network with no task on another node needs nothing across nodes.
        .filter(|n| !n.remotes.is_empty())
        .collect()
}

/// The names of each network this node runs tasks of, served on its gateway: each service's
/// name and aliases resolve to its VIP (to its running tasks' addresses in endpoint mode
/// dnsrr), and `tasks.<name>` to its running tasks' addresses.
fn dns_tables(table: &[OverlayNetwork], node_id: &str) -> Vec<(Ipv4Addr, Names)> {
    table
        .iter()
        .filter(|n| n.has_tasks_on(node_id))
        .filter_map(|n| Some((n.gateway.parse().ok()?, names(n))))
        .collect()
}

/// For each local task on several networks, the names of all of them, under each of its
/// addresses (its queries reach one network's gateway, from its address there).
fn client_names(table: &[OverlayNetwork], node_id: &str) -> ClientNames {
    let mut networks_of: BTreeMap<&str, Vec<(&OverlayNetwork, Ipv4Addr)>> = BTreeMap::new();
    for n in table {
        for e in n.endpoints.iter().filter(|e| e.node_id == node_id) {
            if let Ok(ip) = e.ip.parse() {
                networks_of.entry(&e.task_id).or_default().push((n, ip));
            }
        }
    }
    let mut out = ClientNames::new();
    for nets in networks_of.values().filter(|v| v.len() > 1) {
        let mut all = Names::default();
        // A name two networks give resolves as the earliest network in the table has it.
        for (n, _) in nets.iter().rev() {
            all.0.extend(names(n).0);
        }
        for (_, ip) in nets {
            out.insert(*ip, all.clone());
        }
    }
    out
}

/// The addresses of a service's running tasks on a network.
fn serving(n: &OverlayNetwork, service_id: &str) -> Vec<Ipv4Addr> {
    n.endpoints
        .iter()
        .filter(|e| e.serving && e.service_id == service_id)
        .filter_map(|e| e.ip.parse().ok())
        .collect()
}

/// The VIPs of the networks this node runs tasks of: each VIP's backends, and the bridge
/// it is served on.
fn vip_tables(table: &[OverlayNetwork], node_id: &str) -> (VipTable, BTreeMap<Ipv4Addr, String>) {
    let mut backends = VipTable::new();
    let mut bridges = BTreeMap::new();
    for n in table.iter().filter(|n| n.has_tasks_on(node_id)) {
        for s in &n.services {
            let Some(vip) = s.vip.as_ref().and_then(|v| v.parse::<Ipv4Addr>().ok()) else {
                continue;
            };
            backends.insert(vip, serving(n, &s.id));
            bridges.insert(vip, bridge_name(&n.id));
        }
    }
    (backends, bridges)
}

fn names(n: &OverlayNetwork) -> Names {
    let mut out = Names::default();
    for s in &n.services {
        let addrs = serving(n, &s.id);
        let vip: Option<Vec<Ipv4Addr>> =
            s.vip.as_ref().and_then(|v| v.parse().ok()).map(|v| vec![v]);
        for name in std::iter::once(&s.name).chain(&s.aliases) {
            let name = name.to_lowercase();
            out.0.insert(format!("tasks.{name}"), addrs.clone());
            out.0
                .insert(name, vip.clone().unwrap_or_else(|| addrs.clone()));
        }
    }
    out
}
