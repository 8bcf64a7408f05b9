//! Published ports with the docker driver. Host-mode ports bind the published port itself (a
//! random one for 0); ingress-mode ports bind a random node port, which the node reports in
//! the task's `PortStatus` so every node's routing mesh can forward to it.

use std::collections::HashMap;

use bollard::models::{ContainerInspectResponse, PortBinding, PortMap};
use shoal_types::service::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum as Proto,
    EndpointPortConfigPublishModeEnum as Mode,
};
use shoal_types::task::PortStatus;

use crate::driver::published_ports;
use shoal_types::Task;

fn proto_name(p: &EndpointPortConfig) -> &'static str {
    match p.protocol {
        Some(Proto::UDP) => "udp",
        Some(Proto::SCTP) => "sctp",
        _ => "tcp",
    }
}

/// The container's exposed ports and their bindings.
pub fn bindings(task: &Task) -> Option<(Vec<String>, PortMap)> {
    let ports = published_ports(task);
    if ports.is_empty() {
        return None;
    }
    let mut map: PortMap = HashMap::new();
    for p in &ports {
        let key = format!("{}/{}", p.target_port.unwrap_or(0), proto_name(p));
        let host_port = match p.publish_mode {
            Some(Mode::HOST) => p.published_port.filter(|n| *n > 0).map(|n| n.to_string()),
            _ => None,
        };
        map.entry(key).or_insert_with(|| {
            Some(vec![PortBinding {
                host_ip: None,
                host_port: Some(host_port.unwrap_or_default()),
            }])
        });
    }
    Some((map.keys().cloned().collect(), map))
}

/// The node ports the engine bound for the container, as the task's port status.
pub fn port_status(c: &ContainerInspectResponse) -> Option<PortStatus> {
    let ports = c.network_settings.as_ref()?.ports.as_ref()?;
    let mut out: Vec<EndpointPortConfig> = ports
        .iter()
        .filter_map(|(key, bound)| {
            let (target, proto) = key.split_once('/')?;
            let host_port = bound
                .iter()
                .flatten()
                .find_map(|b| b.host_port.as_deref()?.parse::<i64>().ok())?;
            Some(EndpointPortConfig {
                protocol: Some(match proto {
                    "udp" => Proto::UDP,
                    "sctp" => Proto::SCTP,
                    _ => Proto::TCP,
                }),
                target_port: Some(target.parse().ok()?),
                published_port: Some(host_port),
                publish_mode: Some(Mode::HOST),
                ..Default::default()
            })
        })
        .collect();
    if out.is_empty() {
        return None;
    }
    out.sort_by_key(|p| (p.target_port, p.published_port));
    Some(PortStatus { ports: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_ports_bind_a_random_node_port_host_ports_their_own() {
        let t = Task {
            endpoint: Some(shoal_types::service::ServiceEndpoint {
                ports: vec![
                    EndpointPortConfig {
                        target_port: Some(80),
                        published_port: Some(8080),
                        ..Default::default()
                    },
                    EndpointPortConfig {
                        target_port: Some(53),
                        published_port: Some(5353),
                        protocol: Some(Proto::UDP),
                        publish_mode: Some(Mode::HOST),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let (mut exposed, map) = bindings(&t).unwrap();
        exposed.sort();
        assert_eq!(exposed, ["53/udp", "80/tcp"]);
        let port = |k: &str| map[k].as_ref().unwrap()[0].host_port.clone().unwrap();
        assert_eq!(port("80/tcp"), "", "the engine picks");
        assert_eq!(port("53/udp"), "5353");
    }

    #[test]
    fn bound_ports_become_the_port_status() {
        let c: ContainerInspectResponse = serde_json::from_value(serde_json::json!({
            "NetworkSettings": {"Ports": {
                "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}, {"HostIp": "::", "HostPort": "32768"}],
                "9000/tcp": null
            }}
        }))
        .unwrap();
        let s = port_status(&c).unwrap();
        assert_eq!(s.ports.len(), 1);
        assert_eq!(s.ports[0].target_port, Some(80));
        assert_eq!(s.ports[0].published_port, Some(32768));
    }
}
