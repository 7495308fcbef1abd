//! N0312: `windows { session-affinity on }` (Services with
//! `sessionAffinity: ClientIP` on Windows) needs Windows Server 2022
//! (build 20348) or later.

use crate::check::{build_gate_violations, BuildGate, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

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
    let gate = BuildGate {
        code: RULE.info.code,
        feature: "`session-affinity on`",
        minimum: MINIMUM,
        release: "Windows Server 2022",
        upgrade_to: "Windows Server 2022",
        cause: (affinity.span, "session affinity turned on here"),
        alternative:
            "set `session-affinity off` and keep `sessionAffinity: ClientIP` off Services with Windows backends",
    };
    let note = "older Kubernetes docs named Windows Server Insider build 19551; netc follows the current docs";
    out.extend(build_gate_violations(topology, &gate).into_iter().map(|d| d.note(note)));
}
