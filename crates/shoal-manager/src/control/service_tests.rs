//! Unit tests of `service.rs`'s pure parts: update bookkeeping, port conflicts, status counts
//! and inserted defaults.

use super::*;

fn spec(json: serde_json::Value) -> ServiceSpec {
    let mut s: ServiceSpec = serde_json::from_value(json).unwrap();
    rules::prepare(&mut s).unwrap();
    s
}

fn service(id: &str, json: serde_json::Value) -> Service {
    let spec = spec(json);
    Service {
        id: id.into(),
        endpoint: endpoint_for(&spec, None),
        spec,
        spec_version: 1,
        ..Default::default()
    }
}

fn web(image: &str) -> serde_json::Value {
    serde_json::json!({"Name": "web", "Mode": {"Replicated": {"Replicas": 2}},
        "TaskTemplate": {"ContainerSpec": {"Image": image}}})
}

#[test]
fn update_keeps_previous_spec_and_bumps_the_spec_version_only_on_change() {
    let s = service("s1", web("app:1"));
    let same = apply_update(s.clone(), 7, spec(web("app:1")), Rollback::None, &[]).unwrap();
    assert_eq!(
        same.spec_version, 1,
        "an identical spec makes no task dirty"
    );
    assert_eq!(same.meta.version.index, 7);
    assert_eq!(same.previous_spec.as_ref(), Some(&s.spec));

    let mut scaled = web("app:1");
    scaled["Mode"] = serde_json::json!({"Replicated": {"Replicas": 5}});
    let scaled = apply_update(s.clone(), 7, spec(scaled), Rollback::None, &[]).unwrap();
    assert_eq!(scaled.spec_version, 1, "scaling makes no task dirty");

    let changed = apply_update(s.clone(), 7, spec(web("app:2")), Rollback::None, &[]).unwrap();
    assert_eq!(changed.spec_version, 2);
    assert_eq!(changed.previous_spec.as_ref(), Some(&s.spec));
    let status = changed.update_status.as_ref().unwrap();
    assert_eq!(status.state, "updating");
    assert_eq!(status.message, "update in progress");
    assert!(scaled.update_status.is_none(), "scaling is not an update");

    let back = apply_update(
        changed.clone(),
        9,
        spec(web("app:2")),
        Rollback::Previous,
        &[],
    )
    .unwrap();
    assert_eq!(back.spec, s.spec, "rollback restores the previous spec");
    assert_eq!(back.previous_spec.as_ref(), Some(&changed.spec));
    assert_eq!(back.spec_version, 3);
    let status = back.update_status.unwrap();
    assert_eq!(status.state, "rollback_started");
    assert_eq!(status.message, "manually requested rollback");

    let e = apply_update(s, 7, spec(web("app:1")), Rollback::Previous, &[]).unwrap_err();
    assert_eq!(
        e.message,
        "rpc error: code = FailedPrecondition desc = service s1 does not have a previous spec"
    );
    assert_eq!(e.kind, shoal_types::ErrorKind::InvalidArgument);
}

#[test]
fn mode_changes_and_renames_are_refused_with_swarmkit_s_texts() {
    let s = service("s1", web("app:1"));
    let mut global = web("app:1");
    global["Mode"] = serde_json::json!({"Global": {}});
    let e = apply_update(s.clone(), 1, spec(global), Rollback::None, &[]).unwrap_err();
    assert_eq!(
        e.message,
        "rpc error: code = Unimplemented desc = service mode change is not allowed"
    );
    assert_eq!(e.kind, shoal_types::ErrorKind::NotImplemented);
    let mut renamed = web("app:1");
    renamed["Name"] = "web2".into();
    let e = apply_update(s, 1, spec(renamed), Rollback::None, &[]).unwrap_err();
    assert_eq!(
        e.message,
        "rpc error: code = Unimplemented desc = renaming services is not supported"
    );
}

#[test]
fn published_ports_conflict_across_services() {
    let mut a = web("app:1");
    a["EndpointSpec"] = serde_json::json!({"Ports": [{"TargetPort": 80, "PublishedPort": 8080}]});
    let a = service("aaa", a);
    let mut b = web("app:1");
    b["Name"] = "b".into();
    b["EndpointSpec"] = serde_json::json!({"Ports": [{"TargetPort": 81, "PublishedPort": 8080}]});
    let e = check_port_conflicts(std::slice::from_ref(&a), &spec(b.clone()), "").unwrap_err();
    assert_eq!(
        e.message,
        "rpc error: code = InvalidArgument desc = port '8080' is already in use by service 'web' (aaa) as an ingress port"
    );
    // The service itself (an update) and other protocols do not conflict.
    check_port_conflicts(std::slice::from_ref(&a), &spec(b.clone()), "aaa").unwrap();
    b["EndpointSpec"]["Ports"][0]["Protocol"] = "udp".into();
    check_port_conflicts(std::slice::from_ref(&a), &spec(b.clone()), "").unwrap();
    // Host-mode ports may be shared between host-mode services only.
    let mut h1 = web("app:1");
    h1["EndpointSpec"] = serde_json::json!({"Ports": [{"TargetPort": 80, "PublishedPort": 9000, "PublishMode": "host"}]});
    let h1 = service("hhh", h1);
    let mut h2 = web("app:1");
    h2["Name"] = "h2".into();
    h2["EndpointSpec"] = serde_json::json!({"Ports": [{"TargetPort": 80, "PublishedPort": 9000, "PublishMode": "host"}]});
    check_port_conflicts(std::slice::from_ref(&h1), &spec(h2.clone()), "").unwrap();
    h2["EndpointSpec"]["Ports"][0]["PublishMode"] = "ingress".into();
    let e = check_port_conflicts(std::slice::from_ref(&h1), &spec(h2), "").unwrap_err();
    assert!(
        e.message.ends_with("as a host-published port"),
        "{}",
        e.message
    );
}

fn task(service: &str, state: TaskState, desired: TaskState) -> Task {
    let mut t = Task {
        id: shoal_types::new_id(),
        service_id: service.into(),
        desired_state: desired,
        ..Default::default()
    };
    t.status.state = state;
    t
}

#[test]
fn status_counts_like_list_service_statuses() {
    let s = service("s1", web("app:1"));
    let tasks = vec![
        task("s1", TaskState::Running, TaskState::Running),
        task("s1", TaskState::Pending, TaskState::Running),
        task("s1", TaskState::Shutdown, TaskState::Shutdown),
        task("other", TaskState::Running, TaskState::Running),
    ];
    let st = service_status(&s, &tasks);
    assert_eq!(
        (st.running_tasks, st.desired_tasks, st.completed_tasks),
        (1, 2, 0)
    );
    let mut g = web("app:1");
    g["Mode"] = serde_json::json!({"Global": {}});
    let g = service("s1", g);
    let st = service_status(&g, &tasks);
    assert_eq!((st.running_tasks, st.desired_tasks), (1, 2));
}

#[test]
fn insert_defaults_matches_swarmkit() {
    let s = with_defaults(spec(web("app:1")));
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(
        v["TaskTemplate"]["RestartPolicy"],
        serde_json::json!({"Condition": "any", "Delay": 5_000_000_000i64, "MaxAttempts": 0})
    );
    assert_eq!(
        v["UpdateConfig"],
        serde_json::json!({"Parallelism": 1, "FailureAction": "pause", "Monitor": 5_000_000_000i64,
            "MaxFailureRatio": 0.0, "Order": "stop-first"})
    );
    assert_eq!(v["RollbackConfig"], v["UpdateConfig"]);
    assert_eq!(
        v["TaskTemplate"]["ContainerSpec"]["StopGracePeriod"],
        10_000_000_000i64
    );
}

#[test]
fn endpoint_keeps_explicit_and_already_assigned_ports() {
    let mut j = web("app:1");
    j["EndpointSpec"] = serde_json::json!({"Ports": [
        {"TargetPort": 80, "PublishedPort": 8080}, {"TargetPort": 443}]});
    let s = spec(j);
    let ep = endpoint_for(&s, None);
    assert_eq!(ep.ports.len(), 2);
    assert_eq!(ep.ports[0].published_port, Some(8080));
    assert_eq!(ep.ports[1].published_port, None, "left to the allocator");
    let mut assigned = ep.clone();
    assigned.ports[1].published_port = Some(30000);
    let ep = endpoint_for(&s, Some(&assigned));
    assert_eq!(ep.ports.len(), 2);
    assert_eq!(ep.ports[1].published_port, Some(30000));
}

#[test]
fn the_next_update_resumes_a_paused_one() {
    let mut s = service("s1", web("app:2"));
    s.update_status = Some(UpdateStatus {
        state: "paused".into(),
        message: "update paused due to failure or early termination of task t1".into(),
        ..Default::default()
    });
    // `service update --continue`: the same spec again.
    let resumed = apply_update(s.clone(), 8, spec(web("app:2")), Rollback::None, &[]).unwrap();
    let status = resumed.update_status.unwrap();
    assert_eq!(status.state, "updating");
    assert_eq!(status.message, "update resumed");
    assert!(status.resumed, "a canary gate does not pause it again");
    assert!(!status.started_at.is_empty(), "failures count from now");
    assert_eq!(resumed.spec_version, 1, "nothing new to roll out");
    // Any other update without changes clears a finished status, as swarmkit does.
    s.update_status.as_mut().unwrap().state = "completed".into();
    let scaled = apply_update(s, 8, spec(web("app:2")), Rollback::None, &[]).unwrap();
    assert!(
        scaled.update_status.is_none(),
        "as swarmkit: the status is cleared"
    );
}
