//! Loading rules and conversion on small inline files.

use shoal_compose::{ConfigFile, Error, convert, load_files};

fn file(name: &str, content: &str) -> ConfigFile {
    ConfigFile {
        filename: name.into(),
        content: content.into(),
    }
}

fn env(name: &str) -> Option<String> {
    (name == "TAG").then(|| "2".to_string())
}

fn load1(yaml: &str) -> Result<shoal_compose::Loaded, Error> {
    load_files(&[file("docker-compose.yml", yaml)], "/srv", &env)
}

#[test]
fn forbidden_and_unknown_keys() {
    let e =
        load1("services:\n  web:\n    image: a\n    mem_limit: 1g\n    extends: x\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "docker-compose.yml:4: Compose file contains unsupported options:\n\nextends: Support for `extends` is not implemented yet.\n\nmem_limit: Set resource limits using deploy.resources\n"
    );
    let e = load1("name: x\nservices: {}\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "docker-compose.yml:1: (root) Additional property name is not allowed"
    );
    let e = load1("services:\n  web:\n    image: a\n    bogus: 1\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "docker-compose.yml:4: services.web Additional property bogus is not allowed"
    );
    let e = load1("version: '2.1'\nservices: {}\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "docker-compose.yml:1: version: unsupported Compose file version: 2.1"
    );
    let e = load1("services:\n  web:\n    image: ${NOPE:?set it}\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "docker-compose.yml:3: invalid interpolation format for services.web.image: \"required variable NOPE is missing a value: set it\"; you may need to escape any $ with another $"
    );
    let e =
        load1("services:\n  web:\n    image: a\n    deploy:\n      replicas: three\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "docker-compose.yml:5: services.web.deploy.replicas: expected an integer, got \"three\""
    );
}

#[test]
fn interpolation_merge_and_conversion() {
    let a = file(
        "a.yml",
        "version: '3.8'\nservices:\n  web:\n    image: app:${TAG}\n    restart: on-failure:3\n    command: run --port $${PORT}\n    ports: ['8080:80']\n    depends_on: [api]\n  api:\n    image: api\n    deploy:\n      mode: global\n      update_config: {delay: 1m30s}\n",
    );
    let b = file(
        "b.yml",
        "version: '3.8'\nservices:\n  web:\n    environment: [B=2, A=1]\n    ports: ['443:443']\n    deploy: {replicas: '${TAG}'}\n",
    );
    let l = load_files(&[a, b], "/srv", &env).unwrap();
    assert_eq!(l.warnings, ["Ignoring unsupported options: restart\n\n"]);
    let s = convert("st", &l.compose).unwrap();
    let names: Vec<&str> = s.services.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["api", "web"]);
    assert_eq!(s.networks.len(), 1);
    assert_eq!(s.networks[0].name, "st_default");
    assert_eq!(s.networks[0].driver.as_deref(), Some("overlay"));
    let web = serde_json::to_value(&s.services[1].1).unwrap();
    assert_eq!(web["TaskTemplate"]["ContainerSpec"]["Image"], "app:2");
    assert_eq!(
        web["TaskTemplate"]["ContainerSpec"]["Args"],
        serde_json::json!(["run", "--port", "${PORT}"])
    );
    assert_eq!(
        web["TaskTemplate"]["ContainerSpec"]["Env"],
        serde_json::json!(["A=1", "B=2"])
    );
    assert_eq!(
        web["TaskTemplate"]["RestartPolicy"]["Condition"],
        "on-failure"
    );
    assert_eq!(web["TaskTemplate"]["RestartPolicy"]["MaxAttempts"], 3);
    assert_eq!(web["TaskTemplate"]["Networks"][0]["Target"], "st_default");
    assert_eq!(
        web["TaskTemplate"]["Networks"][0]["Aliases"],
        serde_json::json!(["web"])
    );
    assert_eq!(web["Mode"]["Replicated"]["Replicas"], 2);
    assert_eq!(web["EndpointSpec"]["Ports"][0]["PublishedPort"], 443);
    assert_eq!(web["EndpointSpec"]["Ports"][1]["PublishedPort"], 8080);
    let api = serde_json::to_value(&s.services[0].1).unwrap();
    assert!(api["Mode"]["Global"].is_object());
    assert_eq!(api["UpdateConfig"]["Parallelism"], 1);
    assert_eq!(api["UpdateConfig"]["Delay"], 90_000_000_000i64);
}

#[test]
fn conversion_errors_and_health_waits() {
    let l = load1("services:\n  web:\n    deploy: {mode: global, replicas: 2}\n    image: a\n")
        .unwrap();
    assert_eq!(
        convert("s", &l.compose).unwrap_err().to_string(),
        "docker-compose.yml:3: services.web.deploy.replicas: can only be used with replicated or replicated-job mode"
    );
    let l = load1("services:\n  web:\n    command: x\n").unwrap();
    assert_eq!(
        convert("s", &l.compose).unwrap_err().to_string(),
        "docker-compose.yml:2: services.web: no image specified"
    );
    let l =
        load1("services:\n  web:\n    image: a\n    restart: 'no'\n    secrets: [db]\n").unwrap();
    assert_eq!(
        convert("s", &l.compose).unwrap_err().to_string(),
        "docker-compose.yml:5: services.web.secrets: undefined secret \"db\""
    );
    let l = load1(
        "services:\n  web:\n    image: a\n    restart: always\n    depends_on:\n      db: {condition: service_healthy}\n  db:\n    image: pg\n    deploy: {mode: replicated-job, replicas: 3}\n",
    )
    .unwrap();
    let s = convert("s", &l.compose).unwrap();
    assert_eq!(s.wait_healthy, [("web".to_string(), "db".to_string())]);
    let web = serde_json::to_value(&s.services[1].1).unwrap();
    assert_eq!(web["TaskTemplate"]["RestartPolicy"]["Condition"], "any");
    let db = serde_json::to_value(&s.services[0].1).unwrap();
    assert_eq!(db["Mode"]["ReplicatedJob"]["TotalCompletions"], 3);
}
