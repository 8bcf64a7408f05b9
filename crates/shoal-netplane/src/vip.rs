//! Service VIPs on overlay networks, served in userspace like the routing mesh.
//!
//! On each node, every VIP of a network the node has tasks on is an address of that network's
//! bridge (so the node answers ARP for it), and an iptables `REDIRECT` sends every TCP
//! connection to it, whatever its port, to one local listener. The listener reads where the
//! connection was going (`SO_ORIGINAL_DST`) and forwards it to the same port of one of the
//! service's running tasks, in turn, trying the next on a failed connect.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::cmd::run;

/// How long one backend may take to accept before the next is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// VIP → the addresses of its service's running tasks.
pub type VipTable = HashMap<Ipv4Addr, Vec<Ipv4Addr>>;

/// The node's VIP listener.
pub struct VipProxy {
    port: u16,
    table: Arc<RwLock<VipTable>>,
    task: JoinHandle<()>,
}

impl Drop for VipProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl VipProxy {
    /// Listens on a port the kernel picks (needs a tokio runtime).
    pub async fn start() -> io::Result<VipProxy> {
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).await?;
        let port = listener.local_addr()?.port();
        let table: Arc<RwLock<VipTable>> = Arc::default();
        let task = tokio::spawn(serve(listener, table.clone()));
        Ok(VipProxy { port, table, task })
    }

    /// Where the redirect rules send connections.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Replaces the table (new connections use it at once).
    pub fn set(&self, table: VipTable) {
        *self.table.write().unwrap_or_else(|p| p.into_inner()) = table;
    }
}

async fn serve(listener: TcpListener, table: Arc<RwLock<VipTable>>) {
    let turn = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(proxy(client, table.clone(), turn.clone()));
    }
}

async fn proxy(mut client: TcpStream, table: Arc<RwLock<VipTable>>, turn: Arc<AtomicUsize>) {
    let Ok(dst) = original_dst(&client) else {
        return; // not redirected here: nothing to forward to
    };
    let backends = table
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(dst.ip())
        .cloned()
        .unwrap_or_default();
    if backends.is_empty() {
        debug!(vip = %dst, "no running task behind the VIP");
        return;
    }
    let start = turn.fetch_add(1, Ordering::Relaxed);
    for i in 0..backends.len() {
        let addr = SocketAddr::from((backends[(start + i) % backends.len()], dst.port()));
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(mut backend)) => {
                let _ = client.set_nodelay(true);
                let _ = backend.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
                return;
            }
            _ => debug!(vip = %dst, backend = %addr, "VIP backend connect failed"),
        }
    }
}

/// Where a redirected connection was going.
fn original_dst(s: &TcpStream) -> io::Result<SocketAddrV4> {
    let sa = getsockopt(s, sockopt::OriginalDst).map_err(io::Error::from)?;
    Ok(SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr)),
        u16::from_be(sa.sin_port),
    ))
}

/// The kernel side: VIP addresses on bridges and the redirect rules.
pub trait VipKernel {
    fn add(&mut self, bridge: &str, vip: Ipv4Addr, port: u16) -> io::Result<()>;
    fn del(&mut self, bridge: &str, vip: Ipv4Addr, port: u16);
}

/// Keeps the kernel's VIPs matching a set of (bridge, VIP).
pub struct VipPlumbing<K: VipKernel> {
    kernel: K,
    port: u16,
    current: BTreeSet<(String, Ipv4Addr)>,
}

impl<K: VipKernel> VipPlumbing<K> {
    pub fn new(kernel: K, port: u16) -> Self {
        VipPlumbing {
            kernel,
            port,
            current: BTreeSet::new(),
        }
    }

    /// Adds what is new, removes what is gone; a failed add is retried on the next call
    /// (the bridge comes with the network's first task on the node).
    pub fn apply(&mut self, wanted: &BTreeMap<Ipv4Addr, String>) {
        let wanted: BTreeSet<(String, Ipv4Addr)> =
            wanted.iter().map(|(vip, br)| (br.clone(), *vip)).collect();
        for (br, vip) in self
            .current
            .difference(&wanted)
            .cloned()
            .collect::<Vec<_>>()
        {
            self.kernel.del(&br, vip, self.port);
            self.current.remove(&(br, vip));
        }
        for (br, vip) in wanted
            .difference(&self.current)
            .cloned()
            .collect::<Vec<_>>()
        {
            match self.kernel.add(&br, vip, self.port) {
                Ok(()) => {
                    self.current.insert((br, vip));
                }
                Err(e) => debug!(%vip, bridge = %br, error = %e, "VIP not set up yet"),
            }
        }
    }
}

/// VIPs through iproute2 and iptables. Rules carry the comment `shoal-vip:<owner>` (the
/// node's ID), so what a node left behind can be found.
#[derive(Debug, Default)]
pub struct IpTablesVips {
    pub owner: String,
}

fn rule(owner: &str, bridge: &str, vip: Ipv4Addr, port: u16) -> Vec<String> {
    [
        "PREROUTING",
        "-m",
        "comment",
        "--comment",
        &format!("shoal-vip:{owner}"),
        "-i",
        bridge,
        "-d",
        &format!("{vip}/32"),
        "-p",
        "tcp",
        "-j",
        "REDIRECT",
        "--to-ports",
        &port.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl IpTablesVips {
    /// Deletes the redirect rules an earlier run of this node left (its listener's port has
    /// changed since); called once before the first `apply`.
    pub fn clear_stale(&self) {
        let Ok(out) = Command::new("iptables")
            .args(["-t", "nat", "-S", "PREROUTING"])
            .output()
        else {
            return;
        };
        let tag = format!("shoal-vip:{}", self.owner);
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(spec) = line.strip_prefix("-A ").filter(|_| line.contains(&tag)) else {
                continue;
            };
            // `-S` quotes the comment; its words carry no spaces.
            let words: Vec<&str> = spec
                .split_whitespace()
                .map(|w| w.trim_matches('"'))
                .collect();
            let del = [&["-t", "nat", "-D"][..], &words].concat();
            let _ = run("iptables", &del);
        }
    }
}

impl VipKernel for IpTablesVips {
    fn add(&mut self, bridge: &str, vip: Ipv4Addr, port: u16) -> io::Result<()> {
        run(
            "ip",
            &["addr", "replace", &format!("{vip}/32"), "dev", bridge],
        )?;
        let r = rule(&self.owner, bridge, vip, port);
        let r: Vec<&str> = r.iter().map(String::as_str).collect();
        let check = [&["-t", "nat", "-C"][..], &r].concat();
        if run("iptables", &check).is_err() {
            let insert = [&["-t", "nat", "-I"][..], &r[..1], &["1"], &r[1..]].concat();
            run("iptables", &insert)?;
        }
        Ok(())
    }

    fn del(&mut self, bridge: &str, vip: Ipv4Addr, port: u16) {
        let r = rule(&self.owner, bridge, vip, port);
        let r: Vec<&str> = r.iter().map(String::as_str).collect();
        let del = [&["-t", "nat", "-D"][..], &r].concat();
        while run("iptables", &del).is_ok() {}
        if let Err(e) = run("ip", &["addr", "del", &format!("{vip}/32"), "dev", bridge]) {
            warn!(%vip, error = %e, "VIP address not removed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Fake {
        calls: Vec<String>,
        missing: BTreeSet<String>,
    }

    impl VipKernel for Fake {
        fn add(&mut self, bridge: &str, vip: Ipv4Addr, port: u16) -> io::Result<()> {
            if self.missing.contains(bridge) {
                return Err(io::Error::other("no bridge"));
            }
            self.calls.push(format!("add {bridge} {vip} {port}"));
            Ok(())
        }
        fn del(&mut self, bridge: &str, vip: Ipv4Addr, port: u16) {
            self.calls.push(format!("del {bridge} {vip} {port}"));
        }
    }

    #[test]
    fn vips_follow_the_table_and_missing_bridges_are_retried() {
        let mut fake = Fake::default();
        fake.missing.insert("shoal4099".into());
        let mut p = VipPlumbing::new(fake, 4000);
        let vip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        let table: BTreeMap<Ipv4Addr, String> = [
            (vip("10.0.1.2"), "shoal4098".to_string()),
            (vip("10.0.2.2"), "shoal4099".to_string()),
        ]
        .into();
        p.apply(&table);
        assert_eq!(p.kernel.calls, ["add shoal4098 10.0.1.2 4000"]);
        p.kernel.missing.clear();
        p.kernel.calls.clear();
        p.apply(&table);
        assert_eq!(p.kernel.calls, ["add shoal4099 10.0.2.2 4000"]);
        p.kernel.calls.clear();
        p.apply(&[(vip("10.0.2.2"), "shoal4099".to_string())].into());
        assert_eq!(p.kernel.calls, ["del shoal4098 10.0.1.2 4000"]);
    }
}
