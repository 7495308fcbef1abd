//! `net-conf.json`, flannel's network config (the ConfigMap key of the same
//! name). `Backend.Type` is always written: without `Backend` flanneld picks
//! udp, and with `Backend` but no `Type` it fails (flannel v0.28.9
//! `pkg/subnet/config.go`).

use serde_json::{json, Map, Value};

use super::facts::pod_network;
use crate::model::{BackendKind, Topology};

pub fn net_conf(topology: &Topology) -> Value {
    let cluster = &topology.cluster;
    let kind = cluster.backend.kind.value;
    let mut backend = Map::new();
    backend.insert("Type".into(), json!(kind.to_string()));
    if let Some(vxlan) = &cluster.backend.vxlan {
        backend.insert("VNI".into(), json!(vxlan.vni.value));
        backend.insert("Port".into(), json!(vxlan.port.value));
        // flannel's `MTU` is the underlay MTU; it subtracts the overhead.
        backend.insert("MTU".into(), json!(cluster.underlay_mtu.value));
        if vxlan.gbp.value {
            backend.insert("GBP".into(), json!(true));
        }
        if vxlan.direct_routing.value {
            backend.insert("DirectRouting".into(), json!(true));
        }
        if vxlan.mac_prefix.written {
            backend.insert("MacPrefix".into(), json!(vxlan.mac_prefix.value));
        }
    }
    if let Some(ipsec) = &cluster.backend.ipsec {
        // flannel reads the key from here (the kube-flannel-cfg ConfigMap):
        // whoever can read the ConfigMap or the topology has the key.
        if let Some(psk) = &ipsec.psk {
            backend.insert("PSK".into(), json!(psk.value));
        }
        if ipsec.udp_encap.value {
            backend.insert("UDPEncap".into(), json!(true));
        }
        if ipsec.esp_proposal.written {
            backend.insert("ESPProposal".into(), json!(ipsec.esp_proposal.value));
        }
    }
    if kind == BackendKind::Wireguard {
        backend.insert("MTU".into(), json!(cluster.underlay_mtu.value));
    }
    // Windows flanneld names its HNS network after `Name`; Linux ignores it.
    if topology.has_windows() && matches!(kind, BackendKind::Vxlan | BackendKind::HostGw) {
        backend.insert("Name".into(), json!(cluster.windows.network_name.value));
    }

    let mut conf = Map::new();
    match pod_network(topology, false) {
        Some(v4) => {
            conf.insert("Network".into(), json!(v4.to_string()));
        }
        None => {
            conf.insert("EnableIPv4".into(), json!(false));
        }
    }
    if let Some(v6) = pod_network(topology, true) {
        conf.insert("EnableIPv6".into(), json!(true));
        conf.insert("IPv6Network".into(), json!(v6.to_string()));
    }
    conf.insert("EnableNFTables".into(), json!(false));
    conf.insert("Backend".into(), Value::Object(backend));
    Value::Object(conf)
}
