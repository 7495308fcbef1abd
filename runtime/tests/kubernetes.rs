//! The Kubernetes side (`netc_runtime::cluster`, `netc deploy`, the agent's
//! Node report), tested the way kube-rs tests its own client: a
//! `kube::Client` over a `tower-test` mock service, with the test playing
//! the API server and checking every request (method, path, query, content
//! type, body).
//!
//! Against the mock: `cluster::deploy` (server-side apply as field manager
//! `netc`, pruning only stale netc objects); a kind netc does not emit,
//! refused before any request; the Node report as a merge patch of three
//! annotations; the agent's annotation after a round; and (as root, after a
//! real apply of node-1 into a namespace) the agent's comparison of the
//! Node's pod CIDR with the compiled subnet, recorded in its status.
//!
//! `against_a_real_cluster` runs `netc deploy` against the cluster of
//! `$KUBECONFIG` when it is set, else against a real etcd and kube-apiserver
//! started on 127.0.0.1 (`common::control_plane`): apply, read back, prune,
//! clean up. `tests/control_plane.rs` has the rest of the real-server tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use http::{Method, Request, Response};
use kube::client::Body;
use netc_runtime::cluster::{self, ObjectRef};
use serde_json::{json, Value};
use tower_test::mock;

mod common;

type Handle = mock::Handle<Request<Body>, Response<Body>>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn mock_client() -> (kube::Client, Handle) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), handle)
}

fn respond(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

/// One request the mock received: method, path, query, content type, body.
struct Seen {
    method: Method,
    path: String,
    query: String,
    content_type: String,
    body: Value,
}

async fn next(handle: &mut Handle) -> (Seen, mock::SendResponse<Response<Body>>) {
    next_if_any(handle).await.expect("a request")
}

/// The next request, or `None` once every client is gone.
async fn next_if_any(handle: &mut Handle) -> Option<(Seen, mock::SendResponse<Response<Body>>)> {
    let (request, send) = handle.next_request().await?;
    let (parts, body) = request.into_parts();
    let bytes = body.collect_bytes().await.unwrap();
    let seen = Seen {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        content_type: parts
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    Some((seen, send))
}

fn manifests(example: &str) -> Vec<Value> {
    let dir = workspace().join("golden").join(example).join("manifests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            netc_compiler::yaml::read_documents(&std::fs::read_to_string(f).unwrap())
                .ok()
                .unwrap()
        })
        .collect()
}

fn object_ref(document: &Value) -> ObjectRef {
    let kind = document["kind"].as_str().unwrap().to_owned();
    let cluster_scoped = ["Namespace", "ClusterRole", "ClusterRoleBinding"].contains(&kind.as_str());
    ObjectRef {
        namespace: (!cluster_scoped).then(|| {
            document["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned()
        }),
        name: document["metadata"]["name"].as_str().unwrap().to_owned(),
        kind,
    }
}

#[tokio::test]
async fn deploy_applies_server_side_as_netc_and_prunes_only_stale_netc_objects() {
    let documents = manifests("vxlan-mixed");
    assert!(
        documents.len() >= 5,
        "the example has flannel, RBAC and Windows DaemonSets"
    );
    let expected: BTreeSet<ObjectRef> = documents.iter().map(object_ref).collect();
    let (client, mut handle) = mock_client();

    let server = tokio::spawn(async move {
        let mut applied = Vec::new();
        let mut deleted = Vec::new();
        let mut lists = 0;
        loop {
            let Some((request, send)) = handle.next_request().await else {
                break;
            };
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let path = parts.uri.path().to_owned();
            let query = parts.uri.query().unwrap_or_default().to_owned();
            match parts.method {
                Method::PATCH => {
                    assert!(
                        query.contains("fieldManager=netc") && query.contains("force=true"),
                        "{query}"
                    );
                    let content_type = parts.headers["content-type"].to_str().unwrap();
                    assert_eq!(content_type, "application/apply-patch+yaml");
                    let object: Value = serde_json::from_slice(&bytes).unwrap();
                    assert_eq!(
                        object["metadata"]["labels"]["app.kubernetes.io/managed-by"], "netc",
                        "{path}"
                    );
                    applied.push(path);
                    send.send_response(respond(200, &object));
                }
                Method::GET => {
                    assert!(
                        query.contains("labelSelector=app.kubernetes.io%2Fmanaged-by%3Dnetc"),
                        "{query}"
                    );
                    lists += 1;
                    // The API server returns what carries netc's label: for
                    // DaemonSets, one the manifests still have and one they
                    // no longer have.
                    let items = if path == "/apis/apps/v1/daemonsets" {
                        vec![
                            json!({"metadata": {"name": "kube-flannel-ds", "namespace": "kube-flannel"}}),
                            json!({"metadata": {"name": "old-agent", "namespace": "kube-flannel"}}),
                        ]
                    } else {
                        Vec::new()
                    };
                    send.send_response(respond(
                        200,
                        &json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}),
                    ));
                }
                Method::DELETE => {
                    deleted.push(path);
                    send.send_response(respond(
                        200,
                        &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
                    ));
                }
                other => panic!("unexpected {other} {path}"),
            }
        }
        (applied, deleted, lists)
    });

    let deployed = cluster::deploy(&client, &documents, true, false).await.unwrap();
    drop(client);
    let (applied, deleted, lists) = server.await.unwrap();

    let applied_refs: BTreeSet<ObjectRef> = deployed.objects().cloned().collect();
    assert_eq!(applied_refs, expected, "every manifest object, once");
    assert_eq!(applied.len(), documents.len());
    assert!(
        applied[0].starts_with("/api/v1/namespaces/kube-flannel") || applied[0] == "/api/v1/namespaces/kube-flannel",
        "the namespace first: {applied:?}"
    );
    assert!(
        applied.last().unwrap().starts_with("/apis/apps/v1/"),
        "DaemonSets last: {applied:?}"
    );
    assert_eq!(lists, 8, "one list per kind netc emits");
    assert_eq!(deleted, ["/apis/apps/v1/namespaces/kube-flannel/daemonsets/old-agent"]);
    assert_eq!(
        deployed.pruned,
        [ObjectRef {
            kind: "DaemonSet".into(),
            namespace: Some("kube-flannel".into()),
            name: "old-agent".into()
        }]
    );
}

#[tokio::test]
async fn a_kind_netc_does_not_emit_is_refused_before_any_request() {
    let (client, _handle) = mock_client();
    let foreign = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "default"}});
    let error = cluster::deploy(&client, &[foreign], true, false).await.unwrap_err();
    assert!(matches!(error, cluster::ClusterError::Manifest(_)), "{error}");
    assert!(error.to_string().contains("netc does not deploy v1 Secret"), "{error}");
}

#[tokio::test]
async fn the_node_report_is_a_merge_patch_of_three_annotations() {
    let (client, mut handle) = mock_client();
    let server = tokio::spawn(async move {
        let (seen, send) = next(&mut handle).await;
        send.send_response(respond(200, &json!({"metadata": {"name": "node-1"}})));
        let (get, send) = next(&mut handle).await;
        send.send_response(respond(
            200,
            &json!({"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.7.0/24", "podCIDRs": ["10.244.7.0/24"]}}),
        ));
        (seen, get)
    });
    cluster::annotate_node(&client, "node-1", "abc123", "applied", "2 created")
        .await
        .unwrap();
    let cidrs = cluster::node_pod_cidrs(&client, "node-1").await.unwrap();
    let (seen, get) = server.await.unwrap();
    assert_eq!(seen.method, Method::PATCH);
    assert_eq!(seen.path, "/api/v1/nodes/node-1/status");
    assert_eq!(seen.content_type, "application/merge-patch+json");
    assert_eq!(
        seen.body,
        json!({"metadata": {"annotations": {
            "netc.dev/revision": "abc123", "netc.dev/state": "applied", "netc.dev/message": "2 created"
        }}})
    );
    assert!(
        seen.query.is_empty() || !seen.query.contains("fieldManager=netc"),
        "a plain merge patch"
    );
    assert_eq!((get.method, get.path.as_str()), (Method::GET, "/api/v1/nodes/node-1"));
    assert_eq!(cidrs, ["10.244.7.0/24"]);
    let warning = cluster::pod_cidr_mismatch("node-1", &cidrs, &["198.18.0.0/24".to_owned()]).unwrap();
    assert!(
        warning.contains("10.244.7.0/24") && warning.contains("198.18.0.0/24"),
        "{warning}"
    );
    assert_eq!(cluster::pod_cidr_mismatch("node-1", &cidrs, &cidrs.clone()), None);
    assert_eq!(
        cluster::pod_cidr_mismatch("node-1", &[], &cidrs),
        None,
        "no allocation: nothing to compare"
    );
}

/// `rounds` agent rounds against a `file://` repository holding
/// static-vxlan, as node `node`, with kube-rs's mock as the API server
/// answering the requests in order with `answers` (then `{}`); the rounds,
/// every request the agent sent, and the status.
fn agent_rounds(
    node: &str,
    netns: Option<String>,
    rounds: usize,
    answers: Vec<Value>,
) -> (
    Vec<netc_runtime::agent::Round>,
    Vec<Seen>,
    netc_runtime::agent::status::Status,
) {
    let temp = tempfile::tempdir().unwrap();
    let repo = temp.path().join("repo");
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@netc.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@netc.invalid")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    };
    std::fs::create_dir_all(&repo).unwrap();
    git(&["init", "-q", "-b", "main"]);
    for file in ["static-vxlan.netc", "static-vxlan.netc.lock"] {
        let target = file.replace("static-vxlan", "cluster");
        std::fs::copy(workspace().join("examples").join(file), repo.join(target)).unwrap();
    }
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "three nodes"]);
    let root = temp.path().join("root");
    let bin = root.join("opt/cni/bin");
    std::fs::create_dir_all(&bin).unwrap();
    for plugin in ["bridge", "host-local", "portmap"] {
        std::fs::write(bin.join(plugin), "#!/bin/sh\n").unwrap();
    }

    // kube's client spawns its request buffer on the runtime it is made in:
    // a multi-thread one keeps it running while the agent blocks on its own.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (client, mut handle) = {
        let _inside = runtime.enter();
        mock_client()
    };
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let mut seen = Vec::new();
            while let Some((request, send)) = next_if_any(&mut handle).await {
                let answer = answers.get(seen.len()).cloned().unwrap_or_else(|| json!({}));
                send.send_response(respond(200, &answer));
                seen.push(request);
            }
            seen
        })
    });
    let state_dir = temp.path().join("state");
    let config = netc_runtime::agent::Config {
        repo: format!("file://{}", repo.display()),
        branch: "main".into(),
        path: "cluster.netc".into(),
        target: netc_node::transaction::Target {
            node: node.into(),
            netns,
            root,
            state_dir: state_dir.clone(),
        },
        interval: std::time::Duration::from_secs(1),
        allow_disruption: false,
        allow_rollback: false,
        keys: Default::default(),
        ssh: None,
        listen: None,
        kubernetes: netc_runtime::agent::Kubernetes::Off,
    };
    let mut agent = netc_runtime::agent::Agent::new(config)
        .unwrap()
        .with_client(client)
        .unwrap();
    let done: Vec<_> = (0..rounds).map(|_| agent.round()).collect();
    // No client left: the mock stops waiting for requests.
    drop(agent);
    drop(runtime);
    let seen = server.join().unwrap();
    let status = netc_runtime::agent::status::Status::read(&state_dir).unwrap();
    (done, seen, status)
}

/// The agent reports each round on its Node: a commit that does not name
/// this node is invalid, and the annotation says so (no root needed: an
/// invalid commit never reaches the host).
#[test]
fn the_agent_annotates_its_node_after_a_round() {
    let (rounds, seen, _) = agent_rounds("node-9", None, 1, vec![json!({"metadata": {"name": "node-9"}})]);
    assert_eq!(seen.len(), 1, "one round, one patch");
    assert_eq!(
        rounds[0],
        netc_runtime::agent::Round::NotApplied(netc_runtime::agent::status::Result::Invalid)
    );
    assert_eq!(
        (&seen[0].method, seen[0].path.as_str()),
        (&Method::PATCH, "/api/v1/nodes/node-9/status")
    );
    let annotations = &seen[0].body["metadata"]["annotations"];
    assert_eq!(annotations["netc.dev/state"], "invalid");
    assert_eq!(annotations["netc.dev/revision"], "", "nothing applied yet");
    assert!(
        annotations["netc.dev/message"]
            .as_str()
            .unwrap()
            .contains("no node `node-9`"),
        "{annotations}"
    );
}

/// After a real apply (node-1 into a namespace, as root) the agent
/// annotates the node as applied, reads its pod CIDR, and records the
/// mismatch with the compiled subnet (198.18.0.0/24) in its status. The
/// next round (nothing new) says in-sync; the one after changes nothing
/// and sends nothing.
#[test]
fn after_an_apply_the_agent_compares_the_nodes_pod_cidr() {
    if !common::is_root() && common::skip("not root (the apply needs a network namespace)") {
        return;
    }
    let ns = common::NodeNamespace::new("kube");
    let (rounds, seen, status) = agent_rounds(
        "node-1",
        Some(ns.0.clone()),
        3,
        vec![
            json!({"metadata": {"name": "node-1"}}),
            json!({"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.7.0/24"}}),
        ],
    );
    use netc_runtime::agent::Round;
    assert_eq!(rounds, [Round::Applied, Round::Unchanged, Round::Unchanged]);
    assert_eq!(seen[0].method, Method::PATCH);
    assert_eq!(seen[0].body["metadata"]["annotations"]["netc.dev/state"], "applied");
    let revision = seen[0].body["metadata"]["annotations"]["netc.dev/revision"]
        .as_str()
        .unwrap();
    assert_eq!(revision.len(), 40, "the applied commit: {revision}");
    assert_eq!(
        (&seen[1].method, seen[1].path.as_str()),
        (&Method::GET, "/api/v1/nodes/node-1")
    );
    let warning = status.pod_cidr_warning.expect("a pod CIDR warning");
    assert!(
        warning.contains("10.244.7.0/24") && warning.contains("198.18.0.0/24"),
        "{warning}"
    );
    assert_eq!(ns.routes(), ["198.18.1.0/24", "198.18.2.0/24"]);
    assert_eq!(seen.len(), 3, "the third round patches nothing");
    assert_eq!(seen[2].method, Method::PATCH);
    assert_eq!(seen[2].body["metadata"]["annotations"]["netc.dev/state"], "in-sync");
}

/// `netc deploy` against a real cluster, when `$KUBECONFIG` names one:
/// deploy vxlan-mixed's manifests, check the DaemonSet carries netc's label
/// and field manager, deploy a directory without manifests (everything
/// pruned), check it is gone.
#[test]
fn against_a_real_cluster() {
    // `$KUBECONFIG`'s cluster when it is set, else a real control plane of
    // our own (etcd and kube-apiserver on 127.0.0.1).
    let plane;
    let kubeconfig = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(kubeconfig) => kubeconfig,
        None => {
            plane = match common::control_plane::ControlPlane::start() {
                Some(plane) => plane,
                None => return,
            };
            plane.admin_kubeconfig.clone().into_os_string()
        }
    };
    let netc = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_netc"))
            .args(args)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .output()
            .unwrap()
    };
    let out = workspace().join("golden/vxlan-mixed");
    let deployed = netc(&["deploy", out.to_str().unwrap()]);
    assert!(
        deployed.status.success(),
        "{}",
        String::from_utf8_lossy(&deployed.stderr)
    );
    assert!(String::from_utf8_lossy(&deployed.stdout).contains("applied DaemonSet kube-flannel/kube-flannel-ds"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = cluster::client(Some(Path::new(&kubeconfig))).await.unwrap();
        let api: kube::Api<k8s_openapi::api::apps::v1::DaemonSet> = kube::Api::namespaced(client, "kube-flannel");
        let ds = api.get("kube-flannel-ds").await.unwrap();
        assert_eq!(ds.metadata.labels.unwrap()["app.kubernetes.io/managed-by"], "netc");
        assert!(ds
            .metadata
            .managed_fields
            .unwrap_or_default()
            .iter()
            .any(|f| f.manager.as_deref() == Some("netc")));
    });

    // Nothing left to deploy: everything netc applied is pruned.
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(
        empty.path().join("index.json"),
        "{\"generator\": \"netc\", \"files\": []}\n",
    )
    .unwrap();
    let pruned = netc(&["deploy", empty.path().to_str().unwrap()]);
    assert!(pruned.status.success(), "{}", String::from_utf8_lossy(&pruned.stderr));
    assert!(String::from_utf8_lossy(&pruned.stdout).contains("pruned  DaemonSet kube-flannel/kube-flannel-ds"));
}
