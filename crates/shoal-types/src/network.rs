//! Swarm-scoped networks: the user's create request (the Engine API's own model), and what
//! the manager allocated for it (subnet, gateway, VXLAN ID). The API shows moby's
//! `NetworkResource` shape.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use bollard_stubs::models::{Ipam, IpamConfig, NetworkCreateRequest};

use crate::meta::Meta;

/// A stored network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(flatten)]
    pub meta: Meta,
    pub spec: NetworkCreateRequest,
    /// The allocated subnet (CIDR) and gateway.
    #[serde(rename = "ShoalSubnet", default)]
    pub subnet: String,
    #[serde(rename = "ShoalGateway", default)]
    pub gateway: String,
    /// The VXLAN network identifier of the overlay.
    #[serde(rename = "ShoalVNI", default)]
    pub vni: u32,
}

impl Network {
    /// The name users refer to it by.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Whether this is the routing mesh's network.
    pub fn is_ingress(&self) -> bool {
        self.spec.ingress == Some(true)
    }

    /// moby's `NetworkResource` JSON (`GET /networks/{id}`).
    pub fn to_api(&self) -> Value {
        let ipam_driver = self
            .spec
            .ipam
            .as_ref()
            .and_then(|i| i.driver.clone())
            .unwrap_or_else(|| "default".into());
        json!({
            "Name": self.spec.name,
            "Id": self.id,
            "Created": self.meta.created_at,
            "Scope": "swarm",
            "Driver": self.spec.driver.clone().unwrap_or_else(|| "overlay".into()),
            "EnableIPv4": true,
            "EnableIPv6": self.spec.enable_ipv6.unwrap_or(false),
            "IPAM": {
                "Driver": ipam_driver,
                "Options": null,
                "Config": [{"Subnet": self.subnet, "Gateway": self.gateway}],
            },
            "Internal": self.spec.internal.unwrap_or(false),
            "Attachable": self.spec.attachable.unwrap_or(false),
            "Ingress": self.is_ingress(),
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": {},
            "Options": {
                "com.docker.network.driver.overlay.vxlanid_list": self.vni.to_string(),
            },
            "Labels": self.spec.labels.clone().unwrap_or_default(),
        })
    }
}
