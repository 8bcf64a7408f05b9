//! Unit tests of `swarm.rs`: output texts, update query, spec merging.

use super::*;

#[test]
fn join_line_shape() {
    assert_eq!(
        join_text("worker", "SWMTKN-1-abc-def", "10.0.0.1:2377"),
        "To add a worker to this swarm, run the following command:\n\n    \
         shoal swarm join --token SWMTKN-1-abc-def 10.0.0.1:2377\n\n"
    );
}

#[test]
fn update_query_is_sorted_like_go() {
    let flags = [
        ("rotateWorkerToken", true),
        ("rotateManagerToken", false),
        ("rotateManagerUnlockKey", false),
    ];
    assert_eq!(
        update_path(7, flags),
        "/swarm/update?rotateManagerToken=false&rotateManagerUnlockKey=false\
         &rotateWorkerToken=true&version=7"
    );
}

#[test]
fn spec_flags_merge_only_given() {
    let flags = SpecFlags {
        task_history_limit: Some(2),
        dispatcher_heartbeat: Some(parse_duration("10s").unwrap()),
        cert_expiry: None,
        max_snapshots: None,
        snapshot_interval: None,
    };
    let mut spec = SwarmSpec::default();
    flags.merge(&mut spec);
    assert_eq!(spec.orchestration.task_history_retention_limit, 2);
    assert_eq!(spec.dispatcher.heartbeat_period, 10_000_000_000);
    assert_eq!(
        spec.ca_config.node_cert_expiry,
        SwarmSpec::default().ca_config.node_cert_expiry
    );
}

#[test]
fn unlock_text_matches_docker_golden() {
    assert_eq!(
        unlock_text("unlock-key"),
        "To unlock a swarm manager after it restarts, run the `docker swarm unlock`\n\
         command and provide the following key:\n\n    unlock-key\n\n\
         Remember to store this key in a password manager, since without it you\n\
         will not be able to restart the manager.\n"
    );
    assert_eq!(unlock_text(""), "");
}
