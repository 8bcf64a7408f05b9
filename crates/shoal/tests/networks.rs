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
