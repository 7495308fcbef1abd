//! The resolved topology that the checks and emitters read: every default is
//! explicit, every node (including those of `nodes` ranges) is listed, every
//! reference points at what it names, and every value keeps the span of the
//! text it came from so that diagnostics can point at it.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::diagnostic::{Span, Spanned};
pub use crate::syntax::ast::{Arch, BackendKind, Dataplane, KubeVersion, Os, Role, RouteDecl};

/// A setting's value and where it came from. `written` is false for a default
/// filled in by netc; its span then points at the block that owns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field<T> {
    pub value: T,
    pub span: Span,
    pub written: bool,
}

impl<T> Field<T> {
    pub fn written(value: Spanned<T>) -> Field<T> {
        Field {
            value: value.value,
            span: value.span,
            written: true,
        }
    }

    pub fn default(value: T, span: Span) -> Field<T> {
        Field {
            value,
            span,
            written: false,
        }
    }

    /// The written value, or a default anchored at `span`.
    pub fn or(value: Option<Spanned<T>>, default: T, span: Span) -> Field<T> {
        value.map_or_else(|| Field::default(default, span), Field::written)
    }
}

#[derive(Clone, Debug)]
pub struct Topology {
    pub cluster: Cluster,
    pub segments: Vec<Segment>,
    pub nodes: Vec<Node>,
    pub tors: Vec<Tor>,
    /// Each node's pod subnets, index for index with `nodes`.
    pub subnets: Vec<NodeSubnets>,
    /// The `agent { }` block, when written and complete.
    pub agent: Option<Agent>,
    /// Whether an `agent` block was written, even one left out for a missing
    /// setting (already reported), so no rule calls it absent.
    pub agent_written: bool,
}

impl Topology {
    pub fn windows_nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.os.value == Os::Windows)
    }

    pub fn has_windows(&self) -> bool {
        self.windows_nodes().next().is_some()
    }

    /// Whether flanneld programs the pod network (and so gets manifests and
    /// a net-conf): the flannel dataplane with an overlay or host-gw
    /// backend. With `backend tor` an upstream router routes pod subnets,
    /// and with the static dataplane netc's agent programs the nodes;
    /// neither runs flanneld.
    pub fn flanneld_runs(&self) -> bool {
        self.cluster.dataplane.value == Dataplane::Flannel && self.cluster.backend.kind.value != BackendKind::Tor
    }

    /// Whether the pod network has both an IPv4 and an IPv6 prefix.
    pub fn is_dual_stack(&self) -> bool {
        let pods = &self.cluster.pod_networks;
        pods.iter().any(|p| p.value.addr().is_ipv4()) && pods.iter().any(|p| p.value.addr().is_ipv6())
    }

    /// The IPv6 prefix of a dual-stack pod network: what the rules about
    /// IPv4-only backends and Windows networks point at.
    pub fn dual_stack_ipv6_pods(&self) -> Option<&Spanned<IpNet>> {
        if !self.is_dual_stack() {
            return None;
        }
        self.cluster.pod_networks.iter().find(|p| p.value.addr().is_ipv6())
    }
}

#[derive(Clone, Debug)]
pub struct Cluster {
    pub name: Spanned<String>,
    pub header: Span,
    /// One prefix per address family, as written (1 or 2).
    pub pod_networks: Vec<Spanned<IpNet>>,
    pub service_networks: Vec<Spanned<IpNet>>,
    /// Written, or the tenth address of the first service network (kubeadm's
    /// convention).
    pub cluster_dns: Vec<Field<IpAddr>>,
    pub node_subnet_len: Field<u8>,
    pub underlay_mtu: Field<u32>,
    pub kubernetes: Field<KubeVersion>,
    pub dataplane: Field<Dataplane>,
    pub backend: Backend,
    pub windows: Windows,
    pub images: Images,
    /// The control-plane endpoint as written (`https://HOST:PORT`). With
    /// it netc writes the kubeconfig its Windows DaemonSets reach the API
    /// server with; without it they use kubeadm's `kube-proxy` ConfigMap.
    pub api_server: Option<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct Backend {
    pub kind: Field<BackendKind>,
    /// Present exactly when the backend is vxlan.
    pub vxlan: Option<Vxlan>,
    /// Present exactly when the backend is ipsec.
    pub ipsec: Option<Ipsec>,
}

#[derive(Clone, Debug)]
pub struct Vxlan {
    pub vni: Field<u32>,
    pub port: Field<u32>,
    pub gbp: Field<bool>,
    pub direct_routing: Field<bool>,
    pub mac_prefix: Field<String>,
}

/// flannel's ipsec options (`PSK`, `UDPEncap`, `ESPProposal`).
#[derive(Clone, Debug)]
pub struct Ipsec {
    /// The pre-shared key; it has no default (rule N0324 reports it missing
    /// or too short).
    pub psk: Option<Spanned<String>>,
    /// Whether a `psk` line was written (or misspelt) but could not be read;
    /// a diagnostic already points at it, so it is not reported as missing.
    pub psk_attempted: bool,
    pub udp_encap: Field<bool>,
    pub esp_proposal: Field<String>,
}

#[derive(Clone, Debug)]
pub struct Windows {
    /// The `windows { }` block, when written.
    pub declared: Option<Span>,
    pub dsr: Field<bool>,
    pub cni_api_version: Field<u8>,
    /// The one name used for the HNS network, the CNI `name`, kube-proxy's
    /// `--network-name` and the source-VIP request.
    pub network_name: Field<String>,
    pub preserve_destination: Field<bool>,
    pub session_affinity: Field<bool>,
}

/// The image of each container the manifests run: written in `images { }`,
/// or the defaults of `model::defaults` (the Windows kube-proxy's follows
/// the cluster's `kubernetes` release).
#[derive(Clone, Debug)]
pub struct Images {
    /// The `images { }` block, when written.
    pub declared: Option<Span>,
    /// Linux flanneld (and its `install-cni` init container).
    pub flannel: Field<String>,
    /// The flannel CNI plugin the Linux DaemonSet copies to `/opt/cni/bin`.
    pub flannel_cni_plugin: Field<String>,
    /// The HostProcess image holding `flannel\flanneld.exe`.
    pub flannel_windows: Field<String>,
    /// The HostProcess image holding `kube-proxy\kube-proxy.exe`.
    pub kube_proxy_windows: Field<String>,
}

/// How netc's own agent runs on every node (`manifests/netc-agent.yaml`):
/// the repository and branch it follows, the topology's path there, the
/// image holding the `netc` binary, the time between rounds, and the keys
/// that may sign the commits it applies.
#[derive(Clone, Debug)]
pub struct Agent {
    pub header: Span,
    pub repo: Spanned<String>,
    pub branch: Field<String>,
    pub path: Spanned<String>,
    pub image: Spanned<String>,
    /// Seconds.
    pub interval: Field<u32>,
    /// ssh-keygen `allowed_signers` lines, in the order written. With any,
    /// the agents apply only commits signed by one of these keys.
    pub allowed_signers: Vec<Spanned<String>>,
    /// The Secret holding the key (`ssh-privatekey`) and `known_hosts` the
    /// agents fetch an `ssh://` repository with.
    pub ssh_secret: Option<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct Segment {
    pub name: Spanned<String>,
    pub header: Span,
    pub prefix: Spanned<IpNet>,
    pub gateway: Option<Spanned<IpAddr>>,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub name: Spanned<String>,
    /// The `node` block header, or the `nodes` range header it came from.
    pub declared: Span,
    /// For a node of a `nodes` range: the range's name and this node's index (1-based).
    pub range: Option<(String, u32)>,
    pub os: Field<Os>,
    pub arch: Field<Arch>,
    pub build: Option<Spanned<u32>>,
    pub address: Spanned<IpAddr>,
    pub interface: Option<Spanned<String>>,
    pub role: Field<Role>,
    /// `pod-subnet` as written (one prefix per family).
    pub pinned: Vec<Spanned<IpNet>>,
    /// The segment whose prefix contains the address (longest match).
    pub segment: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Tor {
    pub name: Spanned<String>,
    pub header: Span,
    /// The segment as written, and what it resolved to.
    pub segment_name: Option<Spanned<String>>,
    pub segment: Option<usize>,
    pub routes_auto: Option<Span>,
    pub routes: Vec<RouteDecl>,
}

/// The pod subnets of one node, per family. `None` where the pod network has
/// no prefix of that family, or no room was left (the capacity rule reports it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSubnets {
    pub v4: Option<IpNet>,
    pub v6: Option<IpNet>,
}

impl NodeSubnets {
    pub fn iter(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.v4.iter().chain(self.v6.iter()).copied()
    }
}
