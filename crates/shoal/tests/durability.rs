//! An acknowledged write survives `kill -9`: N acknowledged node updates through the API,
//! SIGKILL, restart, and all N are there (and the swarm comes back by itself).

use shoal_testkit::Daemon;

#[test]
fn acknowledged_writes_survive_sigkill() {
    const N: usize = 200;
    let mut d = Daemon::start(env!("CARGO_BIN_EXE_shoal"), &["--snapshot-interval", "64"]).unwrap();
    let node_id = d.init_swarm();
    for i in 0..N {
        // The node's own agent may write the node (registration) between our read and write;
        // a write refused as out of sequence was not acknowledged, so read again and retry.
        let mut tries = 0;
        loop {
            let node = d.http("GET", &format!("/nodes/{node_id}"), None).json();
            let version = node["Version"]["Index"].as_u64().unwrap();
            let mut spec = node["Spec"].clone();
            spec["Labels"][format!("k{i}")] = serde_json::Value::String(format!("v{i}"));
            let r = d.http(
                "POST",
                &format!("/v1.47/nodes/{node_id}/update?version={version}"),
                Some(&spec.to_string()),
            );
            if r.status == 200 {
                break;
            }
            tries += 1;
            assert!(
                r.text().contains("update out of sequence") && tries < 5,
                "write {i}: {}",
                r.text()
            );
        }
    }
    let before = d.http("GET", "/swarm", None).json();

    d.kill9();
    d.restart().unwrap();

    let node = d.http("GET", &format!("/nodes/{node_id}"), None);
    assert_eq!(node.status, 200, "{}\n{}", node.text(), d.log());
    let labels = node.json()["Spec"]["Labels"].as_object().unwrap().clone();
    assert_eq!(labels.len(), N, "all acknowledged writes are back");
    for i in 0..N {
        assert_eq!(labels[&format!("k{i}")], format!("v{i}"));
    }
    let after = d.http("GET", "/swarm", None).json();
    assert_eq!(after["ID"], before["ID"]);
    assert_eq!(after["JoinTokens"], before["JoinTokens"]);
    // And it still takes writes after recovery (it leads again on its own).
    let version = node.json()["Version"]["Index"].as_u64().unwrap();
    let mut spec = node.json()["Spec"].clone();
    spec["Labels"]["after"] = "restart".into();
    let r = d.http(
        "POST",
        &format!("/nodes/{node_id}/update?version={version}"),
        Some(&spec.to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn graceful_restart_keeps_the_swarm_and_leave_forgets_it() {
    let mut d = Daemon::start(env!("CARGO_BIN_EXE_shoal"), &[]).unwrap();
    let node_id = d.init_swarm();
    assert_eq!(
        d.terminate(),
        Some(0),
        "SIGTERM is a clean exit:\n{}",
        d.log()
    );
    d.restart().unwrap();
    let info = d.http("GET", "/info", None).json();
    assert_eq!(info["Swarm"]["LocalNodeState"], "active");
    assert_eq!(info["Swarm"]["NodeID"], node_id.as_str());
    let ping = d.http("GET", "/_ping", None);
    assert_eq!(ping.header("Swarm"), Some("active/manager"));

    let refused = d.http("POST", "/swarm/leave", None);
    assert_eq!(refused.status, 503);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("Use `--force` to ignore this message.")
    );
    let left = d.http("POST", "/swarm/leave?force=1", None);
    assert_eq!(left.status, 200, "{}", left.text());
    assert_eq!(
        d.http("GET", "/_ping", None).header("Swarm"),
        Some("inactive")
    );
    assert!(
        !d.data_dir().join("swarm").exists(),
        "the swarm's files are gone"
    );
    // A new swarm in the same process and data dir.
    let again = d.init_swarm();
    assert_ne!(again, node_id);
    d.restart().unwrap();
    assert_eq!(
        d.http("GET", "/info", None).json()["Swarm"]["NodeID"],
        again.as_str()
    );
}
