//! N0411: a ToR route's next hop is a host address on the ToR's segment.

use ipnet::IpNet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0411",
        name: "tor-next-hop",
        severity: Severity::Error,
        summary: "a ToR route's next hop must be a host address on the ToR's segment",
        explanation: include_str!("../../../docs/codes/N0411.md"),
    },
    check,
};

/// Whether `prefix` has a network (and for IPv4 a broadcast) address that
/// is not a host address: not for /31 and /32 (IPv6: /127 and /128).
fn has_reserved_ends(prefix: IpNet) -> bool {
    prefix.prefix_len() + 1 < prefix.max_prefix_len()
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    for tor in &topology.tors {
        let (Some(index), Some(segment_name)) = (tor.segment, &tor.segment_name) else {
            continue;
        };
        let segment = &topology.segments[index];
        let prefix = segment.prefix.value;
        for route in &tor.routes {
            let via = route.via.value;
            // A static route's next hop has the prefix's address family;
            // FRR would read an IPv4 next hop of an IPv6 route as an
            // interface name and accept it.
            if route.prefix.value.addr().is_ipv6() != via.is_ipv6() {
                let family = |ipv6: bool| if ipv6 { "IPv6" } else { "IPv4" };
                out.push(
                    Diagnostic::error(
                        RULE.info.code,
                        route.via.span,
                        format!(
                            "the {} route `{}` has the {} next hop `{via}`",
                            family(route.prefix.value.addr().is_ipv6()),
                            route.prefix.value,
                            family(via.is_ipv6())
                        ),
                    )
                    .label("a next hop must be of the prefix's family")
                    .help("route each family via an address of that family, or drop the route"),
                );
                continue;
            }
            let what = if !prefix.contains(&via) {
                None
            } else if has_reserved_ends(prefix) && via == prefix.network() {
                Some("the network address")
            } else if has_reserved_ends(prefix) && via.is_ipv4() && via == prefix.broadcast() {
                Some("the broadcast address")
            } else {
                continue;
            };
            let (message, label) = match what {
                None => (
                    format!(
                        "the next hop `{via}` of route `{}` is not on segment `{}`",
                        route.prefix.value, segment.name.value
                    ),
                    format!("outside `{prefix}`"),
                ),
                Some(what) => (
                    format!(
                        "the next hop `{via}` of route `{}` is {what} of segment `{}`",
                        route.prefix.value, segment.name.value
                    ),
                    format!("{what} of `{prefix}`, not a host"),
                ),
            };
            out.push(
                Diagnostic::error(RULE.info.code, route.via.span, message)
                    .label(label)
                    .with_secondary(
                        segment_name.span,
                        format!(
                            "ToR `{}` is on segment `{}` (`{prefix}`)",
                            tor.name.value, segment.name.value
                        ),
                    )
                    .help(format!(
                        "route `{}` via the address of the node that owns it, a host of `{prefix}`",
                        route.prefix.value
                    )),
            );
        }
    }
}
