//! N0304: with Windows nodes, the vxlan options `gbp` and `direct-routing`
//! must stay off: Windows flanneld refuses to start with either.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0304",
        name: "windows-vxlan-gbp-direct-routing",
        severity: Severity::Error,
        summary: "with Windows nodes, the vxlan options `gbp` and `direct-routing` must be off",
        explanation: include_str!("../../../docs/codes/N0304.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let Some(vxlan) = &topology.cluster.backend.vxlan else {
        return;
    };
    let Some(windows) = topology.windows_nodes().next() else {
        return;
    };
    let options = [
        (&vxlan.gbp, "gbp", "GBP", "Group Based Policy"),
        (
            &vxlan.direct_routing,
            "direct-routing",
            "DirectRouting",
            "direct routing",
        ),
    ];
    for (field, key, flannel_key, what) in options {
        if !field.value {
            continue;
        }
        out.push(
            Diagnostic::error(
                RULE.info.code,
                field.span,
                format!("Windows flanneld does not support `{key} on` and refuses to start with it"),
            )
            .label(format!("{what} is Linux-only"))
            .with_secondary(windows.name.span, "Windows node declared here")
            .help(format!(
                "remove `{key} on` from `backend vxlan {{ }}` (or write `{key} off`); every node, Linux and Windows, reads the same net-conf"
            ))
            .note(format!("flannel's backend docs: \"{flannel_key} is not supported on Windows\"")),
        );
    }
}
