//! N0401: the pod network, the service network and the segments (the
//! underlay) must not share addresses.

use ipnet::IpNet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity, Span, Spanned};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0401",
        name: "network-overlap",
        severity: Severity::Error,
        summary: "the pod network, the service network and the segment prefixes must not overlap",
        explanation: include_str!("../../../docs/codes/N0401.md"),
    },
    check,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pod,
    Service,
    Segment,
}

/// One declared range of addresses.
struct Range<'t> {
    kind: Kind,
    prefix: IpNet,
    span: Span,
    segment: &'t str,
}

impl Range<'_> {
    /// How a message names it: "the pod network", "segment `mgmt`".
    fn describe(&self) -> String {
        match self.kind {
            Kind::Pod => "the pod network".to_string(),
            Kind::Service => "the service network".to_string(),
            Kind::Segment => format!("segment `{}`", self.segment),
        }
    }
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let cluster = &topology.cluster;
    let networks = |kind, list: &[Spanned<IpNet>]| -> Vec<Range<'static>> {
        list.iter()
            .map(|p| Range {
                kind,
                prefix: p.value,
                span: p.span,
                segment: "",
            })
            .collect()
    };
    let pods = networks(Kind::Pod, &cluster.pod_networks);
    let services = networks(Kind::Service, &cluster.service_networks);
    let segments: Vec<Range> = topology
        .segments
        .iter()
        .map(|s| Range {
            kind: Kind::Segment,
            prefix: s.prefix.value,
            span: s.prefix.span,
            segment: &s.name.value,
        })
        .collect();

    // The first of each pair is the one reported: pods, then Services, then
    // the later of two segments.
    for pod in &pods {
        for other in services.iter().chain(&segments) {
            report(pod, other, out);
        }
    }
    for service in &services {
        for segment in &segments {
            report(service, segment, out);
        }
    }
    for (i, later) in segments.iter().enumerate() {
        for earlier in &segments[..i] {
            report(later, earlier, out);
        }
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn report(this: &Range, other: &Range, out: &mut Vec<Diagnostic>) {
    if !overlaps(&this.prefix, &other.prefix) {
        return;
    }
    let (a, b) = (this.prefix, other.prefix);
    let relation = if a == b {
        "is the same prefix as"
    } else if a.contains(&b) {
        "contains"
    } else {
        "lies inside"
    };
    let message = format!(
        "{} overlaps {}: `{a}` {relation} `{b}`",
        this.describe(),
        other.describe()
    );
    let label = if a == b {
        format!("the same addresses as {}", other.describe())
    } else {
        format!("shares addresses with `{b}`")
    };
    let secondary = match other.kind {
        Kind::Pod => "pod network declared here".to_string(),
        Kind::Service => "service network declared here".to_string(),
        Kind::Segment => format!("prefix of segment `{}`", other.segment),
    };
    let help = match (this.kind, other.kind) {
        (Kind::Pod, Kind::Service) if a.addr().is_ipv4() => {
            "give pods and Services separate ranges, such as `pod-network 10.244.0.0/16` and `service-network 10.96.0.0/12`"
                .to_string()
        }
        (Kind::Pod, Kind::Service) => "give pods and Services separate ranges that do not overlap".to_string(),
        (Kind::Pod | Kind::Service, Kind::Segment) => format!(
            "choose {} outside the underlay: segment `{}` holds the node addresses",
            this.describe(),
            other.segment
        ),
        _ => "give each segment its own prefix, or merge the two into one segment".to_string(),
    };
    out.push(
        Diagnostic::error(RULE.info.code, this.span, message)
            .label(label)
            .with_secondary(other.span, secondary)
            .help(help),
    );
}
