//! The rule registry. Every rule has a file here; `RULES` lists them in the
//! order they run (and `netc rules` prints them). Codes are never reused.

use super::Rule;

mod address_families;
mod agent_allowed_signer;
mod agent_branch;
mod agent_path;
mod agent_repo_url;
mod agent_ssh_secret;
mod backend_dual_stack;
mod cluster_dns;
mod duplicate_address;
mod flannel_version_skew;
mod host_gw_l2_adjacency;
mod interface_name;
mod ipsec_psk;
mod network_overlap;
mod node_name;
mod node_segment;
mod node_subnet_len;
mod pinned_subnet;
mod pod_mtu;
mod segment_gateway;
mod static_dataplane;
mod subnet_capacity;
mod tor_coverage;
mod tor_next_hop;
mod tor_route_overlap;
mod tor_unused;
mod vxlan_mac_prefix;
mod vxlan_vni_port_range;
mod windows_arch;
mod windows_backend;
mod windows_build_overlay;
mod windows_build_unknown;
mod windows_cni_api_version;
mod windows_control_plane;
mod windows_dsr;
mod windows_kubernetes_version;
mod windows_l2bridge_dual_stack;
mod windows_network_name;
mod windows_overlay_dual_stack;
mod windows_preserve_destination;
mod windows_session_affinity;
mod windows_settings_unused;
mod windows_vxlan_gbp_direct_routing;
mod windows_vxlan_port;
mod windows_vxlan_vni;
mod windows_vxlan_vni_not_4096;

/// Every rule, in code order.
pub static RULES: &[&Rule] = &[
    &windows_vxlan_vni::RULE,
    // N0302-N0312
    &windows_vxlan_vni_not_4096::RULE,
    &windows_vxlan_port::RULE,
    &windows_vxlan_gbp_direct_routing::RULE,
    &windows_backend::RULE,
    &windows_overlay_dual_stack::RULE,
    &host_gw_l2_adjacency::RULE,
    &windows_build_overlay::RULE,
    &windows_build_unknown::RULE,
    &windows_dsr::RULE,
    &windows_preserve_destination::RULE,
    &windows_session_affinity::RULE,
    // N0313-N0324
    &windows_control_plane::RULE,
    &windows_arch::RULE,
    &windows_cni_api_version::RULE,
    &windows_kubernetes_version::RULE,
    &vxlan_mac_prefix::RULE,
    &windows_settings_unused::RULE,
    &static_dataplane::RULE,
    &vxlan_vni_port_range::RULE,
    &windows_network_name::RULE,
    &backend_dual_stack::RULE,
    &pod_mtu::RULE,
    &ipsec_psk::RULE,
    // N0325-N0332
    &agent_repo_url::RULE,
    &agent_allowed_signer::RULE,
    &flannel_version_skew::RULE,
    &windows_l2bridge_dual_stack::RULE,
    &agent_ssh_secret::RULE,
    &interface_name::RULE,
    &agent_branch::RULE,
    &agent_path::RULE,
    // N0401-N0414
    &network_overlap::RULE,
    &address_families::RULE,
    &cluster_dns::RULE,
    &node_subnet_len::RULE,
    &subnet_capacity::RULE,
    &pinned_subnet::RULE,
    &node_segment::RULE,
    &duplicate_address::RULE,
    &node_name::RULE,
    &segment_gateway::RULE,
    &tor_next_hop::RULE,
    &tor_route_overlap::RULE,
    &tor_coverage::RULE,
    &tor_unused::RULE,
];

/// "contains the control character U+XXXX" for the first control character
/// (NUL, a line break, ...) in a name or setting that reaches a script,
/// a command line or a manifest; `None` when it has none.
fn control_character(text: &str) -> Option<String> {
    let c = text.chars().find(|c| c.is_control())?;
    Some(format!("contains the control character U+{:04X}", u32::from(c)))
}

/// The codes `crate::analyze` reports for `text`, in order: what the rules'
/// unit tests compare.
#[cfg(test)]
fn codes_of(text: String) -> Vec<&'static str> {
    crate::analyze(&crate::diagnostic::SourceFile::new("t.netc", text))
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect()
}
