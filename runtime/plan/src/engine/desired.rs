//! A host program and its peer table, expanded into the objects the node
//! should have, in program order.
//!
//! Each operation becomes the objects it names (see the `//!` header of
//! `netc_compiler::emit::program::types` for what each operation means):
//! - `kernel-module` becomes the `Module` and its `persist` file
//!   (`NAME\n`, mode 0644, as `host.sh` writes it).
//! - `link-up` sets `up` on the link the program declared before it.
//! - `vxlan-peers` expands, for every node of the peer table except this
//!   one, with pod subnets `Sj` of the device's family (the family of the
//!   vxlan link's `local`), to neighbour `Sj.network lladdr Mj`, FDB entry
//!   `Mj dst Aj` and route `Sj via Sj.network dev DEVICE onlink`. All the
//!   neighbours come first, then all the FDB entries, then all the routes
//!   (what `host.sh` does with three batches): no route exists before the
//!   kernel knows its gateway's MAC and VTEP (flannel's order,
//!   v0.28.9 `pkg/backend/vxlan/vxlan_network.go`).
//! - `host-gw-peers` expands to a route `Sj via Aj [dev DEVICE]` per pod
//!   subnet of the family of the node's address (flannel's
//!   `pkg/backend/route_network.go`).
//! - `cni-plugins` is a check, not an owned object: left out (the driver
//!   checks it before applying).
//!
//! The caller passes the peer table the program's peer operations name
//! (`table`, always `peers.json` today).
//!
//! Order: objects come in program order, which the compiler writes parents
//! first (module before its sysctls, link before its sysctls, addresses and
//! peers); `desired` refuses a program that uses a link before declaring it,
//! so the planner can keep this order for creates. An object named twice
//! identically is kept once; named twice differently it is an error.
//!
//! Unknown or inconsistent input (another format version, a Windows
//! program, a peer table without this node, a vxlan peer without a MAC, an
//! unparsable address) is an `Error` naming the culprit, never a panic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use netc_compiler::emit::program::types::{Operation, PeerTable, Program, ProgramOs, VERSION};

use super::objects::{Mac, Object, ObjectKey, VxlanLink};

/// Why a program cannot be expanded: a message naming the culprit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

macro_rules! bail {
    ($($arg:tt)*) => { return Err(Error(format!($($arg)*))) };
}

/// The objects `program` wants on its node, in program order.
pub fn desired(program: &Program, peers: &PeerTable) -> Result<Vec<Object>, Error> {
    if program.version != VERSION {
        bail!(
            "program.json of node {} has format version {}; this netc reads version {VERSION}",
            program.node,
            program.version
        );
    }
    if peers.version != VERSION {
        bail!(
            "the peer table has format version {}; this netc reads version {VERSION}",
            peers.version
        );
    }
    if program.os != ProgramOs::Linux {
        bail!(
            "node {} runs Windows: its program is rendered as PowerShell (host.ps1), not executed by this runtime",
            program.node
        );
    }
    if !peers.nodes.iter().any(|peer| peer.name == program.node) {
        bail!(
            "the peer table (cluster {}) has no node {}: it belongs to another compilation",
            peers.cluster,
            program.node
        );
    }
    // Every link the program declares, to refuse uses before declarations.
    let declared: BTreeSet<&str> = program
        .operations
        .iter()
        .filter_map(|op| match op {
            Operation::VxlanLink { name, .. } | Operation::Bridge { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let mut out = Builder {
        declared,
        objects: Vec::new(),
        index: BTreeMap::new(),
    };
    for op in &program.operations {
        match op {
            Operation::KernelModule { name, persist } => {
                out.push(Object::Module { name: name.clone() })?;
                out.push(Object::File {
                    path: absolute(persist)?,
                    content: format!("{name}\n"),
                    mode: Some("0644".into()),
                })?;
            }
            Operation::Sysctl {
                key,
                value,
                best_effort,
            } => out.push(Object::Sysctl {
                key: key.clone(),
                value: value.clone(),
                best_effort: *best_effort,
            })?,
            Operation::File { path, content, mode } => out.push(Object::File {
                path: absolute(path)?,
                content: content.clone(),
                mode: mode.clone(),
            })?,
            // Checked by the driver, own nothing.
            Operation::CniPlugins { .. } | Operation::InterfaceAddress { .. } => {}
            Operation::VxlanLink {
                name,
                vni,
                port,
                local,
                underlay,
                mac,
                mtu,
                learning,
            } => out.push(Object::VxlanLink(VxlanLink {
                name: name.clone(),
                vni: *vni,
                port: *port,
                local: ip(local, &format!("local address of vxlan link {name}"))?,
                underlay: underlay.clone(),
                mac: mac_address(mac, &format!("MAC of vxlan link {name}"))?,
                mtu: *mtu,
                learning: *learning,
                up: false,
            }))?,
            Operation::Bridge { name, mtu } => out.push(Object::Bridge {
                name: name.clone(),
                mtu: *mtu,
                up: false,
            })?,
            Operation::Address { device, address } => {
                out.uses(device, "address")?;
                let cidr = net(address, &format!("address on {device}"))?;
                out.push(Object::Address {
                    device: device.clone(),
                    cidr,
                })?;
            }
            Operation::LinkUp { name } => out.link_up(name)?,
            Operation::VxlanPeers { device, .. } => out.vxlan_peers(&program.node, device, peers)?,
            Operation::HostGwPeers { device, .. } => {
                if let Some(device) = device {
                    out.uses(device, "host-gw-peers")?;
                }
                out.host_gw_peers(&program.node, device.as_deref(), peers)?;
            }
            Operation::Masquerade { chain, source, except } => {
                let source = net(source, &format!("source of masquerade chain {chain}"))?;
                let except = except
                    .iter()
                    .map(|e| Ok(net(e, &format!("exception of masquerade chain {chain}"))?.to_string()))
                    .collect::<Result<_, Error>>()?;
                out.push(Object::Masquerade {
                    chain: chain.clone(),
                    source: source.to_string(),
                    except,
                })?;
            }
            Operation::ForwardAccept { chain, networks } => {
                let mut parsed = networks
                    .iter()
                    .map(|n| net(n, &format!("network of forward chain {chain}")))
                    .collect::<Result<Vec<_>, Error>>()?;
                if parsed.is_empty() {
                    bail!("forward chain {chain} of node {} accepts no network", program.node);
                }
                // IPv4 first, as the driver observes them (iptables, then ip6tables).
                parsed.sort_by_key(|n| n.addr().is_ipv6());
                out.push(Object::ForwardAccept {
                    chain: chain.clone(),
                    networks: parsed.iter().map(ToString::to_string).collect(),
                })?;
            }
            Operation::FirewallRule { .. }
            | Operation::HnsNetwork { .. }
            | Operation::HnsEndpoint { .. }
            | Operation::SourceVipCleanup { .. }
            | Operation::SourceVipReserve { .. }
            | Operation::Service { .. } => bail!(
                "the Linux program of node {} has the Windows operation {}",
                program.node,
                op.tag()
            ),
        }
    }
    Ok(out.objects)
}

struct Builder<'a> {
    declared: BTreeSet<&'a str>,
    objects: Vec<Object>,
    /// Key to position in `objects`: duplicates in O(log n).
    index: BTreeMap<ObjectKey, usize>,
}

impl Builder<'_> {
    fn push(&mut self, object: Object) -> Result<(), Error> {
        let key = object.key();
        if let Some(&at) = self.index.get(&key) {
            if self.objects[at] == object {
                return Ok(());
            }
            bail!(
                "{key} is wanted twice, differently: `{}` and `{object}`",
                self.objects[at]
            );
        }
        self.index.insert(key, self.objects.len());
        self.objects.push(object);
        Ok(())
    }

    /// `what` uses `device`: if the program declares that link, it must
    /// have done so already (parents before dependents).
    fn uses(&self, device: &str, what: &str) -> Result<(), Error> {
        if self.declared.contains(device) && !self.index.contains_key(&ObjectKey::Link(device.into())) {
            bail!("{what} uses link {device} before the program declares it");
        }
        Ok(())
    }

    fn link_up(&mut self, name: &str) -> Result<(), Error> {
        let Some(&at) = self.index.get(&ObjectKey::Link(name.into())) else {
            bail!("link-up {name}: the program does not declare that link before bringing it up");
        };
        match &mut self.objects[at] {
            Object::VxlanLink(VxlanLink { up, .. }) | Object::Bridge { up, .. } => *up = true,
            _ => unreachable!("a Link key names a link"),
        }
        Ok(())
    }

    fn vxlan_peers(&mut self, me: &str, device: &str, peers: &PeerTable) -> Result<(), Error> {
        let local = match self
            .index
            .get(&ObjectKey::Link(device.into()))
            .map(|&at| &self.objects[at])
        {
            Some(Object::VxlanLink(link)) => link.local,
            _ => bail!("vxlan-peers {device}: the program does not declare that vxlan link before it"),
        };
        let v6 = local.is_ipv6();
        let (mut neighbours, mut fdbs, mut routes) = (Vec::new(), Vec::new(), Vec::new());
        for peer in peers.nodes.iter().filter(|peer| peer.name != me) {
            let subnets = subnets_of_family(peer, v6)?;
            if subnets.is_empty() {
                continue;
            }
            let Some(mac) = &peer.mac else {
                bail!(
                    "peer {} has no VTEP MAC in the peer table, which static vxlan needs",
                    peer.name
                );
            };
            let mac = mac_address(mac, &format!("VTEP MAC of peer {}", peer.name))?;
            let address = ip(&peer.address, &format!("address of peer {}", peer.name))?;
            if address.is_ipv6() != v6 {
                bail!(
                    "peer {}'s address {address} is not of the family of {device} (local {local})",
                    peer.name
                );
            }
            for subnet in subnets {
                let gateway = subnet.network();
                neighbours.push(Object::Neighbour {
                    device: device.into(),
                    ip: gateway,
                    mac,
                });
                routes.push(Object::Route {
                    destination: subnet,
                    via: gateway,
                    device: Some(device.into()),
                    onlink: true,
                });
            }
            fdbs.push(Object::Fdb {
                device: device.into(),
                mac,
                dst: address,
            });
        }
        for object in neighbours.into_iter().chain(fdbs).chain(routes) {
            self.push(object)?;
        }
        Ok(())
    }

    fn host_gw_peers(&mut self, me: &str, device: Option<&str>, peers: &PeerTable) -> Result<(), Error> {
        for peer in peers.nodes.iter().filter(|peer| peer.name != me) {
            let address = ip(&peer.address, &format!("address of peer {}", peer.name))?;
            for subnet in subnets_of_family(peer, address.is_ipv6())? {
                self.push(Object::Route {
                    destination: subnet,
                    via: address,
                    device: device.map(str::to_owned),
                    onlink: false,
                })?;
            }
        }
        Ok(())
    }
}

/// The peer's pod subnets of one family, in canonical (network) form.
fn subnets_of_family(peer: &netc_compiler::emit::program::types::Peer, v6: bool) -> Result<Vec<IpNet>, Error> {
    let mut out = Vec::new();
    for subnet in &peer.subnets {
        let net = net(subnet, &format!("pod subnet of peer {}", peer.name))?;
        if net.network() != net.addr() {
            bail!("pod subnet {subnet} of peer {} has host bits set", peer.name);
        }
        if matches!(net, IpNet::V6(_)) == v6 {
            out.push(net);
        }
    }
    Ok(out)
}

fn ip(text: &str, what: &str) -> Result<IpAddr, Error> {
    text.parse()
        .map_err(|_| Error(format!("{what}: `{text}` is not an IP address")))
}

fn net(text: &str, what: &str) -> Result<IpNet, Error> {
    text.parse()
        .map_err(|_| Error(format!("{what}: `{text}` is not an address with a prefix length")))
}

/// Six hex bytes separated by `:`.
fn mac_address(text: &str, what: &str) -> Result<Mac, Error> {
    text.parse().map_err(|e| Error(format!("{what}: {e}")))
}

fn absolute(path: &str) -> Result<String, Error> {
    if !path.starts_with('/') {
        bail!("file path `{path}` is not absolute");
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use netc_compiler::emit::program::types::Peer;

    fn peer(name: &str, address: &str, subnets: &[&str], mac: Option<&str>) -> Peer {
        Peer {
            name: name.into(),
            os: ProgramOs::Linux,
            address: address.into(),
            subnets: subnets.iter().map(|s| s.to_string()).collect(),
            mac: mac.map(str::to_owned),
        }
    }

    fn table(nodes: Vec<Peer>) -> PeerTable {
        PeerTable {
            version: VERSION,
            cluster: "lab".into(),
            backend: "vxlan".into(),
            nodes,
        }
    }

    fn vxlan_program(node: &str) -> Program {
        Program {
            version: VERSION,
            node: node.into(),
            os: ProgramOs::Linux,
            operations: vec![
                Operation::VxlanLink {
                    name: "flannel.4096".into(),
                    vni: 4096,
                    port: 4789,
                    local: "198.51.100.11".into(),
                    underlay: None,
                    mac: "02:AA:00:00:00:01".into(),
                    mtu: 1450,
                    learning: false,
                },
                Operation::LinkUp {
                    name: "flannel.4096".into(),
                },
                Operation::VxlanPeers {
                    device: "flannel.4096".into(),
                    table: "peers.json".into(),
                },
            ],
        }
    }

    #[test]
    fn vxlan_peers_neighbours_then_fdbs_then_routes_and_skip_me() {
        let peers = table(vec![
            peer("a", "198.51.100.11", &["198.18.0.0/24"], Some("02:aa:00:00:00:01")),
            peer(
                "b",
                "198.51.100.12",
                &["198.18.1.0/24", "fd00::/64"],
                Some("02:aa:00:00:00:02"),
            ),
            peer("c", "198.51.100.13", &["198.18.2.0/24"], Some("02:AA:00:00:00:03")),
        ]);
        let objects = desired(&vxlan_program("a"), &peers).unwrap();
        let lines: Vec<String> = objects.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "vxlan flannel.4096 id 4096 dstport 4789 local 198.51.100.11 address 02:aa:00:00:00:01 mtu 1450 nolearning up",
                "neighbour 198.18.1.0 dev flannel.4096 lladdr 02:aa:00:00:00:02",
                "neighbour 198.18.2.0 dev flannel.4096 lladdr 02:aa:00:00:00:03",
                "fdb 02:aa:00:00:00:02 dev flannel.4096 dst 198.51.100.12",
                "fdb 02:aa:00:00:00:03 dev flannel.4096 dst 198.51.100.13",
                "route 198.18.1.0/24 via 198.18.1.0 dev flannel.4096 onlink",
                "route 198.18.2.0/24 via 198.18.2.0 dev flannel.4096 onlink",
            ]
        );
    }

    #[test]
    fn host_gw_peers_route_each_family_via_the_address() {
        let peers = table(vec![
            peer("a", "192.168.70.10", &["10.244.0.0/24", "fd00:10:244::/64"], None),
            peer("b", "192.168.70.21", &["10.244.1.0/24", "fd00:10:244:1::/64"], None),
        ]);
        let program = Program {
            version: VERSION,
            node: "a".into(),
            os: ProgramOs::Linux,
            operations: vec![Operation::HostGwPeers {
                table: "peers.json".into(),
                device: Some("eth0".into()),
            }],
        };
        let objects = desired(&program, &peers).unwrap();
        assert_eq!(
            objects.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["route 10.244.1.0/24 via 192.168.70.21 dev eth0"]
        );
    }

    #[test]
    fn inconsistent_input_is_an_error_not_a_panic() {
        let good = || {
            table(vec![
                peer("a", "198.51.100.11", &["198.18.0.0/24"], Some("02:aa:00:00:00:01")),
                peer("b", "198.51.100.12", &["198.18.1.0/24"], Some("02:aa:00:00:00:02")),
            ])
        };
        // The peer table does not know this node.
        let error = desired(&vxlan_program("z"), &good()).unwrap_err();
        assert!(error.0.contains("has no node z"), "{error}");
        // A vxlan peer without a MAC.
        let mut peers = good();
        peers.nodes[1].mac = None;
        let error = desired(&vxlan_program("a"), &peers).unwrap_err();
        assert!(error.0.contains("peer b has no VTEP MAC"), "{error}");
        // Garbage addresses.
        let mut peers = good();
        peers.nodes[1].subnets = vec!["not-a-subnet".into()];
        assert!(desired(&vxlan_program("a"), &peers).is_err());
        let mut peers = good();
        peers.nodes[1].mac = Some("02:aa".into());
        assert!(desired(&vxlan_program("a"), &peers).is_err());
        // Two peers claiming the same subnet with different gateways' MACs.
        let mut peers = good();
        peers.nodes.push(peer(
            "c",
            "198.51.100.13",
            &["198.18.1.0/24"],
            Some("02:aa:00:00:00:03"),
        ));
        let error = desired(&vxlan_program("a"), &peers).unwrap_err();
        assert!(error.0.contains("wanted twice"), "{error}");
        // Using a link before declaring it.
        let mut program = vxlan_program("a");
        program.operations.swap(0, 2);
        assert!(desired(&program, &good()).is_err());
        // link-up of an undeclared link.
        let mut program = vxlan_program("a");
        program.operations.remove(0);
        program.operations.truncate(1);
        let error = desired(&program, &good()).unwrap_err();
        assert!(error.0.contains("link-up flannel.4096"), "{error}");
        // Windows.
        let mut program = vxlan_program("a");
        program.os = ProgramOs::Windows;
        assert!(desired(&program, &good()).unwrap_err().0.contains("PowerShell"));
        // Other format versions.
        let mut program = vxlan_program("a");
        program.version = 2;
        assert!(desired(&program, &good()).is_err());
    }

    #[test]
    fn kernel_module_owns_its_persist_file_and_checks_own_nothing() {
        let program = Program {
            version: VERSION,
            node: "a".into(),
            os: ProgramOs::Linux,
            operations: vec![
                Operation::KernelModule {
                    name: "br_netfilter".into(),
                    persist: "/etc/modules-load.d/br_netfilter.conf".into(),
                },
                Operation::CniPlugins {
                    dir: "/opt/cni/bin".into(),
                    plugins: vec!["bridge".into()],
                    installed_by_daemon_set: vec![],
                },
            ],
        };
        let peers = table(vec![peer("a", "198.51.100.11", &["198.18.0.0/24"], None)]);
        assert_eq!(
            desired(&program, &peers).unwrap(),
            [
                Object::Module {
                    name: "br_netfilter".into()
                },
                Object::File {
                    path: "/etc/modules-load.d/br_netfilter.conf".into(),
                    content: "br_netfilter\n".into(),
                    mode: Some("0644".into()),
                },
            ]
        );
    }
}
