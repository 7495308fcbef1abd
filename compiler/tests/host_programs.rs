//! Host programs (`nodes/<node>/program.json`, `host.sh`, `host.ps1`) and
//! the shared peer table: they parse back into the runtime's types and pass
//! their schemas, the scripts are valid bash, every node is in the peer
//! table once, files are installed byte for byte, and output grows linearly
//! with the node count.
//!
//! `host.sh` stops when a CNI plugin its config calls is missing, and (where
//! flanneld runs) when the named interface does not carry the node's
//! address; it treats a kernel without `/proc/modules` as having every
//! module built in. `host.ps1` checks the HNS network's pod subnet before it
//! reserves the source VIP (text and order only: no PowerShell here). As
//! root, two nodes' `host.sh` really connect them over vxlan in two network
//! namespaces.

#![allow(clippy::disallowed_methods)] // tests read fixtures and run processes; the purity rule is for the library

use netc_test_support as common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use netc_compiler::diagnostic::SourceFile;
use netc_compiler::emit::program::types::{Operation, PeerTable, Program};
use netc_compiler::emit::{to_json, Artifacts};
use netc_compiler::model::Lock;

fn compile(source: &SourceFile) -> Artifacts {
    let compilation = netc_compiler::compile(source, &Lock::default());
    compilation
        .artifacts
        .unwrap_or_else(|| panic!("{} does not compile: {:?}", source.name(), compilation.diagnostics))
}

fn examples() -> Vec<(String, Artifacts)> {
    netc_files(&repo_root().join("examples"))
        .iter()
        .map(|path| (path.display().to_string(), compile(&source(path))))
        .collect()
}

fn programs(artifacts: &Artifacts) -> impl Iterator<Item = (&String, Program)> {
    artifacts
        .files
        .iter()
        .filter(|(path, _)| path.ends_with("/program.json"))
        .map(|(path, bytes)| {
            let text = std::str::from_utf8(bytes).unwrap();
            let program: Program =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{path} is not a Program: {e}"));
            // Nothing is lost or reordered on the way through the types.
            assert_eq!(to_json(&program), text, "{path} does not round-trip");
            (path, program)
        })
}

#[test]
fn every_program_round_trips_and_installs_artifacts_byte_for_byte() {
    for (example, artifacts) in examples() {
        let mut count = 0;
        for (path, program) in programs(&artifacts) {
            count += 1;
            let dir = path.trim_end_matches("/program.json");
            assert_eq!(format!("nodes/{}", program.node), dir, "{example}");
            for op in &program.operations {
                let Operation::File {
                    path: target, content, ..
                } = op
                else {
                    continue;
                };
                let artifact = match target.as_str() {
                    "/etc/cni/net.d/10-flannel.conflist" => format!("{dir}/10-flannel.conflist"),
                    "/run/flannel/subnet.env" => format!("{dir}/subnet.env"),
                    r"C:\etc\cni\net.d\10-flannel.conf" => format!("{dir}/cni.conf"),
                    r"C:\etc\kube-flannel\net-conf.json" => "net-conf.json".to_string(),
                    _ => continue,
                };
                assert_eq!(
                    content.as_bytes(),
                    &artifacts.files[&artifact][..],
                    "{example}: {target}"
                );
            }
        }
        let nodes = artifacts.files.keys().filter(|p| p.ends_with("/subnet.env")).count();
        assert_eq!(count, nodes, "{example}: one program per node");
    }
}

#[test]
fn peer_tables_list_every_node_exactly_once() {
    for (example, artifacts) in examples() {
        let table: PeerTable = serde_json::from_slice(&artifacts.files["peers.json"]).unwrap();
        let names: Vec<&str> = table.nodes.iter().map(|n| n.name.as_str()).collect();
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{example}: a node twice in {names:?}");
        let programs: BTreeSet<String> = programs(&artifacts).map(|(_, p)| p.node).collect();
        assert_eq!(unique, programs.iter().map(String::as_str).collect(), "{example}");
        // Static vxlan tables carry one distinct VTEP MAC per node.
        let macs: BTreeSet<&str> = table.nodes.iter().filter_map(|n| n.mac.as_deref()).collect();
        assert!(macs.is_empty() || macs.len() == names.len(), "{example}: {macs:?}");
    }
}

#[test]
fn every_host_sh_is_valid_bash() {
    let Some(bash) = tool("NETC_BASH", "bash") else { return };
    let dir = scratch("bash-n");
    let mut checked = 0;
    for (example, artifacts) in examples() {
        for (path, bytes) in artifacts.files.iter().filter(|(p, _)| p.ends_with("/host.sh")) {
            let file = dir.join("host.sh");
            std::fs::write(&file, bytes).unwrap();
            let out = Command::new(&bash).arg("-n").arg(&file).output().unwrap();
            assert!(
                out.status.success(),
                "{example}: {path}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(checked > 0);
}

/// A static vxlan cluster of `count` Linux nodes.
fn cluster(count: u32) -> SourceFile {
    SourceFile::new(
        "big.netc",
        format!(
            "cluster big {{\n  pod-network 10.0.0.0/8\n  service-network 172.16.0.0/16\n  node-subnet-len 24\n  dataplane static\n  backend vxlan {{\n    vni 4096\n    port 4789\n  }}\n}}\n\
             segment s {{\n  prefix 192.168.0.0/16\n}}\n\
             nodes node count {count} {{\n  os linux\n  address-start 192.168.0.10\n}}\n"
        ),
    )
}

fn total_bytes(artifacts: &Artifacts) -> usize {
    artifacts.files.values().map(Vec::len).sum()
}

#[test]
fn output_grows_linearly_with_the_node_count() {
    let small = total_bytes(&compile(&cluster(500)));
    let large = total_bytes(&compile(&cluster(5000)));
    let ratio = large as f64 / small as f64;
    println!("static vxlan output: 500 nodes {small} bytes, 5000 nodes {large} bytes, ratio {ratio:.2}");
    assert!(ratio <= 11.0, "5000 nodes give {ratio:.2}x the output of 500");
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netc-hp-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Deletes the test's namespaces and scratch tree however the test ends
/// (deleting a namespace deletes the links in it).
struct Cleanup {
    namespaces: Vec<String>,
    dir: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(unix)] // bash, namespaces and Unix file modes: Linux only
fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn write_tree(artifacts: &Artifacts, dir: &Path) {
    for (path, bytes) in &artifacts.files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
}

#[cfg(unix)] // bash, namespaces and Unix file modes: Linux only
/// Nodes 1 and 2 of `examples/static-vxlan.netc` in two namespaces joined by
/// a veth pair (the underlay): after each runs its own `host.sh` (twice: the
/// second run must change nothing), node 1 reaches node 2's vxlan address.
#[test]
fn two_static_vxlan_nodes_reach_each_other_after_host_sh() {
    let root = run(&["id", "-u"]).trim() == "0";
    if !root {
        let required = std::env::var_os("NETC_REQUIRE_ROOT_TESTS").is_some_and(|v| v == "1");
        assert!(!required, "root is required (NETC_REQUIRE_ROOT_TESTS=1)");
        eprintln!("skipped: needs root for network namespaces");
        return;
    }
    let (Some(jq), Some(_)) = (tool("NETC_JQ", "jq"), tool("NETC_IPTABLES", "iptables")) else {
        return;
    };
    let artifacts = compile(&source(&repo_root().join("examples/static-vxlan.netc")));
    // host.sh checks the CNI plugins the conflist calls: Debian's.
    let Some(cni_bin) = debian_cni_plugins(&artifacts) else {
        return;
    };
    let pid = std::process::id();
    let dir = scratch("netns");
    let guard = Cleanup {
        namespaces: vec![format!("netc-t-{pid}-1"), format!("netc-t-{pid}-2")],
        dir: dir.clone(),
    };
    let (a, b) = (guard.namespaces[0].as_str(), guard.namespaces[1].as_str());
    write_tree(&artifacts, &dir.join("out"));

    run(&["ip", "netns", "add", a]);
    run(&["ip", "netns", "add", b]);
    // Both ends are created inside the namespaces: nothing in the root one.
    run(&[
        "ip", "link", "add", "u1", "netns", a, "type", "veth", "peer", "name", "u2", "netns", b,
    ]);
    for (ns, dev, address) in [(a, "u1", "198.51.100.11/24"), (b, "u2", "198.51.100.12/24")] {
        run(&["ip", "-n", ns, "addr", "add", address, "dev", dev]);
        run(&["ip", "-n", ns, "link", "set", dev, "up"]);
        // host.sh only ever sets this to 1; refuse to run where that would
        // change anything (it is per namespace only on recent kernels).
        let value = run(&[
            "ip",
            "netns",
            "exec",
            ns,
            "cat",
            "/proc/sys/net/bridge/bridge-nf-call-iptables",
        ]);
        if value.trim() != "1" {
            eprintln!("skipped: bridge-nf-call-iptables is not 1 in a fresh namespace");
            return;
        }
    }
    // Loading modules is the host's business, not this test's.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("modprobe"), "#!/bin/sh\nexit 0\n").unwrap();
    run(&["chmod", "+x", bin.join("modprobe").to_str().unwrap()]);
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        jq.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let host_sh = |ns: &str, node: &str| {
        let script = dir.join(format!("out/nodes/{node}/host.sh"));
        let root = dir.join(format!("root-{node}"));
        run(&[
            "ip",
            "netns",
            "exec",
            ns,
            "env",
            &format!("PATH={path}"),
            &format!("NETC_ROOT={}", root.display()),
            &format!("NETC_CNI_BIN={}", cni_bin.display()),
            "timeout",
            "60",
            "bash",
            script.to_str().unwrap(),
        ]);
    };
    let ifindex = |ns: &str| run(&["ip", "-n", ns, "-o", "link", "show", "flannel.4096"]);
    host_sh(a, "node-1");
    host_sh(b, "node-2");
    let before = ifindex(a);
    host_sh(a, "node-1");
    assert_eq!(
        ifindex(a).split(':').next(),
        before.split(':').next(),
        "the second run recreated the device"
    );

    let routes = run(&["ip", "-n", a, "route", "show", "dev", "flannel.4096"]);
    assert!(routes.contains("198.18.1.0/24 via 198.18.1.0 onlink"), "{routes}");
    assert!(routes.contains("198.18.2.0/24 via 198.18.2.0 onlink"), "{routes}");
    let rules = run(&["ip", "netns", "exec", a, "iptables", "-t", "nat", "-S", "NETC-POSTRTG"]);
    assert_eq!(rules.matches("MASQUERADE").count(), 1, "{rules}");
    // Pod traffic is forwarded whatever the FORWARD policy; run twice, the
    // chain and its hook are there once.
    let forward = run(&["ip", "netns", "exec", a, "iptables", "-S", "NETC-FWD"]);
    assert!(
        forward.contains("-A NETC-FWD -s 198.18.0.0/16 -m comment --comment \"netc forward\" -j ACCEPT"),
        "{forward}"
    );
    assert!(
        forward.contains("-A NETC-FWD -d 198.18.0.0/16 -m comment --comment \"netc forward\" -j ACCEPT"),
        "{forward}"
    );
    assert_eq!(forward.matches("-j ACCEPT").count(), 2, "{forward}");
    let hooks = run(&["ip", "netns", "exec", a, "iptables", "-S", "FORWARD"]);
    assert_eq!(hooks.matches("-j NETC-FWD").count(), 1, "{hooks}");
    let conflist = std::fs::read(dir.join("root-node-1/etc/cni/net.d/10-flannel.conflist")).unwrap();
    assert_eq!(
        conflist,
        std::fs::read(dir.join("out/nodes/node-1/10-flannel.conflist")).unwrap()
    );
    run(&["ip", "netns", "exec", a, "ping", "-c", "1", "-W", "2", "198.18.1.0"]);
    drop(guard);
}

#[cfg(unix)] // bash, namespaces and Unix file modes: Linux only
/// The CNI plugins `node`'s program checks for.
fn cni_plugins(artifacts: &Artifacts, node: &str) -> Vec<String> {
    let program: Program = serde_json::from_slice(&artifacts.files[&format!("nodes/{node}/program.json")]).unwrap();
    program
        .operations
        .into_iter()
        .find_map(|op| match op {
            Operation::CniPlugins { plugins, .. } => Some(plugins),
            _ => None,
        })
        .expect("every program checks its CNI plugins")
}

#[cfg(unix)] // bash, namespaces and Unix file modes: Linux only
/// Debian's CNI plugin directory (`NETC_CNI_PATH`, else /usr/lib/cni) when
/// it holds every plugin node-1 needs; else the test skips, or fails under
/// `NETC_REQUIRE_TOOLS=1`.
fn debian_cni_plugins(artifacts: &Artifacts) -> Option<PathBuf> {
    let dir = std::env::var_os("NETC_CNI_PATH").map_or_else(|| PathBuf::from("/usr/lib/cni"), PathBuf::from);
    let missing: Vec<String> = cni_plugins(artifacts, "node-1")
        .into_iter()
        .filter(|plugin| !dir.join(plugin).exists())
        .collect();
    if missing.is_empty() {
        return Some(dir);
    }
    let required = std::env::var_os("NETC_REQUIRE_TOOLS").is_some_and(|v| v == "1");
    assert!(
        !required,
        "required (NETC_REQUIRE_TOOLS=1) but missing from {}: {missing:?} (set NETC_CNI_PATH)",
        dir.display()
    );
    eprintln!(
        "skipped: CNI plugins {missing:?} not in {} (set NETC_CNI_PATH)",
        dir.display()
    );
    None
}

#[cfg(unix)] // bash, namespaces and Unix file modes: Linux only
/// Runs `host.sh` of `node` with stub `modprobe` and `sysctl` (so no root
/// is needed for the steps before the check) and `env`; returns whether it
/// succeeded, and its stderr.
fn run_host_sh(bash: &Path, dir: &Path, node: &str, env: &[(&str, PathBuf)]) -> (bool, String) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (stub, body) in [("modprobe", "exit 0"), ("sysctl", "echo 1")] {
        let path = bin.join(stub);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        make_executable(&path);
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(bash)
        .arg(dir.join(format!("out/nodes/{node}/host.sh")))
        .env("PATH", path)
        .env_remove("NETC_CNI_BIN")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[cfg(unix)] // bash, namespaces and Unix file modes: Linux only
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(unix)] // bash, namespaces and Unix file modes: Linux only
fn stub_plugins(dir: &Path, plugins: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for plugin in plugins {
        std::fs::write(dir.join(plugin), "#!/bin/sh\nexit 0\n").unwrap();
        make_executable(&dir.join(plugin));
    }
}

#[cfg(unix)] // bash, namespaces and Unix file modes: Linux only
/// A missing plugin stops `host.sh` before it installs the CNI config, with a
/// message naming it; `flannel`, which flannel's DaemonSet installs, is only
/// a warning. `NETC_CNI_BIN` replaces the directory, and `NETC_ROOT`
/// prefixes it like every other path.
#[test]
fn host_sh_stops_when_a_cni_plugin_is_missing() {
    let Some(bash) = tool("NETC_BASH", "bash") else { return };
    let dir = scratch("cni-check");
    let guard = Cleanup {
        namespaces: Vec::new(),
        dir: dir.clone(),
    };
    for example in ["static-vxlan", "vxlan-mixed"] {
        write_tree(
            &compile(&source(&repo_root().join(format!("examples/{example}.netc")))),
            &dir.join("out"),
        );
    }
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();

    // Static: netc installs the conflist, but not before its plugins exist.
    let root = dir.join("root-static");
    let env = [("NETC_ROOT", root.clone()), ("NETC_CNI_BIN", empty.clone())];
    let (ok, stderr) = run_host_sh(&bash, &dir, "node-1", &env);
    assert!(!ok, "{stderr}");
    let expected = format!(
        "CNI plugin(s) missing from {}: bridge host-local portmap;",
        empty.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("containernetworking-plugins"), "{stderr}");
    assert!(root.join("etc/modules-load.d/br_netfilter.conf").exists());
    assert!(!root.join("etc/cni/net.d/10-flannel.conflist").exists());

    // flanneld: flannel comes with its DaemonSet; the others do not.
    let root = dir.join("root-flannel");
    let env = [("NETC_ROOT", root.clone()), ("NETC_CNI_BIN", empty.clone())];
    let (ok, stderr) = run_host_sh(&bash, &dir, "linux-1", &env);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(&format!("not in {} yet: flannel (", empty.display())),
        "{stderr}"
    );
    assert!(stderr.contains("missing from"), "{stderr}");
    let standard = dir.join("standard");
    stub_plugins(&standard, &["bridge", "host-local", "portmap"]);
    let env = [("NETC_ROOT", root.clone()), ("NETC_CNI_BIN", standard)];
    let (ok, stderr) = run_host_sh(&bash, &dir, "linux-1", &env);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("warning") && !stderr.contains("missing from"),
        "{stderr}"
    );
    // Without NETC_CNI_BIN: /opt/cni/bin under NETC_ROOT, silent when complete.
    stub_plugins(
        &root.join("opt/cni/bin"),
        &["flannel", "bridge", "host-local", "portmap"],
    );
    let (ok, stderr) = run_host_sh(&bash, &dir, "linux-1", &[("NETC_ROOT", root)]);
    assert!(ok && stderr.is_empty(), "{stderr}");
    drop(guard);
}

#[test]
fn the_schemas_check_programs_and_peer_tables() {
    let artifacts = compile(&source(&repo_root().join("examples/vxlan-mixed.netc")));
    assert!(netc_compiler::emit::validate::validate(&artifacts).is_empty());
    let mut broken = Artifacts::default();
    let mut program: serde_json::Value = serde_json::from_slice(&artifacts.files["nodes/win-1/program.json"]).unwrap();
    program["operations"][0]["extra"] = serde_json::json!(1);
    broken.json("nodes/win-1/program.json", &program);
    let mut table: serde_json::Value = serde_json::from_slice(&artifacts.files["peers.json"]).unwrap();
    table["nodes"][0].as_object_mut().unwrap().remove("address");
    broken.json("peers.json", &table);
    let problems = netc_compiler::emit::validate::validate(&broken);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("nodes/win-1/program.json") && p.contains("extra")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("peers.json") && p.contains("address")),
        "{problems:?}"
    );
}

#[cfg(unix)] // bash, namespaces and Unix file modes: Linux only
/// `host.sh` treats a kernel without `/proc/modules` (no loadable modules)
/// as having every module built in, as `netc apply` does, instead of
/// failing in `modprobe`. As root: `/proc` is hidden by a tmpfs in a
/// private mount namespace (`unshare --mount`), so nothing outside the test
/// sees it; `modprobe` is a stub that fails and leaves a mark.
#[test]
fn host_sh_loads_no_module_on_a_kernel_without_proc_modules() {
    if run(&["id", "-u"]).trim() != "0" {
        let required = std::env::var("NETC_REQUIRE_ROOT_TESTS").as_deref() == Ok("1");
        assert!(!required, "root is required (NETC_REQUIRE_ROOT_TESTS=1)");
        eprintln!("skipped: needs root for a mount namespace");
        return;
    }
    let artifacts = compile(&source(&repo_root().join("examples/static-vxlan.netc")));
    let host_sh = String::from_utf8(artifacts.files["nodes/node-1/host.sh"].clone()).unwrap();
    // The two functions involved, as the script defines them.
    let start = host_sh.find("# netc_file PATH").unwrap();
    let end = host_sh.find("# netc_sysctl").unwrap();
    let dir = scratch("no-proc-modules");
    let _cleanup = Cleanup {
        namespaces: Vec::new(),
        dir: dir.clone(),
    };
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mark = dir.join("modprobe-ran");
    std::fs::write(
        bin.join("modprobe"),
        format!("#!/bin/sh\ntouch {}\nexit 1\n", mark.display()),
    )
    .unwrap();
    make_executable(&bin.join("modprobe"));
    let script = dir.join("module.sh");
    std::fs::write(
        &script,
        format!(
            "set -euo pipefail\nroot=$1\n{}\nnetc_module netc_no_such_module /etc/modules-load.d/netc_no_such_module.conf\n",
            &host_sh[start..end]
        ),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let persist = |root: &Path| root.join("etc/modules-load.d/netc_no_such_module.conf");

    // In a private mount namespace, /proc becomes a tmpfs that holds an
    // empty `modules` file (a kernel with loadable modules, none loaded) or
    // nothing (a kernel without modules).
    let run_with_proc = |root: &Path, modules: bool| {
        let setup = if modules {
            "mount -t tmpfs netc-proc /proc && : >/proc/modules"
        } else {
            "mount -t tmpfs netc-proc /proc"
        };
        Command::new("unshare")
            .args([
                "--mount",
                "--fork",
                "bash",
                "-c",
                &format!("{setup} && exec bash \"$0\" \"$1\""),
            ])
            .args([script.to_str().unwrap(), root.to_str().unwrap()])
            .env("PATH", &path)
            .output()
            .unwrap()
    };

    // The control: with /proc/modules, a module that is not loaded is
    // loaded with modprobe (which fails here).
    let out = run_with_proc(&dir.join("root-with"), true);
    assert!(!out.status.success() && mark.exists(), "{out:?}");
    std::fs::remove_file(&mark).unwrap();

    let without = dir.join("root-without");
    let out = run_with_proc(&without, false);
    assert!(
        out.status.success(),
        "without /proc/modules: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!mark.exists(), "modprobe ran on a kernel without /proc/modules");
    assert_eq!(
        std::fs::read_to_string(persist(&without)).unwrap(),
        "netc_no_such_module\n"
    );
}

/// On an overlay Windows node, `host.ps1` reads the pod subnet HNS has (the
/// network flanneld made from the Node's `spec.podCIDR`) before it reserves
/// the source VIP, and stops when it is not the compiled subnet: a VIP
/// outside the HNS network breaks Services on the node. There is no
/// PowerShell here, so this checks the script's text and order; the
/// syntax is checked by `powershell_syntax.rs`.
#[test]
fn host_ps1_checks_the_hns_subnet_before_reserving_the_source_vip() {
    let mut checked = 0;
    for (name, artifacts) in examples() {
        for (path, program) in programs(&artifacts) {
            let json = serde_json::to_value(&program).unwrap();
            let Some(reserve) = json["operations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|op| op["op"] == "source-vip-reserve")
            else {
                continue;
            };
            let (network, subnet) = (
                reserve["network"].as_str().unwrap(),
                reserve["subnet"].as_str().unwrap(),
            );
            let script_path = path.replace("program.json", "host.ps1");
            let script = std::str::from_utf8(&artifacts.files[&script_path]).unwrap();
            let read = script
                .find(&format!("(Get-HnsNetwork | Where-Object Name -eq '{network}').Subnets"))
                .unwrap_or_else(|| panic!("{name} {script_path}: no read of the HNS subnet"));
            let compare = script
                .find(&format!("if ($hnsSubnet -ne '{subnet}') {{ throw"))
                .unwrap_or_else(|| panic!("{name} {script_path}: no comparison with {subnet}"));
            let reservation = script.find("$env:CNI_COMMAND = 'ADD'").unwrap();
            assert!(
                read < compare && compare < reservation,
                "{name} {script_path}: out of order"
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} overlay Windows nodes in the examples");
}

#[cfg(unix)] // bash, namespaces and Unix file modes: Linux only
/// Where flanneld runs, a node's named `interface` is checked in `host.sh`:
/// the interface carrying the node's address (the one flanneld advertises)
/// must be it, or the script stops before installing anything. `ip` is a
/// stub printing an `ip -o addr show` listing with the address on `eth0`.
#[test]
fn host_sh_checks_the_named_interface_where_flanneld_runs() {
    let Some(bash) = tool("NETC_BASH", "bash") else { return };
    let dir = scratch("iface-check");
    let guard = Cleanup {
        namespaces: Vec::new(),
        dir: dir.clone(),
    };
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let listing = "2: eth0    inet 198.51.100.11/24 brd 198.51.100.255 scope global eth0\\\\       valid_lft forever\n\
                   3: eth1    inet 203.0.113.11/24 scope global eth1\\\\       valid_lft forever\n";
    std::fs::write(bin.join("ip"), format!("#!/bin/sh\nprintf '{listing}'\n")).unwrap();
    make_executable(&bin.join("ip"));
    let standard = dir.join("standard");
    stub_plugins(&standard, &["flannel", "bridge", "host-local", "portmap"]);
    let text = std::fs::read_to_string(repo_root().join("examples/static-vxlan.netc"))
        .unwrap()
        .replace("dataplane        static", "dataplane        flannel");
    for (interface, passes) in [("eth1", false), ("eth0", true)] {
        let named = text.replace(
            "  address-start 198.51.100.11\n",
            &format!("  address-start 198.51.100.11\n  interface     {interface}\n"),
        );
        let out = dir.join("out");
        let _ = std::fs::remove_dir_all(&out);
        write_tree(&compile(&SourceFile::new("t.netc", named)), &out);
        let root = dir.join(format!("root-{interface}"));
        let env = [("NETC_ROOT", root.clone()), ("NETC_CNI_BIN", standard.clone())];
        let (ok, stderr) = run_host_sh(&bash, &dir, "node-1", &env);
        assert_eq!(ok, passes, "{interface}: {stderr}");
        if !passes {
            assert!(stderr.contains("198.51.100.11 is not on interface eth1"), "{stderr}");
        }
    }
    drop(guard);
}
