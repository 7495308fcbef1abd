//! Desired vs observed vs owned on a Windows node: the ordered steps that
//! make the host match its program, with the Linux engine's rules
//! (`engine::plan`) and its `Action` and `Disruption` types.
//!
//! Per key:
//! - desired, not observed: **create**;
//! - desired, observed, equal: nothing (so planning the result of an apply
//!   is empty);
//! - desired, observed, different: **update** in place, or **recreate**
//!   when Windows cannot change it in place (an HNS network);
//! - owned (in the inventory), no longer desired, observed: **delete**;
//! - observed, not owned, not desired: never touched. A desired object that
//!   is observed but not owned is adopted by an update (said in the
//!   reason); one that would need a recreate (removing a foreign HNS
//!   network) is a `WindowsConflict`, not a step, and a plan with conflicts
//!   must not be applied.
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
//! Disruption classes:
//! - file creates and updates, firewall rule creates and updates, a new
//!   source VIP and the removal of a stale request file are `Hitless`:
//!   files are replaced atomically, `Set-NetFirewallRule` changes the rule
//!   in one call, and none of them touches traffic that works today;
//! - creating an HNS network is a `Flap`: HNS builds a vSwitch on the
//!   adapter and moves the host's address onto its `vEthernet` adapter, so
//!   the node loses connectivity for a few seconds;
//! - creating a host endpoint, attaching it or turning its forwarding on is
//!   `Hitless`: until then the pods have no gateway, so nothing that works
//!   today changes; recreating one (another network or address) is
//!   `ConnectivityRisk`: the pods lose their gateway until it is back;
//! - re-reserving a stale source VIP is a `Recreate`: the address changes,
//!   and kube-proxy uses the new one only after it restarts;
//! - recreating an HNS network (another type, subnet, gateway or adapter:
//!   HNS changes none of them in place) is `ConnectivityRisk`: every pod
//!   endpoint on it goes, and the node loses connectivity for seconds while
//!   HNS re-creates the vSwitch;
//! - every delete except a file's is `ConnectivityRisk`.
//!
//! Order: deletes first (source VIP, HNS endpoint, HNS network, firewall
//! rule, file;
//! then by key), then creates, updates and recreates in program order.
//! Checks (`cni-plugins`, `service`) are carried along for the script; they
//! are never steps. Cost: key lookups only, O(n log n).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::objects::{WindowsCheck, WindowsDesired, WindowsKey, WindowsObject};
use super::observed::{
    ObservedFirewallRule, ObservedHnsEndpoint, ObservedHnsNetwork, WindowsInventory, WindowsObserved,
};
use crate::engine::{Action, Disruption};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowsStep {
    pub action: Action,
    pub key: WindowsKey,
    /// The desired object; absent for a delete, which needs only the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<WindowsObject>,
    pub reason: String,
    pub disruption: Disruption,
}

/// A desired object the plan leaves alone because reaching it would
/// remove an object netc does not own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowsConflict {
    pub key: WindowsKey,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowsPlan {
    pub node: String,
    /// Run by the script around the steps: CNI plugins before any change,
    /// services (warnings only) after the last.
    pub checks: Vec<WindowsCheck>,
    pub steps: Vec<WindowsStep>,
    pub conflicts: Vec<WindowsConflict>,
}

impl WindowsPlan {
    /// Nothing to change and nothing in the way (checks still run).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.conflicts.is_empty()
    }
}

/// As the Linux plan: one line per step, `SIGN OBJECT  [CLASS] REASON`
/// (`+` create, `~` update, `-/+` recreate, `-` delete), one `! KEY:
/// REASON` line per conflict; then one `? CHECK` line per check.
impl fmt::Display for WindowsPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            let sign = step.action.sign();
            let what = match &step.object {
                Some(object) => object.to_string(),
                None => step.key.to_string(),
            };
            writeln!(
                f,
                "{sign} {}  [{}] {}",
                one_line(&what),
                step.disruption,
                one_line(&step.reason)
            )?;
        }
        for conflict in &self.conflicts {
            writeln!(
                f,
                "! {}: {}",
                one_line(&conflict.key.to_string()),
                one_line(&conflict.reason)
            )?;
        }
        for check in &self.checks {
            writeln!(f, "? {}", one_line(&check.to_string()))?;
        }
        Ok(())
    }
}

/// `text` on one line: control characters (a newline in an observed name
/// would otherwise end a comment in the script) become spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The inventory after a successful apply of `desired`.
pub fn next_inventory(desired: &WindowsDesired) -> WindowsInventory {
    desired.objects.iter().map(WindowsObject::key).collect()
}

/// What the node loses when an HNS network goes.
const HNS_REMOVAL: &str =
    "every pod endpoint on it goes, and the node loses connectivity for seconds while HNS re-creates the vSwitch";

/// Why creating an HNS network is a `Flap`.
const HNS_CREATION: &str = "absent; HNS builds a vSwitch on the adapter and moves the host's address onto it, so the node loses connectivity for a few seconds";

/// The reason and class of an ordinary create.
fn absent() -> (String, Disruption) {
    ("absent".to_string(), Disruption::Hitless)
}

/// The observed state indexed by key.
struct Live<'a> {
    firewall_rules: BTreeMap<&'a str, &'a ObservedFirewallRule>,
    files: &'a BTreeMap<String, String>,
    hns_networks: BTreeMap<&'a str, Vec<&'a ObservedHnsNetwork>>,
    hns_endpoints: BTreeMap<&'a str, Vec<&'a ObservedHnsEndpoint>>,
    source_vip_files: &'a BTreeMap<String, Option<String>>,
}

impl<'a> Live<'a> {
    fn new(observed: &'a WindowsObserved) -> Self {
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

    fn has(&self, key: &WindowsKey) -> bool {
        match key {
            WindowsKey::FirewallRule(name) => self.firewall_rules.contains_key(name.as_str()),
            WindowsKey::File(path) => self.files.contains_key(path),
            WindowsKey::HnsNetwork(name) => self.hns_networks.contains_key(name.as_str()),
            WindowsKey::HnsEndpoint(name) => self.hns_endpoints.contains_key(name.as_str()),
            WindowsKey::SourceVip(path) => self.source_vip_files.contains_key(path),
        }
    }
}

/// How an observed object must change; `None` when it matches.
enum Change {
    InPlace(Vec<String>, Disruption),
    Recreate(Vec<String>, Disruption),
}

/// The steps that take the Windows host from `observed` to `desired`,
/// pruning only what `owned` lists.
pub fn plan(desired: &WindowsDesired, observed: &WindowsObserved, owned: &WindowsInventory) -> WindowsPlan {
    let live = Live::new(observed);
    let wanted: BTreeSet<WindowsKey> = desired.objects.iter().map(WindowsObject::key).collect();
    let mut plan = WindowsPlan {
        node: desired.node.clone(),
        checks: desired.checks.clone(),
        steps: Vec::new(),
        conflicts: Vec::new(),
    };

    // 1. Prune: owned, no longer desired, still there.
    let mut deletes: Vec<(u8, &WindowsKey)> = owned
        .iter()
        .filter(|key| !wanted.contains(key) && live.has(key))
        .map(|key| (key.delete_rank(), key))
        .collect();
    deletes.sort();
    for (_, key) in deletes {
        let (reason, disruption) = match key {
            WindowsKey::File(_) => ("no longer in the program".to_string(), Disruption::Hitless),
            WindowsKey::FirewallRule(_) => (
                "no longer in the program; the port it opened is closed".to_string(),
                Disruption::ConnectivityRisk,
            ),
            WindowsKey::HnsNetwork(_) => (
                format!("no longer in the program; {HNS_REMOVAL}"),
                Disruption::ConnectivityRisk,
            ),
            WindowsKey::HnsEndpoint(_) => (
                "no longer in the program; pods on its network lose their gateway".to_string(),
                Disruption::ConnectivityRisk,
            ),
            WindowsKey::SourceVip(_) => (
                "no longer in the program; kube-proxy loses its source VIP (host-local's store keeps the address)"
                    .to_string(),
                Disruption::ConnectivityRisk,
            ),
        };
        plan.steps.push(WindowsStep {
            action: Action::Delete,
            key: key.clone(),
            object: None,
            reason,
            disruption,
        });
    }

    // 2. Desired, in program order.
    for object in &desired.objects {
        let key = object.key();
        // `Err`: absent, with the reason and class of its create; `Ok(None)`:
        // as desired.
        let found: Result<Option<Change>, (String, Disruption)> = match object {
            WindowsObject::FirewallRule {
                protocol,
                port,
                direction,
                name,
            } => live
                .firewall_rules
                .get(name.as_str())
                .map(|have| firewall_rule_change(have, direction, protocol, *port))
                .ok_or_else(absent),
            WindowsObject::File { path, content } => live
                .files
                .get(path)
                .map(|have| {
                    (have != content).then(|| Change::InPlace(vec!["content differs".into()], Disruption::Hitless))
                })
                .ok_or_else(absent),
            WindowsObject::HnsNetwork {
                name,
                kind,
                subnet,
                gateway,
                adapter,
                ..
            } => live
                .hns_networks
                .get(name.as_str())
                .map(|have| hns_network_change(have, kind, subnet, gateway, adapter.as_deref()))
                .ok_or_else(|| (HNS_CREATION.to_string(), Disruption::Flap)),
            WindowsObject::HnsEndpoint { name, network, address } => live
                .hns_endpoints
                .get(name.as_str())
                .map(|have| hns_endpoint_change(have, network, address))
                .ok_or_else(|| {
                    (
                        "absent; pods on the network have no gateway until it exists".to_string(),
                        Disruption::Hitless,
                    )
                }),
            WindowsObject::SourceVip {
                path,
                subnet,
                stale_files,
                ..
            } => match source_vip_change(live.source_vip_files, path, subnet, stale_files) {
                None => Ok(None),
                Some(SourceVipChange::Absent(reason)) => Err((reason, Disruption::Hitless)),
                Some(SourceVipChange::Stale(reasons)) => Ok(Some(Change::Recreate(reasons, Disruption::Recreate))),
                Some(SourceVipChange::Tidy(reasons)) => Ok(Some(Change::InPlace(reasons, Disruption::Hitless))),
            },
        };
        let change = match found {
            Ok(Some(change)) => change,
            Ok(None) => continue,
            Err((reason, disruption)) => {
                plan.steps.push(WindowsStep {
                    action: Action::Create,
                    key,
                    object: Some(object.clone()),
                    reason,
                    disruption,
                });
                continue;
            }
        };
        let adopted = if owned.contains(&key) {
            ""
        } else {
            " (adopting an object netc did not create)"
        };
        match change {
            Change::InPlace(changes, disruption) => plan.steps.push(WindowsStep {
                action: Action::Update,
                key,
                object: Some(object.clone()),
                reason: format!("{}{adopted}", changes.join(", ")),
                disruption,
            }),
            // The program itself asks for stale source-VIP files to go,
            // owned or not; anything else foreign is not removed.
            Change::Recreate(changes, disruption)
                if owned.contains(&key) || matches!(object, WindowsObject::SourceVip { .. }) =>
            {
                plan.steps.push(WindowsStep {
                    action: Action::Recreate,
                    key,
                    object: Some(object.clone()),
                    reason: format!("{}{}{adopted}", changes.join(", "), recreate_consequence(object)),
                    disruption,
                })
            }
            Change::Recreate(changes, _) => plan.conflicts.push(WindowsConflict {
                key,
                reason: format!(
                    "{} needs a recreate, but netc did not create it: remove it by hand or let netc adopt it",
                    changes.join(", ")
                ),
            }),
        }
    }
    plan
}

fn firewall_rule_change(have: &ObservedFirewallRule, direction: &str, protocol: &str, port: u32) -> Option<Change> {
    let mut changes = Vec::new();
    text_field(&mut changes, "direction", &have.direction, direction);
    text_field(&mut changes, "protocol", &have.protocol, protocol);
    text_field(&mut changes, "port", &have.local_port, &port.to_string());
    text_field(&mut changes, "action", &have.action, "Allow");
    if !have.enabled {
        changes.push("disabled -> enabled".into());
    }
    (!changes.is_empty()).then_some(Change::InPlace(changes, Disruption::Hitless))
}

fn hns_network_change(
    have: &[&ObservedHnsNetwork],
    kind: &str,
    subnet: &str,
    gateway: &str,
    adapter: Option<&str>,
) -> Option<Change> {
    let mut changes = Vec::new();
    if let [network] = have {
        text_field(&mut changes, "type", &network.kind, kind);
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
            .and_then(|s| s.gateway.as_deref())
            .unwrap_or("(none)");
        if have_gateway != gateway {
            changes.push(format!("gateway {have_gateway} -> {gateway}"));
        }
        if let Some(adapter) = adapter {
            text_field(
                &mut changes,
                "adapter",
                network.adapter.as_deref().unwrap_or("(none)"),
                adapter,
            );
        }
    } else {
        changes.push(format!("{} networks of that name -> 1", have.len()));
    }
    (!changes.is_empty()).then_some(Change::Recreate(changes, Disruption::ConnectivityRisk))
}

fn hns_endpoint_change(have: &[&ObservedHnsEndpoint], network: &str, address: &str) -> Option<Change> {
    let [endpoint] = have else {
        return Some(Change::Recreate(
            vec![format!("{} endpoints of that name -> 1", have.len())],
            Disruption::ConnectivityRisk,
        ));
    };
    let mut changes = Vec::new();
    text_field(
        &mut changes,
        "network",
        endpoint.network.as_deref().unwrap_or("(none)"),
        network,
    );
    text_field(
        &mut changes,
        "address",
        endpoint.address.as_deref().unwrap_or("(none)"),
        address,
    );
    if !changes.is_empty() {
        return Some(Change::Recreate(changes, Disruption::ConnectivityRisk));
    }
    (!endpoint.forwarding).then(|| {
        Change::InPlace(
            vec!["not attached to the host with forwarding on".into()],
            Disruption::Hitless,
        )
    })
}

/// What a recreate of `object` does, after the list of differences.
fn recreate_consequence(object: &WindowsObject) -> String {
    match object {
        WindowsObject::HnsNetwork { .. } => {
            format!(": HNS cannot change a network in place, so it is removed and created again; {HNS_REMOVAL}")
        }
        WindowsObject::SourceVip { .. } => ": the stale files are removed and host-local reserves a new address, which kube-proxy uses once it restarts (the node re-joined with another pod subnet)".to_string(),
        WindowsObject::HnsEndpoint { .. } => {
            ": HNS cannot change an endpoint in place, so it is removed and created again; pods on its network lose their gateway meanwhile".to_string()
        }
        WindowsObject::FirewallRule { .. } | WindowsObject::File { .. } => String::new(),
    }
}

enum SourceVipChange {
    /// No reservation yet (stale files, if any, are removed first).
    Absent(String),
    /// The reservation is stale: removed and made again.
    Stale(Vec<String>),
    /// The reservation is good, but another listed file is stale.
    Tidy(Vec<String>),
}

fn source_vip_change(
    files: &BTreeMap<String, Option<String>>,
    path: &str,
    subnet: &str,
    stale_files: &[String],
) -> Option<SourceVipChange> {
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
        return Some(SourceVipChange::Absent(reason));
    }
    if reasons.is_empty() {
        return None;
    }
    if reservation_stale {
        Some(SourceVipChange::Stale(reasons))
    } else {
        Some(SourceVipChange::Tidy(
            reasons.into_iter().map(|why| format!("{why}: removed")).collect(),
        ))
    }
}

/// A difference in a field Windows reads without case (enum names).
fn text_field(out: &mut Vec<String>, name: &str, have: &str, want: &str) {
    if !have.eq_ignore_ascii_case(want) {
        out.push(format!("{name} {have} -> {want}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windows::observed::ObservedSubnet;

    fn network(subnet: &str) -> WindowsObject {
        WindowsObject::HnsNetwork {
            name: "cbr0".into(),
            kind: "L2Bridge".into(),
            subnet: subnet.into(),
            gateway: "198.18.5.1".into(),
            adapter: None,
            address: "198.51.100.21".into(),
        }
    }

    fn observed_network(subnet: &str) -> WindowsObserved {
        WindowsObserved {
            hns_networks: vec![ObservedHnsNetwork {
                name: "cbr0".into(),
                kind: "l2bridge".into(),
                subnets: vec![ObservedSubnet {
                    address_prefix: subnet.into(),
                    gateway: Some("198.18.5.1".into()),
                }],
                adapter: Some("Ethernet".into()),
            }],
            ..WindowsObserved::default()
        }
    }

    fn desired(objects: Vec<WindowsObject>) -> WindowsDesired {
        WindowsDesired {
            node: "win".into(),
            checks: Vec::new(),
            objects,
        }
    }

    #[test]
    fn an_hns_network_of_another_subnet_is_recreated_only_when_owned() {
        let want = desired(vec![network("198.18.5.0/24")]);
        let observed = observed_network("198.18.9.0/24");
        let owned = next_inventory(&want);
        let recreate = plan(&want, &observed, &owned);
        assert_eq!(recreate.steps.len(), 1);
        assert_eq!(recreate.steps[0].action, Action::Recreate);
        assert_eq!(recreate.steps[0].disruption, Disruption::ConnectivityRisk);
        assert!(recreate.steps[0]
            .reason
            .starts_with("subnet 198.18.9.0/24 -> 198.18.5.0/24"));
        assert!(recreate.steps[0].reason.contains("loses connectivity"));

        let foreign = plan(&want, &observed, &WindowsInventory::new());
        assert!(foreign.steps.is_empty());
        assert_eq!(foreign.conflicts.len(), 1);

        // Type compared without case; the adapter not at all when the
        // program leaves it to the address.
        assert!(plan(&want, &observed_network("198.18.5.0/24"), &owned).is_empty());
    }

    #[test]
    fn duplicate_hns_networks_are_a_difference() {
        let want = desired(vec![network("198.18.5.0/24")]);
        let mut observed = observed_network("198.18.5.0/24");
        observed.hns_networks.push(observed.hns_networks[0].clone());
        let plan = plan(&want, &observed, &next_inventory(&want));
        assert_eq!(plan.steps[0].action, Action::Recreate);
        assert!(plan.steps[0].reason.starts_with("2 networks of that name -> 1"));
    }

    fn endpoint(address: &str) -> WindowsObject {
        WindowsObject::HnsEndpoint {
            name: "cbr0_ep".into(),
            network: "cbr0".into(),
            address: address.into(),
        }
    }

    fn observed_endpoint(address: &str, forwarding: bool) -> WindowsObserved {
        let mut observed = observed_network("198.18.5.0/24");
        observed.hns_endpoints.push(ObservedHnsEndpoint {
            name: "cbr0_ep".into(),
            network: Some("cbr0".into()),
            address: Some(address.into()),
            forwarding,
        });
        observed
    }

    #[test]
    fn a_host_endpoint_is_created_attached_or_recreated() {
        let want = desired(vec![network("198.18.5.0/24"), endpoint("198.18.5.2")]);
        let owned = next_inventory(&want);

        let absent = plan(&want, &observed_network("198.18.5.0/24"), &owned);
        let steps: Vec<_> = absent.steps.iter().map(|s| (s.action, s.disruption)).collect();
        assert_eq!(steps, [(Action::Create, Disruption::Hitless)]);

        assert!(plan(&want, &observed_endpoint("198.18.5.2", true), &owned).is_empty());

        // Detached, or forwarding off: pods have no working gateway yet.
        let detached = plan(&want, &observed_endpoint("198.18.5.2", false), &owned);
        assert_eq!(detached.steps.len(), 1);
        assert_eq!(
            (detached.steps[0].action, detached.steps[0].disruption),
            (Action::Update, Disruption::Hitless)
        );

        // Another address: recreated when netc owns it, a conflict otherwise.
        let moved = observed_endpoint("198.18.9.2", true);
        let recreate = plan(&want, &moved, &owned);
        assert_eq!(recreate.steps[0].action, Action::Recreate);
        assert!(recreate.steps[0].reason.starts_with("address 198.18.9.2 -> 198.18.5.2"));
        let mut network_only = WindowsInventory::new();
        network_only.insert(WindowsKey::HnsNetwork("cbr0".into()));
        let foreign = plan(&want, &moved, &network_only);
        assert!(foreign.steps.is_empty());
        assert_eq!(foreign.conflicts[0].key, WindowsKey::HnsEndpoint("cbr0_ep".into()));

        // Pruned before the network it sits on.
        let nothing = desired(Vec::new());
        let prune = plan(&nothing, &observed_endpoint("198.18.5.2", true), &owned);
        let order: Vec<String> = prune.steps.iter().map(|s| s.key.to_string()).collect();
        assert_eq!(order, ["hns-endpoint cbr0_ep", "hns-network cbr0"]);
    }

    #[test]
    fn one_line_removes_line_breaks() {
        assert_eq!(one_line("a\nb\r\tc"), "a b  c");
    }
}
