//! N0311: `windows { preserve-destination on }` (Services that skip DNAT
//! on Windows) needs DSR in kube-proxy and Windows Server, version 1903
//! (build 18362) or later.

use std::collections::BTreeSet;

use crate::check::{windows_builds_below, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Node, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0311",
        name: "windows-preserve-destination",
        severity: Severity::Error,
        summary: "`preserve-destination on` needs `dsr on` and Windows Server, version 1903 (build 18362) or later",
        explanation: include_str!("../../../docs/codes/N0311.md"),
    },
    check,
};

const MINIMUM: u32 = 18362;

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let windows = &topology.cluster.windows;
    let preserve = &windows.preserve_destination;
    // Without Windows nodes the whole `windows { }` block is unused (N0318).
    if !preserve.value || !topology.has_windows() {
        return;
    }
    if !windows.dsr.value {
        let secondary = if windows.dsr.written {
            "DSR turned off here"
        } else {
            "this block does not turn on `dsr`"
        };
        out.push(
            Diagnostic::error(
                RULE.info.code,
                preserve.span,
                "`preserve-destination on` needs `dsr on`, but DSR is off",
            )
            .label("Windows needs DSR in kube-proxy for this")
            .with_secondary(windows.dsr.span, secondary)
            .help("add `dsr on` to `windows { }` (kube-proxy then runs with `--enable-dsr=true`), or set `preserve-destination off`"),
        );
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
                    "`preserve-destination on` needs Windows Server, version 1903 (build {MINIMUM}), but {} build {build}",
                    subject(node)
                ),
            )
            .label(format!("build {build} is older than Windows Server, version 1903"))
            .with_secondary(preserve.span, "preserve-destination turned on here")
            .help(format!(
                "upgrade {} to Windows Server, version 1903 or later, then update `build`; or set `preserve-destination off`",
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
