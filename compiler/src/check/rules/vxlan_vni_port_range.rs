//! N0320: a VXLAN VNI is 24 bits (1..=16777215 here; 0 is rejected) and the
//! UDP port is 1..=65535.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0320",
        name: "vxlan-vni-port-range",
        severity: Severity::Error,
        summary: "the vxlan VNI must be 1 to 16777215 and the port 1 to 65535",
        explanation: include_str!("../../../docs/codes/N0320.md"),
    },
    check,
};

/// The largest 24-bit VNI.
const MAX_VNI: u32 = (1 << 24) - 1;

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let Some(vxlan) = &topology.cluster.backend.vxlan else {
        return;
    };
    // With Windows nodes, N0301 (VNI 4096..=65535) and N0303 (port 4789)
    // already reject every value this rule would, at the same place.
    if topology.has_windows() {
        return;
    }
    let vni = &vxlan.vni;
    if !(1..=MAX_VNI).contains(&vni.value) {
        let label = if vni.value == 0 {
            "0 is not a usable VNI"
        } else {
            "the VNI field has 24 bits"
        };
        out.push(
            Diagnostic::error(
                RULE.info.code,
                vni.span,
                format!("VNI {} is outside the VXLAN range 1 to {MAX_VNI}", vni.value),
            )
            .label(with_default(label, vni.written))
            .help("choose a VNI from 1 to 16777215; with Windows nodes, `vni 4096`"),
        );
    }
    let port = &vxlan.port;
    if !(1..=65535).contains(&port.value) {
        let label = if port.value == 0 {
            "flannel reads port 0 as \"use the default\""
        } else {
            "UDP ports have 16 bits"
        };
        out.push(
            Diagnostic::error(
                RULE.info.code,
                port.span,
                format!("UDP port {} is outside the range 1 to 65535", port.value),
            )
            .label(with_default(label, port.written))
            .help("write a real port: `port 4789` (required with Windows nodes) or `port 8472` (the Linux kernel's default)"),
        );
    }
}

fn with_default(label: &str, written: bool) -> String {
    if written {
        label.to_string()
    } else {
        format!("{label} (this is the default)")
    }
}
