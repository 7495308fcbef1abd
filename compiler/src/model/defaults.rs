//! The values netc assumes when a file does not say, in one place so that
//! docs and code agree.

use super::types::Backend;
use crate::syntax::ast::{BackendKind, KubeVersion};

/// flannel's default per-node subnet length (`SubnetLen`).
pub const NODE_SUBNET_LEN: u8 = 24;
/// Per-node IPv6 subnet length when an IPv4 family takes `node-subnet-len`
/// (flannel's `IPv6SubnetLen` default).
pub const NODE_SUBNET_LEN_V6: u8 = 64;
pub const UNDERLAY_MTU: u32 = 1500;
/// Assumed when `kubernetes` is not written: the oldest minor release still
/// maintained upstream when this netc was written.
pub const KUBERNETES: KubeVersion = KubeVersion::new(1, 33);
/// Windows flanneld's only interoperable VNI and UDP port.
pub const WINDOWS_VNI: u32 = 4096;
pub const WINDOWS_VXLAN_PORT: u32 = 4789;
/// flannel's Linux defaults: VNI 1 and the kernel's UDP port 8472.
pub const LINUX_VNI: u32 = 1;
pub const LINUX_VXLAN_PORT: u32 = 8472;
/// Windows flanneld's default `MacPrefix`.
pub const MAC_PREFIX: &str = "0E-2A";
/// containerd needs CNI API version 2 on Windows.
pub const CNI_API_VERSION: u8 = 2;
/// flannel's ipsec `ESPProposal` default.
pub const ESP_PROPOSAL: &str = "aes128gcm16-sha256-prfsha256-ecp256";
/// The shortest ipsec `PSK` flannel accepts, in characters.
pub const IPSEC_PSK_MIN_LEN: usize = 96;

/// The branch an `agent` block follows when it names none (`netc agent`'s
/// own default).
pub const AGENT_BRANCH: &str = "main";
/// Seconds between the agent's rounds (`netc agent --interval`'s default).
pub const AGENT_INTERVAL: u32 = 30;

/// The HNS network name Windows flanneld creates by default: `flannel.<VNI>`
/// for vxlan, `cbr0` for host-gw (and for tor, which uses l2bridge too).
pub fn default_network_name(backend: BackendKind, vni: u32) -> String {
    match backend {
        BackendKind::Vxlan => format!("flannel.{vni}"),
        _ => "cbr0".to_string(),
    }
}

/// Bytes the backend adds to a packet on the underlay (flannel's figures):
/// the pod MTU is the underlay MTU minus this. ipsec's UDP encapsulation
/// (`udp-encap on`) costs 8 bytes more.
pub fn encapsulation_overhead(backend: &Backend) -> u32 {
    match backend.kind.value {
        BackendKind::Vxlan => 50,
        BackendKind::Wireguard => 80,
        BackendKind::Ipsec if backend.ipsec.as_ref().is_some_and(|i| i.udp_encap.value) => 77 + 8,
        BackendKind::Ipsec => 77,
        BackendKind::Udp => 28,
        BackendKind::HostGw | BackendKind::Tor => 0,
    }
}
