//! `Net`: a private IPv4 network for one test, so several real daemons run on one machine each
//! with its own address. It owns a Linux bridge `shb<K>` holding 10.213.K.1/24 and, per host,
//! a network namespace `shoal-<K>-<H>` joined to the bridge by a veth pair (`shv<K>-<H>` on the
//! bridge, `eth0` = 10.213.K.(10+H) inside). Hosts can be cut off, healed and made lossy.
//! Namespaces get no default route: traffic stays on the bridge. Needs root, `ip`, `nsenter`
//! and, where Docker filters bridged traffic, `iptables`.

pub(crate) mod sys;

use std::ffi::OsStr;
use std::process::Command;

/// Host H gets 10.213.K.(FIRST_HOST + H).
const FIRST_HOST: usize = 10;
const MAX_HOSTS: usize = 255 - FIRST_HOST;

/// One private network: a bridge and its hosts. Dropping it removes everything it created and
/// kills whatever still runs in its namespaces.
#[derive(Debug)]
pub struct Net {
    k: u8,
    hosts: usize,
}

impl Net {
    /// A new network with `hosts` hosts. First removes networks left by dead test processes.
    pub fn new(hosts: usize) -> anyhow::Result<Net> {
        sys::tools()?;
        let k = {
            let _lock = sys::lock()?;
            sys::sweep_stale()?;
            claim()?
        };
        let mut net = Net { k, hosts: 0 };
        for _ in 0..hosts {
            net.add_host()?;
        }
        Ok(net)
    }

    /// Adds a host (namespace, veth, address) and returns its index.
    pub fn add_host(&mut self) -> anyhow::Result<usize> {
        let h = self.hosts;
        anyhow::ensure!(h < MAX_HOSTS, "a Net holds at most {MAX_HOSTS} hosts");
        // Held so a concurrent sweep never sees a namespace without its bridge's owner, and
        // because concurrent `ip netns add` calls race on mounting /run/netns.
        let _lock = sys::lock()?;
        // Counted before anything exists so Drop also removes a half-built host.
        self.hosts += 1;
        let (ns, veth) = (self.netns_name(h), self.veth(h));
        let addr = format!("{}/24", self.ip(h));
        sys::ip(&["netns", "add", &ns])?;
        sys::ip(&[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ])?;
        sys::ip(&["link", "set", &veth, "master", &self.bridge(), "up"])?;
        sys::ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
        sys::ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        sys::ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        Ok(h)
    }

    /// How many hosts the network has.
    pub fn hosts(&self) -> usize {
        self.hosts
    }

    /// The IPv4 address of `host`, e.g. `10.213.3.11`.
    pub fn ip(&self, host: usize) -> String {
        self.check(host);
        format!("10.213.{}.{}", self.k, FIRST_HOST + host)
    }

    /// The bridge's address: the test process reaches every host from here.
    pub fn bridge_ip(&self) -> String {
        format!("10.213.{}.1", self.k)
    }

    /// `10.213.K.0/24`.
    pub fn subnet(&self) -> String {
        format!("10.213.{}.0/24", self.k)
    }

    /// The bridge's interface name, `shb<K>`.
    pub fn bridge(&self) -> String {
        format!("{}{}", sys::BRIDGE, self.k)
    }

    /// The namespace name of `host`, as `ip netns` knows it.
    pub fn netns_name(&self, host: usize) -> String {
        self.check(host);
        format!("{}{}-{host}", sys::NETNS, self.k)
    }

    /// `/run/netns/<name>`, for `nsenter --net=`.
    pub fn netns_path(&self, host: usize) -> String {
        format!("/run/netns/{}", self.netns_name(host))
    }

    /// The bridge-side veth of `host`.
    pub fn veth(&self, host: usize) -> String {
        self.check(host);
        format!("{}{}-{host}", sys::VETH, self.k)
    }

    /// A command running `program` inside `host`'s namespace. Only the network namespace
    /// changes (`nsenter` execs the program, so `Child::id()` is the program's PID); the
    /// filesystem, /sys and cgroups stay the test's, unlike `ip netns exec`.
    pub fn command(&self, host: usize, program: impl AsRef<OsStr>) -> Command {
        nsenter_command(&self.netns_path(host), program)
    }

    /// Cuts `host` off: its bridge-side veth goes down, so nothing passes either way between it
    /// and the other hosts or the test process. Its sockets see silence, not errors.
    pub fn cut(&self, host: usize) {
        sys::ip(&["link", "set", &self.veth(host), "down"])
            .unwrap_or_else(|e| panic!("cut host {host}: {e:#}"));
    }

    /// Undoes `cut`.
    pub fn heal(&self, host: usize) {
        sys::ip(&["link", "set", &self.veth(host), "up"])
            .unwrap_or_else(|e| panic!("heal host {host}: {e:#}"));
    }

    /// Drops `percent` % of the packets `host` sends and, independently, of those it receives
    /// (0 clears it). Uses iptables' statistic match inside the namespace rather than tc netem,
    /// which not every kernel ships (sch_netem); replaces the namespace's INPUT/OUTPUT rules.
    pub fn set_loss(&self, host: usize, percent: f64) {
        assert!(
            (0.0..=100.0).contains(&percent),
            "loss {percent}% out of range"
        );
        let iptables = sys::tools()
            .ok()
            .and_then(|t| t.iptables.as_ref())
            .expect("Net::set_loss needs iptables (apt-get install iptables)");
        let p = format!("{}", percent / 100.0);
        let mut rules = vec![vec!["-F", "INPUT"], vec!["-F", "OUTPUT"]];
        if percent > 0.0 {
            for (chain, dir) in [("INPUT", "-i"), ("OUTPUT", "-o")] {
                rules.push(vec![
                    "-A",
                    chain,
                    dir,
                    "eth0",
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    &p,
                    "-j",
                    "DROP",
                ]);
            }
        }
        for rule in rules {
            let out = self
                .command(host, iptables)
                .arg("-w")
                .args(&rule)
                .output()
                .expect("run nsenter");
            assert!(
                out.status.success(),
                "iptables {} in host {host}: {}",
                rule.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Undoes `set_loss`.
    pub fn clear_loss(&self, host: usize) {
        self.set_loss(host, 0.0);
    }

    fn check(&self, host: usize) {
        assert!(
            host < self.hosts,
            "host {host} of a Net with {} hosts",
            self.hosts
        );
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        sys::remove_index(self.k);
    }
}

/// `nsenter --net=PATH -- program`.
pub(crate) fn nsenter_command(netns_path: &str, program: impl AsRef<OsStr>) -> Command {
    let tools = sys::tools().unwrap_or_else(|e| panic!("{e:#}"));
    let mut c = Command::new(&tools.nsenter);
    c.arg(format!("--net={netns_path}")).arg("--").arg(program);
    c
}

/// Takes the lowest free index by creating its bridge: creation fails if the name exists, so
/// this is atomic even against processes that do not honour our lock.
fn claim() -> anyhow::Result<u8> {
    for k in 0..=u8::MAX {
        let br = format!("{}{k}", sys::BRIDGE);
        match sys::ip(&["link", "add", &br, "type", "bridge"]) {
            Ok(_) => {
                if let Err(e) = set_up_bridge(k, &br) {
                    sys::remove_index(k);
                    return Err(e);
                }
                return Ok(k);
            }
            Err(e) if format!("{e}").contains("File exists") => continue,
            Err(e) => return Err(e),
        }
    }
    anyhow::bail!("no free test network: bridges shb0..shb255 all exist")
}

fn set_up_bridge(k: u8, br: &str) -> anyhow::Result<()> {
    // The owner's identity, so later processes can tell a dead owner's network from a live one.
    sys::ip(&["link", "set", "dev", br, "alias", &sys::owner_alias()])?;
    sys::ip(&["addr", "add", &format!("10.213.{k}.1/24"), "dev", br])?;
    sys::ip(&["link", "set", br, "up"])?;
    // Inserted first so it precedes Docker's FORWARD rules and DROP policy.
    let rule = sys::forward_rule(k);
    let mut args = vec!["-I", "FORWARD", "1"];
    args.extend(rule.iter().map(String::as_str));
    sys::iptables(&args)?;
    Ok(())
}
