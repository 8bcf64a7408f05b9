//! The lab's network: bridge `shlab0` (10.214.0.1/24), and per node a namespace
//! `shoal-lab-<i>` joined to it by a veth pair, address 10.214.0.<10+i>, no default route.
//! Names differ from the test harness's (`shb*`, `shoal-<k>-<h>`) so neither touches the other.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const BRIDGE: &str = "shlab0";
const SUBNET: &str = "10.214.0";

/// A node's namespace name.
pub fn netns(i: usize) -> String {
    format!("shoal-lab-{i}")
}

/// A node's address.
pub fn ip(i: usize) -> String {
    format!("{SUBNET}.{}", 10 + i)
}

/// The bridge side of node `i`'s link (set it down to cut the node off).
pub fn veth(i: usize) -> String {
    format!("shlabv{i}")
}

/// `name` on PATH or in the sbin directories a non-login root shell may lack.
pub fn tool(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("`{name}` not found (apt-get install iproute2 util-linux)"))
}

fn run(prog: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(tool(prog)?)
        .args(args)
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{prog} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The FORWARD rule that lets bridged traffic through Docker's DROP policy.
fn forward_rule(op: &str) -> Vec<String> {
    [
        "-w", op, "FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT",
    ]
    .map(String::from)
    .to_vec()
}

/// Creates the bridge (refusing if a lab is already up).
pub fn create_bridge() -> Result<(), String> {
    run("ip", &["link", "add", BRIDGE, "type", "bridge"])
        .map_err(|e| format!("cannot create the lab bridge (is a lab already up?): {e}"))?;
    run(
        "ip",
        &["addr", "add", &format!("{SUBNET}.1/24"), "dev", BRIDGE],
    )?;
    run("ip", &["link", "set", BRIDGE, "up"])?;
    if tool("iptables").is_ok() {
        let mut insert = forward_rule("-I");
        insert.insert(3, "1".into());
        let args: Vec<&str> = insert.iter().map(String::as_str).collect();
        run("iptables", &args)?;
    }
    Ok(())
}

/// Adds node `i`'s namespace and link.
pub fn add_node(i: usize) -> Result<(), String> {
    let (ns, v) = (netns(i), veth(i));
    run("ip", &["netns", "add", &ns])?;
    run(
        "ip",
        &[
            "link", "add", &v, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ],
    )?;
    run("ip", &["link", "set", &v, "master", BRIDGE, "up"])?;
    run(
        "ip",
        &[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{}/24", ip(i)),
            "dev",
            "eth0",
        ],
    )?;
    run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
    run("ip", &["-n", &ns, "link", "set", "lo", "up"])
}

/// Removes whatever of the network exists (errors ignored: it may be half made).
pub fn remove(nodes: usize) {
    for i in 1..=nodes {
        let _ = run("ip", &["netns", "del", &netns(i)]);
        let _ = run("ip", &["link", "del", &veth(i)]);
    }
    let _ = run("ip", &["link", "del", BRIDGE]);
    if tool("iptables").is_ok() {
        let args = forward_rule("-D");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = run("iptables", &args);
    }
}
