//! shoal's own CLI against a real daemon: the same surface the docker CLI sees.

use shoal_testkit::{Daemon, free_port, success as ok};

#[test]
fn shoal_cli_init_nodes_and_tokens() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_shoal"), &[]).unwrap();
    let before = d.shoal(&["node", "ls"]);
    assert_eq!(before.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&before.stderr)
            .starts_with("Error response from daemon: This node is not a swarm manager.")
    );

    let init = ok(d.shoal(&[
        "swarm",
        "init",
        "--listen-addr",
        &format!("127.0.0.1:{}", free_port()),
    ]));
    assert!(
        init.starts_with("Swarm initialized: current node ("),
        "{init}"
    );
    assert!(
        init.contains("    shoal swarm join --token SWMTKN-1-"),
        "{init}"
    );

    let ls = ok(d.shoal(&["node", "ls"]));
    let rows: Vec<&str> = ls.lines().collect();
    assert!(
        rows[0].starts_with("ID                            HOSTNAME"),
        "{ls}"
    );
    assert!(
        rows[1].contains(" *   ") && rows[1].contains("Ready") && rows[1].contains("Leader"),
        "{ls}"
    );

    ok(d.shoal(&[
        "node",
        "update",
        "--label-add",
        "zone=a",
        "--availability",
        "drain",
        "self",
    ]));
    let pretty = ok(d.shoal(&["node", "inspect", "--pretty", "self"]));
    assert!(pretty.contains(" - zone=a"), "{pretty}");
    assert!(pretty.contains("Availability:         \tDrain"), "{pretty}");
    let missing = d.shoal(&["node", "update", "--label-rm", "nope", "self"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("key nope doesn't exist in node's labels")
    );

    let t1 = ok(d.shoal(&["swarm", "join-token", "-q", "worker"]));
    let rotated = ok(d.shoal(&["swarm", "join-token", "--rotate", "worker"]));
    assert!(rotated.starts_with("Successfully rotated worker join token."));
    let t2 = ok(d.shoal(&["swarm", "join-token", "-q", "worker"]));
    assert_ne!(t1, t2);

    ok(d.shoal(&["swarm", "update", "--task-history-limit", "7"]));
    let info = ok(d.shoal(&["info"]));
    assert!(info.contains("Task History Retention Limit: 7"), "{info}");
    let demote = d.shoal(&["node", "demote", "self"]);
    assert!(
        String::from_utf8_lossy(&demote.stderr)
            .contains("attempting to demote the last manager of the swarm")
    );
    let leave = d.shoal(&["swarm", "leave"]);
    assert!(!leave.status.success());
    assert_eq!(
        ok(d.shoal(&["swarm", "leave", "--force"])).trim(),
        "Node left the swarm."
    );
}
