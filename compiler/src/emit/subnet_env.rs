//! `subnet.env`, what flanneld writes for the flannel CNI plugin: the
//! cluster network, this node's subnet as its first usable address with the
//! prefix length, the pod MTU and whether flanneld masquerades.

use super::facts::{first_host, pod_mtu, pod_network};
use crate::model::{NodeSubnets, Topology};

/// `masquerade` is flanneld's `--ip-masq`: on for Linux nodes (the stock
/// manifest's flag). Windows nodes get their SNAT from the CNI config's
/// OutBoundNAT policy, and `FLANNEL_IPMASQ=true` there would add a second one.
pub fn subnet_env(topology: &Topology, subnets: &NodeSubnets, masquerade: bool) -> String {
    let mut out = String::new();
    if let (Some(network), Some(subnet)) = (pod_network(topology, false), subnets.v4) {
        out.push_str(&format!("FLANNEL_NETWORK={network}\n"));
        out.push_str(&format!(
            "FLANNEL_SUBNET={}/{}\n",
            first_host(subnet),
            subnet.prefix_len()
        ));
    }
    if let (Some(network), Some(subnet)) = (pod_network(topology, true), subnets.v6) {
        out.push_str(&format!("FLANNEL_IPV6_NETWORK={network}\n"));
        out.push_str(&format!(
            "FLANNEL_IPV6_SUBNET={}/{}\n",
            first_host(subnet),
            subnet.prefix_len()
        ));
    }
    out.push_str(&format!("FLANNEL_MTU={}\n", pod_mtu(topology)));
    out.push_str(&format!("FLANNEL_IPMASQ={masquerade}\n"));
    out
}
