//! N0315: from Kubernetes 1.24 (no dockershim) Windows nodes run containerd,
//! whose CNI path needs `apiVersion: 2` in win-overlay / win-bridge.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{KubeVersion, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0315",
        name: "windows-cni-api-version",
        severity: Severity::Error,
        summary: "Windows nodes on Kubernetes 1.24 or later need CNI API version 2",
        explanation: include_str!("../../../docs/codes/N0315.md"),
    },
    check,
};

/// The first release without dockershim: Windows nodes run containerd.
const NO_DOCKERSHIM: KubeVersion = KubeVersion::new(1, 24);

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let windows = &topology.cluster.windows;
    let kubernetes = &topology.cluster.kubernetes;
    if windows.cni_api_version.value != 1 || kubernetes.value < NO_DOCKERSHIM {
        return;
    }
    let Some(node) = topology.windows_nodes().next() else {
        return;
    };
    let version = kubernetes.value;
    let kube_label = if kubernetes.written {
        format!("Kubernetes {version} has no dockershim: Windows nodes run containerd")
    } else {
        format!("Kubernetes {version} is assumed (the default), which has no dockershim")
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            windows.cni_api_version.span,
            format!("Windows nodes on Kubernetes {version} need CNI API version 2, but `cni-api-version` is 1"),
        )
        .label("containerd needs the HCN (v2) CNI path")
        .with_secondary(kubernetes.span, kube_label)
        .with_secondary(node.name.span, "Windows node declared here")
        .help("write `cni-api-version 2` in `windows { }` (or remove the line: 2 is the default)"),
    );
}
