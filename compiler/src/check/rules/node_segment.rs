//! N0407: every node address lies in a declared segment, and is a host
//! address of it: not its network address, broadcast address or gateway.

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Node, Segment, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0407",
        name: "node-segment",
        severity: Severity::Error,
        summary: "a node address must be a host address of a declared segment",
        explanation: include_str!("../../../docs/codes/N0407.md"),
    },
    check,
};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Problem {
    NoSegment,
    Network,
    Broadcast,
    Gateway,
}

/// Whether `prefix` has a network (and for IPv4 a broadcast) address that
/// is not a host address: not for /31 and /32 (IPv6: /127 and /128).
fn has_reserved_ends(prefix: IpNet) -> bool {
    prefix.prefix_len() + 1 < prefix.max_prefix_len()
}

fn problem(node: &Node, segments: &[Segment]) -> Option<Problem> {
    let Some(index) = node.segment else {
        return Some(Problem::NoSegment);
    };
    let segment = &segments[index];
    let prefix = segment.prefix.value;
    let address = node.address.value;
    if has_reserved_ends(prefix) && address == prefix.network() {
        Some(Problem::Network)
    } else if has_reserved_ends(prefix) && address.is_ipv4() && address == prefix.broadcast() {
        Some(Problem::Broadcast)
    } else if segment.gateway.as_ref().is_some_and(|g| g.value == address) {
        Some(Problem::Gateway)
    } else {
        None
    }
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    // A range is reported once per problem, at its first node that has it.
    let mut reported = BTreeSet::new();
    for node in &topology.nodes {
        let Some(problem) = problem(node, &topology.segments) else {
            continue;
        };
        if node.range.is_some() && !reported.insert((node.declared, problem)) {
            continue;
        }
        out.push(diagnostic(topology, node, problem));
    }
}

fn diagnostic(topology: &Topology, node: &Node, problem: Problem) -> Diagnostic {
    let name = &node.name.value;
    let address = node.address.value;
    let in_range = node.range.as_ref().map(|(range, _)| range.as_str());
    let Some(segment) = node.segment.map(|i| &topology.segments[i]) else {
        let help = if topology.segments.is_empty() {
            "declare the L2 network the node is on, such as `segment rack-a { prefix 192.168.10.0/24 }`".to_string()
        } else {
            let known: Vec<String> = topology
                .segments
                .iter()
                .take(4)
                .map(|s| format!("`{}` (`{}`)", s.name.value, s.prefix.value))
                .collect();
            let more = if topology.segments.len() > known.len() {
                ", ..."
            } else {
                ""
            };
            format!(
                "correct the address, or declare a `segment` whose prefix contains `{address}` (declared: {}{more})",
                known.join(", ")
            )
        };
        let diagnostic = Diagnostic::error(
            RULE.info.code,
            node.address.span,
            format!("the address `{address}` of node `{name}` lies in no declared segment"),
        )
        .label(match in_range {
            Some(range) => format!("`{name}` of range `{range}` gets `{address}`, outside every segment"),
            None => "outside every segment".to_string(),
        })
        .help(help);
        return diagnostic;
    };
    let prefix = segment.prefix.value;
    let (what, secondary) = match problem {
        Problem::Network => ("the network address", None),
        Problem::Broadcast => ("the broadcast address", None),
        _ => (
            "the gateway",
            segment.gateway.as_ref().map(|g| (g.span, "gateway declared here")),
        ),
    };
    let message = format!(
        "node `{name}` has the address `{address}`, {what} of segment `{}`",
        segment.name.value
    );
    let label = match in_range {
        Some(range) => format!("`{name}` of range `{range}` gets {what} of `{prefix}`"),
        None => format!("{what} of `{prefix}`"),
    };
    let help = match in_range {
        Some(range) => format!("start range `{range}` elsewhere, or lower its count, so that no node gets `{address}`"),
        None => format!("give node `{name}` a host address of `{prefix}` that no router or other node uses"),
    };
    let mut diagnostic = Diagnostic::error(RULE.info.code, node.address.span, message)
        .label(label)
        .help(help);
    diagnostic = match secondary {
        Some((span, text)) => diagnostic.with_secondary(span, text),
        None => diagnostic.with_secondary(
            segment.prefix.span,
            format!("prefix of segment `{}`", segment.name.value),
        ),
    };
    diagnostic
}
