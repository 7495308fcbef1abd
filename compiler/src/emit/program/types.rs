//! The host program format: `nodes/<node>/program.json`, and the shared peer
//! table `peers.json` it refers to. The node runtime deserializes both with
//! these types; `schemas/program.schema.json` and `schemas/peers.schema.json`
//! describe the same JSON.
//!
//! A program is `{"version": 1, "node": NAME, "os": "linux"|"windows",
//! "operations": [...]}`. Operations run in order; each is tagged by `op`,
//! names exactly the object it owns, holds only plain data, and is idempotent
//! ("make it so", never "do this"): applying it to a host that already
//! matches changes nothing. What each one means:
//!
//! Linux
//! - `kernel-module {name, persist}`: the module is loaded, and `persist` (a
//!   `modules-load.d` file) holds `name` so it loads at boot.
//! - `sysctl {key, value, best_effort}`: the key has the value. Keys are
//!   written as for `sysctl -w`: `.` separates components, and a `/` stands
//!   for a `.` inside one (`net.ipv6.conf.flannel/4096.accept_ra` is
//!   `/proc/sys/net/ipv6/conf/flannel.4096/accept_ra`). With `best_effort` a
//!   missing key is not an error (flannel treats `accept_ra` that way).
//! - `file {path, content, mode}`: the file has exactly this content (written
//!   atomically) and mode (octal string; absent on Windows).
//! - `cni-plugins {dir, plugins, installed_by_daemon_set}`: checked, never
//!   installed (packages and releases provide them): every plugin binary the
//!   node's CNI config calls, `plugins` (file names, `.exe` on Windows), is in
//!   `dir`. A missing one that is also in `installed_by_daemon_set` (a
//!   DaemonSet of `manifests/` copies it there when its pod starts, as
//!   flannel's does `flannel`) is only reported; any other missing one is an
//!   error, and the program stops before installing the CNI config.
//! - `vxlan-link {name, vni, port, local, underlay, mac, mtu, learning}`: a
//!   vxlan device with exactly these settings; one that differs in VNI, port,
//!   local address, underlay or MAC is recreated. `underlay` is the interface
//!   name when the topology gives one, else `null`: the interface carrying
//!   `local`, found at apply time.
//! - `bridge {name, mtu}`: a Linux bridge with this MTU.
//! - `address {device, address}`: the address (with prefix length) is on the
//!   device.
//! - `link-up {name}`: the device is up.
//! - `vxlan-peers {device, table}`: for every node of the peer table except
//!   this one, per pod subnet `S` of that node (network address `S.net`):
//!   neighbour `S.net lladdr MAC nud permanent`, FDB entry `MAC dst ADDRESS
//!   self permanent`, then route `S via S.net dev DEVICE onlink` (the route
//!   last, so the kernel never resolves the gateway itself; flannel's order).
//! - `host-gw-peers {table, device}`: for every other node, a route `S via
//!   ADDRESS` for each pod subnet of the node address's family, through
//!   `device` (or the interface the kernel picks for the next hop when null).
//! - `interface-address {interface, address}`: a check, never a change: the
//!   interface `interface` carries `address`. Where flanneld runs, it
//!   advertises the interface carrying the node's address (the DaemonSet's
//!   `--iface=$(NODE_IP)`); this says that is the interface the topology
//!   names, before anything is changed.
//! - `masquerade {chain, source, except}`: IPv4 iptables `nat` chain `chain`,
//!   jumped to from POSTROUTING, that masquerades traffic from `source` except
//!   to `except` prefixes, multicast, and packets kube-proxy already marked
//!   for masquerading (mark 0x4000). One family only: IPv4.
//! - `forward-accept {chain, networks}`: a `filter` chain `chain` (iptables
//!   for the IPv4 networks, ip6tables for the IPv6 ones), jumped to from
//!   FORWARD, that accepts forwarded traffic from and to each network:
//!   flanneld's `FLANNEL-FWD`, so that a FORWARD policy of DROP (Docker,
//!   firewalld, ufw) does not drop pod traffic.
//!
//! Windows
//! - `firewall-rule {name, protocol, port, direction}`: an allow rule (the
//!   rule `name` is the object; an existing rule of that name is kept).
//! - `file` as on Linux, without `mode`; `cni-plugins` as on Linux.
//! - `hns-network {name, type, subnet, gateway, adapter, address}`: an HNS
//!   network on the adapter `adapter`, or (null) the one carrying `address`.
//! - `hns-endpoint {network, name, address}`: a host endpoint `name` at
//!   `address` on the HNS network `network`, attached to the host's
//!   compartment, with IPv4 forwarding on its `vEthernet (name)` interface:
//!   the gateway win-bridge gives every pod of an l2bridge network (the
//!   subnet's `.2`).
//! - `source-vip-cleanup {subnet, files}`: each listed file that exists but
//!   records an address outside `subnet` (a pod subnet from before the node
//!   re-joined) or cannot be read is deleted.
//! - `source-vip-reserve {network, subnet, plugin, request, path}`: `path`
//!   holds a host-local (`plugin`) reservation in `subnet` made under CNI
//!   network `network` (so it shares the pods' store, N0321). The request
//!   written to `request` is `{"cniVersion": "0.3.0", "name": NETWORK,
//!   "ipam": {"type": "host-local", "ranges": [[{"subnet": SUBNET}]],
//!   "dataDir": "/var/lib/cni/networks"}}` (Microsoft's `GetSourceVip`, with
//!   the HostProcess scripts' CNI version); kube-proxy reads the result's
//!   `.ips[0].address`. An existing `path` is kept.
//! - `service {name, binary, args}`: a process the DaemonSets of
//!   `manifests/` run as a HostProcess pod; the program never starts it (a
//!   second copy would fight the DaemonSet's) but checks that a running
//!   `binary` has every argument. `$(SOURCE_VIP)` in an argument stands for
//!   the address reserved by `source-vip-reserve`.
//!
//! `table` is the peer table's path relative to the output directory;
//! programs never repeat it, so output grows linearly with the node count.

use serde::{Deserialize, Serialize};

/// Version of both formats; bumped on incompatible changes.
pub const VERSION: u32 = 1;
/// The shared peer table, at the top of the output directory.
pub const PEERS: &str = "peers.json";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub version: u32,
    pub node: String,
    pub os: ProgramOs,
    pub operations: Vec<Operation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgramOs {
    Linux,
    Windows,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Operation {
    KernelModule {
        name: String,
        persist: String,
    },
    Sysctl {
        key: String,
        value: String,
        best_effort: bool,
    },
    File {
        path: String,
        content: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
    },
    CniPlugins {
        dir: String,
        plugins: Vec<String>,
        installed_by_daemon_set: Vec<String>,
    },
    VxlanLink {
        name: String,
        vni: u32,
        port: u32,
        local: String,
        underlay: Option<String>,
        mac: String,
        mtu: u32,
        learning: bool,
    },
    Bridge {
        name: String,
        mtu: u32,
    },
    Address {
        device: String,
        address: String,
    },
    LinkUp {
        name: String,
    },
    VxlanPeers {
        device: String,
        table: String,
    },
    HostGwPeers {
        table: String,
        device: Option<String>,
    },
    Masquerade {
        chain: String,
        source: String,
        except: Vec<String>,
    },
    ForwardAccept {
        chain: String,
        networks: Vec<String>,
    },
    InterfaceAddress {
        interface: String,
        address: String,
    },
    FirewallRule {
        name: String,
        protocol: String,
        port: u32,
        direction: String,
    },
    HnsNetwork {
        name: String,
        #[serde(rename = "type")]
        kind: String,
        subnet: String,
        gateway: String,
        adapter: Option<String>,
        address: String,
    },
    HnsEndpoint {
        network: String,
        name: String,
        address: String,
    },
    SourceVipCleanup {
        subnet: String,
        files: Vec<String>,
    },
    SourceVipReserve {
        network: String,
        subnet: String,
        plugin: String,
        request: String,
        path: String,
    },
    Service {
        name: String,
        binary: String,
        args: Vec<String>,
    },
}

impl Operation {
    /// The `op` tag, for tests and messages.
    pub fn tag(&self) -> &'static str {
        match self {
            Operation::KernelModule { .. } => "kernel-module",
            Operation::Sysctl { .. } => "sysctl",
            Operation::File { .. } => "file",
            Operation::CniPlugins { .. } => "cni-plugins",
            Operation::VxlanLink { .. } => "vxlan-link",
            Operation::Bridge { .. } => "bridge",
            Operation::Address { .. } => "address",
            Operation::LinkUp { .. } => "link-up",
            Operation::VxlanPeers { .. } => "vxlan-peers",
            Operation::HostGwPeers { .. } => "host-gw-peers",
            Operation::Masquerade { .. } => "masquerade",
            Operation::ForwardAccept { .. } => "forward-accept",
            Operation::InterfaceAddress { .. } => "interface-address",
            Operation::FirewallRule { .. } => "firewall-rule",
            Operation::HnsNetwork { .. } => "hns-network",
            Operation::HnsEndpoint { .. } => "hns-endpoint",
            Operation::SourceVipCleanup { .. } => "source-vip-cleanup",
            Operation::SourceVipReserve { .. } => "source-vip-reserve",
            Operation::Service { .. } => "service",
        }
    }
}

/// `peers.json`: every node once, sorted by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerTable {
    pub version: u32,
    pub cluster: String,
    /// The cluster's backend (`vxlan`, `host-gw`, `tor`, ...).
    pub backend: String,
    pub nodes: Vec<Peer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub name: String,
    pub os: ProgramOs,
    /// The underlay address: VTEP or next hop.
    pub address: String,
    /// Pod subnets, IPv4 first.
    pub subnets: Vec<String>,
    /// The VTEP MAC, only where netc creates the vxlan device (static vxlan);
    /// flanneld picks its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}
