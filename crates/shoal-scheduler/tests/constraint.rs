//! Constraint parsing (operators, whitespace, error texts) and matching.

mod common;

use common::{labeled, node};
use shoal_scheduler::constraint::matches_all;
use shoal_scheduler::{ConstraintError, Operator, parse_constraints};
use shoal_types::{Node, NodeRole};

fn parse(exprs: &[&str]) -> Result<Vec<shoal_scheduler::Constraint>, ConstraintError> {
    let owned: Vec<String> = exprs.iter().map(|s| s.to_string()).collect();
    parse_constraints(&owned)
}

fn err(expr: &str) -> String {
    parse(&[expr]).unwrap_err().to_string()
}

fn holds(expr: &str, n: &Node) -> bool {
    matches_all(&parse(&[expr]).expect(expr), n)
}

#[test]
fn parses_both_operators_and_trims_whitespace() {
    let c = parse(&["node.role==manager", "  node.labels.zone  !=  east 1 "]).unwrap();
    assert_eq!(c[0].key(), "node.role");
    assert_eq!(c[0].operator(), Operator::Eq);
    assert_eq!(c[0].value(), "manager");
    assert_eq!(c[1].key(), "node.labels.zone");
    assert_eq!(c[1].operator(), Operator::Ne);
    assert_eq!(c[1].value(), "east 1");
    assert!(parse(&[]).unwrap().is_empty());
}

#[test]
fn missing_operator_has_swarmkits_text() {
    for e in ["node.role=manager", "node.role", "node.role<>manager", ""] {
        assert_eq!(
            err(e),
            "constraint expected one operator from ==, !=",
            "{e:?}"
        );
    }
}

#[test]
fn invalid_keys_and_values_have_swarmkits_texts() {
    // `==` is tried first, so the key swallows the `!=`.
    assert_eq!(
        err("node.labels.a!=b==c"),
        "key 'node.labels.a!=b' is invalid"
    );
    assert_eq!(err("==x"), "key '' is invalid");
    assert_eq!(err("a==b"), "key 'a' is invalid");
    assert_eq!(err("9node==b"), "key '9node' is invalid");
    assert_eq!(err("node.role=="), "value '' is invalid");
    assert_eq!(err("node.role===manager"), "value '=manager' is invalid");
    assert_eq!(err("node.role==a<b"), "value 'a<b' is invalid");
    // The first bad expression stops the parse.
    let e = parse(&["node.role==worker", "bad", "x==y"]).unwrap_err();
    assert_eq!(e, ConstraintError::NoOperator);
}

#[test]
fn values_may_use_swarmkits_special_characters() {
    let ok = [
        "engine.labels.os==ubuntu 22.04",
        "node.labels.path==/a/b:c",
        "node.labels.re==^a.*(b|c)?[d]+\\$",
        "_x==y",
    ];
    for e in ok {
        assert!(parse(&[e]).is_ok(), "{e}");
    }
}

#[test]
fn matches_id_hostname_role_and_platform() {
    let mut n = node("abc123");
    n.spec.role = NodeRole::Manager;
    assert!(holds("node.id==abc123", &n));
    assert!(
        holds("node.id==ABC123", &n),
        "values compare case-insensitively"
    );
    assert!(holds("node.hostname==host-abc123", &n));
    assert!(holds("node.hostname!=other", &n));
    assert!(holds("node.role==manager", &n));
    assert!(
        holds("NODE.ROLE==Manager", &n),
        "keys compare case-insensitively"
    );
    assert!(!holds("node.role==worker", &n));
    assert!(holds("node.platform.os==linux", &n));
    assert!(holds("node.platform.arch==x86_64", &n));
    // Constraints compare the raw architecture; only the platform filter folds aliases.
    assert!(!holds("node.platform.arch==amd64", &n));
}

#[test]
fn labels_keys_are_case_sensitive_and_missing_means_empty() {
    let n = labeled("n1", "zone", "East");
    assert!(holds("node.labels.zone==east", &n));
    assert!(
        holds("NODE.LABELS.zone==east", &n),
        "the prefix is case-insensitive"
    );
    assert!(
        !holds("node.labels.Zone==east", &n),
        "the label name is not"
    );
    assert!(holds("node.labels.Zone!=east", &n));
    assert!(!holds("node.labels.rack==r1", &n));
    assert!(holds("node.labels.rack!=r1", &n));

    let mut e = node("n2");
    e.description
        .engine
        .labels
        .insert("os".into(), "ubuntu".into());
    assert!(holds("engine.labels.os==Ubuntu", &e));
    assert!(!holds("engine.labels.kernel==5", &e));
    assert!(holds("engine.labels.kernel!=5", &e));
    // A node label is not an engine label.
    assert!(!holds("engine.labels.zone==east", &n));
}

#[test]
fn unknown_keys_never_match() {
    let n = node("n1");
    assert!(!holds("node.name==n1", &n));
    assert!(!holds("node.name!=n1", &n));
    assert!(
        !holds("node.labels==x", &n),
        "the bare prefix is not a label"
    );
}

#[test]
fn node_ip_takes_an_address_or_a_subnet() {
    let mut n = node("n1");
    n.status.addr = "192.168.1.20".into();
    assert!(holds("node.ip==192.168.1.20", &n));
    assert!(!holds("node.ip!=192.168.1.20", &n));
    assert!(holds("node.ip==192.168.1.0/24", &n));
    assert!(holds("node.ip!=10.0.0.0/8", &n));
    assert!(!holds("node.ip==192.168.2.0/24", &n));
    // A malformed address matches nothing, whatever the operator.
    assert!(!holds("node.ip==nonsense", &n));
    assert!(!holds("node.ip!=nonsense", &n));
    assert!(!holds("node.ip==10.0.0.0/33", &n));

    n.status.addr = "2001:db8::2".into();
    assert!(holds("node.ip==2001:db8::2", &n));
    assert!(holds("node.ip==2001:db8::/32", &n));
    assert!(!holds("node.ip==192.168.1.0/24", &n));

    n.status.addr = String::new();
    assert!(!holds("node.ip==10.0.0.1", &n));
    assert!(holds("node.ip!=10.0.0.1", &n));
}

#[test]
fn every_constraint_must_hold() {
    let n = labeled("n1", "zone", "east");
    let both = parse(&["node.labels.zone==east", "node.role==worker"]).unwrap();
    assert!(matches_all(&both, &n));
    let one = parse(&["node.labels.zone==east", "node.role==manager"]).unwrap();
    assert!(!matches_all(&one, &n));
}
