//! `node inspect --pretty`: docker/cli's `nodeInspectPrettyTemplate`, rendered by hand with
//! the template's exact tabs and whitespace trimming.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use shoal_types::Node;

use crate::duration::bytes_size;
use crate::table::pretty_print;
use crate::timefmt::go_string;

/// The lowercase wire name of a shoal enum (`ready`, `reachable`).
pub(crate) fn wire_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One node's pretty text, ending without a newline (the caller adds one per node).
pub fn render(n: &Node) -> String {
    let mut o = format!("ID:\t\t\t{}", n.id);
    if !n.spec.name.is_empty() {
        let _ = write!(o, "\nName:\t\t\t{}", n.spec.name);
    }
    labels(&mut o, "Labels:", &n.spec.labels);
    let _ = write!(o, "\nHostname:              \t{}", n.description.hostname);
    let _ = write!(
        o,
        "\nJoined at:             \t{}",
        pretty_print(&go_string(&n.meta.created_at))
    );
    let _ = write!(
        o,
        "\nStatus:\n State:\t\t\t{}",
        pretty_print(&wire_name(&n.status.state))
    );
    if !n.status.message.is_empty() {
        let _ = write!(
            o,
            "\n Message:              \t{}",
            pretty_print(&n.status.message)
        );
    }
    let _ = write!(
        o,
        "\n Availability:         \t{}",
        pretty_print(n.spec.availability.as_str())
    );
    if !n.status.addr.is_empty() {
        let _ = write!(o, "\n Address:\t\t{}", n.status.addr);
    }
    if let Some(ms) = &n.manager_status {
        let _ = write!(o, "\nManager Status:\n Address:\t\t{}", ms.addr);
        let _ = write!(
            o,
            "\n Raft Status:\t\t{}",
            pretty_print(&wire_name(&ms.reachability))
        );
        let _ = write!(o, "\n Leader:\t\t{}", if ms.leader { "Yes" } else { "No" });
    }
    platform_and_resources(&mut o, n);
    engine_and_tls(&mut o, n);
    o
}

fn platform_and_resources(o: &mut String, n: &Node) {
    let d = &n.description;
    let _ = write!(o, "\nPlatform:\n Operating System:\t{}", d.platform.os);
    let _ = write!(o, "\n Architecture:\t\t{}", d.platform.architecture);
    let _ = write!(
        o,
        "\nResources:\n CPUs:\t\t\t{}",
        d.resources.nano_cpus / 1_000_000_000
    );
    let memory = match d.resources.memory_bytes {
        0 => String::new(),
        m => bytes_size(m as f64),
    };
    let _ = write!(o, "\n Memory:\t\t{memory}");
}

fn engine_and_tls(o: &mut String, n: &Node) {
    let e = &n.description.engine;
    if !e.plugins.is_empty() {
        let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for p in &e.plugins {
            by_type
                .entry(p.kind.as_str())
                .or_default()
                .push(p.name.as_str());
        }
        o.push_str("\nPlugins:");
        for (kind, names) in by_type {
            let names = names.join(", ");
            let _ = write!(o, "\n {kind}:");
            if !names.is_empty() {
                let _ = write!(o, "\t\t{names}");
            }
        }
    }
    let _ = write!(o, "\nEngine Version:\t\t{}", e.engine_version);
    labels(o, "Engine Labels:", &e.labels);
    let tls = &n.description.tls_info;
    if !(tls.trust_root.is_empty()
        && tls.cert_issuer_subject.is_empty()
        && tls.cert_issuer_public_key.is_empty())
    {
        let _ = write!(o, "\nTLS Info:\n TrustRoot:\n{}", tls.trust_root);
        // The API already carries the issuer fields base64-encoded, as docker prints them.
        let _ = write!(o, "\n Issuer Subject:\t{}", tls.cert_issuer_subject);
        let _ = write!(o, "\n Issuer Public Key:\t{}", tls.cert_issuer_public_key);
    }
}

/// `Labels:` then ` - k=v` (or ` - k` for an empty value), sorted as Go ranges a map.
fn labels(o: &mut String, title: &str, labels: &BTreeMap<String, String>) {
    if labels.is_empty() {
        return;
    }
    let _ = write!(o, "\n{title}");
    for (k, v) in labels {
        let _ = write!(o, "\n - {k}");
        if !v.is_empty() {
            let _ = write!(o, "={v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_types::{Availability, NodeRole, NodeState, TlsInfo};

    /// docker/cli's `TestNodeInspectWriteContext` fixture and expectation.
    #[test]
    fn matches_docker_golden() {
        let mut n = Node {
            id: "nodeID1".into(),
            ..Default::default()
        };
        n.description.hostname = "foobar_baz".into();
        n.description.tls_info = TlsInfo {
            trust_root: "-----BEGIN CERTIFICATE-----\ndata\n-----END CERTIFICATE-----\n".into(),
            cert_issuer_subject: "c3ViamVjdA==".into(),
            cert_issuer_public_key: "cHViS2V5".into(),
        };
        n.description.platform.os = "linux".into();
        n.description.platform.architecture = "amd64".into();
        n.description.resources.memory_bytes = 1;
        n.description.engine.engine_version = "0.1.1".into();
        n.status.state = NodeState::Ready;
        n.status.addr = "1.1.1.1".into();
        n.spec.availability = Availability::Drain;
        n.spec.role = NodeRole::Manager;
        let want = "ID:\t\t\tnodeID1\nHostname:              \tfoobar_baz\n\
            Joined at:             \t0001-01-01 00:00:00 +0000 utc\nStatus:\n State:\t\t\tReady\n \
            Availability:         \tDrain\n Address:\t\t1.1.1.1\nPlatform:\n \
            Operating System:\tlinux\n Architecture:\t\tamd64\nResources:\n CPUs:\t\t\t0\n \
            Memory:\t\t1B\nEngine Version:\t\t0.1.1\nTLS Info:\n TrustRoot:\n\
            -----BEGIN CERTIFICATE-----\ndata\n-----END CERTIFICATE-----\n\n \
            Issuer Subject:\tc3ViamVjdA==\n Issuer Public Key:\tcHViS2V5";
        assert_eq!(render(&n), want);
    }

    #[test]
    fn manager_labels_and_plugins() {
        let n: Node = serde_json::from_value(serde_json::json!({
            "ID": "n1", "CreatedAt": "2024-05-01T10:20:30.5Z",
            "Spec": {"Name": "web", "Labels": {"zone": "a", "ssd": ""}, "Role": "manager",
                     "Availability": "active"},
            "Description": {"Hostname": "h1", "Resources": {"NanoCPUs": 4_000_000_000_i64},
                "Engine": {"EngineVersion": "28.2.2", "Plugins": [
                    {"Type": "Network", "Name": "overlay"}, {"Type": "Log", "Name": "json-file"},
                    {"Type": "Network", "Name": "bridge"}]}},
            "Status": {"State": "ready"},
            "ManagerStatus": {"Leader": true, "Reachability": "reachable", "Addr": "10.0.0.1:2377"}
        }))
        .unwrap();
        let out = render(&n);
        assert!(
            out.starts_with("ID:\t\t\tn1\nName:\t\t\tweb\nLabels:\n - ssd\n - zone=a\n"),
            "{out}"
        );
        assert!(out.contains("Joined at:             \t2024-05-01 10:20:30.5 +0000 utc\n"));
        assert!(out.contains(
            "\nManager Status:\n Address:\t\t10.0.0.1:2377\n Raft Status:\t\tReachable\n Leader:\t\tYes\n"
        ));
        assert!(out.contains(" CPUs:\t\t\t4\n Memory:\t\t\n"), "{out}");
        assert!(out.ends_with(
            "Plugins:\n Log:\t\tjson-file\n Network:\t\toverlay, bridge\nEngine Version:\t\t28.2.2"
        ));
    }
}
