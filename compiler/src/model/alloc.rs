//! Pod subnet allocation: deterministic, pinned subnets first, then every
//! other node in declaration order takes the lowest free subnet.
//!
//! The allocation depends only on the topology, so the same file always gets
//! the same subnets; the lock file that keeps allocations sticky across edits
//! feeds its previous choices in as pins.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::defaults::NODE_SUBNET_LEN_V6;
use super::lock::Lock;
use super::types::{Cluster, Node, NodeSubnets};

/// The per-node subnet length for a pod network of the given family:
/// `node-subnet-len` for IPv4, or for IPv6 when it is the only family;
/// otherwise /64.
pub fn family_len(cluster: &Cluster, ipv6: bool) -> u8 {
    let has_v4 = cluster.pod_networks.iter().any(|p| p.value.addr().is_ipv4());
    if ipv6 && has_v4 {
        NODE_SUBNET_LEN_V6
    } else {
        cluster.node_subnet_len.value
    }
}

/// A node's explicit `pod-subnet` that another node holds in the lock file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockConflict {
    /// Index of the node whose `pod-subnet` asks for the subnet.
    pub pinned_by: usize,
    pub subnet: IpNet,
    /// The node the lock file gives it to.
    pub locked_to: String,
}

/// Allocate pod subnets for `nodes`, in order of precedence: a node's
/// `pod-subnet` (when it is a valid subnet of the pod network; the checks
/// report the invalid ones), then its subnet in the lock file (when still
/// valid and free), then the lowest free subnet.
pub fn allocate(cluster: &Cluster, nodes: &[Node], lock: &Lock) -> (Vec<NodeSubnets>, Vec<LockConflict>) {
    let mut subnets = vec![NodeSubnets::default(); nodes.len()];
    let mut conflicts = Vec::new();
    for pod in &cluster.pod_networks {
        let network = pod.value;
        let ipv6 = network.addr().is_ipv6();
        let len = family_len(cluster, ipv6);
        if len < network.prefix_len() || len > network.max_prefix_len() {
            continue;
        }
        let shift = u32::from(network.max_prefix_len() - len);
        let capacity_bits = u32::from(len - network.prefix_len());
        let capacity: u128 = if capacity_bits >= 127 {
            u128::MAX
        } else {
            1u128 << capacity_bits
        };
        let base = to_bits(network.network());
        let index_of = |net: &IpNet| (to_bits(net.network()) - base) >> shift;

        let mut used = BTreeSet::new();
        let mut pinned = vec![None; nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            let pin = node.pinned.iter().find(|p| p.value.addr().is_ipv6() == ipv6);
            if let Some(pin) = pin {
                if pin.value.prefix_len() == len && network.contains(&pin.value) && used.insert(index_of(&pin.value)) {
                    pinned[i] = Some(pin.value);
                }
            }
        }
        // Locked subnets come second: a locked subnet taken by an explicit
        // pin is a conflict the author must resolve.
        let mut locked_owner = std::collections::BTreeMap::new();
        for (i, node) in nodes.iter().enumerate() {
            let Some(recorded) = lock.nodes.get(&node.name.value) else {
                continue;
            };
            let Some(net) = recorded.iter().find(|n| n.addr().is_ipv6() == ipv6) else {
                continue;
            };
            if net.prefix_len() == len && network.contains(net) {
                locked_owner.insert(index_of(net), (i, *net));
            }
        }
        for (i, pin) in pinned.iter().enumerate() {
            let Some(pin) = pin else { continue };
            if let Some((owner, _)) = locked_owner.get(&index_of(pin)) {
                if *owner != i {
                    conflicts.push(LockConflict {
                        pinned_by: i,
                        subnet: *pin,
                        locked_to: nodes[*owner].name.value.clone(),
                    });
                }
            }
        }
        for (index, (owner, net)) in &locked_owner {
            let has_own_pin = nodes[*owner].pinned.iter().any(|p| p.value.addr().is_ipv6() == ipv6);
            if !has_own_pin && used.insert(*index) {
                pinned[*owner] = Some(*net);
            }
        }
        let mut next: u128 = 0;
        for (i, slot) in subnets.iter_mut().enumerate() {
            let chosen = match pinned[i] {
                Some(pin) => Some(pin),
                None if nodes[i].pinned.iter().any(|p| p.value.addr().is_ipv6() == ipv6) => None,
                None => {
                    while used.contains(&next) {
                        next += 1;
                    }
                    if next < capacity {
                        let subnet = from_bits(base + (next << shift), ipv6, len);
                        next += 1;
                        Some(subnet)
                    } else {
                        None
                    }
                }
            };
            if ipv6 {
                slot.v6 = chosen;
            } else {
                slot.v4 = chosen;
            }
        }
    }
    (subnets, conflicts)
}

fn to_bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_bits(bits: u128, ipv6: bool, len: u8) -> IpNet {
    let address = if ipv6 {
        IpAddr::V6(Ipv6Addr::from(bits))
    } else {
        IpAddr::V4(Ipv4Addr::from(bits as u32))
    };
    IpNet::new(address, len).expect("length checked against the family")
}

/// The address `n` after the network address of `prefix`, if the prefix
/// holds it (`nth_address(10.96.0.0/12, 10)` is kubeadm's DNS address).
pub fn nth_address(prefix: IpNet, n: u32) -> Option<IpAddr> {
    offset_address(prefix.network(), n).filter(|address| prefix.contains(address))
}

/// `address + offset` within the same family, if it does not overflow.
pub fn offset_address(address: IpAddr, offset: u32) -> Option<IpAddr> {
    match address {
        IpAddr::V4(a) => u32::from(a).checked_add(offset).map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        IpAddr::V6(a) => u128::from(a)
            .checked_add(u128::from(offset))
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    }
}
