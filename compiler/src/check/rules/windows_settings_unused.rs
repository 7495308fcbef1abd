//! N0318: Windows settings that no node uses: a `windows { }` block in a
//! cluster without Windows nodes, or `build` on a Linux node.

use std::collections::BTreeSet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Os, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0318",
        name: "windows-settings-unused",
        severity: Severity::Warning,
        summary: "Windows settings with no Windows node to apply to",
        explanation: include_str!("../../../docs/codes/N0318.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    if let Some(block) = topology.cluster.windows.declared {
        if !topology.has_windows() {
            out.push(
                Diagnostic::warning(
                    RULE.info.code,
                    block,
                    "the `windows { }` block has no effect: no node runs Windows",
                )
                .label("no Windows node reads these settings")
                .help("remove the `windows { }` block, or declare the Windows nodes it is meant for (`os windows`)"),
            );
        }
    }

    let mut reported = BTreeSet::new();
    for node in &topology.nodes {
        let Some(build) = &node.build else { continue };
        if node.os.value != Os::Linux || !reported.insert(node.declared) {
            continue;
        }
        let (subject, target) = match &node.range {
            Some((range, _)) => (format!("node range `{range}`"), format!("range `{range}`")),
            None => (
                format!("node `{}`", node.name.value),
                format!("node `{}`", node.name.value),
            ),
        };
        out.push(
            Diagnostic::warning(
                RULE.info.code,
                build.span,
                format!("Linux {subject} sets `build {}`, a Windows build number", build.value),
            )
            .label("only Windows nodes have a build")
            .with_secondary(node.os.span, "declared Linux here")
            .help(format!(
                "remove `build` from {target}, or write `os windows` if it runs Windows"
            )),
        );
    }
}
