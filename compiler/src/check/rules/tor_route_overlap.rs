//! N0412: the routes of one ToR (its `route` lines and, with `routes auto`,
//! one route per node subnet on its segment) must not overlap.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Topology, Tor};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0412",
        name: "tor-route-overlap",
        severity: Severity::Error,
        summary: "the routes of a ToR, written and automatic, must not overlap",
        explanation: include_str!("../../../docs/codes/N0412.md"),
    },
    check,
};

/// Where a route comes from: a `route` line (its index) or `routes auto`
/// (the node's index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Written(usize),
    Auto(usize),
}

#[derive(Clone, Copy)]
struct Route {
    prefix: IpNet,
    via: IpAddr,
    origin: Origin,
}

/// What one diagnostic reports: two written routes, a written route and
/// every automatic route it overlaps, or overlapping automatic routes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Written(usize, usize),
    WrittenAuto(usize),
    Auto,
}

fn sort_key(route: &Route) -> (bool, u128, u8, Origin) {
    let start = match route.prefix.network() {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    (
        route.prefix.addr().is_ipv6(),
        start,
        route.prefix.prefix_len(),
        route.origin,
    )
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    // The nodes of each segment, so that every ToR reads only its own.
    let mut on_segment: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, node) in topology.nodes.iter().enumerate() {
        if let Some(segment) = node.segment {
            on_segment.entry(segment).or_default().push(i);
        }
    }
    for tor in &topology.tors {
        let nodes = match (tor.routes_auto, tor.segment) {
            (Some(_), Some(segment)) => on_segment.get(&segment).map_or(&[][..], Vec::as_slice),
            _ => &[],
        };
        check_tor(topology, tor, nodes, out);
    }
}

/// `auto_nodes`: the nodes `routes auto` routes (those on the ToR's segment).
fn check_tor(topology: &Topology, tor: &Tor, auto_nodes: &[usize], out: &mut Vec<Diagnostic>) {
    let mut routes: Vec<Route> = tor
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| Route {
            prefix: r.prefix.value,
            via: r.via.value,
            origin: Origin::Written(i),
        })
        .collect();
    for &i in auto_nodes {
        let via = topology.nodes[i].address.value;
        routes.extend(topology.subnets[i].iter().map(|prefix| Route {
            prefix,
            via,
            origin: Origin::Auto(i),
        }));
    }
    routes.sort_by_key(sort_key);

    // Sorted by start address and then length, a prefix overlaps an earlier
    // one exactly when one on the stack of enclosing prefixes contains it.
    let mut found: BTreeMap<Key, (Route, Route, usize)> = BTreeMap::new();
    let mut stack: Vec<Route> = Vec::new();
    for route in routes {
        while stack.last().is_some_and(|outer| !outer.prefix.contains(&route.prefix)) {
            stack.pop();
        }
        if let Some(&outer) = stack.last() {
            let key = match (outer.origin, route.origin) {
                (Origin::Written(a), Origin::Written(b)) => Key::Written(a.min(b), a.max(b)),
                (Origin::Written(a), Origin::Auto(_)) | (Origin::Auto(_), Origin::Written(a)) => Key::WrittenAuto(a),
                (Origin::Auto(_), Origin::Auto(_)) => Key::Auto,
            };
            found.entry(key).or_insert((outer, route, 0)).2 += 1;
        }
        stack.push(route);
    }
    for (key, (a, b, count)) in found {
        out.push(report(topology, tor, key, a, b, count));
    }
}

fn relation(this: IpNet, other: IpNet) -> &'static str {
    if this == other {
        "repeats"
    } else if this.contains(&other) {
        "contains"
    } else {
        "lies inside"
    }
}

fn report(topology: &Topology, tor: &Tor, key: Key, a: Route, b: Route, count: usize) -> Diagnostic {
    let name = &tor.name.value;
    match key {
        Key::Written(first, second) => {
            let (earlier, later) = (&tor.routes[first], &tor.routes[second]);
            let (p, q) = (later.prefix.value, earlier.prefix.value);
            let message = if p == q {
                format!("route `{p}` appears twice in ToR `{name}`")
            } else {
                format!("route `{p}` of ToR `{name}` overlaps its route `{q}`")
            };
            Diagnostic::error(RULE.info.code, later.prefix.span, message)
                .label(format!("{} `{q}`", relation(p, q)))
                .with_secondary(earlier.prefix.span, "overlapping route")
                .help("route each pod subnet once: remove one of the routes, or make them disjoint")
        }
        Key::WrittenAuto(index) => {
            let written = &tor.routes[index];
            let auto = if matches!(a.origin, Origin::Auto(_)) { a } else { b };
            let Origin::Auto(node_index) = auto.origin else {
                unreachable!("one of the pair is automatic")
            };
            let node = &topology.nodes[node_index];
            let (p, q) = (written.prefix.value, auto.prefix);
            let same = p == q && written.via.value == auto.via;
            let message = if same {
                format!(
                    "route `{p}` of ToR `{name}` repeats the route `routes auto` makes for node `{}`",
                    node.name.value
                )
            } else {
                format!(
                    "route `{p}` of ToR `{name}` overlaps the pod subnet `{q}` of node `{}`",
                    node.name.value
                )
            };
            let mut diagnostic = Diagnostic::error(RULE.info.code, written.prefix.span, message)
                .label(format!("{} `{q}`", relation(p, q)))
                .with_secondary(
                    tor.routes_auto.unwrap_or(tor.header),
                    format!("routes `{q}` via `{}` (node `{}`)", auto.via, node.name.value),
                )
                .help(if same {
                    "remove the `route` line: `routes auto` already routes every node subnet on the segment"
                } else {
                    "remove the route, or narrow it so that it covers no node's pod subnet"
                });
            if count > 1 {
                diagnostic = diagnostic.note(format!(
                    "it overlaps {} more automatic route{}",
                    count - 1,
                    if count == 2 { "" } else { "s" }
                ));
            }
            diagnostic
        }
        Key::Auto => {
            let node_of = |route: &Route| match route.origin {
                Origin::Auto(i) => &topology.nodes[i].name.value,
                Origin::Written(_) => unreachable!("both routes of the pair are automatic"),
            };
            Diagnostic::error(
                RULE.info.code,
                tor.routes_auto.unwrap_or(tor.header),
                format!(
                    "`routes auto` of ToR `{name}` makes overlapping routes: `{}` via node `{}` and `{}` via node `{}`",
                    a.prefix,
                    node_of(&a),
                    b.prefix,
                    node_of(&b)
                ),
            )
            .label("overlapping node subnets")
            .help("give each node a pod subnet of its own (check the `pod-subnet` pins)")
        }
    }
}
