//! N0301: with Windows nodes, the vxlan VNI must be between 4096 and 65535.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0301",
        name: "windows-vxlan-vni",
        severity: Severity::Error,
        summary: "with Windows nodes, the vxlan VNI must be at least 4096 and at most 65535",
        explanation: include_str!("../../../docs/codes/N0301.md"),
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
    if (4096..=65535).contains(&vni) {
        return;
    }
    let (message, label) = if vni < 4096 {
        (
            format!("Windows nodes need VNI 4096, but the vxlan backend uses VNI {vni}"),
            "Windows flanneld refuses VNIs below 4096",
        )
    } else {
        (
            format!("Windows nodes need VNI 4096, but the vxlan backend uses VNI {vni}, which does not fit in 16 bits"),
            "Windows keeps the VNI in 16 bits",
        )
    };
    let label = if vxlan.vni.written {
        label.to_string()
    } else {
        format!("{label} (this is the default)")
    };
    out.push(
        Diagnostic::error(RULE.info.code, vxlan.vni.span, message)
            .label(label)
            .with_secondary(windows.name.span, "Windows node declared here")
            .help("set `vni 4096` in `backend vxlan { }`; every node, Linux and Windows, must use the same VNI"),
    );
}
