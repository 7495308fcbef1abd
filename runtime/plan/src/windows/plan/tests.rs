//! Unit tests of the Windows planner: HNS networks and host endpoints
//! created, updated, recreated only when owned (a conflict otherwise) and
//! pruned in order, and `one_line`.

use super::*;
use crate::windows::objects::HnsNetwork;
use crate::windows::observed::{ObservedHnsEndpoint, ObservedHnsNetwork, ObservedSubnet};

fn network(subnet: &str) -> WindowsObject {
    WindowsObject::HnsNetwork(HnsNetwork {
        name: "cbr0".into(),
        kind: "L2Bridge".into(),
        subnet: subnet.into(),
        gateway: "198.18.5.1".into(),
        adapter: None,
        address: "198.51.100.21".into(),
    })
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

fn file(path: &str, content: &str) -> WindowsObject {
    WindowsObject::File {
        path: path.into(),
        content: content.into(),
    }
}

/// A failed apply that recreated `cbr0` (another subnet), wrote a new CNI
/// config and created an endpoint, then stopped at the endpoint: the undo
/// puts the network and the file back as they were and deletes the
/// endpoint the run made halfway; a source VIP it changed cannot be put
/// back and is named, never deleted.
#[test]
fn the_undo_of_a_failed_apply_takes_the_host_back_to_before() {
    let cni = "C:\\etc\\cni\\net.d\\cni.conf";
    let vip = "C:\\k\\sourcevip.json";
    let mut before = observed_network("198.18.9.0/24");
    before.files.insert(cni.into(), "old".into());
    before.source_vip_files.insert(vip.into(), Some("198.18.9.5/24".into()));
    let source_vip = WindowsObject::SourceVip {
        path: vip.into(),
        network: "cbr0".into(),
        subnet: "198.18.5.0/24".into(),
        plugin: "host-local".into(),
        request: "C:\\k\\sourcevip-request.json".into(),
        stale_files: vec![vip.into()],
    };
    let want = desired(vec![
        network("198.18.5.0/24"),
        file(cni, "new"),
        endpoint("198.18.5.2"),
        source_vip,
    ]);
    let failed = plan(&want, &before, &next_inventory(&want));
    assert_eq!(failed.steps.len(), 4, "{failed}");

    // Everything but the endpoint's forwarding happened.
    let mut after = observed_network("198.18.5.0/24");
    after.files.insert(cni.into(), "new".into());
    after.source_vip_files.insert(vip.into(), Some("198.18.5.7/24".into()));
    after.hns_endpoints = observed_endpoint("198.18.5.2", false).hns_endpoints;

    let back = undo(&failed, &before, &after);
    let steps: Vec<(Action, String)> = back.plan.steps.iter().map(|s| (s.action, s.key.to_string())).collect();
    assert_eq!(
        steps,
        [
            (Action::Delete, "hns-endpoint cbr0_ep".to_string()),
            (Action::Update, format!("file {cni}")),
            (Action::Recreate, "hns-network cbr0".to_string()),
        ]
    );
    assert!(back.plan.steps.iter().all(|s| s.reason.starts_with("undo: ")));
    let Some(WindowsObject::HnsNetwork(restored)) = &back.plan.steps[2].object else {
        panic!("{:?}", back.plan.steps[2]);
    };
    assert_eq!(
        (restored.subnet.as_str(), restored.adapter.as_deref()),
        ("198.18.9.0/24", Some("Ethernet"))
    );
    assert_eq!(back.not_undone, [format!("source-vip {vip}")]);
    assert!(back.plan.conflicts.is_empty());

    // The undo applied: the host is as before, and nothing is left to do.
    let again = undo(&failed, &before, &before);
    assert!(again.plan.is_empty(), "{}", again.plan);
    assert!(again.not_undone.is_empty());
}
