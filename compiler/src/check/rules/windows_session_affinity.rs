//! N0312: `windows { session-affinity on }` (Services with
//! `sessionAffinity: ClientIP` on Windows) needs Windows Server 2022
//! (build 20348) or later.

use std::collections::BTreeSet;

use crate::check::{windows_builds_below, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Node, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0312",
        name: "windows-session-affinity",
        severity: Severity::Error,
        summary: "`session-affinity on` needs Windows Server 2022 (build 20348) or later",
        explanation: include_str!("../../../docs/codes/N0312.md"),
    },
    check,
};

const MINIMUM: u32 = 20348;

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let affinity = &topology.cluster.windows.session_affinity;
    if !affinity.value {
        return;
    }
    let mut seen = BTreeSet::new();
    for (node, build) in windows_builds_below(topology, MINIMUM) {
        // One diagnostic per `node` block or `nodes` range.
        if !seen.insert(node.declared) {
            continue;
        }
        let Some(span) = node.build.as_ref().map(|b| b.span) else {
            continue;
        };
        out.push(
            Diagnostic::error(
                RULE.info.code,
                span,
                format!(
                    "`session-affinity on` needs Windows Server 2022 (build {MINIMUM}), but {} build {build}",
                    subject(node)
                ),
            )
            .label(format!("build {build} is older than Windows Server 2022"))
            .with_secondary(affinity.span, "session affinity turned on here")
            .help(format!(
                "upgrade {} to Windows Server 2022 or later, then update `build`; or set `session-affinity off` and keep `sessionAffinity: ClientIP` off Services with Windows backends",
                target(node)
            ))
            .note("older Kubernetes docs named Windows Server Insider build 19551; netc follows the current docs"),
        );
    }
}

/// "Windows node `win-1` runs", or for a range "the Windows nodes of range `win` run".
fn subject(node: &Node) -> String {
    match &node.range {
        Some((range, _)) => format!("the Windows nodes of range `{range}` run"),
        None => format!("Windows node `{}` runs", node.name.value),
    }
}

fn target(node: &Node) -> String {
    match &node.range {
        Some((range, _)) => format!("the nodes of range `{range}`"),
        None => format!("`{}`", node.name.value),
    }
}
