//! The operations of a Windows node's host program (flanneld.exe v0.28.9's
//! `vxlan_windows.go` and `hostgw_windows.go`, Microsoft's SDN scripts).
//! Windows nodes exist only with the flannel dataplane (N0319).
//!
//! - vxlan: the firewall opens the VXLAN port (Microsoft SDN `helper.psm1`);
//!   flanneld.exe gets flannel's net-conf at its default path and creates
//!   the overlay HNS network; the source VIP is reserved with host-local
//!   under the CNI network name (N0321; kube-proxy winkernel `proxier.go`),
//!   after files left from an earlier pod subnet are removed (overlay pods
//!   break after a node re-joins with another subnet).
//! - host-gw: flanneld.exe creates the L2Bridge network `cbr0`; no VXLAN port,
//!   no source VIP (kube-proxy needs one only for overlay).
//! - tor: no flanneld; netc creates the L2Bridge network for the node's
//!   subnet, which the upstream router routes to the node, and the host
//!   endpoint `<network>_ep` at the subnet's `.2` that win-bridge makes
//!   every pod's gateway (what flanneld's host-gw and Microsoft's SDN
//!   scripts create); the CNI config numbers pods from `.3`.
//!
//! In every case the CNI plugins the node's `cni.conf` calls are checked
//! (sig-windows-tools' HostProcess flannel: `C:\opt\cni\bin`; nothing netc
//! emits installs them), then the
//! `cni.conf` is installed. flanneld and kube-proxy
//! themselves run as the HostProcess DaemonSets of `manifests/`; the program
//! states the arguments they must run with (`--iface`, the network name of
//! N0321, the source VIP, `--hostname-override`) so the agent and
//! `host.ps1` can check the running processes, and never starts a second
//! copy that would fight the DaemonSet's.

use super::linux::artifact;
use super::types::Operation;
use crate::emit::cni::plugin_types;
use crate::emit::facts::{first_host, l2bridge_pod_gateway, node_dir};
use crate::emit::manifests::{flanneld_flags, kube_proxy_flags, SOURCE_VIP_FILE};
use crate::emit::Artifacts;
use crate::model::{BackendKind, Node, NodeSubnets, Os, Topology};

/// flanneld's default `--net-config-path` on drive C:, where sig-windows'
/// start.ps1 copies it (flanneld's `--net-config-path` default). The DaemonSet of `manifests/` reads
/// its ConfigMap instead; this copy serves flanneld started by hand.
pub const NET_CONF: &str = r"C:\etc\kube-flannel\net-conf.json";
/// The HostProcess flannel's `CNI_CONFIG_PATH` (sig-windows-tools).
pub const CNI_CONF: &str = r"C:\etc\cni\net.d\10-flannel.conf";
/// The reservation kube-proxy's DaemonSet reads (`.ips[0].address`). NTFS
/// names are case-insensitive, so this is also the legacy `SourceVip.json`.
pub const SOURCE_VIP: &str = SOURCE_VIP_FILE;
pub const SOURCE_VIP_REQUEST: &str = r"C:\k\SourceVipRequest.json";
/// The HostProcess flannel's `CNI_BIN_PATH` (sig-windows-tools).
pub const CNI_BIN: &str = r"C:\opt\cni\bin";
/// host-local in [`CNI_BIN`].
pub const HOST_LOCAL: &str = r"C:\opt\cni\bin\host-local.exe";

pub fn operations(topology: &Topology, node: &Node, subnets: &NodeSubnets, files: &Artifacts) -> Vec<Operation> {
    let cluster = &topology.cluster;
    let network = cluster.windows.network_name.value.clone();
    let overlay = cluster.backend.kind.value == BackendKind::Vxlan;
    // Windows pods are IPv4 (N0306); without an IPv4 subnet there is nothing
    // to create or reserve (the model's rules report that topology).
    let subnet = subnets.v4;
    let mut ops = Vec::new();

    if let (true, Some(vxlan)) = (overlay, &cluster.backend.vxlan) {
        let port = vxlan.port.value;
        ops.push(Operation::FirewallRule {
            // The name Microsoft's SDN helper gives the same rule.
            name: format!("OverlayTraffic{port}UDP"),
            protocol: "UDP".into(),
            port,
            direction: "Inbound".into(),
        });
    }
    let flanneld = topology.flanneld_runs();
    if flanneld {
        ops.push(file(NET_CONF, artifact(files, "net-conf.json")));
    }
    let conf = artifact(files, &format!("{}/cni.conf", node_dir(node)));
    let parsed: serde_json::Value = serde_json::from_str(&conf).expect("cni.conf is JSON");
    ops.push(Operation::CniPlugins {
        dir: CNI_BIN.into(),
        plugins: plugin_types(&parsed, Os::Windows)
            .into_iter()
            .map(|plugin| format!("{plugin}.exe"))
            .collect(),
        installed_by_daemon_set: Vec::new(),
    });
    ops.push(file(CNI_CONF, conf));
    if let (false, Some(subnet)) = (flanneld, subnet) {
        ops.push(Operation::HnsNetwork {
            name: network.clone(),
            kind: "L2Bridge".into(),
            subnet: subnet.to_string(),
            gateway: first_host(subnet).to_string(),
            adapter: node.interface.as_ref().map(|i| i.value.clone()),
            address: node.address.value.to_string(),
        });
        ops.push(Operation::HnsEndpoint {
            network: network.clone(),
            name: format!("{network}_ep"),
            address: l2bridge_pod_gateway(subnet).to_string(),
        });
    }
    if let (true, Some(subnet)) = (overlay, subnet) {
        ops.push(Operation::SourceVipCleanup {
            subnet: subnet.to_string(),
            files: vec![SOURCE_VIP.into(), SOURCE_VIP_REQUEST.into()],
        });
        ops.push(Operation::SourceVipReserve {
            network: network.clone(),
            subnet: subnet.to_string(),
            plugin: HOST_LOCAL.into(),
            request: SOURCE_VIP_REQUEST.into(),
            path: SOURCE_VIP.into(),
        });
    }
    if flanneld {
        // The DaemonSet's flags, with the node's own address for `--iface`.
        let mut args = flanneld_flags();
        args.push(format!("--iface={}", node.address.value));
        ops.push(Operation::Service {
            name: "flanneld".into(),
            binary: "flanneld.exe".into(),
            args,
        });
    }
    // The DaemonSet's flags, with the kubelet's `$(NODE_NAME)` expanded.
    let mut args: Vec<String> = kube_proxy_flags(topology)
        .into_iter()
        .map(|flag| flag.replace("$(NODE_NAME)", &node.name.value))
        .collect();
    if overlay {
        args.push("--source-vip=$(SOURCE_VIP)".into());
    }
    ops.push(Operation::Service {
        name: "kube-proxy".into(),
        binary: "kube-proxy.exe".into(),
        args,
    });
    ops
}

fn file(path: &str, content: String) -> Operation {
    Operation::File {
        path: path.into(),
        content,
        mode: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::linux::tests::{program, tags};
    use super::*;

    fn mixed(backend: &str) -> String {
        format!(
            "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  backend {backend}\n}}\n\
             segment s {{\n  prefix 10.1.0.0/24\n  gateway 10.1.0.1\n}}\n\
             node master {{\n  os linux\n  address 10.1.0.10\n  role control-plane\n}}\n\
             node win {{\n  os windows\n  build 20348\n  address 10.1.0.21\n}}\n{}",
            if backend == "tor" {
                "tor t {\n  segment s\n  routes auto\n}\n"
            } else {
                ""
            }
        )
    }

    #[test]
    fn vxlan_opens_the_port_and_reserves_the_source_vip_under_the_network_name() {
        let program = program(&mixed("vxlan { vni 4096; port 4789 }"), "win");
        let expected = [
            "firewall-rule",
            "file",
            "cni-plugins",
            "file",
            "source-vip-cleanup",
            "source-vip-reserve",
            "service",
            "service",
        ];
        assert_eq!(tags(&program), expected);
        let ops = &program.operations;
        assert!(matches!(&ops[0], Operation::FirewallRule { port: 4789, protocol, .. } if protocol == "UDP"));
        // N0321: the reservation's network is the CNI config's `name`.
        let Operation::File { content, .. } = &ops[3] else {
            unreachable!()
        };
        let cni: serde_json::Value = serde_json::from_str(content).unwrap();
        let Operation::SourceVipReserve { network, subnet, .. } = &ops[5] else {
            unreachable!()
        };
        assert_eq!(cni["name"], network.as_str());
        assert_eq!(subnet, "10.244.1.0/24");
        let Operation::Service { name, args, .. } = &ops[7] else {
            unreachable!()
        };
        assert_eq!(name, "kube-proxy");
        for wanted in [
            format!("--network-name={network}"),
            "--hostname-override=win".into(),
            "--source-vip=$(SOURCE_VIP)".into(),
        ] {
            assert!(args.contains(&wanted), "{wanted} missing from {args:?}");
        }
    }

    #[test]
    fn host_gw_has_no_port_and_no_source_vip_and_tor_creates_the_network() {
        let host_gw = program(&mixed("host-gw"), "win");
        assert_eq!(tags(&host_gw), ["file", "cni-plugins", "file", "service", "service"]);
        let Operation::Service { args, .. } = &host_gw.operations[4] else {
            unreachable!()
        };
        assert!(args.contains(&"--network-name=cbr0".to_string()));
        assert!(!args.iter().any(|a| a.starts_with("--source-vip")));

        let tor = program(&mixed("tor"), "win");
        assert_eq!(
            tags(&tor),
            ["cni-plugins", "file", "hns-network", "hns-endpoint", "service"]
        );
        assert_eq!(
            tor.operations[2],
            Operation::HnsNetwork {
                name: "cbr0".into(),
                kind: "L2Bridge".into(),
                subnet: "10.244.1.0/24".into(),
                gateway: "10.244.1.1".into(),
                adapter: None,
                address: "10.1.0.21".into(),
            }
        );
        // win-bridge gives every pod the subnet's .2 as its gateway.
        assert_eq!(
            tor.operations[3],
            Operation::HnsEndpoint {
                network: "cbr0".into(),
                name: "cbr0_ep".into(),
                address: "10.244.1.2".into(),
            }
        );
        let Operation::File { content, .. } = &tor.operations[1] else {
            unreachable!()
        };
        let cni: serde_json::Value = serde_json::from_str(content).unwrap();
        assert_eq!(
            cni["ipam"]["rangeStart"], "10.244.1.3",
            "pods must not take the gateway: {cni}"
        );
    }
}
