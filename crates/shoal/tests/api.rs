//! The Engine API surface on the wire: headers, versions, Docker's errors and status codes,
//! and bad input that must change nothing.

use std::process::Command;

use shoal_testkit::Daemon;

const BIN: &str = env!("CARGO_BIN_EXE_shoal");

fn message(r: &shoal_testkit::HttpResponse) -> String {
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json"),
        "errors are JSON"
    );
    r.json()["message"].as_str().unwrap().to_string()
}

#[test]
fn ping_version_and_headers() {
    let d = Daemon::start(BIN, &[]).unwrap();
    for method in ["GET", "HEAD"] {
        let r = d.http(method, "/_ping", None);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Api-Version"), Some("1.47"));
        assert_eq!(r.header("Ostype"), Some("linux"));
        assert_eq!(r.header("Swarm"), Some("inactive"));
        assert_eq!(
            r.header("Cache-Control"),
            Some("no-cache, no-store, must-revalidate")
        );
        assert_eq!(r.header("Pragma"), Some("no-cache"));
        if method == "GET" {
            assert_eq!(r.text(), "OK");
        }
    }
    let v = d.http("GET", "/v1.24/version", None);
    assert_eq!(v.status, 200);
    let json = v.json();
    assert_eq!(json["ApiVersion"], "1.47");
    assert_eq!(json["Components"][0]["Name"], "Engine");
    assert_eq!(json["Components"][0]["Details"]["MinAPIVersion"], "1.24");
    let new = d.http("GET", "/v1.51/version", None);
    assert_eq!(new.status, 400);
    assert_eq!(
        message(&new),
        "client version 1.51 is too new. Maximum supported API version is 1.50"
    );
    let missing = d.http("GET", "/v1.47/nope", None);
    assert_eq!(missing.status, 404);
    assert_eq!(message(&missing), "page not found");
}

#[test]
fn cluster_calls_before_init_are_refused_with_dockers_text() {
    let d = Daemon::start(BIN, &[]).unwrap();
    for path in ["/swarm", "/nodes", "/nodes/x"] {
        let r = d.http("GET", path, None);
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(
            message(&r),
            "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."
        );
    }
    let info = d.http("GET", "/info", None).json();
    assert_eq!(info["Swarm"]["LocalNodeState"], "inactive");
    assert_eq!(info["Swarm"]["ControlAvailable"], false);
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let d = Daemon::start(BIN, &[]).unwrap();
    // Malformed init: nothing is created.
    for body in [
        "{not json",
        "",
        r#"{"ListenAddr": 12}"#,
        r#"{"Availability":"sideways"}"#,
    ] {
        let r = d.http("POST", "/swarm/init", Some(body));
        assert_eq!(r.status, 400, "{body:?}: {}", r.text());
        assert!(!message(&r).is_empty());
    }
    let bad_addr = d.http(
        "POST",
        "/swarm/init",
        Some(r#"{"ListenAddr":"127.0.0.1:notaport"}"#),
    );
    assert_eq!(bad_addr.status, 400);
    assert_eq!(
        d.http("GET", "/_ping", None).header("Swarm"),
        Some("inactive")
    );
    assert!(
        !d.data_dir().join("swarm").exists(),
        "no half-made swarm on disk"
    );

    let node_id = d.init_swarm();
    let second = d.http("POST", "/swarm/init", Some("{}"));
    assert_eq!(second.status, 503);
    assert!(message(&second).starts_with("This node is already part of a swarm."));

    let node = d.http("GET", &format!("/nodes/{node_id}"), None).json();
    let version = node["Version"]["Index"].as_u64().unwrap();
    let spec = node["Spec"].to_string();
    // Wrong types, unknown enum values, bad versions, stale versions, oversized bodies.
    let cases: Vec<(String, String, u16, &str)> = vec![
        (
            format!("/nodes/{node_id}/update?version={version}"),
            r#"{"Role":"king"}"#.into(),
            400,
            "unknown variant",
        ),
        (
            format!("/nodes/{node_id}/update?version={version}"),
            r#"{"Labels":[1,2]}"#.into(),
            400,
            "invalid JSON body",
        ),
        (
            format!("/nodes/{node_id}/update?version=abc"),
            spec.clone(),
            400,
            "invalid node version 'abc'",
        ),
        (
            format!("/nodes/{node_id}/update?version={}", version - 1),
            spec.clone(),
            500,
            "update out of sequence",
        ),
        (
            format!("/nodes/{node_id}/update?version={version}"),
            format!(r#"{{"Name":"{}"}}"#, "x".repeat(5 << 20)),
            400,
            "larger than the limit",
        ),
        (
            "/nodes/nosuch/update?version=1".into(),
            spec.clone(),
            404,
            "node nosuch not found",
        ),
        (
            format!("/nodes/{node_id}/update?version={version}"),
            r#"{"Role":"worker","Availability":"active"}"#.into(),
            400,
            "rpc error: code = FailedPrecondition desc = attempting to demote the last manager \
             of the swarm",
        ),
        (
            "/swarm/update?version=1".into(),
            r#"{"CAConfig":{"NodeCertExpiry":1000}}"#.into(),
            400,
            "minimum certificate expiry time is: 1h0m0s",
        ),
    ];
    for (path, body, status, text) in cases {
        let r = d.http("POST", &path, Some(&body));
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(message(&r).contains(text), "{path}: {}", r.text());
    }
    let unchanged = d.http("GET", &format!("/nodes/{node_id}"), None).json();
    // The agent's own registration may write the node's status meanwhile; what users wrote
    // (the spec) must be exactly as before.
    assert_eq!(
        unchanged["Spec"], node["Spec"],
        "no failed request changed the node"
    );

    let filters = d.http(
        "GET",
        "/nodes?filters=%7B%22colour%22%3A%5B%22red%22%5D%7D",
        None,
    );
    assert_eq!(filters.status, 400);
    assert_eq!(message(&filters), "invalid filter 'colour'");
    let rm = d.http("DELETE", &format!("/nodes/{node_id}"), None);
    assert_eq!(rm.status, 400);
    assert_eq!(
        message(&rm),
        format!(
            "rpc error: code = FailedPrecondition desc = node {node_id} is a cluster manager and \
             is a member of the raft cluster. It must be demoted to worker before removal"
        )
    );
}

#[test]
fn nodes_resolve_by_id_name_and_prefix_with_filters() {
    let d = Daemon::start(BIN, &[]).unwrap();
    let node_id = d.init_swarm();
    let hostname =
        d.http("GET", &format!("/nodes/{node_id}"), None).json()["Description"]["Hostname"]
            .as_str()
            .unwrap()
            .to_string();
    for reference in [
        node_id.clone(),
        hostname,
        node_id[..5].to_string(),
        "self".into(),
    ] {
        let r = d.http("GET", &format!("/nodes/{reference}"), None);
        assert_eq!(r.status, 200, "{reference}");
        assert_eq!(r.json()["ID"], node_id.as_str());
    }
    let managers = d
        .http(
            "GET",
            "/nodes?filters=%7B%22role%22%3A%7B%22manager%22%3Atrue%7D%7D",
            None,
        )
        .json();
    assert_eq!(managers.as_array().unwrap().len(), 1);
    let workers = d
        .http(
            "GET",
            "/nodes?filters=%7B%22role%22%3A%5B%22worker%22%5D%7D",
            None,
        )
        .json();
    assert_eq!(workers.as_array().unwrap().len(), 0);
}

/// Runs a second daemon on an existing data dir; it must exit by itself.
fn daemon_on(data_dir: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(["daemon", "--data-dir"])
        .arg(data_dir)
        .args(["-H", &format!("unix://{}/other.sock", data_dir.display())])
        .output()
        .unwrap()
}

#[test]
fn daemon_refuses_bad_configuration_and_bad_data_dirs() {
    let usage = Command::new(BIN)
        .args(["daemon", "--listen-addr", "nope:x"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("invalid --listen-addr nope:x"));
    let unknown = Command::new(BIN)
        .args(["daemon", "--frobnicate"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(64));

    // A data dir written by a newer shoal: a clear error, exit 1, the files untouched.
    let mut d = Daemon::start(BIN, &[]).unwrap();
    d.init_swarm();
    d.terminate();
    let state = d.data_dir().join("swarm/state.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    json["format"] = 99.into();
    std::fs::write(&state, json.to_string()).unwrap();
    let out = daemon_on(&d.data_dir());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("written by a newer shoal"), "{err}");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), json.to_string());

    // A corrupt store file.
    json["format"] = 1.into();
    std::fs::write(&state, json.to_string()).unwrap();
    let redb = d.data_dir().join("swarm/raft/raft.redb");
    std::fs::write(&redb, vec![0x42u8; 4096]).unwrap();
    let out = daemon_on(&d.data_dir());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("raft.redb"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
