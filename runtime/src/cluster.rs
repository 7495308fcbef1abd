//! The Kubernetes API, through the kube crate: `netc deploy` (server-side
//! apply of the compiled manifests, then pruning what netc applied before
//! and no longer produces) and the agent's report on its Node object.
//!
//! Everything here is async and takes a `kube::Client`, so tests drive it
//! with kube-rs's own mock (`tower-test`) and a real cluster alike; the
//! callers own the runtime.
//!
//! Ownership: every object netc applies carries the label
//! `app.kubernetes.io/managed-by: netc` and is applied with field manager
//! `netc`; pruning lists only objects with that label, of the kinds netc
//! emits, and deletes those the new manifests do not contain (namespaces
//! last, since deleting one deletes everything in it).

use std::collections::BTreeSet;
use std::path::Path;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};

/// The label that marks what netc applied, and the field manager it uses.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "netc");
pub const FIELD_MANAGER: &str = "netc";

/// The Node annotations the agent keeps current.
pub const ANNOTATION_REVISION: &str = "netc.dev/revision";
pub const ANNOTATION_STATE: &str = "netc.dev/state";
pub const ANNOTATION_MESSAGE: &str = "netc.dev/message";

/// The kinds netc emits, in apply order (what others depend on first), with
/// whether they are namespaced. Pruning looks at these only.
const KINDS: &[(&str, &str, &str, bool)] = &[
    ("", "v1", "Namespace", false),
    ("", "v1", "ServiceAccount", true),
    ("", "v1", "ConfigMap", true),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", false),
    ("rbac.authorization.k8s.io", "v1", "Role", true),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", true),
    ("apps", "v1", "DaemonSet", true),
];

/// A client from `kubeconfig`, or inferred (`KUBECONFIG`, `~/.kube/config`,
/// or the in-cluster service account).
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read the kubeconfig `{}`: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("the kubeconfig `{}`: {e}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no Kubernetes configuration (in-cluster or kubeconfig): {e}"))?,
    };
    Client::try_from(config).map_err(|e| format!("cannot create a Kubernetes client: {e}"))
}

/// One object's identity, for reports and pruning.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {namespace}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// What `deploy` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Deployed {
    pub applied: Vec<ObjectRef>,
    pub pruned: Vec<ObjectRef>,
}

fn kind_info(api_version: &str, kind: &str) -> Result<(ApiResource, bool), String> {
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    let namespaced = KINDS
        .iter()
        .find(|(g, v, k, _)| *g == group && *v == version && *k == kind)
        .map(|(_, _, _, namespaced)| *namespaced)
        .ok_or_else(|| format!("netc does not deploy {api_version} {kind}: not a kind netc emits"))?;
    Ok((
        ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind)),
        namespaced,
    ))
}

fn api(client: &Client, resource: &ApiResource, namespaced: bool, namespace: Option<&str>) -> Api<DynamicObject> {
    match (namespaced, namespace) {
        (true, Some(namespace)) => Api::namespaced_with(client.clone(), namespace, resource),
        _ => Api::all_with(client.clone(), resource),
    }
}

/// Server-side apply every object of `documents` (field manager `netc`,
/// conflicts forced: netc owns these fields), labelled as netc's; then, with
/// `prune`, delete netc-labelled objects of netc's kinds that are not among
/// them.
pub async fn deploy(client: &Client, documents: &[Value], prune: bool) -> Result<Deployed, String> {
    let mut deployed = Deployed::default();
    let mut ordered: Vec<&Value> = documents.iter().collect();
    // Apply in dependency order: namespaces first, DaemonSets last.
    ordered.sort_by_key(|doc| {
        KINDS
            .iter()
            .position(|(_, _, kind, _)| doc["kind"] == *kind)
            .unwrap_or(KINDS.len())
    });
    for document in ordered {
        let api_version = document["apiVersion"].as_str().unwrap_or_default();
        let kind = document["kind"].as_str().unwrap_or_default();
        let name = document["metadata"]["name"]
            .as_str()
            .ok_or_else(|| format!("a {kind} without metadata.name"))?
            .to_owned();
        let (resource, namespaced) = kind_info(api_version, kind)?;
        let namespace = namespaced.then(|| {
            document["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned()
        });
        let mut object = document.clone();
        object["metadata"]["labels"][MANAGED_BY.0] = json!(MANAGED_BY.1);
        let target = ObjectRef {
            kind: kind.to_owned(),
            namespace: namespace.clone(),
            name: name.clone(),
        };
        api(client, &resource, namespaced, namespace.as_deref())
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&object),
            )
            .await
            .map_err(|e| format!("applying {target}: {e}"))?;
        deployed.applied.push(target);
    }
    if prune {
        deployed.pruned = prune_absent(client, &deployed.applied).await?;
    }
    Ok(deployed)
}

/// Delete netc-labelled objects of netc's kinds that `keep` does not name;
/// namespaced kinds first, namespaces last.
async fn prune_absent(client: &Client, keep: &[ObjectRef]) -> Result<Vec<ObjectRef>, String> {
    let keep: BTreeSet<&ObjectRef> = keep.iter().collect();
    let selector = ListParams::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1));
    let mut pruned = Vec::new();
    for (group, version, kind, namespaced) in KINDS.iter().rev() {
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let list = api(client, &resource, *namespaced, None)
            .list(&selector)
            .await
            .map_err(|e| format!("listing netc's {kind} objects: {e}"))?;
        for object in list.items {
            let Some(name) = object.metadata.name.clone() else {
                continue;
            };
            let found = ObjectRef {
                kind: (*kind).to_owned(),
                namespace: if *namespaced {
                    object.metadata.namespace.clone()
                } else {
                    None
                },
                name: name.clone(),
            };
            if keep.contains(&found) {
                continue;
            }
            api(client, &resource, *namespaced, found.namespace.as_deref())
                .delete(&name, &DeleteParams::background())
                .await
                .map_err(|e| format!("pruning {found}: {e}"))?;
            pruned.push(found);
        }
    }
    Ok(pruned)
}

/// The agent's report: its revision, state and message as annotations on
/// its Node (a merge patch touches only these three).
pub async fn annotate_node(
    client: &Client,
    node: &str,
    revision: &str,
    state: &str,
    message: &str,
) -> Result<(), String> {
    let patch = json!({"metadata": {"annotations": {
        ANNOTATION_REVISION: revision,
        ANNOTATION_STATE: state,
        ANNOTATION_MESSAGE: message,
    }}});
    Api::<Node>::all(client.clone())
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| format!("annotating node {node}: {e}"))
}

/// The pod CIDRs Kubernetes assigned to `node` (`spec.podCIDRs`, or
/// `spec.podCIDR`), to compare with the compiled pod subnets.
pub async fn node_pod_cidrs(client: &Client, node: &str) -> Result<Vec<String>, String> {
    let found = Api::<Node>::all(client.clone())
        .get(node)
        .await
        .map_err(|e| format!("reading node {node}: {e}"))?;
    let spec = found.spec.unwrap_or_default();
    Ok(match (spec.pod_cidrs, spec.pod_cidr) {
        (Some(cidrs), _) if !cidrs.is_empty() => cidrs,
        (_, Some(cidr)) => vec![cidr],
        _ => Vec::new(),
    })
}

/// A warning when Kubernetes' pod CIDRs for the node differ from the
/// compiled ones (both as sets); `None` when they match or Kubernetes has
/// none (no `--allocate-node-cidrs`).
pub fn pod_cidr_mismatch(node: &str, kubernetes: &[String], compiled: &[String]) -> Option<String> {
    if kubernetes.is_empty() {
        return None;
    }
    let a: BTreeSet<&String> = kubernetes.iter().collect();
    let b: BTreeSet<&String> = compiled.iter().collect();
    (a != b).then(|| {
        format!(
            "node {node}: Kubernetes assigned pod CIDR {} but the topology gives {}; kubelet and the CNI config disagree about pod addresses (pin the node's pod-subnet to Kubernetes' value, or let the controller manager stop allocating)",
            kubernetes.join(", "),
            compiled.join(", ")
        )
    })
}
