//! `manifests/kube-flannel-windows.yaml`: flanneld for the Windows nodes as
//! a HostProcess DaemonSet, modelled on sig-windows-tools'
//! `flannel-overlay.yml` (dataplane-notes §6.5; flannel itself ships no
//! Windows manifest). It runs in the `kube-flannel` namespace with the
//! ServiceAccount and RBAC of `kube-flannel.yaml`.
//!
//! Differences from the sig-windows manifest, and why:
//! - flanneld is started directly, not through the image's start.ps1: the
//!   netc host program installs the CNI config (`nodes/<node>/cni.conf`) and
//!   checks the CNI binaries it calls, so the container only runs flanneld.
//! - no `--ip-masq`: the CNI config's OutBoundNAT policy does the SNAT, and
//!   `FLANNEL_IPMASQ=true` would add a second one (R22, `subnet_env.rs`).
//! - the API server is reached through the node's kubeconfig instead of
//!   `KUBERNETES_SERVICE_HOST/PORT` placeholders: the topology names no API
//!   endpoint, and the Service address is not reachable from HostProcess pods.

use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec};

use super::objects::{
    config_map_volume, daemon_set, field_env, host_path, host_process, meta, mount, node_affinity, powershell,
    ps_quote, tolerate,
};
use super::{FLANNEL_NAMESPACE, FLANNEL_SERVICE_ACCOUNT, NODE_KUBECONFIG, WINDOWS_NODES};
use crate::emit::{netconf, to_json};
use crate::model::Topology;
use crate::yaml;

/// Where the image (`images { flannel-windows }`, `model::defaults`) holds
/// flanneld, below the container's mount point.
const FLANNELD_IN_IMAGE: &str = "flannel\\flanneld.exe";
pub const CONFIG_MAP: &str = "kube-flannel-windows-cfg";
/// Where the ConfigMap is mounted, below the container's mount point.
const CONFIG_DIR: &str = "etc\\kube-flannel";
/// flanneld's default `/run/flannel/subnet.env` resolves against the current
/// drive; the flannel CNI plugin reads it from `C:`, so the path is explicit.
const SUBNET_FILE: &str = "C:\\run\\flannel\\subnet.env";

/// The flags Windows flanneld runs with on every node, whoever starts it:
/// the DaemonSet below, or the host program's record of what must run.
/// `--iface` (the node's address) and `--net-config-path` come on top.
/// No `--ip-masq`: Windows SNAT comes from the CNI OutBoundNAT policy (R22).
pub fn flanneld_flags() -> Vec<String> {
    vec![
        "--kube-subnet-mgr".to_string(),
        format!("--kubeconfig-file={NODE_KUBECONFIG}"),
        format!("--subnet-file={SUBNET_FILE}"),
    ]
}

/// The container's script. `--iface` is the node's address, from the
/// downward API's `status.hostIP` (`NODE_IP`), so flanneld picks the
/// interface carrying it rather than the default-route one.
fn script() -> String {
    let fixed = flanneld_flags();
    let mut lines = vec![
        "$ErrorActionPreference = 'Stop'".to_string(),
        "$mounts = $env:CONTAINER_SANDBOX_MOUNT_POINT".to_string(),
        "$flags = @(".to_string(),
    ];
    lines.extend(fixed.iter().map(|flag| format!("  {},", ps_quote(flag))));
    lines.push("  ('--iface=' + $env:NODE_IP),".to_string());
    lines.push(format!(
        "  ('--net-config-path=' + (Join-Path $mounts {}))",
        ps_quote(&format!("{CONFIG_DIR}\\net-conf.json"))
    ));
    lines.push(")".to_string());
    lines.push(format!("& (Join-Path $mounts {}) @flags", ps_quote(FLANNELD_IN_IMAGE)));
    lines.push("exit $LASTEXITCODE".to_string());
    lines.join("\n") + "\n"
}

pub fn manifest(topology: &Topology) -> String {
    let labels = [("tier", "node"), ("app", "flannel-windows")];
    // The same net-conf as the Linux nodes: its `Backend.Name` names the HNS
    // network that the CNI config and kube-proxy refer to (R8).
    let config_map = ConfigMap {
        metadata: meta(CONFIG_MAP, Some(FLANNEL_NAMESPACE), &labels),
        data: Some([("net-conf.json".to_string(), to_json(&netconf::net_conf(topology)))].into()),
        ..ConfigMap::default()
    };
    let (command, args) = powershell(script());
    let container = Container {
        name: "kube-flannel".to_string(),
        image: Some(topology.cluster.images.flannel_windows.value.clone()),
        command: Some(command),
        args: Some(args),
        env: Some(vec![
            // flanneld finds its Node by NODE_NAME, else via its pod.
            field_env("NODE_NAME", "spec.nodeName"),
            field_env("NODE_IP", "status.hostIP"),
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
        ]),
        // The kubeconfig mount is only there for the kubelet's File check
        // (see kube_proxy_windows.rs); flanneld reads the host path.
        volume_mounts: Some(vec![
            mount("flannel-cfg", &format!("/{}/", CONFIG_DIR.replace('\\', "/"))),
            mount("kubeconfig", "/netc/kubeconfig"),
        ]),
        ..Container::default()
    };
    let spec = PodSpec {
        affinity: Some(node_affinity(WINDOWS_NODES)),
        security_context: Some(host_process()),
        host_network: Some(true),
        priority_class_name: Some("system-node-critical".to_string()),
        service_account_name: Some(FLANNEL_SERVICE_ACCOUNT.to_string()),
        tolerations: Some(vec![
            tolerate(None, Some("NoSchedule")),
            tolerate(Some("CriticalAddonsOnly"), None),
            tolerate(None, Some("NoExecute")),
        ]),
        containers: vec![container],
        volumes: Some(vec![
            config_map_volume("flannel-cfg", CONFIG_MAP),
            host_path("kubeconfig", NODE_KUBECONFIG, Some("File")),
        ]),
        ..PodSpec::default()
    };
    // Its own `app` label: a selector of `app: flannel` would also match the
    // Linux DaemonSet's pods in the same namespace.
    let daemon_set = daemon_set(
        meta("kube-flannel-ds-windows-amd64", Some(FLANNEL_NAMESPACE), &labels),
        &[("app", "flannel-windows")],
        &labels,
        spec,
    );
    let mut comment = vec![
        "flannel for the Windows nodes (HostProcess), generated by netc. Apply after".to_string(),
        "kube-flannel.yaml, which creates the namespace, ServiceAccount and RBAC.".to_string(),
        String::new(),
        format!("Every Windows node needs {NODE_KUBECONFIG}: the kubeconfig flanneld uses to reach the API"),
        "server (--kubeconfig-file). The topology names no API endpoint, and the in-cluster".to_string(),
        "Service address is not reachable from HostProcess pods (flannel-io/flannel#1772),".to_string(),
        "so the node's kubeconfig is used, as in Microsoft's SDN scripts.".to_string(),
        String::new(),
    ];
    comment.extend(image_comment(topology));
    let comment: Vec<&str> = comment.iter().map(String::as_str).collect();
    yaml::stream(&comment, &[yaml::document(&config_map), yaml::document(&daemon_set)])
}

/// Which image runs: the written one, or the default, with what is known of
/// its publication (`model::defaults::FLANNEL_WINDOWS_IMAGE`).
fn image_comment(topology: &Topology) -> Vec<String> {
    let image = &topology.cluster.images.flannel_windows;
    if image.written {
        return vec![format!(
            "The image, {}, is the topology's `images {{ flannel-windows }}`.",
            image.value
        )];
    }
    vec![
        format!("The image is netc's default, {},", image.value),
        "the name sig-windows-tools' hostprocess/flannel/build.sh gives the HostProcess image of".to_string(),
        "the Linux flanneld's release. sig-windows-tools publishes those images only on request:".to_string(),
        "if your registry lacks the tag, build it with that script (-f VERSION -r REGISTRY) and".to_string(),
        "set `images { flannel-windows \"REGISTRY/flannel:VERSION-hostprocess\" }` in the topology.".to_string(),
    ]
}
