//! N0310: `windows { dsr on }` needs every Windows node on Windows Server
//! 2019 (build 17763) or later.

use crate::check::{build_gate_violations, BuildGate, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

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
    let gate = BuildGate {
        code: RULE.info.code,
        feature: "`dsr on`",
        minimum: MINIMUM,
        release: "Windows Server 2019",
        upgrade_to: "Windows Server 2019",
        cause: (dsr.span, "DSR turned on here"),
        alternative: "set `dsr off` in `windows { }`",
    };
    out.extend(build_gate_violations(topology, &gate));
}
