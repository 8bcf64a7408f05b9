//! Unit tests of `client.rs`: host parsing, URL building, filter encoding.

use super::*;

#[test]
fn hosts_parse() {
    let c = Client::new("unix:///run/shoal/shoal.sock").unwrap();
    assert_eq!(c.endpoint, Endpoint::Unix("/run/shoal/shoal.sock".into()));
    let c = Client::new("tcp://10.0.0.1:2375").unwrap();
    assert_eq!(c.endpoint, Endpoint::Tcp("10.0.0.1:2375".into()));
    let c = Client::new("http://localhost").unwrap();
    assert_eq!(c.endpoint, Endpoint::Tcp("localhost:2375".into()));
    let c = Client::new("tcp://[::1]:9000/").unwrap();
    assert_eq!(c.endpoint, Endpoint::Tcp("[::1]:9000".into()));
    for bad in [
        "",
        "/run/x.sock",
        "unix://",
        "https://h:1",
        "tcp://",
        "ssh://h",
    ] {
        assert!(
            matches!(Client::new(bad), Err(CliError::InvalidHost(_))),
            "{bad}"
        );
    }
}

#[test]
fn urls_are_versioned_and_escaped() {
    assert_eq!(
        versioned_path(API_VERSION, "/nodes/abc"),
        "/v1.47/nodes/abc"
    );
    assert_eq!(query(&[]), "");
    let q = query(&[
        ("version", "12".into()),
        ("rotateWorkerToken", "true".into()),
        ("rotateManagerToken", "false".into()),
    ]);
    assert_eq!(
        q,
        "?rotateManagerToken=false&rotateWorkerToken=true&version=12"
    );
    assert_eq!(query_escape("a b/c"), "a+b%2Fc");
    assert_eq!(path_escape("my node"), "my%20node");
}

#[test]
fn filters_encode_as_docker_sends_them() {
    let mut f = BTreeMap::new();
    f.insert("role".to_string(), vec!["manager".to_string()]);
    let json = filters_json(&f);
    assert_eq!(json, r#"{"role":["manager"]}"#);
    assert_eq!(
        query(&[("filters", json)]),
        "?filters=%7B%22role%22%3A%5B%22manager%22%5D%7D"
    );
}

#[test]
fn versions_compare_numerically() {
    assert!(version_less("1.41", "1.47"));
    assert!(version_less("1.9", "1.47"));
    assert!(!version_less("1.50", "1.47"));
    assert!(!version_less("1.47", "1.47"));
}
