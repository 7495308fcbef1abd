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

/// Why a request to the cluster failed. `Display` says what netc was doing.
#[derive(Debug)]
pub enum ClusterError {
    /// No usable configuration or client: the kubeconfig, in-cluster
    /// configuration or TLS setup.
    Config(String),
    /// A manifest netc cannot deploy (a kind it does not emit, no name).
    Manifest(String),
    /// The API server refused or could not be reached: `doing` is what netc
    /// was doing (`applying DaemonSet kube-system/x`).
    Api { doing: String, error: kube::Error },
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::Config(message) | ClusterError::Manifest(message) => f.write_str(message),
            ClusterError::Api { doing, error } => write!(f, "{doing}: {error}"),
        }
    }
}

impl std::error::Error for ClusterError {}

impl From<ClusterError> for String {
    fn from(error: ClusterError) -> String {
        error.to_string()
    }
}

/// `map_err` for an API request: what netc was doing, and kube's error.
fn api_error(doing: impl Into<String>) -> impl FnOnce(kube::Error) -> ClusterError {
    let doing = doing.into();
    move |error| ClusterError::Api { doing, error }
}

/// A client from `kubeconfig`, or inferred (`KUBECONFIG`, `~/.kube/config`,
/// or the in-cluster service account).
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, ClusterError> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| ClusterError::Config(format!("cannot read the kubeconfig `{}`: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| ClusterError::Config(format!("the kubeconfig `{}`: {e}", path.display())))?
        }
        None => kube::Config::infer().await.map_err(|e| {
            ClusterError::Config(format!("no Kubernetes configuration (in-cluster or kubeconfig): {e}"))
        })?,
    };
    Client::try_from(config).map_err(|e| ClusterError::Config(format!("cannot create a Kubernetes client: {e}")))
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

/// What a dry run found for one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The object does not exist yet.
    Create,
    /// The object exists and the apply would change it.
    Change,
    /// The object exists and the apply would leave it as it is.
    Unchanged,
}

/// What `deploy` did (or, in a dry run, would do).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Deployed {
    /// Every object applied, in apply order.
    pub applied: Vec<AppliedObject>,
    pub pruned: Vec<ObjectRef>,
}

/// One applied object, and in a dry run what applying it would do.
#[derive(Debug, PartialEq, Eq)]
pub struct AppliedObject {
    pub object: ObjectRef,
    /// `Some` only in a dry run.
    pub change: Option<Change>,
}

impl Deployed {
    /// The objects applied, in apply order.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectRef> {
        self.applied.iter().map(|a| &a.object)
    }
}

/// Whether a server-side dry run of an apply changes `existing`: the two
/// compared without the fields the server rewrites on every write.
fn would_change(existing: &Value, dry_run: &Value) -> bool {
    let strip = |object: &Value| {
        let mut object = object.clone();
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in ["managedFields", "resourceVersion", "generation"] {
                metadata.remove(field);
            }
        }
        object
    };
    strip(existing) != strip(dry_run)
}

fn kind_info(api_version: &str, kind: &str) -> Result<(ApiResource, bool), ClusterError> {
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    let namespaced = KINDS
        .iter()
        .find(|(g, v, k, _)| *g == group && *v == version && *k == kind)
        .map(|(_, _, _, namespaced)| *namespaced)
        .ok_or_else(|| {
            ClusterError::Manifest(format!(
                "netc does not deploy {api_version} {kind}: not a kind netc emits"
            ))
        })?;
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
/// them. With `dry_run`, the API server runs every apply and deletion as a
/// server-side dry run (admission and validation included, nothing
/// persisted), and each `AppliedObject::change` says what its apply would do.
pub async fn deploy(
    client: &Client,
    documents: &[Value],
    prune: bool,
    dry_run: bool,
) -> Result<Deployed, ClusterError> {
    let mut deployed = Deployed::default();
    let mut ordered: Vec<&Value> = documents.iter().collect();
    // Apply in dependency order: namespaces first, DaemonSets last.
    ordered.sort_by_key(|doc| {
        KINDS
            .iter()
            .position(|(_, _, kind, _)| doc["kind"] == *kind)
            .unwrap_or(KINDS.len())
    });
    // In a dry run, namespaces that would be created do not exist: objects
    // inside them cannot be dry-run applied and would all be created.
    let mut new_namespaces = BTreeSet::new();
    for document in ordered {
        let api_version = document["apiVersion"].as_str().unwrap_or_default();
        let kind = document["kind"].as_str().unwrap_or_default();
        let name = document["metadata"]["name"]
            .as_str()
            .ok_or_else(|| ClusterError::Manifest(format!("a {kind} without metadata.name")))?
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
        let api = api(client, &resource, namespaced, namespace.as_deref());
        if dry_run && namespace.as_ref().is_some_and(|n| new_namespaces.contains(n)) {
            deployed.applied.push(AppliedObject {
                object: target,
                change: Some(Change::Create),
            });
            continue;
        }
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        let existing = if dry_run {
            params = params.dry_run();
            api.get_opt(&name)
                .await
                .map_err(api_error(format!("reading {target}")))?
        } else {
            None
        };
        let result = api
            .patch(&name, &params, &Patch::Apply(&object))
            .await
            .map_err(api_error(format!("applying {target}")))?;
        let change = dry_run.then(|| match existing {
            None => {
                if kind == "Namespace" {
                    new_namespaces.insert(name.clone());
                }
                Change::Create
            }
            Some(existing) => {
                let as_json = |o: &DynamicObject| serde_json::to_value(o).unwrap_or_default();
                if would_change(&as_json(&existing), &as_json(&result)) {
                    Change::Change
                } else {
                    Change::Unchanged
                }
            }
        });
        deployed.applied.push(AppliedObject { object: target, change });
    }
    if prune {
        let applied: Vec<ObjectRef> = deployed.objects().cloned().collect();
        deployed.pruned = prune_absent(client, &applied, dry_run).await?;
    }
    Ok(deployed)
}

/// Delete netc-labelled objects of netc's kinds that `keep` does not name;
/// namespaced kinds first, namespaces last. With `dry_run` the deletions are
/// server-side dry runs.
async fn prune_absent(client: &Client, keep: &[ObjectRef], dry_run: bool) -> Result<Vec<ObjectRef>, ClusterError> {
    let keep: BTreeSet<&ObjectRef> = keep.iter().collect();
    let selector = ListParams::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1));
    let mut pruned = Vec::new();
    for (group, version, kind, namespaced) in KINDS.iter().rev() {
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let list = api(client, &resource, *namespaced, None)
            .list(&selector)
            .await
            .map_err(api_error(format!("listing netc's {kind} objects")))?;
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
            let params = DeleteParams {
                dry_run,
                ..DeleteParams::background()
            };
            api(client, &resource, *namespaced, found.namespace.as_deref())
                .delete(&name, &params)
                .await
                .map_err(api_error(format!("pruning {found}")))?;
            pruned.push(found);
        }
    }
    Ok(pruned)
}

/// The agent's report: its revision, state and message as annotations on
/// its Node (a merge patch touches only these three). Sent to the status
/// subresource, like flanneld's annotations: the agent's ClusterRole may
/// patch `nodes/status` only, which keeps a node's spec (taints,
/// unschedulable) out of its reach; Node status updates keep metadata.
pub async fn annotate_node(
    client: &Client,
    node: &str,
    revision: &str,
    state: &str,
    message: &str,
) -> Result<(), ClusterError> {
    let patch = json!({"metadata": {"annotations": {
        ANNOTATION_REVISION: revision,
        ANNOTATION_STATE: state,
        ANNOTATION_MESSAGE: message,
    }}});
    Api::<Node>::all(client.clone())
        .patch_status(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(api_error(format!("annotating node {node}")))
}

/// The pod CIDRs Kubernetes assigned to `node` (`spec.podCIDRs`, or
/// `spec.podCIDR`), to compare with the compiled pod subnets.
pub async fn node_pod_cidrs(client: &Client, node: &str) -> Result<Vec<String>, ClusterError> {
    let found = Api::<Node>::all(client.clone())
        .get(node)
        .await
        .map_err(api_error(format!("reading node {node}")))?;
    Ok(pod_cidrs_of(found))
}

/// A Node's pod CIDRs: `spec.podCIDRs`, or the older single `spec.podCIDR`.
fn pod_cidrs_of(node: Node) -> Vec<String> {
    let spec = node.spec.unwrap_or_default();
    match (spec.pod_cidrs, spec.pod_cidr) {
        (Some(cidrs), _) if !cidrs.is_empty() => cidrs,
        (_, Some(cidr)) => vec![cidr],
        _ => Vec::new(),
    }
}

/// The pod CIDRs of every registered Node, by name (one list request).
pub async fn registered_pod_cidrs(
    client: &Client,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, ClusterError> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(api_error("listing the cluster's Nodes"))?;
    Ok(nodes
        .items
        .into_iter()
        .filter_map(|node| Some((node.metadata.name.clone()?, pod_cidrs_of(node))))
        .collect())
}

/// Whether two lists of pod CIDRs hold the same prefixes, in any order.
fn same_cidrs(a: &[String], b: &[String]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

/// A warning when Kubernetes' pod CIDRs for the node differ from the
/// compiled ones (both as sets); `None` when they match or Kubernetes has
/// none (no `--allocate-node-cidrs`).
pub fn pod_cidr_mismatch(node: &str, kubernetes: &[String], compiled: &[String]) -> Option<String> {
    if kubernetes.is_empty() {
        return None;
    }
    (!same_cidrs(kubernetes, compiled)).then(|| {
        format!(
            "node {node}: Kubernetes assigned pod CIDR {} but the topology gives {}; kubelet and the CNI config disagree about pod addresses (pin the node's pod-subnet to Kubernetes' value, or let the controller manager stop allocating)",
            kubernetes.join(", "),
            compiled.join(", ")
        )
    })
}

/// What the compiled topology says about one node (from `peers.json`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledNode {
    /// The underlay address netc's peers, routes and Windows programs use.
    pub address: String,
    /// The pod subnets of the lock file.
    pub subnets: Vec<String>,
}

/// What `netc deploy` will do with the registered Nodes, whose pod CIDRs
/// netc's lock file owns: with `--kube-subnet-mgr` flanneld takes a node's
/// subnet from `spec.podCIDRs`, and its public address from kubelet's node
/// IP (`--iface=$(NODE_IP)`), so both must agree with the topology.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PodCidrPlan {
    /// Registered Nodes without pod CIDRs, and the compiled ones they get.
    pub assign: Vec<(String, Vec<String>)>,
    /// Registered Nodes whose pod CIDRs or InternalIP differ from the
    /// compiled ones: one message each, with the fix. Any of these stops the
    /// deploy.
    pub conflicts: Vec<String>,
}

/// Compare every registered Node named in `compiled` with its compiled pod
/// subnets and address (a Node that reports no InternalIP yet is not
/// judged on it). Nodes the topology does not name, and compiled nodes not
/// registered yet, are left alone.
pub async fn plan_pod_cidrs(
    client: &Client,
    compiled: &std::collections::BTreeMap<String, CompiledNode>,
) -> Result<PodCidrPlan, ClusterError> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(api_error("listing the cluster's Nodes"))?;
    let mut plan = PodCidrPlan::default();
    for node in nodes.items {
        let Some(name) = node.metadata.name.clone() else {
            continue;
        };
        let Some(facts) = compiled.get(&name) else {
            continue;
        };
        let internal: Vec<String> = node
            .status
            .iter()
            .flat_map(|s| s.addresses.iter().flatten())
            .filter(|a| a.type_ == "InternalIP")
            .map(|a| a.address.clone())
            .collect();
        if !internal.is_empty() && !internal.contains(&facts.address) {
            plan.conflicts.push(format!(
                "node {name} reports InternalIP {} but the topology gives it address {}: flanneld (`--iface=$(NODE_IP)`) would reach its peers from kubelet's address, while netc's peer table, ToR routes and Windows programs use the topology's\n  = help: set `address {}` in node {name}'s block, or start the node's kubelet with --node-ip={}",
                internal.join(", "),
                facts.address,
                internal[0],
                facts.address
            ));
        }
        let subnets = &facts.subnets;
        let assigned = pod_cidrs_of(node);
        if assigned.is_empty() {
            plan.assign.push((name, subnets.clone()));
        } else if !same_cidrs(&assigned, subnets) {
            plan.conflicts.push(format!(
                "node {name} has pod CIDR {} in the cluster, but the topology's lock file gives it {}: flanneld would use the cluster's, while subnet.env, the Windows source VIP and the ToR routes use netc's\n  = help: a Node's pod CIDR cannot change once set: pin `pod-subnet {}` in node {name}'s block so the topology follows the cluster, or delete the Node and let it register again (netc then assigns {}); and run kube-controller-manager with --allocate-node-cidrs=false, since netc owns the subnets",
                assigned.join(", "),
                subnets.join(", "),
                assigned.join(" "),
                subnets.join(", ")
            ));
        }
    }
    Ok(plan)
}

/// Set `spec.podCIDR` and `spec.podCIDRs` of each Node in `assign` (a merge
/// patch of the spec; the API server allows it once, on a Node that has
/// none).
pub async fn assign_pod_cidrs(
    client: &Client,
    assign: &[(String, Vec<String>)],
    dry_run: bool,
) -> Result<(), ClusterError> {
    let api = Api::<Node>::all(client.clone());
    for (name, subnets) in assign {
        let patch = json!({"spec": {"podCIDR": subnets[0], "podCIDRs": subnets}});
        let params = PatchParams {
            dry_run,
            ..PatchParams::default()
        };
        api.patch(name, &params, &Patch::Merge(&patch))
            .await
            .map_err(api_error(format!("setting the pod CIDRs of node {name}")))?;
    }
    Ok(())
}
