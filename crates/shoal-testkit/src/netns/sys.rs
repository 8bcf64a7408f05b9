//! The system side of `Net`: finding the `ip`/`nsenter`/`iptables` tools, running them, the
//! machine-wide lock that serialises allocation, and the sweep that removes networks left behind
//! by test processes that died without running `Drop` (SIGKILL, CI timeout).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Bridge names are `shb<K>`; `K` is also the third octet of the subnet.
pub const BRIDGE: &str = "shb";
/// Host-side veth names are `shv<K>-<H>` (≤ 15 chars for K, H ≤ 255).
pub const VETH: &str = "shv";
/// Namespace names are `shoal-<K>-<H>`.
pub const NETNS: &str = "shoal-";
/// Everything `Net` creates is serialised on this lock, across threads and processes.
const LOCK_PATH: &str = "/run/shoal-testkit-net.lock";
const ALIAS_PREFIX: &str = "shoal-test";

/// Resolved paths of the tools `Net` needs.
pub struct Tools {
    pub ip: PathBuf,
    pub nsenter: PathBuf,
    /// Only required when bridged traffic goes through iptables (br_netfilter loaded).
    pub iptables: Option<PathBuf>,
}

/// Checks root and the tools once per process; the error says exactly what is missing.
pub fn tools() -> anyhow::Result<&'static Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS
        .get_or_init(|| preflight().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn preflight() -> anyhow::Result<Tools> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?");
    anyhow::ensure!(
        euid == "0",
        "test networks (shoal_testkit::Net) need root for namespaces, bridges and veths; \
         running as uid {euid}"
    );
    let ip =
        find("ip").ok_or_else(|| anyhow::anyhow!("`ip` not found (apt-get install iproute2)"))?;
    let nsenter = find("nsenter")
        .ok_or_else(|| anyhow::anyhow!("`nsenter` not found (apt-get install util-linux)"))?;
    let iptables = find("iptables");
    // With br_netfilter loaded, bridged frames traverse FORWARD, whose policy Docker sets to
    // DROP: without an ACCEPT rule the hosts of a Net could not reach each other.
    let bridged_via_iptables =
        std::fs::read_to_string("/proc/sys/net/bridge/bridge-nf-call-iptables")
            .is_ok_and(|s| s.trim() == "1");
    anyhow::ensure!(
        iptables.is_some() || !bridged_via_iptables,
        "`iptables` not found but bridged traffic is filtered by it (br_netfilter): \
         apt-get install iptables"
    );
    Ok(Tools {
        ip,
        nsenter,
        iptables,
    })
}

/// `name` on PATH, or in the sbin directories a non-login root shell may lack.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Runs a tool; Ok(stdout) on success, else an error with the command line and its stderr.
pub fn run(prog: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(prog).args(args).output()?;
    anyhow::ensure!(
        out.status.success(),
        "{} {}: {}",
        prog.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip ARGS`.
pub fn ip(args: &[&str]) -> anyhow::Result<String> {
    run(&tools()?.ip, args)
}

/// `iptables -w ARGS` (`-w` waits for the xtables lock Docker also takes), if iptables exists.
pub fn iptables(args: &[&str]) -> anyhow::Result<String> {
    let Some(prog) = &tools()?.iptables else {
        return Ok(String::new());
    };
    let mut all = vec!["-w"];
    all.extend_from_slice(args);
    run(prog, &all)
}

/// Holds the machine-wide lock (flock) until dropped. Separate opens conflict even between
/// threads of one process, so this also serialises tests of one test binary.
pub fn lock() -> anyhow::Result<std::fs::File> {
    let f = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK_PATH)?;
    f.lock()?;
    Ok(f)
}

/// The alias recorded on a bridge: our PID and its start time, so a recycled PID is not
/// mistaken for the owner.
pub fn owner_alias() -> String {
    let pid = std::process::id();
    format!(
        "{ALIAS_PREFIX} pid={pid} start={}",
        start_time(pid).unwrap_or(0)
    )
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process an alias names is still running.
pub fn owner_alive(alias: &str) -> bool {
    let field = |key: &str| {
        alias
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse::<u64>().ok())
    };
    match (
        alias.starts_with(ALIAS_PREFIX),
        field("pid="),
        field("start="),
    ) {
        (true, Some(pid), Some(start)) => start_time(pid as u32) == Some(start),
        _ => false,
    }
}

/// `K` of a name `<prefix><K><rest>`, where rest is empty or starts with `-`.
fn index_of(name: &str, prefix: &str) -> Option<u8> {
    let tail = name.strip_prefix(prefix)?;
    let (k, rest) = tail.split_at(tail.find('-').unwrap_or(tail.len()));
    (rest.is_empty() || rest.starts_with('-'))
        .then(|| k.parse().ok())
        .flatten()
}

/// Removes every network whose owner is gone: bridges whose alias names a dead process (or that
/// lost the race to be aliased), and namespaces, veths and iptables rules whose bridge no longer
/// exists. Call with the lock held: allocation and setup of new hosts also hold it, so nothing
/// found here is half-built by a live process.
pub fn sweep_stale() -> anyhow::Result<()> {
    let links: serde_json::Value = serde_json::from_str(&ip(&["-j", "link", "show"])?)?;
    let mut live = BTreeSet::new();
    let mut stale = BTreeSet::new();
    for link in links.as_array().into_iter().flatten() {
        let name = link["ifname"].as_str().unwrap_or_default();
        if let Some(k) = index_of(name, BRIDGE).filter(|_| !name.contains('-')) {
            match link["ifalias"].as_str().is_some_and(owner_alive) {
                true => live.insert(k),
                false => stale.insert(k),
            };
        } else if let Some(k) = index_of(name, VETH) {
            stale.insert(k);
        }
    }
    for entry in std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Some(k) = index_of(&entry.file_name().to_string_lossy(), NETNS) {
            stale.insert(k);
        }
    }
    for rule in iptables(&["-S", "FORWARD"])?.lines() {
        if let Some(k) = forward_rule_index(rule) {
            stale.insert(k);
        }
    }
    for k in stale.difference(&live) {
        remove_index(*k);
    }
    Ok(())
}

/// Our FORWARD rule: `-A FORWARD -i shbK -o shbK -j ACCEPT`.
fn forward_rule_index(rule: &str) -> Option<u8> {
    let words: Vec<&str> = rule.split_whitespace().collect();
    match words.as_slice() {
        ["-A", "FORWARD", "-i", i, "-o", o, "-j", "ACCEPT"] if i == o => index_of(i, BRIDGE),
        _ => None,
    }
}

/// The FORWARD rule arguments that let bridge `k` forward between its own ports.
pub fn forward_rule(k: u8) -> [String; 6] {
    let br = format!("{BRIDGE}{k}");
    [
        "-i".into(),
        br.clone(),
        "-o".into(),
        br,
        "-j".into(),
        "ACCEPT".into(),
    ]
}

/// Deletes everything of index `k`, bridge last (its existence is what marks `k` as taken).
/// Errors are ignored: parts may already be gone.
pub fn remove_index(k: u8) {
    let netns_prefix = format!("{NETNS}{k}-");
    for entry in std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&netns_prefix) {
            remove_netns(&name);
        }
    }
    let veth_prefix = format!("{VETH}{k}-");
    if let Ok(out) = ip(&["-o", "link", "show"]) {
        for name in out.lines().filter_map(|l| l.split(": ").nth(1)) {
            // `ip -o link` prints veths as `shv3-0@if12`.
            let name = name.split('@').next().unwrap_or(name);
            if name.starts_with(&veth_prefix) {
                let _ = ip(&["link", "del", name]);
            }
        }
    }
    remove_forward_rule(k);
    let _ = ip(&["link", "del", &format!("{BRIDGE}{k}")]);
}

/// Deletes our FORWARD rule(s) for bridge `k` (duplicates are possible after a crash).
pub fn remove_forward_rule(k: u8) {
    if tools().map_or(true, |t| t.iptables.is_none()) {
        return;
    }
    let rule = forward_rule(k);
    let mut args = vec!["-D", "FORWARD"];
    args.extend(rule.iter().map(String::as_str));
    for _ in 0..8 {
        if iptables(&args).is_err() {
            break;
        }
    }
}

/// Kills what still runs in a namespace (it would keep the namespace alive), then deletes it.
pub fn remove_netns(name: &str) {
    if let Ok(pids) = ip(&["netns", "pids", name]) {
        for pid in pids.split_whitespace() {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
    let _ = ip(&["netns", "del", name]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_to_their_index() {
        assert_eq!(index_of("shb7", BRIDGE), Some(7));
        assert_eq!(index_of("shv7-3", VETH), Some(7));
        assert_eq!(index_of("shoal-12-0", NETNS), Some(12));
        assert_eq!(index_of("shbx", BRIDGE), None);
        assert_eq!(index_of("shb300", BRIDGE), None);
        assert_eq!(
            forward_rule_index("-A FORWARD -i shb4 -o shb4 -j ACCEPT"),
            Some(4)
        );
        assert_eq!(
            forward_rule_index("-A FORWARD -i shb4 -o eth0 -j ACCEPT"),
            None
        );
    }

    #[test]
    fn own_alias_is_alive_and_others_are_not() {
        assert!(owner_alive(&owner_alias()));
        assert!(!owner_alive("shoal-test pid=1 start=99999999999"));
        assert!(!owner_alive("something else"));
        assert!(!owner_alive(""));
    }
}
