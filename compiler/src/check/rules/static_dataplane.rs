//! N0319: `dataplane static` (netc's agent programs the routes) supports only
//! the vxlan, host-gw and tor backends, and only Linux nodes.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{BackendKind, Dataplane, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0319",
        name: "static-dataplane",
        severity: Severity::Error,
        summary: "`dataplane static` needs backend vxlan, host-gw or tor, and Linux nodes only",
        explanation: include_str!("../../../docs/codes/N0319.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let cluster = &topology.cluster;
    let dataplane = &cluster.dataplane;
    if dataplane.value != Dataplane::Static {
        return;
    }
    let kind = &cluster.backend.kind;
    if matches!(
        kind.value,
        BackendKind::Wireguard | BackendKind::Udp | BackendKind::Ipsec
    ) {
        out.push(
            Diagnostic::error(
                RULE.info.code,
                kind.span,
                format!(
                    "`dataplane static` cannot program backend `{}`: netc's agent programs only vxlan, host-gw and tor",
                    kind.value
                ),
            )
            .label("not programmed by the static dataplane")
            .with_secondary(dataplane.span, "static dataplane chosen here")
            .help(format!(
                "use `backend vxlan`, `backend host-gw` or `backend tor`, or write `dataplane flannel` to keep `backend {}`",
                kind.value
            )),
        );
    }
    if let Some(node) = topology.windows_nodes().next() {
        out.push(
            Diagnostic::error(
                RULE.info.code,
                dataplane.span,
                format!(
                    "`dataplane static` cannot program Windows node `{}`: netc's agent programs only Linux nodes",
                    node.name.value
                ),
            )
            .label("Windows nodes need flanneld")
            .with_secondary(node.name.span, "Windows node declared here")
            .help("write `dataplane flannel`: flanneld programs both Linux and Windows nodes"),
        );
    }
}
