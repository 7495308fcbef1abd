//! The end-to-end lab: topologies compiled by the real `netc` binary,
//! applied with `netc apply --netns` to one network namespace per node on a
//! shared underlay bridge, pods attached through Debian's CNI plugins with
//! the conflist netc wrote, and real traffic between pods on different
//! nodes (ICMP with `ping`, TCP between threads that entered the pods'
//! namespaces).
//!
//! Scenarios, one test each:
//! a. static vxlan (`examples/static-vxlan.netc`, 3 nodes): ping and TCP
//!    between pods of every pair of nodes, no NAT between pods.
//! b. static host-gw: the same topology with `backend host-gw`.
//! c. tor: two nodes behind a router namespace running FRR (zebra +
//!    staticd) with the compiled `frr.conf`; pod traffic crosses the router.
//! d. node removal: the vxlan lab recompiled with `count 2` and applied on
//!    node-1 and node-2: node-3's route, neighbour and FDB entry go, nothing
//!    else changes (a foreign route included), pods still reach each other.
//! e. MTU: on the vxlan lab, `ping -M do` of exactly the pod MTU crosses
//!    nodes (one byte more is refused), and a 4 MiB TCP transfer passes.
//! f. GitOps end to end: a `netc agent` in each of four node namespaces
//!    watches one local git repository (interval 1 s); a commit that adds
//!    node-4 reaches every node (routes appear, pods on node-1 reach pods on
//!    node-4), a commit that removes it prunes it; the commit-to-converged
//!    time of every node is printed (`-- --nocapture`), not asserted beyond
//!    a generous bound.
//! g. `dataplane flannel`, for real, with vxlan (VNI 4096, port 4789) and
//!    host-gw: a control plane (etcd, kube-apiserver) on 127.0.0.1, `netc
//!    deploy` of the lab's output (Nodes get the lock file's pod CIDRs), and
//!    in each node namespace the real flanneld (v0.28.9) started with the
//!    deployed DaemonSet's args, the deployed ConfigMap's net-conf and a
//!    flannel ServiceAccount token, on multi-homed nodes (the default route
//!    leaves through another interface and address); its `subnet.env` must
//!    equal netc's byte
//!    for byte, its device carry netc's VNI, port and MTU, its annotations
//!    appear on the Nodes; pods attached through the real flannel CNI plugin
//!    with the compiled `10-flannel.conflist` reach each other (ICMP, TCP,
//!    `ping -M do` at the pod MTU). A forwarder (`lab/flannel.rs`) carries
//!    the node namespaces' API connections to 127.0.0.1 of the root
//!    namespace, which gains no route or address.
//!
//! The parts live in `lab/`: `fixture.rs` (the underlay bridge, node and
//! pod namespaces, `netc apply` per node), `router.rs` (FRR for c),
//! `traffic.rs` (ping and TCP), `agents.rs` (the repository and agents of
//! f) and `flannel.rs` (flanneld and the API forwarder of g).
//!
//! Needs root and the tools (CNI plugins in `$NETC_CNI_PATH` or
//! /usr/lib/cni, `ping`, `iptables-restore`, FRR for c, the real consumers
//! of `tests/consumers/` for g); skipped with a
//! printed reason otherwise, unless `NETC_REQUIRE_ROOT_TESTS=1` (then it
//! fails). Run with `cargo test -p netc --test lab -- --test-threads=2`.
//!
//! Network safety: every namespace is `netc-lab-<tag>-<pid>-<n>-<role>`,
//! unique per test and process, and deleted by a guard, also on panic;
//! links are created directly inside the namespaces, nothing is added to the
//! root namespace; only 198.18.0.0/15 (pods) and 198.51.100.0/24 (underlay)
//! are used, and the fixture refuses a topology outside them; traffic never
//! leaves the lab's namespaces; every command, ping, transfer and daemon is
//! bounded in time. Kernel modules are global: `netc apply` loads
//! `br_netfilter` if it is not loaded already.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
/// The lab's own pieces, in `lab/`.
mod lab {
    pub mod agents;
    pub mod fixture;
    pub mod router;
    pub mod traffic;
}

use common::{flannel, is_root, skip};
use fixture::{compile, ip_json, must, text, Lab};
use lab::{agents, fixture, router, traffic};
use traffic::{ping, tcp_transfer};

const STATIC_VXLAN: &str = include_str!("../../examples/static-vxlan.netc");
const STATIC_VXLAN_LOCK: &str = include_str!("../../examples/static-vxlan.netc.lock");

/// The size of the transfers that prove connectivity (MTU scenario aside).
const SMALL_TRANSFER: usize = 256 * 1024;

/// Whether `program` is an executable on `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Root and every tool a scenario needs, or a printed reason to skip
/// (`skip` fails instead under `NETC_REQUIRE_ROOT_TESTS=1`); the CNI
/// plugin directory.
fn prerequisites(with_router: bool) -> Option<PathBuf> {
    if !is_root() && skip("the lab needs root (network namespaces)") {
        return None;
    }
    let cni = std::env::var_os("NETC_CNI_PATH").map_or_else(|| PathBuf::from("/usr/lib/cni"), PathBuf::from);
    let mut missing: Vec<String> = ["bridge", "host-local", "portmap"]
        .iter()
        .map(|plugin| cni.join(plugin))
        .filter(|path| !path.is_file())
        .map(|path| path.display().to_string())
        .collect();
    for program in [
        "ip",
        "ping",
        "timeout",
        "kill",
        "iptables",
        "iptables-restore",
        "bridge",
    ] {
        if !on_path(program) {
            missing.push(program.to_string());
        }
    }
    if with_router {
        for daemon in [router::ZEBRA, router::STATICD] {
            if !std::path::Path::new(daemon).is_file() {
                missing.push(daemon.to_string());
            }
        }
        if !matches!(nix::unistd::User::from_name("frr"), Ok(Some(_))) {
            missing.push("the `frr` user (Debian's frr package)".to_string());
        }
    }
    if !missing.is_empty()
        && skip(&format!(
            "missing {} (set NETC_CNI_PATH; `.ci/run` installs them)",
            missing.join(", ")
        ))
    {
        return None;
    }
    Some(cni)
}

/// The pod MTU of node `index`'s conflist (its bridge plugin's `mtu`).
fn conflist_mtu(lab: &Lab, index: usize) -> u64 {
    let conflist = lab.conflist(index);
    conflist["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "bridge")
        .and_then(|p| p["mtu"].as_u64())
        .unwrap_or_else(|| panic!("no bridge mtu in {conflist}"))
}

/// `/proc/sys/KEY` as seen inside the namespace `ns`.
fn sysctl(ns: &str, key: &str) -> String {
    must(&[
        "ip",
        "netns",
        "exec",
        ns,
        "cat",
        &format!("/proc/sys/{}", key.replace('.', "/")),
    ])
    .trim()
    .to_string()
}

/// Between every ordered pair of the given nodes, the first pod of one pings
/// the second pod of the other (no loss), and for each unordered pair a TCP
/// transfer of `bytes` goes through intact; the receiver must see the
/// sender's own pod address (pod-to-pod traffic is not masqueraded).
fn assert_pods_reach_each_other(lab: &Lab, nodes: &[usize], bytes: usize) {
    for &from in nodes {
        for &to in nodes {
            if from == to {
                continue;
            }
            let (source, target) = (&lab.nodes[from].pods[0], &lab.nodes[to].pods[1]);
            let route = format!(
                "{} pod {} -> {} pod {}",
                lab.nodes[from].name, source.address, lab.nodes[to].name, target.address
            );
            let pinged = ping(&source.ns, target.address, 3, &[]);
            let stdout = String::from_utf8_lossy(&pinged.stdout);
            assert!(
                pinged.status.success() && stdout.contains(" 0% packet loss"),
                "ping {route}: {}",
                text(&pinged)
            );
            if from < to {
                let received = tcp_transfer(&target.ns, target.address, &source.ns, bytes)
                    .unwrap_or_else(|e| panic!("TCP {route}: {e}"));
                assert_eq!(
                    received.peer.ip(),
                    std::net::IpAddr::V4(source.address),
                    "TCP {route}: the receiver saw another source address (NAT between pods?)"
                );
            }
        }
    }
}

/// Every pod's `eth0` has the MTU its node's conflist asks for.
fn assert_pod_mtus(lab: &Lab, expected: u64) {
    for (index, node) in lab.nodes.iter().enumerate() {
        assert_eq!(conflist_mtu(lab, index), expected, "{}'s conflist mtu", node.name);
        for pod in &node.pods {
            assert_eq!(pod.mtu, expected, "MTU of {}'s eth0", pod.ns);
        }
    }
}

/// The node's `flannel.4096` is the device the topology describes: VNI
/// 4096, UDP port 4789, the pod MTU of a 1500-byte underlay (1450), and the
/// node's underlay address as its local end.
fn assert_vxlan_device(node: &fixture::Node) {
    let link = &ip_json(&["-d", "-n", &node.ns, "link", "show", "dev", "flannel.4096"])[0];
    let info = &link["linkinfo"]["info_data"];
    assert_eq!(link["mtu"], 1450, "{}: {link}", node.name);
    assert_eq!(info["id"], 4096, "{}: {link}", node.name);
    assert_eq!(info["port"], 4789, "{}: {link}", node.name);
    assert_eq!(info["local"], node.address.to_string(), "{}: {link}", node.name);
}

/// The vxlan lab of scenarios a, d and e: static-vxlan with its committed
/// lock file, applied on all three nodes, two pods per node.
fn vxlan_lab(tag: &str, cni: &std::path::Path) -> Lab {
    let mut lab = Lab::new(tag, cni, STATIC_VXLAN, Some(STATIC_VXLAN_LOCK));
    assert_eq!(lab.nodes.len(), 3, "static-vxlan has three nodes");
    lab.apply_all();
    for node in &lab.nodes {
        assert_vxlan_device(node);
        assert_eq!(sysctl(&node.ns, "net.ipv4.ip_forward"), "1", "{}", node.name);
    }
    lab.add_pods(2);
    assert_pod_mtus(&lab, 1450);
    // Attaching pods must not look like drift to netc.
    for index in 0..lab.nodes.len() {
        lab.assert_plan_empty(index, &lab.out);
    }
    lab
}

#[test]
fn static_vxlan_pods_reach_each_other_across_nodes() {
    let Some(cni) = prerequisites(false) else {
        return;
    };
    let lab = vxlan_lab("vx", &cni);
    assert_pods_reach_each_other(&lab, &[0, 1, 2], SMALL_TRANSFER);

    // The nodes' FORWARD policy is DROP: without netc's forward chain hooked
    // in, node-1 forwards no pod traffic. netc sees the drift and repairs it.
    let node = &lab.nodes[0];
    must(&[
        "ip",
        "netns",
        "exec",
        &node.ns,
        "iptables",
        "-w",
        "-D",
        "FORWARD",
        "-m",
        "comment",
        "--comment",
        "netc forward",
        "-j",
        "NETC-FWD",
    ]);
    let (source, target) = (&node.pods[0], &lab.nodes[1].pods[1]);
    let dropped = ping(&source.ns, target.address, 1, &["-W", "1"]);
    assert!(
        !dropped.status.success(),
        "pod traffic forwarded without NETC-FWD: {}",
        text(&dropped)
    );
    let plan = lab.netc_on("plan", 0, &lab.out);
    let planned = String::from_utf8_lossy(&plan.stdout);
    assert!(
        planned.contains("forward chain NETC-FWD") && planned.contains("not hooked into FORWARD"),
        "{planned}"
    );
    lab.apply(0, &lab.out);
    lab.assert_plan_empty(0, &lab.out);
    assert_pods_reach_each_other(&lab, &[0, 1], SMALL_TRANSFER);
}

#[test]
fn static_host_gw_pods_reach_each_other_across_nodes() {
    let Some(cni) = prerequisites(false) else {
        return;
    };
    let vxlan_block = "  backend vxlan {\n    vni  4096\n    port 4789\n  }\n";
    assert!(STATIC_VXLAN.contains(vxlan_block), "static-vxlan.netc changed shape");
    let text = STATIC_VXLAN.replace(vxlan_block, "  backend host-gw\n");
    let mut lab = Lab::new("hg", &cni, &text, Some(STATIC_VXLAN_LOCK));
    assert_eq!(lab.nodes.len(), 3);
    lab.apply_all();
    for node in &lab.nodes {
        assert!(
            ip_json(&["-n", &node.ns, "link", "show", "type", "vxlan"]) == serde_json::json!([]),
            "{}: host-gw makes no vxlan device",
            node.name
        );
        // A route to every other node's pod subnet via that node's underlay
        // address, with netc's protocol (211).
        let routes = ip_json(&["-n", &node.ns, "route", "show", "proto", "211"]);
        for peer in lab.nodes.iter().filter(|p| p.name != node.name) {
            assert!(
                routes
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["dst"] == peer.subnet.to_string() && r["gateway"] == peer.address.to_string()),
                "{}: no route to {} via {}: {routes}",
                node.name,
                peer.subnet,
                peer.address
            );
        }
        assert_eq!(sysctl(&node.ns, "net.ipv4.ip_forward"), "1", "{}", node.name);
    }
    lab.add_pods(2);
    // No encapsulation: the pods get the whole underlay MTU.
    assert_pod_mtus(&lab, 1500);
    assert_pods_reach_each_other(&lab, &[0, 1, 2], SMALL_TRANSFER);
}

/// `examples/tor-routed.netc`'s shape, Linux only, in the test ranges.
const TOR: &str = "\
cluster lab {
  pod-network      198.18.0.0/16
  service-network  198.19.0.0/16
  cluster-dns      198.19.0.10
  node-subnet-len  24
  kubernetes       1.30
  backend tor
}

segment rack {
  prefix  198.51.100.0/24
  gateway 198.51.100.1
}

node node-1 {
  os      linux
  arch    amd64
  address 198.51.100.11
}

node node-2 {
  os      linux
  arch    amd64
  address 198.51.100.12
}

tor tor-a {
  segment rack
  routes  auto
}
";

#[test]
fn tor_pods_reach_each_other_through_the_router() {
    let Some(cni) = prerequisites(true) else {
        return;
    };
    let mut lab = Lab::new("tor", &cni, TOR, None);
    assert_eq!(lab.nodes.len(), 2);
    let gateway = "198.51.100.1";

    // The router: a namespace of its own on the underlay bridge, owning the
    // segment's gateway address, forwarding, with FRR's static routes.
    let router_ns = lab.add_namespace("router");
    must(&[
        "ip",
        "link",
        "add",
        "rack0",
        "netns",
        &router_ns,
        "type",
        "veth",
        "peer",
        "name",
        "router",
        "netns",
        &lab.underlay,
    ]);
    must(&["ip", "-n", &lab.underlay, "link", "set", "router", "master", "br0"]);
    must(&["ip", "-n", &lab.underlay, "link", "set", "router", "up"]);
    must(&[
        "ip",
        "-n",
        &router_ns,
        "addr",
        "add",
        &format!("{gateway}/24"),
        "dev",
        "rack0",
    ]);
    must(&["ip", "-n", &router_ns, "link", "set", "rack0", "up"]);
    must(&[
        "ip",
        "netns",
        "exec",
        &router_ns,
        "sysctl",
        "-q",
        "-w",
        "net.ipv4.ip_forward=1",
    ]);
    assert_eq!(sysctl(&router_ns, "net.ipv4.ip_forward"), "1");

    let tor_dir = lab.out.join("tor/tor-a");
    let routes: Value = serde_json::from_str(&std::fs::read_to_string(tor_dir.join("routes.json")).unwrap()).unwrap();
    let expected: Vec<(String, String)> = routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["prefix"].as_str().unwrap().to_string(),
                r["via"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The compiled routes are the nodes' pod subnets via their addresses.
    let mut from_nodes: Vec<(String, String)> = lab
        .nodes
        .iter()
        .map(|n| (n.subnet.to_string(), n.address.to_string()))
        .collect();
    from_nodes.sort();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(sorted, from_nodes, "routes.json");
    let router = router::Router::start(&router_ns, &tor_dir.join("frr.conf"));
    router.wait_for_routes(&router_ns, &expected);

    lab.apply_all();
    for node in &lab.nodes {
        assert_eq!(sysctl(&node.ns, "net.ipv4.ip_forward"), "1", "{}", node.name);
        // In tor mode netc owns cni0 and the pod gateway address on it.
        let cni0 = &ip_json(&["-n", &node.ns, "addr", "show", "dev", "cni0"])[0];
        let pod_gateway = Ipv4Addr::from(u32::from(node.subnet.network()) + 1).to_string();
        let gateway_on_bridge = cni0["addr_info"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["local"] == pod_gateway.as_str());
        assert!(gateway_on_bridge, "{}: cni0 {cni0}", node.name);
        // The node's default route via the rack gateway is the node's own
        // underlay configuration (DHCP or the installer sets it), not part
        // of netc's tor program; the lab adds it the way a node's network
        // setup would, unless the program already made one.
        if ip_json(&["-n", &node.ns, "route", "show", "default"]) == serde_json::json!([]) {
            must(&["ip", "-n", &node.ns, "route", "add", "default", "via", gateway]);
        }
    }
    lab.add_pods(2);
    assert_pod_mtus(&lab, 1500);
    for index in 0..lab.nodes.len() {
        lab.assert_plan_empty(index, &lab.out);
    }

    // Without the router's routes no node knows another's pod subnet: the
    // way to node-2's pods from node-1 is the default route to the router.
    let to_node_2 = ip_json(&[
        "-n",
        &lab.nodes[0].ns,
        "route",
        "get",
        &lab.nodes[1].pods[1].address.to_string(),
    ]);
    assert_eq!(to_node_2[0]["gateway"], gateway, "{to_node_2}");
    assert_pods_reach_each_other(&lab, &[0, 1], SMALL_TRANSFER);

    // And the packets did cross the router: it forwarded them.
    let forwarded = must(&["ip", "netns", "exec", &router_ns, "cat", "/proc/net/snmp"]);
    let forwarded: u64 = {
        let mut ip_lines = forwarded.lines().filter(|l| l.starts_with("Ip:"));
        let (names, values) = (ip_lines.next().unwrap(), ip_lines.next().unwrap());
        let column = names.split_whitespace().position(|n| n == "ForwDatagrams").unwrap();
        values.split_whitespace().nth(column).unwrap().parse().unwrap()
    };
    assert!(forwarded >= 12, "the router forwarded only {forwarded} datagrams");
    drop(router);
}

/// What a node's vxlan dataplane looks like: the main routing table, the
/// vxlan device's neighbours and FDB entries (each a sorted set of `ip -j` /
/// `bridge -j` objects), and the device's ifindex (a recreate changes it).
#[derive(Debug, PartialEq)]
struct Dataplane {
    routes: Vec<String>,
    neighbours: Vec<String>,
    fdb: Vec<String>,
    ifindex: Value,
}

fn sorted(value: Value) -> Vec<String> {
    let mut items: Vec<String> = value.as_array().unwrap().iter().map(Value::to_string).collect();
    items.sort();
    items
}

fn dataplane(ns: &str) -> Dataplane {
    let fdb = must(&[
        "ip",
        "netns",
        "exec",
        ns,
        "bridge",
        "-j",
        "fdb",
        "show",
        "dev",
        "flannel.4096",
    ]);
    Dataplane {
        routes: sorted(ip_json(&["-n", ns, "route", "show", "table", "main"])),
        neighbours: sorted(ip_json(&["-n", ns, "neigh", "show", "dev", "flannel.4096"])),
        fdb: sorted(serde_json::from_str(&fdb).unwrap()),
        ifindex: ip_json(&["-n", ns, "link", "show", "dev", "flannel.4096"])[0]["ifindex"].clone(),
    }
}

#[test]
fn removing_a_node_prunes_only_its_entries() {
    let Some(cni) = prerequisites(false) else {
        return;
    };
    let lab = vxlan_lab("rm", &cni);
    let node_3 = &lab.nodes[2];
    let vtep_3 = node_3.subnet.network().to_string();
    let mac_3 = node_3.mac.clone().expect("vxlan peers have a MAC");

    // A route netc does not own, in the pod network, with another protocol.
    let foreign = "198.18.250.0/24";
    for node in &lab.nodes[..2] {
        must(&[
            "ip",
            "-n",
            &node.ns,
            "route",
            "add",
            foreign,
            "via",
            "198.51.100.13",
            "proto",
            "static",
        ]);
    }
    // Node-3's pods are reachable before the removal.
    let node_3_pod = node_3.pods[1].address;
    assert!(ping(&lab.nodes[0].pods[0].ns, node_3_pod, 1, &[]).status.success());
    let before: Vec<Dataplane> = lab.nodes[..2].iter().map(|n| dataplane(&n.ns)).collect();

    let two_nodes = STATIC_VXLAN.replace("nodes node count 3 {", "nodes node count 2 {");
    assert_ne!(two_nodes, STATIC_VXLAN, "static-vxlan.netc changed shape");
    let out = compile(lab.dir.path(), "two-nodes", &two_nodes, Some(STATIC_VXLAN_LOCK));
    for index in 0..2 {
        let applied = lab.apply(index, &out);
        assert!(
            applied.contains("0 created, 0 updated, 0 recreated, 3 deleted"),
            "{}: {applied}",
            lab.nodes[index].name
        );
        lab.assert_plan_empty(index, &out);
    }

    for (node, before) in lab.nodes[..2].iter().zip(before) {
        let after = dataplane(&node.ns);
        let keep = |items: &[String], gone: &dyn Fn(&Value) -> bool| -> Vec<String> {
            let kept: Vec<String> = items
                .iter()
                .filter(|item| !gone(&serde_json::from_str(item).unwrap()))
                .cloned()
                .collect();
            assert_eq!(
                kept.len() + 1,
                items.len(),
                "{}: exactly one entry of node-3 in {items:?}",
                node.name
            );
            kept
        };
        let expected = Dataplane {
            routes: keep(&before.routes, &|r| r["dst"] == node_3.subnet.to_string()),
            neighbours: keep(&before.neighbours, &|n| n["dst"] == vtep_3.as_str()),
            fdb: keep(&before.fdb, &|f| f["mac"] == mac_3.as_str()),
            ifindex: before.ifindex.clone(),
        };
        assert_eq!(after, expected, "{}: only node-3's entries are gone", node.name);
        assert!(
            after.routes.iter().any(|r| r.contains(foreign)),
            "{}: the foreign route {foreign} survives: {:?}",
            node.name,
            after.routes
        );
    }

    assert_pods_reach_each_other(&lab, &[0, 1], SMALL_TRANSFER);
    // Node-1 no longer has a way to node-3's pods.
    let unreachable = ping(&lab.nodes[0].pods[0].ns, node_3_pod, 1, &[]);
    assert!(!unreachable.status.success(), "{}", text(&unreachable));
}

#[test]
fn vxlan_carries_pod_mtu_packets_and_large_transfers() {
    let Some(cni) = prerequisites(false) else {
        return;
    };
    let lab = vxlan_lab("mtu", &cni);
    let mtu = conflist_mtu(&lab, 0);
    assert_eq!(mtu, 1450, "vxlan over a 1500 underlay leaves 1450 for pods");
    // The largest ICMP payload that fits the pod MTU unfragmented: IP (20)
    // and ICMP (8) headers.
    let largest = (mtu - 28).to_string();
    let too_large = (mtu - 27).to_string();
    for (from, to) in [(0, 1), (1, 2), (2, 0)] {
        let (source, target) = (&lab.nodes[from].pods[0], &lab.nodes[to].pods[1]);
        let fits = ping(&source.ns, target.address, 2, &["-M", "do", "-s", &largest]);
        assert!(
            fits.status.success() && String::from_utf8_lossy(&fits.stdout).contains(" 0% packet loss"),
            "{} -> {}: {largest} bytes with DF: {}",
            source.address,
            target.address,
            text(&fits)
        );
        // The control: one byte more does not fit the pod MTU.
        let refused = ping(&source.ns, target.address, 1, &["-M", "do", "-s", &too_large]);
        assert!(!refused.status.success(), "{}", text(&refused));
    }
    for (from, to) in [(0, 2), (1, 0)] {
        let (source, target) = (&lab.nodes[from].pods[0], &lab.nodes[to].pods[1]);
        let received = tcp_transfer(&target.ns, target.address, &source.ns, 4 * 1024 * 1024)
            .unwrap_or_else(|e| panic!("4 MiB {} -> {}: {e}", source.address, target.address));
        assert_eq!(received.length, 4 * 1024 * 1024);
    }
}

#[test]
fn agents_carry_commits_to_every_node() {
    let Some(cni) = prerequisites(false) else {
        return;
    };
    let four = STATIC_VXLAN.replace("count 3", "count 4");
    let mut lab = Lab::new("ag", &cni, &four, Some(STATIC_VXLAN_LOCK));
    for index in 0..lab.nodes.len() {
        lab.install_cni_plugins(index);
    }
    let repo = agents::Repo::new(lab.dir.path());
    let first = repo.commit(STATIC_VXLAN, STATIC_VXLAN_LOCK, "three nodes");
    let _agents = agents::Agents::start(&lab, &repo, "1s");
    let three = [0, 1, 2];
    let limit = Duration::from_secs(30);
    agents::converge(&three, Instant::now(), limit, "first commit", |i| {
        agents::last_applied(&lab.nodes[i].state).as_deref() == Some(first.as_str())
    });
    for index in three {
        lab.add_pod(index);
        lab.add_pod(index);
    }

    // A commit that adds node-4.
    let node4 = lab.nodes[3].subnet.to_string();
    let committed = Instant::now();
    let second = repo.commit(&four, STATIC_VXLAN_LOCK, "node-4 joins");
    let mut took = agents::converge(&three, committed, limit, "node-4 added", |i| {
        agents::has_route(&lab.nodes[i].ns, &node4)
    });
    took.extend(agents::converge(&[3], committed, limit, "node-4's own program", |i| {
        agents::last_applied(&lab.nodes[i].state).as_deref() == Some(second.as_str())
    }));
    eprintln!("commit to converged, node added (node-1..node-4): {took:?}");
    lab.add_pod(3);
    lab.add_pod(3);
    assert_pods_reach_each_other(&lab, &[0, 3], SMALL_TRANSFER);

    // A commit that removes it again.
    let committed = Instant::now();
    repo.commit(STATIC_VXLAN, STATIC_VXLAN_LOCK, "node-4 leaves");
    let took = agents::converge(&three, committed, limit, "node-4 removed", |i| {
        !agents::has_route(&lab.nodes[i].ns, &node4)
    });
    eprintln!("commit to converged, node removed (node-1..node-3): {took:?}");
    for index in three {
        let ns = &lab.nodes[index].ns;
        let neighbours = must(&["ip", "-n", ns, "neigh", "show", "dev", "flannel.4096"]);
        assert!(
            !neighbours.contains(&lab.nodes[3].subnet.network().to_string()),
            "{neighbours}"
        );
        if let Some(mac) = &lab.nodes[3].mac {
            let fdb = must(&["bridge", "-n", ns, "fdb", "show", "dev", "flannel.4096"]);
            assert!(!fdb.contains(mac.as_str()), "{fdb}");
        }
    }
    assert_pods_reach_each_other(&lab, &[0, 1, 2], SMALL_TRANSFER);
}

/// Scenario g: `dataplane flannel`, for real. A control plane (etcd,
/// kube-apiserver) on 127.0.0.1; `netc deploy` of the lab's output, which
/// gives the registered Nodes the lock file's pod CIDRs; then in every node
/// namespace the real flanneld, started with the deployed DaemonSet's
/// arguments, the deployed ConfigMap's net-conf read back from the API and
/// a token of the flannel ServiceAccount. flanneld must write netc's
/// `subnet.env` byte for byte, make the device netc describes and annotate
/// its Node; pods attached through the real flannel CNI plugin with the
/// compiled conflist must reach each other across nodes.
fn flannel_lab(tag: &str, backend: &str) {
    let Some(cni) = prerequisites(false) else {
        return;
    };
    let Some(tools) = common::control_plane::real_consumers(&["flanneld", "flannel"]) else {
        return;
    };
    let Some(plane) = common::control_plane::ControlPlane::start() else {
        return;
    };
    let mut topology = STATIC_VXLAN.replace("dataplane        static", "dataplane        flannel");
    if backend == "host-gw" {
        topology = topology.replace(
            "  backend vxlan {\n    vni  4096\n    port 4789\n  }\n",
            "  backend host-gw\n",
        );
    }
    // Each node names its underlay interface: netc apply checks that it
    // carries the node's address, the interface flanneld will advertise.
    topology = topology.replace(
        "  address-start 198.51.100.11\n",
        "  address-start 198.51.100.11\n  interface     under0\n",
    );
    assert!(topology.contains("interface     under0"));
    assert!(topology.contains("dataplane        flannel") && topology.contains(&format!("backend {backend}")));
    let mut lab = Lab::new(tag, &cni, &topology, Some(STATIC_VXLAN_LOCK));
    let kubeconfig = plane.admin_kubeconfig.clone();

    // Register the Nodes as kubelet would, then deploy.
    let (args, env, net_conf) = common::control_plane::block_on(async {
        use k8s_openapi::api::core::v1::ConfigMap;
        use kube::api::Api;
        let client = common::control_plane::client(&kubeconfig).await;
        for node in &lab.nodes {
            common::control_plane::register_node(&client, &node.name, "linux", None).await;
        }
        let deployed = fixture::netc(&[
            "deploy",
            lab.out.to_str().unwrap(),
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ]);
        assert!(deployed.status.success(), "netc deploy: {}", text(&deployed));
        let ds: k8s_openapi::api::apps::v1::DaemonSet = Api::namespaced(client.clone(), "kube-flannel")
            .get("kube-flannel-ds")
            .await
            .unwrap();
        let container = &ds.spec.unwrap().template.spec.unwrap().containers[0];
        let args = container.args.clone().unwrap_or_default();
        let env = serde_json::to_value(container.env.clone().unwrap_or_default()).unwrap();
        let config: ConfigMap = Api::namespaced(client.clone(), "kube-flannel")
            .get("kube-flannel-cfg")
            .await
            .unwrap();
        let net_conf = config.data.unwrap()["net-conf.json"].clone();
        (args, env, net_conf)
    });
    let token = plane.service_account_token("kube-flannel", "flannel");
    assert!(args.iter().any(|a| a == "--kube-subnet-mgr"), "{args:?}");

    lab.apply_all();
    let mut forwarders = Vec::new();
    let mut daemons = Vec::new();
    for node in &lab.nodes {
        // A multi-homed node: the default route leaves through a second
        // interface (a veth pair inside the namespace) with another
        // address. flanneld must still use the underlay address netc
        // compiled for this node.
        must(&[
            "ip", "link", "add", "mgmt0", "netns", &node.ns, "type", "veth", "peer", "name", "mgmt1", "netns", &node.ns,
        ]);
        let other = format!("198.51.100.{}/32", 200 + u32::from(node.address.octets()[3]) % 50);
        must(&["ip", "-n", &node.ns, "addr", "add", &other, "dev", "mgmt0"]);
        for dev in ["mgmt0", "mgmt1"] {
            must(&["ip", "-n", &node.ns, "link", "set", dev, "up"]);
        }
        must(&["ip", "-n", &node.ns, "route", "add", "default", "dev", "mgmt0"]);
        // The container's environment as kubelet fills it in, and its
        // arguments with `$(VAR)` expanded as kubelet expands them.
        let mut container_env = Vec::new();
        for var in env.as_array().unwrap() {
            let value = match var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.name") => format!("kube-flannel-ds-{}", node.name),
                Some("metadata.namespace") => "kube-flannel".to_owned(),
                Some("status.hostIP") => node.address.to_string(),
                Some("spec.nodeName") => node.name.clone(),
                Some(other) => panic!("a field the lab does not fill in: {other}"),
                None => var["value"].as_str().unwrap_or_default().to_owned(),
            };
            container_env.push((var["name"].as_str().unwrap().to_owned(), value));
        }
        let expanded: Vec<String> = args
            .iter()
            .map(|arg| {
                container_env.iter().fold(arg.clone(), |arg, (name, value)| {
                    arg.replace(&format!("$({name})"), value)
                })
            })
            .collect();
        let forwarder = flannel::Forwarder::new(&node.ns, plane.port());
        let dir = node.root.join("run/flannel");
        std::fs::create_dir_all(&dir).unwrap();
        let node_kubeconfig = dir.join("kubeconfig");
        let server = format!("https://127.0.0.1:{}", forwarder.port);
        common::control_plane::write_kubeconfig(&node_kubeconfig, &server, &token);
        let conf_path = dir.join("net-conf.json");
        std::fs::write(&conf_path, &net_conf).unwrap();
        daemons.push(flannel::Flanneld::start(
            &tools[0],
            &node.ns,
            &node.name,
            &dir,
            &flannel::Container {
                args: expanded,
                env: container_env,
            },
            &node_kubeconfig,
            &conf_path,
        ));
        forwarders.push(forwarder);
    }

    for (node, daemon) in lab.nodes.iter().zip(daemons.iter_mut()) {
        let written = daemon.wait_subnet_file(Duration::from_secs(60));
        let compiled = std::fs::read_to_string(lab.out.join("nodes").join(&node.name).join("subnet.env")).unwrap();
        assert_eq!(
            written, compiled,
            "{}: flanneld's subnet.env differs from netc's",
            node.name
        );
        if backend == "vxlan" {
            assert_vxlan_device(node);
        }
    }
    common::control_plane::block_on(async {
        use k8s_openapi::api::core::v1::Node;
        let client = common::control_plane::client(&kubeconfig).await;
        for node in &lab.nodes {
            let object = kube::api::Api::<Node>::all(client.clone())
                .get(&node.name)
                .await
                .unwrap();
            let annotations = object.metadata.annotations.unwrap_or_default();
            assert_eq!(
                annotations
                    .get("flannel.alpha.coreos.com/backend-type")
                    .map(String::as_str),
                Some(backend),
                "{}: {annotations:?}",
                node.name
            );
            assert_eq!(
                annotations.get("flannel.alpha.coreos.com/public-ip"),
                Some(&node.address.to_string()),
                "{}: {annotations:?}",
                node.name
            );
        }
    });

    lab.add_pods(2);
    let mtu = if backend == "vxlan" { 1450 } else { 1500 };
    for node in &lab.nodes {
        for pod in &node.pods {
            assert_eq!(pod.mtu, mtu, "MTU of {}'s eth0", pod.ns);
        }
    }
    // flanneld learns the other nodes from their annotations: wait until
    // every node has a route to every other node's pod subnet.
    let start = Instant::now();
    for node in &lab.nodes {
        for peer in lab.nodes.iter().filter(|p| p.name != node.name) {
            while ip_json(&["-n", &node.ns, "route", "show", &peer.subnet.to_string()])
                .as_array()
                .is_none_or(|r| r.is_empty())
            {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "{}: no route to {} from flanneld",
                    node.name,
                    peer.subnet
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    assert_pods_reach_each_other(&lab, &[0, 1, 2], SMALL_TRANSFER);
    let largest = (mtu - 28).to_string();
    let (source, target) = (&lab.nodes[0].pods[0], &lab.nodes[2].pods[1]);
    let fits = ping(&source.ns, target.address, 2, &["-M", "do", "-s", &largest]);
    assert!(fits.status.success(), "pod MTU {mtu} with DF: {}", text(&fits));
    let refused = ping(
        &source.ns,
        target.address,
        1,
        &["-M", "do", "-s", &(mtu - 27).to_string()],
    );
    assert!(!refused.status.success(), "{}", text(&refused));
    drop(daemons);
    drop(forwarders);
}

#[test]
fn flannel_vxlan_with_real_flanneld() {
    flannel_lab("fv", "vxlan");
}

#[test]
fn flannel_host_gw_with_real_flanneld() {
    flannel_lab("fh", "host-gw");
}
