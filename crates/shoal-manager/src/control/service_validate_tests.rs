//! Unit tests of `service_validate.rs`: Docker's texts for each rule.

use super::*;

fn spec(json: serde_json::Value) -> ServiceSpec {
    serde_json::from_value(json).unwrap()
}

fn base() -> serde_json::Value {
    serde_json::json!({"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "nginx:1.27"}}})
}

fn check(
    mut json: serde_json::Value,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Result<(), Error> {
    edit(&mut json);
    let mut s = spec(json);
    prepare(&mut s)?;
    validate(&s)
}

fn err(edit: impl FnOnce(&mut serde_json::Value)) -> Error {
    check(base(), edit).expect_err("must be refused")
}

#[test]
fn a_plain_spec_passes_and_gets_docker_s_defaults() {
    let mut s = spec(base());
    prepare(&mut s).unwrap();
    validate(&s).unwrap();
    let mode = s.mode.clone().unwrap();
    assert_eq!(mode.replicated.unwrap().replicas, Some(1));
    let task = s.task_template.clone().unwrap();
    assert_eq!(task.runtime.as_deref(), Some("container"));
    assert_eq!(task.force_update, Some(0));
    assert_eq!(s.labels, Some(Default::default()));
}

#[test]
fn names_follow_swarmkit() {
    for bad in ["-web", "web-", "we b", "web.1", "ünï"] {
        let e = err(|j| j["Name"] = bad.into());
        assert_eq!(
            e.message,
            "rpc error: code = InvalidArgument desc = name must be valid as a DNS name component",
            "{bad}"
        );
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }
    for good in ["a", "web_1", "my--web", "A1"] {
        check(base(), |j| j["Name"] = good.into()).unwrap();
    }
    let e = err(|j| j["Name"] = "a".repeat(64).into());
    assert_eq!(
        e.message,
        "rpc error: code = InvalidArgument desc = name must be 63 characters or fewer"
    );
    check(base(), |j| j["Name"] = "a".repeat(63).into()).unwrap();
    // No name: moby invents one.
    let mut s = spec(serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}}}));
    prepare(&mut s).unwrap();
    let name = s.name.clone().unwrap();
    assert!(name.contains('_'), "{name}");
    validate(&s).unwrap();
}

#[test]
fn image_and_container_spec() {
    let e = err(|j| j["TaskTemplate"]["ContainerSpec"]["Image"] = "".into());
    assert_eq!(
        e.message,
        "rpc error: code = InvalidArgument desc = ContainerSpec: image reference must be provided"
    );
    let e = err(|j| j["TaskTemplate"]["ContainerSpec"]["Image"] = "Nginx".into());
    assert_eq!(
        e.message,
        "rpc error: code = InvalidArgument desc = ContainerSpec: \"Nginx\" is not a valid repository/tag"
    );
    let e = err(|j| j["TaskTemplate"] = serde_json::json!({}));
    assert_eq!(e.message, "mismatched Runtime and *Spec fields");
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    let e = err(|j| {
        j["TaskTemplate"]["ContainerSpec"]["Mounts"] = serde_json::json!([{"Target": "/a", "Type": "volume"}, {"Target": "/a", "Type": "bind"}])
    });
    assert_eq!(
        e.message,
        "rpc error: code = InvalidArgument desc = ContainerSpec: duplicate mount point: /a"
    );
}

#[test]
fn references() {
    for good in [
        "nginx",
        "nginx:1.27",
        "library/nginx:latest",
        "localhost:5000/app:2",
        "registry.example.com/team/app",
        "Registry.Example.com/app",
        "[::1]:5000/app",
        "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "my_app__x.y-z",
    ] {
        assert!(is_reference(good), "{good}");
    }
    for bad in [
        "",
        "Nginx",
        "nginx:",
        "nginx:-x",
        "-nginx",
        "nginx@sha256:xyz",
        "a//b",
        "app:tag/x",
    ] {
        assert!(!is_reference(bad), "{bad}");
    }
}

#[test]
fn modes() {
    let e = err(|j| j["Mode"] = serde_json::json!({"Global": {}, "Replicated": {"Replicas": 2}}));
    assert_eq!(e.message, "must specify only one service mode");
    let e = err(|j| j["Mode"] = serde_json::json!({"Replicated": {"Replicas": -1}}));
    assert_eq!(
        e.message,
        "rpc error: code = InvalidArgument desc = Number of replicas must be non-negative"
    );
    let e = err(|j| j["Mode"] = serde_json::json!({"ReplicatedJob": {"MaxConcurrent": -2}}));
    assert!(
        e.message
            .ends_with("Maximum concurrent jobs must not be negative")
    );
    let e = err(|j| {
        j["Mode"] = serde_json::json!({"GlobalJob": {}});
        j["UpdateConfig"] = serde_json::json!({"Parallelism": 1});
    });
    assert!(e.message.ends_with("Jobs may not have an update config"));
    let mut s = spec(base());
    s.mode = Some(
        spec(serde_json::json!({"Mode": {"ReplicatedJob": {"MaxConcurrent": 3}}}))
            .mode
            .unwrap(),
    );
    prepare(&mut s).unwrap();
    let job = s.mode.unwrap().replicated_job.unwrap();
    assert_eq!(
        (job.max_concurrent, job.total_completions),
        (Some(3), Some(3))
    );
}

#[test]
fn constraints_follow_swarmkit_parser() {
    let e = err(|j| {
        j["TaskTemplate"]["Placement"] = serde_json::json!({"Constraints": ["node.role=manager"]})
    });
    assert_eq!(
        e.message,
        "rpc error: code = Unknown desc = constraint expected one operator from ==, !="
    );
    assert_eq!(
        e.kind,
        ErrorKind::Internal,
        "swarmkit returns it as gRPC Unknown"
    );
    for (c, want) in [
        ("1x==a", "key '1x' is invalid"),
        ("node.id==a{b}", "value 'a{b}' is invalid"),
    ] {
        let e = err(|j| j["TaskTemplate"]["Placement"] = serde_json::json!({"Constraints": [c]}));
        assert_eq!(
            e.message,
            format!("rpc error: code = Unknown desc = {want}")
        );
    }
    check(
        base(),
        |j| {
            j["TaskTemplate"]["Placement"] =
                serde_json::json!({"Constraints": ["node.labels.zone == a b", "node.role!=worker"]})
        },
    )
    .unwrap();
}

#[test]
fn restart_resources_health_update_and_ports() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}, "RestartPolicy": {"Delay": -1}}}),
            "TaskSpec: restart-delay cannot be negative",
        ),
        (
            serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}, "RestartPolicy": {"Window": -1}}}),
            "TaskSpec: restart-window cannot be negative",
        ),
        (
            serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}, "Resources": {"Limits": {"NanoCPUs": 500}}}}),
            "invalid cpu value 5e-07: Must be at least 0.001",
        ),
        (
            serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}, "Resources": {"Reservations": {"MemoryBytes": 1024}}}}),
            "invalid memory value 1024: Must be at least 4MiB",
        ),
        (
            serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x", "HealthCheck": {"Interval": 5}}}}),
            "ContainerSpec: Interval in HealthConfig cannot be less than 1ms",
        ),
        (
            serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x", "HealthCheck": {"Retries": -1}}}}),
            "ContainerSpec: Retries in HealthConfig cannot be negative",
        ),
        (
            serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}}, "UpdateConfig": {"Delay": -5}}),
            "TaskSpec: update-delay cannot be negative",
        ),
        (
            serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}}, "UpdateConfig": {"MaxFailureRatio": 1.5}}),
            "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1",
        ),
        (
            serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}},
                "EndpointSpec": {"Ports": [{"TargetPort": 80, "PublishedPort": 8080}, {"TargetPort": 81, "PublishedPort": 8080}]}}),
            "EndpointSpec: duplicate published ports provided",
        ),
        (
            serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}},
                "EndpointSpec": {"Mode": "dnsrr", "Ports": [{"TargetPort": 80, "PublishedPort": 8080}]}}),
            "EndpointSpec: port published with ingress mode can't be used with dnsrr mode",
        ),
    ];
    for (mut json, want) in cases {
        json["Name"] = "web".into();
        let e = check(json, |_| {}).expect_err(want);
        assert_eq!(
            e.message,
            format!("rpc error: code = InvalidArgument desc = {want}")
        );
    }
    // Same port on another protocol, and unpublished duplicates, are fine.
    check(base(), |j| {
        j["EndpointSpec"] = serde_json::json!({"Ports": [
            {"TargetPort": 53, "PublishedPort": 53, "Protocol": "udp"},
            {"TargetPort": 53, "PublishedPort": 53},
            {"TargetPort": 80}, {"TargetPort": 80}]})
    })
    .unwrap();
}

#[test]
fn go_float_formats() {
    assert_eq!(go_float(5e-7), "5e-07");
    assert_eq!(go_float(0.0005), "0.0005");
    assert_eq!(go_float(1e-9), "1e-09");
}
