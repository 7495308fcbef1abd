//! Values derived from the topology that several artifacts share, computed
//! in one place so that, for example, the MTU in `subnet.env`, the CNI
//! config and the host program cannot disagree.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{encapsulation_overhead, nth_address, BackendKind, Dataplane, Node, Os, Topology};

/// Whether flanneld programs the pod network (and so gets manifests and a
/// net-conf): the flannel dataplane with an overlay or host-gw backend. With
/// `backend tor` an upstream router routes pod subnets, and with the static
/// dataplane netc's agent programs the nodes; neither runs flanneld.
pub fn flanneld_runs(topology: &Topology) -> bool {
    topology.cluster.dataplane.value == Dataplane::Flannel && topology.cluster.backend.kind.value != BackendKind::Tor
}

/// The MTU pods get: the underlay MTU minus the backend's encapsulation.
pub fn pod_mtu(topology: &Topology) -> u32 {
    let cluster = &topology.cluster;
    cluster.underlay_mtu.value - encapsulation_overhead(cluster.backend.kind.value)
}

/// The first usable address of a subnet (the bridge gateway, `.1`).
pub fn first_host(subnet: IpNet) -> IpAddr {
    nth_address(subnet, 1).unwrap_or(subnet.addr())
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
