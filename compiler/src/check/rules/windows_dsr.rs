//! N0310: `windows { dsr on }` needs every Windows node on Windows Server
//! 2019 (build 17763) or later.

use std::collections::BTreeSet;

use crate::check::{windows_builds_below, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Node, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0310",
        name: "windows-dsr",
        severity: Severity::Error,
        summary: "`dsr on` (Direct Server Return) needs Windows Server 2019 (build 17763) or later",
        explanation: include_str!("../../../docs/codes/N0310.md"),
    },
    check,
};

const MINIMUM: u32 = 17763;

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let dsr = &topology.cluster.windows.dsr;
    if !dsr.value {
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
                    "`dsr on` needs Windows Server 2019 (build {MINIMUM}), but {} build {build}",
                    subject(node)
                ),
            )
            .label(format!("build {build} is older than Windows Server 2019"))
            .with_secondary(dsr.span, "DSR turned on here")
            .help(format!(
                "upgrade {} to Windows Server 2019 or later, then update `build`; or set `dsr off` in `windows {{ }}`",
                target(node)
            )),
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
