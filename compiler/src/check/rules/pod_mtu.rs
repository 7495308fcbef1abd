//! N0323: the pod MTU (`underlay-mtu` minus the backend's encapsulation
//! overhead) must be at least 1280 with IPv6 pods, or 576 otherwise.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{encapsulation_overhead, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0323",
        name: "pod-mtu",
        severity: Severity::Error,
        summary: "the pod MTU left after encapsulation must be at least 1280 with IPv6, or 576",
        explanation: include_str!("../../../docs/codes/N0323.md"),
    },
    check,
};

/// The smallest MTU an IPv6 link may have.
const IPV6_MIN_MTU: u32 = 1280;
/// The datagram size every IPv4 host must accept.
const IPV4_MIN_MTU: u32 = 576;

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let cluster = &topology.cluster;
    let underlay = &cluster.underlay_mtu;
    let kind = cluster.backend.kind.value;
    let overhead = encapsulation_overhead(&cluster.backend);
    let udp_encap = cluster.backend.ipsec.as_ref().is_some_and(|i| i.udp_encap.value);
    let encapsulation = if udp_encap {
        format!("`{kind}` encapsulation with `udp-encap`")
    } else {
        format!("`{kind}` encapsulation")
    };
    let pod_mtu = underlay.value.saturating_sub(overhead);
    let ipv6 = cluster.pod_networks.iter().any(|p| p.value.addr().is_ipv6());
    let (minimum, family) = if ipv6 {
        (IPV6_MIN_MTU, "IPv6")
    } else {
        (IPV4_MIN_MTU, "IPv4")
    };
    if pod_mtu >= minimum {
        return;
    }
    let message = if overhead == 0 {
        format!(
            "the pod MTU would be {pod_mtu}, below the {family} minimum of {minimum} (backend `{kind}` adds no encapsulation)"
        )
    } else {
        format!(
            "the pod MTU would be {pod_mtu} ({} minus {overhead} bytes of {encapsulation}), below the {family} minimum of {minimum}",
            underlay.value
        )
    };
    let label = if underlay.written {
        format!("leaves {pod_mtu} bytes for pod packets")
    } else {
        format!("leaves {pod_mtu} bytes for pod packets (this is the default)")
    };
    out.push(
        Diagnostic::error(RULE.info.code, underlay.span, message)
            .label(label)
            .help(format!(
                "raise `underlay-mtu` to at least {}, if the node network really carries packets that large",
                minimum + overhead
            )),
    );
}
