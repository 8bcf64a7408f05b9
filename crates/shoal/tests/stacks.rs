//! `docker stack deploy` with the stock docker CLI against shoal: the CLI reads the compose
//! file and drives the API (networks, secrets, configs, services), and `stack ls / services /
//! ps / rm` read back what it made. Redeploying a changed `file:` config rolls its service
//! (beyond Swarm, which refuses with "only updates to Labels are allowed").

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
configs:
  appconf:
    file: ./app.conf
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
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["app", "2"]),
        "{ls}"
    );
    wait_for("3 tasks running", Duration::from_secs(30), || {
        let services = success(d.docker(&[
            "stack",
            "services",
            "app",
            "--format",
            "{{.Name}} {{.Replicas}}",
        ]));
        (services.contains("app_web 2/2") && services.contains("app_api 1/1")).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    let ps = success(d.docker(&["stack", "ps", "app", "--format", "{{.Name}}"]));
    assert_eq!(ps.lines().count(), 3, "{ps}");
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
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["shop", "2"]),
        "{ls}"
    );
    wait_for("the stack's tasks running", Duration::from_secs(30), || {
        let s = success(d.shoal(&["stack", "services", "shop"]));
        (s.contains("2/2") && s.contains("1/1")).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    // The docker CLI sees the same stack.
    let ps = success(d.docker(&["stack", "ps", "shop", "--format", "{{.Name}}"]));
    assert_eq!(ps.lines().count(), 3, "{ps}");
    // A redeploy updates in place.
    let again = success(d.shoal(&["stack", "deploy", "-c", file.to_str().unwrap(), "shop"]));
    assert!(again.contains("Updating service shop_web"), "{again}");
    assert!(again.contains("Updating config shop_appconf"), "{again}");
    let rm = success(d.shoal(&["stack", "rm", "shop"]));
    assert!(rm.contains("Removing network shop_default"), "{rm}");
    let gone = d.shoal(&["stack", "rm", "shop"]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("Nothing found in stack: shop"));
}
