//! The lock file (`<topology>.lock`): every node's pod subnets as first
//! allocated, so that later compiles keep them and adding a node never moves
//! another node's subnet.
//!
//! Format, chosen for small reviewable diffs: a header comment, `version 1`,
//! then one line per node sorted by name, `NAME PREFIX [PREFIX]`:
//!
//! ```text
//! # netc lock file: ...
//! version 1
//! master    10.244.0.0/24
//! win-1     10.244.9.0/24
//! ```

use std::collections::BTreeMap;

use ipnet::IpNet;

use crate::diagnostic::{Diagnostic, Span};

/// Recorded pod subnets by node name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lock {
    pub nodes: BTreeMap<String, Vec<IpNet>>,
}

const HEADER: &str = "\
# netc lock file: the pod subnet of every node, as first allocated.
# Commit it with the topology. `netc compile` keeps these allocations so that
# adding a node never moves another; `netc compile --locked` fails instead of
# changing this file.
";

impl Lock {
    /// Parse a lock file. Problems are `N0207` diagnostics with spans into
    /// the lock file's own text.
    pub fn parse(text: &str) -> (Lock, Vec<Diagnostic>) {
        let mut lock = Lock::default();
        let mut diagnostics = Vec::new();
        let mut version_seen = false;
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let content = line.split('#').next().unwrap_or_default();
            let mut words = content.split_whitespace();
            let Some(first) = words.next() else { continue };
            let at = |word: &str| {
                let begin = start + (word.as_ptr() as usize - line.as_ptr() as usize);
                Span::new(begin, begin + word.len())
            };
            if first == "version" {
                match words.next() {
                    Some("1") => version_seen = true,
                    other => diagnostics.push(
                        Diagnostic::error(
                            "N0207",
                            at(first),
                            format!("unsupported lock file version `{}`", other.unwrap_or("")),
                        )
                        .help("this netc reads `version 1`; delete the lock file to allocate afresh, or upgrade netc"),
                    ),
                }
                continue;
            }
            let mut subnets = Vec::new();
            let mut had_words = false;
            for word in words {
                had_words = true;
                match word.parse::<IpNet>() {
                    Ok(net) if net.trunc() == net => subnets.push(net),
                    _ => diagnostics.push(
                        Diagnostic::error("N0207", at(word), format!("`{word}` is not a pod subnet"))
                            .label("expected a prefix such as `10.244.1.0/24`")
                            .help("fix the line, or delete it to let netc allocate this node again"),
                    ),
                }
            }
            if !had_words {
                diagnostics.push(
                    Diagnostic::error(
                        "N0207",
                        at(first),
                        format!("node `{first}` has no subnet in the lock file"),
                    )
                    .help("write `NAME PREFIX`, or delete the line"),
                );
            } else if subnets.is_empty() {
                // Its bad prefix was reported; the node is allocated afresh.
            } else if lock.nodes.insert(first.to_string(), subnets).is_some() {
                diagnostics.push(
                    Diagnostic::error(
                        "N0207",
                        at(first),
                        format!("node `{first}` appears twice in the lock file"),
                    )
                    .help("keep one of the two lines"),
                );
            }
        }
        if !version_seen && !lock.nodes.is_empty() {
            diagnostics.push(
                Diagnostic::error("N0207", Span::default(), "the lock file has no `version` line")
                    .help("add `version 1` after the header comment"),
            );
        }
        (lock, diagnostics)
    }

    /// The lock file's text: names aligned, sorted, one node per line.
    pub fn render(&self) -> String {
        let width = self.nodes.keys().map(|name| name.len()).max().unwrap_or(0);
        let mut out = String::from(HEADER);
        out.push_str("version 1\n");
        for (name, subnets) in &self.nodes {
            let subnets: Vec<String> = subnets.iter().map(ToString::to_string).collect();
            out.push_str(&format!("{name:<width$}  {}\n", subnets.join(" ")));
        }
        out
    }
}

/// The lock recording a topology's allocation.
pub fn lock_of(topology: &super::Topology) -> Lock {
    let nodes = topology
        .nodes
        .iter()
        .zip(&topology.subnets)
        .map(|(node, subnets)| (node.name.value.clone(), subnets.iter().collect()))
        .collect();
    Lock { nodes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_and_parses_back() {
        let mut lock = Lock::default();
        lock.nodes
            .insert("win-1".into(), vec!["10.244.9.0/24".parse().unwrap()]);
        lock.nodes.insert(
            "master".into(),
            vec!["10.244.0.0/24".parse().unwrap(), "fd00::/64".parse().unwrap()],
        );
        let text = lock.render();
        assert!(
            text.ends_with("version 1\nmaster  10.244.0.0/24 fd00::/64\nwin-1   10.244.9.0/24\n"),
            "{text}"
        );
        assert_eq!(Lock::parse(&text), (lock, Vec::new()));
    }

    #[test]
    fn reports_bad_lines_with_their_position() {
        let text = "version 1\nmaster 10.244.0.5/24\nwin-1\nmaster 10.244.1.0/24\n";
        let (_, diagnostics) = Lock::parse(text);
        let spans: Vec<_> = diagnostics
            .iter()
            .map(|d| &text[d.primary.span.start as usize..d.primary.span.end as usize])
            .collect();
        assert_eq!(spans, ["10.244.0.5/24", "win-1"]);
        let (_, diagnostics) = Lock::parse("version 2\n");
        assert!(diagnostics[0].message.contains("version `2`"));
    }
}
