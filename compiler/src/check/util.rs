//! Small helpers shared by several rules.

use std::collections::BTreeSet;

use crate::diagnostic::{Diagnostic, Span};
use crate::model::{Node, Topology};

/// The Windows nodes whose `build` is known and below `minimum`.
pub fn windows_builds_below(topology: &Topology, minimum: u32) -> impl Iterator<Item = (&Node, u32)> {
    topology
        .windows_nodes()
        .filter_map(move |n| n.build.as_ref().map(|b| (n, b.value)).filter(|(_, b)| *b < minimum))
}

/// A human name for a Windows Server build, for messages.
pub fn windows_release(build: u32) -> &'static str {
    match build {
        b if b >= 26100 => "Windows Server 2025",
        b if b >= 20348 => "Windows Server 2022",
        b if b >= 18362 => "Windows Server, version 1903 or later",
        b if b >= 17763 => "Windows Server 2019",
        _ => "a Windows release older than Windows Server 2019",
    }
}

/// Keep one node per `node` block or `nodes` range, so that a rule reports
/// a 5,000-node range once.
pub fn once_per_declaration<'a>(nodes: impl Iterator<Item = &'a Node>) -> impl Iterator<Item = &'a Node> {
    let mut seen = BTreeSet::new();
    nodes.filter(move |node| seen.insert(node.declared))
}

/// A Windows feature that needs at least a given OS build.
pub struct BuildGate<'a> {
    pub code: &'static str,
    /// The message's subject: "`dsr on`", "overlay (vxlan) networking".
    pub feature: &'a str,
    pub minimum: u32,
    /// The release that brought the build: "Windows Server 2019".
    pub release: &'a str,
    /// What to upgrade to, when it says more than `release`.
    pub upgrade_to: &'a str,
    /// Where the feature is turned on, with a label for that place.
    pub cause: (Span, &'a str),
    /// The other way out: "set `dsr off` in `windows { }`".
    pub alternative: &'a str,
}

/// One error per Windows `node` block or `nodes` range whose known build is
/// below the gate, at the `build` value.
pub fn build_gate_violations(topology: &Topology, gate: &BuildGate) -> Vec<Diagnostic> {
    let below = windows_builds_below(topology, gate.minimum).map(|(node, _)| node);
    once_per_declaration(below)
        .filter_map(|node| {
            let build = node.build.as_ref()?;
            let (subject, target) = match &node.range {
                Some((range, _)) => (
                    format!("the Windows nodes of range `{range}` run"),
                    format!("the nodes of range `{range}`"),
                ),
                None => (
                    format!("Windows node `{}` runs", node.name.value),
                    format!("`{}`", node.name.value),
                ),
            };
            Some(
                Diagnostic::error(
                    gate.code,
                    build.span,
                    format!(
                        "{} needs {} (build {}), but {subject} build {}",
                        gate.feature, gate.release, gate.minimum, build.value
                    ),
                )
                .label(format!("build {} is older than {}", build.value, gate.release))
                .with_secondary(gate.cause.0, gate.cause.1)
                .help(format!(
                    "upgrade {target} to {} or later, then update `build`; or {}",
                    gate.upgrade_to, gate.alternative
                )),
            )
        })
        .collect()
}

/// How a message names a node's declaration, and how its help names what to
/// edit: ("node `win-1`", "`win-1`") or ("node range `win`", "range `win`").
pub fn describe_declaration(node: &Node) -> (String, String) {
    match &node.range {
        Some((range, _)) => (format!("node range `{range}`"), format!("range `{range}`")),
        None => (format!("node `{}`", node.name.value), format!("`{}`", node.name.value)),
    }
}
