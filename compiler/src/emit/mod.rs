//! Stage 4: a checked topology becomes files. Every emitter is a pure
//! function of the topology; [`emit`] gathers their output into
//! [`Artifacts`] and adds `index.json`.
//!
//! Invariant: emit runs only on a topology without errors, and what it
//! writes is validated against `schemas/` before it is returned.

mod artifacts;
mod cni;
pub mod facts;
pub mod manifests;
mod netconf;
pub mod program;
mod subnet_env;
pub mod tor;
pub mod validate;

pub use artifacts::{to_json, Artifacts, INDEX};

use crate::model::{Os, Topology};

/// Every artifact of a topology.
pub fn emit(topology: &Topology) -> Artifacts {
    let mut out = Artifacts::default();
    if topology.flanneld_runs() {
        out.json("net-conf.json", &netconf::net_conf(topology));
    }
    for (node, subnets) in topology.nodes.iter().zip(&topology.subnets) {
        let dir = facts::node_dir(node);
        let linux = node.os.value == Os::Linux;
        out.text(
            format!("{dir}/subnet.env"),
            subnet_env::subnet_env(topology, subnets, linux),
        );
        if linux {
            out.json(
                format!("{dir}/10-flannel.conflist"),
                &cni::linux_conflist(topology, subnets),
            );
        } else {
            out.json(
                format!("{dir}/cni.conf"),
                &cni::windows_cni_conf(topology, node, subnets),
            );
        }
    }
    manifests::emit(topology, &mut out);
    program::emit(topology, &mut out);
    for tor in &topology.tors {
        let dir = tor::tor_dir(tor);
        let routes = tor::routes(topology, tor);
        out.text(format!("{dir}/frr.conf"), tor::frr_conf(tor, &routes));
        out.json(format!("{dir}/routes.json"), &tor::routes_json(topology, tor, &routes));
    }
    out.finish()
}
