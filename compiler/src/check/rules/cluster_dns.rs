//! N0403: the cluster DNS address must be an address Kubernetes can give the
//! DNS Service: inside the service network, and not one it never hands out
//! or has already given to the `kubernetes` Service.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{nth_address, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0403",
        name: "cluster-dns",
        severity: Severity::Error,
        summary: "the cluster DNS address must be a usable address of the service network",
        explanation: include_str!("../../../docs/codes/N0403.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let cluster = &topology.cluster;
    // The `kubernetes` Service takes the first address of the first (primary)
    // service network.
    let api_service = cluster.service_networks.first().and_then(|s| nth_address(s.value, 1));
    for dns in &cluster.cluster_dns {
        let address = dns.value;
        let mut family = cluster
            .service_networks
            .iter()
            .filter(|s| s.value.addr().is_ipv6() == address.is_ipv6())
            .peekable();
        let Some(&first) = family.peek() else {
            continue; // no service network of this family: N0402
        };
        let (service, message, label) = match family.find(|s| s.value.contains(&address)) {
            None => (
                first,
                format!(
                    "the cluster DNS address `{address}` is outside the service network `{}`",
                    first.value
                ),
                format!("not in `{}`", first.value),
            ),
            Some(service) if address == service.value.network() => (
                service,
                format!(
                    "the cluster DNS address `{address}` is the network address of the service network `{}`",
                    service.value
                ),
                "Kubernetes never gives the network address to a Service".to_string(),
            ),
            Some(service)
                if address.is_ipv4() && service.value.prefix_len() < 31 && address == service.value.broadcast() =>
            {
                (
                    service,
                    format!(
                        "the cluster DNS address `{address}` is the broadcast address of the service network `{}`",
                        service.value
                    ),
                    "Kubernetes never gives the broadcast address to a Service".to_string(),
                )
            }
            Some(service) if Some(address) == api_service => (
                service,
                format!("the cluster DNS address `{address}` belongs to the `kubernetes` API Service"),
                "the API server's Service takes the first address of the service network".to_string(),
            ),
            Some(_) => continue,
        };
        let label = if dns.written {
            label
        } else {
            format!("{label} (this is the default)")
        };
        let help = match nth_address(service.value, 10) {
            Some(tenth) if tenth != address => format!(
                "use another address of `{}`; kubeadm's convention is the tenth: `cluster-dns {tenth}`",
                service.value
            ),
            _ => format!("use another address of `{}`", service.value),
        };
        out.push(
            Diagnostic::error(RULE.info.code, dns.span, message)
                .label(label)
                .with_secondary(service.span, "service network declared here")
                .help(help),
        );
    }
}
