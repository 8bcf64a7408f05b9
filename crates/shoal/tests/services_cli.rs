//! `shoal service …` and the stock `docker service …` against a real daemon. Convergence
//! needs the orchestrator and agents, so commands run detached here; the progress display
//! is tested over canned API answers in shoal-cli.

use shoal_testkit::{Daemon, success as ok};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn cells(line: &str) -> Vec<&str> {
    line.split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn shoal_service_commands() {
    let d = Daemon::start(BIN, &[]).unwrap();
    d.init_swarm();
    let id = ok(d.shoal(&[
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        "3",
        "-p",
        "8080:80",
        "-e",
        "A=1",
        "--label",
        "tier=front",
        "--restart-condition",
        "on-failure",
        "nginx:1.27",
    ]));
    let id = id.trim();
    assert_eq!(id.len(), 25, "{id}");

    let ls = ok(d.shoal(&["service", "ls"]));
    let rows: Vec<&str> = ls.lines().collect();
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]
    );
    let row = cells(rows[1]);
    assert_eq!(row[0], &id[..12]);
    assert_eq!(&row[1..3], ["web", "replicated"]);
    assert!(row[3].ends_with("/3"), "{ls}");
    assert_eq!(&row[4..], ["nginx:1.27", "*:8080->80/tcp"]);
    assert_eq!(
        rows[0].find("NAME"),
        rows[1].find("web"),
        "tabwriter columns"
    );
    assert_eq!(ok(d.shoal(&["service", "ls", "-q"])).trim(), &id[..12]);
    let named = ok(d.shoal(&["service", "ls", "--filter", "name=nope"]));
    assert_eq!(named.lines().count(), 1, "{named}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(d.shoal(&["service", "inspect", "web"]))).unwrap();
    assert_eq!(json[0]["ID"], id);
    assert_eq!(
        json[0]["Spec"]["UpdateConfig"]["Parallelism"], 1,
        "inspect inserts defaults"
    );
    let pretty = ok(d.shoal(&["service", "inspect", "--pretty", "web"]));
    for want in [
        "\nName:\t\tweb\n",
        " tier=front\n",
        "Service Mode:\tReplicated\n Replicas:\t3\n",
        " Env:\t\tA=1 \n",
    ] {
        assert!(pretty.contains(want), "missing {want:?} in {pretty}");
    }
    assert_eq!(
        ok(d.shoal(&["service", "inspect", "--format", "{{.Spec.Name}}", id])).trim(),
        "web"
    );

    assert_eq!(
        ok(d.shoal(&[
            "service",
            "update",
            "-d",
            "--env-add",
            "B=2",
            "--image",
            "nginx:1.28",
            "web"
        ]))
        .trim(),
        "web"
    );
    let env = ok(d.shoal(&[
        "service",
        "inspect",
        "--format",
        "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
        "web",
    ]));
    assert_eq!(env.trim(), r#"["A=1","B=2"]"#);
    assert_eq!(
        ok(d.shoal(&["service", "scale", "-d", "web=5"])).trim(),
        "web scaled to 5"
    );
    let replicas = ok(d.shoal(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.Mode.Replicated.Replicas}}",
        "web",
    ]));
    assert_eq!(replicas.trim(), "5");
    ok(d.shoal(&["service", "update", "-d", "--rollback", "web"]));
    let replicas = ok(d.shoal(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.Mode.Replicated.Replicas}}",
        "web",
    ]));
    assert_eq!(
        replicas.trim(),
        "3",
        "rolled back to the spec before the scale"
    );

    let ps = ok(d.shoal(&["service", "ps", "web"]));
    assert_eq!(
        ps.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        "ID NAME IMAGE NODE DESIRED STATE CURRENT STATE ERROR PORTS"
    );

    // Docker's refusals, client side and daemon side.
    let bad = d.shoal(&["service", "create", "-d", "--name", "bad.name", "nginx"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        stderr(&bad).trim(),
        "Error response from daemon: rpc error: code = InvalidArgument desc = name must be valid as a DNS name component"
    );
    let dup = d.shoal(&["service", "create", "-d", "--name", "web", "nginx"]);
    assert!(
        stderr(&dup).contains("name conflicts with an existing object: service web already exists")
    );
    let global = d.shoal(&[
        "service",
        "create",
        "--mode",
        "global",
        "--replicas",
        "2",
        "nginx",
    ]);
    assert_eq!(
        stderr(&global).trim(),
        "replicas can only be used with replicated or replicated-job mode"
    );
    let scale = d.shoal(&["service", "scale", "web"]);
    assert!(
        stderr(&scale).starts_with("invalid scale specifier 'web'."),
        "{}",
        stderr(&scale)
    );
    let scale = d.shoal(&["service", "scale", "-d", "nosuch=2"]);
    assert_eq!(
        stderr(&scale).trim(),
        "nosuch: Error response from daemon: service nosuch not found"
    );
    let missing = d.shoal(&["service", "inspect", "nosuch"]);
    assert_eq!(String::from_utf8_lossy(&missing.stdout), "[]\n");
    assert_eq!(stderr(&missing).trim(), "Error: no such service: nosuch");
    let ps = d.shoal(&["service", "ps", "nosuch"]);
    assert_eq!(stderr(&ps).trim(), "no such service: nosuch");

    assert_eq!(ok(d.shoal(&["service", "rm", "web"])).trim(), "web");
    let rm = d.shoal(&["service", "rm", "web"]);
    assert_eq!(
        stderr(&rm).trim(),
        "Error response from daemon: service web not found"
    );
    assert_eq!(ok(d.shoal(&["service", "ls"])).lines().count(), 1);
}

#[test]
fn docker_cli_service_commands() {
    let d = Daemon::start(BIN, &[]).unwrap();
    d.init_swarm();
    let created = ok(d.docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        "web",
        "--replicas",
        "3",
        "-p",
        "8080:80",
        "--env",
        "X=1",
        "busybox:1.36",
        "sleep",
        "3600",
    ]));
    let id = created.trim().to_string();
    assert_eq!(id.len(), 25, "{created}");

    let ls = ok(d.docker(&["service", "ls"]));
    let rows: Vec<&str> = ls.lines().collect();
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]
    );
    let row = cells(rows[1]);
    assert_eq!(&row[..3], [&id[..12], "web", "replicated"]);
    assert!(row[3].ends_with("/3"), "{ls}");
    assert_eq!(&row[4..], ["busybox:1.36", "*:8080->80/tcp"]);

    let inspect: serde_json::Value =
        serde_json::from_str(&ok(d.docker(&["service", "inspect", "web"]))).unwrap();
    assert_eq!(inspect[0]["ID"], id.as_str());
    assert_eq!(
        inspect[0]["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"],
        serde_json::json!(["sleep", "3600"])
    );
    let pretty = ok(d.docker(&["service", "inspect", "--pretty", "web"]));
    assert!(
        pretty.contains("Service Mode:\tReplicated\n Replicas:\t3"),
        "{pretty}"
    );

    assert_eq!(
        ok(d.docker(&["service", "update", "--detach", "--env-add", "A=1", "web"])).trim(),
        "web"
    );
    let env = ok(d.docker(&[
        "service",
        "inspect",
        "--format",
        "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
        "web",
    ]));
    let env: Vec<String> = serde_json::from_str(env.trim()).unwrap();
    assert!(
        env.contains(&"A=1".to_string()) && env.contains(&"X=1".to_string()),
        "{env:?}"
    );
    let prev = ok(d.docker(&[
        "service",
        "inspect",
        "--format",
        "{{json .PreviousSpec.TaskTemplate.ContainerSpec.Env}}",
        "web",
    ]));
    assert_eq!(prev.trim(), r#"["X=1"]"#);

    // The managers write the service's UpdateStatus as the detached update rolls on (as
    // swarmkit's updater does), and the docker CLI does not retry a write that raced one
    // ("update out of sequence", against Swarm too): let the update settle first. Its tasks
    // never run here (the image is not on the engine), so it settles paused.
    shoal_testkit::wait_for(
        "the env update settled",
        std::time::Duration::from_secs(60),
        || {
            let state = ok(d.docker(&[
                "service",
                "inspect",
                "--format",
                "{{.UpdateStatus.State}}",
                "web",
            ]));
            matches!(state.trim(), "paused" | "completed").then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    assert_eq!(
        ok(d.docker(&["service", "scale", "--detach", "web=5"])).trim(),
        "web scaled to 5"
    );
    let replicas = ok(d.docker(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.Mode.Replicated.Replicas}}",
        "web",
    ]));
    assert_eq!(replicas.trim(), "5");

    let ps = ok(d.docker(&["service", "ps", "web"]));
    assert!(ps.starts_with("ID "), "{ps}");

    let dup = d.docker(&["service", "create", "--detach", "--name", "web", "busybox"]);
    assert!(!dup.status.success());
    assert!(
        stderr(&dup).contains(
            "Error response from daemon: rpc error: code = AlreadyExists desc = name conflicts with an existing object: service web already exists"
        ),
        "{}",
        stderr(&dup)
    );
    let bad = d.docker(&["service", "create", "--detach", "--name", "web_", "busybox"]);
    assert!(
        stderr(&bad).contains("name must be valid as a DNS name component"),
        "{}",
        stderr(&bad)
    );
    let missing = d.docker(&["service", "inspect", "nosuch"]);
    assert!(
        stderr(&missing).contains("no such service: nosuch"),
        "{}",
        stderr(&missing)
    );

    assert_eq!(ok(d.docker(&["service", "rm", "web"])).trim(), "web");
    assert_eq!(ok(d.docker(&["service", "ls"])).lines().count(), 1);
}

/// A canned Engine API on a unix socket: `answer(method, path)` gives status and JSON body.
fn fake_engine(
    sock: std::path::PathBuf,
    answer: impl Fn(&str, &str) -> (u16, String) + Send + 'static,
) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
            );
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let (status, text) = answer(&method, &path);
            let resp = format!(
                "HTTP/1.1 {status} X\r\nApi-Version: 1.47\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = stream.write_all(resp.as_bytes());
        }
    });
}

fn canned_service(replicas: u64) -> String {
    serde_json::json!({"ID": "svc1", "Version": {"Index": 7}, "Spec": {"Name": "web",
        "Mode": {"Replicated": {"Replicas": replicas}}, "UpdateConfig": {"Monitor": 1_000_000_000u64},
        "TaskTemplate": {"ContainerSpec": {"Image": "nginx"}}}})
    .to_string()
}

fn canned_task(id: &str, slot: u64, state: &str, desired: &str, err: &str) -> serde_json::Value {
    serde_json::json!({"ID": id, "ServiceID": "svc1", "Slot": slot, "NodeID": "node1",
        "DesiredState": desired, "Status": {"State": state, "Err": err}})
}

fn shoal_at(sock: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .env("SHOAL_HOST", format!("unix://{}", sock.display()))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn update_shows_docker_s_progress_until_converged() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("engine.sock");
    fake_engine(sock.clone(), |method, path| {
        match (method, path.split('?').next().unwrap()) {
            ("HEAD", "/_ping") => (200, String::new()),
            ("GET", "/v1.47/services/web") => (200, canned_service(2)),
            ("POST", "/v1.47/services/svc1/update") => (200, "{}".into()),
            ("GET", "/v1.47/tasks") => {
                assert!(path.contains("_up-to-date"), "{path}");
                let tasks = [
                    canned_task("t1", 1, "running", "running", ""),
                    canned_task("t2", 2, "running", "running", ""),
                ];
                (200, serde_json::json!(tasks).to_string())
            }
            ("GET", "/v1.47/nodes") => {
                (200, r#"[{"ID":"node1","Status":{"State":"ready"}}]"#.into())
            }
            _ => (404, r#"{"message":"page not found"}"#.into()),
        }
    });
    let start = std::time::Instant::now();
    let out = ok(shoal_at(
        &sock,
        &["service", "update", "--env-add", "A=1", "web"],
    ));
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(1),
        "waited the monitor period"
    );
    assert_eq!(
        out,
        "web\noverall progress: 0 out of 2 tasks\n1/2:  \n2/2:  \noverall progress: 2 out of 2 tasks\n\
         verify: Waiting 1 seconds to verify that tasks are stable...\nverify: Service web converged\n"
    );
}

#[test]
fn create_gives_up_with_the_task_error_when_tasks_keep_failing() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("engine.sock");
    fake_engine(sock.clone(), |method, path| {
        match (method, path.split('?').next().unwrap()) {
            ("HEAD", "/_ping") => (200, String::new()),
            ("POST", "/v1.47/services/create") => (201, r#"{"ID":"svc1","Warnings":null}"#.into()),
            ("GET", "/v1.47/services/svc1") => (200, canned_service(1)),
            ("GET", "/v1.47/tasks") => {
                let err = "task: non-zero exit (1)";
                let tasks = [
                    canned_task("t1", 1, "failed", "shutdown", err),
                    canned_task("t2", 1, "failed", "shutdown", err),
                    canned_task("t3", 1, "failed", "shutdown", err),
                    canned_task("t4", 1, "pending", "running", ""),
                ];
                (200, serde_json::json!(tasks).to_string())
            }
            ("GET", "/v1.47/nodes") => {
                (200, r#"[{"ID":"node1","Status":{"State":"ready"}}]"#.into())
            }
            _ => (404, r#"{"message":"page not found"}"#.into()),
        }
    });
    let out = shoal_at(&sock, &["service", "create", "--name", "web", "nginx"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "1/1: task: non-zero exit (1)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "svc1\noverall progress: 0 out of 1 tasks\n1/1:  \n"
    );
}

/// The docker CLI's own convergence display against a swarm that really converges (process
/// driver): create, scale and update without `--detach`.
#[test]
fn docker_cli_waits_for_convergence() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_shoal"), &["--driver", "process"]).unwrap();
    d.init_swarm();
    let created = ok(d.docker(&[
        "service",
        "create",
        "--name",
        "conv",
        "--replicas",
        "2",
        "--restart-delay",
        "1s",
        "busybox",
        "/bin/sh",
        "-c",
        "exec sleep 3600",
    ]));
    assert!(
        created.contains("overall progress: 2 out of 2 tasks"),
        "{created}"
    );
    // docker names the service by the ID it got back.
    let id = created.lines().next().unwrap().trim();
    assert!(
        created.contains(&format!("verify: Service {id} converged")),
        "{created}"
    );
    let scaled = ok(d.docker(&["service", "scale", "conv=3"]));
    assert!(
        scaled.contains("overall progress: 3 out of 3 tasks"),
        "{scaled}"
    );
    let updated = ok(d.docker(&["service", "update", "--env-add", "B=2", "conv"]));
    assert!(
        updated.contains("verify: Service conv converged"),
        "{updated}"
    );
    assert!(
        updated
            .lines()
            .any(|l| l.starts_with("overall progress: 3 out of 3 tasks")),
        "{updated}"
    );
    let ps = ok(d.docker(&["service", "ps", "conv"]));
    assert_eq!(
        ps.lines()
            .filter(|l| l.contains("Running") && !l.contains("\\_"))
            .count(),
        3,
        "{ps}"
    );
    assert_eq!(ok(d.docker(&["service", "rm", "conv"])).trim(), "conv");
}

/// `docker service logs` gets each task's lines, labelled by the CLI from the details shoal
/// sends, stdout and stderr on their own streams.
#[test]
fn docker_cli_service_logs() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_shoal"), &["--driver", "process"]).unwrap();
    d.init_swarm();
    ok(d.docker(&[
        "service",
        "create",
        "--name",
        "lg",
        "--replicas",
        "2",
        "busybox",
        "/bin/sh",
        "-c",
        "echo out-line; echo err-line >&2; exec sleep 3600",
    ]));
    let logs = shoal_testkit::wait_for(
        "both tasks' lines",
        std::time::Duration::from_secs(20),
        || {
            let out = d.docker(&["service", "logs", "lg"]);
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            (out.status.success() && stdout.matches("out-line").count() == 2).then_some(out)
        },
    )
    .unwrap();
    let stdout = String::from_utf8_lossy(&logs.stdout);
    let stderr = String::from_utf8_lossy(&logs.stderr);
    for line in stdout.lines() {
        // `lg.<slot>.<task id prefix>@<hostname>    | out-line`
        let (label, msg) = line.split_once(" | ").unwrap_or_else(|| panic!("{line}"));
        assert!(
            label.trim_end().starts_with("lg.") && label.contains('@'),
            "{line}"
        );
        assert_eq!(msg, "out-line");
    }
    assert_eq!(stderr.matches("err-line").count(), 2, "{stderr}");
    let tail = ok(d.docker(&["service", "logs", "--tail", "0", "lg"]));
    assert!(tail.trim().is_empty(), "{tail}");
    // shoal's own CLI prints the same lines the same way.
    let ours = d.shoal(&["service", "logs", "lg"]);
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let mut a: Vec<String> = stdout.lines().map(String::from).collect();
    let mut b: Vec<String> = String::from_utf8_lossy(&ours.stdout)
        .lines()
        .map(String::from)
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr)
            .matches("err-line")
            .count(),
        2
    );
    ok(d.docker(&["service", "rm", "lg"]));
}
