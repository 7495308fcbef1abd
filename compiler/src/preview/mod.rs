//! Diff previews: what a change to a topology does, for a pull request.
//!
//! `preview(base, head)` takes both sides as compiled (topology and
//! artifacts, either of which may be missing when a side does not compile)
//! and returns a [`Preview`]: every artifact that differs with its unified
//! diff (`similar`), a summary (nodes added, removed and changed, routes
//! added and removed, files changed, per node) and the disruption each
//! change causes (`disruption`). `render` prints it as text, GitHub
//! markdown within the comment limit, or JSON.
//!
//! Pure, like the rest of the compiler: the caller reads both revisions
//! (from git objects, `netc diff`) and compiles them.

pub mod consequence;
pub mod disruption;
pub mod render;
pub mod summary;

use std::collections::BTreeMap;

use serde::Serialize;
use similar::TextDiff;

use crate::model::Topology;
pub use consequence::{Consequence, Setting};
pub use disruption::{Class, Disruption};
pub use summary::Summary;

/// One side of a preview: what compiling it gave. `topology` is present
/// when the file was well-formed enough to build one, `files` when it
/// compiled without errors.
#[derive(Clone, Copy, Default)]
pub struct Side<'a> {
    pub topology: Option<&'a Topology>,
    pub files: Option<&'a BTreeMap<String, Vec<u8>>>,
}

/// How an artifact changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Added,
    Removed,
    Modified,
}

/// One artifact that differs between base and head.
#[derive(Clone, Debug, Serialize)]
pub struct FileDiff {
    pub path: String,
    pub change: Change,
    /// The node the artifact belongs to (`nodes/NAME/...`), if any.
    pub node: Option<String>,
    /// Unified diff with three lines of context and `a/`, `b/` headers.
    pub diff: String,
}

/// Everything a change does.
#[derive(Clone, Debug, Serialize)]
pub struct Preview {
    /// Whether each side compiled (produced artifacts).
    pub base_compiled: bool,
    pub head_compiled: bool,
    pub summary: Summary,
    /// Most severe first.
    pub disruptions: Vec<Disruption>,
    /// In path order.
    pub files: Vec<FileDiff>,
}

impl Preview {
    /// Whether head differs from base at all.
    pub fn has_changes(&self) -> bool {
        !self.files.is_empty() || !self.disruptions.is_empty()
    }
}

/// Compare two compiled sides. A side without artifacts counts as having
/// none, so a base that did not compile shows every head artifact as added.
/// `index.json` (the hashes of the others) is not compared.
pub fn preview(base: Side<'_>, head: Side<'_>) -> Preview {
    let empty = BTreeMap::new();
    let files = file_diffs(base.files.unwrap_or(&empty), head.files.unwrap_or(&empty));
    let summary = summary::summarize(base.topology, head.topology, &files);
    let disruptions = match (base.topology, head.topology) {
        (Some(base), Some(head)) => disruption::classify(base, head),
        _ => Vec::new(),
    };
    Preview {
        base_compiled: base.files.is_some(),
        head_compiled: head.files.is_some(),
        summary,
        disruptions,
        files,
    }
}

fn file_diffs(base: &BTreeMap<String, Vec<u8>>, head: &BTreeMap<String, Vec<u8>>) -> Vec<FileDiff> {
    let mut paths: Vec<&String> = base.keys().chain(head.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        // `index.json` lists the others' hashes: its diff would only repeat
        // theirs.
        .filter(|path| path.as_str() != "index.json")
        .filter_map(|path| {
            let (old, new) = (base.get(path), head.get(path));
            let change = match (old, new) {
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Removed,
                (Some(old), Some(new)) if old != new => Change::Modified,
                _ => return None,
            };
            let text = |bytes: Option<&Vec<u8>>| {
                bytes
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default()
            };
            let (old_text, new_text) = (text(old), text(new));
            let old_name = if old.is_some() {
                format!("a/{path}")
            } else {
                "/dev/null".to_owned()
            };
            let new_name = if new.is_some() {
                format!("b/{path}")
            } else {
                "/dev/null".to_owned()
            };
            let diff = TextDiff::from_lines(&old_text, &new_text)
                .unified_diff()
                .context_radius(3)
                .header(&old_name, &new_name)
                .to_string();
            Some(FileDiff {
                path: path.clone(),
                change,
                node: node_of(path),
                diff,
            })
        })
        .collect()
}

/// `nodes/NAME/...` belongs to node NAME.
fn node_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("nodes/")?;
    rest.split_once('/').map(|(node, _)| node.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn only_differing_files_with_unified_diffs() {
        let base = files(&[("a.json", "1\n2\n"), ("nodes/n1/x", "same\n"), ("gone", "x\n")]);
        let head = files(&[("a.json", "1\n3\n"), ("nodes/n1/x", "same\n"), ("nodes/n2/new", "y\n")]);
        let diffs = file_diffs(&base, &head);
        let summary: Vec<_> = diffs
            .iter()
            .map(|d| (d.path.as_str(), d.change, d.node.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("a.json", Change::Modified, None),
                ("gone", Change::Removed, None),
                ("nodes/n2/new", Change::Added, Some("n2")),
            ]
        );
        assert_eq!(
            diffs[0].diff,
            "--- a/a.json\n+++ b/a.json\n@@ -1,2 +1,2 @@\n 1\n-2\n+3\n"
        );
        assert!(diffs[1].diff.starts_with("--- a/gone\n+++ /dev/null\n"));
        assert!(diffs[2].diff.starts_with("--- /dev/null\n+++ b/nodes/n2/new\n"));
    }
}
