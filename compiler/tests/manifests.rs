//! The Kubernetes manifests of every example: accepted by an independent
//! schema validator (`kubernetes-validate --strict` for the cluster's
//! release), and consistent with the other artifacts where the interop rules
//! need it (network name N0321, net-conf, CNI conflist, node OS placement).
//!
//! Also: each manifest exists exactly when its component runs; every object
//! is labelled as managed by netc; the agent's DaemonSets follow the `agent`
//! block; flanneld's flags match the upstream manifest (on Windows without
//! `--ip-masq`: the CNI config's OutBoundNAT does the SNAT); the Windows
//! DaemonSets reach the API server with ServiceAccounts of their own (and
//! netc's kubeconfig when the topology names an `api-server`); kube-proxy
//! uses every Windows CNI config's network name; DSR flags and feature
//! gates follow the Kubernetes release.

#![allow(clippy::disallowed_methods)] // tests read fixtures, write temp files and run the validator

use netc_test_support as common;

use std::process::Command;

use common::*;
use netc_compiler::diagnostic::SourceFile;
use netc_compiler::emit::Artifacts;
use netc_compiler::model::{BackendKind, Lock, Topology};
use netc_compiler::yaml::parse_documents;
use serde_json::Value;

const FLANNEL: &str = "manifests/kube-flannel.yaml";
const FLANNEL_WINDOWS: &str = "manifests/kube-flannel-windows.yaml";
const KUBE_PROXY_WINDOWS: &str = "manifests/kube-proxy-windows.yaml";
const AGENT: &str = "manifests/netc-agent.yaml";
const AGENT_WINDOWS: &str = "manifests/netc-agent-windows.yaml";

struct Compiled {
    name: String,
    topology: Topology,
    artifacts: Artifacts,
}

fn compile(name: &str, text: &str) -> Compiled {
    let source = SourceFile::new(name, text.to_string());
    let compilation = netc_compiler::compile(&source, &Lock::default());
    let artifacts = compilation
        .artifacts
        .unwrap_or_else(|| panic!("{name} does not compile: {:?}", compilation.diagnostics));
    let topology = netc_compiler::analyze(&source).topology.unwrap();
    Compiled {
        name: name.to_string(),
        topology,
        artifacts,
    }
}

fn examples() -> Vec<Compiled> {
    netc_files(&repo_root().join("examples"))
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            compile(&name, &std::fs::read_to_string(path).unwrap())
        })
        .collect()
}

/// vxlan-mixed with `windows { dsr on }` at the given Kubernetes release.
fn vxlan_dsr(minor: u16) -> Compiled {
    let text = std::fs::read_to_string(repo_root().join("examples/vxlan-mixed.netc")).unwrap();
    let text = text
        .replace("kubernetes       1.30", &format!("kubernetes       1.{minor}"))
        .replace("  backend vxlan {", "  windows {\n    dsr on\n  }\n  backend vxlan {");
    assert!(text.contains("dsr on") && text.contains(&format!("1.{minor}")));
    compile(&format!("vxlan-dsr-1.{minor}"), &text)
}

impl Compiled {
    fn text(&self, path: &str) -> Option<&str> {
        self.artifacts.files.get(path).map(|b| std::str::from_utf8(b).unwrap())
    }

    fn documents(&self, path: &str) -> Vec<Value> {
        parse_documents(self.text(path).unwrap_or_else(|| panic!("{}: no {path}", self.name)))
    }

    fn object(&self, path: &str, kind: &str, name: &str) -> Value {
        self.documents(path)
            .into_iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{}: {path} has no {kind} {name}", self.name))
    }

    fn manifests(&self) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        self.artifacts.files.iter().filter(|(p, _)| p.starts_with("manifests/"))
    }

    fn windows_cni_names(&self) -> Vec<String> {
        let confs: Vec<Value> = self
            .artifacts
            .files
            .iter()
            .filter(|(p, _)| p.ends_with("/cni.conf"))
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect();
        assert!(!confs.is_empty(), "{}: no Windows cni.conf", self.name);
        confs.iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
    }
}

/// The only container of a DaemonSet.
fn container(daemon_set: &Value) -> &Value {
    let containers = daemon_set["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    &containers[0]
}

/// The flags of a generated PowerShell script: its `'--flag',` lines.
fn script_flags(daemon_set: &Value) -> Vec<String> {
    let script = container(daemon_set)["args"][0].as_str().unwrap();
    script
        .lines()
        .filter_map(|line| line.trim().trim_end_matches(',').strip_prefix("'--"))
        .map(|flag| format!("--{}", flag.strip_suffix('\'').unwrap()))
        .collect()
}

/// `key In [values]` pairs of a DaemonSet's required node affinity.
fn affinity(daemon_set: &Value) -> Vec<(String, Vec<String>)> {
    let terms = &daemon_set["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
        ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
    assert_eq!(terms.as_array().unwrap().len(), 1);
    terms[0]["matchExpressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["operator"], "In");
            let values = e["values"].as_array().unwrap();
            (
                e["key"].as_str().unwrap().to_string(),
                values.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, Vec<String>)> {
    list.iter().map(|(k, v)| (k.to_string(), vec![v.to_string()])).collect()
}

#[test]
fn every_manifest_passes_kubernetes_validate_for_the_clusters_release() {
    let Some(tool) = tool("NETC_KUBERNETES_VALIDATE", "kubernetes-validate") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("netc-manifests-{}", std::process::id()));
    let mut compiled = examples();
    compiled.extend([vxlan_dsr(30), vxlan_dsr(33)]);
    let mut failures = Vec::new();
    let mut checked = 0;
    for example in &compiled {
        let version = example.topology.cluster.kubernetes.value;
        for (path, bytes) in example.manifests() {
            let file = dir.join(&example.name).join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, bytes).unwrap();
            let output = Command::new(&tool)
                .args(["--strict", "--quiet", "-k", &format!("{version}.0")])
                .arg(&file)
                .output()
                .unwrap();
            checked += 1;
            if !output.status.success() {
                failures.push(format!(
                    "{}/{path} ({}):\n{}{}",
                    example.name,
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(checked >= 10, "only {checked} manifests checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn manifests_exist_exactly_when_their_component_runs() {
    for example in examples() {
        let flannel = example.topology.flanneld_runs();
        let windows = example.topology.has_windows();
        let has = |path: &str| example.text(path).is_some();
        assert_eq!(has(FLANNEL), flannel, "{}", example.name);
        assert_eq!(has(FLANNEL_WINDOWS), flannel && windows, "{}", example.name);
        assert_eq!(has(KUBE_PROXY_WINDOWS), windows, "{}", example.name);
        let agent = example.topology.agent.is_some();
        assert_eq!(has(AGENT), agent, "{}", example.name);
        assert_eq!(has(AGENT_WINDOWS), agent && windows, "{}", example.name);
    }
    let agents = examples().iter().filter(|e| e.topology.agent.is_some()).count();
    assert!(agents >= 2, "the gitops examples have agent blocks");
}

#[test]
fn every_object_has_a_kind_and_is_managed_by_netc() {
    for example in examples() {
        for (path, bytes) in example.manifests() {
            let text = std::str::from_utf8(bytes).unwrap();
            let documents = parse_documents(text);
            assert_eq!(documents.len(), text.lines().filter(|l| *l == "---").count(), "{path}");
            for object in documents {
                assert!(
                    object["apiVersion"].is_string() && object["kind"].is_string(),
                    "{path}: {object}"
                );
                let labels = &object["metadata"]["labels"];
                assert_eq!(labels["app.kubernetes.io/managed-by"], "netc", "{path}: {object}");
            }
        }
    }
}

#[test]
fn daemon_sets_are_placed_by_node_os() {
    let linux = pairs(&[("kubernetes.io/os", "linux")]);
    let windows = pairs(&[("kubernetes.io/os", "windows"), ("kubernetes.io/arch", "amd64")]);
    for example in examples() {
        if example.text(FLANNEL).is_some() {
            let ds = example.object(FLANNEL, "DaemonSet", "kube-flannel-ds");
            assert_eq!(affinity(&ds), linux, "{}", example.name);
        }
        if example.text(FLANNEL_WINDOWS).is_some() {
            let ds = example.object(FLANNEL_WINDOWS, "DaemonSet", "kube-flannel-ds-windows-amd64");
            assert_eq!(affinity(&ds), windows, "{}", example.name);
            assert_eq!(
                ds["spec"]["template"]["spec"]["securityContext"]["windowsOptions"]["hostProcess"],
                true
            );
        }
        if example.text(KUBE_PROXY_WINDOWS).is_some() {
            let ds = example.object(KUBE_PROXY_WINDOWS, "DaemonSet", "kube-proxy-windows");
            assert_eq!(affinity(&ds), windows, "{}", example.name);
            assert_eq!(
                ds["spec"]["template"]["spec"]["securityContext"]["windowsOptions"]["hostProcess"],
                true
            );
        }
        if example.text(AGENT).is_some() {
            let ds = example.object(AGENT, "DaemonSet", "netc-agent");
            assert_eq!(affinity(&ds), linux, "{}", example.name);
        }
        if example.text(AGENT_WINDOWS).is_some() {
            let ds = example.object(AGENT_WINDOWS, "DaemonSet", "netc-agent-windows");
            assert_eq!(affinity(&ds), windows, "{}", example.name);
            assert_eq!(
                ds["spec"]["template"]["spec"]["securityContext"]["windowsOptions"]["hostProcess"],
                true
            );
        }
    }
}

/// The `--flag=value` arguments of the Linux agent, by flag.
fn agent_flags(args: &[String]) -> std::collections::BTreeMap<String, String> {
    args.iter()
        .filter_map(|arg| arg.strip_prefix("--")?.split_once('='))
        .map(|(flag, value)| (flag.to_string(), value.to_string()))
        .collect()
}

#[test]
fn the_agent_daemon_sets_follow_the_agent_block() {
    let mut checked = 0;
    for example in examples() {
        let Some(agent) = &example.topology.agent else {
            continue;
        };
        checked += 1;
        let ds = example.object(AGENT, "DaemonSet", "netc-agent");
        let pod = &ds["spec"]["template"]["spec"];
        let linux = container(&ds);
        assert_eq!(linux["image"], agent.image.value.as_str());
        assert_eq!(linux["command"], serde_json::json!(["netc"]));
        let args: Vec<String> = serde_json::from_value(linux["args"].clone()).unwrap();
        assert_eq!(args[0], "agent", "{args:?}");
        let flags = agent_flags(&args[1..]);
        assert_eq!(flags.len(), args.len() - 1, "every flag is --flag=value: {args:?}");
        let interval = format!("{}s", agent.interval.value);
        let mut expected = vec![
            ("repo", agent.repo.value.as_str()),
            ("branch", agent.branch.value.as_str()),
            ("path", agent.path.value.as_str()),
            ("node", "$(NODE_NAME)"),
            ("root", "/host"),
            ("state-dir", "/host/var/lib/netc"),
            ("interval", interval.as_str()),
            ("listen", "127.0.0.1:9464"),
        ];
        let signed = !agent.allowed_signers.is_empty();
        if signed {
            expected.push(("allowed-signers", "/etc/netc/allowed_signers"));
        }
        if agent.ssh_secret.is_some() {
            expected.push(("ssh-key", "/etc/netc-ssh/ssh-privatekey"));
            expected.push(("known-hosts", "/etc/netc-ssh/known_hosts"));
        }
        let expected: std::collections::BTreeMap<String, String> =
            expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(flags, expected, "{}", example.name);
        let signers_file: String = agent.allowed_signers.iter().map(|l| format!("{}\n", l.value)).collect();
        if signed {
            // The file the flag names is the ConfigMap's key, mounted read-only.
            let (volume, mount) = config_map_mount(&ds, "/etc/netc");
            assert_eq!(mount["readOnly"], true, "{}", example.name);
            let config_map = example.object(AGENT, "ConfigMap", volume["configMap"]["name"].as_str().unwrap());
            assert_eq!(config_map["metadata"]["namespace"], ds["metadata"]["namespace"]);
            assert_eq!(
                config_map["data"],
                serde_json::json!({ "allowed_signers": signers_file }),
                "{}",
                example.name
            );
        } else {
            assert!(!example.text(AGENT).unwrap().contains("ConfigMap"), "{}", example.name);
        }
        // An ssh:// repository: the named Secret, read-only, owner-only.
        let secrets: Vec<&serde_json::Value> = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["secret"].is_object())
            .collect();
        match &agent.ssh_secret {
            Some(secret) => {
                assert_eq!(secrets.len(), 1, "{}", example.name);
                assert_eq!(secrets[0]["secret"]["secretName"], secret.value.as_str());
                assert_eq!(secrets[0]["secret"]["defaultMode"], 0o400);
                let mount = linux["volumeMounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["name"] == secrets[0]["name"])
                    .expect("the Secret is mounted");
                assert_eq!(
                    (mount["mountPath"].as_str(), mount["readOnly"].as_bool()),
                    (Some("/etc/netc-ssh"), Some(true))
                );
            }
            None => assert!(secrets.is_empty(), "{}", example.name),
        }

        // `$(NODE_NAME)` is the node's name, from the downward API.
        let env = linux["env"].as_array().unwrap();
        assert!(env
            .iter()
            .any(|e| e["name"] == "NODE_NAME" && e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"));
        // The node's network, privileges, and its / where --root says.
        assert_eq!(pod["hostNetwork"], true);
        assert_eq!(linux["securityContext"]["privileged"], true);
        let host_root = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["hostPath"]["path"] == "/")
            .expect("the node's / is a volume");
        let mount = linux["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == host_root["name"])
            .expect("and it is mounted");
        assert_eq!(mount["mountPath"], flags["root"].as_str());
        assert!(flags["state-dir"].starts_with(&format!("{}/", flags["root"])));
        // Probes reach the agent's --listen address.
        for probe in ["startupProbe", "livenessProbe"] {
            let get = &linux[probe]["httpGet"];
            assert_eq!(
                format!("{}:{}", get["host"].as_str().unwrap(), get["port"]),
                flags["listen"],
                "{probe}"
            );
            assert_eq!(get["path"], "/healthz");
        }
        // Every taint is tolerated: every node needs its network.
        assert_eq!(pod["tolerations"], serde_json::json!([{"operator": "Exists"}]));

        // RBAC: the pod's ServiceAccount may read and annotate Nodes.
        let account = pod["serviceAccountName"].as_str().unwrap();
        let namespace = ds["metadata"]["namespace"].as_str().unwrap();
        let service_account = example.object(AGENT, "ServiceAccount", account);
        assert_eq!(service_account["metadata"]["namespace"], namespace);
        let binding = example.object(AGENT, "ClusterRoleBinding", account);
        assert_eq!(
            binding["subjects"],
            serde_json::json!([{"kind": "ServiceAccount", "name": account, "namespace": namespace}])
        );
        let role = example.object(AGENT, "ClusterRole", binding["roleRef"]["name"].as_str().unwrap());
        assert_eq!(
            role["rules"],
            // Least privilege: annotations go through nodes/status only.
            serde_json::json!([
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]}
            ])
        );
        let ns = example.object(AGENT, "Namespace", namespace);
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "privileged"
        );

        if example.text(AGENT_WINDOWS).is_some() {
            let windows = example.object(AGENT_WINDOWS, "DaemonSet", "netc-agent-windows");
            // Beside kubeadm's kube-proxy ConfigMap, with an account of its own
            // (windows_daemon_sets_reach_the_api_server_with_their_own_service_account).
            assert_eq!(windows["metadata"]["namespace"], "kube-system");
            let wpod = &windows["spec"]["template"]["spec"];
            assert_eq!(wpod["serviceAccountName"], "netc-agent-windows");
            assert_eq!(wpod["hostNetwork"], true);
            // The two DaemonSets must not select each other's pods.
            assert_ne!(windows["spec"]["selector"], ds["spec"]["selector"]);
            let container = container(&windows);
            assert_eq!(container["image"], agent.image.value.as_str());
            let mut script_flags = script_flags(&windows);
            script_flags.sort();
            let script = container["args"][0].as_str().unwrap();
            // The signers' file is below the HostProcess container's mount
            // point, which only PowerShell knows: the flag is an expression.
            let flag =
                "('--allowed-signers=' + (Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT 'etc\\netc\\allowed_signers'))";
            assert_eq!(script.contains(flag), signed, "{script}");
            if signed {
                let (volume, mount) = config_map_mount(&windows, "/etc/netc/");
                assert_eq!(mount["readOnly"], true);
                let (linux_volume, _) = config_map_mount(&ds, "/etc/netc");
                assert_eq!(volume["configMap"], linux_volume["configMap"], "the same ConfigMap");
            } else {
                let volumes = wpod["volumes"].as_array().unwrap();
                assert!(
                    volumes.iter().all(|v| v["configMap"]["name"] != "netc-agent-trust"),
                    "{}",
                    example.name
                );
            }
            let mut wanted = vec![
                format!("--repo={}", agent.repo.value),
                format!("--branch={}", agent.branch.value),
                format!("--path={}", agent.path.value),
                "--state-dir=C:\\ProgramData\\netc".to_string(),
                format!("--interval={interval}"),
                "--listen=127.0.0.1:9464".to_string(),
            ];
            wanted.sort();
            assert_eq!(script_flags, wanted, "{}", example.name);
            // A HostProcess pod reaches the API server with the kubeconfig
            // its script writes from the mounted ConfigMap.
            assert!(script.contains("  ('--kubeconfig=' + $kubeconfig)\n"), "{script}");
            assert!(script.contains("('--node=' + $env:NODE_NAME)"), "{script}");
            assert!(script.contains("'netc.exe'"), "{script}");
            // No --root on Windows: the HostProcess pod sees the node's paths.
            assert!(!script.contains("--root"), "{script}");
            // The kubelet expands `$(VAR)` in args: the script must have none.
            assert!(!script.contains("$("), "{script}");
        }
    }
    assert!(checked >= 2, "only {checked} examples have an agent block");
    let signed = examples()
        .iter()
        .filter(|e| e.topology.agent.as_ref().is_some_and(|a| !a.allowed_signers.is_empty()))
        .count();
    assert!(
        signed >= 1 && signed < checked,
        "examples cover agents with and without allowed signers"
    );
}

/// The ConfigMap volume of a DaemonSet's pod mounted at `path` in its
/// container, and that mount.
fn config_map_mount(daemon_set: &Value, path: &str) -> (Value, Value) {
    let mount = container(daemon_set)["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == path)
        .unwrap_or_else(|| panic!("nothing is mounted at {path}"))
        .clone();
    let volume = daemon_set["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mount's volume")
        .clone();
    assert!(volume["configMap"].is_object(), "{volume}");
    (volume, mount)
}

#[test]
fn config_maps_carry_the_net_conf_and_conflist_artifacts_byte_for_byte() {
    for example in examples().into_iter().filter(|e| e.text(FLANNEL).is_some()) {
        let net_conf = example.text("net-conf.json").unwrap();
        let linux = example.object(FLANNEL, "ConfigMap", "kube-flannel-cfg");
        assert_eq!(linux["data"]["net-conf.json"], net_conf, "{}", example.name);
        let conflists: Vec<&str> = example
            .artifacts
            .files
            .iter()
            .filter(|(p, _)| p.ends_with("/10-flannel.conflist"))
            .map(|(_, b)| std::str::from_utf8(b).unwrap())
            .collect();
        assert!(!conflists.is_empty());
        for conflist in conflists {
            assert_eq!(linux["data"]["cni-conf.json"], conflist, "{}", example.name);
        }
        if example.text(FLANNEL_WINDOWS).is_some() {
            let windows = example.object(FLANNEL_WINDOWS, "ConfigMap", "kube-flannel-windows-cfg");
            assert_eq!(windows["data"]["net-conf.json"], net_conf, "{}", example.name);
        }
    }
}

#[test]
fn flanneld_flags_match_the_upstream_manifest_and_windows_snat() {
    for example in examples().into_iter().filter(|e| e.text(FLANNEL).is_some()) {
        let linux = example.object(FLANNEL, "DaemonSet", "kube-flannel-ds");
        let args = &container(&linux)["args"];
        // Upstream's flags, plus the underlay pinned to the node's address
        // (kubelet expands `$(NODE_IP)` from the downward API), as on Windows.
        assert_eq!(
            args,
            &serde_json::json!([
                "--ip-masq",
                "--kube-subnet-mgr",
                "--iface=$(NODE_IP)",
                "--healthz-port=8081"
            ])
        );
        let env = container(&linux)["env"].as_array().unwrap();
        assert!(
            env.contains(
                &serde_json::json!({"name": "NODE_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}})
            ),
            "{env:?}"
        );
        assert_eq!(container(&linux)["image"], "ghcr.io/flannel-io/flannel:v0.28.9");
        if example.text(FLANNEL_WINDOWS).is_some() {
            let windows = example.object(FLANNEL_WINDOWS, "DaemonSet", "kube-flannel-ds-windows-amd64");
            let flags = script_flags(&windows);
            assert!(flags.contains(&"--kube-subnet-mgr".to_string()), "{flags:?}");
            let script = container(&windows)["args"][0].as_str().unwrap();
            assert!(script.contains("  ('--kubeconfig-file=' + $kubeconfig),\n"), "{script}");
            // OutBoundNAT in the CNI config does the SNAT on Windows (flannel cni-plugin flannel_windows.go).
            assert!(!flags.iter().any(|f| f.starts_with("--ip-masq")), "{flags:?}");
            let script = container(&windows)["args"][0].as_str().unwrap();
            assert!(script.contains("('--iface=' + $env:NODE_IP)"), "{script}");
            // The kubelet expands `$(VAR)` in args: the script must have none.
            assert!(!script.contains("$("), "{script}");
            let env = container(&windows)["env"].as_array().unwrap();
            assert!(env
                .iter()
                .any(|e| e["name"] == "NODE_IP" && e["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"));
        }
    }
}

/// Every Windows DaemonSet (flanneld, kube-proxy, the agent) runs in
/// kube-system beside kubeadm's `kube-proxy` ConfigMap, mounts it, and
/// authenticates with its own pod's ServiceAccount token: a ServiceAccount
/// of its own, bound to the ClusterRole it needs. No host kubeconfig.
#[test]
fn windows_daemon_sets_reach_the_api_server_with_their_own_service_account() {
    let cases = [
        (
            FLANNEL_WINDOWS,
            "kube-flannel-ds-windows-amd64",
            "flannel-windows",
            "flannel",
        ),
        (
            KUBE_PROXY_WINDOWS,
            "kube-proxy-windows",
            "kube-proxy-windows",
            "system:node-proxier",
        ),
        (AGENT_WINDOWS, "netc-agent-windows", "netc-agent-windows", "netc-agent"),
    ];
    let mut checked = 0;
    for example in examples() {
        for (path, name, account, role) in cases {
            let Some(text) = example.text(path) else {
                continue;
            };
            assert!(!text.contains("C:\\k\\config"), "{}: {path}", example.name);
            let ds = example.object(path, "DaemonSet", name);
            assert_eq!(ds["metadata"]["namespace"], "kube-system", "{}", example.name);
            let pod = &ds["spec"]["template"]["spec"];
            assert_eq!(pod["serviceAccountName"], account, "{}: {path}", example.name);
            assert_eq!(pod["automountServiceAccountToken"], true, "{}: {path}", example.name);
            let volumes = pod["volumes"].as_array().unwrap();
            assert!(volumes.iter().all(|v| v["hostPath"]["path"] != "C:\\k\\config"));
            let (volume, mount) = config_map_mount(&ds, "/netc/api-server/");
            assert_eq!(volume["configMap"]["name"], "kube-proxy", "{}: {path}", example.name);
            assert_eq!(mount["readOnly"], true);
            let script = container(&ds)["args"][0].as_str().unwrap();
            assert!(
                script.contains("(Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT 'netc\\api-server\\kubeconfig.conf')"),
                "{script}"
            );
            let sa = example.object(path, "ServiceAccount", account);
            assert_eq!(sa["metadata"]["namespace"], "kube-system");
            let binding = example.object(path, "ClusterRoleBinding", account);
            assert_eq!(binding["roleRef"]["name"], role, "{}: {path}", example.name);
            assert_eq!(
                binding["subjects"],
                serde_json::json!([{"kind": "ServiceAccount", "name": account, "namespace": "kube-system"}])
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} Windows DaemonSets checked");
}

/// A cluster kubeadm did not make: with `api-server`, kube-proxy-windows.yaml
/// carries netc's kubeconfig ConfigMap of kubeadm's shape, and every Windows
/// DaemonSet mounts it instead of kubeadm's `kube-proxy`.
#[test]
fn api_server_gives_the_windows_daemon_sets_a_kubeconfig_of_netcs_own() {
    let text = std::fs::read_to_string(repo_root().join("examples/gitops-mixed.netc")).unwrap();
    let text = text.replacen(
        "  kubernetes ",
        "  api-server       https://198.51.100.5:6443\n  kubernetes ",
        1,
    );
    let example = compile("gitops-mixed-api-server", &text);
    let config_map = example.object(KUBE_PROXY_WINDOWS, "ConfigMap", "netc-api-server");
    assert_eq!(config_map["metadata"]["namespace"], "kube-system");
    let kubeconfig = config_map["data"]["kubeconfig.conf"].as_str().unwrap();
    assert!(
        kubeconfig.contains("    server: https://198.51.100.5:6443\n"),
        "{kubeconfig}"
    );
    for (path, name) in [
        (FLANNEL_WINDOWS, "kube-flannel-ds-windows-amd64"),
        (KUBE_PROXY_WINDOWS, "kube-proxy-windows"),
        (AGENT_WINDOWS, "netc-agent-windows"),
    ] {
        let ds = example.object(path, "DaemonSet", name);
        let (volume, _) = config_map_mount(&ds, "/netc/api-server/");
        assert_eq!(volume["configMap"]["name"], "netc-api-server", "{path}");
        let text = example.text(path).unwrap();
        assert!(text.contains("The API server is the topology's `api-server`"), "{path}");
    }
}

#[test]
fn kube_proxy_uses_the_network_name_of_every_windows_cni_config() {
    for example in examples().into_iter().filter(|e| e.text(KUBE_PROXY_WINDOWS).is_some()) {
        let ds = example.object(KUBE_PROXY_WINDOWS, "DaemonSet", "kube-proxy-windows");
        let flags = script_flags(&ds);
        let network: Vec<&str> = flags.iter().filter_map(|f| f.strip_prefix("--network-name=")).collect();
        assert_eq!(network.len(), 1, "{flags:?}");
        for name in example.windows_cni_names() {
            assert_eq!(network[0], name, "{}", example.name);
        }
        if let Some(net_conf) = example.text("net-conf.json") {
            let net_conf: Value = serde_json::from_str(net_conf).unwrap();
            assert_eq!(net_conf["Backend"]["Name"], network[0], "{}", example.name);
        }
        assert!(flags.contains(&"--proxy-mode=kernelspace".to_string()));
        assert!(flags.contains(&"--hostname-override=$(NODE_NAME)".to_string()));
        let pods: Vec<String> = example
            .topology
            .cluster
            .pod_networks
            .iter()
            .map(|p| p.value.to_string())
            .collect();
        assert!(
            flags.contains(&format!("--cluster-cidr={}", pods.join(","))),
            "{flags:?}"
        );
        let env = container(&ds)["env"].as_array().unwrap();
        assert!(env
            .iter()
            .any(|e| e["name"] == "NODE_NAME" && e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"));

        // The source VIP exists only on overlay networks (kube-proxy winkernel proxier.go).
        let overlay = example.topology.cluster.backend.kind.value == BackendKind::Vxlan;
        let script = container(&ds)["args"][0].as_str().unwrap();
        // `$(NODE_NAME)` is the only reference the kubelet expands.
        assert_eq!(script.matches("$(").count(), 1, "{script}");
        assert_eq!(
            script.contains("'--source-vip=' + "),
            overlay,
            "{}: {script}",
            example.name
        );
        assert_eq!(script.contains("'C:\\k\\sourcevip.json'"), overlay, "{}", example.name);
        // 1.30 needs no gate: WinOverlay is on by default from 1.20.
        assert!(!flags.iter().any(|f| f.starts_with("--feature-gates")), "{flags:?}");
        assert!(!flags.iter().any(|f| f.starts_with("--enable-dsr")), "{flags:?}");
    }
}

#[test]
fn dsr_flags_and_gates_follow_the_kubernetes_release() {
    let flags = |minor| script_flags(&vxlan_dsr(minor).object(KUBE_PROXY_WINDOWS, "DaemonSet", "kube-proxy-windows"));
    let alpha = flags(30);
    assert!(alpha.contains(&"--enable-dsr=true".to_string()), "{alpha:?}");
    assert!(alpha.contains(&"--feature-gates=WinDSR=true".to_string()), "{alpha:?}");
    let beta = flags(33);
    assert!(beta.contains(&"--enable-dsr=true".to_string()), "{beta:?}");
    assert!(!beta.iter().any(|f| f.starts_with("--feature-gates")), "{beta:?}");
}
