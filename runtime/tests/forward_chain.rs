//! The host driver's forward chain (`forward-accept`) in a namespace of its
//! own (root): a dual-stack chain is written to iptables and ip6tables and
//! observed back exactly as desired; a missing hook or a missing direction
//! is observed as drift and rewritten; dropping a family deletes that
//! family's chain; a delete removes both chains and hooks and is harmless
//! to repeat.

mod common;

use std::collections::BTreeSet;

use common::{is_root, run, skip, NodeNamespace};
use netc_node::driver::linux::host::Host;
use netc_plan::engine::{Action, Disruption, Object, ObjectKey, Step};

const CHAIN: &str = "NETC-FWD";

fn forward(networks: &[&str]) -> Object {
    Object::ForwardAccept {
        chain: CHAIN.into(),
        networks: networks.iter().map(|n| n.to_string()).collect(),
    }
}

fn step(action: Action, object: Object) -> Step {
    Step {
        action,
        key: object.key(),
        object,
        reason: "test".into(),
        disruption: Disruption::ConnectivityRisk,
    }
}

fn observe(host: &Host) -> Option<Object> {
    let key = ObjectKey::ForwardAccept(CHAIN.into());
    host.observe(&BTreeSet::from([key.clone()])).unwrap().get(&key).cloned()
}

#[test]
fn forward_chain_is_written_observed_repaired_and_deleted_per_family() {
    if !is_root() && skip("the forward chain test needs root (network namespaces, iptables)") {
        return;
    }
    let ns = NodeNamespace::new("fwd");
    let host = Host::new(std::path::Path::new("/"), Some(&ns.0));
    let iptables = |tool: &str, args: &[&str]| {
        let mut command = vec!["ip", "netns", "exec", &ns.0, tool, "-w"];
        command.extend_from_slice(args);
        run(&command)
    };
    assert_eq!(observe(&host), None, "a fresh namespace has no chain");

    let dual = forward(&["198.18.0.0/16", "fd00:10:244::/56"]);
    host.apply(&step(Action::Create, dual.clone())).unwrap();
    assert_eq!(observe(&host), Some(dual.clone()));
    for tool in ["iptables", "ip6tables"] {
        assert_eq!(
            iptables(tool, &["-S", "FORWARD"]).matches("-j NETC-FWD").count(),
            1,
            "{tool}"
        );
    }

    // Drift: the IPv6 hook is gone and one IPv4 direction is gone.
    iptables(
        "ip6tables",
        &[
            "-D",
            "FORWARD",
            "-m",
            "comment",
            "--comment",
            "netc forward",
            "-j",
            CHAIN,
        ],
    );
    iptables(
        "iptables",
        &[
            "-D",
            CHAIN,
            "-d",
            "198.18.0.0/16",
            "-m",
            "comment",
            "--comment",
            "netc forward",
            "-j",
            "ACCEPT",
        ],
    );
    let Some(Object::ForwardAccept { networks, .. }) = observe(&host) else {
        panic!("the chains are still there");
    };
    assert_eq!(
        networks,
        [
            "198.18.0.0/16 (source only)",
            "fd00:10:244::/56",
            "(ip6tables chain not hooked into FORWARD)"
        ]
    );
    host.apply(&step(Action::Update, dual.clone())).unwrap();
    assert_eq!(observe(&host), Some(dual));
    for tool in ["iptables", "ip6tables"] {
        assert_eq!(
            iptables(tool, &["-S", "FORWARD"]).matches("-j NETC-FWD").count(),
            1,
            "{tool}"
        );
    }

    // IPv4 only: the IPv6 chain and its hook go.
    let single = forward(&["198.18.0.0/16"]);
    host.apply(&step(Action::Update, single.clone())).unwrap();
    assert_eq!(observe(&host), Some(single.clone()));
    assert!(!iptables("ip6tables", &["-S"]).contains(CHAIN));

    host.apply(&step(Action::Delete, single.clone())).unwrap();
    assert_eq!(observe(&host), None);
    assert!(!iptables("iptables", &["-S"]).contains(CHAIN));
    host.apply(&step(Action::Delete, single)).unwrap();
}
