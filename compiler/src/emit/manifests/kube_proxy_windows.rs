//! `manifests/kube-proxy-windows.yaml`: kube-proxy for the Windows nodes as a
//! HostProcess DaemonSet, modelled on sig-windows-tools' flannel kube-proxy
//! (`hostprocess/flannel/kube-proxy`). Its flags: the network name shared
//! with HNS and the CNI config (N0321), the source VIP on overlay and
//! `--hostname-override` (kube-proxy winkernel `proxier.go`), and the
//! feature gates and DSR flags the cluster's Kubernetes release needs
//! (N0310, N0316).
//!
//! Its ServiceAccount `kube-system/kube-proxy-windows` is netc's own, bound
//! to the ClusterRole `system:node-proxier` that every cluster's RBAC
//! bootstrap policy has: kubeadm binds the same role to its `kube-proxy`
//! ServiceAccount (`kubeadm:node-proxier`, `cmd/kubeadm/app/phases/addons/
//! proxy/proxy.go` of Kubernetes v1.33.13), which sig-windows-tools'
//! `kube-proxy.yml` borrows; an account of netc's own is one netc may prune,
//! and exists on clusters kubeadm did not make. The API server is reached
//! as `windows_api.rs` says.

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetUpdateStrategy};
use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::objects::{
    cluster_role_binding, daemon_set, field_env, host_path, host_process, meta, mount, node_affinity, powershell,
    ps_quote, service_account, tolerate,
};
use super::windows_api::{self, WINDOWS_NAMESPACE};
use super::{SOURCE_VIP_FILE, WINDOWS_NODES};
use crate::model::{BackendKind, KubeVersion, Topology};
use crate::yaml;

/// Where the image (`images { kube-proxy-windows }`, by default
/// sig-windows-tools' image of the cluster's release, `model::defaults`)
/// holds kube-proxy, below the container's mount point.
const KUBE_PROXY_IN_IMAGE: &str = "kube-proxy\\kube-proxy.exe";
/// The pods' ServiceAccount, and the ClusterRole it is bound to.
pub const SERVICE_ACCOUNT: &str = "kube-proxy-windows";
const NODE_PROXIER: &str = "system:node-proxier";

/// `WinOverlay` is alpha (default off) in 1.14–1.19, beta (default on) in
/// 1.20–1.33 and GA, locked on, from 1.34.
const WIN_OVERLAY_DEFAULT_ON: KubeVersion = KubeVersion::new(1, 20);
/// `WinDSR` is alpha in 1.14–1.32, beta (default on) in 1.33, GA in 1.34.
const WIN_DSR_DEFAULT_ON: KubeVersion = KubeVersion::new(1, 33);

/// The feature gates kube-proxy must be given, sorted: a gate is passed
/// (`=true`) only while it is off by default. From its default-on release
/// it is left out, which is also the only correct choice once it is locked
/// (GA): `=false` is then an error and `=true` only draws a warning.
pub fn feature_gates(version: KubeVersion, overlay: bool, dsr: bool) -> Vec<&'static str> {
    let mut gates = Vec::new();
    if dsr && version < WIN_DSR_DEFAULT_ON {
        gates.push("WinDSR=true");
    }
    if overlay && version < WIN_OVERLAY_DEFAULT_ON {
        gates.push("WinOverlay=true");
    }
    gates
}

/// Whether the Windows HNS network is an overlay (win-overlay, vxlan); the
/// other backends Windows takes (host-gw, tor) use l2bridge.
fn overlay(topology: &Topology) -> bool {
    topology.cluster.backend.kind.value == BackendKind::Vxlan
}

/// kube-proxy's flags, except `--source-vip`, which differs per node and is
/// read at start from the host program's reservation, and `--kubeconfig`,
/// a path in the container. `$(NODE_NAME)` is
/// expanded by the kubelet from the pod's `NODE_NAME` (the node's name).
pub fn flags(topology: &Topology) -> Vec<String> {
    let cluster = &topology.cluster;
    let dsr = cluster.windows.dsr.value;
    let pods: Vec<String> = cluster.pod_networks.iter().map(|p| p.value.to_string()).collect();
    let mut flags = vec![
        "--proxy-mode=kernelspace".to_string(),
        "--hostname-override=$(NODE_NAME)".to_string(),
        format!("--network-name={}", cluster.windows.network_name.value),
        format!("--cluster-cidr={}", pods.join(",")),
    ];
    let gates = feature_gates(cluster.kubernetes.value, overlay(topology), dsr);
    if !gates.is_empty() {
        flags.push(format!("--feature-gates={}", gates.join(",")));
    }
    if dsr {
        flags.push("--enable-dsr=true".to_string());
    }
    flags
}

/// The container's PowerShell script. Only single-quoted literals, so no
/// flag is re-interpreted by PowerShell or by Windows command-line quoting.
fn script(topology: &Topology) -> String {
    let mut lines = vec!["$ErrorActionPreference = 'Stop'".to_string()];
    lines.extend(windows_api::kubeconfig_script());
    lines.push("$flags = @(".to_string());
    for flag in flags(topology) {
        lines.push(format!("  {},", ps_quote(&flag)));
    }
    lines.push("  ('--kubeconfig=' + $kubeconfig)".to_string());
    lines.push(")".to_string());
    if overlay(topology) {
        // The host program reserves the source VIP with host-local under the
        // network's name (N0321) and keeps the CNI 0.3.0 result, whose
        // `ips[0].address` is `<ip>/<prefix>`, as sig-windows' start.ps1 reads it.
        lines.push(format!(
            "$vip = Get-Content -Raw -LiteralPath {} | ConvertFrom-Json",
            ps_quote(SOURCE_VIP_FILE)
        ));
        lines.push("$flags += ('--source-vip=' + ($vip.ips[0].address -split '/')[0])".to_string());
    }
    lines.push(format!(
        "& (Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT {}) @flags",
        ps_quote(KUBE_PROXY_IN_IMAGE)
    ));
    lines.push("exit $LASTEXITCODE".to_string());
    lines.join("\n") + "\n"
}

pub fn manifest(topology: &Topology) -> String {
    let (command, args) = powershell(script(topology));
    // A hostPath volume of type File makes the kubelet hold the pod, with an
    // event naming the file, until the node has it. The script reads the
    // host path directly: a HostProcess container sees the host's disks,
    // while where volumes appear inside it differs between containerd 1.6
    // and 1.7.
    let (api_volume, api_mount) = windows_api::volume(topology);
    let mut volumes = vec![api_volume];
    let mut mounts = vec![api_mount];
    if overlay(topology) {
        volumes.push(host_path("source-vip", SOURCE_VIP_FILE, Some("File")));
        mounts.push(mount("source-vip", "/netc/sourcevip.json"));
    }
    let container = Container {
        name: "kube-proxy".to_string(),
        image: Some(topology.cluster.images.kube_proxy_windows.value.clone()),
        command: Some(command),
        args: Some(args),
        env: Some(vec![field_env("NODE_NAME", "spec.nodeName")]),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let spec = PodSpec {
        affinity: Some(node_affinity(WINDOWS_NODES)),
        security_context: Some(host_process()),
        host_network: Some(true),
        priority_class_name: Some("system-node-critical".to_string()),
        service_account_name: Some(SERVICE_ACCOUNT.to_string()),
        // The token is kube-proxy's credential (`windows_api.rs`).
        automount_service_account_token: Some(true),
        tolerations: Some(vec![tolerate(Some("CriticalAddonsOnly"), None), tolerate(None, None)]),
        containers: vec![container],
        volumes: Some(volumes),
        ..PodSpec::default()
    };
    let selector = [("k8s-app", "kube-proxy-windows")];
    let mut daemon_set: DaemonSet = daemon_set(
        meta(
            "kube-proxy-windows",
            Some(WINDOWS_NAMESPACE),
            &[("k8s-app", "kube-proxy")],
        ),
        &selector,
        &selector,
        spec,
    );
    if let Some(spec) = daemon_set.spec.as_mut() {
        spec.update_strategy = Some(DaemonSetUpdateStrategy {
            type_: Some("RollingUpdate".to_string()),
            ..DaemonSetUpdateStrategy::default()
        });
    }
    let mut comment = vec![
        "kube-proxy for the Windows nodes (HostProcess), generated by netc, with its own".to_string(),
        format!("ServiceAccount bound to the ClusterRole {NODE_PROXIER}, as kubeadm binds its kube-proxy's."),
        String::new(),
    ];
    comment.extend(windows_api::comment(topology));
    comment.push(String::new());
    comment.extend(image_comment(topology));
    if overlay(topology) {
        comment.push(String::new());
        comment.push(format!(
            "On overlay (vxlan) nodes kube-proxy also waits for {SOURCE_VIP_FILE}, the source VIP"
        ));
        comment.push("that the netc host program reserves in the node's pod subnet.".to_string());
    }
    let comment: Vec<&str> = comment.iter().map(String::as_str).collect();
    let account_labels = [("k8s-app", "kube-proxy-windows")];
    // With `api-server`, the kubeconfig every Windows DaemonSet mounts: this
    // manifest exists whenever a Windows node does.
    let mut documents: Vec<String> = windows_api::config_map(topology)
        .map(|config_map| yaml::document(&config_map))
        .into_iter()
        .collect();
    documents.extend([
        yaml::document(&service_account(SERVICE_ACCOUNT, WINDOWS_NAMESPACE, &account_labels)),
        yaml::document(&cluster_role_binding(
            SERVICE_ACCOUNT,
            NODE_PROXIER,
            (WINDOWS_NAMESPACE, SERVICE_ACCOUNT),
            &account_labels,
        )),
        yaml::document(&daemon_set),
    ]);
    yaml::stream(&comment, &documents)
}

/// Which image runs and why: the written one, or the default of the
/// cluster's release, saying which patch a minor-only `kubernetes` gets.
fn image_comment(topology: &Topology) -> Vec<String> {
    let image = &topology.cluster.images.kube_proxy_windows;
    let kubernetes = &topology.cluster.kubernetes;
    if image.written {
        return vec![format!(
            "The image, {}, is the topology's `images {{ kube-proxy-windows }}`.",
            image.value
        )];
    }
    let release = match kubernetes.value.patch {
        Some(_) => vec![format!(
            "The image, {}, is kube-proxy of the cluster's release (`kubernetes {}`).",
            image.value, kubernetes.value
        )],
        None => vec![
            format!("The image is {}:", image.value),
            format!(
                "`kubernetes {}` names no patch release, so netc takes v{}.0, which every minor release",
                kubernetes.value, kubernetes.value
            ),
            format!(
                "has. Write the release the cluster runs, as in `kubernetes {}.N`, to run kube-proxy",
                kubernetes.value
            ),
            "of that patch release.".to_string(),
        ],
    };
    let mut lines = release;
    lines.extend([
        "It is sig-windows-tools' `-calico-hostprocess` flavour, the one built for every release;".to_string(),
        "netc runs only its kube-proxy.exe, which both flavours hold at the same path.".to_string(),
    ]);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn v(minor: u16) -> KubeVersion {
        KubeVersion::new(1, minor)
    }

    #[test]
    fn win_overlay_is_passed_while_it_is_alpha() {
        for minor in [14, 19] {
            assert_eq!(feature_gates(v(minor), true, false), ["WinOverlay=true"], "1.{minor}");
        }
    }

    #[test]
    fn win_overlay_is_left_out_once_it_is_on_by_default() {
        for minor in [20, 33] {
            assert!(feature_gates(v(minor), true, false).is_empty(), "1.{minor}");
        }
    }

    #[test]
    fn win_overlay_is_never_passed_once_locked() {
        for minor in [34, 37] {
            assert!(feature_gates(v(minor), true, true).is_empty(), "1.{minor}");
        }
    }

    #[test]
    fn win_dsr_is_passed_while_it_is_alpha() {
        for minor in [14, 32] {
            assert_eq!(feature_gates(v(minor), false, true), ["WinDSR=true"], "1.{minor}");
        }
        assert_eq!(feature_gates(v(19), true, true), ["WinDSR=true", "WinOverlay=true"]);
    }

    #[test]
    fn win_dsr_is_left_out_from_beta_on() {
        for minor in [33, 34] {
            assert!(feature_gates(v(minor), false, true).is_empty(), "1.{minor}");
        }
    }

    #[test]
    fn l2bridge_without_dsr_needs_no_gate() {
        assert!(feature_gates(v(14), false, false).is_empty());
    }
}
