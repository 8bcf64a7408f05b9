//! A task's overlay networks on this node's Docker Engine: each is a local bridge network with
//! the overlay's subnet and gateway, on a bridge of a known name (so the netplane can join it
//! to the other nodes over VXLAN), and the container takes the address the manager gave it.
//! The first network is the container's own (`NetworkMode`); others are connected before it
//! starts.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig,
    NetworkConnectRequest, NetworkCreateRequest, NetworkingConfig,
};
use shoal_types::Task;
use shoal_types::network::NetworkAttachment;
use shoal_types::overlay::bridge_name;

use crate::driver::DriverError;

/// The label naming the swarm network a Docker network stands for.
const NETWORK_ID_LABEL: &str = "com.docker.swarm.network.id";
/// The label naming the node that made it (as its containers carry).
const NODE_ID_LABEL: &str = "com.docker.swarm.node.id";

/// The Docker network standing for an overlay on this node.
pub fn docker_name(a: &NetworkAttachment) -> String {
    let id = &a.network.id;
    format!("{}_{}", a.network.spec.name, &id[..id.len().min(12)])
}

/// Makes the Docker networks of the task's overlays that do not exist yet, labelled with the
/// swarm network and this node.
pub async fn ensure(docker: &Docker, task: &Task, node_id: &str) -> Result<(), DriverError> {
    for a in &task.networks {
        let name = docker_name(a);
        match docker.inspect_network(&name, None).await {
            Ok(_) => continue,
            Err(e) if super::status_is(&e, 404) => {}
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = docker.create_network(create_request(a, node_id)).await {
            // Made meanwhile for another task of the network (Docker may then refuse the
            // create for its name or for its subnet): fine if it exists now.
            if docker.inspect_network(&name, None).await.is_err() {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

fn create_request(a: &NetworkAttachment, node_id: &str) -> NetworkCreateRequest {
    let (subnet, gateway) = a
        .subnet()
        .map(|s| (s.subnet.clone(), s.gateway.clone()))
        .unwrap_or_default();
    let options: HashMap<String, String> = [
        ("com.docker.network.bridge.name", bridge_name(&a.network.id)),
        // 1450 unless the network sets one: 1500 less VXLAN's 50 bytes of headers.
        ("com.docker.network.driver.mtu", a.mtu().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    NetworkCreateRequest {
        name: docker_name(a),
        driver: Some("bridge".into()),
        internal: Some(a.network.spec.internal),
        ipam: Some(Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(subnet),
                gateway: Some(gateway),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        options: Some(options),
        labels: Some(
            [
                (NETWORK_ID_LABEL.to_string(), a.network.id.clone()),
                (NODE_ID_LABEL.to_string(), node_id.to_string()),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

/// The container's endpoint on network `a`: its address. No aliases: Docker's resolver
/// would answer them with this node's containers only, so service names and aliases are left
/// to the netplane's DNS, which knows every node's.
fn endpoint(a: &NetworkAttachment) -> EndpointSettings {
    EndpointSettings {
        ipam_config: a.ip().map(|ip| EndpointIpamConfig {
            ipv4_address: Some(ip.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Puts the container on its first overlay network, with the network's gateway (where the
/// netplane's DNS answers) as its resolver.
pub fn attach_first(task: &Task, body: &mut ContainerCreateBody) {
    let Some(first) = task.networks.first() else {
        return;
    };
    let name = docker_name(first);
    if let Some(hc) = body.host_config.as_mut() {
        hc.network_mode = Some(name.clone());
        hc.dns = first.subnet().map(|s| vec![s.gateway.clone()]);
    }
    body.networking_config = Some(NetworkingConfig {
        endpoints_config: Some([(name, endpoint(first))].into()),
    });
}

/// Connects the created container to its other overlay networks.
pub async fn connect_rest(docker: &Docker, task: &Task) -> Result<(), DriverError> {
    for a in task.networks.iter().skip(1) {
        let request = NetworkConnectRequest {
            container: task.container_name(),
            endpoint_config: Some(endpoint(a)),
        };
        match docker.connect_network(&docker_name(a), request).await {
            Ok(()) => {}
            // Connected by an earlier attempt.
            Err(e) if super::status_is(&e, 403) || super::status_is(&e, 409) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
