//! N0309: a Windows node without `build`, so netc cannot check the Windows
//! build gates (overlay, DSR, preserve-destination, session affinity).

use crate::check::{once_per_declaration, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0309",
        name: "windows-build-unknown",
        severity: Severity::Warning,
        summary: "a Windows node does not declare its `build`, so the Windows build gates go unchecked",
        explanation: include_str!("../../../docs/codes/N0309.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    for node in once_per_declaration(topology.windows_nodes().filter(|n| n.build.is_none())) {
        let (message, label) = match &node.range {
            Some((range, _)) => (
                format!("the Windows node range `{range}` does not declare a `build`"),
                "netc cannot check the Windows build gates for these nodes",
            ),
            None => (
                format!("Windows node `{}` does not declare its `build`", node.name.value),
                "netc cannot check the Windows build gates for this node",
            ),
        };
        out.push(
            Diagnostic::warning(RULE.info.code, node.name.span, message)
                .label(label)
                .help("add `build 17763` (or the node's real build: `[System.Environment]::OSVersion.Version.Build`)")
                .note("overlay networking, DSR, preserve-destination and session affinity each need a minimum Windows build"),
        );
    }
}
