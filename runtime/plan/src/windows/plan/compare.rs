//! How a desired Windows object differs from what the host has: the
//! observed state indexed by key (`Live`), and per object whether it is
//! absent, as desired, or changed in place or by a recreate, with the
//! differences in words and the disruption class (see the `plan` header).
//!
//! What is compared:
//! - firewall rule: direction, protocol, local port, action `Allow` and
//!   enabled (names of enum values without case, as Windows reads them);
//! - file: the content;
//! - HNS network: type (without case), the subnet (the only one), its
//!   gateway, and the adapter when the program names one; more than one
//!   network of the name is a difference too;
//! - HNS endpoint: its network and address, and that it is attached to the
//!   host with forwarding on; more than one endpoint of the name is a
//!   difference too;
//! - source VIP: the reservation exists, and no file of `stale_files`
//!   records an address outside the subnet (or none at all).
//!
//! Whether an HNS network or endpoint change recreates it, and its class,
//! come from the table shared with the pull-request preview
//! (`netc_compiler::preview::Setting`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::engine::Disruption;
use crate::reconcile::Difference;
use crate::windows::objects::{HnsNetwork, WindowsKey, WindowsObject};
use crate::windows::observed::{ObservedFirewallRule, ObservedHnsEndpoint, ObservedHnsNetwork, WindowsObserved};
use netc_compiler::preview::Setting;

/// Why creating an HNS network is a `Flap`.
const HNS_CREATION: &str = "absent; HNS builds a vSwitch on the adapter and moves the host's address onto it, so the node loses connectivity for a few seconds";

/// The observed state indexed by key.
pub(super) struct Live<'a> {
    firewall_rules: BTreeMap<&'a str, &'a ObservedFirewallRule>,
    files: &'a BTreeMap<String, String>,
    hns_networks: BTreeMap<&'a str, Vec<&'a ObservedHnsNetwork>>,
    hns_endpoints: BTreeMap<&'a str, Vec<&'a ObservedHnsEndpoint>>,
    source_vip_files: &'a BTreeMap<String, Option<String>>,
}

impl<'a> Live<'a> {
    pub(super) fn new(observed: &'a WindowsObserved) -> Self {
        let mut hns_networks: BTreeMap<&str, Vec<&ObservedHnsNetwork>> = BTreeMap::new();
        for network in &observed.hns_networks {
            hns_networks.entry(network.name.as_str()).or_default().push(network);
        }
        let mut hns_endpoints: BTreeMap<&str, Vec<&ObservedHnsEndpoint>> = BTreeMap::new();
        for endpoint in &observed.hns_endpoints {
            hns_endpoints.entry(endpoint.name.as_str()).or_default().push(endpoint);
        }
        Live {
            firewall_rules: observed.firewall_rules.iter().map(|r| (r.name.as_str(), r)).collect(),
            files: &observed.files,
            hns_networks,
            hns_endpoints,
            source_vip_files: &observed.source_vip_files,
        }
    }

    pub(super) fn has(&self, key: &WindowsKey) -> bool {
        match key {
            WindowsKey::FirewallRule(name) => self.firewall_rules.contains_key(name.as_str()),
            WindowsKey::File(path) => self.files.contains_key(path),
            WindowsKey::HnsNetwork(name) => self.hns_networks.contains_key(name.as_str()),
            WindowsKey::HnsEndpoint(name) => self.hns_endpoints.contains_key(name.as_str()),
            WindowsKey::SourceVip(path) => self.source_vip_files.contains_key(path),
        }
    }

    /// Whether `other` has exactly what this host has under `key`.
    pub(super) fn same_as(&self, other: &Live<'_>, key: &WindowsKey) -> bool {
        match key {
            WindowsKey::FirewallRule(name) => {
                self.firewall_rules.get(name.as_str()) == other.firewall_rules.get(name.as_str())
            }
            WindowsKey::File(path) => self.files.get(path) == other.files.get(path),
            WindowsKey::HnsNetwork(name) => {
                self.hns_networks.get(name.as_str()) == other.hns_networks.get(name.as_str())
            }
            WindowsKey::HnsEndpoint(name) => {
                self.hns_endpoints.get(name.as_str()) == other.hns_endpoints.get(name.as_str())
            }
            WindowsKey::SourceVip(path) => self.source_vip_files.get(path) == other.source_vip_files.get(path),
        }
    }

    /// What the host has under `key`, as the object that would make it so
    /// again (to undo a failed apply); `None` when it is absent or cannot
    /// be made again exactly: a source VIP (host-local hands out
    /// addresses, it does not take them back), a firewall rule that is not
    /// an enabled allow rule for one port, several HNS objects of one name,
    /// an HNS network without one subnet, gateway and adapter, an endpoint
    /// not attached with forwarding on. What it gives compares equal to the
    /// host it came from (`difference` is `None`), which the fuzz target
    /// `windows_plan` checks. `wanted` is
    /// the program's object for the key, which gives an HNS network the
    /// host address to wait for.
    pub(super) fn restorable(&self, key: &WindowsKey, wanted: Option<&WindowsObject>) -> Option<WindowsObject> {
        match key {
            WindowsKey::FirewallRule(name) => {
                let rule = self.firewall_rules.get(name.as_str())?;
                let allows = rule.action.eq_ignore_ascii_case("Allow") && rule.enabled;
                allows.then_some(())?;
                let port: u32 = rule.local_port.parse().ok()?;
                // One port, written as netc writes it (not `080`).
                (port.to_string() == rule.local_port).then_some(())?;
                Some(WindowsObject::FirewallRule {
                    name: rule.name.clone(),
                    protocol: rule.protocol.clone(),
                    port,
                    direction: rule.direction.clone(),
                })
            }
            WindowsKey::File(path) => Some(WindowsObject::File {
                path: path.clone(),
                content: self.files.get(path)?.clone(),
            }),
            WindowsKey::HnsNetwork(name) => {
                let [network] = self.hns_networks.get(name.as_str())?.as_slice() else {
                    return None;
                };
                let [subnet] = network.subnets.as_slice() else {
                    return None;
                };
                let Some(WindowsObject::HnsNetwork(wanted)) = wanted else {
                    return None;
                };
                Some(WindowsObject::HnsNetwork(HnsNetwork {
                    name: network.name.clone(),
                    kind: network.kind.clone(),
                    subnet: subnet.address_prefix.clone(),
                    gateway: subnet.gateway.clone()?,
                    adapter: Some(network.adapter.clone()?),
                    address: wanted.address.clone(),
                }))
            }
            WindowsKey::HnsEndpoint(name) => {
                let [endpoint] = self.hns_endpoints.get(name.as_str())?.as_slice() else {
                    return None;
                };
                // netc makes endpoints attached with forwarding on only.
                endpoint.forwarding.then_some(())?;
                Some(WindowsObject::HnsEndpoint {
                    name: endpoint.name.clone(),
                    network: endpoint.network.clone()?,
                    address: endpoint.address.clone()?,
                })
            }
            WindowsKey::SourceVip(_) => None,
        }
    }

    /// How the host differs from `object`; `None` when it matches.
    pub(super) fn difference(&self, object: &WindowsObject) -> Option<Difference> {
        match object {
            WindowsObject::FirewallRule {
                protocol,
                port,
                direction,
                name,
            } => match self.firewall_rules.get(name.as_str()) {
                Some(have) => firewall_rule_change(have, direction, protocol, *port),
                None => Some(absent()),
            },
            WindowsObject::File { path, content } => match self.files.get(path) {
                Some(have) => {
                    (have != content).then(|| Difference::InPlace(vec!["content differs".into()], Disruption::Hitless))
                }
                None => Some(absent()),
            },
            WindowsObject::HnsNetwork(want) => match self.hns_networks.get(want.name.as_str()) {
                Some(have) => hns_network_change(have, want),
                None => Some(Difference::Absent(HNS_CREATION.to_string(), Disruption::Flap)),
            },
            WindowsObject::HnsEndpoint { name, network, address } => match self.hns_endpoints.get(name.as_str()) {
                Some(have) => hns_endpoint_change(have, network, address),
                None => Some(Difference::Absent(
                    "absent; pods on the network have no gateway until it exists".to_string(),
                    Disruption::Hitless,
                )),
            },
            WindowsObject::SourceVip {
                path,
                subnet,
                stale_files,
                ..
            } => source_vip_change(self.source_vip_files, path, subnet, stale_files),
        }
    }
}

/// The reason and class of an ordinary create.
fn absent() -> Difference {
    Difference::Absent("absent".to_string(), Disruption::Hitless)
}

fn firewall_rule_change(have: &ObservedFirewallRule, direction: &str, protocol: &str, port: u32) -> Option<Difference> {
    let mut changes = Vec::new();
    text_field(&mut changes, "direction", &have.direction, direction);
    text_field(&mut changes, "protocol", &have.protocol, protocol);
    text_field(&mut changes, "port", &have.local_port, &port.to_string());
    text_field(&mut changes, "action", &have.action, "Allow");
    if !have.enabled {
        changes.push("disabled -> enabled".into());
    }
    (!changes.is_empty()).then_some(Difference::InPlace(changes, Disruption::Hitless))
}

fn hns_network_change(have: &[&ObservedHnsNetwork], want: &HnsNetwork) -> Option<Difference> {
    let (subnet, gateway) = (want.subnet.as_str(), want.gateway.as_str());
    let mut changes = Vec::new();
    if let [network] = have {
        text_field(&mut changes, "type", &network.kind, &want.kind);
        let prefixes: Vec<&str> = network.subnets.iter().map(|s| s.address_prefix.as_str()).collect();
        if prefixes != [subnet] {
            let shown = if prefixes.is_empty() {
                "(none)".to_string()
            } else {
                prefixes.join(",")
            };
            changes.push(format!("subnet {shown} -> {subnet}"));
        }
        let have_gateway = network
            .subnets
            .iter()
            .find(|s| s.address_prefix == subnet)
            .or(network.subnets.first())
            .and_then(|s| s.gateway.as_deref());
        let have_gateway = or_none(have_gateway);
        if have_gateway != gateway {
            changes.push(format!("gateway {have_gateway} -> {gateway}"));
        }
        if let Some(adapter) = &want.adapter {
            text_field(&mut changes, "adapter", or_none(network.adapter.as_deref()), adapter);
        }
    } else {
        changes.push(format!("{} networks of that name -> 1", have.len()));
    }
    (!changes.is_empty()).then(|| changed(Setting::HnsNetwork, changes))
}

/// A change of `setting`, in place or by recreating, as the shared table
/// (`netc_compiler::preview::Setting`) says.
fn changed(setting: Setting, changes: Vec<String>) -> Difference {
    let consequence = setting.consequence();
    if consequence.recreates {
        Difference::Recreate(changes, consequence.class)
    } else {
        Difference::InPlace(changes, consequence.class)
    }
}

fn hns_endpoint_change(have: &[&ObservedHnsEndpoint], network: &str, address: &str) -> Option<Difference> {
    let [endpoint] = have else {
        return Some(changed(
            Setting::HnsEndpoint,
            vec![format!("{} endpoints of that name -> 1", have.len())],
        ));
    };
    let mut changes = Vec::new();
    text_field(&mut changes, "network", or_none(endpoint.network.as_deref()), network);
    text_field(&mut changes, "address", or_none(endpoint.address.as_deref()), address);
    if !changes.is_empty() {
        return Some(changed(Setting::HnsEndpoint, changes));
    }
    (!endpoint.forwarding).then(|| {
        Difference::InPlace(
            vec!["not attached to the host with forwarding on".into()],
            Disruption::Hitless,
        )
    })
}

/// A source VIP differs when its reservation is missing (a create, after
/// removing any stale file), is itself stale (a recreate: the address
/// changes), or another listed file is stale (removed in place).
fn source_vip_change(
    files: &BTreeMap<String, Option<String>>,
    path: &str,
    subnet: &str,
    stale_files: &[String],
) -> Option<Difference> {
    let Ok(net) = subnet.parse::<IpNet>() else {
        // `desired` refuses such a subnet; nothing sensible to compare.
        return None;
    };
    // Every listed file that exists and records an address outside `net`.
    let stale: Vec<(&str, String)> = stale_files
        .iter()
        .filter_map(|file| {
            let recorded = files.get(file)?;
            let inside = recorded
                .as_deref()
                .and_then(|address| address.split('/').next())
                .and_then(|address| address.parse::<IpAddr>().ok())
                .is_some_and(|address| net.contains(&address));
            (!inside).then(|| {
                let why = match recorded {
                    Some(address) => format!("{file} records {address}, outside {subnet}"),
                    None => format!("{file} records no address"),
                };
                (file.as_str(), why)
            })
        })
        .collect();
    let reservation_stale = stale.iter().any(|(file, _)| *file == path);
    let reasons: Vec<String> = stale.into_iter().map(|(_, why)| why).collect();
    if !files.contains_key(path) {
        let mut reason = "absent".to_string();
        for why in &reasons {
            reason.push_str(&format!("; {why}: removed first"));
        }
        return Some(Difference::Absent(reason, Disruption::Hitless));
    }
    if reasons.is_empty() {
        return None;
    }
    if reservation_stale {
        Some(Difference::Recreate(reasons, Disruption::Recreate))
    } else {
        Some(Difference::InPlace(
            reasons.into_iter().map(|why| format!("{why}: removed")).collect(),
            Disruption::Hitless,
        ))
    }
}

/// A difference in a field Windows reads without case (enum names).
fn text_field(out: &mut Vec<String>, name: &str, have: &str, want: &str) {
    if !have.eq_ignore_ascii_case(want) {
        out.push(format!("{name} {have} -> {want}"));
    }
}

/// An observed value as a difference shows it, `(none)` when missing.
fn or_none(value: Option<&str>) -> &str {
    value.unwrap_or("(none)")
}
