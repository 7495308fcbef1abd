//! N0311: `windows { preserve-destination on }` (Services that skip DNAT
//! on Windows) needs DSR in kube-proxy and Windows Server, version 1903
//! (build 18362) or later.

use crate::check::{build_gate_violations, BuildGate, Rule};
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

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
    let gate = BuildGate {
        code: RULE.info.code,
        feature: "`preserve-destination on`",
        minimum: MINIMUM,
        release: "Windows Server, version 1903",
        upgrade_to: "Windows Server, version 1903",
        cause: (preserve.span, "preserve-destination turned on here"),
        alternative: "set `preserve-destination off`",
    };
    out.extend(build_gate_violations(topology, &gate));
}
