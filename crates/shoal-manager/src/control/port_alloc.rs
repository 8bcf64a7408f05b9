//! Published ports left to the swarm (`-p 80`, `PublishedPort` 0): an ingress port gets the
//! lowest free port of swarmkit's dynamic range 30000–32767, kept across updates. Host-mode
//! ports stay 0: the node picks one when it starts the task, as Docker does.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use shoal_types::service::{EndpointPortConfig, ServiceEndpoint};
use shoal_types::{Error, Service};

use super::service_validate as rules;

/// swarmkit's `dynamicPortStart..=dynamicPortEnd`.
pub const DYNAMIC_PORTS: RangeInclusive<i64> = 30000..=32767;

/// Fills the ingress ports of `endpoint` that have no published port yet, avoiding every port
/// another service (not `self_id`) or this endpoint already publishes.
pub(crate) fn assign(
    endpoint: &mut ServiceEndpoint,
    others: &[Service],
    self_id: &str,
) -> Result<(), Error> {
    let published = |p: &EndpointPortConfig| p.published_port.unwrap_or(0);
    let mut used: BTreeSet<(i64, String)> = others
        .iter()
        .filter(|s| s.id != self_id)
        .flat_map(|s| s.endpoint.ports.iter())
        .chain(endpoint.ports.iter())
        .filter(|p| published(p) != 0)
        .map(|p| (published(p), format!("{:?}", rules::protocol(p))))
        .collect();
    for p in endpoint.ports.iter_mut() {
        if published(p) != 0 || rules::host_mode(p) {
            continue;
        }
        let proto = format!("{:?}", rules::protocol(p));
        let Some(port) = DYNAMIC_PORTS
            .clone()
            .find(|n| !used.contains(&(*n, proto.clone())))
        else {
            return Err(Error::invalid(format!(
                "no free port left in {}-{} to publish port {}",
                DYNAMIC_PORTS.start(),
                DYNAMIC_PORTS.end(),
                p.target_port.unwrap_or(0)
            )));
        };
        used.insert((port, proto));
        p.published_port = Some(port);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(target: i64, published: i64) -> EndpointPortConfig {
        EndpointPortConfig {
            target_port: Some(target),
            published_port: Some(published),
            ..Default::default()
        }
    }

    #[test]
    fn unpublished_ingress_ports_get_the_lowest_free_dynamic_port() {
        let other = Service {
            id: "other".into(),
            endpoint: ServiceEndpoint {
                ports: vec![port(80, 30000), port(81, 30002)],
                ..Default::default()
            },
            ..Default::default()
        };
        let mut ep = ServiceEndpoint {
            ports: vec![port(80, 0), port(443, 0), port(8080, 30001)],
            ..Default::default()
        };
        assign(&mut ep, &[other], "me").unwrap();
        let got: Vec<i64> = ep.ports.iter().map(|p| p.published_port.unwrap()).collect();
        assert_eq!(got, [30003, 30004, 30001]);
    }
}
