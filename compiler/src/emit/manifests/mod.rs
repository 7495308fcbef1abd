//! `manifests/`: the Kubernetes objects that run the pod network: flannel
//! for Linux (`kube-flannel.yaml`) and Windows (`kube-flannel-windows.yaml`)
//! when flanneld programs the network, and Windows kube-proxy
//! (`kube-proxy-windows.yaml`) whenever there are Windows nodes, and
//! netc's own agent (`netc-agent.yaml`, `netc-agent-windows.yaml`) when
//! the topology has an `agent` block. The Windows DaemonSets run in
//! `kube-system` and reach the API server as `windows_api.rs` says.
//!
//! Every object is a k8s-openapi type (field names checked at compile time)
//! carrying `app.kubernetes.io/managed-by: netc`, and [`yaml`] is the only
//! place that knows the YAML library.

mod agent;
mod flannel;
mod flannel_windows;
mod kube_proxy_windows;
mod objects;
mod windows_api;

pub use agent::{AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT};
pub use flannel_windows::flanneld_flags;
pub use kube_proxy_windows::{feature_gates, flags as kube_proxy_flags};
pub use objects::MANAGED_BY;

pub use super::Artifacts;
use crate::model::Topology;

pub const FLANNEL_NAMESPACE: &str = "kube-flannel";
/// flannel's ServiceAccount, and the name of its ClusterRole (and binding).
pub const FLANNEL_SERVICE_ACCOUNT: &str = "flannel";

/// Where the host program keeps the source-VIP reservation (host-local's
/// CNI 0.3.0 result) that kube-proxy reads on overlay nodes.
pub const SOURCE_VIP_FILE: &str = "C:\\k\\sourcevip.json";

/// The nodes the Windows DaemonSets run on: the images are amd64 only
/// (and Kubernetes runs Windows nodes only on amd64, N0314).
const WINDOWS_NODES: &[(&str, &str)] = &[("kubernetes.io/os", "windows"), ("kubernetes.io/arch", "amd64")];

pub fn emit(topology: &Topology, out: &mut Artifacts) {
    if topology.flanneld_runs() {
        out.text("manifests/kube-flannel.yaml", flannel::manifest(topology));
        if topology.has_windows() {
            out.text(
                "manifests/kube-flannel-windows.yaml",
                flannel_windows::manifest(topology),
            );
        }
    }
    if topology.has_windows() {
        out.text(
            "manifests/kube-proxy-windows.yaml",
            kube_proxy_windows::manifest(topology),
        );
    }
    agent::emit(topology, out);
}
