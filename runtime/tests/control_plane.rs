//! netc's Kubernetes output against a real control plane: etcd,
//! kube-apiserver (TLS, RBAC, ServiceAccount tokens) and
//! kube-controller-manager, built from their Go modules
//! (`tests/consumers/build.sh`) and started on 127.0.0.1 by
//! `common::control_plane`. No mock answers here: the API server validates
//! and admits every object, and the DaemonSet controller decides where the
//! pods go.
//!
//! - `deploy_is_idempotent_and_prunes_only_its_own`: every object created
//!   with field manager `netc`; a second deploy changes no resourceVersion;
//!   a topology without the `agent` block prunes exactly the agent's
//!   objects and leaves unlabelled ones; `--dry-run` reports and writes
//!   nothing.
//! - `daemonsets_place_pods_on_the_right_os`: Nodes registered with the
//!   labels kubelet sets; flannel, kube-proxy and the agent get pods on
//!   exactly the nodes of their OS; the Windows pods mount their own
//!   ServiceAccount's token and kubeadm's `kube-proxy` ConfigMap, and no
//!   kubeconfig of the node.
//! - `the_windows_service_accounts_are_sufficient`: tokens issued for the
//!   Windows DaemonSets' ServiceAccounts do what flanneld, kube-proxy and
//!   the agent do, and kube-proxy's no more.
//! - `the_agent_reports_with_its_own_service_account`: the agent's Node
//!   report and pod-CIDR read, with a token the API server issues for the
//!   generated ServiceAccount, so the generated RBAC is proven sufficient.
//! - Pod subnets: `netc deploy` assigns the lock file's pod CIDRs and
//!   refuses Nodes that disagree (pod CIDRs, InternalIP);
//!   `netc adopt` takes a cluster's allocation into the lock file; and the
//!   real node IPAM controller, allocating in registration order, produces
//!   exactly the disagreement deploy catches and adopt resolves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, ListParams, PostParams};
use netc_runtime::cluster;
use serde_json::json;

mod common;

use common::control_plane::{block_on, client, register_node, ControlPlane};
use common::text;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn netc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_netc")).args(args).output().unwrap()
}

/// `netc deploy DIR --kubeconfig FILE [extra]`, which must succeed; its
/// standard output.
fn deploy(dir: &Path, kubeconfig: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "deploy",
        dir.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ];
    args.extend(extra);
    let output = netc(&args);
    assert!(output.status.success(), "netc {args:?}\n{}", text(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// `netc deploy DIR --kubeconfig FILE`, which must be refused (exit 1);
/// its standard error.
fn deploy_refused(dir: &Path, kubeconfig: &Path) -> String {
    let output = netc(&[
        "deploy",
        dir.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    String::from_utf8(output.stderr).unwrap()
}

/// Every netc-labelled object of the kinds netc deploys, as
/// `Kind namespace/name` → resourceVersion.
async fn labelled(client: &kube::Client) -> BTreeMap<String, String> {
    let selector = ListParams::default().labels("app.kubernetes.io/managed-by=netc");
    let mut found = BTreeMap::new();
    macro_rules! collect {
        ($kind:ty, $name:literal) => {
            for object in Api::<$kind>::all(client.clone()).list(&selector).await.unwrap() {
                let metadata = object.metadata;
                let key = match metadata.namespace {
                    Some(ns) => format!("{} {ns}/{}", $name, metadata.name.unwrap()),
                    None => format!("{} {}", $name, metadata.name.unwrap()),
                };
                found.insert(key, metadata.resource_version.unwrap());
            }
        };
    }
    collect!(k8s_openapi::api::core::v1::Namespace, "Namespace");
    collect!(ServiceAccount, "ServiceAccount");
    collect!(ConfigMap, "ConfigMap");
    collect!(ClusterRole, "ClusterRole");
    collect!(k8s_openapi::api::rbac::v1::ClusterRoleBinding, "ClusterRoleBinding");
    collect!(DaemonSet, "DaemonSet");
    found
}

/// The objects `netc deploy` printed as applied, as `Kind namespace/name`.
fn applied(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("applied "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn deploy_is_idempotent_and_prunes_only_its_own() {
    let Some(plane) = ControlPlane::start() else {
        return;
    };
    let kubeconfig = plane.admin_kubeconfig.clone();
    let with_agent = workspace().join("golden/gitops-mixed");
    let without_agent = workspace().join("golden/vxlan-mixed");

    // A dry run against the empty cluster: everything to create, nothing
    // written.
    let dry = deploy(&with_agent, &kubeconfig, &["--dry-run"]);
    assert!(dry.contains("+ DaemonSet netc-system/netc-agent"), "{dry}");
    assert!(dry.contains("+ Namespace kube-flannel"), "{dry}");
    assert!(
        dry.contains(", 0 to change, 0 unchanged, 0 to prune; nothing was written."),
        "{dry}"
    );
    block_on(async {
        let client = client(&kubeconfig).await;
        assert_eq!(labelled(&client).await, BTreeMap::new(), "a dry run wrote objects");
    });

    let first = deploy(&with_agent, &kubeconfig, &[]);
    let created = applied(&first);
    let versions = block_on(async {
        let client = client(&kubeconfig).await;
        let found = labelled(&client).await;
        assert_eq!(found.keys().cloned().collect::<BTreeSet<_>>(), created, "{first}");
        // Every object is netc's: applied by field manager `netc`.
        for (group, version, kind, plural) in [
            ("apps", "v1", "DaemonSet", "daemonsets"),
            ("", "v1", "ConfigMap", "configmaps"),
        ] {
            let resource = kube::api::ApiResource {
                group: group.into(),
                version: version.into(),
                api_version: if group.is_empty() {
                    version.into()
                } else {
                    format!("{group}/{version}")
                },
                kind: kind.into(),
                plural: plural.into(),
            };
            let list = Api::<kube::api::DynamicObject>::all_with(client.clone(), &resource)
                .list(&ListParams::default().labels("app.kubernetes.io/managed-by=netc"))
                .await
                .unwrap();
            assert!(!list.items.is_empty());
            for object in list.items {
                let managers: Vec<_> = object
                    .metadata
                    .managed_fields
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|f| f.manager)
                    .collect();
                assert!(
                    managers.contains(&"netc".to_owned()),
                    "{kind} {:?}: {managers:?}",
                    object.metadata.name
                );
            }
        }
        found
    });
    assert!(created.contains("DaemonSet kube-flannel/kube-flannel-ds"), "{first}");
    assert!(created.contains("DaemonSet kube-system/netc-agent-windows"), "{first}");

    // The same again: the API server changes nothing.
    deploy(&with_agent, &kubeconfig, &[]);
    let dry = deploy(&with_agent, &kubeconfig, &["--dry-run"]);
    assert!(
        dry.contains(&format!(
            "0 to create, 0 to change, {} unchanged, 0 to prune",
            created.len()
        )),
        "{dry}"
    );
    block_on(async {
        let client = client(&kubeconfig).await;
        assert_eq!(labelled(&client).await, versions, "a second deploy changed objects");
        // Objects netc did not make: one in netc's namespace, one
        // cluster-wide. Pruning must leave both.
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-flannel");
        let foreign: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "operator-notes"}, "data": {"a": "b"}})).unwrap();
        config_maps.create(&PostParams::default(), &foreign).await.unwrap();
        let roles: Api<ClusterRole> = Api::all(client.clone());
        let foreign: ClusterRole = serde_json::from_value(json!({"metadata": {"name": "operator-role"}})).unwrap();
        roles.create(&PostParams::default(), &foreign).await.unwrap();
    });

    // Without the agent block: a dry run names exactly the agent's objects
    // to prune, and the real deploy prunes them and nothing else.
    let agent_objects: BTreeSet<String> = created
        .iter()
        .filter(|o| o.contains("netc-agent") || o.contains("netc-system"))
        .cloned()
        .collect();
    let dry = deploy(&without_agent, &kubeconfig, &["--dry-run"]);
    let would_prune: BTreeSet<String> = dry
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .map(str::to_owned)
        .collect();
    assert_eq!(would_prune, agent_objects, "{dry}");
    let second = deploy(&without_agent, &kubeconfig, &[]);
    let pruned: BTreeSet<String> = second
        .lines()
        .filter_map(|l| l.strip_prefix("pruned  "))
        .map(str::to_owned)
        .collect();
    assert_eq!(pruned, agent_objects, "{second}");
    block_on(async {
        let client = client(&kubeconfig).await;
        let left = labelled(&client).await;
        assert!(left.keys().all(|k| !k.contains("netc-agent")), "{left:?}");
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-flannel");
        assert!(config_maps.get_opt("operator-notes").await.unwrap().is_some());
        let roles: Api<ClusterRole> = Api::all(client.clone());
        assert!(roles.get_opt("operator-role").await.unwrap().is_some());
    });
}

/// The node a DaemonSet pod is bound to: the DaemonSet controller pins it
/// with a `metadata.name` node affinity term.
fn target_node(pod: &Pod) -> String {
    let affinity = serde_json::to_value(&pod.spec.as_ref().unwrap().affinity).unwrap();
    affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"][0]
        ["values"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no node affinity in {affinity}"))
        .to_owned()
}

/// A topology of three Linux and one Windows node with the agent block,
/// compiled into a temporary directory.
fn compile_mixed_cluster(dir: &Path) -> PathBuf {
    let source = std::fs::read_to_string(workspace().join("examples/gitops-mixed.netc")).unwrap();
    let source = source.replace(
        "node win-1 {",
        "node linux-2 {\n  os      linux\n  arch    amd64\n  address 203.0.113.12\n}\n\nnode win-1 {",
    );
    let file = dir.join("cluster.netc");
    std::fs::write(&file, source).unwrap();
    let out = dir.join("out");
    let output = netc(&["compile", file.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    out
}

#[test]
fn daemonsets_place_pods_on_the_right_os() {
    let Some(mut plane) = ControlPlane::start() else {
        return;
    };
    plane.start_controller_manager(&["daemonset", "serviceaccount"], &[]);
    let scratch = tempfile::tempdir().unwrap();
    let out = compile_mixed_cluster(scratch.path());
    let kubeconfig = plane.admin_kubeconfig.clone();
    block_on(async {
        let client = client(&kubeconfig).await;
        for name in ["master", "linux-1", "linux-2"] {
            register_node(&client, name, "linux", None).await;
        }
        register_node(&client, "win-1", "windows", Some("10.0.20348")).await;
    });
    deploy(&out, &kubeconfig, &[]);

    let linux: BTreeSet<String> = ["linux-1", "linux-2", "master"].map(String::from).into();
    let windows: BTreeSet<String> = ["win-1".to_owned()].into();
    let expected: BTreeMap<(&str, &str), &BTreeSet<String>> = [
        (("kube-flannel", "kube-flannel-ds"), &linux),
        (("kube-system", "kube-flannel-ds-windows-amd64"), &windows),
        (("kube-system", "kube-proxy-windows"), &windows),
        (("netc-system", "netc-agent"), &linux),
        (("kube-system", "netc-agent-windows"), &windows),
    ]
    .into();
    let placed = block_on(async {
        let client = client(&kubeconfig).await;
        let start = Instant::now();
        loop {
            let mut placed: BTreeMap<(&str, &str), BTreeSet<String>> = BTreeMap::new();
            for (namespace, daemon_set) in expected.keys() {
                let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
                for pod in pods.list(&ListParams::default()).await.unwrap() {
                    let owner = pod.metadata.owner_references.clone().unwrap_or_default();
                    if owner.iter().any(|o| o.kind == "DaemonSet" && o.name == *daemon_set) {
                        placed
                            .entry((namespace, daemon_set))
                            .or_default()
                            .insert(target_node(&pod));
                    }
                }
            }
            let done = expected.iter().all(|(k, v)| placed.get(k) == Some(*v));
            if done || start.elapsed() > Duration::from_secs(90) {
                break placed;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let expected: BTreeMap<(&str, &str), BTreeSet<String>> =
        expected.into_iter().map(|(k, v)| (k, v.clone())).collect();
    assert_eq!(placed, expected, "{}", plane.logs());

    // The Windows pods, as the API server admitted them: no kubeconfig from
    // the node, their own ServiceAccount's token mounted (the ServiceAccount
    // admission plugin adds the projected token volume), and kubeadm's
    // kube-proxy ConfigMap for the API server's address.
    let windows_pods = [
        ("kube-flannel-ds-windows-amd64", "flannel-windows"),
        ("kube-proxy-windows", "kube-proxy-windows"),
        ("netc-agent-windows", "netc-agent-windows"),
    ];
    block_on(async {
        let client = client(&kubeconfig).await;
        let pods: Api<Pod> = Api::namespaced(client, "kube-system");
        let pods = pods.list(&ListParams::default()).await.unwrap();
        for (daemon_set, account) in windows_pods {
            let pod = pods
                .iter()
                .find(|p| {
                    let owners = p.metadata.owner_references.clone().unwrap_or_default();
                    owners.iter().any(|o| o.kind == "DaemonSet" && o.name == daemon_set)
                })
                .unwrap_or_else(|| panic!("no pod of {daemon_set}"));
            let spec = pod.spec.clone().unwrap();
            assert_eq!(spec.service_account_name.as_deref(), Some(account), "{daemon_set}");
            assert_ne!(spec.automount_service_account_token, Some(false), "{daemon_set}");
            let volumes = spec.volumes.unwrap_or_default();
            let text = serde_json::to_string(&volumes).unwrap();
            assert!(!text.contains("C:\\\\k\\\\config"), "{daemon_set}: {text}");
            assert!(volumes
                .iter()
                .all(|v| v.host_path.as_ref().is_none_or(|h| h.path != "C:\\k\\config")));
            let token = volumes.iter().any(|v| {
                v.projected
                    .as_ref()
                    .is_some_and(|p| p.sources.iter().flatten().any(|s| s.service_account_token.is_some()))
            });
            assert!(token, "{daemon_set}: no ServiceAccount token volume in {text}");
            let mounted = spec.containers[0]
                .volume_mounts
                .iter()
                .flatten()
                .any(|m| m.mount_path == "/var/run/secrets/kubernetes.io/serviceaccount");
            assert!(mounted, "{daemon_set}: the token is not mounted");
            assert!(
                volumes
                    .iter()
                    .any(|v| v.config_map.as_ref().is_some_and(|c| c.name == "kube-proxy")),
                "{daemon_set}: {text}"
            );
        }
    });
}

/// The Windows DaemonSets' own ServiceAccounts can do what their processes
/// do, with tokens the API server issues for them: flanneld reads Nodes
/// and its pod and annotates its Node's status (the ClusterRole `flannel`),
/// kube-proxy watches Services, EndpointSlices and Nodes and records events
/// (`system:node-proxier`, from the API server's bootstrap policy), and the
/// agent annotates its Node (`netc-agent`).
#[test]
fn the_windows_service_accounts_are_sufficient() {
    let Some(plane) = ControlPlane::start() else {
        return;
    };
    let kubeconfig = plane.admin_kubeconfig.clone();
    let out = workspace().join("golden/gitops-mixed");
    block_on(async {
        let client = client(&kubeconfig).await;
        register_node(&client, "win-1", "windows", Some("10.0.20348")).await;
    });
    deploy(&out, &kubeconfig, &[]);
    let as_account = |name: &str| {
        let token = plane.service_account_token("kube-system", name);
        plane.kubeconfig_for(name, &token)
    };
    let annotate = json!({"metadata": {"annotations": {"flannel.alpha.coreos.com/backend-type": "vxlan"}}});
    let flannel = as_account("flannel-windows");
    let proxy = as_account("kube-proxy-windows");
    let agent = as_account("netc-agent-windows");
    block_on(async {
        let flannel = client(&flannel).await;
        let nodes: Api<Node> = Api::all(flannel.clone());
        nodes.list(&ListParams::default()).await.unwrap();
        nodes
            .patch_status(
                "win-1",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&annotate),
            )
            .await
            .unwrap_or_else(|e| panic!("flanneld cannot annotate its Node: {e}"));
        let pods: Api<Pod> = Api::namespaced(flannel, "kube-system");
        let error = pods.get("no-such-pod").await.unwrap_err();
        assert!(matches!(&error, kube::Error::Api(s) if s.code == 404), "{error}");

        let proxy = client(&proxy).await;
        Api::<k8s_openapi::api::core::v1::Service>::all(proxy.clone())
            .list(&ListParams::default())
            .await
            .unwrap_or_else(|e| panic!("kube-proxy cannot list Services: {e}"));
        Api::<k8s_openapi::api::discovery::v1::EndpointSlice>::all(proxy.clone())
            .list(&ListParams::default())
            .await
            .unwrap_or_else(|e| panic!("kube-proxy cannot list EndpointSlices: {e}"));
        Api::<Node>::all(proxy.clone()).get("win-1").await.unwrap();
        let event: k8s_openapi::api::events::v1::Event = serde_json::from_value(json!({
            "metadata": {"name": "kube-proxy-windows-test", "namespace": "default"},
            "eventTime": "2025-01-01T00:00:00.000000Z",
            "reportingController": "kube-proxy",
            "reportingInstance": "kube-proxy-win-1",
            "action": "StartKubeProxy",
            "reason": "Starting",
            "type": "Normal",
        }))
        .unwrap();
        Api::<k8s_openapi::api::events::v1::Event>::namespaced(proxy.clone(), "default")
            .create(&PostParams::default(), &event)
            .await
            .unwrap_or_else(|e| panic!("kube-proxy cannot record events: {e}"));
        // Least privilege: kube-proxy's account writes no Node.
        let error = Api::<Node>::all(proxy)
            .patch_status(
                "win-1",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&annotate),
            )
            .await
            .unwrap_err();
        assert!(matches!(&error, kube::Error::Api(s) if s.code == 403), "{error}");

        let agent = client(&agent).await;
        cluster::annotate_node(&agent, "win-1", "abc123", "in-sync", "applied abc123")
            .await
            .unwrap_or_else(|e| panic!("the Windows agent's RBAC does not allow its report: {e}"));
    });
}

#[test]
fn the_agent_reports_with_its_own_service_account() {
    let Some(plane) = ControlPlane::start() else {
        return;
    };
    let kubeconfig = plane.admin_kubeconfig.clone();
    let out = workspace().join("golden/gitops-mixed");
    block_on(async {
        let client = client(&kubeconfig).await;
        register_node(&client, "linux-1", "linux", None).await;
        register_node(&client, "master", "linux", None).await;
    });
    deploy(&out, &kubeconfig, &[]);

    // A token for the generated ServiceAccount, as the kubelet would mount
    // it into the agent's pod.
    let token = plane.service_account_token("netc-system", "netc-agent");
    let agent_kubeconfig = plane.kubeconfig_for("netc-agent", &token);
    block_on(async {
        let agent = client(&agent_kubeconfig).await;
        cluster::annotate_node(&agent, "linux-1", "abc123", "in-sync", "applied abc123")
            .await
            .unwrap_or_else(|e| panic!("the agent's RBAC does not allow its report: {e}"));
        // The pod-CIDR check reads what `netc deploy` assigned: the lock
        // file's subnet, so the agent finds no mismatch.
        let assigned = cluster::node_pod_cidrs(&agent, "linux-1").await.unwrap();
        assert_eq!(assigned, ["198.18.1.0/24"]);
        assert_eq!(cluster::pod_cidr_mismatch("linux-1", &assigned, &assigned), None);
        let admin = client(&kubeconfig).await;
        let node = Api::<Node>::all(admin).get("linux-1").await.unwrap();
        let annotations = node.metadata.annotations.unwrap();
        assert_eq!(annotations[cluster::ANNOTATION_REVISION], "abc123");
        assert_eq!(annotations[cluster::ANNOTATION_STATE], "in-sync");
        // Least privilege: the agent's token cannot relabel or taint a
        // Node (a patch of the Node itself, not its status)...
        let relabel = json!({"metadata": {"labels": {"compromised": "yes"}}});
        let error = Api::<Node>::all(agent.clone())
            .patch(
                "master",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&relabel),
            )
            .await
            .unwrap_err();
        assert!(matches!(&error, kube::Error::Api(s) if s.code == 403), "{error}");
        // ...nor read flannel's configuration.
        let config_maps: Api<ConfigMap> = Api::namespaced(agent, "kube-flannel");
        let error = config_maps.get("kube-flannel-cfg").await.unwrap_err();
        assert!(matches!(&error, kube::Error::Api(s) if s.code == 403), "{error}");
    });
}

/// Report `address` as the Node's InternalIP, as kubelet does in its
/// status.
async fn set_internal_ip(client: &kube::Client, node: &str, address: &str) {
    let status = json!({"status": {"addresses": [{"type": "InternalIP", "address": address}]}});
    Api::<Node>::all(client.clone())
        .patch_status(
            node,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&status),
        )
        .await
        .unwrap();
}

/// The pod CIDRs of the registered Nodes, by name.
async fn pod_cidrs(client: &kube::Client) -> BTreeMap<String, Vec<String>> {
    let mut found = BTreeMap::new();
    for node in Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
    {
        let spec = node.spec.unwrap_or_default();
        found.insert(node.metadata.name.unwrap(), spec.pod_cidrs.unwrap_or_default());
    }
    found
}

/// netc's lock file owns the pod subnets: `netc deploy` gives registered
/// Nodes without pod CIDRs the compiled ones (flanneld with
/// `--kube-subnet-mgr` reads them from there), and refuses, before writing
/// anything, when a Node already has other ones, or reports another
/// InternalIP than the topology's address (flanneld's `--iface`).
#[test]
fn deploy_assigns_the_compiled_pod_cidrs() {
    let Some(plane) = ControlPlane::start() else {
        return;
    };
    let kubeconfig = plane.admin_kubeconfig.clone();
    let out = workspace().join("golden/gitops-mixed");
    let peers: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("peers.json")).unwrap()).unwrap();
    let compiled = |name: &str| -> Vec<String> {
        let node = peers["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap();
        serde_json::from_value(node["subnets"].clone()).unwrap()
    };
    block_on(async {
        let client = client(&kubeconfig).await;
        register_node(&client, "master", "linux", None).await;
        // kubelet on master picked another address than the topology's
        // 203.0.113.10 (a multi-homed host without --node-ip).
        set_internal_ip(&client, "master", "203.0.113.99").await;
        // linux-1 registered out of order: the controller manager gave it
        // another node's subnet.
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "linux-1", "labels": {"kubernetes.io/os": "linux"}},
            "spec": {"podCIDR": compiled("master")[0], "podCIDRs": compiled("master")},
        }))
        .unwrap();
        Api::<Node>::all(client)
            .create(&PostParams::default(), &node)
            .await
            .unwrap();
    });

    let stderr = deploy_refused(&out, &kubeconfig);
    assert!(
        stderr.contains("node linux-1 has pod CIDR 198.18.0.0/24 in the cluster"),
        "{stderr}"
    );
    assert!(stderr.contains("--allocate-node-cidrs=false"), "{stderr}");
    assert!(
        stderr.contains("node master reports InternalIP 203.0.113.99 but the topology gives it address 203.0.113.10"),
        "{stderr}"
    );
    assert!(stderr.contains("--node-ip=203.0.113.10"), "{stderr}");
    block_on(async {
        let client = client(&kubeconfig).await;
        assert_eq!(
            labelled(&client).await,
            BTreeMap::new(),
            "a refused deploy wrote objects"
        );
        assert_eq!(pod_cidrs(&client).await["master"], Vec::<String>::new());
        // The fix the message gives: the Node registers again.
        Api::<Node>::all(client.clone())
            .delete("linux-1", &Default::default())
            .await
            .unwrap();
        register_node(&client, "linux-1", "linux", None).await;
        // ...and kubelet on master restarted with --node-ip.
        set_internal_ip(&client, "master", "203.0.113.10").await;
    });

    let dry = deploy(&out, &kubeconfig, &["--dry-run"]);
    assert!(
        dry.contains(&format!("+ podCIDRs of Node master: {}", compiled("master")[0])),
        "{dry}"
    );
    block_on(async {
        let client = client(&kubeconfig).await;
        assert_eq!(
            pod_cidrs(&client).await["master"],
            Vec::<String>::new(),
            "a dry run assigned"
        );
    });
    let first = deploy(&out, &kubeconfig, &[]);
    assert!(first.contains("assigned Node linux-1 pod CIDRs"), "{first}");
    block_on(async {
        let client = client(&kubeconfig).await;
        let found = pod_cidrs(&client).await;
        assert_eq!(found["master"], compiled("master"));
        assert_eq!(found["linux-1"], compiled("linux-1"));
    });
    // Agreeing Nodes: nothing to assign, nothing refused.
    let again = deploy(&out, &kubeconfig, &[]);
    assert!(!again.contains("assigned Node"), "{again}");
}

/// Create a Node with pod CIDRs, as kube-controller-manager's node IPAM
/// leaves it.
async fn register_allocated_node(client: &kube::Client, name: &str, cidr: &str) {
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux"}},
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
    }))
    .unwrap();
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await
        .unwrap();
}

/// `netc adopt`: an existing cluster whose controller manager allocated in
/// registration order (linux-1 first) has the other subnets than netc's
/// lock file; adopting writes the cluster's into the lock file, after which
/// compile and deploy agree with the cluster. A pod CIDR the topology
/// cannot hold is refused with nothing written.
#[test]
fn adopt_takes_the_clusters_pod_cidrs_into_the_lock_file() {
    let Some(plane) = ControlPlane::start() else {
        return;
    };
    let kubeconfig = plane.admin_kubeconfig.clone();
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("cluster.netc");
    std::fs::copy(workspace().join("examples/gitops-mixed.netc"), &file).unwrap();
    let lock_file = scratch.path().join("cluster.netc.lock");
    let out = scratch.path().join("out");
    let compile = || netc(&["compile", file.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(compile().status.success());
    // Lock lines as `NAME PREFIX`, whatever the alignment.
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let netc_lock = std::fs::read_to_string(&lock_file).unwrap();
    assert!(
        lines(&netc_lock).contains(&"master 198.18.0.0/24".to_owned()),
        "{netc_lock}"
    );

    block_on(async {
        let client = client(&kubeconfig).await;
        register_allocated_node(&client, "linux-1", "198.18.0.0/24").await;
        register_allocated_node(&client, "master", "198.18.1.0/24").await;
        // Outside the topology's pod network: cannot be adopted.
        register_allocated_node(&client, "win-1", "10.244.9.0/24").await;
    });
    let adopt = || {
        netc(&[
            "adopt",
            file.to_str().unwrap(),
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ])
    };
    let refused = adopt();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("nothing was written"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        std::fs::read_to_string(&lock_file).unwrap(),
        netc_lock,
        "a refused adopt changed the lock file"
    );
    // And the deploy refuses to go ahead while the two disagree.
    deploy_refused(&out, &kubeconfig);

    block_on(async {
        let client = client(&kubeconfig).await;
        Api::<Node>::all(client.clone())
            .delete("win-1", &Default::default())
            .await
            .unwrap();
    });
    let adopted = adopt();
    assert!(adopted.status.success(), "{}", text(&adopted));
    let lock = std::fs::read_to_string(&lock_file).unwrap();
    for line in ["linux-1 198.18.0.0/24", "master 198.18.1.0/24", "win-1 198.18.2.0/24"] {
        assert!(lines(&lock).contains(&line.to_owned()), "{line} not in\n{lock}");
    }
    // Adopting again changes nothing.
    let again = adopt();
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(std::fs::read_to_string(&lock_file).unwrap(), lock);

    // netc now compiles the cluster's subnets, and deploy agrees.
    assert!(compile().status.success());
    let env = std::fs::read_to_string(out.join("nodes/linux-1/subnet.env")).unwrap();
    assert!(env.contains("FLANNEL_SUBNET=198.18.0.1/24"), "{env}");
    let deployed = deploy(&out, &kubeconfig, &[]);
    assert!(!deployed.contains("assigned Node"), "{deployed}");
}

/// The defect this guards against, with the real node IPAM controller:
/// kube-controller-manager (`--allocate-node-cidrs`) hands out subnets in
/// registration order, netc in declaration order. A node that registers
/// out of order gets another subnet than netc's lock file; `netc deploy`
/// refuses, naming it, and `netc adopt` followed by a compile brings netc
/// round to the cluster.
#[test]
fn the_controller_managers_allocation_is_caught_and_adopted() {
    let Some(mut plane) = ControlPlane::start() else {
        return;
    };
    plane.start_controller_manager(
        &["nodeipam"],
        &[
            "--allocate-node-cidrs=true",
            "--cluster-cidr=198.18.0.0/16",
            "--node-cidr-mask-size=24",
            "--service-cluster-ip-range=198.19.0.0/16",
        ],
    );
    let kubeconfig = plane.admin_kubeconfig.clone();
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("cluster.netc");
    std::fs::copy(workspace().join("examples/gitops-mixed.netc"), &file).unwrap();
    let out = scratch.path().join("out");
    let compile = || netc(&["compile", file.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(compile().status.success());

    // linux-1 registers before master (declared first in the topology).
    let allocated = block_on(async {
        let client = client(&kubeconfig).await;
        register_node(&client, "linux-1", "linux", None).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        register_node(&client, "master", "linux", None).await;
        let start = Instant::now();
        loop {
            let found = pod_cidrs(&client).await;
            if found.values().all(|c| !c.is_empty()) || start.elapsed() > Duration::from_secs(60) {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    assert_eq!(allocated["linux-1"], ["198.18.0.0/24"], "{}", plane.logs());
    assert_eq!(allocated["master"], ["198.18.1.0/24"], "{}", plane.logs());

    let stderr = deploy_refused(&out, &kubeconfig);
    assert!(
        stderr.contains("node linux-1 has pod CIDR 198.18.0.0/24 in the cluster"),
        "{stderr}"
    );
    assert!(
        stderr.contains("node master has pod CIDR 198.18.1.0/24 in the cluster"),
        "{stderr}"
    );

    let adopted = netc(&[
        "adopt",
        file.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert!(adopted.status.success(), "{}", text(&adopted));
    assert!(compile().status.success());
    deploy(&out, &kubeconfig, &[]);
    let env = std::fs::read_to_string(out.join("nodes/master/subnet.env")).unwrap();
    assert!(env.contains("FLANNEL_SUBNET=198.18.1.1/24"), "{env}");
}
