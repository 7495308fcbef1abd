//! N0314: Kubernetes runs Windows nodes on amd64 only.

use std::collections::BTreeSet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Arch, Node, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0314",
        name: "windows-arch",
        severity: Severity::Error,
        summary: "Windows nodes must be amd64",
        explanation: include_str!("../../../docs/codes/N0314.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let mut reported = BTreeSet::new();
    for node in topology.windows_nodes() {
        let arch = node.arch.value;
        if arch == Arch::Amd64 || !reported.insert(node.declared) {
            continue;
        }
        let (subject, target) = describe(node);
        out.push(
            Diagnostic::error(
                RULE.info.code,
                node.arch.span,
                format!("Windows {subject} has arch `{arch}`, but Kubernetes runs Windows nodes only on amd64"),
            )
            .label("Windows nodes must be amd64")
            .help(format!(
                "set `arch amd64` on {target}, or run the {arch} workloads on Linux nodes (`os linux`)"
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
