//! N0316: Windows nodes became stable in Kubernetes 1.14.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{KubeVersion, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0316",
        name: "windows-kubernetes-version",
        severity: Severity::Error,
        summary: "Windows nodes need Kubernetes 1.14 or later",
        explanation: include_str!("../../../docs/codes/N0316.md"),
    },
    check,
};

/// The release that declared Windows nodes stable.
const WINDOWS_STABLE: KubeVersion = KubeVersion::new(1, 14);

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let kubernetes = &topology.cluster.kubernetes;
    if kubernetes.value >= WINDOWS_STABLE {
        return;
    }
    let Some(node) = topology.windows_nodes().next() else {
        return;
    };
    let label = if kubernetes.written {
        "Windows nodes are stable from Kubernetes 1.14".to_string()
    } else {
        "Windows nodes are stable from Kubernetes 1.14 (this version is the default)".to_string()
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            kubernetes.span,
            format!(
                "Windows nodes need Kubernetes 1.14 or later, but the cluster runs Kubernetes {}",
                kubernetes.value
            ),
        )
        .label(label)
        .with_secondary(node.name.span, "Windows node declared here")
        .help("write the release the cluster runs, 1.14 or later, as in `kubernetes 1.30`"),
    );
}
