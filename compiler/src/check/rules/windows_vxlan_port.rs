//! N0303: with Windows nodes, the vxlan backend must use UDP port 4789.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Topology, LINUX_VXLAN_PORT, WINDOWS_VXLAN_PORT};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0303",
        name: "windows-vxlan-port",
        severity: Severity::Error,
        summary: "with Windows nodes, the vxlan backend must use UDP port 4789",
        explanation: include_str!("../../../docs/codes/N0303.md"),
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
    let port = vxlan.port.value;
    if port == WINDOWS_VXLAN_PORT {
        return;
    }
    let label = if port == LINUX_VXLAN_PORT {
        "the Linux kernel's vxlan port; Windows flanneld refuses to start with it"
    } else {
        "Windows flanneld refuses to start with any port but 4789"
    };
    let label = if vxlan.port.written {
        label.to_string()
    } else {
        format!("{label} (this is the default)")
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            vxlan.port.span,
            format!("Windows nodes need UDP port 4789, but the vxlan backend uses port {port}"),
        )
        .label(label)
        .with_secondary(windows.name.span, "Windows node declared here")
        .help("set `port 4789` in `backend vxlan { }` (or leave `port` out: with Windows nodes netc defaults to 4789); Linux nodes must use the same port")
        .note(format!("Windows flanneld logs `Port [{port}] is not supported on Windows. Omit the setting to default to port 4789`")),
    );
}
