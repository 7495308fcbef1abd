//! N0414: `tor` blocks only matter with backend tor.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{BackendKind, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0414",
        name: "tor-unused",
        severity: Severity::Warning,
        summary: "a `tor` block has no effect unless the backend is tor",
        explanation: include_str!("../../../docs/codes/N0414.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let backend = &topology.cluster.backend.kind;
    if backend.value == BackendKind::Tor {
        return;
    }
    let kind = backend.value;
    let (secondary, how) = if backend.written {
        (format!("the backend is {kind}"), "")
    } else {
        (format!("no `backend` line: the backend is {kind}"), " by default")
    };
    for tor in &topology.tors {
        out.push(
            Diagnostic::warning(
                RULE.info.code,
                tor.name.span,
                format!(
                    "the routes of ToR `{}` are not used: the backend is {kind}{how}, not tor",
                    tor.name.value
                ),
            )
            .label(format!("the {kind} backend does not use these routes"))
            .with_secondary(backend.span, secondary.clone())
            .help(
                "write `backend tor` in the cluster to have the ToR route the pod subnets, or remove this `tor` block",
            ),
        );
    }
}
