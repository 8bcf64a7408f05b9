//! Conformance: the stock `docker` CLI against shoal's socket, for the foundation's commands.
//! Output shapes are those of docker 28 against Docker Engine (checked by hand against the real
//! engine; see docs/conformance.md). This test must run in CI: `.ci/run` installs the CLI.

use shoal_testkit::{Daemon, free_port, success as ok};

fn token_re(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 4
        && parts[0] == "SWMTKN"
        && parts[1] == "1"
        && parts[2].len() == 50
        && parts[3].len() == 25
}

#[test]
fn docker_cli_drives_a_single_node_swarm() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_shoal"), &[]).unwrap();

    let version = ok(d.docker(&["version"]));
    assert!(version.contains("Server: shoal"), "{version}");
    assert!(
        version.contains("API version:      1.47 (minimum version 1.24)"),
        "{version}"
    );
    let info = ok(d.docker(&["info"]));
    assert!(info.contains(" Swarm: inactive"), "{info}");

    let port = free_port();
    // A data path port outside the registered range is refused before anything is made.
    let bad = d.docker(&[
        "swarm",
        "init",
        "--data-path-port",
        "80",
        "--listen-addr",
        &format!("127.0.0.1:{port}"),
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("Datapath port number is not in valid range (1024-49151) : 80"),
        "{err}"
    );
    let init = ok(d.docker(&[
        "swarm",
        "init",
        "--listen-addr",
        &format!("127.0.0.1:{port}"),
    ]));
    let lines: Vec<&str> = init.lines().collect();
    assert!(
        lines[0].starts_with("Swarm initialized: current node (")
            && lines[0].ends_with(") is now a manager."),
        "{init}"
    );
    let node_id = &lines[0]
        ["Swarm initialized: current node (".len()..lines[0].len() - ") is now a manager.".len()];
    assert_eq!(node_id.len(), 25);
    assert_eq!(
        lines[2],
        "To add a worker to this swarm, run the following command:"
    );
    let join: Vec<&str> = lines[4].split_whitespace().collect();
    assert_eq!(&join[..4], ["docker", "swarm", "join", "--token"]);
    assert!(token_re(join[4]), "{}", join[4]);
    assert_eq!(join[5], format!("127.0.0.1:{port}"));
    assert_eq!(
        lines[6],
        "To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions."
    );

    let jt = ok(d.docker(&["swarm", "join-token", "worker"]));
    assert!(jt.starts_with("To add a worker to this swarm, run the following command:\n\n    docker swarm join --token SWMTKN-1-"), "{jt}");
    assert!(jt.contains(join[4]), "same token as at init");

    let info = ok(d.docker(&["info"]));
    for want in [
        " Swarm: active",
        &format!("  NodeID: {node_id}"),
        "  Is Manager: true",
        "  Managers: 1",
        "  Nodes: 1",
        "   Task History Retention Limit: 5",
        "   Heartbeat Period: 2 seconds",
        "   Expiry Duration: 3 months",
        "  Node Address: 127.0.0.1",
    ] {
        assert!(info.contains(want), "missing {want:?} in:\n{info}");
    }

    let ls = ok(d.docker(&["node", "ls"]));
    let rows: Vec<&str> = ls.lines().collect();
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>().join(" "),
        "ID HOSTNAME STATUS AVAILABILITY MANAGER STATUS ENGINE VERSION"
    );
    assert_eq!(rows.len(), 2, "{ls}");
    let cells: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(&cells[..2], [node_id, "*"]);
    assert_eq!(&cells[3..6], ["Ready", "Active", "Leader"]);
    // Columns line up under their headers, docker's tabwriter style.
    assert_eq!(rows[0].find("STATUS"), rows[1].find("Ready"));

    let inspect = ok(d.docker(&["node", "inspect", "self"]));
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let n = &v[0];
    assert_eq!(n["ID"], node_id);
    assert_eq!(n["Spec"]["Role"], "manager");
    assert_eq!(n["Status"]["State"], "ready");
    assert_eq!(n["ManagerStatus"]["Leader"], true);
    assert_eq!(n["ManagerStatus"]["Reachability"], "reachable");
    assert!(n["Description"]["Resources"]["NanoCPUs"].as_i64().unwrap() >= 1_000_000_000);
    assert!(
        n["Description"]["TLSInfo"]["TrustRoot"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert!(
        n.get("ShoalRaftID").is_none(),
        "internal fields stay out of the API"
    );

    ok(d.docker(&["node", "update", "--label-add", "zone=a", "self"]));
    let labels = ok(d.docker(&[
        "node",
        "inspect",
        "self",
        "--format",
        "{{json .Spec.Labels}}",
    ]));
    assert_eq!(labels.trim(), r#"{"zone":"a"}"#);

    let rotated = ok(d.docker(&["swarm", "join-token", "--rotate", "worker"]));
    assert!(
        rotated.starts_with("Successfully rotated worker join token.\n\nTo add a worker"),
        "{rotated}"
    );
    let new_token = ok(d.docker(&["swarm", "join-token", "-q", "worker"]));
    assert!(token_re(new_token.trim()));
    assert_ne!(new_token.trim(), join[4], "rotation replaced the token");
    let manager_token = ok(d.docker(&["swarm", "join-token", "-q", "manager"]));
    assert_ne!(manager_token.trim(), new_token.trim());

    // Docker's error text and exit code when the daemon refuses.
    let again = d.docker(&[
        "swarm",
        "init",
        "--listen-addr",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .contains("Error response from daemon: This node is already part of a swarm.")
    );
    let missing = d.docker(&["node", "inspect", "nosuchnode"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("node nosuchnode not found"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
