//! The live state of a Windows host as the observe script
//! (`powershell::observe_script`) prints it: one JSON object, read with
//! serde. Only the objects the program names or the inventory lists are
//! observed, each under the name or path it was asked for (so keys match
//! exactly, although Windows compares names and paths without case).
//!
//! ```json
//! {"firewall_rules": [{"name": "OverlayTraffic4789UDP", "direction": "Inbound",
//!    "protocol": "UDP", "local_port": "4789", "action": "Allow", "enabled": true}],
//!  "files": {"C:\\etc\\cni\\net.d\\10-flannel.conf": "{...}"},
//!  "hns_networks": [{"name": "cbr0", "type": "L2Bridge", "adapter": "Ethernet",
//!    "subnets": [{"address_prefix": "10.244.21.0/24", "gateway": "10.244.21.1"}]}],
//!  "hns_endpoints": [{"name": "cbr0_ep", "network": "cbr0", "address": "10.244.21.2",
//!    "forwarding": true}],
//!  "source_vip_files": {"C:\\k\\sourcevip.json": "10.244.2.5/24"}}
//! ```
//!
//! A missing file is absent from `files` and `source_vip_files`; a source
//! VIP file that exists but records no readable address is `null` there.
//! Several HNS networks may share a name (HNS allows it); each is listed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::objects::WindowsKey;

/// The keys netc created or adopted on a Windows node in earlier applies.
pub type WindowsInventory = BTreeSet<WindowsKey>;

#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsObserved {
    #[serde(default)]
    pub firewall_rules: Vec<ObservedFirewallRule>,
    /// Path to content (`[IO.File]::ReadAllText`).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub hns_networks: Vec<ObservedHnsNetwork>,
    #[serde(default)]
    pub hns_endpoints: Vec<ObservedHnsEndpoint>,
    /// Path to the first address the file records (a CNI result's
    /// `.ips[0].address`, or a host-local request's subnet), `None` when it
    /// records none.
    #[serde(default)]
    pub source_vip_files: BTreeMap<String, Option<String>>,
}

/// `Get-NetFirewallRule` and its `Get-NetFirewallPortFilter`, as strings.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedFirewallRule {
    pub name: String,
    pub direction: String,
    pub protocol: String,
    /// The local ports, comma-separated (`Any` when unrestricted).
    pub local_port: String,
    pub action: String,
    pub enabled: bool,
}

/// One network of `Get-HnsNetwork` (hns.psm1).
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedHnsNetwork {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub subnets: Vec<ObservedSubnet>,
    /// `NetworkAdapterName`: the physical adapter under the vSwitch.
    #[serde(default)]
    pub adapter: Option<String>,
}

/// One endpoint of `Get-HnsEndpoint` (hns.psm1) and its host interface.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedHnsEndpoint {
    pub name: String,
    /// `VirtualNetworkName`.
    #[serde(default)]
    pub network: Option<String>,
    /// `IPAddress`.
    #[serde(default)]
    pub address: Option<String>,
    /// The host has a `vEthernet (<name>)` IPv4 interface (the endpoint is
    /// attached to the host compartment) with forwarding enabled.
    pub forwarding: bool,
}

#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedSubnet {
    pub address_prefix: String,
    #[serde(default)]
    pub gateway: Option<String>,
}
