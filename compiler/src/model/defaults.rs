//! The values netc assumes when a file does not say, in one place so that
//! docs and code agree.

use super::types::Backend;
use crate::syntax::ast::{BackendKind, KubeVersion};

/// flannel's default per-node subnet length (`SubnetLen`).
pub const NODE_SUBNET_LEN: u8 = 24;
/// Per-node IPv6 subnet length when an IPv4 family takes `node-subnet-len`
/// (flannel's `IPv6SubnetLen` default).
pub const NODE_SUBNET_LEN_V6: u8 = 64;
pub const UNDERLAY_MTU: u32 = 1500;
/// Assumed when `kubernetes` is not written: the oldest minor release still
/// maintained upstream when this netc was written.
pub const KUBERNETES: KubeVersion = KubeVersion::new(1, 33);
/// Linux flanneld: the image flannel v0.28.9's own manifest runs
/// (`Documentation/kube-flannel.yml` of flannel-io/flannel v0.28.9), the
/// manifest `emit::manifests::flannel` follows object for object.
pub const FLANNEL_IMAGE: &str = "ghcr.io/flannel-io/flannel:v0.28.9";
/// The flannel CNI plugin image that same manifest installs.
pub const FLANNEL_CNI_PLUGIN_IMAGE: &str = "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3";
/// Windows flanneld, the same flannel release as [`FLANNEL_IMAGE`] so that
/// the default images never skew (N0327).
///
/// flannel-io publishes no Windows image: v0.28.9's `release.yml` builds
/// images for `linux/*` platforms only, and uploads `flanneld.exe` (the
/// Makefile's `dist/flanneld.exe`) to the release. The HostProcess images
/// come from kubernetes-sigs/sig-windows-tools: `hostprocess/flannel/build.sh
/// -f VERSION` builds `sigwindowstools/flannel:VERSION-hostprocess` around
/// that release's `flanneld.exe` (at `flannel\flanneld.exe` in the image,
/// `hostprocess/flannel/flanneld/Dockerfile`), but only when a maintainer
/// runs `.github/workflows/build-flannel-images.yml` by hand; its guide's
/// `v0.21.5-hostprocess` was reported missing from Docker Hub (issues #319,
/// #327, #350: "build your own image"). So no published tag can be vouched
/// for. This default is the name that build gives flannel v0.28.9; the
/// manifest's comment says so and how to build and set your own.
pub const FLANNEL_WINDOWS_IMAGE: &str = "sigwindowstools/flannel:v0.28.9-hostprocess";
/// The repository of the Windows kube-proxy HostProcess images.
pub const KUBE_PROXY_WINDOWS_REPOSITORY: &str = "sigwindowstools/kube-proxy";

/// The Windows kube-proxy image of Kubernetes `version`:
/// `sigwindowstools/kube-proxy:vX.Y.Z-calico-hostprocess`, Z being the
/// written patch release or, with only a minor written, `.0` (the one patch
/// every minor has). kube-proxy talks to the API server of its own release,
/// so the tag follows the cluster.
///
/// Why the `-calico-` flavour in a flannel cluster: kubernetes-sigs/
/// sig-windows-tools builds it for every kube-proxy release tag from 1.33 on,
/// daily (`.github/workflows/sync-kube-proxy-images.yaml`, `SUFFIX=
/// "-calico-hostprocess"`, through `build-kube-proxy-images.yml` and
/// `hostprocess/calico/build.sh -p`), while no workflow builds the
/// `-flannel-` flavour; its weekly `hack/test-kube-proxy-images.ps1` checks
/// both flavours of every release from v1.22. The two images differ only in
/// their unused `start.ps1`: both hold the release's `kube-proxy.exe` at
/// `kube-proxy\kube-proxy.exe` (`hostprocess/{calico,flannel}/kube-proxy/
/// Dockerfile`), and netc's DaemonSet runs that binary with its own flags.
pub fn kube_proxy_windows_image(version: KubeVersion) -> String {
    format!(
        "{KUBE_PROXY_WINDOWS_REPOSITORY}:v{}.{}.{}-calico-hostprocess",
        version.major,
        version.minor,
        version.patch.unwrap_or(0)
    )
}

/// Windows flanneld's only interoperable VNI and UDP port.
pub const WINDOWS_VNI: u32 = 4096;
pub const WINDOWS_VXLAN_PORT: u32 = 4789;
/// flannel's Linux defaults: VNI 1 and the kernel's UDP port 8472.
pub const LINUX_VNI: u32 = 1;
pub const LINUX_VXLAN_PORT: u32 = 8472;
/// Windows flanneld's default `MacPrefix`.
pub const MAC_PREFIX: &str = "0E-2A";
/// containerd needs CNI API version 2 on Windows.
pub const CNI_API_VERSION: u8 = 2;
/// flannel's ipsec `ESPProposal` default.
pub const ESP_PROPOSAL: &str = "aes128gcm16-sha256-prfsha256-ecp256";
/// The shortest ipsec `PSK` flannel accepts, in characters.
pub const IPSEC_PSK_MIN_LEN: usize = 96;

/// The branch an `agent` block follows when it names none (`netc agent`'s
/// own default).
pub const AGENT_BRANCH: &str = "main";
/// Seconds between the agent's rounds (`netc agent --interval`'s default).
pub const AGENT_INTERVAL: u32 = 30;

/// The HNS network name Windows flanneld creates by default: `flannel.<VNI>`
/// for vxlan, `cbr0` for host-gw (and for tor, which uses l2bridge too).
pub fn default_network_name(backend: BackendKind, vni: u32) -> String {
    match backend {
        BackendKind::Vxlan => format!("flannel.{vni}"),
        _ => "cbr0".to_string(),
    }
}

/// Bytes the backend adds to a packet on the underlay (flannel's figures):
/// the pod MTU is the underlay MTU minus this. ipsec's UDP encapsulation
/// (`udp-encap on`) costs 8 bytes more.
pub fn encapsulation_overhead(backend: &Backend) -> u32 {
    match backend.kind.value {
        BackendKind::Vxlan => 50,
        BackendKind::Wireguard => 80,
        BackendKind::Ipsec if backend.ipsec.as_ref().is_some_and(|i| i.udp_encap.value) => 77 + 8,
        BackendKind::Ipsec => 77,
        BackendKind::Udp => 28,
        BackendKind::HostGw | BackendKind::Tor => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_kube_proxy_is_of_the_written_patch_release_else_of_dot_zero() {
        assert_eq!(
            kube_proxy_windows_image(KubeVersion::patch_release(1, 33, 13)),
            "sigwindowstools/kube-proxy:v1.33.13-calico-hostprocess"
        );
        assert_eq!(
            kube_proxy_windows_image(KubeVersion::new(1, 30)),
            "sigwindowstools/kube-proxy:v1.30.0-calico-hostprocess"
        );
    }

    #[test]
    fn the_default_flannel_images_are_one_release() {
        let release = |image: &str| image.rsplit_once(":v").map(|(_, tag)| tag[..6].to_string());
        assert_eq!(release(FLANNEL_IMAGE), release(FLANNEL_WINDOWS_IMAGE));
    }
}
