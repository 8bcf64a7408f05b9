//! Secrets and configs through the API, the stock docker CLI and shoal's CLI: Docker's rules
//! and texts (names, sizes, duplicates, labels-only updates, removal while in use), secret data
//! never returned, config data returned, and service references resolved and checked.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use shoal_testkit::{Daemon, success};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");

fn swarm() -> Daemon {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    d
}

fn fails(out: std::process::Output) -> String {
    assert!(!out.status.success(), "expected a failure: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `docker secret create NAME -` with `data` on stdin.
fn docker_stdin(d: &Daemon, args: &[&str], data: &[u8]) -> std::process::Output {
    let mut child = Command::new("docker")
        .env("DOCKER_HOST", d.host())
        .env_remove("DOCKER_CONTEXT")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker CLI");
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_docker_cli_manages_secrets_and_configs_with_dockers_rules() {
    let d = swarm();
    let id = success(docker_stdin(
        &d,
        &["secret", "create", "db_pass", "-"],
        b"hunter2",
    ));
    let id = id.trim().to_string();
    assert_eq!(id.len(), 25, "{id}");
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, "listen 80;\n").unwrap();
    success(d.docker(&["config", "create", "nginx_conf", conf.to_str().unwrap()]));

    let ls = success(d.docker(&["secret", "ls"]));
    let header: Vec<&str> = ls.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"],
        "{ls}"
    );
    assert!(ls.contains(&id) && ls.contains("db_pass"), "{ls}");
    let ls = success(d.docker(&["config", "ls", "--format", "{{.Name}}"]));
    assert_eq!(ls.trim(), "nginx_conf");

    // A secret's data never comes back; a config's does, as Docker shows it.
    let inspect: Value =
        serde_json::from_str(&success(d.docker(&["secret", "inspect", "db_pass"]))).unwrap();
    assert_eq!(inspect[0]["ID"], id.as_str());
    assert!(inspect[0]["Spec"].get("Data").is_none(), "{inspect}");
    let raw = d.http("GET", &format!("/secrets/{id}"), None).text();
    assert!(!raw.contains("aHVudGVyMg"), "the base64 data leaked: {raw}");
    let pretty = success(d.docker(&["config", "inspect", "--pretty", "nginx_conf"]));
    assert!(pretty.contains("Data:\nlisten 80;"), "{pretty}");

    // Docker's refusals.
    let dup = fails(docker_stdin(
        &d,
        &["secret", "create", "db_pass", "-"],
        b"x",
    ));
    assert!(
        dup.contains("rpc error: code = AlreadyExists desc = secret db_pass already exists"),
        "{dup}"
    );
    let bad = fails(docker_stdin(&d, &["secret", "create", "bad_", "-"], b"x"));
    assert!(
        bad.contains("invalid name, only 64 [a-zA-Z0-9-_.] characters allowed"),
        "{bad}"
    );
    let empty = d.http(
        "POST",
        "/secrets/create",
        Some(r#"{"Name":"empty","Data":""}"#),
    );
    assert_eq!(empty.status, 400);
    assert!(
        empty
            .text()
            .contains("secret data must be larger than 0 and less than 512000 bytes"),
        "{}",
        empty.text()
    );
    let big = base64_of(&vec![b'a'; 512_000]);
    let r = d.http(
        "POST",
        "/secrets/create",
        Some(&json!({"Name": "big", "Data": big}).to_string()),
    );
    assert_eq!(r.status, 400, "{}", r.text());

    // Labels may change; the data may not.
    let version = inspect[0]["Version"]["Index"].as_u64().unwrap();
    let r = d.http(
        "POST",
        &format!("/secrets/{id}/update?version={version}"),
        Some(r#"{"Name":"db_pass","Labels":{"tier":"db"}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let version = d.http("GET", &format!("/secrets/{id}"), None).json()["Version"]["Index"]
        .as_u64()
        .unwrap();
    let r = d.http(
        "POST",
        &format!("/secrets/{id}/update?version={version}"),
        Some(r#"{"Name":"renamed","Labels":{"tier":"db"}}"#),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("only updates to Labels are allowed"),
        "{}",
        r.text()
    );
    let labelled = success(d.docker(&["secret", "ls", "--filter", "label=tier=db", "-q"]));
    assert_eq!(labelled.trim(), id);

    // Services refer to them; while one does, neither can be removed.
    success(d.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--secret",
        "db_pass",
        "--config",
        "source=nginx_conf,target=/etc/nginx.conf,mode=0440",
        "busybox",
        "sleep",
        "600",
    ]));
    let refs: Value = serde_json::from_str(&success(d.docker(&[
        "service",
        "inspect",
        "web",
        "--format",
        "{{json .Spec.TaskTemplate.ContainerSpec}}",
    ])))
    .unwrap();
    assert_eq!(refs["Secrets"][0]["SecretID"], id.as_str());
    assert_eq!(refs["Secrets"][0]["File"]["Name"], "db_pass");
    assert_eq!(refs["Configs"][0]["File"]["Name"], "/etc/nginx.conf");
    assert_eq!(refs["Configs"][0]["File"]["Mode"], 0o440);
    let in_use = fails(d.docker(&["secret", "rm", "db_pass"]));
    assert!(
        in_use.contains(
            "rpc error: code = InvalidArgument desc = secret 'db_pass' is in use by the \
             following service: web"
        ),
        "{in_use}"
    );
    let in_use = fails(d.docker(&["config", "rm", "nginx_conf"]));
    assert!(
        in_use.contains("config 'nginx_conf' is in use by the following service: web"),
        "{in_use}"
    );
    success(d.docker(&["service", "update", "-d", "--secret-rm", "db_pass", "web"]));
    assert_eq!(
        success(d.docker(&["secret", "rm", "db_pass"])).trim(),
        "db_pass"
    );
    let gone = fails(d.docker(&["secret", "inspect", "db_pass"]));
    assert!(gone.contains("db_pass"), "{gone}");
    success(d.docker(&["service", "rm", "web"]));
    success(d.docker(&["config", "rm", "nginx_conf"]));
    assert_eq!(success(d.docker(&["config", "ls", "-q"])).trim(), "");
}

fn base64_of(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn shoals_cli_creates_lists_and_references_them() {
    let d = swarm();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(&file, "s3cr3t").unwrap();
    success(d.shoal(&[
        "secret",
        "create",
        "-l",
        "app=web",
        "api_key",
        file.to_str().unwrap(),
    ]));
    success(d.shoal(&["config", "create", "app_conf", file.to_str().unwrap()]));
    let ls = success(d.shoal(&["secret", "ls"]));
    assert!(ls.starts_with("ID "), "{ls}");
    assert!(ls.contains("api_key"), "{ls}");
    let pretty = success(d.shoal(&["secret", "inspect", "--pretty", "api_key"]));
    assert!(pretty.contains("Name:\t\t\tapi_key"), "{pretty}");
    assert!(pretty.contains(" - app=web"), "{pretty}");
    assert!(!pretty.contains("s3cr3t"), "{pretty}");
    // A reference to a missing secret is refused by the CLI, as docker's is.
    let missing = fails(d.shoal(&["service", "create", "-d", "--secret", "nosuch", "busybox"]));
    assert!(missing.contains("secret not found: nosuch"), "{missing}");
    // And by the API, for clients that send IDs directly.
    let spec = json!({"Name": "raw", "TaskTemplate": {"ContainerSpec": {"Image": "busybox",
        "Secrets": [{"SecretID": "nope", "SecretName": "ghost",
                     "File": {"Name": "ghost", "UID": "0", "GID": "0", "Mode": 292}}]}}});
    let r = d.http("POST", "/services/create", Some(&spec.to_string()));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .contains("rpc error: code = InvalidArgument desc = secret not found: ghost"),
        "{}",
        r.text()
    );
    success(d.shoal(&[
        "service", "create", "-d", "--name", "app", "--secret", "api_key", "--config", "app_conf",
        "busybox", "sleep", "600",
    ]));
    let rm = fails(d.shoal(&["secret", "rm", "api_key"]));
    assert!(
        rm.contains("is in use by the following service: app"),
        "{rm}"
    );
    success(d.shoal(&["service", "update", "-d", "--secret-rm", "api_key", "app"]));
    success(d.shoal(&["secret", "rm", "api_key"]));
}

/// Every regular file under `dir` on the same filesystem (tmpfs mounts inside are skipped:
/// they are memory, which is where secrets belong) that contains `marker`, as it is or
/// base64-encoded (as the API carries it) at any alignment.
fn on_disk_with(dir: &std::path::Path, marker: &str) -> Vec<String> {
    let mut needles = vec![marker.to_string()];
    for pad in 0..3 {
        let mut bytes = vec![b'x'; pad];
        bytes.extend_from_slice(marker.as_bytes());
        let encoded = base64_of(&bytes);
        needles.push(encoded[4..encoded.len() - 4].to_string());
    }
    let patterns: String = needles.iter().map(|n| format!(" -e '{n}'")).collect();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "find '{}' -xdev -type f -exec grep -l -F{patterns} {{}} + 2>/dev/null",
            dir.display()
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_process_task_reads_its_secret_and_config_with_owner_and_mode_from_memory() {
    let d = swarm();
    let marker = format!("marker-{}-{}", std::process::id(), shoal_types::new_id());
    success(docker_stdin(
        &d,
        &["secret", "create", "db_pass", "-"],
        marker.as_bytes(),
    ));
    success(docker_stdin(
        &d,
        &["config", "create", "app_conf", "-"],
        b"port=8080",
    ));
    // The task proves it read the secret by its hash: printing it would put it in the log.
    let script = "sha256sum < $SHOAL_SECRETS_DIR/db; stat -c 'secret %u %g %a' $SHOAL_SECRETS_DIR/db; \
                  cat $SHOAL_FILES/etc/app.conf; echo; stat -c 'config %u %g %a' $SHOAL_FILES/etc/app.conf; \
                  exec sleep 600";
    success(d.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        "reader",
        "--secret",
        "source=db_pass,target=db,uid=33,gid=34,mode=0400",
        "--config",
        "source=app_conf,target=/etc/app.conf",
        "busybox",
        "/bin/sh",
        "-c",
        script,
    ]));
    let logs = shoal_testkit::wait_for(
        "the task's output",
        std::time::Duration::from_secs(30),
        || {
            let r = d.http("GET", "/services/reader/logs?stdout=1&stderr=1", None);
            let text = r.text();
            text.contains("config ").then_some(text)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    assert!(logs.contains(&sha256_hex(marker.as_bytes())), "{logs}");
    assert!(!logs.contains(&marker), "{logs}");
    assert!(logs.contains("secret 33 34 400"), "{logs}");
    assert!(logs.contains("port=8080"), "{logs}");
    assert!(logs.contains("config 0 0 444"), "{logs}");
    // The agent keeps the data in memory and on the task's tmpfs only.
    for sub in ["agent", "tasks"] {
        let found = on_disk_with(&d.data_dir().join(sub), &marker);
        assert!(found.is_empty(), "the secret is on disk in {found:?}");
    }
    // Nor in the managers' Raft store: its log and snapshots are sealed with the data key.
    // (The detector does find base64 data: the store test below shows it on a plain store.)
    let raft = on_disk_with(&d.data_dir(), &marker);
    assert!(raft.is_empty(), "the secret is on disk in {raft:?}");
    // Once the service is gone, so is the tmpfs.
    success(d.docker(&["service", "rm", "reader"]));
    shoal_testkit::wait_for(
        "the task's tmpfs unmounted",
        std::time::Duration::from_secs(30),
        || {
            let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
            (!mounts.contains(&d.data_dir().join("tasks").display().to_string())).then_some(())
        },
    )
    .unwrap();
}

fn sha256_hex(data: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_container_reads_its_secret_and_config_bound_from_a_tmpfs() {
    shoal_testkit::build_busybox_image("shoal-test-busybox:1").unwrap();
    let d = Daemon::start(BIN, &["--driver", "docker"]).unwrap();
    d.init_swarm();
    let marker = format!("marker-{}-{}", std::process::id(), shoal_types::new_id());
    success(docker_stdin(
        &d,
        &["secret", "create", "db_pass", "-"],
        marker.as_bytes(),
    ));
    success(docker_stdin(
        &d,
        &["config", "create", "app_conf", "-"],
        b"port=8080",
    ));
    let bb = "/bin/busybox";
    let script = format!(
        "{bb} sha256sum < /run/secrets/db; {bb} stat -c 'secret %u %g %a' /run/secrets/db; \
         {bb} cat /etc/app.conf; echo; {bb} stat -c 'config %u %g %a' /etc/app.conf; \
         exec {bb} sleep 600"
    );
    let name = format!("reader{}", std::process::id());
    success(d.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        &name,
        "--secret",
        "source=db_pass,target=db,uid=33,gid=34,mode=0400",
        "--config",
        "source=app_conf,target=/etc/app.conf",
        "shoal-test-busybox:1",
        bb,
        "sh",
        "-c",
        &script,
    ]));
    let logs = shoal_testkit::wait_for(
        "the container's output",
        std::time::Duration::from_secs(60),
        || {
            let r = d.http(
                "GET",
                &format!("/services/{name}/logs?stdout=1&stderr=1"),
                None,
            );
            let text = r.text();
            text.contains("config ").then_some(text)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    assert!(logs.contains(&sha256_hex(marker.as_bytes())), "{logs}");
    assert!(logs.contains("secret 33 34 400"), "{logs}");
    assert!(logs.contains("port=8080"), "{logs}");
    assert!(logs.contains("config 0 0 444"), "{logs}");
    // Not on disk: not in the node's data dir (its Raft store is sealed), not in the engine's
    // container dir.
    let id = Command::new("docker")
        .args(["ps", "-q", "--no-trunc", "--filter"])
        .arg(format!("label=com.docker.swarm.service.name={name}"))
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
    assert!(!id.is_empty(), "the task's container");
    for dir in [
        d.data_dir(),
        std::path::PathBuf::from(format!("/var/lib/docker/containers/{id}")),
    ] {
        let found = on_disk_with(&dir, &marker);
        assert!(found.is_empty(), "the secret is on disk in {found:?}");
    }
    success(d.docker(&["service", "rm", &name]));
    let files = d.data_dir().join("docker-files").display().to_string();
    shoal_testkit::wait_for(
        "the task's tmpfs unmounted",
        std::time::Duration::from_secs(60),
        || {
            let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
            (!mounts.contains(&files)).then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
}

#[test]
fn an_autolocked_manager_stays_locked_after_a_restart_until_unlocked() {
    let mut d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    let init = success(d.docker(&[
        "swarm",
        "init",
        "--autolock",
        "--listen-addr",
        "127.0.0.1:0",
    ]));
    let key = init
        .split_whitespace()
        .find(|w| w.starts_with("SWMKEY-1-"))
        .unwrap_or_else(|| panic!("no unlock key in:\n{init}"))
        .to_string();
    assert_eq!(
        success(d.docker(&["swarm", "unlock-key", "-q"])).trim(),
        key
    );
    let marker = format!("marker-{}", shoal_types::new_id());
    success(docker_stdin(
        &d,
        &["secret", "create", "kept", "-"],
        marker.as_bytes(),
    ));
    d.restart().unwrap();
    // Locked: the swarm refuses with Docker's text; `_ping` says so.
    let r = d.http("GET", "/nodes", None);
    assert_eq!(r.status, 503);
    assert!(
        r.text()
            .contains("Swarm is encrypted and needs to be unlocked before it can be used"),
        "{}",
        r.text()
    );
    assert_eq!(
        d.http("GET", "/_ping", None).header("Swarm"),
        Some("locked")
    );
    let info = d.http("GET", "/info", None).json();
    assert_eq!(info["Swarm"]["LocalNodeState"], "locked");
    // A wrong key is refused, the right one unlocks (the docker CLI reads it from stdin).
    let wrong = shoal_store::new_unlock_key();
    let err = fails(docker_stdin(
        &d,
        &["swarm", "unlock"],
        format!("{wrong}\n").as_bytes(),
    ));
    assert!(
        err.contains("swarm could not be unlocked: invalid key provided"),
        "{err}"
    );
    success(docker_stdin(
        &d,
        &["swarm", "unlock"],
        format!("{key}\n").as_bytes(),
    ));
    let ls = success(d.docker(&["secret", "ls", "--format", "{{.Name}}"]));
    assert_eq!(ls.trim(), "kept");
    let again = fails(docker_stdin(
        &d,
        &["swarm", "unlock"],
        format!("{key}\n").as_bytes(),
    ));
    assert!(again.contains("swarm is not locked"), "{again}");
    // Rotated with shoal's CLI: the old key no longer unlocks, the new one does.
    let rotated = success(d.shoal(&["swarm", "unlock-key", "--rotate", "-q"]));
    let rotated = rotated.trim().to_string();
    assert!(
        rotated.starts_with("SWMKEY-1-") && rotated != key,
        "{rotated}"
    );
    d.restart().unwrap();
    let shoal_unlock = |k: &str| {
        let mut child = Command::new(BIN)
            .env("SHOAL_HOST", d.host())
            .args(["swarm", "unlock"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{k}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let old = fails(shoal_unlock(&key));
    assert!(old.contains("invalid key provided"), "{old}");
    success(shoal_unlock(&rotated));
    assert_eq!(d.http("GET", "/nodes", None).status, 200);
    // Autolock off: the next restart needs no key.
    success(d.docker(&["swarm", "update", "--autolock=false"]));
    d.restart().unwrap();
    assert_eq!(d.http("GET", "/nodes", None).status, 200);
    // Sealed or not, the store key file never holds the secret.
    assert!(on_disk_with(&d.data_dir(), &marker).is_empty());
}

#[test]
fn a_secret_update_rolls_the_service_that_uses_it_to_the_new_version() {
    let d = swarm();
    let dir = tempfile::tempdir().unwrap();
    let (v1, v2) = (dir.path().join("v1"), dir.path().join("v2"));
    std::fs::write(&v1, "first-value").unwrap();
    std::fs::write(&v2, "second-value").unwrap();
    success(d.shoal(&["secret", "create", "api_key", v1.to_str().unwrap()]));
    let script = "sha256sum < $SHOAL_SECRETS_DIR/api_key; exec sleep 600";
    success(d.shoal(&[
        "service", "create", "-d", "--name", "app", "--secret", "api_key", "busybox", "/bin/sh",
        "-c", script,
    ]));
    let logs = |d: &Daemon| d.http("GET", "/services/app/logs?stdout=1", None).text();
    let (h1, h2) = (sha256_hex(b"first-value"), sha256_hex(b"second-value"));
    shoal_testkit::wait_for(
        "the first value",
        std::time::Duration::from_secs(30),
        || logs(&d).contains(&h1).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    success(d.shoal(&["secret", "update", "api_key", v2.to_str().unwrap()]));
    // The service rolls: a new task reads the new value; one task runs in the end.
    shoal_testkit::wait_for("the new value", std::time::Duration::from_secs(30), || {
        let running: Vec<Value> = match d.http("GET", "/tasks", None).json() {
            Value::Array(a) => a,
            _ => return None,
        };
        let running = running
            .iter()
            .filter(|t| t["Status"]["State"] == "running" && t["DesiredState"] == "running")
            .count();
        (logs(&d).contains(&h2) && running == 1).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    // The replaced task is still in the history, but its secrets are gone: only the running
    // task's tmpfs is mounted.
    let tasks_dir = d.data_dir().join("tasks").display().to_string();
    shoal_testkit::wait_for("one tmpfs left", std::time::Duration::from_secs(30), || {
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        (mounts.matches(&tasks_dir).count() == 1).then_some(())
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}",
            std::fs::read_to_string("/proc/self/mounts").unwrap()
        )
    });
    let inspect: Value =
        serde_json::from_str(&success(d.docker(&["secret", "inspect", "api_key"]))).unwrap();
    let versions: Vec<u64> = inspect[0]["ShoalVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1], "{inspect}");
    assert!(
        !inspect.to_string().contains("Zmlyc3Q"),
        "no version's data is shown"
    );
}
