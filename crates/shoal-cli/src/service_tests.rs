//! Unit tests of the `service` commands: docker's table layouts, pretty inspect, and how
//! flags become a spec.

use clap::Parser;

use super::*;
use crate::service_pretty::go_duration;
use crate::service_table::image_cell;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: ServiceCmd,
}

fn parse(args: &[&str]) -> ServiceCmd {
    let mut full = vec!["service"];
    full.extend_from_slice(args);
    Cli::try_parse_from(full).unwrap().cmd
}

fn svc(json: Value) -> Service {
    serde_json::from_value(json).unwrap()
}

fn fixture() -> Vec<Service> {
    vec![
        svc(
            json!({"ID": "x1k0ba4cvl1xbk4lkrp1xtvwq", "Spec": {"Name": "web10", "Mode": {"Global": {}},
            "TaskTemplate": {"ContainerSpec": {"Image": "nginx:1.27@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}},
            "ServiceStatus": {"RunningTasks": 1, "DesiredTasks": 1, "CompletedTasks": 0}}),
        ),
        svc(
            json!({"ID": "4nvpq0tnh2crl6bbvv7hqj0w8", "Spec": {"Name": "web2", "Mode": {"Replicated": {"Replicas": 3}},
            "TaskTemplate": {"ContainerSpec": {"Image": "app:2"}, "Placement": {"MaxReplicas": 2}}},
            "Endpoint": {"Ports": [
                {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"},
                {"Protocol": "tcp", "TargetPort": 81, "PublishedPort": 8081, "PublishMode": "ingress"},
                {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 53, "PublishMode": "ingress"},
                {"Protocol": "tcp", "TargetPort": 9000, "PublishedPort": 9000, "PublishMode": "host"}]},
            "ServiceStatus": {"RunningTasks": 2, "DesiredTasks": 3, "CompletedTasks": 0}}),
        ),
    ]
}

#[test]
fn ls_table_exact() {
    let mut services = fixture();
    let out = table(&ls_rows(&mut services));
    let want = "\
ID             NAME      MODE         REPLICAS               IMAGE        PORTS
4nvpq0tnh2cr   web2      replicated   2/3 (max 2 per node)   app:2        *:8080-8081->80-81/tcp, *:53->53/udp
x1k0ba4cvl1x   web10     global       1/1                    nginx:1.27   \n";
    assert_eq!(out, want);
}

#[test]
fn images_are_shown_familiar_without_digest() {
    assert_eq!(image_cell("docker.io/library/nginx:latest"), "nginx:latest");
    assert_eq!(image_cell("nginx@sha256:abc"), "nginx@sha256:abc");
    assert_eq!(
        image_cell("localhost:5000/app:1@sha256:abc"),
        "localhost:5000/app:1"
    );
}

fn task(json: Value) -> TaskView {
    serde_json::from_value(json).unwrap()
}

#[test]
fn ps_table_with_history_rows() {
    let tasks = vec![
        task(
            json!({"ID": "t0ld0000000000000000000000", "CreatedAt": "2026-01-01T00:00:00Z", "ServiceID": "s1", "Slot": 1,
            "NodeID": "n1", "DesiredState": "shutdown", "Spec": {"ContainerSpec": {"Image": "app:1"}},
            "Status": {"State": "failed", "Timestamp": "2026-01-01T00:00:10Z", "Err": "task: non-zero exit (1) because the process crashed"}}),
        ),
        task(
            json!({"ID": "t1ne0000000000000000000000", "CreatedAt": "2026-01-01T00:00:20Z", "ServiceID": "s1", "Slot": 1,
            "NodeID": "n1", "DesiredState": "running", "Spec": {"ContainerSpec": {"Image": "app:1"}},
            "Status": {"State": "running", "Timestamp": "2026-01-01T00:01:00Z",
                "PortStatus": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 30001}]}}}),
        ),
        task(
            json!({"ID": "t2aa0000000000000000000000", "CreatedAt": "2026-01-01T00:00:20Z", "ServiceID": "s1", "Slot": 2,
            "DesiredState": "running", "Spec": {"ContainerSpec": {"Image": "app:1"}},
            "Status": {"State": "pending", "Timestamp": "2026-01-01T00:01:58Z", "Err": "no suitable node"}}),
        ),
    ];
    let ctx = PsContext {
        service_names: [("s1".to_string(), "web".to_string())].into(),
        node_names: [("n1".to_string(), "host1".to_string())].into(),
        now_ns: crate::timefmt::unix_nanos("2026-01-01T00:02:00Z").unwrap(),
        trunc: true,
    };
    let out = table(&ps_rows(&tasks, &ctx));
    let want = "\
ID             NAME        IMAGE     NODE      DESIRED STATE   CURRENT STATE                ERROR                              PORTS
t1ne00000000   web.1       app:1     host1     Running         Running about a minute ago                                      *:30001->80/tcp
t0ld00000000    \\_ web.1   app:1     host1     Shutdown        Failed about a minute ago    \"task: non-zero exit (1) becau…\"   
t2aa00000000   web.2       app:1               Running         Pending 2 seconds ago        \"no suitable node\"                 \n";
    assert_eq!(out, want);
}

#[test]
fn pretty_inspect_matches_docker_s_template() {
    let s = svc(
        json!({"ID": "de179gar9d0o7ltdybungplod", "Spec": {"Name": "my_service",
        "Labels": {"com.label": "foo"}, "Mode": {"Replicated": {"Replicas": 2}},
        "TaskTemplate": {"ContainerSpec": {"Image": "foo/bar:1", "Env": ["A=1"],
            "HealthCheck": {"Test": ["CMD-SHELL", "curl"], "Interval": 4, "Retries": 3, "StartPeriod": 2, "Timeout": 1}},
            "Resources": {"Limits": {"NanoCPUs": 100000000000i64, "MemoryBytes": 10490000, "Pids": 20}}},
        "EndpointSpec": {"Mode": "vip"}},
        "Endpoint": {"Ports": [{"Protocol": "tcp", "TargetPort": 5000, "PublishedPort": 30000}]}}),
    );
    let out = inspect_text("pretty", &[s]).unwrap();
    let want = concat!(
        "\nID:\t\tde179gar9d0o7ltdybungplod\nName:\t\tmy_service\nLabels:\n com.label=foo\n",
        "Service Mode:\tReplicated\n Replicas:\t2\nPlacement:\nContainerSpec:\n Image:\t\tfoo/bar:1\n",
        " Env:\t\tA=1 \nResources:\n Limits:\n  CPU:\t\t100\n  Memory:\t10MiB\n  PIDs:\t\t20\n",
        "Endpoint Mode:\tvip\nPorts:\n PublishedPort = 30000\n  Protocol = tcp\n  TargetPort = 5000\n",
        "  PublishMode =  \n Healthcheck:\n  Interval = 4ns\n  Retries = 3\n  StartPeriod =\t2ns\n",
        "  Timeout =\t1ns\n  Tests:\n\t Test = CMD-SHELL\n\t Test = curl \n\n",
    );
    assert_eq!(out, want);
    assert_eq!(go_duration(5_000_000_000), "5s");
    assert_eq!(go_duration(90_000_000_000), "1m30s");
    assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    assert_eq!(go_duration(1_500_000), "1.5ms");
}

#[test]
fn create_flags_become_docker_s_spec() {
    let ServiceCmd::Create(a) = parse(&[
        "create",
        "--name",
        "web",
        "--replicas",
        "3",
        "-e",
        "A=1",
        "-l",
        "tier=front",
        "-p",
        "8080:80",
        "--constraint",
        "node.role==manager",
        "--limit-memory",
        "64m",
        "--restart-condition",
        "on-failure",
        "--health-cmd",
        "true",
        "-d",
        "nginx:1.27",
        "nginx",
        "-g",
        "daemon off;",
    ]) else {
        panic!("create")
    };
    let spec = serde_json::to_value(create_spec(&a).unwrap()).unwrap();
    assert_eq!(spec["Name"], "web");
    assert_eq!(spec["Mode"], json!({"Replicated": {"Replicas": 3}}));
    let cs = &spec["TaskTemplate"]["ContainerSpec"];
    assert_eq!(cs["Image"], "nginx:1.27");
    assert_eq!(cs["Args"], json!(["nginx", "-g", "daemon off;"]));
    assert_eq!(cs["Env"], json!(["A=1"]));
    assert_eq!(cs["HealthCheck"]["Test"], json!(["CMD-SHELL", "true"]));
    assert_eq!(spec["Labels"], json!({"tier": "front"}));
    assert_eq!(
        spec["TaskTemplate"]["Placement"]["Constraints"],
        json!(["node.role==manager"])
    );
    assert_eq!(
        spec["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"],
        64 << 20
    );
    assert_eq!(
        spec["TaskTemplate"]["RestartPolicy"]["Condition"],
        "on-failure"
    );
    assert_eq!(spec["EndpointSpec"]["Ports"][0]["PublishedPort"], 8080);
    assert!(a.common.detach);

    let ServiceCmd::Create(a) = parse(&["create", "--mode", "global", "--replicas", "2", "x"])
    else {
        panic!()
    };
    assert_eq!(
        create_spec(&a).unwrap_err().to_string(),
        "replicas can only be used with replicated or replicated-job mode"
    );
    let ServiceCmd::Create(a) = parse(&["create", "--mode", "sideways", "x"]) else {
        panic!()
    };
    assert_eq!(
        create_spec(&a).unwrap_err().to_string(),
        "Unknown mode: sideways, only replicated and global supported"
    );
}

#[test]
fn update_flags_merge_into_the_current_spec() {
    let mut spec = svc(
        json!({"ID": "s1", "Spec": {"Name": "web", "Labels": {"old": "1"},
        "Mode": {"Replicated": {"Replicas": 1}},
        "TaskTemplate": {"ContainerSpec": {"Image": "app:1", "Env": ["A=0", "B=1"]},
            "Placement": {"Constraints": ["node.role==worker"]}, "ForceUpdate": 2}}}),
    )
    .spec;
    let ServiceCmd::Update(a) = parse(&[
        "update",
        "--image",
        "app:2",
        "--env-add",
        "A=1",
        "--env-rm",
        "B",
        "--label-add",
        "new=2",
        "--label-rm",
        "old",
        "--constraint-rm",
        "node.role==worker",
        "--constraint-add",
        "node.labels.zone==a",
        "--replicas",
        "4",
        "--force",
        "web",
    ]) else {
        panic!()
    };
    merge_update(&mut spec, &a).unwrap();
    let v = serde_json::to_value(&spec).unwrap();
    assert_eq!(v["TaskTemplate"]["ContainerSpec"]["Image"], "app:2");
    assert_eq!(v["TaskTemplate"]["ContainerSpec"]["Env"], json!(["A=1"]));
    assert_eq!(v["Labels"], json!({"new": "2"}));
    assert_eq!(
        v["TaskTemplate"]["Placement"]["Constraints"],
        json!(["node.labels.zone==a"])
    );
    assert_eq!(v["Mode"]["Replicated"]["Replicas"], 4);
    assert_eq!(v["TaskTemplate"]["ForceUpdate"], 3);

    let ServiceCmd::Update(a) = parse(&["update", "--rollback", "--image", "x", "web"]) else {
        panic!()
    };
    assert_eq!(
        merge_update(&mut spec, &a).unwrap_err().to_string(),
        "other flags may not be combined with --rollback"
    );
    let ServiceCmd::Update(a) = parse(&["update", "--rollback", "-d", "web"]) else {
        panic!()
    };
    merge_update(&mut spec, &a).unwrap();
}

#[test]
fn scale_arguments_are_checked_first() {
    assert!(check_scale_args(&["web=3".into(), "api=1".into()]).is_ok());
    let e = check_scale_args(&["web".into()]).unwrap_err().to_string();
    assert!(
        e.starts_with("invalid scale specifier 'web'.\nSee 'shoal service scale --help'."),
        "{e}"
    );
}

fn create_spec_json(args: &[&str]) -> Result<Value, CliError> {
    let mut full = vec!["create"];
    full.extend_from_slice(args);
    full.push("nginx");
    let ServiceCmd::Create(a) = parse(&full) else {
        panic!("create")
    };
    create_spec(&a).map(|s| serde_json::to_value(s).unwrap())
}

fn updated(spec: &Value, args: &[&str]) -> Result<Value, CliError> {
    let mut spec: shoal_types::service::ServiceSpec = serde_json::from_value(spec.clone()).unwrap();
    let mut full = vec!["update"];
    full.extend_from_slice(args);
    full.push("web");
    let ServiceCmd::Update(a) = parse(&full) else {
        panic!("update")
    };
    merge_update(&mut spec, &a).map(|()| serde_json::to_value(spec).unwrap())
}

fn parse_err(args: &[&str]) -> String {
    let mut full = vec!["service"];
    full.extend_from_slice(args);
    Cli::try_parse_from(full).unwrap_err().to_string()
}

#[test]
fn update_and_rollback_configs_start_from_swarmkit_s_defaults() {
    let spec = create_spec_json(&[
        "--update-parallelism",
        "2",
        "--update-delay",
        "10s",
        "--update-monitor",
        "30s",
        "--update-failure-action",
        "rollback",
        "--update-max-failure-ratio",
        "0.25",
        "--update-order",
        "start-first",
        "--rollback-parallelism",
        "0",
        "--rollback-delay",
        "1s",
        "--rollback-monitor",
        "2s",
        "--rollback-failure-action",
        "continue",
        "--rollback-max-failure-ratio",
        "0.5",
        "--rollback-order",
        "start-first",
    ])
    .unwrap();
    assert_eq!(
        spec["UpdateConfig"],
        json!({"Parallelism": 2, "Delay": 10_000_000_000i64, "FailureAction": "rollback",
            "Monitor": 30_000_000_000i64, "MaxFailureRatio": 0.25, "Order": "start-first"})
    );
    assert_eq!(
        spec["RollbackConfig"],
        json!({"Parallelism": 0, "Delay": 1_000_000_000, "FailureAction": "continue",
            "Monitor": 2_000_000_000, "MaxFailureRatio": 0.5, "Order": "start-first"})
    );

    // One flag: docker's `updateConfigFromDefaults` fills the rest; the other config stays out.
    let spec = create_spec_json(&["--update-parallelism", "3"]).unwrap();
    assert_eq!(
        spec["UpdateConfig"],
        json!({"Parallelism": 3, "Delay": 0, "FailureAction": "pause",
            "Monitor": 5_000_000_000i64, "MaxFailureRatio": 0.0, "Order": "stop-first"})
    );
    assert!(spec.get("RollbackConfig").is_none(), "{spec}");
    let spec = create_spec_json(&["--rollback-monitor", "1m"]).unwrap();
    assert_eq!(
        spec["RollbackConfig"],
        json!({"Parallelism": 1, "Delay": 0, "FailureAction": "pause",
            "Monitor": 60_000_000_000i64, "MaxFailureRatio": 0.0, "Order": "stop-first"})
    );
    assert!(spec.get("UpdateConfig").is_none(), "{spec}");
    let spec = create_spec_json(&[]).unwrap();
    assert!(spec.get("UpdateConfig").is_none() && spec.get("RollbackConfig").is_none());
}

#[test]
fn bad_update_config_values_get_docker_s_texts() {
    let err = |args: &[&str]| create_spec_json(args).unwrap_err().to_string();
    assert_eq!(
        err(&["--update-failure-action", "panic"]),
        "unrecognized update failure action panic"
    );
    assert_eq!(
        err(&["--rollback-failure-action", "rollback"]),
        "unrecognized update failure action rollback"
    );
    assert_eq!(
        err(&["--update-order", "random"]),
        "unrecognized update order random"
    );
    assert_eq!(
        err(&["--rollback-order", "last-first"]),
        "unrecognized update order last-first"
    );
    assert_eq!(
        err(&["--mode", "replicated-job", "--rollback-delay", "1s"]),
        "update and rollback configuration is not supported for jobs"
    );
    assert_eq!(
        err(&["--mode", "global-job", "--update-parallelism", "1"]),
        "update and rollback configuration is not supported for jobs"
    );
    let e = parse_err(&["create", "--update-max-failure-ratio", "most", "x"]);
    assert!(
        e.contains("strconv.ParseFloat: parsing \"most\": invalid syntax"),
        "{e}"
    );
    let e = parse_err(&["update", "--rollback-monitor", "soon", "x"]);
    assert!(e.contains("time: invalid duration \"soon\""), "{e}");
    assert!(parse_err(&["update", "--update-parallelism", "-1", "x"]).contains("-1"));
    // Ranges are the daemon's to refuse (swarmkit's texts), as docker leaves them.
    let spec =
        create_spec_json(&["--update-max-failure-ratio", "2", "--update-delay", "-1s"]).unwrap();
    assert_eq!(spec["UpdateConfig"]["MaxFailureRatio"], 2.0);
    assert_eq!(spec["UpdateConfig"]["Delay"], -1_000_000_000i64);
}

#[test]
fn update_changes_only_the_config_fields_given() {
    let spec = json!({"Name": "web", "Mode": {"Replicated": {"Replicas": 3}},
        "TaskTemplate": {"ContainerSpec": {"Image": "app:1"}},
        "UpdateConfig": {"Parallelism": 3, "Delay": 10_000_000_000i64, "FailureAction": "rollback",
            "Monitor": 20_000_000_000i64, "MaxFailureRatio": 0.2, "Order": "start-first"}});
    let v = updated(
        &spec,
        &[
            "--update-delay",
            "1s",
            "--update-failure-action",
            "continue",
        ],
    )
    .unwrap();
    assert_eq!(
        v["UpdateConfig"],
        json!({"Parallelism": 3, "Delay": 1_000_000_000, "FailureAction": "continue",
            "Monitor": 20_000_000_000i64, "MaxFailureRatio": 0.2, "Order": "start-first"})
    );
    assert!(v.get("RollbackConfig").is_none(), "{v}");
    assert_eq!(v["TaskTemplate"], spec["TaskTemplate"]);

    let v = updated(&spec, &["--rollback-order", "start-first"]).unwrap();
    assert_eq!(v["UpdateConfig"], spec["UpdateConfig"]);
    assert_eq!(
        v["RollbackConfig"],
        json!({"Parallelism": 1, "Delay": 0, "FailureAction": "pause",
            "Monitor": 5_000_000_000i64, "MaxFailureRatio": 0.0, "Order": "start-first"})
    );
    let v = updated(&v, &["--rollback-max-failure-ratio", "0.1"]).unwrap();
    assert_eq!(v["RollbackConfig"]["MaxFailureRatio"], 0.1);
    assert_eq!(v["RollbackConfig"]["Order"], "start-first");

    assert_eq!(
        updated(&spec, &["--update-failure-action", "sometimes"])
            .unwrap_err()
            .to_string(),
        "unrecognized update failure action sometimes"
    );
    assert_eq!(
        updated(&spec, &["--rollback", "--update-delay", "1s"])
            .unwrap_err()
            .to_string(),
        "other flags may not be combined with --rollback"
    );
}

#[test]
fn health_flags_like_docker() {
    let spec = create_spec_json(&[
        "--health-cmd",
        "curl -f localhost",
        "--health-interval",
        "10s",
        "--health-timeout",
        "2s",
        "--health-retries",
        "3",
        "--health-start-period",
        "30s",
        "--health-start-interval",
        "1s",
    ])
    .unwrap();
    assert_eq!(
        spec["TaskTemplate"]["ContainerSpec"]["HealthCheck"],
        json!({"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 10_000_000_000i64,
            "Timeout": 2_000_000_000, "Retries": 3, "StartPeriod": 30_000_000_000i64,
            "StartInterval": 1_000_000_000})
    );
    let spec = create_spec_json(&["--no-healthcheck"]).unwrap();
    assert_eq!(
        spec["TaskTemplate"]["ContainerSpec"]["HealthCheck"],
        json!({"Test": ["NONE"]})
    );
    for flag in [
        ["--health-cmd", "true"],
        ["--health-interval", "1s"],
        ["--health-timeout", "1s"],
        ["--health-retries", "1"],
        ["--health-start-period", "1s"],
        ["--health-start-interval", "1s"],
    ] {
        assert_eq!(
            create_spec_json(&["--no-healthcheck", flag[0], flag[1]])
                .unwrap_err()
                .to_string(),
            "--no-healthcheck conflicts with --health-* options",
            "{flag:?}"
        );
    }
    let spec = create_spec_json(&["--health-cmd", ""]).unwrap();
    assert!(
        spec["TaskTemplate"]["ContainerSpec"]
            .get("HealthCheck")
            .is_none()
    );
    let e = parse_err(&["create", "--health-interval", "-1s", "x"]);
    assert!(e.contains("duration cannot be negative"), "{e}");

    // Update: only the flags given change; a NONE test is dropped; an empty command removes it.
    let spec = json!({"Name": "web", "Mode": {"Replicated": {"Replicas": 1}},
        "TaskTemplate": {"ContainerSpec": {"Image": "app:1",
            "HealthCheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5, "Retries": 2}}}});
    let hc = |v: Value| v["TaskTemplate"]["ContainerSpec"]["HealthCheck"].clone();
    assert_eq!(
        hc(updated(
            &spec,
            &["--health-retries", "4", "--health-start-interval", "2s"]
        )
        .unwrap()),
        json!({"Test": ["CMD-SHELL", "true"], "Interval": 5, "Retries": 4,
            "StartInterval": 2_000_000_000})
    );
    assert_eq!(
        hc(updated(&spec, &["--health-cmd", ""]).unwrap()),
        json!({"Interval": 5, "Retries": 2})
    );
    let none = updated(&spec, &["--no-healthcheck"]).unwrap();
    assert_eq!(hc(none.clone()), json!({"Test": ["NONE"]}));
    assert_eq!(
        hc(updated(&none, &["--health-timeout", "3s"]).unwrap()),
        json!({"Timeout": 3_000_000_000i64})
    );
    assert_eq!(
        updated(&spec, &["--no-healthcheck", "--health-cmd", "x"])
            .unwrap_err()
            .to_string(),
        "--no-healthcheck conflicts with --health-* options"
    );
}

#[test]
fn pause_after_sets_the_canary_label_and_continue_posts_the_spec_unchanged() {
    let spec = json!({"Name": "web", "Labels": {"tier": "front"},
        "Mode": {"Replicated": {"Replicas": 4}},
        "TaskTemplate": {"ContainerSpec": {"Image": "app:1"}}});
    let v = updated(&spec, &["--update-pause-after", "2", "--image", "app:2"]).unwrap();
    assert_eq!(
        v["Labels"],
        json!({"tier": "front", "shoal.update.pause-after": "2"})
    );
    assert_eq!(v["TaskTemplate"]["ContainerSpec"]["Image"], "app:2");
    let v = updated(&v, &["--update-pause-after", "0"]).unwrap();
    assert_eq!(v["Labels"], json!({"tier": "front"}));
    assert_eq!(
        updated(&spec, &["--rollback", "--update-pause-after", "1"])
            .unwrap_err()
            .to_string(),
        "other flags may not be combined with --rollback"
    );

    assert_eq!(updated(&spec, &["--continue"]).unwrap(), spec);
    assert_eq!(updated(&spec, &["--continue", "-d", "-q"]).unwrap(), spec);
    for other in [
        &["--image", "x"][..],
        &["--rollback"],
        &["--update-pause-after", "1"],
    ] {
        let mut args = vec!["--continue"];
        args.extend_from_slice(other);
        assert_eq!(
            updated(&spec, &args).unwrap_err().to_string(),
            "other flags may not be combined with --continue",
            "{other:?}"
        );
    }
}

#[test]
fn rollback_takes_one_service_and_docker_s_flags() {
    let ServiceCmd::Rollback(a) = parse(&["rollback", "-d", "-q", "web"]) else {
        panic!("rollback")
    };
    assert!(a.detach && a.quiet);
    assert_eq!(a.service, "web");
    let ServiceCmd::Rollback(a) = parse(&["rollback", "web"]) else {
        panic!("rollback")
    };
    assert!(!a.detach && !a.quiet);
    assert!(Cli::try_parse_from(["service", "rollback"]).is_err());
    assert!(Cli::try_parse_from(["service", "rollback", "a", "b"]).is_err());
    assert!(Cli::try_parse_from(["service", "rollback", "--image", "x", "a"]).is_err());
}
