//! N0404: the per-node pod subnet length must fit the pod network and leave
//! room for a gateway and pods.

use ipnet::IpNet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{family_len, Cluster, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0404",
        name: "node-subnet-len",
        severity: Severity::Error,
        summary: "the per-node subnet length must fit inside the pod network and leave room for pods",
        explanation: include_str!("../../../docs/codes/N0404.md"),
    },
    check,
};

/// The longest usable per-node subnet: a node needs its network address, a
/// gateway and at least one pod address (and for IPv4 a broadcast address).
const MAX_V4: u8 = 30;
const MAX_V6: u8 = 126;
/// Each node's IPv6 subnet in a dual-stack cluster.
const DUAL_STACK_V6: u8 = 64;

/// What is wrong with the per-node subnet length of one pod network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LenProblem {
    /// `node-subnet-len` is shorter than the pod prefix.
    Shorter,
    /// `node-subnet-len` leaves no room for a gateway and pods.
    TooLong { max: u8 },
    /// Dual-stack: the IPv6 pod prefix is longer than the /64 each node gets.
    V6PodTooLong,
}

/// Whether the per-node subnet length works for the pod network `pod`; the
/// capacity and pin rules skip a family that fails here.
pub(super) fn problem(cluster: &Cluster, pod: IpNet) -> Option<LenProblem> {
    let ipv6 = pod.addr().is_ipv6();
    let len = family_len(cluster, ipv6);
    let fixed_v6 = ipv6 && cluster.pod_networks.iter().any(|p| p.value.addr().is_ipv4());
    if fixed_v6 {
        return (pod.prefix_len() > len).then_some(LenProblem::V6PodTooLong);
    }
    let max = if ipv6 { MAX_V6 } else { MAX_V4 };
    if len < pod.prefix_len() {
        Some(LenProblem::Shorter)
    } else if len > max {
        Some(LenProblem::TooLong { max })
    } else {
        None
    }
}

/// flannel's default subnet length for a network: 24 (IPv6: 64), or the
/// network's prefix plus 2 when the network is smaller than /22 (IPv6: /62).
fn suggested_len(pod: IpNet) -> u8 {
    let prefix = pod.prefix_len();
    if pod.addr().is_ipv4() {
        if prefix <= 22 {
            24
        } else {
            (prefix + 2).min(MAX_V4)
        }
    } else if prefix <= 62 {
        64
    } else {
        (prefix + 2).min(MAX_V6)
    }
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let cluster = &topology.cluster;
    let setting = &cluster.node_subnet_len;
    let default_note = |label: String| {
        if setting.written {
            label
        } else {
            format!("{label} (`node-subnet-len` defaults to {})", setting.value)
        }
    };
    let mut reported_too_long = false;
    for pod in &cluster.pod_networks {
        let Some(problem) = problem(cluster, pod.value) else {
            continue;
        };
        let len = setting.value;
        let prefix = pod.value.prefix_len();
        let suggestion = suggested_len(pod.value);
        let fix = if suggestion >= prefix {
            format!(
                "set `node-subnet-len {suggestion}` ({} addresses per node), or use a wider pod network",
                addresses(pod.value, suggestion)
            )
        } else {
            format!(
                "use a pod network wide enough to split into node subnets, such as a /{}",
                suggestion - 2
            )
        };
        let diagnostic = match problem {
            LenProblem::Shorter => Diagnostic::error(
                RULE.info.code,
                setting.span,
                format!("node subnets of /{len} do not fit in the pod network `{}`", pod.value),
            )
            .label(default_note(format!("a /{len} is larger than the /{prefix} pod network")))
            .with_secondary(pod.span, "pod network declared here")
            .help(fix),
            LenProblem::TooLong { max } => {
                if reported_too_long {
                    continue;
                }
                reported_too_long = true;
                Diagnostic::error(
                    RULE.info.code,
                    setting.span,
                    format!("node subnets of /{len} leave no room for pods"),
                )
                .label(default_note(format!(
                    "the longest usable node subnet is a /{max}: it needs a gateway and pod addresses"
                )))
                .with_secondary(pod.span, "pod network declared here")
                .help(fix)
            }
            LenProblem::V6PodTooLong => Diagnostic::error(
                RULE.info.code,
                pod.span,
                format!(
                    "the IPv6 pod network `{}` is smaller than the /{DUAL_STACK_V6} each node of a dual-stack cluster gets",
                    pod.value
                ),
            )
            .label(format!("a /{prefix} cannot hold a /{DUAL_STACK_V6}"))
            .help("use an IPv6 pod network of /64 or wider, such as `fd00:10:244::/56` (256 node subnets)")
            .note("in a dual-stack cluster `node-subnet-len` sets the IPv4 length; every node gets a /64 of the IPv6 pod network"),
        };
        out.push(diagnostic);
    }
}

/// How many addresses a /`len` of `pod`'s family holds, for messages.
fn addresses(pod: IpNet, len: u8) -> String {
    let bits = u32::from(pod.max_prefix_len() - len);
    if bits >= 32 {
        format!("2^{bits}")
    } else {
        (1u64 << bits).to_string()
    }
}
