//! Proves the `Net` harness with real sockets and real processes: hosts reach each other, `cut`
//! blocks both ways and `heal` restores, namespaces have no way out, concurrent networks get
//! distinct subnets, `Drop` and the stale sweep remove everything, and a `Daemon` runs inside a
//! host. The far ends are this test binary re-executed inside a namespace (see `helper`), so no
//! nc, socat or python is needed. Needs root and iproute2: fails, saying so, without them.

mod netns_support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use netns_support::*;
use shoal_testkit::{Daemon, Net, wait_for};

/// The entry point of the re-executed helper; a no-op in a normal test run.
#[test]
fn helper() {
    helper_main();
}

#[test]
fn hosts_reach_each_other_and_cut_blocks_both_ways() {
    let _s = serial();
    let net = Net::new(3).expect("Net");
    let _l: Vec<_> = (0..3).map(|h| listen(&net, h)).collect();
    for (from, to) in [(0, 1), (1, 0), (0, 2), (2, 1)] {
        probe(&net, from, &addr(&net, to)).expect("reachable before the cut");
    }

    net.cut(1);
    for (from, to) in [(0, 1), (1, 0), (1, 2), (2, 1)] {
        assert!(
            probe(&net, from, &addr(&net, to)).is_err(),
            "{from} -> {to} must fail while host 1 is cut"
        );
    }
    probe(&net, 0, &addr(&net, 2)).expect("hosts not cut still talk");
    assert!(
        connect_from_test(&addr(&net, 1)).is_err(),
        "test process -> cut host"
    );

    net.heal(1);
    for (from, to) in [(0, 1), (1, 0), (1, 2)] {
        wait_for("reachable after heal", Duration::from_secs(10), || {
            probe(&net, from, &addr(&net, to)).ok()
        })
        .unwrap();
    }
}

#[test]
fn namespaces_have_no_default_route_and_nets_are_isolated() {
    let _s = serial();
    let (a, b) = (Net::new(1).expect("Net a"), Net::new(1).expect("Net b"));
    let routes = ip(&["-n", &a.netns_name(0), "-4", "route", "show"]);
    let lines: Vec<&str> = routes.lines().collect();
    assert_eq!(lines.len(), 1, "exactly the subnet route: {routes}");
    assert!(lines[0].starts_with(&a.subnet()), "{routes}");
    assert!(ip(&["-n", &a.netns_name(0), "route", "show", "default"]).is_empty());

    let _l = listen(&b, 0);
    for target in ["192.0.2.1:9".to_string(), addr(&b, 0)] {
        let err = probe(&a, 0, &target).expect_err("no route out of the Net");
        assert!(err.contains("unreachable"), "{target}: {err}");
    }
}

#[test]
fn concurrent_nets_get_distinct_subnets() {
    let _s = serial();
    let barrier = std::sync::Barrier::new(4);
    let nets: Vec<Net> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    Net::new(1).expect("Net")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut subnets: Vec<String> = nets.iter().map(Net::subnet).collect();
    subnets.sort();
    subnets.dedup();
    assert_eq!(subnets.len(), 4, "{subnets:?}");
    let owner = format!("pid={} ", std::process::id());
    for net in &nets {
        let alias = link_alias(&net.bridge()).expect("bridge exists");
        assert!(alias.contains(&owner), "{}: alias {alias}", net.bridge());
    }
}

#[test]
fn drop_removes_bridge_veths_namespaces_rule_and_processes() {
    let _s = serial();
    let net = Net::new(2).expect("Net");
    let mut sleeper = net.command(0, "sleep").arg("1000").spawn().unwrap();
    let created = Created::of(&net);
    assert!(
        forward_rules(&created.bridge) >= 1,
        "ACCEPT rule in FORWARD"
    );
    drop(net);
    created.assert_gone();
    wait_for("the sleeper killed", Duration::from_secs(5), || {
        sleeper.try_wait().unwrap()
    })
    .unwrap();
}

#[test]
fn network_of_a_killed_test_process_is_swept() {
    let _s = serial();
    // Another process makes a Net, starts a process in it, and dies by SIGKILL (no Drop).
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args(HELPER_ARGS)
        .env(ROLE, "hold-net")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = BufReader::new(holder.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .find(|l| l.starts_with("READY "))
        .expect("holder ready");
    let words: Vec<&str> = line.split_whitespace().collect();
    let (bridge, sleeper) = (words[1].to_string(), words[2].to_string());
    holder.kill().unwrap();
    holder.wait().unwrap();
    let created = Created::of_parts(&bridge, 2);
    assert!(
        link_alias(&bridge).is_some(),
        "left behind by the killed holder"
    );

    let _net = Net::new(1).expect("Net");
    created.assert_gone();
    let state = std::fs::read_to_string(format!("/proc/{sleeper}/stat")).unwrap_or_default();
    let state = state.rsplit(')').next().unwrap_or_default().trim_start();
    assert!(
        state.is_empty() || state.starts_with('Z'),
        "sleeper: {state}"
    );
}

#[test]
fn loss_of_100_percent_blocks_and_clearing_restores() {
    let _s = serial();
    let net = Net::new(2).expect("Net");
    let _l = listen(&net, 1);
    probe(&net, 0, &addr(&net, 1)).expect("reachable");
    net.set_loss(1, 100.0);
    assert!(
        probe(&net, 0, &addr(&net, 1)).is_err(),
        "all packets to 1 lost"
    );
    assert!(
        probe(&net, 1, &addr(&net, 1)).is_ok(),
        "loopback is not lossy"
    );
    net.clear_loss(1);
    probe(&net, 0, &addr(&net, 1)).expect("reachable after clear_loss");
}

#[test]
fn daemon_runs_in_a_host_pauses_resumes_and_restarts_there() {
    let _s = serial();
    let net = Net::new(2).expect("Net");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("fake-shoal");
    let exe = std::env::current_exe().unwrap();
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\nexport {ROLE}=fake-daemon {ARG}=\"$*\"\nexec '{}' {}\n",
            exe.display(),
            HELPER_ARGS.join(" ")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut d = Daemon::start_in(&bin, &net, 0, &[]).expect("daemon");
    assert_eq!(d.ip(), net.ip(0));
    let body = d.http("GET", "/addrs", None).text();
    assert_eq!(
        body,
        format!("{} {}", d.cluster_addr(), d.ip()),
        "env defaults"
    );
    let check_place = |pid: u32| {
        // nsenter and sh exec in place: the child's PID is the daemon's, in host 0's namespace.
        let exe_of = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        assert_eq!(exe_of, exe, "pid {pid} is the daemon");
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
        let inode = std::fs::metadata(net.netns_path(0)).unwrap().ino();
        assert_eq!(ns.to_string_lossy(), format!("net:[{inode}]"));
    };
    check_place(d.pid());
    probe(&net, 1, &d.cluster_addr()).expect("cluster port reachable from host 1");

    d.pause();
    assert_eq!(proc_state(d.pid()), 'T', "stopped");
    assert!(
        probe(&net, 1, &d.cluster_addr()).is_err(),
        "a paused daemon answers nothing"
    );
    d.resume();
    assert_ne!(proc_state(d.pid()), 'T');
    probe(&net, 1, &d.cluster_addr()).expect("answers after resume");

    let old = d.pid();
    d.restart().expect("restart");
    assert_ne!(d.pid(), old);
    check_place(d.pid());
    probe(&net, 1, &d.cluster_addr()).expect("reachable after restart");

    d.pause();
    d.terminate(); // must not hang on a stopped process
}
