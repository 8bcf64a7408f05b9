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
