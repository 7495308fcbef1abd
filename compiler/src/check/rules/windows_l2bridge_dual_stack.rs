//! N0328: flannel's Windows l2bridge backends (host-gw, and tor, which uses
//! the same network) are IPv4-only, so a dual-stack pod network cannot have
//! Windows nodes on them either.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{BackendKind, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0328",
        name: "windows-l2bridge-dual-stack",
        severity: Severity::Error,
        summary: "Windows host-gw and tor nodes get an IPv4-only network, so the pod network cannot be dual-stack",
        explanation: include_str!("../../../docs/codes/N0328.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let kind = &topology.cluster.backend.kind;
    if !matches!(kind.value, BackendKind::HostGw | BackendKind::Tor) {
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
                "Windows nodes on `backend {}` get an IPv4-only l2bridge network, but the pod network has the IPv6 prefix `{}`",
                kind.value, v6.value
            ),
        )
        .label("no Windows node gets an IPv6 pod subnet, and Linux flanneld drops its lease")
        .with_secondary(windows.name.span, "Windows node declared here")
        .help("remove the IPv6 prefixes from `pod-network` and `service-network`, or keep dual-stack on Linux nodes only"),
    );
}

#[cfg(test)]
mod tests {
    use super::super::codes_of;

    fn topology(backend: &str, pods: &str, windows: bool) -> String {
        let services = if pods.contains(':') {
            "10.96.0.0/12, fd00:10:96::/112"
        } else {
            "10.96.0.0/12"
        };
        let mut text = format!(
            "cluster c {{\n  pod-network {pods}\n  service-network {services}\n  \
             kubernetes 1.30\n  backend {backend}\n}}\n\
             segment s {{\n  prefix 10.0.0.0/24\n  gateway 10.0.0.1\n}}\n\
             node a {{\n  os linux\n  address 10.0.0.10\n  role control-plane\n}}\n"
        );
        if windows {
            text.push_str("node w {\n  os windows\n  build 20348\n  address 10.0.0.21\n}\n");
        }
        text
    }

    #[test]
    fn a_windows_node_on_dual_stack_host_gw_is_an_error() {
        let codes = codes_of(topology("host-gw", "10.244.0.0/16, fd00:10:244::/56", true));
        assert_eq!(codes, ["N0328"]);
    }

    #[test]
    fn linux_only_dual_stack_and_windows_single_stack_are_fine() {
        assert!(codes_of(topology("host-gw", "10.244.0.0/16, fd00:10:244::/56", false)).is_empty());
        assert!(codes_of(topology("host-gw", "10.244.0.0/16", true)).is_empty());
    }
}
