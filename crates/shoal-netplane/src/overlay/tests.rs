use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;

use super::*;

/// Records what the reconciler asks for.
#[derive(Default)]
struct Fake {
    calls: Vec<String>,
    fail_create: bool,
}

impl Kernel for Fake {
    fn create(&mut self, net: &OverlayNet) -> io::Result<()> {
        self.calls.push(format!("create {}", net.vni));
        if self.fail_create {
            return Err(io::Error::other("no"));
        }
        Ok(())
    }
    fn remove(&mut self, net: &OverlayNet) -> io::Result<()> {
        self.calls.push(format!("remove {}", net.vni));
        Ok(())
    }
    fn add_remote(&mut self, net: &OverlayNet, ip: Ipv4Addr, node: Ipv4Addr) -> io::Result<()> {
        self.calls.push(format!("add {} {ip} via {node}", net.vni));
        Ok(())
    }
    fn del_remote(&mut self, net: &OverlayNet, ip: Ipv4Addr, node: Ipv4Addr) -> io::Result<()> {
        self.calls.push(format!("del {} {ip} via {node}", net.vni));
        Ok(())
    }
    fn refresh(&mut self, net: &OverlayNet) -> io::Result<()> {
        self.calls.push(format!("refresh {}", net.vni));
        Ok(())
    }
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn net(vni: u32, remotes: &[(&str, &str)]) -> OverlayNet {
    OverlayNet {
        vni,
        bridge: format!("shoal{vni}"),
        local: ip("192.168.1.1"),
        remotes: remotes
            .iter()
            .map(|(a, b)| (ip(a), ip(b)))
            .collect::<BTreeMap<_, _>>(),
        subnet: "10.0.1.0/24".into(),
        port: VXLAN_PORT,
        mtu: 1450,
    }
}

#[test]
fn devices_and_remote_tasks_follow_the_table() {
    let mut o = Overlay::new(Fake::default());
    assert_eq!(o.apply(vec![net(4098, &[("10.0.1.3", "192.168.1.2")])]), 0);
    assert_eq!(
        o.kernel.calls,
        [
            "create 4098",
            "add 4098 10.0.1.3 via 192.168.1.2",
            "refresh 4098"
        ]
    );
    o.kernel.calls.clear();

    // A task moves to another node, another appears; the device stays.
    o.apply(vec![net(
        4098,
        &[("10.0.1.3", "192.168.1.3"), ("10.0.1.4", "192.168.1.2")],
    )]);
    assert_eq!(
        o.kernel.calls,
        [
            "del 4098 10.0.1.3 via 192.168.1.2",
            "add 4098 10.0.1.3 via 192.168.1.3",
            "add 4098 10.0.1.4 via 192.168.1.2",
            "refresh 4098"
        ]
    );
    o.kernel.calls.clear();

    // The network has no more tasks here: its device goes.
    o.apply(vec![]);
    assert_eq!(o.kernel.calls, ["remove 4098"]);
}

#[test]
fn a_failed_network_is_tried_again_from_scratch() {
    let mut o = Overlay::new(Fake {
        fail_create: true,
        ..Default::default()
    });
    assert_eq!(o.apply(vec![net(4098, &[("10.0.1.3", "192.168.1.2")])]), 1);
    o.kernel.fail_create = false;
    o.kernel.calls.clear();
    assert_eq!(o.apply(vec![net(4098, &[("10.0.1.3", "192.168.1.2")])]), 0);
    assert_eq!(
        o.kernel.calls,
        [
            "create 4098",
            "add 4098 10.0.1.3 via 192.168.1.2",
            "refresh 4098"
        ]
    );
}

#[test]
fn node_macs_are_derived_from_addresses() {
    assert_eq!(node_mac(ip("10.214.0.7")), [0x02, 0x5e, 10, 214, 0, 7]);
    assert_eq!(vxlan_name(4098), "shvx4098");
}

#[test]
fn a_new_data_path_port_or_mtu_makes_the_device_anew() {
    let mut o = Overlay::new(Fake::default());
    let first = net(4098, &[("10.0.1.3", "192.168.1.2")]);
    o.apply(vec![first.clone()]);
    o.kernel.calls.clear();
    for changed in [
        OverlayNet {
            mtu: 1400,
            ..first.clone()
        },
        OverlayNet {
            port: 7789,
            mtu: 1400,
            ..first.clone()
        },
    ] {
        o.apply(vec![changed]);
        assert_eq!(
            o.kernel.calls,
            [
                "create 4098",
                "add 4098 10.0.1.3 via 192.168.1.2",
                "refresh 4098"
            ]
        );
        o.kernel.calls.clear();
    }
}
