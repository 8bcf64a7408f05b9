//! The routing mesh's table from cluster state: for each port a service publishes in ingress
//! mode, the node addresses and node-local ports where its running tasks answer (a task's
//! `PortStatus`: the agent publishes each target port on its node). Sent to every node; a
//! task leaves the table as soon as it is no longer running or is asked to stop, so new
//! connections go elsewhere before it is shut down.

use std::collections::BTreeMap;

use shoal_types::mesh::{MeshRoute, PROXY_PROTOCOL_LABEL};
use shoal_types::service::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum as Proto,
    EndpointPortConfigPublishModeEnum as PublishMode,
};
use shoal_types::{Node, NodeState, Service, Task, TaskState};

/// The whole table, sorted (so two tables compare equal when nothing changed).
pub fn mesh_routes(services: &[Service], tasks: &[Task], nodes: &[Node]) -> Vec<MeshRoute> {
    let addr: BTreeMap<&str, &str> = nodes
        .iter()
        .filter(|n| n.status.state == NodeState::Ready && !n.status.addr.is_empty())
        .map(|n| (n.id.as_str(), n.status.addr.as_str()))
        .collect();
    let mut by_service: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
    for t in tasks.iter().filter(|t| serving(t)) {
        by_service.entry(t.service_id.as_str()).or_default().push(t);
    }
    let mut routes = Vec::new();
    for s in services {
        for p in s.endpoint.ports.iter().filter(|p| ingress(p)) {
            let Some(protocol) = protocol_name(p) else {
                continue;
            };
            let mut backends: Vec<String> = by_service
                .get(s.id.as_str())
                .into_iter()
                .flatten()
                .filter_map(|t| backend(addr.get(t.node_id.as_str())?, node_port(t, p)?))
                .collect();
            backends.sort();
            routes.push(MeshRoute {
                port: p.published_port.unwrap_or(0) as u16,
                protocol: protocol.into(),
                backends,
                proxy_protocol: proxy_protocol(s, p),
            });
        }
    }
    routes.sort();
    routes
}

/// `ip:port` (`[ip]:port` for IPv6) of a task on a node; `None` for an unusable address.
fn backend(node_addr: &str, port: i64) -> Option<String> {
    let ip: std::net::IpAddr = node_addr.parse().ok()?;
    Some(std::net::SocketAddr::new(ip, u16::try_from(port).ok()?).to_string())
}

/// Running and meant to keep running.
fn serving(t: &Task) -> bool {
    t.status.state == TaskState::Running && t.desired_state == TaskState::Running
}

fn ingress(p: &EndpointPortConfig) -> bool {
    p.publish_mode != Some(PublishMode::HOST) && p.published_port.unwrap_or(0) > 0
}

fn protocol_name(p: &EndpointPortConfig) -> Option<&'static str> {
    match p.protocol {
        None | Some(Proto::TCP) | Some(Proto::EMPTY) => Some("tcp"),
        Some(Proto::UDP) => Some("udp"),
        Some(Proto::SCTP) => None,
    }
}

/// Where on its node the task serves the port's target (its `PortStatus`).
fn node_port(t: &Task, p: &EndpointPortConfig) -> Option<i64> {
    t.status
        .port_status
        .as_ref()?
        .ports
        .iter()
        .find(|s| s.target_port == p.target_port && protocol_name(s) == protocol_name(p))
        .and_then(|s| s.published_port)
        .filter(|port| *port > 0)
}

fn proxy_protocol(s: &Service, p: &EndpointPortConfig) -> bool {
    let Some(v) = s
        .spec
        .labels
        .as_ref()
        .and_then(|l| l.get(PROXY_PROTOCOL_LABEL))
    else {
        return false;
    };
    let published = p.published_port.unwrap_or(0).to_string();
    v.split(',')
        .map(str::trim)
        .any(|x| x == "all" || x == published)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_types::service::ServiceEndpoint;
    use shoal_types::task::PortStatus;

    fn port(target: i64, published: i64, mode: Option<PublishMode>) -> EndpointPortConfig {
        EndpointPortConfig {
            target_port: Some(target),
            published_port: Some(published),
            publish_mode: mode,
            ..Default::default()
        }
    }

    fn task(id: &str, node: &str, node_port: i64, state: TaskState, desired: TaskState) -> Task {
        let mut t = Task {
            id: id.into(),
            service_id: "s1".into(),
            node_id: node.into(),
            desired_state: desired,
            ..Default::default()
        };
        t.status.state = state;
        t.status.port_status = Some(PortStatus {
            ports: vec![port(80, node_port, Some(PublishMode::HOST))],
        });
        t
    }

    fn node(id: &str, addr: &str, state: NodeState) -> Node {
        let mut n = Node {
            id: id.into(),
            ..Default::default()
        };
        n.status.state = state;
        n.status.addr = addr.into();
        n
    }

    #[test]
    fn running_tasks_on_ready_nodes_back_each_ingress_port() {
        let mut s = Service {
            id: "s1".into(),
            endpoint: ServiceEndpoint {
                ports: vec![
                    port(80, 8080, None),
                    port(80, 9090, Some(PublishMode::HOST)),
                ],
                ..Default::default()
            },
            ..Default::default()
        };
        let run = TaskState::Running;
        let tasks = [
            task("a", "n1", 32768, run, run),
            task("b", "n2", 32769, run, run),
            task("c", "n3", 32770, run, run), // node down
            task("d", "n1", 32771, TaskState::Starting, run), // not running yet
            task("e", "n2", 32772, run, TaskState::Shutdown), // being stopped
        ];
        let nodes = [
            node("n1", "10.0.0.1", NodeState::Ready),
            node("n2", "10.0.0.2", NodeState::Ready),
            node("n3", "10.0.0.3", NodeState::Down),
        ];
        let routes = mesh_routes(std::slice::from_ref(&s), &tasks, &nodes);
        assert_eq!(
            routes,
            [MeshRoute {
                port: 8080,
                protocol: "tcp".into(),
                backends: vec!["10.0.0.1:32768".into(), "10.0.0.2:32769".into()],
                proxy_protocol: false,
            }],
            "host-mode ports are not routed"
        );
        s.spec.labels = Some([(PROXY_PROTOCOL_LABEL.to_string(), "8080".to_string())].into());
        assert!(mesh_routes(&[s], &tasks, &nodes)[0].proxy_protocol);
    }
}
