//! N0405: the pod network must have a node subnet for every node.

use ipnet::IpNet;

use super::node_subnet_len;
use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{family_len, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0405",
        name: "subnet-capacity",
        severity: Severity::Error,
        summary: "the pod network must hold a node subnet for every node",
        explanation: include_str!("../../../docs/codes/N0405.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let cluster = &topology.cluster;
    let nodes = topology.nodes.len() as u128;
    let mut families_seen = [false; 2];
    for pod in &cluster.pod_networks {
        let ipv6 = pod.value.addr().is_ipv6();
        // A family listed twice is N0402's; allocation uses one prefix per family.
        if std::mem::replace(&mut families_seen[usize::from(ipv6)], true) {
            continue;
        }
        if node_subnet_len::problem(cluster, pod.value).is_some() {
            continue;
        }
        let len = family_len(cluster, ipv6);
        let bits = u32::from(len - pod.value.prefix_len());
        if bits >= 64 {
            continue; // more subnets than any cluster has nodes
        }
        let capacity = 1u128 << bits;
        if nodes <= capacity {
            continue;
        }
        let subnet_of = |i: usize| {
            let s = &topology.subnets[i];
            if ipv6 {
                s.v6
            } else {
                s.v4
            }
        };
        let pinned = |i: usize| {
            topology.nodes[i]
                .pinned
                .iter()
                .any(|p| p.value.addr().is_ipv6() == ipv6)
        };
        // The first node the allocation ran out for (a node with a bad pin
        // also gets none, but N0406 reports that).
        let starved = (0..topology.nodes.len())
            .find(|&i| subnet_of(i).is_none() && !pinned(i))
            .or_else(|| (0..topology.nodes.len()).find(|&i| subnet_of(i).is_none()));

        let subnets = if capacity == 1 { "subnet" } else { "subnets" };
        let mut diagnostic = Diagnostic::error(
            RULE.info.code,
            pod.span,
            format!(
                "the pod network `{}` has room for {capacity} node {subnets} of /{len}, but the cluster has {nodes} nodes",
                pod.value
            ),
        )
        .label(format!("{capacity} node {subnets} of /{len}"));
        if let Some(i) = starved {
            let node = &topology.nodes[i];
            diagnostic = diagnostic.with_secondary(
                node.name.span,
                format!("no pod subnet left for node `{}`", node.name.value),
            );
        }
        out.push(diagnostic.help(fix(topology, pod.value, len, ipv6)));
    }
}

/// A wider pod network that fits every node, and for a family that takes
/// `node-subnet-len`, a longer node subnet that would fit them too.
fn fix(topology: &Topology, pod: IpNet, len: u8, ipv6: bool) -> String {
    let nodes = topology.nodes.len() as u128;
    // The fewest bits that number every node.
    let needed = (0u8..=128).find(|&b| b >= 127 || (1u128 << b) >= nodes).unwrap_or(128);
    let mut options = Vec::new();
    if let Some(wider) = len
        .checked_sub(needed)
        .and_then(|prefix| IpNet::new(pod.addr(), prefix).ok())
        .map(|net| net.trunc())
    {
        options.push(format!(
            "widen the pod network to `{wider}` ({} node subnets of /{len})",
            1u128 << needed
        ));
    }
    let uses_setting = !(ipv6 && topology.is_dual_stack());
    let max = if ipv6 { 126 } else { 30 };
    let longer = pod.prefix_len().saturating_add(needed);
    if uses_setting && longer <= max {
        options.push(format!(
            "set `node-subnet-len {longer}` (smaller subnets: fewer pods per node)"
        ));
    }
    if options.is_empty() {
        "use a wider pod network, or fewer nodes".to_string()
    } else {
        options.join(", or ")
    }
}
