//! The service and task API against a real daemon: create, list, inspect, update, remove,
//! filters, status, Docker's validation texts and status codes, and bad input that must leave
//! nothing behind.

use serde_json::{Value, json};
use shoal_testkit::{Daemon, HttpResponse};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");

fn message(r: &HttpResponse) -> String {
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    r.json()["message"].as_str().unwrap_or_default().to_string()
}

/// `?filters=` with the JSON percent-encoded.
fn filters(v: Value) -> String {
    let mut out = String::from("filters=");
    for b in v.to_string().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn spec(name: &str, image: &str) -> Value {
    json!({"Name": name, "Labels": {"tier": "front"},
        "TaskTemplate": {"ContainerSpec": {"Image": image}},
        "Mode": {"Replicated": {"Replicas": 3}}})
}

fn create(d: &Daemon, spec: &Value) -> HttpResponse {
    d.http("POST", "/v1.47/services/create", Some(&spec.to_string()))
}

fn names(d: &Daemon, query: &str) -> Vec<String> {
    let r = d.http("GET", &format!("/services?{query}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let mut v: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Spec"]["Name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn services_before_init_are_refused() {
    let d = Daemon::start(BIN, &[]).unwrap();
    for (method, path) in [
        ("GET", "/services"),
        ("GET", "/tasks"),
        ("GET", "/services/x"),
    ] {
        let r = d.http(method, path, None);
        assert_eq!(r.status, 503, "{path}");
        assert!(message(&r).starts_with("This node is not a swarm manager."));
    }
}

#[test]
fn create_list_inspect_update_and_remove() {
    let d = Daemon::start(BIN, &[]).unwrap();
    d.init_swarm();
    let r = create(&d, &spec("web", "nginx:1.27"));
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    assert_eq!(
        body["Warnings"],
        Value::Null,
        "moby's ServiceCreateResponse"
    );
    let id = body["ID"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 25);

    let dup = create(&d, &spec("web", "nginx:1.27"));
    assert_eq!(dup.status, 409);
    assert_eq!(
        message(&dup),
        "rpc error: code = AlreadyExists desc = name conflicts with an existing object: service web already exists"
    );

    for reference in [id.clone(), "web".into(), id[..6].to_string()] {
        let r = d.http("GET", &format!("/services/{reference}"), None);
        assert_eq!(r.status, 200, "{reference}");
        let s = r.json();
        assert_eq!(s["ID"], id.as_str());
        assert_eq!(s["Spec"]["Mode"]["Replicated"]["Replicas"], 3);
        assert!(
            s.get("ShoalSpecVersion").is_none(),
            "internal fields stay out"
        );
        assert!(s.get("UpdateConfig").is_none());
    }
    let missing = d.http("GET", "/services/nosuch", None);
    assert_eq!(missing.status, 404);
    assert_eq!(message(&missing), "service nosuch not found");

    let with_defaults = d
        .http("GET", &format!("/services/{id}?insertDefaults=true"), None)
        .json();
    assert_eq!(with_defaults["Spec"]["UpdateConfig"]["Parallelism"], 1);
    assert_eq!(with_defaults["Spec"]["UpdateConfig"]["Order"], "stop-first");
    assert_eq!(
        with_defaults["Spec"]["TaskTemplate"]["RestartPolicy"]["Condition"],
        "any"
    );

    let listed = d.http("GET", "/v1.41/services?status=true", None).json();
    assert_eq!(listed[0]["ServiceStatus"]["DesiredTasks"], 3);
    assert!(listed[0]["ServiceStatus"]["RunningTasks"].is_u64());
    let plain = d.http("GET", "/services", None).json();
    assert!(plain[0].get("ServiceStatus").is_none());

    // Update: a new image and 5 replicas.
    let s = d.http("GET", "/services/web", None).json();
    let version = s["Version"]["Index"].as_u64().unwrap();
    let mut new = s["Spec"].clone();
    new["TaskTemplate"]["ContainerSpec"]["Image"] = "nginx:1.28".into();
    new["Mode"]["Replicated"]["Replicas"] = 5.into();
    let path = format!("/services/{id}/update?version={version}&registryAuthFrom=spec");
    let up = d.http("POST", &path, Some(&new.to_string()));
    assert_eq!(up.status, 200, "{}", up.text());
    assert_eq!(up.json(), json!({}));
    let after = d.http("GET", "/services/web", None).json();
    assert_eq!(
        after["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"],
        "nginx:1.28"
    );
    assert_eq!(
        after["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"],
        "nginx:1.27"
    );
    assert!(after["Version"]["Index"].as_u64().unwrap() > version);

    // The same version again is stale.
    let stale = d.http("POST", &path, Some(&new.to_string()));
    assert_eq!(stale.status, 500);
    assert_eq!(
        message(&stale),
        "rpc error: code = Unknown desc = update out of sequence"
    );

    // Rollback to the previous spec.
    let version = after["Version"]["Index"].as_u64().unwrap();
    let rb = d.http(
        "POST",
        &format!("/services/web/update?version={version}&rollback=previous"),
        Some(&after["Spec"].to_string()),
    );
    assert_eq!(rb.status, 200, "{}", rb.text());
    let back = d.http("GET", "/services/web", None).json();
    assert_eq!(
        back["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"],
        "nginx:1.27"
    );
    assert_eq!(back["Spec"]["Mode"]["Replicated"]["Replicas"], 3);
    assert_eq!(back["UpdateStatus"]["State"], "rollback_started");
    assert_eq!(
        back["UpdateStatus"]["Message"],
        "manually requested rollback"
    );

    let rm = d.http("DELETE", "/services/web", None);
    assert_eq!(rm.status, 200, "{}", rm.text());
    assert_eq!(d.http("GET", &format!("/services/{id}"), None).status, 404);
    let again = d.http("DELETE", "/services/web", None);
    assert_eq!(again.status, 404);
    assert_eq!(message(&again), "service web not found");
}

#[test]
fn update_refusals_change_nothing() {
    let d = Daemon::start(BIN, &[]).unwrap();
    d.init_swarm();
    assert_eq!(create(&d, &spec("web", "app:1")).status, 201);
    let s = d.http("GET", "/services/web", None).json();
    let v = s["Version"]["Index"].as_u64().unwrap();
    let base = s["Spec"].clone();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut x = base.clone();
        edit(&mut x);
        x.to_string()
    };
    let cases: Vec<(String, String, u16, &str)> = vec![
        (
            format!("/services/web/update?version={v}"),
            with(&|x| x["Name"] = "api".into()),
            501,
            "rpc error: code = Unimplemented desc = renaming services is not supported",
        ),
        (
            format!("/services/web/update?version={v}"),
            with(&|x| x["Mode"] = json!({"Global": {}})),
            501,
            "rpc error: code = Unimplemented desc = service mode change is not allowed",
        ),
        (
            format!("/services/web/update?version={v}&rollback=previous"),
            base.to_string(),
            400,
            "does not have a previous spec",
        ),
        (
            "/services/web/update?version=abc".into(),
            base.to_string(),
            400,
            "invalid service version 'abc'",
        ),
        (
            format!("/services/web/update?version={v}&rollback=sideways"),
            base.to_string(),
            400,
            "unrecognized rollback option sideways",
        ),
        (
            format!("/services/web/update?version={v}"),
            with(&|x| x["Mode"]["Replicated"]["Replicas"] = (-1).into()),
            400,
            "rpc error: code = InvalidArgument desc = Number of replicas must be non-negative",
        ),
        (
            format!("/services/nosuch/update?version={v}"),
            base.to_string(),
            404,
            "service nosuch not found",
        ),
    ];
    for (path, body, status, text) in cases {
        let r = d.http("POST", &path, Some(&body));
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(message(&r).contains(text), "{path}: {}", r.text());
    }
    let after = d.http("GET", "/services/web", None).json();
    assert_eq!(
        after["Version"], s["Version"],
        "no refused update changed the service"
    );
    assert_eq!(after["Spec"], base);
}

#[test]
fn invalid_specs_get_docker_s_texts_and_nothing_is_created() {
    let d = Daemon::start(BIN, &[]).unwrap();
    d.init_swarm();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut s = spec("web", "nginx");
        f(&mut s);
        s
    };
    let ia = "rpc error: code = InvalidArgument desc = ";
    let cases: Vec<(Value, u16, String)> = vec![
        (
            edit(&|s| s["Name"] = "web.1".into()),
            400,
            format!("{ia}name must be valid as a DNS name component"),
        ),
        (
            edit(&|s| s["Name"] = "-web".into()),
            400,
            format!("{ia}name must be valid as a DNS name component"),
        ),
        (
            edit(&|s| s["Name"] = "w".repeat(64).into()),
            400,
            format!("{ia}name must be 63 characters or fewer"),
        ),
        (
            edit(&|s| s["TaskTemplate"]["ContainerSpec"]["Image"] = "".into()),
            400,
            format!("{ia}ContainerSpec: image reference must be provided"),
        ),
        (
            edit(&|s| s["TaskTemplate"]["ContainerSpec"]["Image"] = "Bad:Image:x".into()),
            400,
            format!("{ia}ContainerSpec: \"Bad:Image:x\" is not a valid repository/tag"),
        ),
        (
            edit(&|s| s["TaskTemplate"] = json!({})),
            400,
            "mismatched Runtime and *Spec fields".into(),
        ),
        (
            edit(&|s| s["Mode"] = json!({"Global": {}, "Replicated": {"Replicas": 3}})),
            400,
            "must specify only one service mode".into(),
        ),
        (
            edit(&|s| s["Mode"]["Replicated"]["Replicas"] = (-2).into()),
            400,
            format!("{ia}Number of replicas must be non-negative"),
        ),
        (
            edit(&|s| {
                s["TaskTemplate"]["Placement"] = json!({"Constraints": ["node.role>manager"]})
            }),
            500,
            "rpc error: code = Unknown desc = constraint expected one operator from ==, !=".into(),
        ),
        (
            edit(&|s| s["TaskTemplate"]["RestartPolicy"] = json!({"Condition": "sometimes"})),
            400,
            "invalid RestartCondition: \"sometimes\"".into(),
        ),
        (
            edit(&|s| s["TaskTemplate"]["RestartPolicy"] = json!({"Delay": -1})),
            400,
            format!("{ia}TaskSpec: restart-delay cannot be negative"),
        ),
        (
            edit(&|s| {
                s["EndpointSpec"] = json!({"Ports": [{"TargetPort": 80, "PublishedPort": 8080},
                    {"TargetPort": 81, "PublishedPort": 8080}]})
            }),
            400,
            format!("{ia}EndpointSpec: duplicate published ports provided"),
        ),
        (
            edit(&|s| s["Mode"] = json!("global")),
            400,
            "invalid JSON body".into(),
        ),
    ];
    for (body, status, text) in cases {
        let r = create(&d, &body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(message(&r).starts_with(&text), "{body}: {}", r.text());
    }
    for raw in ["{not json", ""] {
        let r = d.http("POST", "/services/create", Some(raw));
        assert_eq!(r.status, 400, "{raw:?}");
    }
    // A port taken by another service.
    let mut a = spec("a", "nginx");
    a["EndpointSpec"] = json!({"Ports": [{"TargetPort": 80, "PublishedPort": 8080}]});
    let a_id = create(&d, &a).json()["ID"].as_str().unwrap().to_string();
    let mut b = spec("b", "nginx");
    b["EndpointSpec"] = json!({"Ports": [{"TargetPort": 81, "PublishedPort": 8080}]});
    let r = create(&d, &b);
    assert_eq!(r.status, 400);
    assert_eq!(
        message(&r),
        format!("{ia}port '8080' is already in use by service 'a' ({a_id}) as an ingress port")
    );
    assert_eq!(names(&d, ""), ["a"], "no refused spec left anything behind");
}

#[test]
fn service_filters_and_prefix_resolution() {
    let d = Daemon::start(BIN, &[]).unwrap();
    d.init_swarm();
    assert_eq!(create(&d, &spec("web", "nginx")).status, 201);
    assert_eq!(create(&d, &spec("webapi", "nginx")).status, 201);
    let mut g = spec("agent", "agent:1");
    g["Mode"] = json!({"Global": {}});
    g["Labels"] = json!({"tier": "back"});
    assert_eq!(create(&d, &g).status, 201, "global");
    let mut job = spec("batch", "job:1");
    job["Mode"] = json!({"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 4}});
    assert_eq!(create(&d, &job).status, 201, "job");

    assert_eq!(
        names(&d, &filters(json!({"name": ["web"]}))),
        ["web", "webapi"]
    );
    assert_eq!(names(&d, &filters(json!({"mode": ["global"]}))), ["agent"]);
    assert_eq!(
        names(&d, &filters(json!({"mode": ["replicated-job"]}))),
        ["batch"]
    );
    assert_eq!(
        names(&d, &filters(json!({"label": ["tier=back"]}))),
        ["agent"]
    );
    assert_eq!(
        names(&d, &filters(json!({"label": {"tier": true}}))).len(),
        4
    );
    let web_id = d.http("GET", "/services/web", None).json()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(names(&d, &filters(json!({"id": [&web_id[..8]]}))), ["web"]);
    let bad = d.http(
        "GET",
        &format!("/services?{}", filters(json!({"colour": ["x"]}))),
        None,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(message(&bad), "invalid filter 'colour'");

    let status = d.http("GET", "/services?status=true", None).json();
    let by_name = |n: &str| {
        status
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Spec"]["Name"] == n)
            .unwrap()["ServiceStatus"]
            .clone()
    };
    assert_eq!(by_name("web")["DesiredTasks"], 3);
    assert_eq!(
        by_name("batch")["DesiredTasks"],
        2,
        "replicated jobs: max concurrent"
    );

    // Enough services that two IDs share a first character: that prefix is ambiguous.
    let mut ids: Vec<String> = Vec::new();
    for i in 0..40 {
        let r = create(&d, &spec(&format!("s{i}"), "nginx"));
        ids.push(r.json()["ID"].as_str().unwrap().to_string());
        let firsts: Vec<char> = ids.iter().map(|id| id.chars().next().unwrap()).collect();
        if let Some(c) = firsts
            .iter()
            .find(|c| firsts.iter().filter(|x| x == c).count() > 1)
        {
            let all = d.http("GET", "/services", None).json();
            let n = all
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["ID"].as_str().unwrap().starts_with(*c))
                .count();
            let r = d.http("GET", &format!("/services/{c}"), None);
            assert_eq!(r.status, 400);
            assert_eq!(
                message(&r),
                format!("service {c} is ambiguous ({n} matches found)")
            );
            return;
        }
    }
    panic!("40 IDs without a shared first character");
}

#[test]
fn task_endpoints_and_filters() {
    let d = Daemon::start(BIN, &[]).unwrap();
    let node = d.init_swarm();
    assert_eq!(create(&d, &spec("web", "nginx")).status, 201);
    let all = d.http("GET", "/tasks", None);
    assert_eq!(all.status, 200);
    assert!(all.json().is_array());
    for q in [
        filters(json!({"service": ["web"], "_up-to-date": ["true"]})),
        filters(json!({"service": {"web": true}})),
        filters(json!({"node": [node], "desired-state": ["running"]})),
        filters(json!({"label": ["tier=front"], "name": ["web."]})),
    ] {
        let r = d.http("GET", &format!("/v1.47/tasks?{q}"), None);
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        for t in r.json().as_array().unwrap() {
            assert!(t.get("ShoalSpecVersion").is_none());
        }
    }
    let cases = [
        (
            filters(json!({"service": ["nosuch"]})),
            404,
            "service nosuch not found",
        ),
        (
            filters(json!({"node": ["nosuch"]})),
            404,
            "node nosuch not found",
        ),
        (
            filters(json!({"desired-state": ["dancing"]})),
            400,
            "Invalid desired-state filter: 'dancing'",
        ),
        (
            filters(json!({"colour": ["red"]})),
            400,
            "invalid filter 'colour'",
        ),
    ];
    for (q, status, text) in cases {
        let r = d.http("GET", &format!("/tasks?{q}"), None);
        assert_eq!(r.status, status, "{q}");
        assert_eq!(message(&r), text);
    }
    let r = d.http("GET", "/tasks/nosuch", None);
    assert_eq!(r.status, 404);
    assert_eq!(message(&r), "task nosuch not found");
}
