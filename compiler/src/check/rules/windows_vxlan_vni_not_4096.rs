//! N0302: with Windows nodes, a vxlan VNI other than 4096 works but is not
//! the value Microsoft and sig-windows document for mixed clusters.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Topology, WINDOWS_VNI};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0302",
        name: "windows-vxlan-vni-not-4096",
        severity: Severity::Warning,
        summary: "with Windows nodes, a vxlan VNI above 4096 is accepted but only 4096 is documented",
        explanation: include_str!("../../../docs/codes/N0302.md"),
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
    let vni = vxlan.vni.value;
    // Below 4096 or above 65535 is N0301's error.
    if !(WINDOWS_VNI + 1..=65535).contains(&vni) {
        return;
    }
    out.push(
        Diagnostic::warning(
            RULE.info.code,
            vxlan.vni.span,
            format!(
                "the vxlan backend uses VNI {vni}, but mixed Linux/Windows clusters are only documented with VNI 4096"
            ),
        )
        .label("Windows flanneld accepts it, but the guides only document 4096")
        .with_secondary(windows.name.span, "Windows node declared here")
        .help("set `vni 4096` in `backend vxlan { }`, the value Microsoft's and sig-windows' guides use"),
    );
}
