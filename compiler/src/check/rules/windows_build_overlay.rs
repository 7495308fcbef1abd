//! N0308: Windows overlay (vxlan) networking needs Windows Server 2019
//! (build 17763) with KB4489899 or later.

use std::collections::BTreeSet;

use crate::check::{windows_builds_below, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Node, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0308",
        name: "windows-build-overlay",
        severity: Severity::Error,
        summary: "Windows overlay (vxlan) networking needs Windows Server 2019 (build 17763) or later",
        explanation: include_str!("../../../docs/codes/N0308.md"),
    },
    check,
};

const MINIMUM: u32 = 17763;

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    if topology.cluster.backend.vxlan.is_none() {
        return;
    }
    let kind = &topology.cluster.backend.kind;
    let backend_label = if kind.written {
        "vxlan backend selected here"
    } else {
        "this cluster uses vxlan, the default backend"
    };
    let mut seen = BTreeSet::new();
    for (node, build) in windows_builds_below(topology, MINIMUM) {
        // One diagnostic per `node` block or `nodes` range.
        if !seen.insert(node.declared) {
            continue;
        }
        let Some(span) = node.build.as_ref().map(|b| b.span) else {
            continue;
        };
        out.push(
            Diagnostic::error(
                RULE.info.code,
                span,
                format!(
                    "overlay (vxlan) networking needs Windows Server 2019 (build {MINIMUM}), but {} build {build}",
                    subject(node)
                ),
            )
            .label(format!("build {build} is older than Windows Server 2019"))
            .with_secondary(kind.span, backend_label)
            .help(format!(
                "upgrade {} to Windows Server 2019 with KB4489899 or later, then update `build`; or use `backend host-gw`",
                target(node)
            )),
        );
    }
}

/// "Windows node `win-1` runs", or for a range "the Windows nodes of range `win` run".
fn subject(node: &Node) -> String {
    match &node.range {
        Some((range, _)) => format!("the Windows nodes of range `{range}` run"),
        None => format!("Windows node `{}` runs", node.name.value),
    }
}

fn target(node: &Node) -> String {
    match &node.range {
        Some((range, _)) => format!("the nodes of range `{range}`"),
        None => format!("`{}`", node.name.value),
    }
}
