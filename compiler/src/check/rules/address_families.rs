//! N0402: one prefix per address family, the same families for pods and
//! Services, and a service network for every cluster DNS address.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity, Span, Spanned};
use crate::model::{nth_address, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0402",
        name: "address-families",
        severity: Severity::Error,
        summary: "one prefix per family, the same families for pods and Services, and DNS in a service family",
        explanation: include_str!("../../../docs/codes/N0402.md"),
    },
    check,
};

fn family(address: IpAddr) -> &'static str {
    if address.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// "IPv4 only", "IPv6 only" or "dual-stack".
fn stack(prefixes: &[Spanned<IpNet>]) -> &'static str {
    let v4 = prefixes.iter().any(|p| p.value.addr().is_ipv4());
    let v6 = prefixes.iter().any(|p| p.value.addr().is_ipv6());
    match (v4, v6) {
        (true, true) => "dual-stack",
        (false, true) => "IPv6 only",
        _ => "IPv4 only",
    }
}

/// The span covering every prefix of a list.
fn span_of(prefixes: &[Spanned<IpNet>]) -> Option<Span> {
    let first = prefixes.first()?.span;
    Some(prefixes.iter().fold(first, |span, p| span.to(p.span)))
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let cluster = &topology.cluster;
    same_family_twice(
        "pod network",
        &cluster.pod_networks,
        "pod-network 10.244.0.0/16, fd00:10:244::/56",
        out,
    );
    same_family_twice(
        "service network",
        &cluster.service_networks,
        "service-network 10.96.0.0/12, fd00:10:96::/112",
        out,
    );

    let (pods, services) = (stack(&cluster.pod_networks), stack(&cluster.service_networks));
    if pods != services {
        if let (Some(service_span), Some(pod_span)) =
            (span_of(&cluster.service_networks), span_of(&cluster.pod_networks))
        {
            let help = match pods {
                "dual-stack" => "give the service network an IPv4 and an IPv6 prefix, like the pod network: `service-network 10.96.0.0/12, fd00:10:96::/112`",
                "IPv6 only" => "give the service network one IPv6 prefix, like the pod network: `service-network fd00:10:96::/112`",
                _ => "give the service network one IPv4 prefix, like the pod network: `service-network 10.96.0.0/12`",
            };
            out.push(
                Diagnostic::error(
                    RULE.info.code,
                    service_span,
                    format!("the pod network is {pods}, but the service network is {services}"),
                )
                .label(format!("{services}, unlike the pod network"))
                .with_secondary(pod_span, format!("the pod network is {pods}"))
                .help(help)
                .note("Kubernetes takes pods and Services from the same families: a dual-stack cluster lists both families in `--cluster-cidr` and in `--service-cluster-ip-range`"),
            );
        }
    }

    for dns in &cluster.cluster_dns {
        let ipv6 = dns.value.is_ipv6();
        if cluster
            .service_networks
            .iter()
            .any(|s| s.value.addr().is_ipv6() == ipv6)
        {
            continue;
        }
        let fam = family(dns.value);
        let mut label = format!("an {fam} address");
        if !dns.written {
            label.push_str(" (this is the default)");
        }
        let mut diagnostic = Diagnostic::error(
            RULE.info.code,
            dns.span,
            format!(
                "the cluster DNS address `{}` is {fam}, but the service network has no {fam} prefix",
                dns.value
            ),
        )
        .label(label);
        if let Some(span) = span_of(&cluster.service_networks) {
            diagnostic = diagnostic.with_secondary(span, format!("no {fam} prefix here"));
        }
        let help = match cluster.service_networks.first() {
            Some(service) => match nth_address(service.value, 10) {
                Some(address) => format!(
                    "use an address of the service network, such as `cluster-dns {address}`, or add an {fam} prefix to `service-network`"
                ),
                None => format!("use an address of the service network, or add an {fam} prefix to `service-network`"),
            },
            None => format!("add an {fam} prefix to `service-network`"),
        };
        out.push(diagnostic.help(help));
    }
}

/// Reports a list that names one family twice.
fn same_family_twice(what: &str, prefixes: &[Spanned<IpNet>], example: &str, out: &mut Vec<Diagnostic>) {
    let [first, second] = prefixes else {
        return;
    };
    if first.value.addr().is_ipv6() != second.value.addr().is_ipv6() {
        return;
    }
    let fam = family(first.value.addr());
    out.push(
        Diagnostic::error(
            RULE.info.code,
            second.span,
            format!("the {what} lists two {fam} prefixes"),
        )
        .label(format!("a second {fam} prefix"))
        .with_secondary(first.span, format!("first {fam} prefix"))
        .help(format!(
            "list one prefix per family: one IPv4 prefix, and an IPv6 prefix for dual-stack, as in `{example}`"
        )),
    );
}
