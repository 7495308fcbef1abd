//! N0332: the `path` of an `agent` block must be a relative path inside the
//! repository, as git names files in a tree: `/`-separated, without empty,
//! `.` or `..` components or control characters. The agents look the path
//! up in the fetched commit's tree, never on the node's disk, and it
//! reaches each DaemonSet's `--path` argument, inside the Windows agent's
//! PowerShell command line too.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0332",
        name: "agent-path",
        severity: Severity::Error,
        summary: "the agent's `path` must be a relative path in the repository, such as `clusters/prod.netc`",
        explanation: include_str!("../../../docs/codes/N0332.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let Some(agent) = &topology.agent else {
        return;
    };
    let path = &agent.path;
    let Some(problem) = problem(&path.value) else {
        return;
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            path.span,
            format!(
                "the agent's `path` {:?} is not a path inside the repository",
                path.value
            ),
        )
        .label(problem)
        .help("write the topology's path from the repository's top, with `/`, as in `path \"clusters/prod.netc\"`")
        .note("the agents read this file from the fetched commit's tree, not from the node's disk"),
    );
}

/// Why `path` names no file in a git tree, or `None` when it can.
fn problem(path: &str) -> Option<String> {
    if path.is_empty() {
        return Some("is empty".into());
    }
    if let Some(problem) = super::control_character(path) {
        return Some(problem);
    }
    if path.starts_with('/') {
        return Some("is absolute; paths in a repository start at its top, without `/`".into());
    }
    if path.ends_with('/') {
        return Some("ends with `/`: a directory, not a file".into());
    }
    path.split('/').find_map(|component| match component {
        "" => Some("has an empty component (`//`)".to_string()),
        "." | ".." => Some(format!("has the component `{component}`")),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn paths_in_a_tree_pass() {
        for path in [
            "cluster.netc",
            "clusters/prod.netc",
            "a b/c.yaml",
            "x/.hidden/y.netc",
            "ü/ñ.json",
        ] {
            assert_eq!(problem(path), None, "{path}");
        }
    }

    #[test]
    fn paths_outside_a_tree_fail() {
        for path in ["", "/etc/x.netc", "a/", "a//b", "./a", "a/../b", "..", "a\0b", "a\nb"] {
            assert!(problem(path).is_some(), "{path:?}");
        }
    }
}
