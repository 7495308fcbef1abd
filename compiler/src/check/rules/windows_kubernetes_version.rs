//! N0316: netc runs Windows flannel and kube-proxy as HostProcess
//! containers, which need Kubernetes 1.23 or later (Windows nodes themselves
//! became stable in 1.14).

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{KubeVersion, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0316",
        name: "windows-kubernetes-version",
        severity: Severity::Error,
        summary: "Windows nodes need Kubernetes 1.23 or later (HostProcess containers)",
        explanation: include_str!("../../../docs/codes/N0316.md"),
    },
    check,
};

/// HostProcess containers are beta (on by default) from 1.23, stable from
/// 1.26; netc's Windows DaemonSets are HostProcess pods.
const HOST_PROCESS: KubeVersion = KubeVersion::new(1, 23);

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let kubernetes = &topology.cluster.kubernetes;
    if kubernetes.value >= HOST_PROCESS {
        return;
    }
    let Some(node) = topology.windows_nodes().next() else {
        return;
    };
    let label = if kubernetes.written {
        "HostProcess containers arrived in Kubernetes 1.23".to_string()
    } else {
        "HostProcess containers arrived in Kubernetes 1.23 (this version is the default)".to_string()
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            kubernetes.span,
            format!(
                "Windows nodes need Kubernetes 1.23 or later, but the cluster runs Kubernetes {}",
                kubernetes.value
            ),
        )
        .label(label)
        .with_secondary(node.name.span, "Windows node declared here")
        .help("write the release the cluster runs, 1.23 or later, as in `kubernetes 1.30`")
        .note("netc runs flanneld and kube-proxy on Windows nodes as HostProcess DaemonSets"),
    );
}
