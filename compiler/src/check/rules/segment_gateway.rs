//! N0410: a segment's gateway is a host address of the segment.

use ipnet::IpNet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{nth_address, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0410",
        name: "segment-gateway",
        severity: Severity::Error,
        summary: "a segment's gateway must be a host address inside the segment's prefix",
        explanation: include_str!("../../../docs/codes/N0410.md"),
    },
    check,
};

/// Whether `prefix` has a network (and for IPv4 a broadcast) address that
/// is not a host address: not for /31 and /32 (IPv6: /127 and /128).
fn has_reserved_ends(prefix: IpNet) -> bool {
    prefix.prefix_len() + 1 < prefix.max_prefix_len()
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    for segment in &topology.segments {
        let Some(gateway) = &segment.gateway else {
            continue;
        };
        let prefix = segment.prefix.value;
        let address = gateway.value;
        let (message, label) = if !prefix.contains(&address) {
            (
                format!(
                    "the gateway `{address}` of segment `{}` is outside its prefix `{prefix}`",
                    segment.name.value
                ),
                format!("not in `{prefix}`"),
            )
        } else if has_reserved_ends(prefix) && address == prefix.network() {
            (
                format!(
                    "the gateway `{address}` of segment `{}` is the network address of `{prefix}`",
                    segment.name.value
                ),
                "the network address is not a host address".to_string(),
            )
        } else if has_reserved_ends(prefix) && address.is_ipv4() && address == prefix.broadcast() {
            (
                format!(
                    "the gateway `{address}` of segment `{}` is the broadcast address of `{prefix}`",
                    segment.name.value
                ),
                "the broadcast address is not a host address".to_string(),
            )
        } else {
            continue;
        };
        let help = match nth_address(prefix, 1) {
            Some(host) => {
                format!("write the router's address on the segment, usually the first host: `gateway {host}`")
            }
            None => "write the router's address on the segment".to_string(),
        };
        out.push(
            Diagnostic::error(RULE.info.code, gateway.span, message)
                .label(label)
                .with_secondary(segment.prefix.span, "segment prefix declared here")
                .help(help),
        );
    }
}
