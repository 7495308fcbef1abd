//! N0313: the Kubernetes control plane runs only on Linux, so a Windows node
//! cannot have `role control-plane`.

use crate::check::{describe_declaration, once_per_declaration, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Role, Topology};

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
    for node in once_per_declaration(topology.windows_nodes().filter(|n| n.role.value == Role::ControlPlane)) {
        let (subject, target) = describe_declaration(node);
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
