//! N0408: no two nodes share an address (including nodes of overlapping
//! ranges).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Node, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0408",
        name: "duplicate-address",
        severity: Severity::Error,
        summary: "two nodes must not have the same address",
        explanation: include_str!("../../../docs/codes/N0408.md"),
    },
    check,
};

/// "node `a`", or "node `worker-3` of range `worker`".
fn describe(node: &Node) -> String {
    match &node.range {
        Some((range, _)) => format!("node `{}` of range `{range}`", node.name.value),
        None => format!("node `{}`", node.name.value),
    }
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let mut owners: BTreeMap<IpAddr, &Node> = BTreeMap::new();
    // One diagnostic per pair of declarations, so two overlapping ranges
    // give one, not one per shared address.
    let mut reported = BTreeSet::new();
    for node in &topology.nodes {
        let address = node.address.value;
        let Some(first) = owners.get(&address).copied() else {
            owners.insert(address, node);
            continue;
        };
        if !reported.insert((node.declared, first.declared)) {
            continue;
        }
        let help = match (&node.range, &first.range) {
            (Some((range, _)), Some((other, _))) => {
                format!("move range `{range}` or lower a count so that `{range}` and `{other}` do not overlap")
            }
            (Some((range, _)), None) => format!(
                "start range `{range}` elsewhere, or lower its count, so that it skips the address of node `{}`",
                first.name.value
            ),
            (None, _) => format!("give node `{}` an address of its own", node.name.value),
        };
        out.push(
            Diagnostic::error(
                RULE.info.code,
                node.address.span,
                format!(
                    "{} has the address `{address}`, like {}",
                    describe(node),
                    describe(first)
                ),
            )
            .label(format!("`{address}` is taken"))
            .with_secondary(first.address.span, format!("`{}` has `{address}`", first.name.value))
            .help(help),
        );
    }
}
