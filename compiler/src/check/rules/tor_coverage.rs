//! N0413: with backend tor, some ToR routes every node's pod subnet to the
//! node's address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{BackendKind, Node, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0413",
        name: "tor-coverage",
        severity: Severity::Error,
        summary: "with backend tor, a ToR must route every node's pod subnet to the node",
        explanation: include_str!("../../../docs/codes/N0413.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let backend = &topology.cluster.backend.kind;
    if backend.value != BackendKind::Tor {
        return;
    }
    if topology.tors.is_empty() {
        let segment = topology
            .nodes
            .iter()
            .find_map(|n| n.segment)
            .or((!topology.segments.is_empty()).then_some(0))
            .map_or("rack-a", |i| topology.segments[i].name.value.as_str());
        out.push(
            Diagnostic::error(
                RULE.info.code,
                backend.span,
                "backend tor needs a `tor` block, but the file declares none",
            )
            .label("with this backend an upstream router routes the pod subnets")
            .help(format!(
                "declare the router: `tor tor-a {{ segment {segment}; routes auto }}`"
            )),
        );
        return;
    }
    // A ToR whose segment did not resolve has been reported (N0205); what
    // it would route is unknown, so coverage cannot be judged.
    if topology.tors.iter().any(|t| t.segment.is_none()) {
        return;
    }

    // Segments whose nodes a ToR routes automatically, and written routes
    // by next hop.
    let auto_segments: BTreeSet<usize> = topology
        .tors
        .iter()
        .filter(|t| t.routes_auto.is_some())
        .filter_map(|t| t.segment)
        .collect();
    let mut by_next_hop: BTreeMap<IpAddr, Vec<IpNet>> = BTreeMap::new();
    for route in topology.tors.iter().flat_map(|t| &t.routes) {
        by_next_hop.entry(route.via.value).or_default().push(route.prefix.value);
    }

    let mut reported_ranges = BTreeSet::new();
    for (i, node) in topology.nodes.iter().enumerate() {
        if node.range.is_some() && reported_ranges.contains(&node.declared) {
            continue;
        }
        // `routes auto` routes a subnet via the node's address, which works
        // only for the address's own family: an IPv6 pod subnet of a node
        // with an IPv4 address needs an explicit IPv6 route.
        let auto = node.segment.is_some_and(|s| auto_segments.contains(&s));
        let routed = by_next_hop.get(&node.address.value);
        let uncovered = topology.subnets[i].iter().find(|subnet| {
            let by_auto = auto && subnet.addr().is_ipv6() == node.address.value.is_ipv6();
            !by_auto && !routed.is_some_and(|prefixes| prefixes.iter().any(|p| p.contains(subnet)))
        });
        let Some(subnet) = uncovered else {
            continue;
        };
        if node.range.is_some() {
            reported_ranges.insert(node.declared);
        }
        out.push(report(topology, node, subnet));
    }
}

fn report(topology: &Topology, node: &Node, subnet: IpNet) -> Diagnostic {
    let name = &node.name.value;
    let address = node.address.value;
    let mut diagnostic = Diagnostic::error(
        RULE.info.code,
        node.name.span,
        format!("no ToR routes the pod subnet `{subnet}` of node `{name}`"),
    )
    .label(format!("pods on `{name}` are unreachable from other nodes"));

    // Point at what comes closest: a ToR on the node's segment without
    // `routes auto`, or a route for the subnet to another next hop.
    let segment = node.segment.map(|s| (s, &topology.segments[s]));
    let on_segment = segment.and_then(|(s, _)| topology.tors.iter().find(|t| t.segment == Some(s)));
    let misrouted = topology
        .tors
        .iter()
        .flat_map(|t| t.routes.iter().map(move |r| (t, r)))
        .find(|(_, r)| r.prefix.value.contains(&subnet));
    if let Some(tor) = on_segment {
        diagnostic = diagnostic.with_secondary(
            tor.name.span,
            format!(
                "ToR `{}` serves the node's segment, without `routes auto`",
                tor.name.value
            ),
        );
    } else if let Some((tor, route)) = misrouted {
        diagnostic = diagnostic.with_secondary(
            route.via.span,
            format!(
                "ToR `{}` sends `{}` to `{}`, not to `{name}`",
                tor.name.value, route.prefix.value, route.via.value
            ),
        );
    }
    let help = match (segment, on_segment) {
        (Some(_), Some(tor)) => format!(
            "add `routes auto` to ToR `{}`, or `route {subnet} via {address}`",
            tor.name.value
        ),
        (Some((_, segment)), None) => format!(
            "declare a ToR on the node's segment: `tor NAME {{ segment {}; routes auto }}` (or with `route {subnet} via {address}`)",
            segment.name.value
        ),
        (None, _) => format!("add `route {subnet} via {address}` to a ToR"),
    };
    diagnostic = diagnostic.help(help);
    if let Some((range, _)) = &node.range {
        diagnostic = diagnostic.note(format!(
            "reported once for range `{range}`: `{name}` is its first node without a route"
        ));
    }
    diagnostic
}
