//! `manifests/netc-agent.yaml` and `manifests/netc-agent-windows.yaml`:
//! netc's own agent (`netc agent`) as DaemonSets, written when the topology
//! has an `agent { }` block. Every node then follows the repository that
//! holds the topology and applies its own host program: netc ships its
//! agent as DaemonSets (Linux, and Windows HostProcess) that it generates
//! itself.
//!
//! The Linux DaemonSet runs a privileged container in the host's network
//! namespace with the host's root filesystem at `/host`: the agent writes
//! links, routes and sysctls through netlink and `/proc/sys` (which
//! `hostNetwork` makes the node's), its files under `--root /host`, and
//! keeps its state in the node's `/var/lib/netc`, so a restarted pod knows
//! what it owns. The Windows one is a HostProcess pod, which runs on the host
//! itself: its paths are the node's, so it takes no `--root`.
//!
//! The ServiceAccount's ClusterRole lets the agent read Node objects
//! (`get`, `list`, `watch`) and patch `nodes/status` only: it reports its
//! status as annotations on its own Node, the way flanneld writes its own.
//!
//! The Windows DaemonSet runs in `kube-system`, with a ServiceAccount
//! `netc-agent-windows` there bound to the same ClusterRole: it reaches the
//! API server through kubeadm's `kube-proxy` ConfigMap, which only a pod of
//! that namespace can mount (`windows_api.rs`). With allowed signers, the
//! trust ConfigMap is written in both namespaces for the same reason.
//!
//! With `allowed-signer` lines, the ConfigMap `netc-agent-trust` holds them
//! as an ssh-keygen `allowed_signers` file, mounted read-only into both
//! DaemonSets, and both agents run with `--allowed-signers` pointing at it:
//! they apply only commits signed by one of those keys. The whole directory
//! is mounted (not a `subPath`), so the kubelet refreshes the file when the
//! ConfigMap changes and a key rotation needs no pod restart.
//!
//! An `ssh://` repository is fetched with the Secret `ssh-secret` names
//! (keys `ssh-privatekey` and `known_hosts`), mounted read-only (mode 0400)
//! in both DaemonSets, beside (not inside: a ConfigMap volume is read-only)
//! the trust directory, and passed as `--ssh-key` and `--known-hosts`. The
//! user creates it, in `netc-system` and, for the Windows agents, in
//! `kube-system`: netc never sees the key.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, HTTPGetAction, Namespace, PodSpec, Probe, ResourceRequirements, SecretVolumeSource,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::objects::{
    cluster_role_binding as binding, config_map_volume, daemon_set, field_env, host_path, host_process, meta, mount,
    node_affinity, powershell, ps_quote, service_account, strings, tolerate,
};
use super::windows_api::{self, WINDOWS_NAMESPACE};
use super::WINDOWS_NODES;
use crate::model::{Agent, Topology};
use crate::yaml;

pub const AGENT_NAMESPACE: &str = "netc-system";
pub const AGENT_SERVICE_ACCOUNT: &str = "netc-agent";
pub const AGENT_LINUX: &str = "netc-agent";
pub const AGENT_WINDOWS: &str = "netc-agent-windows";
/// The Windows DaemonSet's ServiceAccount, in [`WINDOWS_NAMESPACE`].
pub const AGENT_WINDOWS_SERVICE_ACCOUNT: &str = "netc-agent-windows";
/// Where the agent serves `/metrics` and `/healthz` (its `--listen`
/// default): loopback only, since the pod shares the node's network.
const LISTEN_HOST: &str = "127.0.0.1";
const LISTEN_PORT: i32 = 9464;
/// The node's root filesystem inside the Linux container.
const HOST_ROOT: &str = "/host";
/// The agent's state directory on a Linux node, as the node sees it
/// (`netc agent`'s default), below [`HOST_ROOT`] in the container.
const LINUX_STATE_DIR: &str = "/var/lib/netc";
/// The agent's state directory on a Windows node.
const WINDOWS_STATE_DIR: &str = "C:\\ProgramData\\netc";
/// The agent's binary in the Windows image, below the HostProcess
/// container's mount point.
const NETC_IN_WINDOWS_IMAGE: &str = "netc.exe";
/// The ConfigMap holding the `allowed_signers` file, its key (the file's
/// name in the mounted directory) and the pods' volume for it.
pub const TRUST_CONFIG_MAP: &str = "netc-agent-trust";
pub const ALLOWED_SIGNERS_KEY: &str = "allowed_signers";
const TRUST_VOLUME: &str = "trust";
/// Where the ConfigMap is mounted in the Linux container.
const LINUX_TRUST_DIR: &str = "/etc/netc";
/// Where it is mounted in the Windows HostProcess container, below the
/// container's mount point (`$env:CONTAINER_SANDBOX_MOUNT_POINT`).
const WINDOWS_TRUST_DIR: &str = "etc\\netc";
/// The Secret volume of an `ssh://` repository, its keys (file names in
/// the mounted directory) and where it is mounted (Linux; Windows below
/// the container's mount point).
const SSH_VOLUME: &str = "ssh";
pub const SSH_KEY_KEY: &str = "ssh-privatekey";
pub const KNOWN_HOSTS_KEY: &str = "known_hosts";
const LINUX_SSH_DIR: &str = "/etc/netc-ssh";
const WINDOWS_SSH_DIR: &str = "etc\\netc-ssh";
/// The label every agent object and pod carries.
const NAME_LABEL: (&str, &str) = ("app.kubernetes.io/name", "netc-agent");

/// The two manifests' paths.
pub const LINUX_MANIFEST: &str = "manifests/netc-agent.yaml";
pub const WINDOWS_MANIFEST: &str = "manifests/netc-agent-windows.yaml";

/// `manifests/netc-agent.yaml`: namespace, RBAC, the allowed signers (when
/// any) and the Linux DaemonSet.
pub fn manifest(agent: &Agent) -> String {
    let mut documents = vec![
        yaml::document(&namespace()),
        yaml::document(&service_account(AGENT_SERVICE_ACCOUNT, AGENT_NAMESPACE, &[NAME_LABEL])),
        yaml::document(&cluster_role()),
        yaml::document(&cluster_role_binding()),
    ];
    // Before the DaemonSet: its pods cannot start without the ConfigMap.
    documents.extend(trust_config_map(agent, AGENT_NAMESPACE).map(|config_map| yaml::document(&config_map)));
    documents.push(yaml::document(&linux_daemon_set(agent)));
    // No written value goes into the comments: a YAML or JSON topology's
    // string may hold a line break, which would end the comment.
    let mut comment = vec![
        "netc's agent for the Linux nodes, generated by netc from the topology's `agent` block:",
        "every Linux node runs `netc agent`, follows the topology's repository and applies its",
        "own host program; drift is corrected every round.",
        "",
        "The container is privileged, on the node's network, with the node's / at /host:",
        "it changes links, routes, sysctls, kernel modules, iptables and CNI files of the node.",
    ];
    if agent.ssh_secret.is_some() {
        comment.extend([
            "",
            "The repository is fetched over ssh with the key and known_hosts of the Secret that the",
            "`agent` block's `ssh-secret` names (keys ssh-privatekey and known_hosts), mounted at",
            "/etc/netc-ssh: create it in netc-system before the pods can start.",
        ]);
    }
    if agent.allowed_signers.is_empty() {
        comment.push("The Namespace, ServiceAccount and RBAC here are shared with netc-agent-windows.yaml.");
    } else {
        comment.extend([
            "",
            "The agents apply only commits signed by a key of the ConfigMap netc-agent-trust (the",
            "`agent` block's `allowed-signer` lines), mounted at /etc/netc.",
            "The Namespace, ServiceAccount, RBAC and ConfigMap here are shared with",
            "netc-agent-windows.yaml.",
        ]);
    }
    yaml::stream(&comment, &documents)
}

/// `manifests/netc-agent-windows.yaml`: the Windows HostProcess DaemonSet in
/// `kube-system`, its ServiceAccount and binding, and (with allowed signers)
/// the trust ConfigMap's copy there.
pub fn windows_manifest(topology: &Topology, agent: &Agent) -> String {
    let mut comment: Vec<String> = [
        "netc's agent for the Windows nodes (HostProcess), generated by netc from the topology's",
        "`agent` block, in kube-system with a ServiceAccount of its own. Apply after",
        "netc-agent.yaml, which creates the ClusterRole netc-agent bound here.",
    ]
    .map(String::from)
    .into();
    if !agent.allowed_signers.is_empty() {
        comment.push("The ConfigMap netc-agent-trust holds the keys that may sign commits.".to_string());
    }
    if agent.ssh_secret.is_some() {
        comment.push(
            "The ssh key and known_hosts come from the Secret `ssh-secret` names, which must exist in".to_string(),
        );
        comment.push("kube-system too (a pod mounts only Secrets of its own namespace).".to_string());
    }
    comment.push(String::new());
    comment.extend(windows_api::comment(topology));
    comment.extend([
        String::new(),
        "It runs the Linux DaemonSet's image reference: publish the image for both platforms,".to_string(),
        "the Windows variant holding netc.exe at its root.".to_string(),
    ]);
    let comment: Vec<&str> = comment.iter().map(String::as_str).collect();
    let mut documents = vec![
        yaml::document(&service_account(
            AGENT_WINDOWS_SERVICE_ACCOUNT,
            WINDOWS_NAMESPACE,
            &[NAME_LABEL],
        )),
        yaml::document(&binding(
            AGENT_WINDOWS_SERVICE_ACCOUNT,
            AGENT_SERVICE_ACCOUNT,
            (WINDOWS_NAMESPACE, AGENT_WINDOWS_SERVICE_ACCOUNT),
            &[NAME_LABEL],
        )),
    ];
    documents.extend(trust_config_map(agent, WINDOWS_NAMESPACE).map(|config_map| yaml::document(&config_map)));
    documents.push(yaml::document(&windows_daemon_set(topology, agent)));
    yaml::stream(&comment, &documents)
}

fn namespace() -> Namespace {
    Namespace {
        // `privileged`: the agent needs a privileged (or HostProcess) pod,
        // hostNetwork and hostPath, which the `baseline` level refuses.
        metadata: meta(
            AGENT_NAMESPACE,
            None,
            &[NAME_LABEL, ("pod-security.kubernetes.io/enforce", "privileged")],
        ),
        ..Namespace::default()
    }
}

fn cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: meta(AGENT_SERVICE_ACCOUNT, None, &[NAME_LABEL]),
        // The agent reads its Node, and annotates it through the status
        // subresource only, as flanneld does: `patch` on `nodes` would let
        // one compromised node taint or relabel every node of the cluster.
        rules: Some(vec![
            PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(strings(&["nodes"])),
                verbs: strings(&["get", "list", "watch"]),
                ..PolicyRule::default()
            },
            PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(strings(&["nodes/status"])),
                verbs: strings(&["patch"]),
                ..PolicyRule::default()
            },
        ]),
        ..ClusterRole::default()
    }
}

fn cluster_role_binding() -> ClusterRoleBinding {
    binding(
        AGENT_SERVICE_ACCOUNT,
        AGENT_SERVICE_ACCOUNT,
        (AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT),
        &[NAME_LABEL],
    )
}

/// A written value as a container argument: the kubelet expands `$(VAR)`
/// in `args` and reduces `$$` to `$`, so every `$` is doubled to reach the
/// agent as written.
fn kubelet_literal(text: &str) -> String {
    text.replace('$', "$$")
}

/// The flags both agents take from the `agent` block, as written.
fn source_flags(agent: &Agent) -> Vec<String> {
    vec![
        format!("--repo={}", agent.repo.value),
        format!("--branch={}", agent.branch.value),
        format!("--path={}", agent.path.value),
    ]
}

/// The `allowed_signers` file: one line per `allowed-signer`, in the order
/// written, each ending in a newline as ssh-keygen's files do.
pub fn allowed_signers_file(agent: &Agent) -> String {
    agent
        .allowed_signers
        .iter()
        .map(|line| format!("{}\n", line.value))
        .collect()
}

/// The ConfigMap with the `allowed_signers` file in `namespace`, or `None`
/// without any `allowed-signer`: then the agents require no signature.
fn trust_config_map(agent: &Agent, namespace: &str) -> Option<ConfigMap> {
    if agent.allowed_signers.is_empty() {
        return None;
    }
    Some(ConfigMap {
        metadata: meta(TRUST_CONFIG_MAP, Some(namespace), &[NAME_LABEL]),
        data: Some([(ALLOWED_SIGNERS_KEY.to_string(), allowed_signers_file(agent))].into()),
        ..ConfigMap::default()
    })
}

/// The pod's volume and the container's read-only mount of the ConfigMap
/// at `path`, or `None` without allowed signers.
fn trust_mount(agent: &Agent, path: &str) -> Option<(Volume, VolumeMount)> {
    if agent.allowed_signers.is_empty() {
        return None;
    }
    let mount = VolumeMount {
        read_only: Some(true),
        ..mount(TRUST_VOLUME, path)
    };
    Some((config_map_volume(TRUST_VOLUME, TRUST_CONFIG_MAP), mount))
}

/// The Secret of an `ssh://` repository as a read-only volume at `path`.
fn ssh_mount(agent: &Agent, path: &str) -> Option<(Volume, VolumeMount)> {
    let secret = agent.ssh_secret.as_ref()?;
    let volume = Volume {
        name: SSH_VOLUME.to_string(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.value.clone()),
            default_mode: Some(0o400),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    };
    let mount = VolumeMount {
        read_only: Some(true),
        ..mount(SSH_VOLUME, path)
    };
    Some((volume, mount))
}

fn interval_flag(agent: &Agent) -> String {
    format!("--interval={}s", agent.interval.value)
}

fn listen_flag() -> String {
    format!("--listen={LISTEN_HOST}:{LISTEN_PORT}")
}

/// `GET /healthz` on the agent's loopback listener. `host` is needed: with
/// hostNetwork the kubelet would otherwise probe the node's address, where
/// nothing listens.
fn healthz(period: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            host: Some(LISTEN_HOST.to_string()),
            path: Some("/healthz".to_string()),
            port: IntOrString::Int(LISTEN_PORT),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failure_threshold),
        ..Probe::default()
    }
}

/// `/healthz` answers 503 until the first round is done, and that round
/// clones the repository: the startup probe gives it ten minutes. After
/// that, the agent is restarted when its loop has been late (no round in
/// three intervals plus its backoff) for three probes in a row.
fn probes(container: &mut Container) {
    container.startup_probe = Some(healthz(10, 60));
    container.liveness_probe = Some(healthz(30, 3));
}

fn resources() -> ResourceRequirements {
    let requests = [
        ("cpu".to_string(), Quantity("50m".to_string())),
        ("memory".to_string(), Quantity("64Mi".to_string())),
    ];
    ResourceRequirements {
        requests: Some(requests.into_iter().collect()),
        ..ResourceRequirements::default()
    }
}

/// Pods of both DaemonSets share the name label; `component` keeps the two
/// selectors apart in the one namespace.
fn pod_labels(component: &'static str) -> [(&'static str, &'static str); 2] {
    [NAME_LABEL, ("app.kubernetes.io/component", component)]
}

fn linux_daemon_set(agent: &Agent) -> DaemonSet {
    let trust = trust_mount(agent, LINUX_TRUST_DIR);
    let mut args = vec!["agent".to_string()];
    args.extend(source_flags(agent).iter().map(|flag| kubelet_literal(flag)));
    if trust.is_some() {
        args.push(format!("--allowed-signers={LINUX_TRUST_DIR}/{ALLOWED_SIGNERS_KEY}"));
    }
    let ssh = ssh_mount(agent, LINUX_SSH_DIR);
    if ssh.is_some() {
        args.push(format!("--ssh-key={LINUX_SSH_DIR}/{SSH_KEY_KEY}"));
        args.push(format!("--known-hosts={LINUX_SSH_DIR}/{KNOWN_HOSTS_KEY}"));
    }
    args.extend([
        "--node=$(NODE_NAME)".to_string(),
        format!("--root={HOST_ROOT}"),
        format!("--state-dir={HOST_ROOT}{LINUX_STATE_DIR}"),
        interval_flag(agent),
        listen_flag(),
    ]);
    let read_only = |name: &str, path: &str| VolumeMount {
        read_only: Some(true),
        ..mount(name, path)
    };
    let mut volume_mounts = vec![
        mount("host-root", HOST_ROOT),
        read_only("lib-modules", "/lib/modules"),
        mount("xtables-lock", "/run/xtables.lock"),
    ];
    let mut volumes = vec![
        host_path("host-root", "/", Some("Directory")),
        host_path("lib-modules", "/lib/modules", Some("Directory")),
        host_path("xtables-lock", "/run/xtables.lock", Some("FileOrCreate")),
    ];
    for (volume, mount) in trust.into_iter().chain(ssh) {
        volumes.push(volume);
        volume_mounts.push(mount);
    }
    let mut container = Container {
        name: "netc-agent".to_string(),
        image: Some(agent.image.value.clone()),
        command: Some(strings(&["netc"])),
        args: Some(args),
        env: Some(vec![field_env("NODE_NAME", "spec.nodeName")]),
        // netlink, /proc/sys, modprobe and iptables on the node.
        security_context: Some(SecurityContext {
            privileged: Some(true),
            ..SecurityContext::default()
        }),
        resources: Some(resources()),
        volume_mounts: Some(volume_mounts),
        ..Container::default()
    };
    probes(&mut container);
    let spec = PodSpec {
        affinity: Some(node_affinity(&[("kubernetes.io/os", "linux")])),
        host_network: Some(true),
        // The agent builds the pod network, so it cannot depend on cluster
        // DNS: it resolves the repository's host with the node's resolver.
        dns_policy: Some("Default".to_string()),
        priority_class_name: Some("system-node-critical".to_string()),
        service_account_name: Some(AGENT_SERVICE_ACCOUNT.to_string()),
        // Every node needs its network, tainted or not.
        tolerations: Some(vec![tolerate(None, None)]),
        containers: vec![container],
        volumes: Some(volumes),
        ..PodSpec::default()
    };
    let labels = pod_labels("linux");
    daemon_set(
        meta(AGENT_LINUX, Some(AGENT_NAMESPACE), &labels),
        &labels,
        &labels,
        spec,
    )
}

/// The Windows container's script: only single-quoted literals, so no
/// value is re-interpreted by PowerShell; the node's name comes from the
/// environment, so the only `$(` the kubelet could expand is in no flag.
fn windows_script(agent: &Agent) -> String {
    let mut flags: Vec<String> = vec![ps_quote("agent")];
    flags.extend(source_flags(agent).iter().map(|flag| kubelet_literal(&ps_quote(flag))));
    flags.push("('--node=' + $env:NODE_NAME)".to_string());
    if !agent.allowed_signers.is_empty() {
        // The ConfigMap's mount is below the container's mount point; the
        // path is built by PowerShell, so no `$(` reaches the kubelet.
        flags.push(format!(
            "('--allowed-signers=' + (Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT {}))",
            ps_quote(&format!("{WINDOWS_TRUST_DIR}\\{ALLOWED_SIGNERS_KEY}"))
        ));
    }
    if agent.ssh_secret.is_some() {
        for (flag, key) in [("--ssh-key=", SSH_KEY_KEY), ("--known-hosts=", KNOWN_HOSTS_KEY)] {
            flags.push(format!(
                "('{flag}' + (Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT {}))",
                ps_quote(&format!("{WINDOWS_SSH_DIR}\\{key}"))
            ));
        }
    }
    flags.extend(
        [
            format!("--state-dir={WINDOWS_STATE_DIR}"),
            interval_flag(agent),
            listen_flag(),
        ]
        .iter()
        .map(|flag| ps_quote(flag)),
    );
    // A HostProcess pod cannot reach the in-cluster Service address: the
    // agent reports through the kubeconfig that `windows_api` writes.
    flags.push("('--kubeconfig=' + $kubeconfig)".to_string());
    let mut lines = vec!["$ErrorActionPreference = 'Stop'".to_string()];
    lines.extend(windows_api::kubeconfig_script());
    lines.push("$flags = @(".to_string());
    let last = flags.len() - 1;
    for (i, flag) in flags.iter().enumerate() {
        let comma = if i < last { "," } else { "" };
        lines.push(format!("  {flag}{comma}"));
    }
    lines.push(")".to_string());
    lines.push(format!(
        "& (Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT {}) @flags",
        ps_quote(NETC_IN_WINDOWS_IMAGE)
    ));
    lines.push("exit $LASTEXITCODE".to_string());
    lines.join("\n") + "\n"
}

fn windows_daemon_set(topology: &Topology, agent: &Agent) -> DaemonSet {
    let (command, args) = powershell(windows_script(agent));
    let trust = trust_mount(agent, &format!("/{}/", WINDOWS_TRUST_DIR.replace('\\', "/")));
    let (api_volume, api_mount) = windows_api::volume(topology);
    let ssh = ssh_mount(agent, &format!("/{}/", WINDOWS_SSH_DIR.replace('\\', "/")));
    let mut volumes = vec![api_volume];
    let mut volume_mounts = vec![api_mount];
    for (volume, mount) in trust.into_iter().chain(ssh) {
        volumes.push(volume);
        volume_mounts.push(mount);
    }
    let mut container = Container {
        name: "netc-agent".to_string(),
        image: Some(agent.image.value.clone()),
        command: Some(command),
        args: Some(args),
        env: Some(vec![field_env("NODE_NAME", "spec.nodeName")]),
        resources: Some(resources()),
        volume_mounts: Some(volume_mounts),
        ..Container::default()
    };
    probes(&mut container);
    let spec = PodSpec {
        affinity: Some(node_affinity(WINDOWS_NODES)),
        security_context: Some(host_process()),
        host_network: Some(true),
        priority_class_name: Some("system-node-critical".to_string()),
        service_account_name: Some(AGENT_WINDOWS_SERVICE_ACCOUNT.to_string()),
        // The token is the agent's credential (`windows_api.rs`).
        automount_service_account_token: Some(true),
        tolerations: Some(vec![tolerate(None, None)]),
        containers: vec![container],
        volumes: Some(volumes),
        ..PodSpec::default()
    };
    let labels = pod_labels("windows");
    daemon_set(
        meta(AGENT_WINDOWS, Some(WINDOWS_NAMESPACE), &labels),
        &labels,
        &labels,
        spec,
    )
}

/// Whether the topology gets the agent's manifests, and which.
pub fn emit(topology: &Topology, out: &mut super::Artifacts) {
    let Some(agent) = &topology.agent else {
        return;
    };
    out.text(LINUX_MANIFEST, manifest(agent));
    if topology.has_windows() {
        out.text(WINDOWS_MANIFEST, windows_manifest(topology, agent));
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod windows_tests;
