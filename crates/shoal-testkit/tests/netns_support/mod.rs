//! Support for tests/netns.rs: the re-executed helper (TCP listener, probe, fake daemon, a
//! process that holds a Net and gets killed) and readers of the machine's network state.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use shoal_testkit::Net;

/// Environment variables telling a re-executed test binary what to be.
pub const ROLE: &str = "SHOAL_NETNS_ROLE";
pub const ARG: &str = "SHOAL_NETNS_ARG";
/// Arguments that make the test binary run only `helper`.
pub const HELPER_ARGS: [&str; 5] = ["helper", "--exact", "--nocapture", "--test-threads=1", "-q"];
const PORT: u16 = 7000;

/// Tests that inspect machine-wide state (links, rules) run one at a time, so a Net made by
/// another test of this binary cannot reuse a just-freed name mid-check.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the re-executed binary does; returns at once in a normal run.
pub fn helper_main() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let arg = std::env::var(ARG).unwrap_or_default();
    match role.as_str() {
        "listen" => serve_pong(TcpListener::bind(&arg).expect("bind")),
        "probe" => std::process::exit(match probe_once(&arg) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{e}");
                1
            }
        }),
        "fake-daemon" => fake_daemon(&arg),
        "hold-net" => {
            let net = Net::new(2).expect("Net");
            // Meant to outlive this process, as a daemon outlives a killed test.
            #[allow(clippy::zombie_processes)]
            let sleeper = net.command(0, "sleep").arg("1000").spawn().unwrap();
            println!("READY {} {}", net.bridge(), sleeper.id());
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        other => panic!("unknown helper role {other}"),
    }
}

fn serve_pong(l: TcpListener) -> ! {
    loop {
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.write_all(b"pong\n");
        }
    }
}

fn probe_once(addr: &str) -> std::io::Result<()> {
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut got = String::new();
    s.read_to_string(&mut got)?;
    match got.as_str() {
        "pong\n" => Ok(()),
        _ => Err(std::io::Error::other(format!("got {got:?}"))),
    }
}

/// Stands in for `shoal daemon`: answers every API request with its cluster addresses (from
/// the environment `Daemon::start_in` sets) and pongs on the cluster port.
fn fake_daemon(args: &str) -> ! {
    let sock = args
        .split_whitespace()
        .find_map(|a| a.strip_prefix("unix://"))
        .expect("-H unix://…");
    let listen = std::env::var("SHOAL_LISTEN_ADDR").expect("SHOAL_LISTEN_ADDR");
    let advertise = std::env::var("SHOAL_ADVERTISE_ADDR").expect("SHOAL_ADVERTISE_ADDR");
    let tcp = TcpListener::bind(&listen).expect("bind cluster port");
    std::thread::spawn(move || serve_pong(tcp));
    let _ = std::fs::remove_file(sock); // left by the previous run on restart
    let api = UnixListener::bind(sock).expect("bind API socket");
    let body = format!("{listen} {advertise}");
    loop {
        let Ok((mut s, _)) = api.accept() else {
            continue;
        };
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

/// A TCP listener on `host`, killed when dropped; returns once it accepts.
pub fn listen(net: &Net, host: usize) -> KillOnDrop {
    let child = helper(net, host, "listen", &format!("0.0.0.0:{PORT}"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let target = addr(net, host);
    shoal_testkit::wait_for("listener", Duration::from_secs(10), || {
        connect_from_test(&target).ok()
    })
    .expect("the test process reaches every host through the bridge");
    KillOnDrop(child)
}

pub struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Connects from `from` to `target` and expects a pong; Err holds the reason.
pub fn probe(net: &Net, from: usize, target: &str) -> Result<(), String> {
    let out = helper(net, from, "probe", target).output().unwrap();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        _ => panic!("probe crashed: {}", String::from_utf8_lossy(&out.stderr)),
    }
}

fn helper(net: &Net, host: usize, role: &str, arg: &str) -> Command {
    let mut c = net.command(host, std::env::current_exe().unwrap());
    c.args(HELPER_ARGS).env(ROLE, role).env(ARG, arg);
    c
}

/// The listener's address on `host`.
pub fn addr(net: &Net, host: usize) -> String {
    format!("{}:{PORT}", net.ip(host))
}

/// A pong read from the test process itself (outside every namespace).
pub fn connect_from_test(target: &str) -> std::io::Result<()> {
    probe_once(target)
}

/// `ip ARGS`, which must succeed.
pub fn ip(args: &[&str]) -> String {
    shoal_testkit::success(Command::new("ip").args(args).output().expect("ip"))
}

fn links(ns: Option<&str>) -> Vec<serde_json::Value> {
    let mut args = vec!["-j", "link", "show"];
    if let Some(ns) = ns {
        args.splice(0..0, ["-n", ns]);
    }
    let v: serde_json::Value = serde_json::from_str(&ip(&args)).unwrap();
    v.as_array().cloned().unwrap_or_default()
}

fn ifindex(name: &str) -> Option<u64> {
    let links = links(None);
    let link = links.iter().find(|l| l["ifname"] == name)?;
    link["ifindex"].as_u64()
}

/// The alias of link `name`, if the link exists.
pub fn link_alias(name: &str) -> Option<String> {
    let links = links(None);
    let link = links.iter().find(|l| l["ifname"] == name)?;
    Some(link["ifalias"].as_str().unwrap_or_default().to_string())
}

/// How many of our ACCEPT rules for `bridge` FORWARD holds.
pub fn forward_rules(bridge: &str) -> usize {
    let out = Command::new("iptables")
        .args(["-w", "-S", "FORWARD"])
        .output();
    let rule = format!("-A FORWARD -i {bridge} -o {bridge} -j ACCEPT");
    let rules = String::from_utf8_lossy(&out.expect("iptables").stdout).into_owned();
    rules.lines().filter(|l| *l == rule).count()
}

/// The state letter of a process (R, S, T, Z, …).
pub fn proc_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit(')')
        .next()
        .unwrap()
        .trim_start()
        .chars()
        .next()
        .unwrap()
}

/// The kernel objects of a Net, by identity (ifindexes are not reused soon), so checking that
/// they are gone is not fooled by a new Net taking the same names.
pub struct Created {
    pub bridge: String,
    bridge_index: u64,
    hosts: Vec<(String, u64)>,
}

impl Created {
    pub fn of(net: &Net) -> Created {
        Created::of_parts(&net.bridge(), net.hosts())
    }

    pub fn of_parts(bridge: &str, hosts: usize) -> Created {
        let k = bridge.strip_prefix("shb").expect("bridge name");
        let hosts = (0..hosts)
            .map(|h| {
                let veth = format!("shv{k}-{h}");
                let index = ifindex(&veth).unwrap_or_else(|| panic!("{veth} exists"));
                (format!("shoal-{k}-{h}"), index)
            })
            .collect();
        Created {
            bridge: bridge.to_string(),
            bridge_index: ifindex(bridge).expect("bridge exists"),
            hosts,
        }
    }

    pub fn assert_gone(&self) {
        let indexes: Vec<u64> = links(None)
            .iter()
            .filter_map(|l| l["ifindex"].as_u64())
            .collect();
        assert!(
            !indexes.contains(&self.bridge_index),
            "bridge {} left",
            self.bridge
        );
        for (ns, veth_index) in &self.hosts {
            assert!(!indexes.contains(veth_index), "veth of {ns} left");
            if std::path::Path::new("/run/netns").join(ns).exists() {
                let peers: Vec<_> = links(Some(ns))
                    .iter()
                    .map(|l| l["link_index"].clone())
                    .collect();
                assert!(
                    !peers.contains(&(*veth_index).into()),
                    "namespace {ns} left"
                );
            }
        }
        if ifindex(&self.bridge).is_none() {
            assert_eq!(forward_rules(&self.bridge), 0, "FORWARD rule left");
        }
    }
}
