//! docker/cli's full example (`/work/shared/specs/compose-full-example.yml`) loaded and
//! converted.

use std::path::Path;

use shoal_compose::{Loaded, convert, load};

const FULL: &str = "/work/shared/specs/compose-full-example.yml";

fn env(name: &str) -> Option<String> {
    (name == "HOME").then(|| "/home/me".to_string())
}

/// The example, copied beside the two env files it names (docker/cli keeps them next to it in
/// its test data; these hold the same kind of overrides), once per test process.
fn dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(FULL, dir.path().join("full-example.yml")).unwrap();
        std::fs::write(
            dir.path().join("example1.env"),
            "# passed through\nFOO=foo_from_env_file\nBAR=bar_from_env_file\nBAZ=baz_from_env_file\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("example2.env"), "BAR=bar_from_env_file_2\nHOME\n").unwrap();
        dir
    })
    .path()
}

fn loaded() -> Loaded {
    let file = dir().join("full-example.yml");
    load(&[file.as_path()], &env).expect("full example loads")
}

fn in_dir(rest: &str) -> String {
    format!("{}{rest}", dir().display())
}

#[test]
fn env_files_join_the_environment_which_wins() {
    let env = &loaded().compose.services["foo"].environment;
    assert_eq!(env["FOO"].as_deref(), Some("foo_from_env_file"));
    assert_eq!(
        env["BAR"].as_deref(),
        Some("bar_from_env_file_2"),
        "the later file wins"
    );
    assert_ne!(
        env["BAZ"].as_deref(),
        Some("baz_from_env_file"),
        "environment wins"
    );
    assert_eq!(
        env["HOME"].as_deref(),
        Some("/home/me"),
        "a bare KEY comes from the variables"
    );
}

#[test]
fn warnings_match_docker() {
    let l = loaded();
    assert_eq!(
        l.warnings,
        [
            "Ignoring unsupported options: build, cgroup_parent, devices, domainname, external_links, ipc, links, mac_address, network_mode, pid, privileged, restart, security_opt\n\n",
            "Ignoring deprecated options:\n\ncontainer_name: Setting the container name is not supported.\n\nexpose: Exposing ports is unnecessary - services on the same network can access each other's containers on any port.\n\n",
        ]
    );
}

#[test]
fn loads_typed_values() {
    let c = loaded().compose;
    assert_eq!(c.version, "3.13");
    let foo = &c.services["foo"];
    assert_eq!(foo.image.as_deref(), Some("redis"));
    assert_eq!(
        foo.command.as_deref().unwrap(),
        ["bundle", "exec", "thin", "-p", "3000"]
    );
    assert_eq!(
        foo.entrypoint.as_deref().unwrap(),
        ["/code/entrypoint.sh", "-p", "3000"]
    );
    assert_eq!(
        foo.environment["BAZ"].as_deref(),
        Some("baz_from_service_def")
    );
    assert_eq!(foo.environment["QUX"], None);
    assert_eq!(foo.labels["com.example.number"], "42");
    assert_eq!(foo.labels["com.example.empty-label"], "");
    assert_eq!(foo.ports.len(), 22);
    assert_eq!(foo.configs[1].mode, Some(0o440));
    assert_eq!(foo.secrets[1].uid.as_deref(), Some("103"));
    let hc = foo.healthcheck.as_ref().unwrap();
    assert_eq!(
        hc.test.as_deref().unwrap(),
        ["CMD-SHELL", "echo \"hello world\""]
    );
    assert_eq!(hc.interval, Some(10_000_000_000));
    assert_eq!(hc.start_period, Some(15_000_000_000));
    assert_eq!(hc.retries, Some(5));
    assert_eq!(foo.stop_grace_period, Some(20_000_000_000));
    assert_eq!(foo.sysctls["net.core.somaxconn"], "1024");
    assert_eq!(foo.ulimits["nproc"].single, Some(65535));
    assert_eq!(foo.ulimits["nofile"].hard, Some(40000));
    let d = &foo.deploy;
    assert_eq!(d.replicas, Some(6));
    assert_eq!(d.resources.limits.as_ref().unwrap().cpus, Some(1_000_000));
    assert_eq!(d.resources.limits.as_ref().unwrap().memory, Some(50 << 20));
    assert_eq!(
        d.resources.reservations.as_ref().unwrap().cpus,
        Some(100_000)
    );
    assert_eq!(
        d.update_config.as_ref().unwrap().max_failure_ratio,
        Some(0.3)
    );
    assert_eq!(d.placement.preferences, ["node.labels.az"]);
    let vols = &foo.volumes;
    assert_eq!(vols[2].source.as_deref(), Some(in_dir("").as_str()));
    assert_eq!(vols[4].source.as_deref(), Some("/home/me/configs"));
    assert!(vols[4].read_only);
    assert_eq!(
        c.networks["other-external-network"].name.as_deref(),
        Some("my-cool-network")
    );
    assert!(c.networks["other-external-network"].external);
    assert_eq!(
        c.secrets["secret1"].file.as_deref(),
        Some(in_dir("/secret_data").as_str())
    );
    assert!(c.extensions.contains_key("x-nested"));
}

#[test]
fn converts_like_docker() {
    let mut c = loaded().compose;
    // docker too rejects these two references: neither is declared at the top level.
    let err = convert("app", &c).unwrap_err().to_string();
    assert_eq!(
        err,
        in_dir(
            "/full-example.yml:216: services.foo.networks: undefined network \"other-other-network\""
        )
    );
    let foo = c.services.get_mut("foo").unwrap();
    foo.networks.remove("other-other-network");
    // secret4/config4 have neither `file:` nor `external:`: nothing to create them from.
    assert_eq!(
        convert("app", &c).unwrap_err().to_string(),
        in_dir(
            "/full-example.yml:444: secrets.secret4: only `file:` and `external:` are supported"
        )
    );
    c.secrets.remove("secret4");
    c.configs.remove("config4");
    assert_eq!(
        convert("app", &c).unwrap_err().to_string(),
        in_dir("/full-example.yml:285: services.foo.volumes: undefined volume \"datavolume\"")
    );
    let foo = c.services.get_mut("foo").unwrap();
    foo.volumes
        .retain(|v| v.source.as_deref() != Some("datavolume"));

    let stack = convert("app", &c).unwrap();
    let (name, spec) = &stack.services[0];
    assert_eq!(name, "foo");
    assert_eq!(spec.name.as_deref(), Some("app_foo"));
    let labels = spec.labels.as_ref().unwrap();
    assert_eq!(labels["com.docker.stack.namespace"], "app");
    assert_eq!(labels["com.docker.stack.image"], "redis");
    assert_eq!(labels["FOO"], "BAR");
    let task = spec.task_template.as_ref().unwrap();
    let cs = task.container_spec.as_ref().unwrap();
    assert_eq!(
        cs.command.as_deref().unwrap(),
        ["/code/entrypoint.sh", "-p", "3000"]
    );
    assert_eq!(cs.args.as_deref().unwrap()[0], "bundle");
    // The env files' variables, overridden by `environment`; QUX is set nowhere.
    assert_eq!(
        cs.env.as_deref().unwrap(),
        [
            "BAR=bar_from_env_file_2",
            "BAZ=baz_from_service_def",
            "FOO=foo_from_env_file",
            "HOME=/home/me",
            "QUX"
        ]
    );
    assert_eq!(
        cs.labels.as_ref().unwrap()["com.docker.stack.namespace"],
        "app"
    );
    assert_eq!(cs.hosts.as_deref().unwrap()[0], "162.242.195.82 somehost");
    let secrets = cs.secrets.as_ref().unwrap();
    assert_eq!(secrets[0].secret_name.as_deref(), Some("app_secret1"));
    assert_eq!(secrets[0].file.as_ref().unwrap().mode, Some(0o444));
    assert_eq!(
        secrets[0].file.as_ref().unwrap().name.as_deref(),
        Some("secret1")
    );
    assert_eq!(secrets[1].secret_name.as_deref(), Some("my_secret"));
    assert_eq!(
        secrets[1].file.as_ref().unwrap().name.as_deref(),
        Some("my_secret")
    );
    let configs = cs.configs.as_ref().unwrap();
    assert_eq!(configs[0].config_name.as_deref(), Some("app_config1"));
    assert_eq!(configs[1].config_name.as_deref(), Some("my_config"));
    assert_eq!(configs[1].file.as_ref().unwrap().mode, Some(0o440));
    let nets = task.networks.as_ref().unwrap();
    assert_eq!(nets.len(), 2);
    assert_eq!(nets[0].target.as_deref(), Some("app_other-network"));
    assert_eq!(nets[1].target.as_deref(), Some("app_some-network"));
    assert_eq!(
        nets[1].aliases.as_deref().unwrap(),
        ["alias1", "alias3", "foo"]
    );
    let mode = spec.mode.as_ref().unwrap();
    assert_eq!(mode.replicated.as_ref().unwrap().replicas, Some(6));
    let upd = spec.update_config.as_ref().unwrap();
    assert_eq!(
        (upd.parallelism, upd.delay, upd.monitor),
        (Some(3), Some(10_000_000_000), Some(60_000_000_000))
    );
    let rp = task.restart_policy.as_ref().unwrap();
    assert_eq!(
        (rp.max_attempts, rp.window),
        (Some(3), Some(120_000_000_000))
    );
    let res = task.resources.as_ref().unwrap();
    assert_eq!(res.limits.as_ref().unwrap().pids, Some(100));
    assert_eq!(
        res.reservations
            .as_ref()
            .unwrap()
            .generic_resources
            .as_ref()
            .unwrap()
            .len(),
        2
    );
    let placement = task.placement.as_ref().unwrap();
    assert_eq!(placement.max_replicas, Some(5));
    assert_eq!(placement.constraints.as_deref().unwrap(), ["node=foo"]);
    let ep = spec.endpoint_spec.as_ref().unwrap();
    let json = serde_json::to_value(ep).unwrap();
    assert_eq!(json["Mode"], "dnsrr");
    assert_eq!(json["Ports"].as_array().unwrap().len(), 22);
    assert_eq!(json["Ports"][6]["PublishedPort"], 5000);
    assert_eq!(json["Ports"][6]["PublishMode"], "ingress");

    let created: Vec<&str> = stack.networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(created, ["app_other-network", "app_some-network"]);
    assert_eq!(stack.networks[1].driver.as_deref(), Some("overlay"));
    assert_eq!(stack.networks[0].labels.as_ref().unwrap()["foo"], "bar");
    assert_eq!(stack.secrets.len(), 1);
    assert_eq!(stack.secrets[0].spec.name.as_deref(), Some("app_secret1"));
    assert_eq!(stack.secrets[0].file, in_dir("/secret_data"));
    assert_eq!(stack.external_secrets, ["my_secret", "secret3"]);
    assert_eq!(stack.external_configs, ["my_config", "config3"]);
}
