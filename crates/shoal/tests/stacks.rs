//! `docker stack deploy` with the stock docker CLI against shoal: the CLI reads the compose
//! file and drives the API (networks, secrets, configs, services), and `stack ls / services /
//! ps / rm` read back what it made. The stack: web (with a config and a secret), api, and a
//! reverse proxy with its own config. Redeploying a changed `file:` config rolls its service
//! (beyond Swarm, which refuses with "only updates to Labels are allowed"). Beyond docker,
//! shoal's `stack deploy` waits for a `depends_on` dependency with `condition:
//! service_healthy` to be healthy before creating its dependant, and fails past a bound.

use std::time::Duration;

use shoal_testkit::{Daemon, success, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");

const COMPOSE: &str = r#"
version: "3.8"
services:
  web:
    image: busybox
    command: ["/bin/sh", "-c", "cat $$SHOAL_FILES/app.conf; echo; exec sleep 600"]
    deploy:
      replicas: 2
    configs:
      - source: appconf
        target: /app.conf
    secrets:
      - db_pass
  api:
    image: busybox
    command: ["sleep", "600"]
    restart: always
  proxy:
    image: busybox
    command: ["/bin/sh", "-c", "cat $$SHOAL_FILES/etc/proxy.conf; echo; exec sleep 600"]
    depends_on: [web, api]
    configs:
      - source: proxyconf
        target: /etc/proxy.conf
configs:
  appconf:
    file: ./app.conf
  proxyconf:
    file: ./proxy.conf
secrets:
  db_pass:
    file: ./db_pass.txt
"#;

#[test]
fn docker_stack_deploy_ls_services_ps_rm_and_a_changed_config_rolls() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), COMPOSE).unwrap();
    std::fs::write(dir.path().join("app.conf"), "version-one").unwrap();
    std::fs::write(dir.path().join("proxy.conf"), "upstream web").unwrap();
    std::fs::write(dir.path().join("db_pass.txt"), "s3cret").unwrap();
    let file = dir.path().join("docker-compose.yml");
    let deploy = || d.docker(&["stack", "deploy", "-c", file.to_str().unwrap(), "app"]);
    let out = deploy();
    let stdout = success(out.clone());
    for line in [
        "Creating network app_default",
        "Creating secret app_db_pass",
        "Creating config app_appconf",
        "Creating service app_web",
        "Creating service app_api",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Ignoring unsupported options: restart"),
        "{out:?}"
    );
    let ls = success(d.docker(&["stack", "ls"]));
    assert!(
        ls.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["app", "3"]),
        "{ls}"
    );
    wait_for("4 tasks running", Duration::from_secs(30), || {
        let services = success(d.docker(&[
            "stack",
            "services",
            "app",
            "--format",
            "{{.Name}} {{.Replicas}}",
        ]));
        (services.contains("app_web 2/2")
            && services.contains("app_api 1/1")
            && services.contains("app_proxy 1/1"))
        .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    let ps = success(d.docker(&["stack", "ps", "app", "--format", "{{.Name}}"]));
    assert_eq!(ps.lines().count(), 4, "{ps}");
    wait_for(
        "the proxy reads its config",
        Duration::from_secs(30),
        || {
            let proxy = d
                .http("GET", "/services/app_proxy/logs?stdout=1", None)
                .text();
            proxy.contains("upstream web").then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    let logs = |d: &Daemon| {
        d.http("GET", "/services/app_web/logs?stdout=1", None)
            .text()
    };
    wait_for("the config's content", Duration::from_secs(30), || {
        (logs(&d).matches("version-one").count() == 2).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));

    // Redeploying with a changed config file: a new version, and web rolls to it.
    std::fs::write(dir.path().join("app.conf"), "version-two").unwrap();
    let again = success(deploy());
    assert!(again.contains("Updating service app_web"), "{again}");
    wait_for(
        "both web tasks on the new config",
        Duration::from_secs(60),
        || (logs(&d).matches("version-two").count() == 2).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));

    let rm = success(d.docker(&["stack", "rm", "app"]));
    for line in [
        "Removing service app_web",
        "Removing secret app_db_pass",
        "Removing network app_default",
    ] {
        assert!(rm.contains(line), "missing {line:?} in:\n{rm}");
    }
    wait_for("the stack gone", Duration::from_secs(30), || {
        let ls = success(d.docker(&["stack", "ls", "--format", "{{.Name}}"]));
        let nets = success(d.docker(&["network", "ls", "--format", "{{.Name}}"]));
        (ls.trim().is_empty() && nets.trim() == "ingress").then_some(())
    })
    .unwrap();
}

#[test]
fn shoals_own_stack_deploy_ls_services_and_rm() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), COMPOSE).unwrap();
    std::fs::write(dir.path().join("app.conf"), "version-one").unwrap();
    std::fs::write(dir.path().join("proxy.conf"), "upstream web").unwrap();
    std::fs::write(dir.path().join("db_pass.txt"), "s3cret").unwrap();
    let file = dir.path().join("docker-compose.yml");
    let out = d.shoal(&["stack", "deploy", "-c", file.to_str().unwrap(), "shop"]);
    let stdout = success(out.clone());
    for line in [
        "Creating network shop_default",
        "Creating secret shop_db_pass",
        "Creating config shop_appconf",
        "Creating service shop_web",
        "Creating service shop_api",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Ignoring unsupported options: restart"),
        "{out:?}"
    );
    let ls = success(d.shoal(&["stack", "ls"]));
    assert!(
        ls.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["shop", "3"]),
        "{ls}"
    );
    wait_for("the stack's tasks running", Duration::from_secs(30), || {
        let s = success(d.shoal(&["stack", "services", "shop"]));
        (s.contains("2/2") && s.contains("1/1")).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    // The docker CLI sees the same stack.
    let ps = success(d.docker(&["stack", "ps", "shop", "--format", "{{.Name}}"]));
    assert_eq!(ps.lines().count(), 4, "{ps}");
    // A redeploy updates in place.
    let again = success(d.shoal(&["stack", "deploy", "-c", file.to_str().unwrap(), "shop"]));
    assert!(again.contains("Updating service shop_web"), "{again}");
    assert!(again.contains("Updating config shop_appconf"), "{again}");
    let rm = success(d.shoal(&["stack", "rm", "shop"]));
    assert!(rm.contains("Removing network shop_default"), "{rm}");
    let gone = d.shoal(&["stack", "rm", "shop"]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("Nothing found in stack: shop"));
}

/// A service's spec with what differs only by stack name taken out.
fn normalized(d: &Daemon, service: &str, stack: &str) -> serde_json::Value {
    let mut spec = d.http("GET", &format!("/services/{service}"), None).json()["Spec"].clone();
    let text = spec.to_string().replace(&format!("{stack}_"), "STACK_");
    spec = serde_json::from_str(&text.replace(&format!("\"{stack}\""), "\"STACK\"")).unwrap();
    // Secret and config IDs differ between the two stacks' objects by nature.
    let c = &mut spec["TaskTemplate"]["ContainerSpec"];
    for (list, id) in [("Secrets", "SecretID"), ("Configs", "ConfigID")] {
        if let Some(refs) = c[list].as_array_mut() {
            refs.iter_mut()
                .for_each(|r| r[id] = serde_json::json!("ID"));
        }
    }
    if let Some(nets) = spec["TaskTemplate"]["Networks"].as_array_mut() {
        nets.iter_mut()
            .for_each(|n| n["Target"] = serde_json::json!("NET"));
    }
    spec
}

#[test]
fn shoal_and_docker_stack_deploy_make_the_same_services_and_shoal_prunes_and_skips_unchanged() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(
        &file,
        COMPOSE.replace("replicas: 2", "replicas: ${WEB_REPLICAS}"),
    )
    .unwrap();
    std::fs::write(dir.path().join(".env"), "WEB_REPLICAS=2\n").unwrap();
    std::fs::write(dir.path().join("app.conf"), "version-one").unwrap();
    std::fs::write(dir.path().join("proxy.conf"), "upstream web").unwrap();
    std::fs::write(dir.path().join("db_pass.txt"), "s3cret").unwrap();
    let f = file.to_str().unwrap();
    success(d.shoal(&["stack", "deploy", "-c", f, "s"]));
    // docker's stack deploy reads no .env: the variable comes from its environment.
    let out = std::process::Command::new("docker")
        .env("DOCKER_HOST", d.host())
        .env("WEB_REPLICAS", "2")
        .args(["stack", "deploy", "-c", f, "k"])
        .output()
        .unwrap();
    success(out);
    for svc in ["web", "api"] {
        assert_eq!(
            normalized(&d, &format!("s_{svc}"), "s"),
            normalized(&d, &format!("k_{svc}"), "k"),
            "{svc}: shoal's and docker's stack deploy differ"
        );
    }
    assert_eq!(
        d.http("GET", "/services/s_web", None).json()["Spec"]["Mode"]["Replicated"]["Replicas"],
        2,
        "the .env beside the compose file is read"
    );
    wait_for(
        "stack ps: a header and four tasks",
        Duration::from_secs(30),
        || {
            let ps = success(d.shoal(&["stack", "ps", "s"]));
            (ps.lines().count() == 5 && ps.contains("s_web.2")).then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", success(d.shoal(&["stack", "ps", "s"]))));

    // Redeploy with one image changed: only that service changes; api keeps its tasks.
    let running_api = |d: &Daemon| -> Vec<String> {
        let path = "/tasks?filters=%7B%22service%22%3A%5B%22s_api%22%5D%7D";
        let tasks = d.http("GET", path, None).json();
        let mut ids: Vec<String> = tasks
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["DesiredState"] == "running")
            .map(|t| t["ID"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let api_before = running_api(&d);
    assert_eq!(api_before.len(), 1);
    let changed = std::fs::read_to_string(&file).unwrap().replacen(
        "image: busybox\n    command: [\"/bin/sh\"",
        "image: busybox:2\n    command: [\"/bin/sh\"",
        1,
    );
    std::fs::write(&file, changed).unwrap();
    success(d.shoal(&["stack", "deploy", "-c", f, "s"]));
    let web = d.http("GET", "/services/s_web", None).json();
    assert_eq!(
        web["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"],
        "busybox:2"
    );
    std::thread::sleep(Duration::from_millis(500)); // give a wrong restart time to show
    assert_eq!(
        running_api(&d),
        api_before,
        "an unchanged service is not restarted"
    );

    // --prune removes what the file no longer has.
    let without_api = std::fs::read_to_string(&file).unwrap();
    let cut = without_api.find("  api:").unwrap();
    let end = without_api.find("configs:\n  appconf").unwrap();
    std::fs::write(
        &file,
        format!("{}{}", &without_api[..cut], &without_api[end..]),
    )
    .unwrap();
    let pruned = success(d.shoal(&["stack", "deploy", "--prune", "-c", f, "s"]));
    assert!(pruned.contains("Removing service s_api"), "{pruned}");
    assert_eq!(d.http("GET", "/services/s_api", None).status, 404);
}

/// `web` depends on `db` being healthy; db's check passes once `marker` exists.
fn healthy_compose(marker: &std::path::Path, retries: u32) -> String {
    format!(
        r#"
version: "3.8"
services:
  db:
    image: busybox
    command: ["sleep", "600"]
    healthcheck:
      test: ["CMD-SHELL", "test -f {}"]
      interval: 200ms
      retries: {retries}
  web:
    image: busybox
    command: ["sleep", "600"]
    depends_on:
      db:
        condition: service_healthy
"#,
        marker.display()
    )
}

#[test]
fn shoal_stack_deploy_waits_for_a_service_healthy_dependency() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("db-ready");
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, healthy_compose(&marker, 1000)).unwrap();
    let deploy = std::process::Command::new(BIN)
        .env("SHOAL_HOST", d.host())
        .env("SHOAL_STACK_HEALTHY_TIMEOUT", "60s")
        .args(["stack", "deploy", "-c", file.to_str().unwrap(), "h"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("db created", Duration::from_secs(30), || {
        (d.http("GET", "/services/h_db", None).status == 200).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    // Its task starts but does not pass its check: web waits.
    wait_for("db's task starting", Duration::from_secs(30), || {
        let tasks = d.http("GET", "/tasks", None).json();
        tasks
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["Status"]["State"] == "starting")
            .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    std::thread::sleep(Duration::from_secs(2));
    let names: Vec<String> = d
        .http("GET", "/services", None)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Spec"]["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["h_db"], "web waits for db to be healthy");
    std::fs::write(&marker, "").unwrap();
    let out = deploy.wait_with_output().unwrap();
    let stdout = success(out);
    let lines: Vec<&str> = stdout.lines().collect();
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("missing {line:?} in:\n{stdout}"))
    };
    assert!(
        at("Creating service h_db")
            < at("Waiting for service h_db to be healthy (h_web depends on it)...")
    );
    assert!(
        at("Waiting for service h_db to be healthy (h_web depends on it)...")
            < at("Creating service h_web")
    );
    assert_eq!(d.http("GET", "/services/h_web", None).status, 200);
    // Healthy already: a redeploy does not wait, nor say it does.
    let again = success(d.shoal(&["stack", "deploy", "-c", file.to_str().unwrap(), "h"]));
    assert!(again.contains("Updating service h_web"), "{again}");
    assert!(!again.contains("Waiting for"), "{again}");
}

#[test]
fn shoal_stack_deploy_fails_when_a_service_healthy_dependency_stays_unhealthy() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, healthy_compose(&dir.path().join("never"), 1)).unwrap();
    let f = file.to_str().unwrap();
    let started = std::time::Instant::now();
    let out = d.shoal(&["stack", "deploy", "--healthy-timeout", "3s", "-c", f, "u"]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{out:?}");
    assert!(
        stderr.contains(
            "service u_db did not become healthy within 3s (u_web depends on it with condition \
             service_healthy): 0 of 1 tasks running"
        ),
        "{stderr}"
    );
    // It says what the tasks do: one starting on its check, or the last one's error.
    assert!(
        stderr.contains("u_db.1 starting (health check)") || stderr.contains("last task error:"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(d.http("GET", "/services/u_web", None).status, 404);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Waiting for service u_db to be healthy (u_web depends on it)..."),
        "{stdout}"
    );
}

/// A stack with a network, a secret and a config, and a type error in its last service: were
/// the file checked late, those three would be created before the error.
const BAD_COMPOSE: &str = "\
version: \"3.8\"
services:
  web:
    image: busybox
    command: [\"sleep\", \"600\"]
    networks: [front]
    secrets: [db_pass]
    configs: [appconf]
  api:
    image: busybox
    deploy:
      replicas: three
networks:
  front: {}
configs:
  appconf:
    file: ./app.conf
secrets:
  db_pass:
    file: ./db_pass.txt
";

/// The names of what `GET path` lists that belong to the stack `stack` (by name or label).
fn stack_objects(d: &Daemon, path: &str, stack: &str) -> Vec<String> {
    let list = d.http("GET", path, None).json();
    let items = list.as_array().unwrap_or_else(|| panic!("{path}: {list}"));
    items
        .iter()
        .filter_map(|o| {
            let spec = if o["Spec"].is_object() { &o["Spec"] } else { o };
            let name = spec["Name"].as_str().unwrap_or_default();
            let labelled = spec["Labels"]["com.docker.stack.namespace"] == stack;
            (labelled || name.starts_with(&format!("{stack}_"))).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn shoal_stack_deploy_of_a_bad_file_names_its_line_and_creates_nothing() {
    let d = Daemon::start(BIN, &["--driver", "process"]).unwrap();
    d.init_swarm();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, BAD_COMPOSE).unwrap();
    std::fs::write(dir.path().join("app.conf"), "conf").unwrap();
    std::fs::write(dir.path().join("db_pass.txt"), "s3cret").unwrap();
    let f = file.to_str().unwrap();
    let nothing_made = |d: &Daemon| {
        for path in ["/services", "/networks", "/secrets", "/configs"] {
            let found = stack_objects(d, path, "bad");
            assert!(found.is_empty(), "{path} has {found:?}");
        }
    };

    let out = d.shoal(&["stack", "deploy", "-c", f, "bad"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{out:?}");
    assert!(
        stderr.contains(
            "docker-compose.yml:12: services.api.deploy.replicas: expected an integer, got \"three\""
        ),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "{out:?}");
    nothing_made(&d);

    // A secret's missing `file:` is found before anything is created too.
    std::fs::write(&file, BAD_COMPOSE.replace("three", "1")).unwrap();
    std::fs::remove_file(dir.path().join("db_pass.txt")).unwrap();
    let out = d.shoal(&["stack", "deploy", "-c", f, "bad"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{out:?}");
    assert!(stderr.contains("error reading content from"), "{stderr}");
    nothing_made(&d);

    // Fixed, the same file deploys, and the check above sees what a deploy makes.
    std::fs::write(dir.path().join("db_pass.txt"), "s3cret").unwrap();
    success(d.shoal(&["stack", "deploy", "-c", f, "bad"]));
    for path in ["/services", "/networks", "/secrets", "/configs"] {
        assert!(!stack_objects(&d, path, "bad").is_empty(), "{path}");
    }
}
