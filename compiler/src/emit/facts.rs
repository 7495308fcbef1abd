//! Values derived from the topology that several artifacts share, computed
//! in one place so that, for example, the MTU in `subnet.env`, the CNI
//! config and the host program cannot disagree.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{encapsulation_overhead, nth_address, Node, Os, Topology};

/// The MTU pods get: the underlay MTU minus the backend's encapsulation
/// ([`encapsulation_overhead`], which rule N0323 checks with too).
pub fn pod_mtu(topology: &Topology) -> u32 {
    let cluster = &topology.cluster;
    cluster
        .underlay_mtu
        .value
        .saturating_sub(encapsulation_overhead(&cluster.backend))
}

/// The first usable address of a subnet (the bridge gateway, `.1`).
pub fn first_host(subnet: IpNet) -> IpAddr {
    nth_address(subnet, 1).unwrap_or(subnet.addr())
}

/// The pods' gateway on a Windows l2bridge network: win-bridge gives every
/// pod the subnet's `.2` (containernetworking/plugins v0.9.1,
/// `plugins/main/windows/win-bridge`: "needs to be x.2"), where the host
/// endpoint `<network>_ep` sits (flannel v0.28.9,
/// `pkg/backend/hostgw/hostgw_windows.go`). Pods are numbered after it.
pub fn l2bridge_pod_gateway(subnet: IpNet) -> IpAddr {
    nth_address(subnet, 2).unwrap_or(subnet.addr())
}

/// The pod network prefix of one family, if the cluster has one.
pub fn pod_network(topology: &Topology, ipv6: bool) -> Option<IpNet> {
    topology
        .cluster
        .pod_networks
        .iter()
        .map(|p| p.value)
        .find(|p| p.addr().is_ipv6() == ipv6)
}

pub fn service_network(topology: &Topology, ipv6: bool) -> Option<IpNet> {
    topology
        .cluster
        .service_networks
        .iter()
        .map(|p| p.value)
        .find(|p| p.addr().is_ipv6() == ipv6)
}

/// The node's underlay segment prefix (the "management subnet" on Windows).
pub fn segment_prefix(topology: &Topology, node: &Node) -> Option<IpNet> {
    node.segment.map(|s| topology.segments[s].prefix.value)
}

/// Where a node's artifacts live in the output directory.
pub fn node_dir(node: &Node) -> String {
    format!("nodes/{}", node.name.value)
}

pub fn is_windows(node: &Node) -> bool {
    node.os.value == Os::Windows
}

#[cfg(test)]
mod tests {
    use super::pod_mtu;
    use crate::diagnostic::SourceFile;

    fn pod_mtu_of(backend: &str) -> u32 {
        let text = format!(
            "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  underlay-mtu 1400\n  {backend}\n}}\n\
             segment s {{\n  prefix 10.1.0.0/24\n}}\nnode a {{\n  os linux\n  address 10.1.0.10\n}}\n"
        );
        let analysis = crate::analyze(&SourceFile::new("t.netc", text));
        assert!(analysis.diagnostics.is_empty(), "{:?}", analysis.diagnostics);
        pod_mtu(&analysis.topology.unwrap())
    }

    #[test]
    fn ipsec_takes_77_bytes_and_8_more_with_udp_encapsulation() {
        let psk = "k".repeat(96);
        assert_eq!(pod_mtu_of(&format!("backend ipsec {{ psk \"{psk}\" }}")), 1400 - 77);
        assert_eq!(
            pod_mtu_of(&format!("backend ipsec {{ psk \"{psk}\"; udp-encap off }}")),
            1400 - 77
        );
        assert_eq!(
            pod_mtu_of(&format!("backend ipsec {{ psk \"{psk}\"; udp-encap on }}")),
            1400 - 85
        );
        assert_eq!(pod_mtu_of("backend vxlan"), 1400 - 50);
        assert_eq!(pod_mtu_of("backend host-gw"), 1400);
    }
}
