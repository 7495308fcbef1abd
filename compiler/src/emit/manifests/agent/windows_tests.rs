//! Unit tests of the Windows agent DaemonSet and its API server access.

use super::tests::kubeadm;
use super::*;

/// The Windows agent runs beside kubeadm's `kube-proxy` ConfigMap with a
/// ServiceAccount of its own bound to the agent's ClusterRole, and
/// reports with the kubeconfig its script writes.
#[test]
fn the_windows_agent_reaches_the_api_server_with_its_own_token() {
    let agent = crate::topology_for_tests(
        "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}\n\
         segment s {\n  prefix 10.1.0.0/24\n}\nnode a {\n  os linux\n  address 10.1.0.10\n}\n\
         agent {\n  repo \"https://g.example/n.git\"\n  path \"c.netc\"\n  image \"i:1\"\n}\n",
    )
    .agent
    .unwrap();
    let daemon_set = windows_daemon_set(&kubeadm(), &agent);
    assert_eq!(daemon_set.metadata.namespace.as_deref(), Some("kube-system"));
    let pod = daemon_set.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some(AGENT_WINDOWS_SERVICE_ACCOUNT));
    assert_eq!(pod.automount_service_account_token, Some(true));
    assert!(pod.volumes.unwrap().iter().all(|v| v.host_path.is_none()));
    let manifest = windows_manifest(&kubeadm(), &agent);
    assert!(
        manifest.contains("roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: netc-agent\n"),
        "{manifest}"
    );
    assert!(!manifest.contains("C:\\k\\config"), "{manifest}");
    let script = windows_script(&agent);
    assert!(script.contains("  ('--kubeconfig=' + $kubeconfig)\n"), "{script}");
}
