//! How the Windows HostProcess DaemonSets (flanneld, kube-proxy, netc's
//! agent) reach the API server: with their own pod's ServiceAccount token,
//! at the control-plane endpoint of a kubeconfig in a ConfigMap.
//!
//! A HostProcess pod shares the node's network, where the `kubernetes`
//! Service's ClusterIP is not reachable (kube-proxy, which would program
//! it, is one of these pods), so in-cluster configuration does not work.
//! sig-windows-tools' HostProcess manifests solve this with the kubeconfig
//! kubeadm keeps in the `kube-proxy` ConfigMap of `kube-system` (key
//! `kubeconfig.conf`, kubeadm's `cmd/kubeadm/app/phases/addons/proxy/
//! manifests.go`): it names the real control-plane endpoint and, for
//! credentials, the pod's own token and CA at
//! `/var/run/secrets/kubernetes.io/serviceaccount/`. Their
//! `hostprocess/flannel/flanneld/flannel-overlay.yml` and
//! `hostprocess/flannel/kube-proxy/kube-proxy.yml` run in `kube-system`
//! and mount that ConfigMap; a ConfigMap volume can only name a ConfigMap
//! of the pod's own namespace, which is why every Windows DaemonSet netc
//! emits runs in `kube-system` too, with a ServiceAccount of its own there.
//!
//! In a HostProcess container the token and CA are not at that Linux path
//! but below `$env:CONTAINER_SANDBOX_MOUNT_POINT` (containerd 1.6; 1.7 also
//! maps the mount path, and keeps the sandbox path for compatibility).
//! Upstream's start scripts deal with it in two ways: kube-proxy's
//! `start.ps1` rewrites `/var` in the kubeconfig to the mount point's
//! `/var`; flanneld's copies the token files next to the kubeconfig, where
//! client-go resolves the path (relative on Windows, as it has no drive).
//! netc rewrites, as kube-proxy's script does, but only the
//! ServiceAccount directory, into a file of the container's own (the
//! ConfigMap volume stays read-only), and keeps the live token files: the
//! kubelet rotates the projected token in place, and client-go (and
//! kube-rs) re-read `tokenFile`, which a copy made at start would not get.
//!
//! A cluster without kubeadm's ConfigMap writes `api-server` in the
//! topology; netc then emits a ConfigMap of its own of the same shape
//! (`netc-api-server`, in `kube-proxy-windows.yaml`, which exists whenever
//! a Windows node does) and the DaemonSets mount that one instead. The CA
//! is then the pod's ServiceAccount `ca.crt` too, the cluster CA, as in
//! kubeadm's: an API server whose certificate another CA signed is not
//! covered by this setting.

use k8s_openapi::api::core::v1::{ConfigMap, Volume, VolumeMount};

use super::objects::{config_map_volume, meta, mount, ps_quote};
use crate::model::Topology;

/// The namespace of every Windows DaemonSet: where kubeadm's `kube-proxy`
/// ConfigMap is.
pub const WINDOWS_NAMESPACE: &str = "kube-system";
/// kubeadm's ConfigMap with the kubeconfig, and its key.
pub const KUBEADM_CONFIG_MAP: &str = "kube-proxy";
pub const KUBECONFIG_KEY: &str = "kubeconfig.conf";
/// The ServiceAccount directory the kubeconfig names, as on Linux.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The same directory below the container's mount point.
const SERVICE_ACCOUNT_IN_SANDBOX: &str = "var\\run\\secrets\\kubernetes.io\\serviceaccount";
/// Where the ConfigMap is mounted, and where the script reads it, below
/// the container's mount point.
const VOLUME: &str = "api-server";
const MOUNT_IN_SANDBOX: &str = "netc\\api-server";
/// The rewritten kubeconfig, in the container's own directory.
const KUBECONFIG_IN_SANDBOX: &str = "netc-kubeconfig.conf";

/// netc's own ConfigMap, with `api-server` written.
pub const NETC_CONFIG_MAP: &str = "netc-api-server";

/// The ConfigMap the Windows DaemonSets read the API server from.
fn config_map_name(topology: &Topology) -> &'static str {
    match topology.cluster.api_server {
        Some(_) => NETC_CONFIG_MAP,
        None => KUBEADM_CONFIG_MAP,
    }
}

/// The pod's volume of the ConfigMap with the kubeconfig, and the
/// container's read-only mount of it.
pub fn volume(topology: &Topology) -> (Volume, VolumeMount) {
    let mount = VolumeMount {
        read_only: Some(true),
        ..mount(VOLUME, &format!("/{}/", MOUNT_IN_SANDBOX.replace('\\', "/")))
    };
    (config_map_volume(VOLUME, config_map_name(topology)), mount)
}

/// With `api-server` written: netc's ConfigMap holding the kubeconfig
/// kubeadm would have written, with that server (`Values::api_server`
/// admits only characters that stand unquoted in YAML). `None` without it.
pub fn config_map(topology: &Topology) -> Option<ConfigMap> {
    let server = &topology.cluster.api_server.as_ref()?.value;
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: {SERVICE_ACCOUNT_DIR}/ca.crt\n    \
         server: {server}\n  name: default\ncontexts:\n- context:\n    cluster: default\n    namespace: default\n    \
         user: default\n  name: default\ncurrent-context: default\nusers:\n- name: default\n  user:\n    \
         tokenFile: {SERVICE_ACCOUNT_DIR}/token\n"
    );
    Some(ConfigMap {
        metadata: meta(
            NETC_CONFIG_MAP,
            Some(WINDOWS_NAMESPACE),
            &[("app.kubernetes.io/name", "netc")],
        ),
        data: Some([(KUBECONFIG_KEY.to_string(), kubeconfig)].into()),
        ..ConfigMap::default()
    })
}

/// PowerShell lines that write the kubeconfig the process runs with and
/// leave its path in `$kubeconfig`. Only single-quoted literals, and no
/// `$(`, which the kubelet would expand in `args`.
pub fn kubeconfig_script() -> Vec<String> {
    vec![
        "# The API server: the mounted ConfigMap's kubeconfig, its ServiceAccount paths moved".to_string(),
        "# below this container's mount point, where the pod's token and CA are.".to_string(),
        format!(
            "$tokenDir = (Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT {}).Replace('\\', '/')",
            ps_quote(SERVICE_ACCOUNT_IN_SANDBOX)
        ),
        format!(
            "$kubeconfig = Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT {}",
            ps_quote(KUBECONFIG_IN_SANDBOX)
        ),
        format!(
            "$text = Get-Content -Raw -LiteralPath (Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT {})",
            ps_quote(&format!("{MOUNT_IN_SANDBOX}\\{KUBECONFIG_KEY}"))
        ),
        format!(
            "[System.IO.File]::WriteAllText($kubeconfig, $text.Replace({}, $tokenDir))",
            ps_quote(SERVICE_ACCOUNT_DIR)
        ),
    ]
}

/// The manifests' header lines on where the API server is.
pub fn comment(topology: &Topology) -> Vec<String> {
    if topology.cluster.api_server.is_some() {
        return vec![
            format!("The API server is the topology's `api-server`, in the `{KUBECONFIG_KEY}` of the ConfigMap"),
            format!("{NETC_CONFIG_MAP} (kube-proxy-windows.yaml; a HostProcess pod cannot reach the `kubernetes`"),
            "Service), reached with the pod's own ServiceAccount token.".to_string(),
        ];
    }
    vec![
        format!(
            "The API server is the one named by the `{KUBECONFIG_KEY}` of kubeadm's `{KUBEADM_CONFIG_MAP}` ConfigMap"
        ),
        format!("in {WINDOWS_NAMESPACE} (the control-plane endpoint; a HostProcess pod cannot reach the"),
        "`kubernetes` Service), reached with the pod's own ServiceAccount token. Write".to_string(),
        "`api-server https://HOST:PORT` in the topology's cluster for a cluster without it.".to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_moves_only_the_service_account_paths() {
        let script = kubeconfig_script().join("\n");
        assert!(
            script.contains(".Replace('/var/run/secrets/kubernetes.io/serviceaccount', $tokenDir)"),
            "{script}"
        );
        assert!(script.contains("'netc\\api-server\\kubeconfig.conf'"), "{script}");
        // The kubelet expands `$(VAR)` in args; nothing here may look like it.
        assert!(!script.contains("$("), "{script}");
        let kubeadm = crate::topology_for_tests(&cluster(""));
        let (volume, mount) = volume(&kubeadm);
        assert_eq!(volume.config_map.unwrap().name, "kube-proxy");
        assert_eq!(
            (mount.mount_path.as_str(), mount.read_only),
            ("/netc/api-server/", Some(true))
        );
        assert!(config_map(&kubeadm).is_none());
    }

    fn cluster(setting: &str) -> String {
        format!(
            "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n{setting}}}\n\
             segment s {{\n  prefix 10.1.0.0/24\n}}\nnode a {{\n  os linux\n  address 10.1.0.10\n}}\n\
             node w {{\n  os windows\n  build 20348\n  address 10.1.0.21\n}}\n"
        )
    }

    fn codes(text: &str) -> Vec<&'static str> {
        let analysis = crate::analyze(&crate::diagnostic::SourceFile::new("t.netc", text));
        analysis.diagnostics.iter().map(|d| d.code).collect()
    }

    /// With `api-server`, netc's own ConfigMap holds kubeadm's kubeconfig
    /// shape with that server, and the DaemonSets mount it.
    #[test]
    fn api_server_writes_a_kubeconfig_of_kubeadms_shape() {
        let topology = crate::topology_for_tests(&cluster("  api-server https://[fd00::10]:6443\n"));
        let (volume, _) = volume(&topology);
        assert_eq!(volume.config_map.unwrap().name, NETC_CONFIG_MAP);
        let config_map = config_map(&topology).unwrap();
        assert_eq!(config_map.metadata.namespace.as_deref(), Some("kube-system"));
        let kubeconfig = &config_map.data.unwrap()[KUBECONFIG_KEY];
        let parsed = crate::yaml::read_documents(kubeconfig).unwrap().remove(0);
        assert_eq!(parsed["clusters"][0]["cluster"]["server"], "https://[fd00::10]:6443");
        assert_eq!(
            parsed["users"][0]["user"]["tokenFile"],
            "/var/run/secrets/kubernetes.io/serviceaccount/token"
        );
        assert_eq!(
            parsed["clusters"][0]["cluster"]["certificate-authority"],
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
        );
        assert_eq!(parsed["current-context"], "default");
    }

    #[test]
    fn api_server_must_be_an_https_host_and_port() {
        for good in [
            "https://10.0.0.10:6443",
            "https://cp.example.com:443",
            "https://[fd00::1]:6443",
        ] {
            let found = codes(&cluster(&format!("  api-server {good}\n")));
            assert!(found.is_empty(), "{good}: {found:?}");
        }
        for bad in [
            "http://10.0.0.10:6443",
            "https://10.0.0.10",
            "https://10.0.0.10:6443/",
            "https://10.0.0.10:0",
            "https://10.0.0.10:65536",
            "\"https://a b:6443\"",
            "https://fd00::1:6443",
            "https://cp_1.example:6443",
        ] {
            let found = codes(&cluster(&format!("  api-server {bad}\n")));
            assert_eq!(found, ["N0105"], "{bad}");
        }
    }
}
