//! The Windows programs of the flannel path read what netc gives them:
//! `kube-proxy.exe` (k8s.io/kubernetes v1.33.13) and `flanneld.exe`
//! (flannel v0.28.9), Windows builds of the pinned modules
//! (`runtime/tests/consumers/build.sh`), run under Wine with the arguments
//! and environment of the generated Windows DaemonSets, against a real API
//! server on 127.0.0.1 (`common::control_plane`).
//!
//! Neither can finish here: both end at HNS, which Wine does not have. What
//! is asserted is where they end: past flag parsing, feature gates and
//! configuration validation, past the API server (the Node is read, the
//! lease is taken), at HNS. A negative control gives each an argument the
//! real program rejects, and asserts it stops at that argument instead.
//!
//! Needs Wine (`NETC_WINE`, `.ci/run` prepares it), the Windows builds and
//! the control plane's binaries; otherwise skipped with a printed reason,
//! or failed under `NETC_REQUIRE_TOOLS=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::control_plane::{self, ControlPlane};
use common::{compile, run_within, text};
use netc_compiler::emit::program::types::{Operation, Program};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Wine's runner, or a printed reason to skip.
fn wine() -> Option<String> {
    match std::env::var("NETC_WINE").ok().filter(|p| Path::new(p).exists()) {
        Some(wine) => Some(wine),
        None => {
            assert!(
                std::env::var("NETC_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "NETC_WINE must name Wine's runner (NETC_REQUIRE_TOOLS=1)"
            );
            eprintln!("skipped: NETC_WINE is not set (.ci/run prepares Wine)");
            None
        }
    }
}

/// A path as a Windows program under Wine reads it: drive Z: is `/`.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// The arguments a node's program in the output directory `out` records
/// for the service `name` (the DaemonSet's flags, as `flanneld_flags` and
/// `kube_proxy_flags` give them).
fn service_args(out: &Path, node: &str, name: &str) -> Vec<String> {
    let example = out.display();
    let path = out.join(format!("nodes/{node}/program.json"));
    let program: Program = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    program
        .operations
        .iter()
        .find_map(|op| match op {
            Operation::Service { name: n, args, .. } if n == name => Some(args.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{example}/{node} has no {name} service"))
}

fn run(wine: &str, exe: &Path, args: &[String], env: &[(&str, String)]) -> Output {
    let mut all = vec![wine.to_owned(), exe.to_str().unwrap().to_owned()];
    all.extend_from_slice(args);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    run_within("120", &all, None, env)
}

/// Every Windows node of the examples that run kube-proxy: kube-proxy.exe
/// with the node's flags parses them, validates its configuration, reads
/// its Node from the API server and stops only at its HNS check.
#[test]
fn kube_proxy_exe_takes_the_generated_flags_up_to_hns() {
    let Some(wine) = wine() else {
        return;
    };
    let Some(tools) = control_plane::real_consumers(&["kube-proxy.exe"]) else {
        return;
    };
    let Some(plane) = ControlPlane::start() else {
        return;
    };
    let kubeconfig = plane.admin_kubeconfig.clone();
    let golden = |example: &str| repo().join("golden").join(example);
    // DSR on Kubernetes 1.30: the WinDSR feature gate and --enable-dsr.
    let scratch = tempfile::tempdir().unwrap();
    let dsr = compile(
        scratch.path(),
        "dsr",
        &std::fs::read_to_string(repo().join("examples/vxlan-mixed.netc"))
            .unwrap()
            .replacen(
                "  backend vxlan {",
                "  windows {\n    dsr on\n  }\n  backend vxlan {",
                1,
            ),
        None,
    );
    let nodes = [
        (golden("vxlan-mixed"), "win-1"),
        (golden("vxlan-mixed"), "win-2"),
        (golden("host-gw-mixed"), "win-1"),
        (golden("gitops-mixed"), "win-1"),
        (golden("tor-routed"), "win-1"),
        (dsr.clone(), "win-1"),
    ];
    let dsr_args = service_args(&dsr, "win-1", "kube-proxy");
    assert!(
        dsr_args.contains(&"--feature-gates=WinDSR=true".to_string())
            && dsr_args.contains(&"--enable-dsr=true".to_string()),
        "{dsr_args:?}"
    );
    // The Nodes as kubelet leaves them: labels, and the node's address in
    // the status (kube-proxy waits for it).
    control_plane::block_on(async {
        let client = control_plane::client(&kubeconfig).await;
        for (name, address) in [("win-1", "10.127.130.21"), ("win-2", "10.127.130.22")] {
            control_plane::register_node(&client, name, "windows", Some("10.0.20348")).await;
            let status = serde_json::json!({"status": {"addresses": [{"type": "InternalIP", "address": address}]}});
            kube::Api::<k8s_openapi::api::core::v1::Node>::all(client.clone())
                .patch_status(name, &Default::default(), &kube::api::Patch::Merge(&status))
                .await
                .unwrap();
        }
    });
    let at_hns = "Windows kernel is not compatible for Kernel mode";
    for (out, node) in &nodes {
        let example = out.display();
        let mut args: Vec<String> = service_args(out, node, "kube-proxy")
            .into_iter()
            // What the DaemonSet's script reads from the source-VIP file.
            .map(|a| a.replace("$(SOURCE_VIP)", "10.244.9.2"))
            .collect();
        args.push(format!("--kubeconfig={}", windows_path(&kubeconfig)));
        let output = run(&wine, &tools[0], &args, &[]);
        let log = text(&output);
        assert_eq!(output.status.code(), Some(1), "{example}/{node}: {log}");
        assert!(log.contains(at_hns), "{example}/{node} did not reach HNS: {log}");
        assert!(!log.contains("Failed to retrieve node info"), "{example}/{node}: {log}");
    }

    // Negative control: a feature gate value the real program refuses
    // stops it at flag parsing, before the API server and HNS.
    let mut args = service_args(&golden("vxlan-mixed"), "win-1", "kube-proxy");
    args.retain(|a| !a.starts_with("--source-vip"));
    args.push("--feature-gates=WinDSR=maybe".into());
    args.push(format!("--kubeconfig={}", windows_path(&kubeconfig)));
    let refused = run(&wine, &tools[0], &args, &[]);
    let log = text(&refused);
    assert_ne!(refused.status.code(), Some(0), "{log}");
    assert!(log.contains("WinDSR=maybe") || log.contains("invalid value"), "{log}");
    assert!(!log.contains(at_hns), "{log}");
}

/// A Wine prefix of its own whose wineserver runs inside the namespace
/// `ns`: Wine makes sockets and lists interfaces in the wineserver (and its
/// device process), so a shared one would see the root namespace. Killed
/// and removed on drop.
struct NamespacedWine {
    ns: String,
    prefix: tempfile::TempDir,
}

const WINE64: &str = "/usr/lib/wine/wine64";
const WINESERVER: &str = "/usr/lib/wine/wineserver64";

impl NamespacedWine {
    fn new(ns: &str) -> NamespacedWine {
        let prefix = tempfile::tempdir().unwrap();
        let wine = NamespacedWine {
            ns: ns.to_owned(),
            prefix,
        };
        let booted = wine.run(&["wineboot", "--init"], &[]);
        assert!(booted.status.success(), "wineboot: {}", text(&booted));
        // Wine 8.0 lacks bcryptprimitives.dll; setup.sh built the stub.
        let stub = control_plane::tools_bin().join("../wine/bcryptprimitives.dll");
        std::fs::copy(
            &stub,
            wine.prefix.path().join("drive_c/windows/system32/bcryptprimitives.dll"),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", stub.display()));
        wine
    }

    fn env(&self) -> Vec<String> {
        vec![
            format!("WINEPREFIX={}", self.prefix.path().display()),
            "WINEDEBUG=-all".into(),
            "WINEDLLOVERRIDES=bcryptprimitives=n;winemenubuilder.exe=d".into(),
            "DISPLAY=".into(),
        ]
    }

    /// `wine64 ARGS` in the namespace, with `extra` environment.
    fn run(&self, args: &[&str], extra: &[(&str, String)]) -> Output {
        let mut all: Vec<String> = ["ip", "netns", "exec", &self.ns, "env"].map(String::from).into();
        all.extend(self.env());
        all.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
        all.push(WINE64.into());
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        run_within("120", &all, None, &[])
    }
}

impl Drop for NamespacedWine {
    fn drop(&mut self) {
        let mut kill: Vec<String> = ["ip", "netns", "exec", &self.ns, "env"].map(String::from).into();
        kill.extend(self.env());
        kill.extend([WINESERVER.to_owned(), "-k".to_owned()]);
        let _ = std::process::Command::new(&kill[0]).args(&kill[1..]).output();
    }
}

/// flanneld.exe on a Windows node, as the generated DaemonSet runs it: in a
/// namespace that holds the node's address (198.51.100.21), with the
/// DaemonSet's flags and environment, the net-conf of the deployed
/// `kube-flannel-windows-cfg` read back from the API server, and a token of
/// the `flannel-windows` ServiceAccount. For vxlan and for host-gw it must
/// read the net-conf as netc wrote it (backend, network name, VNI, port),
/// find the interface `--iface` names and stop at HNS; on host-gw it takes
/// the Node's lease first (the pod subnet `netc deploy` gave the Node), and
/// annotates the Node. Negative control: an `--iface` address the node does
/// not have stops it at the interface, before HNS.
#[test]
fn flanneld_exe_takes_the_generated_configuration_up_to_hns() {
    if !common::is_root() && common::skip("flanneld.exe runs in a network namespace of its own") {
        return;
    }
    let Some(_) = wine() else {
        return;
    };
    let Some(tools) = control_plane::real_consumers(&["flanneld.exe"]) else {
        return;
    };
    let Some(plane) = ControlPlane::start() else {
        return;
    };
    let kubeconfig = plane.admin_kubeconfig.clone();
    control_plane::block_on(async {
        let client = control_plane::client(&kubeconfig).await;
        for (name, os) in [("master", "linux"), ("win-1", "windows"), ("win-2", "windows")] {
            let build = (os == "windows").then_some("10.0.20348");
            control_plane::register_node(&client, name, os, build).await;
        }
    });
    let mut namespaces = common::Namespaces::new("wflannel");
    let ns = namespaces.add("win-1");
    common::run(&[
        "ip", "link", "add", "under0", "netns", &ns, "type", "veth", "peer", "name", "under1", "netns", &ns,
    ]);
    common::run(&["ip", "-n", &ns, "addr", "add", "198.51.100.21/24", "dev", "under0"]);
    for dev in ["lo", "under0", "under1"] {
        common::run(&["ip", "-n", &ns, "link", "set", dev, "up"]);
    }
    let forwarder = common::flannel::Forwarder::new(&ns, plane.port());
    let scratch = tempfile::tempdir().unwrap();
    let node_kubeconfig = scratch.path().join("flannel.kubeconfig");
    let wine = NamespacedWine::new(&ns);
    // The DaemonSet's environment, as kubelet fills it in.
    let env = [
        ("NODE_NAME", "win-1".to_owned()),
        ("NODE_IP", "198.51.100.21".to_owned()),
        ("POD_NAME", "kube-flannel-ds-windows-amd64-x".to_owned()),
        ("POD_NAMESPACE", "kube-system".to_owned()),
    ];
    let exe = windows_path(&tools[0]);

    // vxlan-mixed with its underlay in a test range, then on host-gw.
    let vxlan = std::fs::read_to_string(repo().join("examples/vxlan-mixed.netc"))
        .unwrap()
        .replace("10.127.130.", "198.51.100.");
    let host_gw = vxlan.replace(
        "  backend vxlan {\n    vni  4096\n    port 4789\n  }\n",
        "  backend host-gw\n",
    );
    assert!(vxlan.contains("198.51.100.21") && host_gw.contains("backend host-gw"));
    for (backend, topology) in [("vxlan", vxlan), ("host-gw", host_gw)] {
        let dir = scratch.path().join(backend);
        std::fs::create_dir_all(&dir).unwrap();
        let out = compile(&dir, "topology", &topology, None);
        let deployed = run_within(
            "60",
            &[
                env!("CARGO_BIN_EXE_netc"),
                "deploy",
                out.to_str().unwrap(),
                "--kubeconfig",
                kubeconfig.to_str().unwrap(),
            ],
            None,
            &[],
        );
        assert!(deployed.status.success(), "netc deploy: {}", text(&deployed));
        // The deployed ServiceAccount's token, as the pod would have it.
        let token = plane.service_account_token("kube-system", "flannel-windows");
        let server = format!("https://127.0.0.1:{}", forwarder.port);
        control_plane::write_kubeconfig(&node_kubeconfig, &server, &token);
        let net_conf = control_plane::block_on(async {
            let client = control_plane::client(&kubeconfig).await;
            let config: k8s_openapi::api::core::v1::ConfigMap = kube::Api::namespaced(client, "kube-system")
                .get("kube-flannel-windows-cfg")
                .await
                .unwrap();
            config.data.unwrap()["net-conf.json"].clone()
        });
        let conf_path = dir.join("net-conf.json");
        std::fs::write(&conf_path, &net_conf).unwrap();
        let run_flanneld = |iface: &str| {
            let mut args: Vec<String> = service_args(&out, "win-1", "flanneld")
                .into_iter()
                .map(|a| {
                    if a.starts_with("--iface=") {
                        format!("--iface={iface}")
                    } else {
                        a
                    }
                })
                .collect();
            args.push(format!("--kubeconfig-file={}", windows_path(&node_kubeconfig)));
            args.push(format!("--net-config-path={}", windows_path(&conf_path)));
            let mut all = vec![exe.as_str()];
            all.extend(args.iter().map(String::as_str));
            wine.run(&all, &env)
        };

        let output = run_flanneld("198.51.100.21");
        let log = text(&output);
        assert_ne!(output.status.code(), Some(0), "{backend}: {log}");
        for wanted in [
            format!("Found network config - Backend type: {backend}"),
            "Using interface with name under0 and address 198.51.100.21".to_string(),
        ] {
            assert!(log.contains(&wanted), "{backend}: no `{wanted}` in {log}");
        }
        if backend == "vxlan" {
            let wanted =
                "VXLAN config: Name=flannel.4096 MacPrefix=0E-2A VNI=4096 Port=4789 GBP=false DirectRouting=false";
            assert!(log.contains(wanted), "{log}");
        }
        assert!(
            log.contains("Error registering network") && log.contains("hnsCall failed"),
            "{backend}: flanneld did not stop at HNS: {log}"
        );
        if backend == "host-gw" {
            // The lease came first: flanneld annotated its Node.
            let annotations = control_plane::block_on(async {
                let client = control_plane::client(&kubeconfig).await;
                let node = kube::Api::<k8s_openapi::api::core::v1::Node>::all(client)
                    .get("win-1")
                    .await
                    .unwrap();
                node.metadata.annotations.unwrap_or_default()
            });
            assert_eq!(
                annotations
                    .get("flannel.alpha.coreos.com/backend-type")
                    .map(String::as_str),
                Some("host-gw"),
                "{annotations:?}"
            );
            assert_eq!(
                annotations
                    .get("flannel.alpha.coreos.com/public-ip")
                    .map(String::as_str),
                Some("198.51.100.21"),
                "{annotations:?}"
            );
        }

        let refused = run_flanneld("198.51.100.99");
        let log = text(&refused);
        assert_ne!(refused.status.code(), Some(0), "{log}");
        assert!(
            log.contains("198.51.100.99") && !log.contains("hnsCall"),
            "{backend}: {log}"
        );
    }
    drop(wine);
    drop(forwarder);
    drop(namespaces);
}
