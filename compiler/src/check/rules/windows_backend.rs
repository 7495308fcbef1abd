//! N0305: Windows nodes can only run the vxlan and host-gw flannel backends,
//! or netc's tor backend (no encapsulation; l2bridge on Windows).

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{BackendKind, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0305",
        name: "windows-backend",
        severity: Severity::Error,
        summary: "with Windows nodes, the backend must be vxlan, host-gw or tor",
        explanation: include_str!("../../../docs/codes/N0305.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let kind = &topology.cluster.backend.kind;
    let name = match kind.value {
        BackendKind::Vxlan | BackendKind::HostGw | BackendKind::Tor => return,
        BackendKind::Wireguard => "wireguard",
        BackendKind::Udp => "udp",
        BackendKind::Ipsec => "ipsec",
    };
    let Some(windows) = topology.windows_nodes().next() else {
        return;
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            kind.span,
            format!("Windows nodes cannot run the `{name}` backend"),
        )
        .label("flannel implements this backend on Linux only")
        .with_secondary(windows.name.span, "Windows node declared here")
        .help("use `backend vxlan` (an overlay), `backend host-gw` (all nodes on one L2 segment) or `backend tor` (an upstream router routes the pod subnets)"),
    );
}
