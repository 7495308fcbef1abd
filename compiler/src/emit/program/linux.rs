//! The operations of a Linux node's host program: what flanneld v0.28.9
//! programs on a Linux node (`pkg/backend/vxlan`, `pkg/backend/hostgw`,
//! `pkg/trafficmngr/iptables`) where netc does it instead, and its
//! prerequisites where flanneld runs.
//!
//! Every node: `br_netfilter` loaded and persisted, and
//! `bridge-nf-call-iptables=1` (flanneld v0.28.9 `main.go` refuses to start
//! without the module, and bridged pod traffic must pass iptables), and a
//! check that the CNI plugins the node's conflist calls are in
//! `/opt/cni/bin` (flannel's `kube-flannel.yml` installs only `flannel`; bridge, host-local and portmap come from
//! packages). Where flanneld runs (flannel dataplane, overlay or host-gw
//! backend) that is all, with a check that the node's `interface`, when the
//! topology names one, carries the node's address (flanneld advertises that
//! interface): flanneld writes `subnet.env` and programs the device
//! and peers, and flannel's DaemonSet installs the CNI config and the
//! `flannel` plugin; a second writer would fight them.
//!
//! Without flanneld (static dataplane, or backend tor) netc owns the node:
//! forwarding, the CNI config and `subnet.env`, then the backend's objects
//! (the vxlan device and per-peer entries flanneld would make, host-gw routes, or the tor
//! bridge), masquerading for pod traffic leaving the pod network, and
//! FORWARD accept rules for the pod network.

use sha2::{Digest, Sha256};

use super::types::{Operation, PEERS};
use crate::emit::cni::plugin_types;
use crate::emit::facts::{first_host, node_dir, pod_mtu, pod_network};
use crate::emit::Artifacts;
use crate::model::{BackendKind, Node, NodeSubnets, Os, Topology};

pub const CNI_CONF: &str = "/etc/cni/net.d/10-flannel.conflist";
pub const SUBNET_ENV: &str = "/run/flannel/subnet.env";
/// The bridge the CNI bridge plugin uses (its default, and our conflist's).
pub const BRIDGE: &str = "cni0";
/// Named like flannel's `FLANNEL-POSTRTG`, so the two never share a chain.
pub const MASQ_CHAIN: &str = "NETC-POSTRTG";
/// Named like flannel's `FLANNEL-FWD`, for the same reason.
pub const FORWARD_CHAIN: &str = "NETC-FWD";
/// Where the container runtime looks for CNI plugins.
pub const CNI_BIN: &str = "/opt/cni/bin";
/// The plugin flannel's DaemonSet copies into [`CNI_BIN`] when its pod
/// starts (the `install-cni-plugin` init container of
/// `manifests/kube-flannel.yaml`).
pub const FLANNEL_PLUGIN: &str = "flannel";

pub fn operations(topology: &Topology, node: &Node, subnets: &NodeSubnets, files: &Artifacts) -> Vec<Operation> {
    let mut ops = vec![
        Operation::KernelModule {
            name: "br_netfilter".into(),
            persist: "/etc/modules-load.d/br_netfilter.conf".into(),
        },
        sysctl("net.bridge.bridge-nf-call-iptables", "1"),
    ];
    let dir = node_dir(node);
    let conflist = artifact(files, &format!("{dir}/10-flannel.conflist"));
    if topology.flanneld_runs() {
        // flanneld picks the interface carrying the node's address; a named
        // interface is checked to be that one (a multi-homed node).
        if let Some(interface) = &node.interface {
            ops.push(Operation::InterfaceAddress {
                interface: interface.value.clone(),
                address: node.address.value.to_string(),
            });
        }
        ops.push(cni_plugins(&conflist, true));
        return ops;
    }
    if subnets.v4.is_some() {
        ops.push(sysctl("net.ipv4.ip_forward", "1"));
    }
    if subnets.v6.is_some() {
        ops.push(sysctl("net.ipv6.conf.all.forwarding", "1"));
    }
    ops.push(cni_plugins(&conflist, false));
    ops.push(file(CNI_CONF, conflist));
    ops.push(file(SUBNET_ENV, artifact(files, &format!("{dir}/subnet.env"))));

    let cluster = &topology.cluster;
    match (cluster.backend.kind.value, &cluster.backend.vxlan) {
        (BackendKind::Vxlan, Some(vxlan)) => {
            let device = format!("flannel.{}", vxlan.vni.value);
            ops.push(Operation::VxlanLink {
                name: device.clone(),
                vni: vxlan.vni.value,
                port: vxlan.port.value,
                local: node.address.value.to_string(),
                underlay: node.interface.as_ref().map(|i| i.value.clone()),
                mac: vtep_mac(&cluster.name.value, &node.name.value),
                mtu: pod_mtu(topology),
                learning: false,
            });
            // Router advertisements have no business on the overlay (flannel
            // sets this too, best effort: IPv6 may be disabled).
            ops.push(Operation::Sysctl {
                key: format!("net.ipv6.conf.flannel/{}.accept_ra", vxlan.vni.value),
                value: "0".into(),
                best_effort: true,
            });
            // The subnet's network address as a host route (/32, /128): no
            // connected route for the pod network, exactly as flannel does.
            for subnet in subnets.iter() {
                ops.push(Operation::Address {
                    device: device.clone(),
                    address: format!("{}/{}", subnet.network(), subnet.max_prefix_len()),
                });
            }
            ops.push(Operation::LinkUp { name: device.clone() });
            ops.push(Operation::VxlanPeers {
                device,
                table: PEERS.into(),
            });
        }
        (BackendKind::HostGw, _) => ops.push(Operation::HostGwPeers {
            table: PEERS.into(),
            device: node.interface.as_ref().map(|i| i.value.clone()),
        }),
        // tor: the router routes every pod subnet to its node; the node only
        // needs its bridge, with the gateway address pods route through.
        _ => {
            ops.push(Operation::Bridge {
                name: BRIDGE.into(),
                mtu: pod_mtu(topology),
            });
            for subnet in subnets.iter() {
                ops.push(Operation::Address {
                    device: BRIDGE.into(),
                    address: format!("{}/{}", first_host(subnet), subnet.prefix_len()),
                });
            }
            ops.push(Operation::LinkUp { name: BRIDGE.into() });
        }
    }
    // Pods reach the world with the node's address; traffic between pods
    // (the whole pod network) keeps its source (flanneld's
    // `pkg/trafficmngr/iptables` rules, IPv4 only).
    if let Some(network) = pod_network(topology, false) {
        ops.push(Operation::Masquerade {
            chain: MASQ_CHAIN.into(),
            source: network.to_string(),
            except: vec![network.to_string()],
        });
    }
    // Forwarded pod traffic is accepted whatever the FORWARD policy: Docker,
    // firewalld and ufw set it to DROP, which silently drops pod traffic
    // (flanneld's `FLANNEL-FWD` for the same reason, both families).
    ops.push(Operation::ForwardAccept {
        chain: FORWARD_CHAIN.into(),
        networks: [false, true]
            .into_iter()
            .filter_map(|ipv6| pod_network(topology, ipv6))
            .map(|network| network.to_string())
            .collect(),
    });
    ops
}

/// A node's VTEP MAC for the static vxlan dataplane: `02` followed by the
/// first five bytes of SHA-256 over `netc vtep mac`, the cluster name and the
/// node name, each followed by a NUL byte; written
/// like Go's `net.HardwareAddr` (lower case, colons) as flannel publishes it.
/// `0x02` sets the locally-administered bit and clears the multicast bit
/// (flannel's random MACs set the same bits). Fixed at link creation,
/// it survives reboots and systemd's `MACAddressPolicy`, and peers can
/// be programmed before the node comes up. 40 random bits: the chance of any
/// collision among 5,000 nodes is about 1 in 100,000.
pub fn vtep_mac(cluster: &str, node: &str) -> String {
    let mut hasher = Sha256::new();
    for part in ["netc vtep mac", cluster, node] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut mac = String::from("02");
    for byte in &digest[..5] {
        mac.push_str(&format!(":{byte:02x}"));
    }
    mac
}

/// The plugins `conflist` (the node's `10-flannel.conflist`, as emitted)
/// calls; with flanneld, flannel's DaemonSet installs `flannel` itself.
fn cni_plugins(conflist: &str, flanneld: bool) -> Operation {
    let conf: serde_json::Value = serde_json::from_str(conflist).expect("the conflist is JSON");
    let plugins = plugin_types(&conf, Os::Linux);
    let installed_by_daemon_set = plugins
        .iter()
        .filter(|plugin| flanneld && *plugin == FLANNEL_PLUGIN)
        .cloned()
        .collect();
    Operation::CniPlugins {
        dir: CNI_BIN.into(),
        plugins,
        installed_by_daemon_set,
    }
}

fn sysctl(key: &str, value: &str) -> Operation {
    Operation::Sysctl {
        key: key.into(),
        value: value.into(),
        best_effort: false,
    }
}

fn file(path: &str, content: String) -> Operation {
    Operation::File {
        path: path.into(),
        content,
        mode: Some("0644".into()),
    }
}

/// An artifact emitted earlier for this node, installed verbatim.
pub fn artifact(files: &Artifacts, path: &str) -> String {
    let bytes = files
        .files
        .get(path)
        .unwrap_or_else(|| panic!("host program needs {path}, emitted before it"));
    String::from_utf8(bytes.clone()).expect("artifacts are text")
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::diagnostic::SourceFile;
    use crate::emit::program::types::Program;

    /// The program of `node` in the compiled `text`.
    pub fn program(text: &str, node: &str) -> Program {
        let compilation = crate::compile(
            &SourceFile::new("t.netc", text.to_string()),
            &crate::model::Lock::default(),
        );
        let artifacts = compilation
            .artifacts
            .unwrap_or_else(|| panic!("{:?}", compilation.diagnostics));
        let json = &artifacts.files[&format!("nodes/{node}/program.json")];
        serde_json::from_slice(json).expect("program.json parses")
    }

    pub fn tags(program: &Program) -> Vec<&'static str> {
        program.operations.iter().map(Operation::tag).collect()
    }

    fn cluster(dataplane: &str, backend: &str) -> String {
        format!(
            "cluster lab {{\n  pod-network 198.18.0.0/16\n  service-network 198.19.0.0/16\n  dataplane {dataplane}\n  backend {backend}\n}}\n\
             segment s {{\n  prefix 198.51.100.0/24\n}}\n\
             nodes node count 3 {{\n  os linux\n  address-start 198.51.100.11\n}}\n{}",
            if backend == "tor" { "tor t {\n  segment s\n  routes auto\n}\n" } else { "" }
        )
    }

    #[test]
    fn vtep_macs_are_deterministic_locally_administered_unicast_and_distinct() {
        let mac = vtep_mac("lab", "node-1");
        assert_eq!(mac, vtep_mac("lab", "node-1"));
        assert_eq!(mac.len(), 17);
        assert!(mac
            .chars()
            .all(|c| c == ':' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        let first = u8::from_str_radix(&mac[..2], 16).unwrap();
        assert_eq!(first & 0x01, 0, "unicast");
        assert_eq!(first & 0x02, 0x02, "locally administered");
        assert_ne!(mac, vtep_mac("lab", "node-2"));
        assert_ne!(mac, vtep_mac("other", "node-1"));
        // No NUL-free concatenation ambiguity: ("ab", "c") is not ("a", "bc").
        assert_ne!(vtep_mac("ab", "c"), vtep_mac("a", "bc"));
        let macs: BTreeSet<String> = (1..=5000).map(|i| vtep_mac("lab", &format!("node-{i}"))).collect();
        assert_eq!(macs.len(), 5000);
    }

    #[test]
    fn static_vxlan_orders_device_before_address_before_peers() {
        let program = program(&cluster("static", "vxlan { vni 4096; port 4789 }"), "node-2");
        let expected = [
            "kernel-module",
            "sysctl",
            "sysctl",
            "cni-plugins",
            "file",
            "file",
            "vxlan-link",
            "sysctl",
            "address",
            "link-up",
            "vxlan-peers",
            "masquerade",
            "forward-accept",
        ];
        assert_eq!(tags(&program), expected);
        let Operation::VxlanLink {
            name,
            vni,
            port,
            local,
            mac,
            mtu,
            learning,
            underlay,
        } = &program.operations[6]
        else {
            unreachable!()
        };
        assert_eq!(
            (name.as_str(), *vni, *port, local.as_str()),
            ("flannel.4096", 4096, 4789, "198.51.100.12")
        );
        assert_eq!(
            (mac.clone(), *mtu, *learning, underlay.clone()),
            (vtep_mac("lab", "node-2"), 1450, false, None)
        );
        assert_eq!(
            program.operations[8],
            Operation::Address {
                device: "flannel.4096".into(),
                address: "198.18.1.0/32".into()
            }
        );
        let Operation::Sysctl { key, best_effort, .. } = &program.operations[7] else {
            unreachable!()
        };
        assert_eq!(
            (key.as_str(), *best_effort),
            ("net.ipv6.conf.flannel/4096.accept_ra", true)
        );
    }

    #[test]
    fn static_host_gw_and_tor_and_flannel_programs() {
        let host_gw = program(&cluster("static", "host-gw"), "node-1");
        let prefix = ["kernel-module", "sysctl", "sysctl", "cni-plugins", "file", "file"];
        assert_eq!(
            tags(&host_gw),
            [&prefix[..], &["host-gw-peers", "masquerade", "forward-accept"]].concat()
        );

        let tor = program(&cluster("static", "tor"), "node-3");
        let bridge = ["bridge", "address", "link-up", "masquerade", "forward-accept"];
        assert_eq!(tags(&tor), [&prefix[..], &bridge[..]].concat());
        assert!(tor.operations.contains(&Operation::Address {
            device: "cni0".into(),
            address: "198.18.2.1/24".into()
        }));
        // tor runs no flanneld whatever the dataplane: netc owns the node.
        assert_eq!(tags(&program(&cluster("flannel", "tor"), "node-3")), tags(&tor));

        // flanneld programs the rest: only the prerequisites (`br_netfilter`, which flanneld needs).
        let flannel = program(&cluster("flannel", "vxlan"), "node-1");
        assert_eq!(tags(&flannel), ["kernel-module", "sysctl", "cni-plugins"]);
        // A named interface is checked to carry the address flanneld uses.
        let named = cluster("flannel", "vxlan").replacen(
            "  address-start 198.51.100.11\n",
            "  address-start 198.51.100.11\n  interface eth1\n",
            1,
        );
        let flannel = program(&named, "node-1");
        assert_eq!(
            flannel.operations[2],
            Operation::InterfaceAddress {
                interface: "eth1".into(),
                address: "198.51.100.11".into()
            }
        );
    }
}
