//! Bad input: every error that points at a key names the file and line it came from, as
//! `file:line: key: message` (docker's own wording kept where it has one, such as
//! `Additional property x is not allowed`), also when several files are merged.

use shoal_compose::{ConfigFile, Error, convert, load, load_files};

fn file(name: &str, content: &str) -> ConfigFile {
    ConfigFile {
        filename: name.into(),
        content: content.into(),
    }
}

fn env(name: &str) -> Option<String> {
    match name {
        "TAG" => Some("2".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

/// The error of loading then converting `files` (texts), as the CLI prints it.
fn error_of(files: &[(&str, &str)]) -> String {
    let files: Vec<ConfigFile> = files.iter().map(|(n, c)| file(n, c)).collect();
    let result = load_files(&files, "/srv", &env).and_then(|l| convert("st", &l.compose));
    match result {
        Ok(_) => panic!("no error for {files:?}"),
        Err(e) => e.to_string(),
    }
}

fn error1(yaml: &str) -> String {
    error_of(&[("docker-compose.yml", yaml)])
}

#[test]
fn malformed_yaml_names_the_line_of_the_syntax_error() {
    let yaml = "services:\n  web:\n    image: a\n    ports: [80\n    deploy: {}\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:5: illegal placement of ':' indicator (column 11)"
    );
    let yaml = "version: '3.8'\nservices:\n  web:\n    image: a\n   bad: 1\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:5: while parsing a block mapping, did not find expected key (column 4)"
    );
}

#[test]
fn wrong_types_name_the_key_and_the_value() {
    let yaml = "\
version: '3.8'
services:
  db:
    image: postgres
  web:
    image: nginx
    ports:
      - 8080:80
    environment:
      A: 1
    deploy:
      replicas: three
";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:12: services.web.deploy.replicas: expected an integer, got \"three\""
    );
    let yaml = "services:\n  web:\n    image: a\n    ports:\n      - 80\n      - target: 81\n        published: abc\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:7: services.web.ports.1.published: expected an integer, got \"abc\""
    );
    let yaml = "services:\n  web:\n    image: a\n    read_only: maybe\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:4: services.web.read_only: expected a boolean, got \"maybe\""
    );
    let yaml = "services:\n  web:\n    image: a\n    healthcheck:\n      interval: 10\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:5: services.web.healthcheck.interval: expected a duration string like \"10s\", got 10"
    );
    let yaml = "services:\n  web:\n    image: a\n    deploy:\n      resources:\n        limits: {memory: lots}\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:6: services.web.deploy.resources.limits.memory: invalid size: 'lots'"
    );
    let yaml = "services:\n  web:\n    image: a\n    environment: 3\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:4: services.web.environment: must be a mapping or a list"
    );
    let yaml = "services:\n  web:\n    image: a\nnetworks:\n  front:\n    labels: yes\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:6: networks.front.labels: must be a mapping or a list"
    );
    let yaml = "services:\n  web:\n    image: a\n    command: \"echo 'unclosed\"\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:4: services.web.command: EOF found when expecting closing quote"
    );
}

#[test]
fn unknown_keys_keep_dockers_wording() {
    assert_eq!(
        error1("version: '3.8'\nservices: {}\nname: x\n"),
        "docker-compose.yml:3: (root) Additional property name is not allowed"
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\n    bogus: 1\n"),
        "docker-compose.yml:4: services.web Additional property bogus is not allowed"
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\n    deploy:\n      replicas: 1\n      bogus: 1\n"),
        "docker-compose.yml:6: services.web.deploy Additional property bogus is not allowed"
    );
    assert_eq!(
        error1(
            "services:\n  web:\n    image: a\n    ports:\n      - target: 80\n        bogus: 1\n"
        ),
        "docker-compose.yml:6: services.web.ports.0 Additional property bogus is not allowed"
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\nnetworks:\n  front:\n    drivr: overlay\n"),
        "docker-compose.yml:6: networks.front Additional property drivr is not allowed"
    );
}

#[test]
fn a_missing_required_variable_names_the_line_of_its_value() {
    assert_eq!(
        error1("services:\n  web:\n    image: app:${TAG}\n    hostname: ${NOPE:?set NOPE}\n"),
        "docker-compose.yml:4: invalid interpolation format for services.web.hostname: \
         \"required variable NOPE is missing a value: set NOPE\"; \
         you may need to escape any $ with another $"
    );
    // A list item's own line, not its list's.
    let yaml =
        "services:\n  web:\n    image: a\n    environment:\n      - A=1\n      - B=${NOPE?no B}\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:6: invalid interpolation format for services.web.environment.[]: \
         \"required variable NOPE is missing a value: no B\"; \
         you may need to escape any $ with another $"
    );
    // Set but empty fails `:?` only.
    let yaml = "services:\n  web:\n    image: a${EMPTY?x}\n    deploy:\n      labels:\n        l: ${EMPTY:?must not be empty}\n";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:6: invalid interpolation format for services.web.deploy.labels.l: \
         \"required variable EMPTY is missing a value: must not be empty\"; \
         you may need to escape any $ with another $"
    );
}

#[test]
fn undefined_references_name_the_line_of_the_reference() {
    let yaml = "\
services:
  web:
    image: a
    secrets:
      - known
      - db_pass
    configs:
      - source: known
      - source: app_conf
        target: /app.conf
secrets:
  known: {file: ./k}
configs:
  known: {file: ./k}
";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:6: services.web.secrets: undefined secret \"db_pass\""
    );
    let yaml = yaml.replace("- db_pass", "- known");
    assert_eq!(
        error1(&yaml),
        "docker-compose.yml:9: services.web.configs: undefined config \"app_conf\""
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\n    networks:\n      - default\n      - back\n"),
        "docker-compose.yml:6: services.web.networks: undefined network \"back\""
    );
    assert_eq!(
        error1(
            "services:\n  web:\n    image: a\n    networks:\n      back:\n        aliases: [w]\n"
        ),
        "docker-compose.yml:5: services.web.networks: undefined network \"back\""
    );
    assert_eq!(
        error1(
            "services:\n  web:\n    image: a\n    volumes:\n      - /tmp:/t\n      - data:/d:ro\n"
        ),
        "docker-compose.yml:6: services.web.volumes: undefined volume \"data\""
    );
}

#[test]
fn other_validation_errors_name_their_key() {
    assert_eq!(
        error1("version: '2.1'\nservices: {}\n"),
        "docker-compose.yml:1: version: unsupported Compose file version: 2.1"
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\n    cpu_shares: 3\n    mem_limit: 1g\n"),
        "docker-compose.yml:4: Compose file contains unsupported options:\n\n\
         cpu_shares: Set resource limits using deploy.resources\n\n\
         mem_limit: Set resource limits using deploy.resources\n"
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\n    ports:\n      - 80\n      - abc:80\n"),
        "docker-compose.yml:6: services.web.ports.1: Invalid hostPort: abc"
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\n    volumes:\n      - a:b:c:d\n"),
        "docker-compose.yml:5: services.web.volumes.0: invalid spec: a:b:c:d: too many colons"
    );
    assert_eq!(
        error1(
            "services:\n  web:\n    image: a\n    volumes:\n      - type: bind\n        target: /t\n"
        ),
        "docker-compose.yml:5: services.web.volumes.0: invalid mount config for type \"bind\": field Source must not be empty"
    );
    assert_eq!(
        error1(
            "services:\n  web:\n    image: a\nvolumes:\n  v:\n    external: true\n    driver: x\n"
        ),
        "docker-compose.yml:7: volumes.v.driver: conflicting parameters \"external\" and \"driver\" specified for volume \"v\""
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\nsecrets:\n  s:\n    name: x\n"),
        "docker-compose.yml:5: secrets.s: only `file:` and `external:` are supported"
    );
}

#[test]
fn conversion_errors_name_their_key() {
    assert_eq!(
        error1("services:\n  web:\n    environment: [A=1]\n"),
        "docker-compose.yml:2: services.web: no image specified"
    );
    assert_eq!(
        error1(
            "services:\n  web:\n    image: a\n    deploy:\n      mode: global\n      replicas: 2\n"
        ),
        "docker-compose.yml:6: services.web.deploy.replicas: can only be used with replicated or replicated-job mode"
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\n    deploy:\n      mode: everywhere\n"),
        "docker-compose.yml:5: services.web.deploy.mode: Unknown mode: everywhere"
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\n    deploy:\n      endpoint_mode: fast\n"),
        "docker-compose.yml:5: services.web.deploy.endpoint_mode: invalid value \"fast\""
    );
    assert_eq!(
        error1("services:\n  web:\n    image: a\n    restart: sometimes\n"),
        "docker-compose.yml:4: services.web.restart: unknown restart policy: sometimes"
    );
    assert_eq!(
        error1(
            "services:\n  web:\n    image: a\n    depends_on: [db]\n  db:\n    image: b\n    depends_on: [web]\n"
        ),
        "docker-compose.yml:7: services.db.depends_on: dependency cycle between services [\"db\", \"web\"]"
    );
}

#[test]
fn with_two_files_the_error_names_the_file_the_key_came_from() {
    let a = "\
version: '3.8'
services:
  web:
    image: app:${TAG}
    deploy:
      mode: global
";
    let b = "\
version: '3.8'
services:
  web:
    environment: [A=1]
    deploy:
      replicas: three
";
    let files = [("a.yml", a), ("b.yml", b)];
    assert_eq!(
        error_of(&files),
        "b.yml:6: services.web.deploy.replicas: expected an integer, got \"three\""
    );
    // Merged: `mode` from a.yml, `replicas` from b.yml; the error is about `replicas`.
    let b2 = b.replace("three", "2");
    assert_eq!(
        error_of(&[("a.yml", a), ("b.yml", &b2)]),
        "b.yml:6: services.web.deploy.replicas: can only be used with replicated or replicated-job mode"
    );
    // The other way round, the key is a.yml's.
    let a2 = a.replace("mode: global", "replicas: 2");
    let b3 = b.replace("replicas: three", "mode: global");
    assert_eq!(
        error_of(&[("a.yml", &a2), ("b.yml", &b3)]),
        "a.yml:6: services.web.deploy.replicas: can only be used with replicated or replicated-job mode"
    );
    let b4 = "version: '3.8'\nservices:\n  web:\n    secrets: [db]\n    bogus: 1\n";
    assert_eq!(
        error_of(&[("a.yml", a), ("b.yml", b4)]),
        "b.yml:5: services.web Additional property bogus is not allowed"
    );
    let b5 = "version: '3.8'\nservices:\n  web:\n    secrets: [db]\n";
    assert_eq!(
        error_of(&[("a.yml", &a2), ("b.yml", b5)]),
        "b.yml:4: services.web.secrets: undefined secret \"db\""
    );
    let b6 = "version: '3.8'\nservices:\n  web:\n    image: ${IMAGE:?set IMAGE}\n";
    assert_eq!(
        error_of(&[("a.yml", a), ("b.yml", b6)]),
        "b.yml:4: invalid interpolation format for services.web.image: \
         \"required variable IMAGE is missing a value: set IMAGE\"; \
         you may need to escape any $ with another $"
    );
    let b7 = "version: '3.9'\nservices: {}\n";
    assert_eq!(
        error_of(&[("a.yml", a), ("b.yml", b7)]),
        "b.yml:1: version: version mismatched between two composefiles : 3.8 and 3.9"
    );
    // Without `version:`, the file is docker's default version; the error names the file.
    let b8 = "\n\nservices: {}\n";
    assert_eq!(
        error_of(&[("a.yml", a), ("b.yml", b8)]),
        "b.yml:3: version: version mismatched between two composefiles : 3.8 and 3.13"
    );
}

#[test]
fn merged_keys_point_at_the_merge() {
    let yaml = "\
x-deploy: &deploy
  replicas: lots
services:
  web:
    image: a
    deploy:
      <<: *deploy
      mode: replicated
";
    assert_eq!(
        error1(yaml),
        "docker-compose.yml:7: services.web.deploy.replicas: expected an integer, got \"lots\""
    );
}

#[test]
fn env_file_errors_name_the_env_file_key() {
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("docker-compose.yml");
    std::fs::write(
        &compose,
        "services:\n  web:\n    image: a\n    env_file:\n      - ./web.env\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("web.env"), "A=1\nB C=2\n").unwrap();
    let e = load(&[compose.as_path()], &env).unwrap_err();
    let Error::At { file, line, error } = &e else {
        panic!("{e:?}")
    };
    assert_eq!((file.as_str(), *line), (compose.to_str().unwrap(), 4));
    assert_eq!(
        error.to_string(),
        format!(
            "services.web.env_file: {}: variable 'B C' contains whitespaces",
            dir.path().join("./web.env").display()
        )
    );
}
