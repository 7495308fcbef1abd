//! N0314: Kubernetes runs Windows nodes on amd64 only.

use crate::check::{describe_declaration, once_per_declaration, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Arch, Topology};

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
    for node in once_per_declaration(topology.windows_nodes().filter(|n| n.arch.value != Arch::Amd64)) {
        let arch = node.arch.value;
        let (subject, target) = describe_declaration(node);
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
