//! `/networks`: swarm-scoped overlay networks (create, list, inspect, remove), their subnets
//! allocated from the cluster's default address pool (10.0.0.0/8 in /24s by default; `ingress`
//! takes the first), and swarmkit's refusals (`network X is in use by service Y`). The data
//! plane that joins them across nodes is the networking issue's netplane.

use shoal_store::{ReadTx, StoreError};
use shoal_types::network::{MTU_OPTION, NetworkCreateRequest, parse_mtu};
use shoal_types::{Cluster, Error, Filters, Kind, Network, Service, StoreObject};

use super::lookup::resolve;
use super::service::TxError;
use super::service_validate::rpc;
use crate::ipam::{Cidr, allocate};
use crate::manager::Manager;

/// Filter keys `GET /networks` accepts (moby `validateNetworkFilters`).
const FILTERS: &[&str] = &["dangling", "driver", "id", "label", "name", "scope", "type"];

/// The first VXLAN ID (Docker's overlay driver starts at 4096 + 1).
const FIRST_VNI: u32 = 4097;

fn used_subnets(view: &ReadTx<'_>) -> Vec<Cidr> {
    view.list::<Network>()
        .iter()
        .filter_map(|n| Cidr::parse(&n.subnet))
        .collect()
}

/// The `ingress` network a new swarm starts with (the routing mesh's), on the first subnet.
pub(crate) fn ingress_network(cluster: &Cluster) -> Result<Network, Error> {
    let subnet = allocate(&cluster.default_addr_pool, cluster.subnet_size, &[])
        .ok_or_else(|| Error::invalid("the default address pool has no room for ingress"))?;
    Ok(Network {
        id: shoal_types::new_id(),
        spec: NetworkCreateRequest {
            name: "ingress".into(),
            driver: Some("overlay".into()),
            ingress: Some(true),
            ..Default::default()
        },
        subnet: subnet.text(),
        gateway: subnet.gateway(),
        vni: FIRST_VNI,
        ..Default::default()
    })
}

fn matches(n: &Network, f: &Filters) -> bool {
    let labels = n
        .spec
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    f.any("id", |v| n.id.starts_with(v))
        && f.any("name", |v| n.name().contains(v))
        && f.any("driver", |v| v == "overlay")
        && f.any("scope", |v| v == "swarm")
        && f.any("type", |v| {
            v == "custom" || (v == "builtin" && n.is_ingress())
        })
        && f.labels_match("label", &labels)
}

impl Manager {
    /// `POST /networks/create`: the new network's ID.
    pub async fn create_network(&self, mut spec: NetworkCreateRequest) -> Result<String, Error> {
        if spec.name.is_empty() {
            return Err(rpc("InvalidArgument", "network name must be provided"));
        }
        match spec.driver.as_deref() {
            None | Some("") | Some("overlay") => spec.driver = Some("overlay".into()),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "network driver \"{other}\" is not supported: shoal's networks are \
                     swarm-scoped overlays (use -d overlay)"
                )));
            }
        }
        if spec.ingress == Some(true) {
            return Err(rpc("AlreadyExists", "ingress network already exists"));
        }
        if let Some(v) = spec.options.as_ref().and_then(|o| o.get(MTU_OPTION)) {
            parse_mtu(v).map_err(Error::invalid)?;
        }
        let requested = spec
            .ipam
            .as_ref()
            .and_then(|i| i.config.as_ref())
            .and_then(|c| c.first().cloned());
        if let Some(c) = &requested
            && c.subnet.as_deref().unwrap_or("").is_empty()
            && !c.gateway.as_deref().unwrap_or("").is_empty()
        {
            // The docker CLI's own check (`consolidateIpam`), for clients that skip it.
            return Err(Error::invalid(
                "every ip-range or gateway must have a corresponding subnet",
            ));
        }
        let cluster = self.cluster()?;
        let name = spec.name.clone();
        let id = shoal_types::new_id();
        self.store
            .update(|tx| {
                let used = used_subnets(tx.committed());
                let (subnet, gateway) = match requested.as_ref().and_then(|c| c.subnet.clone()) {
                    Some(s) => {
                        let c = Cidr::parse(&s).ok_or_else(|| {
                            Error::invalid(format!("invalid subnet {s}: expected an IPv4 CIDR"))
                        })?;
                        if used.iter().any(|u| u.overlaps(c)) {
                            return Err(TxError::Api(rpc(
                                "InvalidArgument",
                                format!("subnet {s} overlaps with another network's"),
                            )));
                        }
                        let gw = requested
                            .as_ref()
                            .and_then(|c| c.gateway.clone())
                            .unwrap_or_else(|| c.gateway());
                        (c.text(), gw)
                    }
                    None => {
                        let c = allocate(&cluster.default_addr_pool, cluster.subnet_size, &used)
                            .ok_or_else(|| {
                                Error::unavailable(
                                    "could not find an available, non-overlapping IPv4 address \
                                     pool among the defaults to assign to the network",
                                )
                            })?;
                        (c.text(), c.gateway())
                    }
                };
                let vni = tx
                    .list::<Network>()
                    .iter()
                    .map(|n| n.vni)
                    .max()
                    .map_or(FIRST_VNI, |v| v + 1);
                let network = Network {
                    id: id.clone(),
                    spec: spec.clone(),
                    subnet,
                    gateway,
                    vni,
                    ..Default::default()
                };
                tx.create(network).map_err(TxError::Store)
            })
            .await
            .map_err(|e| match e {
                TxError::Store(StoreError::NameConflict) => rpc(
                    "AlreadyExists",
                    format!("network with name {name} already exists"),
                ),
                e => e.into_api(),
            })?;
        Ok(id)
    }

    /// `GET /networks`.
    pub fn list_networks(&self, filters: &Filters) -> Result<Vec<serde_json::Value>, Error> {
        filters.validate(FILTERS)?;
        Ok(self
            .store
            .view(|v| v.list::<Network>())
            .iter()
            .filter(|n| matches(n, filters))
            .map(Network::to_api)
            .collect())
    }

    /// `GET /networks/{id}`: by ID, name or unique ID prefix.
    pub fn get_network(&self, input: &str) -> Result<serde_json::Value, Error> {
        let n = self
            .store
            .view(|v| resolve::<Network>(v, input, |n| n.name()))?;
        Ok(n.to_api())
    }

    /// `DELETE /networks/{id}`: refused while a service uses it.
    pub async fn remove_network(&self, input: &str) -> Result<(), Error> {
        self.store
            .update(|tx| {
                let n = resolve::<Network>(tx.committed(), input, |n| n.name())?;
                let user = tx.list::<Service>().into_iter().find(|s| {
                    service_networks(s)
                        .iter()
                        .any(|t| *t == n.id || *t == n.name())
                });
                if let Some(s) = user {
                    return Err(TxError::Api(rpc(
                        "FailedPrecondition",
                        format!("network {} is in use by service {}", n.name(), s.id),
                    )));
                }
                tx.delete(Kind::Network, n.id()).map_err(TxError::Store)
            })
            .await
            .map_err(TxError::into_api)
    }
}

/// The networks a service spec attaches to (task template first, then the deprecated field).
pub(crate) fn service_networks(s: &Service) -> Vec<String> {
    let from_template = s
        .spec
        .task_template
        .as_ref()
        .and_then(|t| t.networks.as_ref());
    from_template
        .or(s.spec.networks.as_ref())
        .map(|ns| ns.iter().filter_map(|n| n.target.clone()).collect())
        .unwrap_or_default()
}

/// moby resolves a service's network targets (ID, name or prefix) to IDs before swarmkit sees
/// them; the routing mesh's network cannot be attached explicitly.
pub(crate) fn resolve_service_networks(
    view: &ReadTx<'_>,
    spec: &mut shoal_types::service::ServiceSpec,
) -> Result<(), Error> {
    let Some(networks) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.networks.as_mut())
    else {
        return Ok(());
    };
    for attachment in networks.iter_mut() {
        let Some(target) = attachment.target.clone() else {
            continue;
        };
        let n = resolve::<Network>(view, &target, |n| n.name())?;
        if n.is_ingress() {
            return Err(rpc(
                "InvalidArgument",
                "Service cannot be explicitly attached to the ingress network \"ingress\"",
            ));
        }
        attachment.target = Some(n.id);
    }
    Ok(())
}
