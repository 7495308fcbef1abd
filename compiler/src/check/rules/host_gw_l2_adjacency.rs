//! N0307: flannel's host-gw routes each pod subnet via the owning node's
//! address as an on-link next hop, so every node must share one L2 segment.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{BackendKind, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0307",
        name: "host-gw-l2-adjacency",
        severity: Severity::Error,
        summary: "with the host-gw backend, every node must be on the same L2 segment",
        explanation: include_str!("../../../docs/codes/N0307.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    if topology.cluster.backend.kind.value != BackendKind::HostGw {
        return;
    }
    // Per segment: how many nodes it holds and its earliest declared node.
    // Nodes without a segment are another rule's business.
    let mut count = vec![0usize; topology.segments.len()];
    let mut first: Vec<Option<usize>> = vec![None; topology.segments.len()];
    for (i, node) in topology.nodes.iter().enumerate() {
        let Some(s) = node.segment else { continue };
        count[s] += 1;
        let earlier = first[s].is_none_or(|f| node.declared.start < topology.nodes[f].declared.start);
        if earlier {
            first[s] = Some(i);
        }
    }
    let occupied = count.iter().filter(|&&c| c > 0).count();
    if occupied < 2 {
        return;
    }
    // The reference: the segment with the most nodes, the earliest declared on a tie.
    let mut reference = 0;
    for (s, &c) in count.iter().enumerate() {
        if c > count[reference] {
            reference = s;
        }
    }
    let reference_name = &topology.segments[reference].name.value;
    let reference_node = &topology.nodes[first[reference].expect("the reference segment holds nodes")];
    for (s, segment) in topology.segments.iter().enumerate() {
        let (Some(f), true) = (first[s], s != reference) else {
            continue;
        };
        let node = &topology.nodes[f];
        let name = &segment.name.value;
        let label = match count[s] {
            1 => format!("the only node on segment `{name}`"),
            n => format!("first of {n} nodes on segment `{name}`"),
        };
        out.push(
            Diagnostic::error(
                RULE.info.code,
                node.name.span,
                format!(
                    "host-gw needs every node on one L2 segment, but node `{}` is on segment `{name}`, not `{reference_name}`",
                    node.name.value
                ),
            )
            .label(label)
            .with_secondary(
                reference_node.name.span,
                format!("`{}` is on segment `{reference_name}`", reference_node.name.value),
            )
            .help(format!(
                "put every node on one segment (here `{reference_name}`), or use `backend vxlan` or `backend tor`, which route across segments"
            ))
            .note(format!(
                "segment `{reference_name}` holds the most nodes ({}), so netc measures the others against it",
                count[reference]
            )),
        );
    }
}
