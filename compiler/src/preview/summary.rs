//! The summary of a preview: which nodes were added, removed or changed,
//! which pod routes appear and disappear, and how many files changed.
//!
//! Routes are the cluster's routing facts, whatever programs them (flanneld,
//! netc's agent or a ToR): every node's pod subnet via that node's address,
//! and every static route written on a ToR.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Change, FileDiff};
use crate::model::Topology;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub nodes_added: Vec<String>,
    pub nodes_removed: Vec<String>,
    /// Nodes in both revisions whose artifacts differ.
    pub nodes_changed: Vec<String>,
    /// `PREFIX via ADDRESS (node NAME)` or `(tor NAME)`.
    pub routes_added: Vec<String>,
    pub routes_removed: Vec<String>,
    pub files_added: usize,
    pub files_removed: usize,
    pub files_modified: usize,
    /// Per node: the paths of its changed artifacts.
    pub per_node: BTreeMap<String, Vec<String>>,
}

impl Summary {
    pub fn files_changed(&self) -> usize {
        self.files_added + self.files_removed + self.files_modified
    }
}

pub(super) fn summarize(base: Option<&Topology>, head: Option<&Topology>, files: &[FileDiff]) -> Summary {
    let base_nodes = node_names(base);
    let head_nodes = node_names(head);
    let mut per_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        if let Some(node) = &file.node {
            per_node.entry(node.clone()).or_default().push(file.path.clone());
        }
    }
    let base_routes = routes(base);
    let head_routes = routes(head);
    let count = |change| files.iter().filter(|f| f.change == change).count();
    Summary {
        nodes_added: head_nodes.difference(&base_nodes).cloned().collect(),
        nodes_removed: base_nodes.difference(&head_nodes).cloned().collect(),
        nodes_changed: base_nodes
            .intersection(&head_nodes)
            .filter(|node| per_node.contains_key(*node))
            .cloned()
            .collect(),
        routes_added: head_routes.difference(&base_routes).cloned().collect(),
        routes_removed: base_routes.difference(&head_routes).cloned().collect(),
        files_added: count(Change::Added),
        files_removed: count(Change::Removed),
        files_modified: count(Change::Modified),
        per_node,
    }
}

fn node_names(topology: Option<&Topology>) -> BTreeSet<String> {
    topology
        .map(|t| t.nodes.iter().map(|n| n.name.value.clone()).collect())
        .unwrap_or_default()
}

fn routes(topology: Option<&Topology>) -> BTreeSet<String> {
    let Some(topology) = topology else {
        return BTreeSet::new();
    };
    let nodes = topology
        .nodes
        .iter()
        .zip(&topology.subnets)
        .flat_map(|(node, subnets)| {
            subnets
                .iter()
                .map(move |subnet| format!("{subnet} via {} (node {})", node.address.value, node.name.value))
        });
    let tors = topology.tors.iter().flat_map(|tor| {
        tor.routes
            .iter()
            .map(move |r| format!("{} via {} (tor {})", r.prefix.value, r.via.value, tor.name.value))
    });
    nodes.chain(tors).collect()
}
