//! The Linux conflists netc writes for the static dataplane and for the tor
//! backend (bridge + host-local + portmap), executed for real by Debian's
//! containernetworking-plugins the way a container runtime runs a chain:
//! ADD gives a pod in a test namespace an address in its node's pod subnet,
//! a default route via the gateway on `cni0`, and the gateway answers a
//! ping; DEL (in reverse order) removes the veth and the host-local lease.
//! The `ipam` section of a Windows tor node's `cni.conf`, given to Debian's
//! host-local (the same Go code as `host-local.exe`), hands pods `.3`,
//! `.4`, ...: never the HNS gateway `.1` nor the host endpoint `.2`.
//!
//! Needs root (network namespaces). Everything happens in namespaces made
//! here (`netc-cni-<pid>-<n>-host|pod`), removed by a guard also when a test fails;
//! nothing touches the root namespace, and host-local keeps its leases in a
//! temporary directory instead of /var/lib/cni. Only test-safe addresses:
//! pods in 198.18.0.0/15, underlay 198.51.100.0/24.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Output;

use ipnet::Ipv4Net;
use serde_json::{json, Value};

mod common;
use common::{compile, is_root, run_within, Namespaces};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn flag(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| v == "1")
}

/// Root, the CNI plugins, `ip` and `ping`, or a printed reason to skip.
/// Like `common::tool`: skipping is refused under `NETC_REQUIRE_ROOT_TESTS=1`
/// (no root) and `NETC_REQUIRE_TOOLS=1` (a missing program).
fn prerequisites() -> Option<PathBuf> {
    if !is_root() {
        assert!(
            !flag("NETC_REQUIRE_ROOT_TESTS"),
            "this test needs root (network namespaces), and NETC_REQUIRE_ROOT_TESTS=1 forbids skipping it"
        );
        eprintln!("skipped: needs root to create network namespaces");
        return None;
    }
    let dir = std::env::var_os("NETC_CNI_PATH").map_or_else(|| PathBuf::from("/usr/lib/cni"), PathBuf::from);
    let mut missing: Vec<String> = ["bridge", "host-local", "portmap"]
        .iter()
        .map(|p| dir.join(p))
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    for program in ["ip", "ping"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).exists()));
        if !found {
            missing.push(program.to_string());
        }
    }
    if !missing.is_empty() {
        assert!(
            !flag("NETC_REQUIRE_TOOLS"),
            "required (NETC_REQUIRE_TOOLS=1) but missing: {} (set NETC_CNI_PATH for the plugins)",
            missing.join(", ")
        );
        eprintln!(
            "skipped: missing {} (set NETC_CNI_PATH; `.ci/run` installs them)",
            missing.join(", ")
        );
        return None;
    }
    Some(dir)
}

/// Run a program with a time limit (coreutils `timeout`), so a hung plugin
/// cannot hang the test suite.
/// Run a program within 30 seconds.
fn run(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, String)]) -> Output {
    run_within("30", args, stdin, env)
}

fn ip_json(args: &[&str]) -> Value {
    let output = run(&[&["ip", "-j"], args].concat(), None, &[]);
    assert!(
        output.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| json!([]))
}

/// `FLANNEL_SUBNET` (gateway/len) and `FLANNEL_MTU` of a node's `subnet.env`.
fn subnet_env(node: &Path) -> (Ipv4Net, Ipv4Addr, u64) {
    let text = std::fs::read_to_string(node.join("subnet.env")).unwrap();
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} in {text}"))
    };
    let gateway: Ipv4Net = value("FLANNEL_SUBNET=").parse().unwrap();
    (gateway.trunc(), gateway.addr(), value("FLANNEL_MTU=").parse().unwrap())
}

/// Run every plugin of `conflist` in order (ADD) or in reverse (DEL) inside
/// the node namespace, as a runtime does; the last plugin's result.
fn chain(cni: &Path, conflist: &Value, command: &str, ns: (&str, &str), data_dir: &Path, add: Option<&Value>) -> Value {
    let env = [
        ("CNI_COMMAND", command.to_string()),
        ("CNI_CONTAINERID", format!("netc-test-{}", ns.1)),
        ("CNI_NETNS", format!("/run/netns/{}", ns.1)),
        ("CNI_IFNAME", "eth0".to_string()),
        ("CNI_PATH", cni.display().to_string()),
    ];
    let mut plugins: Vec<&Value> = conflist["plugins"].as_array().unwrap().iter().collect();
    if command == "DEL" {
        plugins.reverse();
    }
    let mut previous = add.cloned();
    for plugin in plugins {
        let mut config = plugin.clone();
        config["name"] = conflist["name"].clone();
        config["cniVersion"] = conflist["cniVersion"].clone();
        if config["ipam"]["type"] == "host-local" {
            config["ipam"]["dataDir"] = json!(data_dir);
        }
        if let Some(previous) = &previous {
            config["prevResult"] = previous.clone();
        }
        let program = cni.join(plugin["type"].as_str().unwrap());
        let input = serde_json::to_vec(&config).unwrap();
        let output = run(
            &["ip", "netns", "exec", ns.0, program.to_str().unwrap()],
            Some(&input),
            &env,
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{command} {}: {stdout}{}\nconfig: {config}",
            plugin["type"],
            String::from_utf8_lossy(&output.stderr)
        );
        if command == "ADD" {
            previous = Some(serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stdout}")));
        }
    }
    previous.unwrap_or(Value::Null)
}

/// ADD then DEL for one Linux node's conflist, with every assertion.
fn add_and_delete(cni: &Path, node: &Path, scratch: &Path) {
    let (subnet, gateway, mtu) = subnet_env(node);
    // Refuse to run anything with addresses outside the test ranges.
    assert!(
        "198.18.0.0/15".parse::<Ipv4Net>().unwrap().contains(&subnet),
        "{subnet}"
    );
    let conflist: Value =
        serde_json::from_str(&std::fs::read_to_string(node.join("10-flannel.conflist")).unwrap()).unwrap();
    let types: Vec<&str> = conflist["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["bridge", "portmap"], "{}", node.display());
    assert_eq!(
        conflist["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
        subnet.to_string()
    );

    let mut namespaces = Namespaces::new("cni");
    let (host, pod) = (namespaces.add("host"), namespaces.add("pod"));
    let data_dir = scratch.join(format!("ipam-{pod}"));
    let result = chain(cni, &conflist, "ADD", (&host, &pod), &data_dir, None);

    let eth0 = &ip_json(&["-n", &pod, "addr", "show", "dev", "eth0"])[0];
    assert_eq!(eth0["mtu"], mtu, "pod MTU is subnet.env's FLANNEL_MTU");
    let address = eth0["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["family"] == "inet")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .unwrap_or_else(|| panic!("no IPv4 address on the pod's eth0: {eth0}"));
    let address: Ipv4Net = address.parse().unwrap();
    assert!(
        subnet.contains(&address.addr()) && address.prefix_len() == subnet.prefix_len(),
        "{address} in {subnet}"
    );
    assert_ne!(address.addr(), gateway);
    assert_eq!(result["ips"][0]["address"], address.to_string());
    let default = ip_json(&["-n", &pod, "route", "show", "default"]);
    assert_eq!(default[0]["gateway"], gateway.to_string(), "{default}");
    let bridge = &ip_json(&["-n", &host, "addr", "show", "dev", "cni0"])[0];
    let on_bridge = bridge["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["local"] == gateway.to_string() && a["prefixlen"] == u64::from(subnet.prefix_len()));
    assert!(on_bridge, "cni0 carries {gateway}/{}: {bridge}", subnet.prefix_len());
    let lease = data_dir
        .join(conflist["name"].as_str().unwrap())
        .join(address.addr().to_string());
    assert!(lease.exists(), "host-local lease {}", lease.display());
    let ping = run(
        &[
            "ip",
            "netns",
            "exec",
            &pod,
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            &gateway.to_string(),
        ],
        None,
        &[],
    );
    assert!(
        ping.status.success(),
        "pod pings {gateway}: {}",
        String::from_utf8_lossy(&ping.stdout)
    );

    let veths = ip_json(&["-n", &host, "link", "show", "type", "veth"]);
    assert_eq!(veths.as_array().map(Vec::len), Some(1), "{veths}");
    chain(cni, &conflist, "DEL", (&host, &pod), &data_dir, Some(&result));
    assert_eq!(
        ip_json(&["-n", &host, "link", "show", "type", "veth"]),
        json!([]),
        "the veth is gone"
    );
    assert!(!run(&["ip", "-n", &pod, "link", "show", "dev", "eth0"], None, &[])
        .status
        .success());
    assert!(!lease.exists(), "DEL releases the lease {}", lease.display());
}

/// Every Linux node of a compiled tree (those with a conflist), sorted.
fn linux_nodes(out: &Path) -> Vec<PathBuf> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir(out.join("nodes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("10-flannel.conflist").exists())
        .collect();
    nodes.sort();
    nodes
}

#[test]
fn static_vxlan_conflists_give_pods_addresses_and_clean_up() {
    let Some(cni) = prerequisites() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("examples/static-vxlan.netc")).unwrap();
    let out = compile(scratch.path(), "static-vxlan", &text, None);
    let nodes = linux_nodes(&out);
    assert_eq!(nodes.len(), 3);
    for node in &nodes {
        add_and_delete(&cni, node, scratch.path());
    }
}

/// `examples/tor-routed.netc` uses 10.244.0.0/16, outside the test ranges,
/// so the same shape with test-safe addresses.
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

node master {
  os      linux
  address 198.51.100.10
  role    control-plane
}

node linux-1 {
  os         linux
  address    198.51.100.11
  pod-subnet 198.18.7.0/24
}

tor tor-a {
  segment rack
  routes  auto
}
";

#[test]
fn tor_conflists_give_pods_addresses_and_clean_up() {
    let Some(cni) = prerequisites() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let out = compile(scratch.path(), "tor", TOR, None);
    assert!(out.join("tor/tor-a/frr.conf").exists());
    let nodes = linux_nodes(&out);
    assert_eq!(nodes.len(), 2);
    for node in &nodes {
        add_and_delete(&cni, node, scratch.path());
    }
}

/// The Windows `cni.conf` of a tor node, as far as Linux can run it: its
/// `ipam` section given to Debian's host-local (the same Go code as
/// `host-local.exe`, containernetworking/plugins `plugins/ipam/host-local`)
/// hands pods `.3`, `.4`, ...: never `.1` (the HNS network's gateway) nor
/// `.2`, the host endpoint win-bridge makes every pod's gateway. The
/// win-bridge half only runs on Windows.
#[test]
fn windows_tor_cni_conf_keeps_the_gateways_out_of_the_pod_range() {
    let dir = std::env::var_os("NETC_CNI_PATH").map_or_else(|| PathBuf::from("/usr/lib/cni"), PathBuf::from);
    let host_local = dir.join("host-local");
    if !host_local.exists() {
        assert!(!flag("NETC_REQUIRE_TOOLS"), "{} is missing", host_local.display());
        eprintln!("skipped: {} is missing", host_local.display());
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("examples/tor-routed.netc")).unwrap();
    let out = compile(scratch.path(), "tor-routed", &text, None);
    let conf: Value = serde_json::from_slice(&std::fs::read(out.join("nodes/win-1/cni.conf")).unwrap()).unwrap();
    assert_eq!(conf["type"], "win-bridge");
    let subnet: Ipv4Net = conf["ipam"]["subnet"].as_str().unwrap().parse().unwrap();
    let mut config = json!({"cniVersion": conf["cniVersion"], "name": conf["name"], "type": "win-bridge"});
    config["ipam"] = conf["ipam"].clone();
    config["ipam"]["dataDir"] = json!(scratch.path().join("leases"));
    let input = serde_json::to_vec(&config).unwrap();
    let mut given = Vec::new();
    for pod in 0..3 {
        let env = [
            ("CNI_COMMAND", "ADD".to_string()),
            ("CNI_CONTAINERID", format!("netc-win-pod-{pod}")),
            ("CNI_NETNS", "/run/netns/netc-unused".to_string()),
            ("CNI_IFNAME", "eth0".to_string()),
            ("CNI_PATH", dir.display().to_string()),
        ];
        let output = run(&[host_local.to_str().unwrap()], Some(&input), &env);
        assert!(
            output.status.success(),
            "host-local: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let result: Value = serde_json::from_slice(&output.stdout).unwrap();
        let address: Ipv4Net = result["ips"][0]["address"].as_str().unwrap().parse().unwrap();
        given.push(u32::from(address.addr()) - u32::from(subnet.network()));
    }
    assert_eq!(given, [3, 4, 5], "host offsets handed to pods in {subnet}");
}
