//! N0322: flannel supports dual-stack only with vxlan, wireguard and host-gw;
//! udp and ipsec leases never carry IPv6.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{BackendKind, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0322",
        name: "backend-dual-stack",
        severity: Severity::Error,
        summary: "a dual-stack pod network needs backend vxlan, wireguard, host-gw or tor",
        explanation: include_str!("../../../docs/codes/N0322.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let kind = &topology.cluster.backend.kind;
    if !matches!(kind.value, BackendKind::Udp | BackendKind::Ipsec) {
        return;
    }
    let Some(v6) = topology.dual_stack_ipv6_pods() else {
        return;
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            kind.span,
            format!(
                "flannel's `{}` backend does not support dual-stack, but the pod network has the IPv6 prefix `{}`",
                kind.value, v6.value
            ),
        )
        .label("IPv4 only: flannel turns IPv6 off for this backend")
        .with_secondary(v6.span, "IPv6 pod network")
        .help(format!(
            "use `backend vxlan`, `backend wireguard` or `backend host-gw` for dual-stack, or remove `{}` from `pod-network`",
            v6.value
        )),
    );
}
