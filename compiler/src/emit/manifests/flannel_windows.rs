//! `manifests/kube-flannel-windows.yaml`: flanneld for the Windows nodes as
//! a HostProcess DaemonSet, modelled on sig-windows-tools'
//! `hostprocess/flannel/flanneld/flannel-overlay.yml` (flannel itself ships
//! no Windows manifest). Like it, the DaemonSet runs in `kube-system`, where
//! kubeadm's `kube-proxy` ConfigMap names the API server (`windows_api.rs`),
//! with a ServiceAccount `flannel-windows` bound to the ClusterRole `flannel`
//! of `kube-flannel.yaml` (flanneld needs nothing more on Windows).
//!
//! Differences from the sig-windows manifest, and why:
//! - flanneld is started directly, not through the image's start.ps1: the
//!   netc host program installs the CNI config (`nodes/<node>/cni.conf`) and
//!   checks the CNI binaries it calls, so the container only runs flanneld.
//! - no `--ip-masq`: the CNI config's OutBoundNAT policy does the SNAT, and
//!   `FLANNEL_IPMASQ=true` would add a second one (flannel cni-plugin
//!   `flannel_windows.go`, `subnet_env.rs`).
//! - the kubeconfig's ServiceAccount paths are rewritten in place rather than
//!   the token copied at start (`windows_api.rs` says why).

use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec};

use super::objects::{
    cluster_role_binding, config_map_volume, daemon_set, field_env, host_process, meta, mount, node_affinity,
    powershell, ps_quote, service_account, tolerate,
};
use super::windows_api::{self, WINDOWS_NAMESPACE};
use super::{FLANNEL_SERVICE_ACCOUNT, WINDOWS_NODES};
use crate::emit::{netconf, to_json};
use crate::model::Topology;
use crate::yaml;

/// Where the image (`images { flannel-windows }`, `model::defaults`) holds
/// flanneld, below the container's mount point.
const FLANNELD_IN_IMAGE: &str = "flannel\\flanneld.exe";
pub const CONFIG_MAP: &str = "kube-flannel-windows-cfg";
/// The pods' ServiceAccount in [`WINDOWS_NAMESPACE`], bound to flannel's
/// ClusterRole.
pub const SERVICE_ACCOUNT: &str = "flannel-windows";
/// Where the ConfigMap is mounted, below the container's mount point.
const CONFIG_DIR: &str = "etc\\kube-flannel";
/// flanneld's default `/run/flannel/subnet.env` resolves against the current
/// drive; the flannel CNI plugin reads it from `C:`, so the path is explicit.
const SUBNET_FILE: &str = "C:\\run\\flannel\\subnet.env";

/// The flags Windows flanneld runs with on every node, whoever starts it:
/// the DaemonSet below, or the host program's record of what must run.
/// `--iface` (the node's address), `--net-config-path` and
/// `--kubeconfig-file` (a path in the container) come on top.
/// No `--ip-masq`: Windows SNAT comes from the CNI OutBoundNAT policy (flannel cni-plugin `flannel_windows.go`).
pub fn flanneld_flags() -> Vec<String> {
    vec!["--kube-subnet-mgr".to_string(), format!("--subnet-file={SUBNET_FILE}")]
}

/// The container's script. `--iface` is the node's address, from the
/// downward API's `status.hostIP` (`NODE_IP`), so flanneld picks the
/// interface carrying it rather than the default-route one.
fn script() -> String {
    let fixed = flanneld_flags();
    let mut lines = vec!["$ErrorActionPreference = 'Stop'".to_string()];
    lines.extend(windows_api::kubeconfig_script());
    lines.push("$mounts = $env:CONTAINER_SANDBOX_MOUNT_POINT".to_string());
    lines.push("$flags = @(".to_string());
    lines.extend(fixed.iter().map(|flag| format!("  {},", ps_quote(flag))));
    lines.push("  ('--kubeconfig-file=' + $kubeconfig),".to_string());
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
    // network that the CNI config and kube-proxy refer to (N0321).
    let config_map = ConfigMap {
        metadata: meta(CONFIG_MAP, Some(WINDOWS_NAMESPACE), &labels),
        data: Some([("net-conf.json".to_string(), to_json(&netconf::net_conf(topology)))].into()),
        ..ConfigMap::default()
    };
    let (command, args) = powershell(script());
    let (api_volume, api_mount) = windows_api::volume(topology);
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
        volume_mounts: Some(vec![
            mount("flannel-cfg", &format!("/{}/", CONFIG_DIR.replace('\\', "/"))),
            api_mount,
        ]),
        ..Container::default()
    };
    let spec = PodSpec {
        affinity: Some(node_affinity(WINDOWS_NODES)),
        security_context: Some(host_process()),
        host_network: Some(true),
        priority_class_name: Some("system-node-critical".to_string()),
        service_account_name: Some(SERVICE_ACCOUNT.to_string()),
        // The token is flanneld's credential (`windows_api.rs`).
        automount_service_account_token: Some(true),
        tolerations: Some(vec![
            tolerate(None, Some("NoSchedule")),
            tolerate(Some("CriticalAddonsOnly"), None),
            tolerate(None, Some("NoExecute")),
        ]),
        containers: vec![container],
        volumes: Some(vec![config_map_volume("flannel-cfg", CONFIG_MAP), api_volume]),
        ..PodSpec::default()
    };
    // Its own `app` label: a selector of `app: flannel` would also match
    // the pods of a Linux flannel DaemonSet installed in kube-system.
    let daemon_set = daemon_set(
        meta("kube-flannel-ds-windows-amd64", Some(WINDOWS_NAMESPACE), &labels),
        &[("app", "flannel-windows")],
        &labels,
        spec,
    );
    let mut comment = vec![
        "flannel for the Windows nodes (HostProcess), generated by netc, in kube-system. Apply after".to_string(),
        "kube-flannel.yaml, which creates the ClusterRole flannel bound here.".to_string(),
        String::new(),
    ];
    comment.extend(windows_api::comment(topology));
    comment.push(String::new());
    comment.extend(image_comment(topology));
    let comment: Vec<&str> = comment.iter().map(String::as_str).collect();
    let account_labels = [("k8s-app", "flannel")];
    let documents = [
        yaml::document(&service_account(SERVICE_ACCOUNT, WINDOWS_NAMESPACE, &account_labels)),
        yaml::document(&cluster_role_binding(
            SERVICE_ACCOUNT,
            FLANNEL_SERVICE_ACCOUNT,
            (WINDOWS_NAMESPACE, SERVICE_ACCOUNT),
            &account_labels,
        )),
        yaml::document(&config_map),
        yaml::document(&daemon_set),
    ];
    yaml::stream(&comment, &documents)
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
