//! The typed syntax tree: what each block of the file declares, with every
//! value parsed and spanned, and nothing inferred. Unset settings are `None`;
//! defaults and name resolution belong to [`crate::model`].

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::diagnostic::{Span, Spanned};

/// Everything a file declares, in source order per kind.
#[derive(Clone, Debug, Default)]
pub struct Document {
    /// Whether any `cluster` block was written, even one too broken to read.
    pub cluster_attempted: bool,
    pub clusters: Vec<ClusterDecl>,
    pub segments: Vec<SegmentDecl>,
    pub nodes: Vec<NodeDecl>,
    pub ranges: Vec<RangeDecl>,
    pub tors: Vec<TorDecl>,
    /// The `agent { }` block, at most one.
    pub agent: Option<AgentDecl>,
}

#[derive(Clone, Debug)]
pub struct ClusterDecl {
    /// Keys written in the block, including misspelt ones that suggest a
    /// known key and ones whose value was invalid: the model does not report
    /// those as missing, since a diagnostic already points at them.
    pub attempted: BTreeSet<String>,
    pub name: Spanned<String>,
    pub header: Span,
    pub pod_network: Option<Spanned<Vec<Spanned<IpNet>>>>,
    pub service_network: Option<Spanned<Vec<Spanned<IpNet>>>>,
    pub cluster_dns: Option<Spanned<Vec<Spanned<IpAddr>>>>,
    pub node_subnet_len: Option<Spanned<u8>>,
    pub underlay_mtu: Option<Spanned<u32>>,
    pub kubernetes: Option<Spanned<KubeVersion>>,
    pub dataplane: Option<Spanned<Dataplane>>,
    pub backend: Option<BackendDecl>,
    pub windows: Option<WindowsDecl>,
    pub images: Option<ImagesDecl>,
    /// `https://HOST:PORT`, for clusters without kubeadm's `kube-proxy`
    /// ConfigMap.
    pub api_server: Option<Spanned<String>>,
}

/// `backend TYPE` or `backend TYPE { ... }`. Only vxlan and ipsec take
/// settings; the grammar leaves the other backends' fields `None`.
#[derive(Clone, Debug)]
pub struct BackendDecl {
    /// Keys written in the block, including misspelt ones that suggest a
    /// known key and ones whose value was invalid: a rule does not report
    /// those as missing, since a diagnostic already points at them.
    pub attempted: BTreeSet<String>,
    pub kind: Spanned<BackendKind>,
    // vxlan
    pub vni: Option<Spanned<u32>>,
    pub port: Option<Spanned<u32>>,
    pub gbp: Option<Spanned<bool>>,
    pub direct_routing: Option<Spanned<bool>>,
    pub mac_prefix: Option<Spanned<String>>,
    // ipsec
    pub psk: Option<Spanned<String>>,
    pub udp_encap: Option<Spanned<bool>>,
    pub esp_proposal: Option<Spanned<String>>,
}

impl BackendDecl {
    /// A backend of `kind` with nothing set.
    pub fn new(kind: Spanned<BackendKind>) -> BackendDecl {
        BackendDecl {
            attempted: BTreeSet::new(),
            kind,
            vni: None,
            port: None,
            gbp: None,
            direct_routing: None,
            mac_prefix: None,
            psk: None,
            udp_encap: None,
            esp_proposal: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct WindowsDecl {
    pub header: Span,
    pub dsr: Option<Spanned<bool>>,
    pub cni_api_version: Option<Spanned<u8>>,
    pub network_name: Option<Spanned<String>>,
    pub preserve_destination: Option<Spanned<bool>>,
    pub session_affinity: Option<Spanned<bool>>,
}

/// `images { }` inside `cluster`: the image of each container netc's
/// manifests run, when not the default.
#[derive(Clone, Debug)]
pub struct ImagesDecl {
    pub header: Span,
    pub flannel: Option<Spanned<String>>,
    pub flannel_cni_plugin: Option<Spanned<String>>,
    pub flannel_windows: Option<Spanned<String>>,
    pub kube_proxy_windows: Option<Spanned<String>>,
}

/// `agent { }`: where netc's own agent DaemonSets fetch the topology from,
/// and the image they run.
#[derive(Clone, Debug)]
pub struct AgentDecl {
    /// Keys written in the block, including misspelt ones that suggest a
    /// known key and ones whose value was invalid: the model does not report
    /// those as missing, since a diagnostic already points at them.
    pub attempted: BTreeSet<String>,
    pub header: Span,
    pub repo: Option<Spanned<String>>,
    pub branch: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub image: Option<Spanned<String>>,
    /// Seconds between the agent's rounds.
    pub interval: Option<Spanned<u32>>,
    /// `allowed-signer` lines, in the order written: each an ssh-keygen
    /// `allowed_signers` line whose key may sign the commits agents apply.
    pub allowed_signers: Vec<Spanned<String>>,
    /// The Secret (`ssh-privatekey`, `known_hosts`) an `ssh://` repository
    /// is fetched with.
    pub ssh_secret: Option<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct SegmentDecl {
    /// Keys written in the block, including misspelt ones that suggest a
    /// known key and ones whose value was invalid: the model does not report
    /// those as missing, since a diagnostic already points at them.
    pub attempted: BTreeSet<String>,
    pub name: Spanned<String>,
    pub header: Span,
    pub prefix: Option<Spanned<IpNet>>,
    pub gateway: Option<Spanned<IpAddr>>,
}

/// Settings shared by `node` and `nodes` blocks.
#[derive(Clone, Debug, Default)]
pub struct NodeSettings {
    pub os: Option<Spanned<Os>>,
    pub arch: Option<Spanned<Arch>>,
    pub build: Option<Spanned<u32>>,
    pub interface: Option<Spanned<String>>,
    pub role: Option<Spanned<Role>>,
}

#[derive(Clone, Debug)]
pub struct NodeDecl {
    /// Keys written in the block, including misspelt ones that suggest a
    /// known key and ones whose value was invalid: the model does not report
    /// those as missing, since a diagnostic already points at them.
    pub attempted: BTreeSet<String>,
    pub name: Spanned<String>,
    pub header: Span,
    pub settings: NodeSettings,
    pub address: Option<Spanned<IpAddr>>,
    pub pod_subnet: Option<Spanned<Vec<Spanned<IpNet>>>>,
}

/// `nodes NAME count N { ... }`: nodes `NAME-1` .. `NAME-N`.
#[derive(Clone, Debug)]
pub struct RangeDecl {
    /// Keys written in the block, including misspelt ones that suggest a
    /// known key and ones whose value was invalid: the model does not report
    /// those as missing, since a diagnostic already points at them.
    pub attempted: BTreeSet<String>,
    pub name: Spanned<String>,
    pub header: Span,
    pub count: Spanned<u32>,
    pub settings: NodeSettings,
    pub address_start: Option<Spanned<IpAddr>>,
}

#[derive(Clone, Debug)]
pub struct TorDecl {
    /// Keys written in the block, including misspelt ones that suggest a
    /// known key and ones whose value was invalid: the model does not report
    /// those as missing, since a diagnostic already points at them.
    pub attempted: BTreeSet<String>,
    pub name: Spanned<String>,
    pub header: Span,
    pub segment: Option<Spanned<String>>,
    /// The span of `routes auto`, when present.
    pub routes_auto: Option<Span>,
    pub routes: Vec<RouteDecl>,
}

#[derive(Clone, Debug)]
pub struct RouteDecl {
    pub prefix: Spanned<IpNet>,
    pub via: Spanned<IpAddr>,
    pub span: Span,
}

/// `MAJOR.MINOR` or `MAJOR.MINOR.PATCH` of Kubernetes: version gates
/// compare the minor release; the patch, when written, names the exact
/// release (the Windows kube-proxy image is tagged per patch release).
/// The order is by major, minor, then patch, a release written without
/// its patch sorting before every patch of its minor: `1.33 < 1.33.0`, so
/// a gate `version >= 1.33` holds for every 1.33 release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubeVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: Option<u16>,
}

impl KubeVersion {
    /// A minor release, as version gates name it.
    pub const fn new(major: u16, minor: u16) -> KubeVersion {
        KubeVersion {
            major,
            minor,
            patch: None,
        }
    }

    /// An exact patch release.
    pub const fn patch_release(major: u16, minor: u16, patch: u16) -> KubeVersion {
        KubeVersion {
            major,
            minor,
            patch: Some(patch),
        }
    }
}

impl std::fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        match self.patch {
            Some(patch) => write!(f, ".{patch}"),
            None => Ok(()),
        }
    }
}

/// A closed set of words, such as `linux | windows`.
pub trait Keyword: Sized + Copy + 'static {
    const WORDS: &'static [(&'static str, Self)];
    /// What the word names, for messages ("an operating system").
    const WHAT: &'static str;

    fn from_word(word: &str) -> Option<Self> {
        Self::WORDS.iter().find(|(w, _)| *w == word).map(|(_, v)| *v)
    }

    fn as_str(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::WORDS.iter().find(|(_, v)| *v == self).map_or("?", |(w, _)| w)
    }

    fn words() -> Vec<&'static str> {
        Self::WORDS.iter().map(|(w, _)| *w).collect()
    }
}

macro_rules! keyword_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl Keyword for $name {
            const WORDS: &'static [(&'static str, Self)] = &[$(($word, $name::$variant)),+];
            const WHAT: &'static str = $what;
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

keyword_enum!(
    /// The operating system of a node.
    Os, "an operating system" { Linux = "linux", Windows = "windows" }
);
keyword_enum!(
    /// The CPU architecture of a node (Kubernetes `kubernetes.io/arch`).
    Arch, "an architecture" { Amd64 = "amd64", Arm64 = "arm64", Arm = "arm", Ppc64le = "ppc64le", S390x = "s390x" }
);
keyword_enum!(
    /// What a node does in the cluster.
    Role, "a node role" { ControlPlane = "control-plane", Worker = "worker" }
);
keyword_enum!(
    /// Who programs the pod network: flanneld, or netc's own agent.
    Dataplane, "a dataplane" { Flannel = "flannel", Static = "static" }
);
keyword_enum!(
    /// How pod traffic crosses the underlay.
    BackendKind, "a backend" {
        Vxlan = "vxlan",
        HostGw = "host-gw",
        Tor = "tor",
        Wireguard = "wireguard",
        Udp = "udp",
        Ipsec = "ipsec",
    }
);
