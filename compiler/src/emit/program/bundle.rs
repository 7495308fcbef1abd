//! One node's compiled program with the cluster's peer table: the bundle
//! that a compilation, an output directory or a node's last-good state
//! hands to the node runtime, and the paths of its two files in an output
//! tree. Compiler and runtime both use these, so the file names and the
//! checks on reading them are written once.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::types::{PeerTable, Program, PEERS};

/// Where node `node`'s program is in an output tree.
pub fn program_path(node: &str) -> String {
    format!("nodes/{node}/program.json")
}

/// Why a bundle could not be read, or is not the node's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleError {
    /// `program.json` is not a program.
    Program { node: String, message: String },
    /// `peers.json` is not a peer table.
    Peers { message: String },
    /// The program is another node's.
    OtherNode { program: String, wanted: String },
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Program { node, message } => write!(f, "program.json of node {node}: {message}"),
            BundleError::Peers { message } => write!(f, "{PEERS}: {message}"),
            BundleError::OtherNode { program, wanted } => {
                write!(f, "the program is node `{program}`'s, not `{wanted}`'s")
            }
        }
    }
}

impl std::error::Error for BundleError {}

impl From<BundleError> for String {
    fn from(error: BundleError) -> String {
        error.to_string()
    }
}

/// A node's program and the peer table it is applied with. Serialized, it
/// is a node's `last-good.json`: `{"program": ..., "peers": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompiledNode {
    pub program: Program,
    pub peers: PeerTable,
}

impl CompiledNode {
    /// Node `node`'s bundle from the bytes of its `program.json` and of
    /// `peers.json`; the program must be `node`'s.
    pub fn from_json(node: &str, program: &[u8], peers: &[u8]) -> Result<CompiledNode, BundleError> {
        let program: Program = serde_json::from_slice(program).map_err(|e| BundleError::Program {
            node: node.to_owned(),
            message: e.to_string(),
        })?;
        let peers: PeerTable =
            serde_json::from_slice(peers).map_err(|e| BundleError::Peers { message: e.to_string() })?;
        CompiledNode { program, peers }.for_node(node)
    }

    /// Node `node`'s bundle from the files of a compilation's output tree;
    /// `Ok(None)` when the tree has no program for `node`.
    pub fn from_files(files: &BTreeMap<String, Vec<u8>>, node: &str) -> Result<Option<CompiledNode>, BundleError> {
        match (files.get(&program_path(node)), files.get(PEERS)) {
            (Some(program), Some(peers)) => CompiledNode::from_json(node, program, peers).map(Some),
            _ => Ok(None),
        }
    }

    /// The bundle, if its program is node `node`'s.
    pub fn for_node(self, node: &str) -> Result<CompiledNode, BundleError> {
        self.is_for(node).map(|()| self)
    }

    /// Whether the program is node `node`'s; why not.
    pub fn is_for(&self, node: &str) -> Result<(), BundleError> {
        if self.program.node == node {
            Ok(())
        } else {
            Err(BundleError::OtherNode {
                program: self.program.node.clone(),
                wanted: node.to_owned(),
            })
        }
    }

    /// This node's pod subnets, as the peer table lists them.
    pub fn own_subnets(&self) -> Vec<String> {
        self.peers
            .nodes
            .iter()
            .find(|peer| peer.name == self.program.node)
            .map(|peer| peer.subnets.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: &str = r#"{"version":1,"node":"a","os":"linux","operations":[]}"#;
    const PEERS_JSON: &str = r#"{"version":1,"cluster":"c","backend":"vxlan","nodes":[
        {"name":"a","os":"linux","address":"198.51.100.2","subnets":["198.18.0.0/24"]}]}"#;

    #[test]
    fn a_bundle_is_read_from_a_tree_and_checked_against_its_node() {
        let files = BTreeMap::from([
            (program_path("a"), PROGRAM.as_bytes().to_vec()),
            (PEERS.to_owned(), PEERS_JSON.as_bytes().to_vec()),
        ]);
        let bundle = CompiledNode::from_files(&files, "a").unwrap().unwrap();
        assert_eq!(bundle.own_subnets(), ["198.18.0.0/24"]);
        assert_eq!(CompiledNode::from_files(&files, "b").unwrap(), None);
        let other = CompiledNode::from_json("b", PROGRAM.as_bytes(), PEERS_JSON.as_bytes()).unwrap_err();
        assert_eq!(
            other,
            BundleError::OtherNode {
                program: "a".into(),
                wanted: "b".into()
            }
        );
        assert_eq!(other.to_string(), "the program is node `a`'s, not `b`'s");
        let garbled = CompiledNode::from_json("a", b"{", PEERS_JSON.as_bytes()).unwrap_err();
        assert!(matches!(&garbled, BundleError::Program { node, .. } if node == "a"));
        assert!(garbled.to_string().starts_with("program.json of node a: "));
        let peers = CompiledNode::from_json("a", PROGRAM.as_bytes(), b"[]").unwrap_err();
        assert!(peers.to_string().starts_with("peers.json: "), "{peers}");
        // The last-good form reads back as the same bundle.
        let json = serde_json::to_vec(&bundle).unwrap();
        assert_eq!(serde_json::from_slice::<CompiledNode>(&json).unwrap(), bundle);
    }
}
