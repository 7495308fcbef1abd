//! N0306: Windows overlay (vxlan) networks are IPv4-only, so a dual-stack
//! pod network cannot use vxlan when Windows nodes exist.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0306",
        name: "windows-overlay-dual-stack",
        severity: Severity::Error,
        summary: "Windows overlay (vxlan) networks do not support a dual-stack pod network",
        explanation: include_str!("../../../docs/codes/N0306.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    if topology.cluster.backend.vxlan.is_none() {
        return;
    }
    let (Some(windows), Some(v6)) = (topology.windows_nodes().next(), topology.dual_stack_ipv6_pods()) else {
        return;
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            v6.span,
            format!(
                "Windows overlay (vxlan) networks do not support dual-stack, but the pod network has the IPv6 prefix `{}`",
                v6.value
            ),
        )
        .label("Windows vxlan nodes get no IPv6 pod subnet")
        .with_secondary(windows.name.span, "Windows node declared here")
        .help("remove the IPv6 prefixes from `pod-network` and `service-network`, or keep dual-stack on Linux nodes only (flannel's Windows host-gw is IPv4-only too, N0328)"),
    );
}
