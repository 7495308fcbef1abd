//! What a change to a topology does to a running cluster, as disruption
//! classes, most severe first:
//!
//! - `downtime`: the whole cluster's pod network is interrupted. Flannel
//!   cannot change the network address space or the backend without cluster
//!   downtime (Rancher's guide Networking with Flannel); the same holds for
//!   the service network (every Service IP changes) and for the dataplane
//!   (flanneld and netc's agent would both program routes during the
//!   switch).
//! - `connectivity-risk`: some pods lose traffic until something else
//!   happens: a node's pod subnet or address changes (its pods must be
//!   recreated, its peers re-pointed), a node or a ToR route is removed, or
//!   the MTU shrinks (pods started before keep the larger MTU, and their
//!   large packets are dropped until they are recreated), or the agents'
//!   repository or branch changes (their anti-rollback refuses a history
//!   that does not descend from the last applied commit).
//! - `recreate`: devices are deleted and created again on every node: a new
//!   VNI or UDP port recreates the vxlan device (on Windows the HNS network),
//!   and cross-node pod traffic stops while that happens.
//! - `flap`: a device setting changes in place (a larger MTU).
//! - `hitless`: only additions (a new node, a new ToR route).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Setting;
use crate::model::Topology;

/// How disruptive a change is. One vocabulary for a pull request's preview
/// (here, per topology change) and a node's plan (netc-plan's
/// `engine::Disruption`, per host step), so both say the same word for the
/// same consequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Downtime,
    ConnectivityRisk,
    Recreate,
    Flap,
    Hitless,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Downtime => "downtime",
            Class::ConnectivityRisk => "connectivity-risk",
            Class::Recreate => "recreate",
            Class::Flap => "flap",
            Class::Hitless => "hitless",
        }
    }
}

/// One consequence of the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Disruption {
    pub class: Class,
    /// `cluster`, `node NAME` or `tor NAME`.
    pub subject: String,
    /// What changes, old to new.
    pub change: String,
    /// Why that disrupts, and what to do.
    pub why: String,
}

pub(super) fn classify(base: &Topology, head: &Topology) -> Vec<Disruption> {
    let mut found = Vec::new();
    let mut add = |class, subject: &str, change: String, why: &str| {
        found.push(Disruption {
            class,
            subject: subject.to_owned(),
            change,
            why: why.to_owned(),
        })
    };
    let (old, new) = (&base.cluster, &head.cluster);
    let list = |nets: &[crate::diagnostic::Spanned<ipnet::IpNet>]| {
        nets.iter().map(|n| n.value.to_string()).collect::<Vec<_>>().join(", ")
    };
    if list(&old.pod_networks) != list(&new.pod_networks) {
        add(
            Class::Downtime,
            "cluster",
            format!("pod network {} → {}", list(&old.pod_networks), list(&new.pod_networks)),
            "flannel cannot change the network address space without cluster downtime (Rancher's guide Networking with Flannel): every node's pod subnet and every pod address change; drain the cluster, roll out, recreate all pods",
        );
    }
    if list(&old.service_networks) != list(&new.service_networks) {
        add(
            Class::Downtime,
            "cluster",
            format!(
                "service network {} → {}",
                list(&old.service_networks),
                list(&new.service_networks)
            ),
            "every Service's cluster IP changes; the API server, kube-proxy and cluster DNS must all be reconfigured",
        );
    }
    if old.backend.kind.value != new.backend.kind.value {
        add(
            Class::Downtime,
            "cluster",
            format!("backend {} → {}", old.backend.kind.value, new.backend.kind.value),
            "flannel cannot change the backend without cluster downtime (Rancher's guide Networking with Flannel): nodes on the old and the new backend cannot reach each other's pods during the rollout",
        );
    }
    if old.dataplane.value != new.dataplane.value {
        add(
            Class::Downtime,
            "cluster",
            format!("dataplane {} → {}", old.dataplane.value, new.dataplane.value),
            "who programs the pod routes changes; until every node has switched, nodes disagree about the routes",
        );
    }
    if let (Some(a), Some(b)) = (&old.backend.vxlan, &new.backend.vxlan) {
        if (a.vni.value, a.port.value) != (b.vni.value, b.port.value) {
            add(
                // The more severe of the two (classes sort most severe first).
                Setting::VxlanVni.consequence().class.min(Setting::VxlanPort.consequence().class),
                "cluster",
                format!(
                    "vxlan VNI {} port {} → VNI {} port {}",
                    a.vni.value, a.port.value, b.vni.value, b.port.value
                ),
                "every node's vxlan device (on Windows, the HNS network) is deleted and created again; cross-node pod traffic stops while that happens",
            );
        }
    }
    let (mtu_old, mtu_new) = (old.underlay_mtu.value, new.underlay_mtu.value);
    if mtu_new < mtu_old {
        add(
            Class::ConnectivityRisk,
            "cluster",
            format!("underlay MTU {mtu_old} → {mtu_new}"),
            "pods started before keep their larger MTU, and their large packets are dropped; recreate them after the rollout",
        );
    } else if mtu_new > mtu_old {
        add(
            Setting::LinkMtu.consequence().class,
            "cluster",
            format!("underlay MTU {mtu_old} → {mtu_new}"),
            "device MTUs change in place; running pods keep the old, smaller MTU until recreated",
        );
    }
    if let (Some(a), Some(b)) = (&base.agent, &head.agent) {
        if (&a.repo.value, &a.branch.value) != (&b.repo.value, &b.branch.value) {
            add(
                Class::ConnectivityRisk,
                "cluster",
                format!(
                    "agent source {} {} → {} {}",
                    a.repo.value, a.branch.value, b.repo.value, b.branch.value
                ),
                "every agent follows the new branch; its commits must descend from the last applied one or the agents refuse them (anti-rollback): merge the history, or run the agents once with --allow-rollback",
            );
        }
    }
    nodes(base, head, &mut add);
    tors(base, head, &mut add);
    found.sort_by(|a, b| (a.class, &a.subject).cmp(&(b.class, &b.subject)));
    found
}

fn nodes(base: &Topology, head: &Topology, add: &mut impl FnMut(Class, &str, String, &str)) {
    let subnets = |topology: &Topology, index: usize| {
        topology.subnets[index]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, node) in base.nodes.iter().enumerate() {
        let name = &node.name.value;
        let subject = format!("node {name}");
        let Some(j) = head.nodes.iter().position(|n| &n.name.value == name) else {
            add(
                Class::ConnectivityRisk,
                &subject,
                format!("removed (pod subnet {})", subnets(base, i)),
                "its routes, neighbours and FDB entries are pruned on every node; pods still running on it lose the network, so drain it first",
            );
            continue;
        };
        let (old, new) = (subnets(base, i), subnets(head, j));
        if old != new {
            add(
                Class::ConnectivityRisk,
                &subject,
                format!("pod subnet {old} → {new}"),
                "its pods' addresses leave the node's subnet: drain the node and recreate its pods",
            );
        }
        let (old, new) = (node.address.value, head.nodes[j].address.value);
        if old != new {
            add(
                Class::ConnectivityRisk,
                &subject,
                format!("address {old} → {new}"),
                "every other node re-points its routes and FDB entries; traffic to this node's pods fails until all have applied",
            );
        }
    }
    for (j, node) in head.nodes.iter().enumerate() {
        if !base.nodes.iter().any(|n| n.name.value == node.name.value) {
            add(
                Class::Hitless,
                &format!("node {}", node.name.value),
                format!("added (pod subnet {})", subnets(head, j)),
                "new routes, neighbours and FDB entries on every node; nothing that works today changes",
            );
        }
    }
}

fn tors(base: &Topology, head: &Topology, add: &mut impl FnMut(Class, &str, String, &str)) {
    let routes = |topology: &Topology| -> Vec<(String, String)> {
        topology
            .tors
            .iter()
            .flat_map(|tor| {
                tor.routes.iter().map(move |r| {
                    (
                        tor.name.value.clone(),
                        format!("{} via {}", r.prefix.value, r.via.value),
                    )
                })
            })
            .collect()
    };
    let (old, new) = (routes(base), routes(head));
    for (tor, route) in old.iter().filter(|r| !new.contains(r)) {
        add(
            Class::ConnectivityRisk,
            &format!("tor {tor}"),
            format!("route {route} removed"),
            "traffic to that prefix through the ToR stops",
        );
    }
    for (tor, route) in new.iter().filter(|r| !old.contains(r)) {
        add(
            Class::Hitless,
            &format!("tor {tor}"),
            format!("route {route} added"),
            "a new route; nothing that works today changes",
        );
    }
}
