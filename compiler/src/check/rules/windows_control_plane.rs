//! N0313: the Kubernetes control plane runs only on Linux, so a Windows node
//! cannot have `role control-plane`.

use std::collections::BTreeSet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Node, Role, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0313",
        name: "windows-control-plane",
        severity: Severity::Error,
        summary: "Windows nodes cannot run the Kubernetes control plane",
        explanation: include_str!("../../../docs/codes/N0313.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let mut reported = BTreeSet::new();
    for node in topology.windows_nodes() {
        if node.role.value != Role::ControlPlane || !reported.insert(node.declared) {
            continue;
        }
        let (subject, target) = describe(node);
        out.push(
            Diagnostic::error(
                RULE.info.code,
                node.role.span,
                format!("Windows {subject} has role `control-plane`, but the Kubernetes control plane runs only on Linux"),
            )
            .label("the control plane runs only on Linux")
            .help(format!(
                "remove `role control-plane` from {target} (Windows nodes are workers) and give the role to a Linux node"
            )),
        );
    }
}

/// How a message names a node: the node itself, or the range it came from.
fn describe(node: &Node) -> (String, String) {
    match &node.range {
        Some((range, _)) => (format!("node range `{range}`"), format!("range `{range}`")),
        None => (format!("node `{}`", node.name.value), format!("`{}`", node.name.value)),
    }
}
