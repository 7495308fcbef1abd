//! ToR router configs: for every `tor` block, `tor/<name>/frr.conf` (FRR
//! static routes) and `tor/<name>/routes.json` (the same routes,
//! vendor-neutral, for any other router or for review).
//!
//! In the ToR topology "the pod CIDR prefix assigned to a node maps to its
//! respective node IP" on the upstream router (Microsoft's
//! `joining-windows-workers.md`): `routes auto` is one route per pod subnet
//! of every node on the ToR's segment, via the node's address.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::model::{Topology, Tor};

/// One route of a ToR. `node` names the node that owns the subnet for a
/// `routes auto` route; written `route` lines have none.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TorRoute {
    pub prefix: IpNet,
    pub via: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl TorRoute {
    /// FRR (like the kernel's static routes) needs the next hop in the
    /// prefix's address family; the checks do not (yet) reject a mixed pair.
    pub fn same_family(&self) -> bool {
        self.prefix.addr().is_ipv6() == self.via.is_ipv6()
    }
}

/// Every route of `tor`, sorted by prefix (then next hop, then node), so
/// the order is a function of the routes and not of declaration order.
pub fn routes(topology: &Topology, tor: &Tor) -> Vec<TorRoute> {
    let mut routes: Vec<TorRoute> = tor
        .routes
        .iter()
        .map(|r| TorRoute {
            prefix: r.prefix.value,
            via: r.via.value,
            node: None,
        })
        .collect();
    if let (Some(_), Some(segment)) = (tor.routes_auto, tor.segment) {
        for (node, subnets) in topology.nodes.iter().zip(&topology.subnets) {
            if node.segment != Some(segment) {
                continue;
            }
            routes.extend(subnets.iter().map(|subnet| TorRoute {
                prefix: subnet,
                via: node.address.value,
                node: Some(node.name.value.clone()),
            }));
        }
    }
    routes.sort();
    routes
}

/// Where a ToR's files live. Node names are DNS labels (a rule checks
/// them), ToR names may be any word or quoted string, so everything but
/// `[A-Za-z0-9_-]` (and a dot after the first character) is
/// percent-encoded: the directory stays one path component, never `..`,
/// and two different names never share it.
pub fn tor_dir(tor: &Tor) -> String {
    let mut out = String::from("tor/");
    for (i, c) in tor.name.value.chars().enumerate() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' || (c == '.' && i > 0) {
            out.push(c);
        } else {
            let mut buffer = [0u8; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

/// FRR's `hostname` takes one word; anything else becomes `-`.
fn hostname(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `frr.conf`: the integrated-config form that `vtysh -f` reads (FRR 8.4.4,
/// which `vtysh --dryrun -f` accepts). `ip route PREFIX NEXTHOP` for
/// IPv4, `ipv6 route` for IPv6. A route whose next hop is of the other
/// family cannot be a static route, so it is written as a `!` comment
/// rather than as a line FRR would misread (it parses an unexpected next
/// hop as an interface name).
pub fn frr_conf(tor: &Tor, routes: &[TorRoute]) -> String {
    let mut out = String::from("frr defaults traditional\n");
    out.push_str(&format!("hostname {}\n!\n", hostname(&tor.name.value)));
    for route in routes {
        let command = if route.prefix.addr().is_ipv6() {
            "ipv6 route"
        } else {
            "ip route"
        };
        if route.same_family() {
            out.push_str(&format!("{command} {} {}\n", route.prefix, route.via));
        } else {
            out.push_str(&format!(
                "! not a static route (next hop of the other address family): {command} {} {}\n",
                route.prefix, route.via
            ));
        }
    }
    out.push_str("!\n");
    out
}

#[derive(Serialize)]
struct RoutesFile<'a> {
    tor: &'a str,
    segment: Option<SegmentRef<'a>>,
    routes: &'a [TorRoute],
}

#[derive(Serialize)]
struct SegmentRef<'a> {
    name: &'a str,
    prefix: IpNet,
}

/// `routes.json`: the ToR, its segment and its routes (schema:
/// `schemas/routes.schema.json`).
pub fn routes_json(topology: &Topology, tor: &Tor, routes: &[TorRoute]) -> serde_json::Value {
    let segment = tor.segment.map(|s| {
        let segment = &topology.segments[s];
        SegmentRef {
            name: &segment.name.value,
            prefix: segment.prefix.value,
        }
    });
    serde_json::to_value(RoutesFile {
        tor: &tor.name.value,
        segment,
        routes,
    })
    .expect("routes serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::topology_for_tests as topology;

    const TOR: &str = "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  backend tor\n}\n\
        segment rack-a {\n  prefix 192.168.60.0/24\n}\n\
        node b {\n  os linux\n  address 192.168.60.12\n}\n\
        node a {\n  os linux\n  address 192.168.60.11\n  pod-subnet 10.244.9.0/24\n}\n\
        tor \"tor \\\"a\\\"/x\" {\n  segment rack-a\n  routes auto\n  route 10.244.200.0/24 via 192.168.60.50\n}\n";

    #[test]
    fn auto_routes_every_subnet_on_the_segment_sorted_by_prefix() {
        let t = topology(TOR);
        let routes = routes(&t, &t.tors[0]);
        let shown: Vec<String> = routes
            .iter()
            .map(|r| format!("{} {} {:?}", r.prefix, r.via, r.node))
            .collect();
        assert_eq!(
            shown,
            [
                "10.244.0.0/24 192.168.60.12 Some(\"b\")",
                "10.244.9.0/24 192.168.60.11 Some(\"a\")",
                "10.244.200.0/24 192.168.60.50 None",
            ]
        );
    }

    #[test]
    fn frr_conf_has_header_one_line_per_route_and_a_safe_hostname() {
        let t = topology(TOR);
        let routes = routes(&t, &t.tors[0]);
        assert_eq!(
            frr_conf(&t.tors[0], &routes),
            "frr defaults traditional\nhostname tor--a--x\n!\n\
             ip route 10.244.0.0/24 192.168.60.12\nip route 10.244.9.0/24 192.168.60.11\n\
             ip route 10.244.200.0/24 192.168.60.50\n!\n"
        );
        assert_eq!(tor_dir(&t.tors[0]), "tor/tor%20%22a%22%2Fx");
    }

    #[test]
    fn ipv6_routes_use_ipv6_route_and_mixed_families_are_not_rendered_as_routes() {
        let tor = &topology(TOR).tors[0];
        let route = |prefix: &str, via: &str| TorRoute {
            prefix: prefix.parse().unwrap(),
            via: via.parse().unwrap(),
            node: None,
        };
        let text = frr_conf(
            tor,
            &[route("fd00:1::/64", "fd00::11"), route("fd00:2::/64", "192.168.60.11")],
        );
        assert!(text.contains("\nipv6 route fd00:1::/64 fd00::11\n"), "{text}");
        assert!(
            text.contains(
                "\n! not a static route (next hop of the other address family): ipv6 route fd00:2::/64 192.168.60.11\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn routes_json_satisfies_its_schema_and_the_schema_is_strict() {
        // IPv6 only: a ToR routes IPv6 pod subnets via IPv6 node addresses.
        let text = "cluster c {\n  pod-network fd00:10:244::/56\n  service-network fd00:10:96::/112\n  node-subnet-len 64\n  backend tor\n}\n\
            segment r {\n  prefix 2001:db8:60::/64\n}\n\
            node a {\n  os linux\n  address 2001:db8:60::10\n}\n\
            node b {\n  os linux\n  address 2001:db8:60::11\n}\n\
            tor t {\n  segment r\n  routes auto\n}\n";
        let t = topology(text);
        let routes = routes(&t, &t.tors[0]);
        assert!(routes.iter().any(|r| r.prefix.addr().is_ipv6()), "{routes:?}");
        let mut artifacts = crate::emit::Artifacts::default();
        let mut json = routes_json(&t, &t.tors[0], &routes);
        artifacts.json(format!("{}/routes.json", tor_dir(&t.tors[0])), &json);
        assert_eq!(crate::emit::validate::validate(&artifacts), Vec::<String>::new());
        json["routes"][0]["metric"] = serde_json::json!(1);
        json["routes"][1]["via"] = serde_json::json!("300.1.2.3");
        artifacts.json("tor/t/routes.json", &json);
        let problems = crate::emit::validate::validate(&artifacts);
        assert_eq!(problems.len(), 2, "{problems:#?}");
    }

    #[test]
    fn routes_json_names_tor_segment_and_owning_nodes() {
        let t = topology(TOR);
        let routes = routes(&t, &t.tors[0]);
        let json = routes_json(&t, &t.tors[0], &routes);
        assert_eq!(json["tor"], "tor \"a\"/x");
        assert_eq!(
            json["segment"],
            serde_json::json!({"name": "rack-a", "prefix": "192.168.60.0/24"})
        );
        assert_eq!(
            json["routes"][0],
            serde_json::json!({"prefix": "10.244.0.0/24", "via": "192.168.60.12", "node": "b"})
        );
        assert_eq!(
            json["routes"][2],
            serde_json::json!({"prefix": "10.244.200.0/24", "via": "192.168.60.50"})
        );
    }
}
