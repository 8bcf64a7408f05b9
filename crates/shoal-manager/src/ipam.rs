//! IP address management for overlay networks: subnets from the cluster's address pools,
//! and the addresses inside a subnet that services (VIPs) and tasks get. The manager that
//! leads allocates; every allocation is written with the object that holds it, so the store
//! alone says what is in use (no allocator state to rebuild after a failover).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use bollard_stubs::models::EndpointSpecModeEnum;
use shoal_store::ReadTx;
use shoal_types::network::NetworkAttachment;
use shoal_types::service::VirtualIp;
use shoal_types::{Network, Service, Task, TaskState};

/// A parsed IPv4 CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    base: u32,
    bits: u32,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let (ip, bits) = s.split_once('/')?;
        let ip: Ipv4Addr = ip.parse().ok()?;
        let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        Some(Cidr {
            base: u32::from(ip) & mask,
            bits,
        })
    }
    pub(crate) fn size(self) -> u64 {
        1u64 << (32 - self.bits)
    }
    pub(crate) fn end(self) -> u64 {
        self.base as u64 + self.size()
    }
    pub(crate) fn overlaps(self, o: Cidr) -> bool {
        (self.base as u64) < o.end() && (o.base as u64) < self.end()
    }
    pub(crate) fn text(self) -> String {
        format!("{}/{}", Ipv4Addr::from(self.base), self.bits)
    }
    /// The first host address, Docker's default gateway.
    pub(crate) fn gateway(self) -> String {
        Ipv4Addr::from(self.base + 1).to_string()
    }
}

/// The first `size`-bit subnet of the pools that no existing network overlaps.
pub(crate) fn allocate(pools: &[String], size: u32, used: &[Cidr]) -> Option<Cidr> {
    for pool in pools.iter().filter_map(|p| Cidr::parse(p)) {
        let size = size.max(pool.bits);
        let step = 1u64 << (32 - size);
        let mut base = pool.base as u64;
        while base + step <= pool.end() {
            let c = Cidr {
                base: base as u32,
                bits: size,
            };
            if !used.iter().any(|u| u.overlaps(c)) {
                return Some(c);
            }
            base += step;
        }
    }
    None
}

/// The addresses of every network that services and live tasks hold, read from the store
/// once and then kept current as this allocator hands out more.
pub(crate) struct Ipam {
    networks: HashMap<String, Network>,
    used: HashMap<String, HashSet<u32>>,
}

impl Ipam {
    /// What `view` holds: every service's VIPs and the addresses of tasks that may still run
    /// (a task that ended has let its address go, as swarmkit frees a dead task's).
    pub(crate) fn load(view: &ReadTx<'_>) -> Ipam {
        let networks: HashMap<String, Network> = view
            .list::<Network>()
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        let mut ipam = Ipam {
            networks,
            used: HashMap::new(),
        };
        for s in view.list::<Service>() {
            for vip in &s.endpoint.virtual_ips {
                ipam.mark(&vip.network_id, &vip.addr);
            }
        }
        for t in view.list::<Task>() {
            if holds_addresses(&t) {
                for a in &t.networks {
                    for addr in &a.addresses {
                        ipam.mark(&a.network.id, addr);
                    }
                }
            }
        }
        ipam
    }

    fn mark(&mut self, network: &str, addr: &str) {
        if let Some(ip) = addr
            .split('/')
            .next()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
        {
            self.used
                .entry(network.to_string())
                .or_default()
                .insert(u32::from(ip));
        }
    }

    /// The network with this ID, if it still exists.
    pub(crate) fn network(&self, id: &str) -> Option<&Network> {
        self.networks.get(id)
    }

    /// A free address of `network`, in CIDR form, now marked used: the lowest one that is
    /// neither the subnet's own address, its gateway, its broadcast address nor held.
    pub(crate) fn take(&mut self, network: &str) -> Result<String, String> {
        let n = self
            .networks
            .get(network)
            .ok_or_else(|| format!("network {network} not found"))?;
        let cidr =
            Cidr::parse(&n.subnet).ok_or_else(|| format!("network {} has no subnet", n.name()))?;
        let gateway = n.gateway.parse::<Ipv4Addr>().map(u32::from).ok();
        let used = self.used.entry(network.to_string()).or_default();
        let first = cidr.base as u64 + 1;
        let last = cidr.end().saturating_sub(2); // the broadcast address is end - 1
        let free = (first..=last)
            .map(|a| a as u32)
            .find(|a| Some(*a) != gateway && !used.contains(a))
            .ok_or_else(|| format!("no available IPv4 addresses on network {}", n.name()))?;
        used.insert(free);
        Ok(format!("{}/{}", Ipv4Addr::from(free), cidr.bits))
    }

    /// Attachments for a new task to the networks its spec names: one address on each.
    pub(crate) fn attach(&mut self, task: &Task) -> Result<Vec<NetworkAttachment>, String> {
        let targets: Vec<String> = task
            .spec
            .networks
            .iter()
            .flatten()
            .filter_map(|n| n.target.clone())
            .collect();
        let mut out = Vec::with_capacity(targets.len());
        for id in targets {
            let addr = self.take(&id)?;
            let n = self.networks.get(&id).expect("take found it");
            out.push(n.attachment(addr));
        }
        Ok(out)
    }
}

/// Whether a task may still be using its addresses: until it has ended, or, if it was never
/// given to a node, until it is no longer wanted.
pub(crate) fn holds_addresses(t: &Task) -> bool {
    let never_ran = t.status.state <= TaskState::Pending && t.desired_state > TaskState::Running;
    t.status.state <= TaskState::Running && !never_ran
}

/// The networks whose VIP a service should have: those it attaches to, unless its endpoint
/// mode is DNS round robin (no VIP, as in Docker).
pub(crate) fn wanted_vip_networks(s: &Service) -> Vec<String> {
    let dnsrr = s
        .spec
        .endpoint_spec
        .as_ref()
        .and_then(|e| e.mode)
        .is_some_and(|m| m == EndpointSpecModeEnum::DNSRR);
    if dnsrr {
        return Vec::new();
    }
    crate::control::network::service_networks(s)
}

/// Whether the service's VIPs differ from those it should have.
pub(crate) fn vips_stale(s: &Service) -> bool {
    let have: Vec<&str> = s
        .endpoint
        .virtual_ips
        .iter()
        .map(|v| v.network_id.as_str())
        .collect();
    have != wanted_vip_networks(s)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
}

impl Ipam {
    /// Gives the service a VIP on each network it should have one on, keeping those it has.
    pub(crate) fn set_vips(&mut self, s: &mut Service) {
        let mut vips = Vec::new();
        for id in wanted_vip_networks(s) {
            if self.network(&id).is_none() {
                continue; // removed since: nothing to give
            }
            let kept = s
                .endpoint
                .virtual_ips
                .iter()
                .find(|v| v.network_id == id && !v.addr.is_empty());
            let addr = match kept {
                Some(v) => v.addr.clone(),
                // An empty address records the failure, so the loop does not retry at once;
                // the next change of the service tries again.
                None => self.take(&id).unwrap_or_else(|e| {
                    tracing::warn!(service.id = %s.id, error = %e, "no VIP for the service");
                    String::new()
                }),
            };
            vips.push(VirtualIp {
                network_id: id,
                addr,
            });
        }
        s.endpoint.virtual_ips = vips;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_come_from_the_pool_in_order_without_overlap() {
        let pool = vec!["10.0.0.0/8".to_string()];
        let first = allocate(&pool, 24, &[]).unwrap();
        assert_eq!(first.text(), "10.0.0.0/24");
        assert_eq!(first.gateway(), "10.0.0.1");
        let second = allocate(&pool, 24, &[first]).unwrap();
        assert_eq!(second.text(), "10.0.1.0/24");
        let user = Cidr::parse("10.0.2.0/23").unwrap();
        let third = allocate(&pool, 24, &[first, second, user]).unwrap();
        assert_eq!(third.text(), "10.0.4.0/24");
        assert!(allocate(&["192.168.0.0/24".to_string()], 24, &[third]).is_some());
        let full = Cidr::parse("192.168.0.0/24").unwrap();
        assert!(allocate(&["192.168.0.0/24".to_string()], 24, &[full]).is_none());
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nope").is_none());
    }

    fn ipam_with(subnet: &str) -> Ipam {
        let n = Network {
            id: "net1".into(),
            spec: shoal_types::network::NetworkCreateRequest {
                name: "backend".into(),
                ..Default::default()
            },
            subnet: subnet.into(),
            gateway: Cidr::parse(subnet).unwrap().gateway(),
            vni: 4098,
            ..Default::default()
        };
        Ipam {
            networks: [("net1".to_string(), n)].into(),
            used: HashMap::new(),
        }
    }

    #[test]
    fn addresses_skip_the_gateway_and_broadcast_and_run_out_clearly() {
        let mut ipam = ipam_with("10.0.7.0/29"); // .1 gateway, .2-.6 usable, .7 broadcast
        let got: Vec<String> = (0..5).map(|_| ipam.take("net1").unwrap()).collect();
        assert_eq!(
            got,
            [
                "10.0.7.2/29",
                "10.0.7.3/29",
                "10.0.7.4/29",
                "10.0.7.5/29",
                "10.0.7.6/29"
            ]
        );
        assert_eq!(
            ipam.take("net1").unwrap_err(),
            "no available IPv4 addresses on network backend"
        );
        assert_eq!(ipam.take("gone").unwrap_err(), "network gone not found");
    }

    #[test]
    fn held_addresses_are_not_given_again_and_freed_ones_are() {
        let mut ipam = ipam_with("10.0.7.0/24");
        ipam.mark("net1", "10.0.7.2/24");
        ipam.mark("net1", "10.0.7.4/24");
        assert_eq!(ipam.take("net1").unwrap(), "10.0.7.3/24");
        assert_eq!(ipam.take("net1").unwrap(), "10.0.7.5/24");
    }

    #[test]
    fn a_task_holds_its_address_until_it_ends_or_is_dropped_unassigned() {
        let mut t = Task {
            desired_state: TaskState::Running,
            ..Default::default()
        };
        for (state, desired, holds) in [
            (TaskState::Pending, TaskState::Running, true),
            (TaskState::Running, TaskState::Running, true),
            (TaskState::Running, TaskState::Shutdown, true),
            (TaskState::Pending, TaskState::Shutdown, false),
            (TaskState::Shutdown, TaskState::Shutdown, false),
            (TaskState::Failed, TaskState::Running, false),
        ] {
            t.status.state = state;
            t.desired_state = desired;
            assert_eq!(holds_addresses(&t), holds, "{state:?} desired {desired:?}");
        }
    }

    #[test]
    fn attachments_carry_what_the_agent_needs() {
        let mut ipam = ipam_with("10.0.9.0/24");
        let spec = shoal_types::TaskSpec {
            networks: Some(vec![bollard_stubs::models::NetworkAttachmentConfig {
                target: Some("net1".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let t = Task {
            spec,
            ..Default::default()
        };
        let a = ipam.attach(&t).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].ip(), Some(Ipv4Addr::new(10, 0, 9, 2)));
        assert_eq!(a[0].vni(), Some(4098));
        assert_eq!(a[0].subnet().unwrap().gateway, "10.0.9.1");
        assert_eq!(a[0].network.spec.name, "backend");
    }
}
