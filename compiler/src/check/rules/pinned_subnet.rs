//! N0406: a pinned pod subnet must be a node subnet of the pod network that
//! no other node pinned.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::node_subnet_len;
use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity, Spanned};
use crate::model::{family_len, Node, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0406",
        name: "pinned-subnet",
        severity: Severity::Error,
        summary: "a pinned pod subnet must be an unused node subnet of the pod network",
        explanation: include_str!("../../../docs/codes/N0406.md"),
    },
    check,
};

fn family(ipv6: bool) -> &'static str {
    if ipv6 {
        "IPv6"
    } else {
        "IPv4"
    }
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let cluster = &topology.cluster;
    // Valid pins by subnet: the first node to pin each one.
    let mut taken: BTreeMap<IpNet, (&Node, &Spanned<IpNet>)> = BTreeMap::new();
    for node in topology.nodes.iter().filter(|n| !n.pinned.is_empty()) {
        let name = &node.name.value;
        let mut per_family: [Option<&Spanned<IpNet>>; 2] = [None; 2];
        for pin in &node.pinned {
            let subnet = pin.value;
            let ipv6 = subnet.addr().is_ipv6();
            let fam = family(ipv6);
            if let Some(first) = per_family[usize::from(ipv6)] {
                out.push(
                    Diagnostic::error(
                        RULE.info.code,
                        pin.span,
                        format!("node `{name}` pins two {fam} pod subnets"),
                    )
                    .label(format!("a second {fam} pod subnet"))
                    .with_secondary(first.span, format!("first {fam} pod subnet"))
                    .help("a node has one pod subnet per family: keep one of them"),
                );
                continue;
            }
            per_family[usize::from(ipv6)] = Some(pin);

            let Some(pod) = cluster.pod_networks.iter().find(|p| p.value.addr().is_ipv6() == ipv6) else {
                out.push(
                    Diagnostic::error(
                        RULE.info.code,
                        pin.span,
                        format!("node `{name}` pins the {fam} pod subnet `{subnet}`, but the pod network has no {fam} prefix"),
                    )
                    .label(format!("no {fam} pod network to take it from"))
                    .help(format!(
                        "remove this subnet from `pod-subnet`, or add an {fam} prefix to `pod-network`"
                    )),
                );
                continue;
            };
            if !pod.value.contains(&subnet) {
                out.push(
                    Diagnostic::error(
                        RULE.info.code,
                        pin.span,
                        format!(
                            "the pinned pod subnet `{subnet}` of node `{name}` is outside the pod network `{}`",
                            pod.value
                        ),
                    )
                    .label(format!("not inside `{}`", pod.value))
                    .with_secondary(pod.span, "pod network declared here")
                    .help(format!(
                        "pin a subnet of `{}`, or remove `pod-subnet` and let netc allocate one",
                        pod.value
                    )),
                );
                continue;
            }
            let len = family_len(cluster, ipv6);
            if node_subnet_len::problem(cluster, pod.value).is_none() && subnet.prefix_len() != len {
                let mut label = format!("not a /{len}");
                if !ipv6 || !topology.is_dual_stack() {
                    if !cluster.node_subnet_len.written {
                        label.push_str(&format!(" (`node-subnet-len` defaults to {len})"));
                    }
                } else {
                    label.push_str(" (each node of a dual-stack cluster gets an IPv6 /64)");
                }
                let fixed = IpNet::new(subnet.network(), len).map_or(subnet, |n| n.trunc());
                out.push(
                    Diagnostic::error(
                        RULE.info.code,
                        pin.span,
                        format!(
                            "the pinned pod subnet `{subnet}` of node `{name}` is a /{}, but node subnets are /{len}",
                            subnet.prefix_len()
                        ),
                    )
                    .label(label)
                    .help(format!("pin a /{len}, such as `pod-subnet {fixed}`")),
                );
                continue;
            }
            if let Some((first, first_pin)) = taken.get(&subnet) {
                out.push(
                    Diagnostic::error(
                        RULE.info.code,
                        pin.span,
                        format!(
                            "node `{name}` pins the pod subnet `{subnet}`, which node `{}` pinned already",
                            first.name.value
                        ),
                    )
                    .label("pinned twice")
                    .with_secondary(first_pin.span, format!("node `{}` pins it here", first.name.value))
                    .help("give each node its own subnet, or remove this `pod-subnet` and let netc allocate one"),
                );
                continue;
            }
            taken.insert(subnet, (node, pin));
        }
    }
}
