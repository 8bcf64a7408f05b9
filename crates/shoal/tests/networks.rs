//! Swarm-scoped networks through the stock docker CLI and the API: `ingress` made at init,
//! subnets from the default pool, Docker's refusals, and services attached by name.

use serde_json::{Value, json};
use shoal_testkit::{Daemon, success};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");

fn fails(out: std::process::Output) -> String {
    assert!(!out.status.success(), "expected a failure: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn inspect(d: &Daemon, name: &str) -> Value {
    let v: Value = serde_json::from_str(&success(d.docker(&["network", "inspect", name]))).unwrap();
    v[0].clone()
}

#[test]
fn overlay_networks_with_subnets_from_the_pool_and_dockers_refusals() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    // The routing mesh's network exists from the start, on the pool's first /24.
    let ingress = inspect(&d, "ingress");
    assert_eq!(ingress["Ingress"], true);
    assert_eq!(ingress["Scope"], "swarm");
    assert_eq!(ingress["IPAM"]["Config"][0]["Subnet"], "10.0.0.0/24");

    let id = success(d.docker(&[
        "network",
        "create",
        "-d",
        "overlay",
        "--attachable",
        "backend",
    ]));
    let id = id.trim().to_string();
    success(d.docker(&[
        "network",
        "create",
        "-d",
        "overlay",
        "--subnet",
        "10.20.0.0/16",
        "front",
    ]));
    let backend = inspect(&d, "backend");
    assert_eq!(backend["Id"], id.as_str());
    assert_eq!(backend["Driver"], "overlay");
    assert_eq!(backend["Attachable"], true);
    assert_eq!(backend["IPAM"]["Config"][0]["Subnet"], "10.0.1.0/24");
    assert_eq!(backend["IPAM"]["Config"][0]["Gateway"], "10.0.1.1");
    assert_eq!(
        inspect(&d, "front")["IPAM"]["Config"][0]["Subnet"],
        "10.20.0.0/16"
    );
    let ls = success(d.docker(&["network", "ls"]));
    let header: Vec<&str> = ls.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"], "{ls}");
    assert_eq!(ls.lines().count(), 4, "{ls}");
    let names = success(d.docker(&[
        "network",
        "ls",
        "--filter",
        "name=front",
        "--format",
        "{{.Name}}",
    ]));
    assert_eq!(names.trim(), "front");

    // Docker's refusals, and nothing half made.
    let dup = fails(d.docker(&["network", "create", "-d", "overlay", "backend"]));
    assert!(
        dup.contains("network with name backend already exists"),
        "{dup}"
    );
    let overlap = fails(d.docker(&[
        "network",
        "create",
        "-d",
        "overlay",
        "--subnet",
        "10.20.5.0/24",
        "x",
    ]));
    assert!(overlap.contains("overlaps"), "{overlap}");
    assert_eq!(
        success(d.docker(&["network", "ls", "-q"])).lines().count(),
        3
    );

    // A service attaches by name (the API resolves it to the ID); the network cannot be
    // removed while the service uses it, and ingress cannot be attached explicitly.
    let spec = json!({"Name": "api", "TaskTemplate": {
        "ContainerSpec": {"Image": "busybox", "Command": ["sleep", "600"]},
        "Networks": [{"Target": "backend", "Aliases": ["db"]}]}});
    let r = d.http("POST", "/services/create", Some(&spec.to_string()));
    assert_eq!(r.status, 201, "{}", r.text());
    let svc = d.http("GET", "/services/api", None).json();
    assert_eq!(
        svc["Spec"]["TaskTemplate"]["Networks"][0]["Target"],
        id.as_str()
    );
    let in_use = fails(d.docker(&["network", "rm", "backend"]));
    assert!(
        in_use.contains(&format!(
            "rpc error: code = FailedPrecondition desc = network backend is in use by service {}",
            svc["ID"].as_str().unwrap()
        )),
        "{in_use}"
    );
    let bad = json!({"Name": "mesh", "TaskTemplate": {
        "ContainerSpec": {"Image": "busybox", "Command": ["sleep", "600"]},
        "Networks": [{"Target": "ingress"}]}});
    let r = d.http("POST", "/services/create", Some(&bad.to_string()));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .contains("cannot be explicitly attached to the ingress network")
    );
    let missing = json!({"Name": "lost", "TaskTemplate": {
        "ContainerSpec": {"Image": "busybox", "Command": ["sleep", "600"]},
        "Networks": [{"Target": "nosuch"}]}});
    let r = d.http("POST", "/services/create", Some(&missing.to_string()));
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        r.text().contains("network nosuch not found"),
        "{}",
        r.text()
    );

    // A bad MTU option gets the overlay driver's texts, and no network.
    for (mtu, text) in [
        (
            "big",
            "failed to parse big: strconv.Atoi: parsing \"big\": invalid syntax",
        ),
        ("70000", "invalid MTU value: 70000"),
    ] {
        let opt = format!("com.docker.network.driver.mtu={mtu}");
        let err = fails(d.docker(&["network", "create", "-d", "overlay", "-o", &opt, "odd"]));
        assert!(err.contains(text), "{err}");
    }
    success(d.docker(&[
        "network",
        "create",
        "-d",
        "overlay",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "small",
    ]));
    assert_eq!(
        inspect(&d, "small")["Options"]["com.docker.network.driver.mtu"],
        "1400"
    );
    success(d.docker(&["network", "rm", "small"]));

    success(d.docker(&["service", "rm", "api"]));
    assert_eq!(
        success(d.docker(&["network", "rm", "backend", "front"]))
            .lines()
            .count(),
        2
    );
    assert_eq!(
        success(d.docker(&["network", "ls", "--format", "{{.Name}}"])).trim(),
        "ingress"
    );
}

/// The running tasks' addresses on a network, sorted.
fn task_addresses(d: &Daemon, service: &str) -> Vec<String> {
    let filter = format!(r#"{{"service":["{service}"],"desired-state":["running"]}}"#);
    let path = format!("/tasks?filters={}", urlencode(&filter));
    let tasks = d.http("GET", &path, None).json();
    let mut out: Vec<String> = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["NetworksAttachments"][0]["Addresses"][0].as_str())
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn wait_addresses(d: &Daemon, service: &str, n: usize) -> Vec<String> {
    shoal_testkit::wait_for(
        &format!("{n} addressed tasks of {service}"),
        std::time::Duration::from_secs(20),
        || {
            let a = task_addresses(d, service);
            (a.len() == n).then_some(a)
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}", task_addresses(d, service)))
}

#[test]
fn services_get_a_vip_and_tasks_an_address_on_each_network() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let net = success(d.docker(&["network", "create", "-d", "overlay", "backend"]));
    let net = net.trim();
    success(d.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        "api",
        "--replicas",
        "3",
        "--network",
        "backend",
        "busybox",
        "sleep",
        "600",
    ]));
    // The VIP, as the docker CLI shows it (the leader allocates it right after the create).
    let vips = shoal_testkit::wait_for("the VIP", std::time::Duration::from_secs(10), || {
        let out = success(d.docker(&[
            "service",
            "inspect",
            "api",
            "--format",
            "{{json .Endpoint.VirtualIPs}}",
        ]));
        serde_json::from_str::<Value>(out.trim())
            .ok()
            .filter(|v| !v.is_null())
    })
    .unwrap();
    assert_eq!(vips, json!([{"NetworkID": net, "Addr": "10.0.1.2/24"}]));

    // Each task has its own address on the network, none the VIP's or the gateway's.
    let addrs = wait_addresses(&d, "api", 3);
    assert_eq!(addrs, ["10.0.1.3/24", "10.0.1.4/24", "10.0.1.5/24"]);
    let task = &d.http("GET", "/tasks", None).json()[0];
    let attached = &task["NetworksAttachments"][0]["Network"];
    assert_eq!(attached["ID"], net);
    assert_eq!(attached["Spec"]["Name"], "backend");
    assert_eq!(
        attached["IPAMOptions"]["Configs"][0],
        json!({"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"})
    );

    // Endpoint mode dnsrr: no VIP, addresses after those in use.
    success(d.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        "db",
        "--endpoint-mode",
        "dnsrr",
        "--network",
        "backend",
        "busybox",
        "sleep",
        "600",
    ]));
    let db = d.http("GET", "/services/db", None).json();
    assert!(db["Endpoint"]["VirtualIPs"].is_null(), "{db}");
    assert_eq!(wait_addresses(&d, "db", 1), ["10.0.1.6/24"]);

    // Addresses of tasks that ended are given again.
    let api_id = d.http("GET", "/services/api", None).json()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    success(d.docker(&["service", "scale", "-d", "api=1"]));
    // Scaled-down tasks are removed once they stopped (swarmkit's REMOVE).
    shoal_testkit::wait_for(
        "1 api task left",
        std::time::Duration::from_secs(20),
        || {
            let tasks = d.http("GET", "/tasks", None).json();
            let api = tasks
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["ServiceID"] == api_id.as_str())
                .count();
            (api == 1).then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {}", d.http("GET", "/tasks", None).text()));
    success(d.docker(&["service", "scale", "-d", "api=3"]));
    let again = wait_addresses(&d, "api", 3);
    let mut expected = vec!["10.0.1.3/24", "10.0.1.4/24", "10.0.1.5/24"];
    expected.retain(|a| again.iter().any(|b| b == a));
    assert_eq!(expected.len(), 3, "freed addresses reused: {again:?}");
}

/// The first running container of a service on the host's engine.
fn container_of(service: &str) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!("label=com.docker.swarm.service.name={service}"))
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(str::to_string)
}

fn exec(container: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(["exec", container])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Docker driver, one node: tasks on an overlay network get their address from the swarm and
/// find each other by service name (the netplane's DNS on the network's gateway, reached
/// through Docker's own resolver in each container).
#[test]
fn docker_tasks_find_each_other_by_name_on_an_overlay() {
    const IMAGE: &str = "shoal-test-busybox:1";
    shoal_testkit::build_busybox_image(IMAGE).unwrap();
    let d = Daemon::start(BIN, &["--driver", "docker"]).unwrap();
    // A pool of its own: the engine is shared with tests running alongside.
    let init = json!({"ListenAddr": "127.0.0.1:0", "DefaultAddrPool": ["10.231.0.0/16"]});
    let r = d.http("POST", "/swarm/init", Some(&init.to_string()));
    assert_eq!(r.status, 200, "{}", r.text());
    success(d.docker(&["network", "create", "-d", "overlay", "backend"]));
    success(d.docker(&[
        "service", "create", "-d", "--name", "store", "--network", "backend", IMAGE,
        "/bin/sh", "-c",
        "/bin/busybox mkdir -p /www && echo store-ok > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www",
    ]));
    success(d.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        "client",
        "--network",
        "backend",
        IMAGE,
        "/bin/busybox",
        "sleep",
        "600",
    ]));
    let store_ip = wait_addresses(&d, "store", 1)[0]
        .trim_end_matches("/24")
        .to_string();
    assert!(store_ip.starts_with("10.231.1."), "{store_ip}");
    let client = shoal_testkit::wait_for(
        "the client running",
        std::time::Duration::from_secs(30),
        || container_of("client"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));

    // The address the swarm gave is the container's.
    let ip = exec(
        &client,
        &["/bin/busybox", "ip", "-4", "addr", "show", "eth0"],
    )
    .unwrap();
    let client_ip = wait_addresses(&d, "client", 1)[0].clone();
    assert!(ip.contains(&client_ip), "{ip} lacks {client_ip}");

    // By name, and through `tasks.<name>` (busybox-static's wget crashes in its resolver
    // library; its nc and nslookup resolve on their own).
    for name in ["store", "tasks.store"] {
        let script = format!(r#"printf "GET / HTTP/1.0\r\n\r\n" | /bin/busybox nc {name} 80"#);
        let answer = shoal_testkit::wait_for(
            &format!("{name}:80 from the client"),
            std::time::Duration::from_secs(20),
            || exec(&client, &["/bin/sh", "-c", &script]).filter(|a| a.contains("store-ok")),
        )
        .unwrap_or_else(|e| {
            panic!(
                "{e}\nnslookup: {:?}\n{}",
                exec(&client, &["/bin/busybox", "nslookup", name]),
                d.log()
            )
        });
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // The name is the service's VIP (served on the node, forwarding to the task); the
    // tasks' addresses are under `tasks.<name>`.
    let vip = d.http("GET", "/services/store", None).json()["Endpoint"]["VirtualIPs"][0]["Addr"]
        .as_str()
        .unwrap()
        .trim_end_matches("/24")
        .to_string();
    let lookup = exec(&client, &["/bin/busybox", "nslookup", "store"]).unwrap();
    assert!(lookup.contains(&format!("Address: {vip}")), "{lookup}");
    assert!(!lookup.contains(&store_ip), "{lookup}");
    let lookup = exec(&client, &["/bin/busybox", "nslookup", "tasks.store"]).unwrap();
    assert!(
        lookup.contains(&format!("Address: {store_ip}")),
        "{lookup}\n{}\n{}",
        d.http("GET", "/tasks", None).text(),
        d.log()
    );
    // Names that are not the swarm's are not answered by it.
    let none = exec(&client, &["/bin/busybox", "nslookup", "no-such-service"]);
    assert!(
        none.as_ref().is_none_or(|o| !o.contains("10.231.")),
        "{none:?}"
    );
}

/// `GET /` on the node's published port: the body.
fn get(port: u16) -> Option<String> {
    shoal_testkit::http_get("127.0.0.1", port)
        .ok()
        .map(|b| b.trim().to_string())
}

/// The user guides' visitor counter on one node with the docker driver: a Redis-protocol
/// store with no published port, and 3 web replicas publishing a port that find it by name
/// over an overlay network and share its count.
#[test]
fn docker_visitor_counter_shares_its_count_through_a_store_found_by_name() {
    const IMAGE: &str = "shoal-test-demo:1";
    // shoal's own image builder: the binary and its libraries, FROM scratch.
    success(
        std::process::Command::new(BIN)
            .args([
                "image",
                "build",
                "-q",
                "-H",
                "unix:///var/run/docker.sock",
                "-t",
                IMAGE,
            ])
            .output()
            .unwrap(),
    );
    let d = Daemon::start(BIN, &["--driver", "docker"]).unwrap();
    let init = json!({"ListenAddr": "127.0.0.1:0", "DefaultAddrPool": ["10.232.0.0/16"]});
    let r = d.http("POST", "/swarm/init", Some(&init.to_string()));
    assert_eq!(r.status, 200, "{}", r.text());
    success(d.docker(&["network", "create", "-d", "overlay", "counter"]));
    success(d.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        "store",
        "--network",
        "counter",
        IMAGE,
        "demo-app",
        "store",
    ]));
    let port = shoal_testkit::free_port().to_string();
    success(d.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        "3",
        "--network",
        "counter",
        "-p",
        &format!("{port}:80"),
        "-e",
        "REDIS_HOST=store",
        IMAGE,
        "demo-app",
        "counter",
    ]));
    let port: u16 = port.parse().unwrap();
    // Every replica answers, each visit counted once in the shared store.
    let visits = shoal_testkit::wait_for(
        "3 counters sharing the store",
        std::time::Duration::from_secs(60),
        || {
            let answers: Vec<String> = (0..6).filter_map(|_| get(port)).collect();
            let hosts: std::collections::BTreeSet<&str> = answers
                .iter()
                .filter_map(|a| a.split(" > ").next())
                .collect();
            (answers.len() == 6 && hosts.len() == 3).then_some(answers)
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", get(port), d.log()));
    let parsed: Vec<(String, u64)> = visits
        .iter()
        .map(|b| {
            let (host, n) = b.split_once(" > ").unwrap_or_else(|| panic!("{b}"));
            (host.to_string(), n.parse().unwrap())
        })
        .collect();
    let hosts: std::collections::BTreeSet<&str> = parsed.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(hosts.len(), 3, "{visits:?}");
    let counts: Vec<u64> = parsed.iter().map(|(_, n)| *n).collect();
    assert!(
        counts.windows(2).all(|w| w[1] == w[0] + 1),
        "one shared count: {counts:?}"
    );
}

/// A task on two networks (a reverse proxy's usual place) finds services of both by name,
/// although its resolver is the first network's gateway.
#[test]
fn a_task_on_two_networks_finds_the_services_of_both() {
    const IMAGE: &str = "shoal-test-busybox:1";
    shoal_testkit::build_busybox_image(IMAGE).unwrap();
    let d = Daemon::start(BIN, &["--driver", "docker"]).unwrap();
    let init = json!({"ListenAddr": "127.0.0.1:0", "DefaultAddrPool": ["10.233.0.0/16"]});
    let r = d.http("POST", "/swarm/init", Some(&init.to_string()));
    assert_eq!(r.status, 200, "{}", r.text());
    success(d.docker(&["network", "create", "-d", "overlay", "front"]));
    success(d.docker(&["network", "create", "-d", "overlay", "back"]));
    let httpd = |text: &str| {
        format!(
            "/bin/busybox mkdir -p /www && echo {text} > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www"
        )
    };
    for (name, net) in [("web", "front"), ("db", "back")] {
        success(d.docker(&[
            "service",
            "create",
            "-d",
            "--name",
            name,
            "--network",
            net,
            IMAGE,
            "/bin/sh",
            "-c",
            &httpd(&format!("{name}-ok")),
        ]));
    }
    success(d.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        "proxy",
        "--network",
        "front",
        "--network",
        "back",
        IMAGE,
        "/bin/busybox",
        "sleep",
        "600",
    ]));
    let proxy = shoal_testkit::wait_for(
        "the proxy running",
        std::time::Duration::from_secs(30),
        || container_of("proxy"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    for name in ["web", "db"] {
        let script = format!(r#"printf "GET / HTTP/1.0\r\n\r\n" | /bin/busybox nc {name} 80"#);
        shoal_testkit::wait_for(
            &format!("{name}:80 from the proxy"),
            std::time::Duration::from_secs(20),
            || {
                exec(&proxy, &["/bin/sh", "-c", &script])
                    .filter(|a| a.contains(&format!("{name}-ok")))
            },
        )
        .unwrap_or_else(|e| {
            panic!(
                "{e}\nnslookup: {:?}\n{}",
                exec(&proxy, &["/bin/busybox", "nslookup", name]),
                d.log()
            )
        });
    }
}

/// Docker driver, one node: `network create --internal` keeps its tasks from everything
/// outside the network (a host beyond this node, reached through it), while they still find
/// each other by name and VIP; the same host answers a task on an ordinary overlay.
#[test]
fn an_internal_overlay_reaches_its_services_but_nothing_outside() {
    const IMAGE: &str = "shoal-test-busybox:1";
    shoal_testkit::build_busybox_image(IMAGE).unwrap();
    // "Outside": a host of a private network of this test, answering HTTP on 8080.
    let net = shoal_testkit::Net::new(1).unwrap();
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "outside-ok\n").unwrap();
    let mut outside = net
        .command(0, "/bin/busybox")
        .args(["httpd", "-f", "-p", "8080", "-h"])
        .arg(www.path())
        .spawn()
        .unwrap();
    let outside_ip = net.ip(0);

    let d = Daemon::start(BIN, &["--driver", "docker"]).unwrap();
    let init = json!({"ListenAddr": "127.0.0.1:0", "DefaultAddrPool": ["10.232.0.0/16"]});
    let r = d.http("POST", "/swarm/init", Some(&init.to_string()));
    assert_eq!(r.status, 200, "{}", r.text());
    success(d.docker(&["network", "create", "-d", "overlay", "open"]));
    success(d.docker(&["network", "create", "-d", "overlay", "--internal", "sealed"]));
    assert_eq!(inspect(&d, "sealed")["Internal"], json!(true));
    assert_eq!(inspect(&d, "open")["Internal"], json!(false));
    success(d.docker(&[
        "service", "create", "-d", "--name", "vault", "--network", "sealed", IMAGE,
        "/bin/sh", "-c",
        "/bin/busybox mkdir -p /www && echo vault-ok > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www",
    ]));
    for (name, network) in [("inner", "sealed"), ("outer", "open")] {
        success(d.docker(&[
            "service",
            "create",
            "-d",
            "--name",
            name,
            "--network",
            network,
            IMAGE,
            "/bin/busybox",
            "sleep",
            "600",
        ]));
    }
    let running = |service: &str| {
        shoal_testkit::wait_for(
            &format!("{service} running"),
            std::time::Duration::from_secs(30),
            || container_of(service),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", d.log()))
    };
    let (inner, outer) = (running("inner"), running("outer"));
    let fetch = |container: &str, host: &str, port: u16| {
        let script =
            format!(r#"printf "GET / HTTP/1.0\r\n\r\n" | /bin/busybox nc -w 2 {host} {port}"#);
        exec(container, &["/bin/sh", "-c", &script]).unwrap_or_default()
    };

    // The outside host is reachable from an ordinary overlay, through the node...
    shoal_testkit::wait_for(
        "the outside host from the open network",
        std::time::Duration::from_secs(20),
        || {
            fetch(&outer, &outside_ip, 8080)
                .contains("outside-ok")
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    // ...and the internal network's service by its name (the VIP).
    shoal_testkit::wait_for(
        "vault by name from the internal network",
        std::time::Duration::from_secs(20),
        || {
            fetch(&inner, "vault", 80)
                .contains("vault-ok")
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    // But not the outside host, however often asked.
    for _ in 0..3 {
        let got = fetch(&inner, &outside_ip, 8080);
        assert!(
            !got.contains("outside-ok"),
            "an internal network reached {outside_ip}: {got}"
        );
    }
    let _ = outside.kill();
    let _ = outside.wait();
}
