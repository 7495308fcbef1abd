//! N0308: Windows overlay (vxlan) networking needs Windows Server 2019
//! (build 17763) with KB4489899 or later.

use crate::check::{build_gate_violations, BuildGate, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0308",
        name: "windows-build-overlay",
        severity: Severity::Error,
        summary: "Windows overlay (vxlan) networking needs Windows Server 2019 (build 17763) or later",
        explanation: include_str!("../../../docs/codes/N0308.md"),
    },
    check,
};

const MINIMUM: u32 = 17763;

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    if topology.cluster.backend.vxlan.is_none() {
        return;
    }
    let kind = &topology.cluster.backend.kind;
    let backend_label = if kind.written {
        "vxlan backend selected here"
    } else {
        "this cluster uses vxlan, the default backend"
    };
    let gate = BuildGate {
        code: RULE.info.code,
        feature: "overlay (vxlan) networking",
        minimum: MINIMUM,
        release: "Windows Server 2019",
        upgrade_to: "Windows Server 2019 with KB4489899",
        cause: (kind.span, backend_label),
        alternative: "use `backend host-gw`",
    };
    out.extend(build_gate_violations(topology, &gate));
}
