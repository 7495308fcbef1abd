//! The win-overlay and win-bridge plugins' own code reads netc's Windows
//! `cni.conf`. The harness `wincni.exe` (`runtime/tests/consumers/wincni/`,
//! built for Windows by `build.sh` from containernetworking/plugins v1.7.1
//! and run here under Wine) takes a compiled config through what a node runs
//! when containerd adds a pod: libcni's loading, the flannel meta plugin's
//! merge with `subnet.env`, and the plugin's cmdAdd with host-local's
//! allocator, stopping before every HNS call; it prints what the plugin
//! would hand to HNS (CNI API v1) or HCN (v2).
//!
//! Every Windows node of every example in `golden/`, and configs compiled
//! here from small topologies (API v1 and v2, overlay and bridge, DSR on and
//! off, a written network name and cluster DNS), are checked against what
//! the topology says (read through `netc_compiler`'s model, not the emitted
//! file): the plugin and the HNS network type it accepts, the network found
//! under netc's one name (N0321), the HNS or HCN path, one OutBoundNAT whose
//! exceptions are the pod and service networks (bridge: and the node's
//! segment), the service network routed with encapsulation (bridge: and the
//! node's own address), loopback DSR exactly when `dsr on`, the DNS servers
//! of `cluster-dns`, the gateway (`.1` overlay, `.2` bridge), an IPv4 pod
//! address in the node's subnet, and the first pod address past the gateway
//! and the host endpoint: `.3` on tor through `rangeStart`, and on overlay
//! after the host program's source-VIP reservation, which must land in the
//! very host-local store the pods use.
//!
//! The HNS network a config is read against is the one netc's other outputs
//! say exists on the node: for flannel, the one flanneld creates from
//! `net-conf.json` (`Backend.Name`; vxlan makes an `Overlay`, host-gw an
//! `L2Bridge`, both with the subnet's `.1` as gateway: flannel v0.28.9
//! pkg/backend/vxlan/device_windows.go line 51, pkg/backend/hostgw/
//! hostgw_windows.go line 113) on the adapter of flanneld's `--iface`; for
//! tor, the program's `hns-network` operation.
//!
//! Negative controls: configs the real code rejects (an `apiVersion` that is
//! not a number, a delegate carrying `ipam`, a network name HNS does not
//! have, a CNI version no plugin supports) or reads differently from what
//! was written (v1 exception keys in a v2 policy, `apiVersion` 3, a tor
//! config without `rangeStart`, a source VIP reserved under another name).
//!
//! Also: the runtime's DNS settings and port mappings (CRI capability
//! arguments) reach the plugin through the capabilities the config
//! declares (win-bridge maps a hostPort; win-overlay v1.7.1 has no port
//! mapping at all); and on a fresh flannel host-gw Windows node the real
//! code hands the first pod `.2`, the bridge endpoint's address (recorded
//! as upstream behaviour, not netc's choice).
//!
//! Needs `NETC_WINE` (the Wine runner `.ci/run` sets) and `wincni.exe` in
//! `$NETC_TOOLS_DIR/bin`; without them the tests print why and pass, and
//! under `NETC_REQUIRE_TOOLS=1` they fail.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Net};
use netc_compiler::diagnostic::SourceFile;
use netc_compiler::model::{BackendKind, Dataplane, Lock, Os};
use serde_json::{json, Value};

use common::control_plane::real_consumers;
use common::{compile, run_within, text};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Wine's runner and `wincni.exe`, or `None` after printing why the test
/// is skipped (a failure under `NETC_REQUIRE_TOOLS=1`).
fn harness() -> Option<(String, PathBuf)> {
    let Some(wine) = std::env::var("NETC_WINE").ok().filter(|p| Path::new(p).exists()) else {
        assert!(
            std::env::var("NETC_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "NETC_WINE must name Wine's runner (NETC_REQUIRE_TOOLS=1)"
        );
        eprintln!("skipped: set NETC_WINE to Wine's runner (runtime/tests/consumers/wine/setup.sh makes it)");
        return None;
    };
    let exe = real_consumers(&["wincni.exe"])?.remove(0);
    Some((wine, exe))
}

/// What the topology says about one Windows node, from netc's model.
#[derive(Debug)]
struct Intent {
    node: String,
    overlay: bool,
    flannel: bool,
    api_v2: bool,
    dsr: bool,
    network_name: String,
    pod_networks: Vec<String>,
    service_network: String,
    dns: Vec<String>,
    segment: Option<String>,
    address: IpAddr,
    subnet: Ipv4Net,
}

impl Intent {
    /// The Windows nodes of `source` (with its lock file, as compiled).
    fn all(source: &Path) -> Vec<Intent> {
        let text = std::fs::read_to_string(source).unwrap();
        let lock_path = PathBuf::from(format!("{}.lock", source.display()));
        let (lock, _) = Lock::parse(&std::fs::read_to_string(&lock_path).unwrap_or_default());
        let analysis = netc_compiler::analyze_with_lock(&SourceFile::new(source.display().to_string(), text), &lock);
        assert!(
            !analysis.has_errors(),
            "{}: {:?}",
            source.display(),
            analysis.diagnostics
        );
        let topology = analysis.topology.unwrap();
        let cluster = &topology.cluster;
        let v4 = |net: &IpNet| net.addr().is_ipv4();
        topology
            .nodes
            .iter()
            .zip(&topology.subnets)
            .filter(|(node, _)| node.os.value == Os::Windows)
            .map(|(node, subnets)| {
                let Some(IpNet::V4(subnet)) = subnets.v4 else {
                    panic!("{}: a Windows node without an IPv4 pod subnet", node.name.value)
                };
                Intent {
                    node: node.name.value.clone(),
                    overlay: cluster.backend.kind.value == BackendKind::Vxlan,
                    flannel: cluster.dataplane.value == Dataplane::Flannel
                        && cluster.backend.kind.value != BackendKind::Tor,
                    api_v2: cluster.windows.cni_api_version.value == 2,
                    dsr: cluster.windows.dsr.value,
                    network_name: cluster.windows.network_name.value.clone(),
                    pod_networks: cluster
                        .pod_networks
                        .iter()
                        .filter(|p| v4(&p.value))
                        .map(|p| p.value.to_string())
                        .collect(),
                    service_network: cluster
                        .service_networks
                        .iter()
                        .find(|s| v4(&s.value))
                        .unwrap()
                        .value
                        .to_string(),
                    dns: cluster.cluster_dns.iter().map(|d| d.value.to_string()).collect(),
                    segment: node.segment.map(|i| topology.segments[i].prefix.value.to_string()),
                    address: node.address.value,
                    subnet,
                }
            })
            .collect()
    }
}

/// The `n`th address of `subnet`.
fn nth(subnet: Ipv4Net, n: u32) -> String {
    Ipv4Addr::from(u32::from(subnet.network()) + n).to_string()
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One run of the harness: the compiled node's files and the HNS network
/// netc's outputs say the node has.
struct Case {
    label: String,
    conf: PathBuf,
    subnet_env: Option<PathBuf>,
    /// The host program's source-VIP request (overlay), run first.
    reserve_first: Option<PathBuf>,
    /// The HNS network on the node: name, type, subnet, gateway and
    /// management IP (the harness's `--network-*` and `--management-ip`).
    network: [String; 5],
    runtime_config: Option<Value>,
    /// Where flanneld writes subnet.env (`--subnet-file`), with flannel.
    flanneld_subnet_file: Option<String>,
    /// kube-proxy's `--network-name`.
    kube_proxy_network: String,
}

impl Case {
    /// The node `node` of the compiled tree `out`; temporary files go into
    /// `scratch`.
    fn of(out: &Path, node: &str, scratch: &Path) -> Case {
        let dir = out.join("nodes").join(node);
        let program = json_file(&dir.join("program.json"));
        let ops = program["operations"].as_array().unwrap();
        let op = |kind: &str| ops.iter().find(|o| o["op"] == kind);
        let service_args = |binary: &str| -> Vec<String> {
            ops.iter()
                .find(|o| o["op"] == "service" && o["binary"] == binary)
                .map(|o| {
                    o["args"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        let flag = |args: &[String], name: &str| {
            args.iter()
                .find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_owned))
        };
        let kube_proxy_network = flag(&service_args("kube-proxy.exe"), "network-name").unwrap();

        if let Some(hns) = op("hns-network") {
            // tor: the host program creates the L2Bridge network itself.
            let field = |k: &str| hns[k].as_str().unwrap().to_owned();
            return Case {
                label: format!("{}/{node}", out.display()),
                conf: dir.join("cni.conf"),
                subnet_env: None,
                reserve_first: None,
                network: [
                    field("name"),
                    field("type"),
                    field("subnet"),
                    field("gateway"),
                    field("address"),
                ],
                runtime_config: None,
                flanneld_subnet_file: None,
                kube_proxy_network,
            };
        }
        // flannel: flanneld creates the network from net-conf.json and the
        // node's lease (subnet.env's FLANNEL_SUBNET).
        let net_conf = json_file(&out.join("net-conf.json"));
        let kind = match net_conf["Backend"]["Type"].as_str().unwrap() {
            "vxlan" => "Overlay",
            "host-gw" => "L2Bridge",
            other => panic!("no Windows HNS network for flannel backend {other}"),
        };
        let subnet_env = std::fs::read_to_string(dir.join("subnet.env")).unwrap();
        let lease: Ipv4Net = subnet_env
            .lines()
            .find_map(|l| l.strip_prefix("FLANNEL_SUBNET="))
            .unwrap()
            .parse()
            .unwrap();
        let flanneld = service_args("flanneld.exe");
        let reserve_first = source_vip_request(&dir.join("host.ps1")).map(|request| {
            let path = scratch.join(format!("{node}-sourcevip-request.json"));
            std::fs::write(&path, request).unwrap();
            path
        });
        Case {
            label: format!("{}/{node}", out.display()),
            conf: dir.join("cni.conf"),
            subnet_env: Some(dir.join("subnet.env")),
            reserve_first,
            network: [
                net_conf["Backend"]["Name"].as_str().unwrap().to_owned(),
                kind.to_owned(),
                lease.trunc().to_string(),
                nth(lease.trunc(), 1),
                flag(&flanneld, "iface").unwrap(),
            ],
            runtime_config: None,
            flanneld_subnet_file: flag(&flanneld, "subnet-file"),
            kube_proxy_network,
        }
    }

    /// The report, or the harness's `error` object.
    fn run(&self, (wine, exe): &(String, PathBuf)) -> Result<Value, Value> {
        let mut args: Vec<String> = vec![wine.clone(), exe.display().to_string()];
        let mut arg = |k: &str, v: String| {
            args.push(format!("--{k}"));
            args.push(v);
        };
        arg("conf", self.conf.display().to_string());
        if let Some(env) = &self.subnet_env {
            arg("subnet-env", env.display().to_string());
        }
        if let Some(request) = &self.reserve_first {
            arg("reserve-first", request.display().to_string());
        }
        if let Some(rc) = &self.runtime_config {
            arg("runtime-config", rc.to_string());
        }
        for (k, v) in [
            "network-name",
            "network-type",
            "network-subnet",
            "network-gateway",
            "management-ip",
        ]
        .iter()
        .zip(&self.network)
        {
            arg(k, v.clone());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run_within("60", &refs, None, &[]);
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{}: the harness printed no JSON ({e})\n{}", self.label, text(&output)));
        match output.status.code() {
            Some(0) => Ok(report),
            Some(1) => Err(report["error"].clone()),
            _ => panic!("{}: {}", self.label, text(&output)),
        }
    }

    /// A copy of this case reading `conf` instead, written into `scratch`.
    fn with_conf(&self, scratch: &Path, name: &str, conf: &Value) -> Case {
        let path = scratch.join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(conf).unwrap()).unwrap();
        Case {
            label: format!("{} ({name})", self.label),
            conf: path,
            subnet_env: self.subnet_env.clone(),
            reserve_first: self.reserve_first.clone(),
            network: self.network.clone(),
            runtime_config: self.runtime_config.clone(),
            flanneld_subnet_file: self.flanneld_subnet_file.clone(),
            kube_proxy_network: self.kube_proxy_network.clone(),
        }
    }
}

/// The JSON of the host program's source-VIP request (`host.ps1` writes it
/// with `Set-NetcFile 'C:\k\SourceVipRequest.json' '...'`), if any.
fn source_vip_request(host_ps1: &Path) -> Option<String> {
    let script = std::fs::read_to_string(host_ps1).unwrap();
    let marker = r"Set-NetcFile 'C:\k\SourceVipRequest.json' '";
    let line = script.lines().find_map(|l| l.trim().strip_prefix(marker))?;
    Some(line.strip_suffix('\'').unwrap().replace("''", "'"))
}

fn policies<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["endpoint"]["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == kind)
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

/// What the plugin derived, against what the topology says.
fn check(case: &Case, intent: &Intent, report: &Value) {
    let at = format!("{} ({})", case.label, intent.node);
    let endpoint = &report["endpoint"];

    // The plugin, the HNS network it looked up under netc's one name (N0321:
    // also flanneld's Backend.Name or the host program's network, and
    // kube-proxy's --network-name), and the type it accepted.
    let plugin = if intent.overlay { "win-overlay" } else { "win-bridge" };
    assert_eq!(report["plugin"], plugin, "{at}");
    assert_eq!(report["network"]["name"], intent.network_name.as_str(), "{at}");
    assert_eq!(
        case.kube_proxy_network, intent.network_name,
        "{at}: kube-proxy --network-name"
    );
    assert_eq!(
        report["network"]["type"],
        if intent.overlay { "Overlay" } else { "L2Bridge" },
        "{at}"
    );
    assert_eq!(report["api"], if intent.api_v2 { "HCN" } else { "HNS" }, "{at}");
    assert_eq!(
        report["result"]["cniVersion"],
        if intent.api_v2 { "0.3.0" } else { "0.2.0" },
        "{at}"
    );

    // flannel reads subnet.env where flanneld writes it: its default
    // /run/flannel/subnet.env is C:\run\flannel\subnet.env on the system drive.
    match &report["flannel"] {
        Value::Null => assert!(!intent.flannel, "{at}: no flannel plugin ran"),
        flannel => {
            assert!(intent.flannel, "{at}");
            let read = flannel["subnetFile"].as_str().unwrap();
            let written = case.flanneld_subnet_file.as_deref().unwrap();
            assert!(
                format!("C:{}", read.replace('/', "\\")).eq_ignore_ascii_case(written),
                "{at}: flannel reads {read}, flanneld writes {written}"
            );
        }
    }

    // The pod: IPv4, in the node's subnet, and its gateway.
    let ip: Ipv4Addr = endpoint["ip"].as_str().unwrap().parse().unwrap();
    assert_eq!(endpoint["family"], "IPv4", "{at}");
    assert!(intent.subnet.contains(&ip), "{at}: {ip} outside {}", intent.subnet);
    let gateway = nth(intent.subnet, if intent.overlay { 1 } else { 2 });
    assert_eq!(endpoint["gateway"], gateway.as_str(), "{at}");
    if intent.api_v2 {
        // HCN's endpoint carries the default route through the gateway.
        let route = &report["hns"]["Routes"][0];
        assert_eq!(route["NextHop"], gateway.as_str(), "{at}");
        assert_eq!(route["DestinationPrefix"], "0.0.0.0/0", "{at}");
    } else {
        assert_eq!(report["hns"]["GatewayAddress"], gateway.as_str(), "{at}");
    }

    // DNS: cluster-dns, searching the service domain.
    assert_eq!(strings(&endpoint["dns"]["servers"]), intent.dns, "{at}");
    assert_eq!(strings(&endpoint["dns"]["search"]), ["svc.cluster.local"], "{at}");

    // One OutBoundNAT for pod traffic, excepting the pod and service
    // networks (bridge: and the node's segment); a second one exactly for
    // loopback DSR, naming the pod itself.
    let nat = policies(report, "OutBoundNAT");
    let (dsr, snat): (Vec<&Value>, Vec<&Value>) = nat.iter().copied().partition(|p| p.get("destinations").is_some());
    assert_eq!(snat.len(), 1, "{at}: {nat:?}");
    let mut exceptions = intent.pod_networks.clone();
    exceptions.push(intent.service_network.clone());
    if !intent.overlay {
        exceptions.push(intent.segment.clone().expect("a bridge node on a segment"));
    }
    assert_eq!(sorted(strings(&snat[0]["exceptions"])), sorted(exceptions), "{at}");
    assert_eq!(report["loopbackDSR"], intent.dsr, "{at}");
    if intent.dsr {
        assert_eq!(dsr.len(), 1, "{at}: {nat:?}");
        assert_eq!(strings(&dsr[0]["destinations"]), [ip.to_string()], "{at}");
    } else {
        assert!(dsr.is_empty(), "{at}: {dsr:?}");
    }

    // The service network (bridge: and the node's own address) reached
    // through the encapsulation: SDNRoute on HCN, ROUTE on HNS.
    let mut routed = vec![intent.service_network.clone()];
    if !intent.overlay {
        routed.push(format!("{}/32", intent.address));
    }
    let routes = policies(report, if intent.api_v2 { "SDNRoute" } else { "ROUTE" });
    assert_eq!(
        sorted(
            routes
                .iter()
                .map(|r| r["destinationPrefix"].as_str().unwrap().to_owned())
                .collect()
        ),
        sorted(routed),
        "{at}"
    );
    assert!(routes.iter().all(|r| r["needEncap"] == true), "{at}: {routes:?}");

    // win-overlay adds the provider address (the node's) itself.
    let pa = policies(report, if intent.api_v2 { "ProviderAddress" } else { "PA" });
    if intent.overlay {
        assert_eq!(pa.len(), 1, "{at}");
        assert_eq!(pa[0]["providerAddress"], intent.address.to_string().as_str(), "{at}");
    } else {
        assert!(pa.is_empty(), "{at}: {pa:?}");
    }

    // The first pod address: past the gateway and the host endpoint on
    // tor (rangeStart), past the source VIP on overlay, which the host
    // program reserves in the store the pods' host-local uses.
    if !intent.flannel {
        assert_eq!(ip.to_string(), nth(intent.subnet, 3), "{at}: the first pod");
    }
    if let Some(reserved) = report.get("reserved") {
        assert_eq!(
            reserved["name"], report["ipam"]["name"],
            "{at}: {reserved} vs {}",
            report["ipam"]
        );
        assert_eq!(reserved["dataDir"], report["ipam"]["dataDir"], "{at}");
        assert_eq!(reserved["ip"], nth(intent.subnet, 2).as_str(), "{at}: the source VIP");
        assert_eq!(
            ip.to_string(),
            nth(intent.subnet, 3),
            "{at}: the first pod after the VIP"
        );
    } else {
        assert!(!intent.overlay, "{at}: no source VIP reserved on an overlay node");
    }
}

#[test]
fn every_golden_windows_node_is_read_as_netc_means() {
    let Some(h) = harness() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = Vec::new();
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "netc"))
        .collect();
    examples.sort();
    for source in examples {
        let name = source.file_stem().unwrap().to_str().unwrap().to_owned();
        let out = repo().join("golden").join(&name);
        for intent in Intent::all(&source) {
            let case = Case::of(&out, &intent.node, scratch.path());
            let report = case.run(&h).unwrap_or_else(|e| panic!("{}: refused: {e}", case.label));
            check(&case, &intent, &report);
            checked.push(format!("{name}/{}", intent.node));
        }
    }
    // Every example with Windows nodes, both kinds of plugin, with and
    // without flannel.
    assert_eq!(
        checked,
        [
            "gitops-mixed/win-1",
            "host-gw-mixed/win-1",
            "tor-routed/win-1",
            "vxlan-mixed/win-1",
            "vxlan-mixed/win-2"
        ]
    );
}

/// A small cluster: a Linux control plane and one Windows node (build
/// 20348, which has every gated feature), `backend` (vxlan, host-gw or
/// tor), the `windows { }` block `windows`, and the Kubernetes release API
/// v1 needs.
fn topology(backend: &str, windows: &str, kubernetes: &str) -> String {
    let (backend_block, tor) = match backend {
        "vxlan" => ("backend vxlan {\n    vni  4096\n    port 4789\n  }", ""),
        "host-gw" => ("backend host-gw", ""),
        "tor" => ("backend tor", "tor t {\n  segment rack\n  routes auto\n}\n"),
        other => panic!("no variant for backend {other}"),
    };
    format!(
        "cluster demo {{\n  pod-network     10.42.0.0/16\n  service-network 10.43.0.0/16\n  cluster-dns     10.43.0.53\n  \
         kubernetes      {kubernetes}\n  {backend_block}\n  windows {{\n{windows}  }}\n}}\n\
         segment rack {{\n  prefix  172.20.0.0/24\n  gateway 172.20.0.1\n}}\n\
         node master {{\n  os      linux\n  address 172.20.0.10\n  role    control-plane\n}}\n\
         node win-1 {{\n  os      windows\n  build   20348\n  address 172.20.0.21\n}}\n{tor}"
    )
}

#[test]
fn compiled_variants_are_read_as_netc_means() {
    let Some(h) = harness() else { return };
    let mut variants = Vec::new();
    for backend in ["vxlan", "host-gw", "tor"] {
        for (api, kubernetes) in [("1", "1.23"), ("2", "1.30")] {
            for dsr in ["off", "on"] {
                variants.push((
                    backend,
                    format!("    cni-api-version {api}\n    dsr {dsr}\n"),
                    kubernetes,
                ));
            }
        }
    }
    // A written network name, on both plugins.
    variants.push(("vxlan", "    network-name \"Overlay-Net_2\"\n".into(), "1.30"));
    variants.push(("host-gw", "    network-name \"l2.net-3\"\n    dsr on\n".into(), "1.30"));

    let mut seen = Vec::new();
    for (backend, windows, kubernetes) in &variants {
        let dir = tempfile::tempdir().unwrap();
        let out = compile(dir.path(), "t", &topology(backend, windows, kubernetes), None);
        let source = dir.path().join("t.netc");
        let [intent] = <[Intent; 1]>::try_from(Intent::all(&source)).unwrap();
        let mut case = Case::of(&out, "win-1", dir.path());
        let settings: Vec<&str> = windows.lines().map(str::trim).collect();
        case.label = format!("{backend} with {}", settings.join("; "));
        let report = case.run(&h).unwrap_or_else(|e| panic!("{}: refused: {e}", case.label));
        check(&case, &intent, &report);
        seen.push((
            report["plugin"].clone(),
            report["api"].clone(),
            report["loopbackDSR"].clone(),
        ));
    }
    // Both plugins on both paths, each with and without DSR.
    for plugin in ["win-overlay", "win-bridge"] {
        for api in ["HNS", "HCN"] {
            for dsr in [false, true] {
                assert!(
                    seen.contains(&(json!(plugin), json!(api), json!(dsr))),
                    "{plugin} {api} dsr={dsr} not covered: {seen:?}"
                );
            }
        }
    }
}

#[test]
fn runtime_dns_and_port_mappings_reach_the_plugin_through_the_declared_capabilities() {
    let Some(h) = harness() else { return };
    let scratch = tempfile::tempdir().unwrap();
    // What containerd passes for a pod with a hostPort (CRI's dns and
    // portMappings capability arguments).
    let runtime = json!({
        "dns": {"servers": ["10.96.0.10"], "searches": ["default.svc.cluster.local", "svc.cluster.local"]},
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
    });
    for example in ["host-gw-mixed", "vxlan-mixed", "tor-routed"] {
        let mut case = Case::of(&repo().join("golden").join(example), "win-1", scratch.path());
        case.runtime_config = Some(runtime.clone());
        let report = case.run(&h).unwrap_or_else(|e| panic!("{example}: refused: {e}"));
        // The runtime's DNS replaces the file's (hns.NetConf.GetDNS).
        assert_eq!(
            strings(&report["endpoint"]["dns"]["search"]),
            ["default.svc.cluster.local", "svc.cluster.local"],
            "{example}"
        );
        let mappings = policies(&report, "PortMapping");
        if report["plugin"] == "win-bridge" {
            assert_eq!(mappings.len(), 1, "{example}: {mappings:?}");
            assert_eq!(
                (
                    &mappings[0]["internalPort"],
                    &mappings[0]["externalPort"],
                    &mappings[0]["protocol"]
                ),
                (&json!(80), &json!(8080), &json!("6")),
                "{example}"
            );
        } else {
            // win-overlay v1.7.1 has no ApplyPortMappingPolicy call:
            // hostPort does nothing on an overlay Windows node, whatever
            // the config declares (containernetworking/plugins#530).
            assert!(mappings.is_empty(), "{example}: {mappings:?}");
        }
    }
}

/// A golden node's case and its cni.conf, to mutate.
fn golden(example: &str, scratch: &Path) -> (Case, Value) {
    let case = Case::of(&repo().join("golden").join(example), "win-1", scratch);
    let conf = json_file(&case.conf);
    (case, conf)
}

#[test]
fn misread_configs_show_what_the_plugin_reads_instead() {
    let Some(h) = harness() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let s = scratch.path();

    // The v1 key in a v2 policy: HCN's OutBoundNAT has no ExceptionList,
    // so nothing is excepted and pods are SNATed to the service network.
    let (case, mut conf) = golden("vxlan-mixed", s);
    let nat = &mut conf["delegate"]["policies"][0]["value"];
    let list = nat["Settings"]["Exceptions"].take();
    nat["Settings"] = json!({ "ExceptionList": list });
    let report = case.with_conf(s, "v1-key.conf", &conf).run(&h).unwrap();
    let nat = policies(&report, "OutBoundNAT");
    assert_eq!(nat.len(), 1, "{nat:?}");
    assert!(strings(&nat[0]["exceptions"]).is_empty(), "{nat:?}");

    // The same on win-bridge: it finds no exception list to extend and adds
    // an OutBoundNAT of its own excepting only flannel's network, so the
    // service network and the node's segment are SNATed.
    let (case, mut conf) = golden("host-gw-mixed", s);
    let nat = &mut conf["delegate"]["policies"][0]["value"];
    let list = nat["Settings"]["Exceptions"].take();
    nat["Settings"] = json!({ "ExceptionList": list });
    let report = case.with_conf(s, "v1-key-bridge.conf", &conf).run(&h).unwrap();
    let excepted: Vec<String> = policies(&report, "OutBoundNAT")
        .iter()
        .flat_map(|p| strings(&p["exceptions"]))
        .collect();
    assert_eq!(excepted, ["10.244.0.0/16"]);

    // apiVersion 3 is not 2: the plugin takes the HNS v1 path, where the v2
    // policies mean nothing (no ExceptionList, no ROUTE).
    let (case, mut conf) = golden("vxlan-mixed", s);
    conf["delegate"]["apiVersion"] = json!(3);
    let report = case.with_conf(s, "api-3.conf", &conf).run(&h).unwrap();
    assert_eq!(report["api"], "HNS");
    assert!(policies(&report, "OutBoundNAT")
        .iter()
        .all(|p| strings(&p["exceptions"]).is_empty()));
    assert!(policies(&report, "ROUTE").is_empty());
    assert!(policies(&report, "SDNRoute")
        .iter()
        .all(|p| p["destinationPrefix"].is_null()));

    // tor without rangeStart: host-local hands out .2, the host endpoint
    // win-bridge makes every pod's gateway.
    let (case, mut conf) = golden("tor-routed", s);
    conf["ipam"].as_object_mut().unwrap().remove("rangeStart");
    let report = case.with_conf(s, "no-range-start.conf", &conf).run(&h).unwrap();
    assert_eq!(report["endpoint"]["ip"], "10.244.21.2");
    assert_eq!(report["endpoint"]["gateway"], "10.244.21.2");

    // A source VIP reserved under another network name lands in another
    // host-local store: the first pod gets the VIP's address.
    let (mut case, _) = golden("vxlan-mixed", s);
    let request = std::fs::read_to_string(case.reserve_first.as_ref().unwrap()).unwrap();
    let other = s.join("other-name-request.json");
    std::fs::write(
        &other,
        request.replace("\"name\": \"flannel.4096\"", "\"name\": \"vxlan0\""),
    )
    .unwrap();
    case.reserve_first = Some(other);
    let report = case.run(&h).unwrap();
    assert_eq!(report["reserved"]["name"], "vxlan0");
    assert_eq!(report["reserved"]["ip"], report["endpoint"]["ip"]);
}

#[test]
fn broken_configs_are_refused_by_the_real_code() {
    let Some(h) = harness() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let s = scratch.path();
    let refused = |case: Case| -> Value {
        match case.run(&h) {
            Err(error) => error,
            Ok(report) => panic!("{}: accepted: {report}", case.label),
        }
    };

    // apiVersion as a string: the plugin's NetConf has an int.
    let (case, mut conf) = golden("vxlan-mixed", s);
    conf["delegate"]["apiVersion"] = json!("2");
    let error = refused(case.with_conf(s, "api-string.conf", &conf));
    assert_eq!(error["stage"], "win-overlay", "{error}");
    assert!(
        error["msg"].as_str().unwrap().starts_with("failed to load netconf"),
        "{error}"
    );

    // The delegate must not carry ipam: flannel sets it from subnet.env.
    let (case, mut conf) = golden("host-gw-mixed", s);
    conf["delegate"]["ipam"] = json!({"type": "host-local", "subnet": "10.244.1.0/24", "rangeStart": "10.244.1.3"});
    let error = refused(case.with_conf(s, "delegate-ipam.conf", &conf));
    assert_eq!(error["stage"], "flannel", "{error}");
    assert!(
        error["msg"].as_str().unwrap().contains("must not have 'ipam'"),
        "{error}"
    );

    // A name that is not the HNS network's (N0321): the plugin's lookup fails.
    let (case, mut conf) = golden("vxlan-mixed", s);
    conf["name"] = json!("flannel.4097");
    let error = refused(case.with_conf(s, "other-name.conf", &conf));
    assert_eq!(error["stage"], "win-overlay", "{error}");
    assert_eq!(
        error["msg"], r#"error while hcn.GetNetworkByName(flannel.4097): Network name "flannel.4097" not found"#,
        "{error}"
    );

    // A CNI version no plugin supports: the CNI library stops it.
    let (case, mut conf) = golden("tor-routed", s);
    conf["cniVersion"] = json!("9.9.9");
    let error = refused(case.with_conf(s, "cni-version.conf", &conf));
    assert_eq!(error["stage"], "win-bridge", "{error}");
    assert_eq!(error["msg"], "incompatible CNI versions", "{error}");
}

#[test]
fn flannel_host_gw_hands_the_bridge_endpoints_address_to_the_first_pod() {
    // Not netc's choice, and not something its cni.conf can change: the
    // flannel plugin refuses a delegate `ipam` (above) and gives win-bridge
    // host-local with the bare subnet, whose first address is `.2`, the
    // address flanneld gives the bridge endpoint `<network>_ep`
    // (hostgw_windows.go line 114) and win-bridge makes every pod's
    // gateway. This records what the real code does on a fresh host-gw
    // Windows node; the host program reserving `.2` in host-local's store
    // (as it reserves the source VIP on overlay) would move the first pod
    // to `.3`.
    let Some(h) = harness() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let (case, _) = golden("host-gw-mixed", scratch.path());
    let report = case.run(&h).unwrap();
    assert_eq!(report["endpoint"]["ip"], "10.244.1.2");
    assert_eq!(report["endpoint"]["gateway"], "10.244.1.2");
    assert!(report.get("reserved").is_none());
}
