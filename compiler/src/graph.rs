//! `netc graph`: a picture of a topology for the README and for pull
//! requests, as Mermaid (GitHub renders it inline) or Graphviz DOT.
//!
//! Both formats draw one scene: the cluster around its segments (with
//! their prefixes), nodes inside their segment (OS, address, pod subnets),
//! and each ToR with one edge per next hop labelled with the prefixes it
//! routes there. Ids are generated (`s0`, `n3`, `t0`, `h1`), so names only
//! ever appear inside escaped labels, and everything is in topology order,
//! so the same topology always draws the same text.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::emit::tor;
use crate::model::{Os, Role, Topology};

/// A box: its id and its label, one entry per line (unescaped).
struct Shape {
    id: String,
    lines: Vec<String>,
}

struct Group {
    id: String,
    lines: Vec<String>,
    members: Vec<Shape>,
}

struct Scene {
    cluster: Vec<String>,
    /// One group per segment, then (id `s_none`) the nodes without one.
    groups: Vec<Group>,
    tors: Vec<Shape>,
    /// `(from, to, label lines)`.
    edges: Vec<(String, String, Vec<String>)>,
}

fn scene(topology: &Topology) -> Scene {
    let c = &topology.cluster;
    let join = |prefixes: &[crate::diagnostic::Spanned<ipnet::IpNet>]| {
        prefixes
            .iter()
            .map(|p| p.value.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cluster = vec![
        format!("cluster {}", c.name.value),
        format!("backend {}, dataplane {}", c.backend.kind.value, c.dataplane.value),
        format!("pods {}", join(&c.pod_networks)),
        format!("services {}", join(&c.service_networks)),
    ];
    let mut groups: Vec<Group> = topology
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut prefix = s.prefix.value.to_string();
            if let Some(gateway) = &s.gateway {
                prefix.push_str(&format!(", gateway {}", gateway.value));
            }
            Group {
                id: format!("s{i}"),
                lines: vec![format!("segment {}", s.name.value), prefix],
                members: Vec::new(),
            }
        })
        .collect();
    let mut loose = Vec::new();
    let mut by_address: BTreeMap<IpAddr, String> = BTreeMap::new();
    for (i, (node, subnets)) in topology.nodes.iter().zip(&topology.subnets).enumerate() {
        let id = format!("n{i}");
        by_address.insert(node.address.value, id.clone());
        let mut kind = format!("{} {}", node.os.value, node.arch.value);
        if let (Os::Windows, Some(build)) = (node.os.value, &node.build) {
            kind.push_str(&format!(" build {}", build.value));
        }
        if node.role.value == Role::ControlPlane {
            kind.push_str(", control-plane");
        }
        let mut address = node.address.value.to_string();
        if let Some(interface) = &node.interface {
            address.push_str(&format!(" on \"{}\"", interface.value));
        }
        let pods: Vec<String> = subnets.iter().map(|s| s.to_string()).collect();
        let shape = Shape {
            id,
            lines: vec![
                node.name.value.clone(),
                kind,
                address,
                format!("pods {}", pods.join(", ")),
            ],
        };
        match node.segment {
            Some(s) => groups[s].members.push(shape),
            None => loose.push(shape),
        }
    }

    // Next hops that are not nodes (a router, a gateway) get a shape of
    // their own, in the segment that contains them.
    let mut tors = Vec::new();
    let mut edges = Vec::new();
    let mut hops = 0;
    for (t, tor) in topology.tors.iter().enumerate() {
        let id = format!("t{t}");
        let mut lines = vec![format!("tor {}", tor.name.value)];
        if tor.routes_auto.is_some() {
            lines.push("routes auto".to_string());
        }
        tors.push(Shape { id: id.clone(), lines });
        let mut by_via: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
        for route in tor::routes(topology, tor) {
            by_via.entry(route.via).or_default().push(route.prefix.to_string());
        }
        for (via, prefixes) in by_via {
            let target = by_address.entry(via).or_insert_with(|| {
                let hop = Shape {
                    id: format!("h{hops}"),
                    lines: vec![via.to_string()],
                };
                hops += 1;
                let id = hop.id.clone();
                let segment = topology.segments.iter().position(|s| s.prefix.value.contains(&via));
                match segment {
                    Some(s) => groups[s].members.push(hop),
                    None => loose.push(hop),
                }
                id
            });
            edges.push((id.clone(), target.clone(), prefixes));
        }
    }
    if !loose.is_empty() {
        groups.push(Group {
            id: "s_none".to_string(),
            lines: vec!["no segment".to_string()],
            members: loose,
        });
    }
    Scene {
        cluster,
        groups,
        tors,
        edges,
    }
}

/// Mermaid text inside a quoted label: Mermaid's `#name;` entities for the
/// characters that would end the string or be read as markup.
fn mermaid_text(lines: &[String]) -> String {
    let escaped: Vec<String> = lines
        .iter()
        .map(|line| {
            line.chars()
                .map(|c| match c {
                    '"' => "#quot;".to_string(),
                    '#' => "#35;".to_string(),
                    '&' => "#amp;".to_string(),
                    '<' => "#lt;".to_string(),
                    '>' => "#gt;".to_string(),
                    '`' => "#96;".to_string(),
                    c if c.is_control() => " ".to_string(),
                    c => c.to_string(),
                })
                .collect()
        })
        .collect();
    format!("\"{}\"", escaped.join("<br/>"))
}

/// The topology as a Mermaid flowchart.
pub fn mermaid(topology: &Topology) -> String {
    let scene = scene(topology);
    let mut out = String::from("flowchart LR\n");
    out.push_str(&format!("  subgraph c0[{}]\n", mermaid_text(&scene.cluster)));
    for group in &scene.groups {
        out.push_str(&format!("    subgraph {}[{}]\n", group.id, mermaid_text(&group.lines)));
        for member in &group.members {
            let text = mermaid_text(&member.lines);
            if member.id.starts_with('h') {
                out.push_str(&format!("      {}(({text}))\n", member.id));
            } else {
                out.push_str(&format!("      {}[{text}]\n", member.id));
            }
        }
        out.push_str("    end\n");
    }
    out.push_str("  end\n");
    for tor in &scene.tors {
        out.push_str(&format!("  {}{{{{{}}}}}\n", tor.id, mermaid_text(&tor.lines)));
    }
    for (from, to, label) in &scene.edges {
        out.push_str(&format!("  {from} -->|{}| {to}\n", mermaid_text(label)));
    }
    out
}

/// A DOT string literal: backslash and quote escaped, lines joined by `\n`.
fn dot_text(lines: &[String]) -> String {
    let escaped: Vec<String> = lines
        .iter()
        .map(|line| {
            line.chars()
                .map(|c| match c {
                    '\\' => "\\\\".to_string(),
                    '"' => "\\\"".to_string(),
                    c if c.is_control() => " ".to_string(),
                    c => c.to_string(),
                })
                .collect()
        })
        .collect();
    format!("\"{}\"", escaped.join("\\n"))
}

/// The topology as a Graphviz digraph (`dot -Tsvg`).
pub fn dot(topology: &Topology) -> String {
    let scene = scene(topology);
    let mut out = String::from("digraph netc {\n  rankdir=LR;\n  node [shape=box];\n");
    out.push_str(&format!(
        "  subgraph cluster_cluster {{\n    label={};\n",
        dot_text(&scene.cluster)
    ));
    for group in &scene.groups {
        out.push_str(&format!(
            "    subgraph cluster_{} {{\n      label={};\n",
            group.id,
            dot_text(&group.lines)
        ));
        for member in &group.members {
            let shape = if member.id.starts_with('h') {
                ", shape=ellipse"
            } else {
                ""
            };
            out.push_str(&format!(
                "      {} [label={}{shape}];\n",
                member.id,
                dot_text(&member.lines)
            ));
        }
        out.push_str("    }\n");
    }
    out.push_str("  }\n");
    for tor in &scene.tors {
        out.push_str(&format!(
            "  {} [label={}, shape=hexagon];\n",
            tor.id,
            dot_text(&tor.lines)
        ));
    }
    for (from, to, label) in &scene.edges {
        out.push_str(&format!("  {from} -> {to} [label={}];\n", dot_text(label)));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::SourceFile;

    use crate::topology_for_tests as topology;

    /// Quotes, `#`, `<` and a backslash in names, and a quoted interface.
    const TRICKY: &str = "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  backend tor\n}\n\
        segment \"rack \\\"a\\\" #1 <x>\\\\\" {\n  prefix 192.168.60.0/24\n}\n\
        node m {\n  os linux\n  address 192.168.60.10\n  role control-plane\n}\n\
        node w {\n  os windows\n  build 17763\n  address 192.168.60.21\n  interface \"Ethernet 2\"\n}\n\
        tor \"t\\\"1\" {\n  segment \"rack \\\"a\\\" #1 <x>\\\\\"\n  routes auto\n  route 10.244.200.0/24 via 192.168.60.50\n}\n";

    #[test]
    fn mermaid_draws_segments_nodes_and_tor_routes() {
        let text = mermaid(&topology(TRICKY));
        let expected = [
            "flowchart LR",
            "  subgraph c0[\"cluster c<br/>backend tor, dataplane flannel<br/>pods 10.244.0.0/16<br/>services 10.96.0.0/12\"]",
            "    subgraph s0[\"segment rack #quot;a#quot; #35;1 #lt;x#gt;\\<br/>192.168.60.0/24\"]",
            "      n0[\"m<br/>linux amd64, control-plane<br/>192.168.60.10<br/>pods 10.244.0.0/24\"]",
            "      n1[\"w<br/>windows amd64 build 17763<br/>192.168.60.21 on #quot;Ethernet 2#quot;<br/>pods 10.244.1.0/24\"]",
            "      h0((\"192.168.60.50\"))",
            "    end",
            "  end",
            "  t0{{\"tor t#quot;1<br/>routes auto\"}}",
            "  t0 -->|\"10.244.0.0/24\"| n0",
            "  t0 -->|\"10.244.1.0/24\"| n1",
            "  t0 -->|\"10.244.200.0/24\"| h0",
        ];
        assert_eq!(text, expected.join("\n") + "\n");
    }

    #[test]
    fn dot_escapes_quotes_and_backslashes_and_uses_clusters() {
        let text = dot(&topology(TRICKY));
        assert!(text.starts_with("digraph netc {\n"), "{text}");
        assert!(text.ends_with("}\n"), "{text}");
        assert!(
            text.contains(
                "    subgraph cluster_s0 {\n      label=\"segment rack \\\"a\\\" #1 <x>\\\\\\n192.168.60.0/24\";\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("192.168.60.21 on \\\"Ethernet 2\\\"\\npods 10.244.1.0/24\"];"),
            "{text}"
        );
        assert!(
            text.contains("  t0 [label=\"tor t\\\"1\\nroutes auto\", shape=hexagon];\n"),
            "{text}"
        );
        assert!(text.contains("  t0 -> h0 [label=\"10.244.200.0/24\"];\n"), "{text}");
        // Every quote that is not escaped opens or closes a string: balanced per line.
        for line in text.lines() {
            let unescaped = line.replace("\\\\", "").replace("\\\"", "");
            assert_eq!(unescaped.matches('"').count() % 2, 0, "{line}");
        }
    }

    #[test]
    fn several_routes_to_one_next_hop_share_an_edge() {
        let text = "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  backend tor\n}\n\
            segment r {\n  prefix 192.168.60.0/24\n}\n\
            node a {\n  os linux\n  address 192.168.60.10\n}\n\
            tor t {\n  segment r\n  routes auto\n  route 10.244.200.0/24 via 192.168.60.10\n}\n";
        let text = mermaid(&topology(text));
        assert!(text.contains("pods 10.244.0.0/24"), "{text}");
        assert!(
            text.contains("  t0 -->|\"10.244.0.0/24<br/>10.244.200.0/24\"| n0\n"),
            "{text}"
        );
    }

    #[test]
    fn nodes_and_next_hops_outside_every_segment_are_still_drawn() {
        // Only a topology with errors has such nodes (N0407); the CLI
        // refuses to draw it, the function still shows everything it got.
        let text = "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  backend tor\n}\n\
            segment r {\n  prefix 192.168.60.0/24\n}\n\
            node a {\n  os linux\n  address 10.1.0.5\n}\n\
            tor t {\n  segment r\n  route 10.244.0.0/16 via 10.9.9.9\n}\n";
        let analysis = crate::analyze(&SourceFile::new("t.netc", text.to_string()));
        let text = mermaid(analysis.topology.as_ref().unwrap());
        assert!(
            text.contains("    subgraph s_none[\"no segment\"]\n      n0[\"a<br/>linux amd64<br/>10.1.0.5<br/>pods 10.244.0.0/24\"]\n      h0((\"10.9.9.9\"))\n    end\n"),
            "{text}"
        );
        assert!(text.contains("  t0 -->|\"10.244.0.0/16\"| h0\n"), "{text}");
    }

    #[test]
    fn drawing_is_deterministic() {
        let t = topology(TRICKY);
        assert_eq!(mermaid(&t), mermaid(&t));
        assert_eq!(dot(&t), dot(&t));
    }
}
