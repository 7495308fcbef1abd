//! CNI configs: the Linux conflist (`10-flannel.conflist`) and the Windows
//! `cni.conf`, in the shapes of flannel's manifest, Microsoft's SDN scripts
//! (CNI API v1) and the containerd-era samples (API v2).

use serde_json::{json, Value};

use super::facts::{first_host, pod_mtu, segment_prefix, service_network};
use crate::model::{nth_address, BackendKind, Node, NodeSubnets, Os, Topology};

/// The Linux conflist. With flanneld: flannel's own (the flannel meta plugin
/// reads `subnet.env` and delegates to bridge + host-local). Without it
/// (static dataplane, tor backend): bridge + host-local written out with the
/// node's subnets, so nothing but the standard plugins is needed.
pub fn linux_conflist(topology: &Topology, subnets: &NodeSubnets) -> Value {
    if topology.flanneld_runs() {
        return json!({
            "name": "cbr0",
            "cniVersion": "0.3.1",
            "plugins": [
                {"type": "flannel", "delegate": {"hairpinMode": true, "isDefaultGateway": true}},
                {"type": "portmap", "capabilities": {"portMappings": true}},
            ],
        });
    }
    let ranges: Vec<Value> = subnets
        .iter()
        .map(|subnet| json!([{"subnet": subnet.to_string(), "gateway": first_host(subnet).to_string()}]))
        .collect();
    json!({
        "name": "cbr0",
        "cniVersion": "0.4.0",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                "isDefaultGateway": true,
                "hairpinMode": true,
                // The host program masquerades traffic leaving the pod
                // network; the bridge plugin's own rule would also hide pod
                // addresses from pods on other nodes.
                "ipMasq": false,
                "mtu": pod_mtu(topology),
                "ipam": {"type": "host-local", "ranges": ranges},
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    })
}

/// The Windows `cni.conf`. vxlan uses win-overlay, host-gw and tor use
/// win-bridge (l2bridge). With flanneld the flannel plugin wraps the
/// delegate; with tor (no flanneld) win-bridge runs directly with host-local.
///
/// Policies (Microsoft SDN `helper.psm1`, `cni.conf`): OutBoundNAT
/// exceptions for the pod and service networks (l2bridge also the
/// management subnet), and a route to the service
/// network with encapsulation (l2bridge also to the node's own address).
pub fn windows_cni_conf(topology: &Topology, node: &Node, subnets: &NodeSubnets) -> Value {
    let cluster = &topology.cluster;
    let v2 = cluster.windows.cni_api_version.value == 2;
    let overlay = cluster.backend.kind.value == BackendKind::Vxlan;
    let plugin = if overlay { "win-overlay" } else { "win-bridge" };

    let mut exceptions: Vec<String> = Vec::new();
    exceptions.extend(
        cluster
            .pod_networks
            .iter()
            .filter(|p| p.value.addr().is_ipv4())
            .map(|p| p.value.to_string()),
    );
    exceptions.extend(service_network(topology, false).map(|s| s.to_string()));
    let mut encapsulated: Vec<String> = service_network(topology, false)
        .map(|s| s.to_string())
        .into_iter()
        .collect();
    if !overlay {
        exceptions.extend(segment_prefix(topology, node).map(|s| s.to_string()));
        encapsulated.push(format!("{}/32", node.address.value));
    }

    let policy = |value: Value| {
        if v2 {
            json!({"name": "EndpointPolicy", "value": value})
        } else {
            json!({"Name": "EndpointPolicy", "Value": value})
        }
    };
    let mut policies = Vec::new();
    policies.push(policy(if v2 {
        json!({"Type": "OutBoundNAT", "Settings": {"Exceptions": exceptions}})
    } else {
        json!({"Type": "OutBoundNAT", "ExceptionList": exceptions})
    }));
    for prefix in &encapsulated {
        policies.push(policy(if v2 {
            json!({"Type": "SDNRoute", "Settings": {"DestinationPrefix": prefix, "NeedEncap": true}})
        } else {
            json!({"Type": "ROUTE", "DestinationPrefix": prefix, "NeedEncap": true})
        }));
    }
    let nameservers: Vec<String> = cluster.cluster_dns.iter().map(|d| d.value.to_string()).collect();
    let dns = if v2 {
        json!({"nameservers": nameservers, "search": ["svc.cluster.local"]})
    } else {
        json!({"Nameservers": nameservers, "Search": ["svc.cluster.local"]})
    };

    // The delegate carries neither `name` nor `ipam`: flannel sets both (flannel cni-plugin `flannel.go`).
    let mut delegate = json!({"type": plugin, "dns": dns, "policies": policies});
    if v2 {
        delegate["apiVersion"] = json!(2);
    }
    if cluster.windows.dsr.value {
        delegate["loopbackDSR"] = json!(true);
    }
    let name = cluster.windows.network_name.value.clone();
    let cni_version = if v2 { "0.3.0" } else { "0.2.0" };

    if topology.flanneld_runs() {
        let mut conf = json!({"cniVersion": cni_version, "name": name, "type": "flannel", "delegate": delegate});
        if v2 {
            conf["capabilities"] = json!({"portMappings": true, "dns": true});
        }
        return conf;
    }
    // No flanneld: the delegate is the plugin, with the node's subnet.
    let mut conf = delegate;
    conf["cniVersion"] = json!(cni_version);
    conf["name"] = json!(name);
    // `.1` is the network's gateway and `.2` the host endpoint win-bridge
    // routes every pod through, so host-local numbers pods from `.3`.
    if let Some(subnet) = subnets.v4 {
        conf["ipam"] = json!({"type": "host-local", "subnet": subnet.to_string()});
        if let Some(first_pod) = nth_address(subnet, 3) {
            conf["ipam"]["rangeStart"] = json!(first_pod.to_string());
        }
    }
    if v2 {
        conf["capabilities"] = json!({"portMappings": true, "dns": true});
    }
    conf
}

/// The plugin types a CNI config (a conflist, or a single Windows config)
/// calls, in the order it calls them, each once: every plugin's `type` and
/// `ipam.type`, and for the flannel plugin the delegate it builds and runs,
/// whose type is `delegate.type` (by default `bridge` on Linux, `win-bridge`
/// on Windows) with host-local IPAM (on Linux unless the flannel config
/// names another; flannel cni-plugin v1.9.1 `flannel_linux.go`,
/// `flannel_windows.go`). The host programs check that
/// these binaries exist, so they are read from the configs themselves.
pub fn plugin_types(conf: &Value, os: Os) -> Vec<String> {
    let plugins: Vec<&Value> = match conf["plugins"].as_array() {
        Some(list) => list.iter().collect(),
        None => vec![conf],
    };
    let mut types: Vec<String> = Vec::new();
    let mut add = |kind: &str| {
        if !types.iter().any(|t| t == kind) {
            types.push(kind.to_string());
        }
    };
    for plugin in plugins {
        let Some(kind) = plugin["type"].as_str() else {
            continue;
        };
        add(kind);
        if kind == "flannel" {
            let (delegate, ipam) = match os {
                Os::Linux => ("bridge", plugin["ipam"]["type"].as_str().unwrap_or("host-local")),
                Os::Windows => ("win-bridge", "host-local"),
            };
            add(plugin["delegate"]["type"].as_str().unwrap_or(delegate));
            add(ipam);
        } else if let Some(ipam) = plugin["ipam"]["type"].as_str() {
            add(ipam);
        }
    }
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_types_follow_the_chain_and_flannel_s_delegate() {
        let types = |conf: Value, os| plugin_types(&conf, os);
        // flannel's stock conflist: flannel runs bridge + host-local itself.
        let stock = json!({"plugins": [
            {"type": "flannel", "delegate": {"hairpinMode": true}},
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ]});
        assert_eq!(types(stock, Os::Linux), ["flannel", "bridge", "host-local", "portmap"]);
        let named = json!({"plugins": [{"type": "flannel", "delegate": {"type": "ipvlan"}, "ipam": {"type": "dhcp"}}]});
        assert_eq!(types(named, Os::Linux), ["flannel", "ipvlan", "dhcp"]);
        let static_list = json!({"plugins": [
            {"type": "bridge", "ipam": {"type": "host-local"}},
            {"type": "portmap"},
        ]});
        assert_eq!(types(static_list, Os::Linux), ["bridge", "host-local", "portmap"]);
        // A single Windows config; flannel's Windows delegate is always host-local IPAM.
        let overlay = json!({"type": "flannel", "delegate": {"type": "win-overlay"}, "ipam": {"type": "dhcp"}});
        assert_eq!(types(overlay, Os::Windows), ["flannel", "win-overlay", "host-local"]);
        assert_eq!(
            types(json!({"type": "flannel", "delegate": {}}), Os::Windows),
            ["flannel", "win-bridge", "host-local"]
        );
        let tor = json!({"type": "win-bridge", "ipam": {"type": "host-local"}});
        assert_eq!(types(tor, Os::Windows), ["win-bridge", "host-local"]);
    }
}
