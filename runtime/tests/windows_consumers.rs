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
use common::{run_within, text};
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

/// Compile `text` with the built `netc` into `dir/out`.
fn compile(dir: &Path, topology: &str) -> PathBuf {
    let source = dir.join("topology.netc");
    std::fs::write(&source, topology).unwrap();
    let out = dir.join("out");
    let output = run_within(
        "60",
        &[
            env!("CARGO_BIN_EXE_netc"),
            "compile",
            source.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        None,
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    out
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
        &std::fs::read_to_string(repo().join("examples/vxlan-mixed.netc"))
            .unwrap()
            .replacen(
                "  backend vxlan {",
                "  windows {\n    dsr on\n  }\n  backend vxlan {",
                1,
            ),
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
