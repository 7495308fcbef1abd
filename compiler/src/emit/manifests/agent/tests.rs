//! Unit tests of the agent manifests: the Linux DaemonSet, RBAC and flags.

use super::*;

/// A topology of a kubeadm-made cluster (no `api-server`).
pub(super) fn kubeadm() -> Topology {
    crate::topology_for_tests(
        "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}\n\
         segment s {\n  prefix 10.1.0.0/24\n}\nnode a {\n  os linux\n  address 10.1.0.10\n}\n",
    )
}

fn agent_of(block: &str) -> Agent {
    let text = format!(
        "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}}\n\
         segment s {{\n  prefix 10.1.0.0/24\n}}\nnode a {{\n  os linux\n  address 10.1.0.10\n}}\n{block}"
    );
    crate::topology_for_tests(&text).agent.expect("an agent block")
}

#[test]
fn defaults_fill_branch_and_interval() {
    let agent = agent_of("agent {\n  repo \"https://g.example/n.git\"\n  path \"c.netc\"\n  image \"i:1\"\n}\n");
    assert_eq!(
        source_flags(&agent),
        ["--repo=https://g.example/n.git", "--branch=main", "--path=c.netc"]
    );
    assert_eq!(interval_flag(&agent), "--interval=30s");
    let agent = agent_of(
        "agent {\n  repo \"https://g.example/n.git\"\n  branch prod\n  path \"c.netc\"\n  image \"i:1\"\n  interval 5\n}\n",
    );
    assert_eq!(source_flags(&agent)[1], "--branch=prod");
    assert_eq!(interval_flag(&agent), "--interval=5s");
}

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOit/aR37pqqB3Wwes/Tzc+uvAMNAPaESiQFO0IQb3XO";

fn signed_agent() -> Agent {
    agent_of(&format!(
        "agent {{\n  repo \"https://g.example/n.git\"\n  path \"c.netc\"\n  image \"i:1\"\n  \
         allowed-signer \"b@example.com {KEY}\"\n  allowed-signer \"a@example.com {KEY}\"\n}}\n"
    ))
}

#[test]
fn allowed_signers_become_a_config_map_file_in_the_order_written() {
    let agent = signed_agent();
    assert_eq!(
        allowed_signers_file(&agent),
        format!("b@example.com {KEY}\na@example.com {KEY}\n")
    );
    let config_map = trust_config_map(&agent, AGENT_NAMESPACE).expect("a ConfigMap");
    assert_eq!(config_map.metadata.name.as_deref(), Some(TRUST_CONFIG_MAP));
    assert_eq!(config_map.metadata.namespace.as_deref(), Some(AGENT_NAMESPACE));
    let data = config_map.data.expect("data");
    assert_eq!(data.keys().collect::<Vec<_>>(), [ALLOWED_SIGNERS_KEY]);
    assert_eq!(data[ALLOWED_SIGNERS_KEY], allowed_signers_file(&agent));
}

#[test]
fn both_agents_read_the_mounted_file() {
    let agent = signed_agent();
    let pod = linux_daemon_set(&agent).spec.unwrap().template.spec.unwrap();
    let args = pod.containers[0].args.clone().unwrap();
    assert!(
        args.contains(&"--allowed-signers=/etc/netc/allowed_signers".to_string()),
        "{args:?}"
    );
    let mounts = pod.containers[0].volume_mounts.clone().unwrap();
    let mount = mounts.iter().find(|m| m.mount_path == "/etc/netc").expect("mounted");
    assert_eq!(mount.read_only, Some(true));
    let volume = pod
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == mount.name)
        .expect("a volume");
    assert_eq!(volume.config_map.unwrap().name, TRUST_CONFIG_MAP);

    let pod = windows_daemon_set(&kubeadm(), &agent)
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let mounts = pod.containers[0].volume_mounts.clone().unwrap();
    assert_eq!(mounts.len(), 2);
    assert_eq!(
        (mounts[1].mount_path.as_str(), mounts[1].read_only),
        ("/etc/netc/", Some(true))
    );
    let volumes = pod.volumes.unwrap();
    assert_eq!(volumes[1].config_map.as_ref().unwrap().name, TRUST_CONFIG_MAP);
    // The Windows pod mounts the copy in its own namespace.
    let manifest = windows_manifest(&kubeadm(), &agent);
    assert!(
        manifest
            .contains("    app.kubernetes.io/name: netc-agent\n  name: netc-agent-trust\n  namespace: kube-system\n"),
        "{manifest}"
    );
    let script = windows_script(&agent);
    assert!(
        script.contains(
            "('--allowed-signers=' + (Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT 'etc\\netc\\allowed_signers'))"
        ),
        "{script}"
    );
    assert!(!script.contains("$("), "{script}");
}

#[test]
fn without_allowed_signers_no_signature_is_required() {
    let agent = agent_of("agent {\n  repo \"https://g.example/n.git\"\n  path \"c.netc\"\n  image \"i:1\"\n}\n");
    assert!(trust_config_map(&agent, AGENT_NAMESPACE).is_none());
    let pod = linux_daemon_set(&agent).spec.unwrap().template.spec.unwrap();
    assert!(!pod.containers[0]
        .args
        .clone()
        .unwrap()
        .iter()
        .any(|a| a.contains("allowed-signers")));
    assert!(!pod.volumes.unwrap().iter().any(|v| v.config_map.is_some()));
    let pod = windows_daemon_set(&kubeadm(), &agent)
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let volumes = pod.volumes.unwrap();
    assert!(volumes
        .iter()
        .all(|v| v.config_map.as_ref().unwrap().name != TRUST_CONFIG_MAP));
    assert!(!windows_manifest(&kubeadm(), &agent).contains(TRUST_CONFIG_MAP));
    assert!(!windows_script(&agent).contains("allowed-signers"));
    assert!(!manifest(&agent).contains(TRUST_CONFIG_MAP));
}

#[test]
fn a_dollar_reaches_the_agent_as_written() {
    let agent = agent_of("agent {\n  repo \"https://g.example/$(HOME).git\"\n  path \"c.netc\"\n  image \"i:1\"\n}\n");
    let ds = linux_daemon_set(&agent);
    let args = ds.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert!(
        args.contains(&"--repo=https://g.example/$$(HOME).git".to_string()),
        "{args:?}"
    );
    assert!(args.contains(&"--node=$(NODE_NAME)".to_string()), "{args:?}");
    let script = windows_script(&agent);
    assert!(script.contains("'--repo=https://g.example/$$(HOME).git'"), "{script}");
    assert!(!script.contains("$(N"), "{script}");
}
