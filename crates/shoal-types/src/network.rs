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

    /// The MTU its tasks' interfaces get.
    pub fn mtu(&self) -> u32 {
        self.spec
            .options
            .as_ref()
            .and_then(|o| o.get(MTU_OPTION))
            .and_then(|v| parse_mtu(v).ok())
            .filter(|m| *m > 0)
            .unwrap_or(DEFAULT_MTU)
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
            "Options": self.api_options(),
            "Labels": self.spec.labels.clone().unwrap_or_default(),
        })
    }
}

impl Network {
    /// The driver options as moby shows them: the user's, and the VXLAN ID.
    fn api_options(&self) -> Value {
        let mut options = self.spec.options.clone().unwrap_or_default();
        options.insert(VXLAN_OPTION.to_string(), self.vni.to_string());
        json!(options)
    }
}

/// The VXLAN ID option moby shows in a network's driver state.
pub const VXLAN_OPTION: &str = "com.docker.network.driver.overlay.vxlanid_list";

/// The driver option setting a network's MTU (`network create --opt
/// com.docker.network.driver.mtu=1400`); without it overlays use 1450, the 1500 of a usual
/// link less VXLAN's 50 bytes.
pub const MTU_OPTION: &str = "com.docker.network.driver.mtu";

/// An overlay's MTU when none is set.
pub const DEFAULT_MTU: u32 = 1450;

/// The MTU an `--opt com.docker.network.driver.mtu` value asks for (0: the default), or
/// Docker's overlay driver's refusal.
pub fn parse_mtu(value: &str) -> Result<u32, String> {
    let mtu: i64 = value.trim().parse().map_err(|_| {
        format!("failed to parse {value}: strconv.Atoi: parsing \"{value}\": invalid syntax")
    })?;
    // 68 is IPv4's smallest MTU; a VXLAN device takes at most 65535.
    if mtu != 0 && !(68..=65535).contains(&mtu) {
        return Err(format!("invalid MTU value: {mtu}"));
    }
    Ok(mtu as u32)
}

/// One of `Task.NetworksAttachments`: the network as it was when the task was made, and the
/// task's address on it (`10.0.1.5/24`). The agent builds the task's side of the network from
/// it alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAttachment {
    pub network: AttachedNetwork,
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// The network of an attachment, in the shape of swarm's `Network` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedNetwork {
    #[serde(rename = "ID")]
    pub id: String,
    pub spec: AttachedSpec,
    pub driver_state: DriverState,
    #[serde(rename = "IPAMOptions")]
    pub ipam_options: IpamOptions,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DriverState {
    pub name: String,
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamOptions {
    #[serde(default)]
    pub configs: Vec<IpamSubnet>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamSubnet {
    pub subnet: String,
    pub gateway: String,
}

impl Network {
    /// This network as a task attached to it at `address` (CIDR form) records it.
    pub fn attachment(&self, address: String) -> NetworkAttachment {
        NetworkAttachment {
            network: AttachedNetwork {
                id: self.id.clone(),
                spec: AttachedSpec {
                    name: self.spec.name.clone(),
                    internal: self.spec.internal.unwrap_or(false),
                },
                driver_state: DriverState {
                    name: "overlay".into(),
                    options: [
                        (VXLAN_OPTION.to_string(), self.vni.to_string()),
                        (MTU_OPTION.to_string(), self.mtu().to_string()),
                    ]
                    .into(),
                },
                ipam_options: IpamOptions {
                    configs: vec![IpamSubnet {
                        subnet: self.subnet.clone(),
                        gateway: self.gateway.clone(),
                    }],
                },
            },
            addresses: vec![address],
        }
    }
}

impl NetworkAttachment {
    /// The MTU of the task's interface on the network (attachments made before the option
    /// was carried have none: the default).
    pub fn mtu(&self) -> u32 {
        self.network
            .driver_state
            .options
            .get(MTU_OPTION)
            .and_then(|v| v.parse().ok())
            .filter(|m| *m > 0)
            .unwrap_or(DEFAULT_MTU)
    }

    /// The task's address without its prefix length.
    pub fn ip(&self) -> Option<std::net::Ipv4Addr> {
        let first = self.addresses.first()?;
        first.split('/').next()?.parse().ok()
    }

    /// The network's subnet and gateway.
    pub fn subnet(&self) -> Option<&IpamSubnet> {
        self.network.ipam_options.configs.first()
    }

    /// The VXLAN ID.
    pub fn vni(&self) -> Option<u32> {
        self.network
            .driver_state
            .options
            .get(VXLAN_OPTION)?
            .parse()
            .ok()
    }
}
