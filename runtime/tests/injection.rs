//! No string setting can break out of its quoting. proptest puts hostile
//! strings (both shells' quotes and the typographic ones PowerShell reads
//! as quotes, `$(...)`, backticks, `;`, `|`, newlines, NUL, `#`, template
//! braces) into one string setting at a time of two topologies written in
//! the JSON form (where any string can be written): a mixed flannel one
//! with every string setting there is, and a static Linux one. Either netc
//! rejects the topology with a diagnostic, or everything it wrote holds:
//! - every `host.sh` passes `bash -n`, and run (as root, in a network
//!   namespace of its own, with every tool it calls stubbed and a scratch
//!   `NETC_ROOT`) through both outcomes of its interface check, never runs
//!   the canary `>ZQX`: no file `ZQX` appears;
//! - every `host.ps1`, the Windows driver's apply and observe scripts for
//!   each Windows program, and the scripts of the Windows manifests parse
//!   (tree-sitter's PowerShell grammar) with the marker `ZQX` only inside
//!   single-quoted strings or comments;
//! - every YAML and JSON artifact parses, with the shape (keys, nesting,
//!   value types) of the same topology without the hostile string: the
//!   string stayed a scalar.
//!
//! A negative control proves the checks see a breakout: a `host.sh` that
//! echoes the interface unquoted runs the canary, and an expandable
//! PowerShell string exposes the marker.
//!
//! 64 cases per setting group (`PROPTEST_CASES` for more); each failure is
//! shrunk to a minimal string by proptest.

#![allow(clippy::disallowed_methods)] // tests write scratch trees and run bash

mod common;
use netc_test_support as support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use netc_compiler::diagnostic::SourceFile;
use netc_compiler::emit::program::types::{Operation, Program, ProgramOs};
use netc_compiler::model::Lock;
use netc_plan::windows;
use proptest::prelude::*;
use serde_json::{json, Value};
use support::powershell::{manifest_scripts, outside_inert_parts, syntax_errors};

/// What a hostile string carries to show it ran: `>ZQX` creates the file
/// `ZQX` in the script's working directory; the marker itself must stay
/// inside PowerShell literals.
const MARKER: &str = "ZQX";

/// The pieces hostile strings are made of.
const PIECES: &[&str] = &[
    "'",
    "\"",
    "`",
    "$",
    "\\",
    ";",
    "|",
    "&",
    "#",
    " ",
    "\t",
    "\n",
    "\r",
    "\0",
    "\u{2018}",
    "\u{2019}",
    "\u{201A}",
    "\u{201B}",
    "\u{201C}",
    "\u{2028}",
    "{{",
    "}}",
    "{%",
    "<#",
    "#>",
    "@'",
    "'@",
    "$(>ZQX)",
    "`>ZQX`",
    ";>ZQX",
    "|>ZQX",
    "&>ZQX",
    "\n>ZQX\n",
    "'$(>ZQX)'",
    "\"$(>ZQX)\"",
    "$(New-Item ZQX)",
    "';New-Item ZQX;'",
    "${IFS}",
    "ZQX",
    "eth0",
    "a",
    "-",
    ".",
    ":",
    "/",
    "@",
    "=",
];

/// A mixed flannel cluster with every string setting: cluster name, API
/// server, images, Windows network name, segment and node names, Linux and
/// Windows interfaces, and the agent's repository, branch, path, image,
/// allowed signer and SSH Secret.
fn mixed() -> Value {
    let mut topology = json!({
        "segments": [ { "name": "mgmt", "prefix": "203.0.113.0/24", "gateway": "203.0.113.1" } ],
        "nodes": [
            { "name": "master", "os": "linux", "arch": "amd64", "address": "203.0.113.10", "role": "control-plane", "interface": "eth0" },
            { "name": "linux-1", "os": "linux", "arch": "amd64", "address": "203.0.113.11", "interface": "eth0" },
            { "name": "win-1", "os": "windows", "build": 20348, "address": "203.0.113.21", "interface": "Ethernet" }
        ],
        "agent": {
            "repo": "ssh://git@git.example/platform/network.git",
            "branch": "main",
            "path": "clusters/inj.netc",
            "image": "ghcr.io/example/netc:0.1.0",
            "ssh-secret": "netc-git-ssh",
            "allowed-signers": [
                "network-team@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOit/aR37pqqB3Wwes/Tzc+uvAMNAPaESiQFO0IQb3XO"
            ]
        }
    });
    topology["cluster"] = cluster("flannel", json!({ "type": "vxlan", "vni": 4096, "port": 4789 }));
    let cluster = topology["cluster"].as_object_mut().unwrap();
    cluster.insert("windows".into(), json!({ "network-name": "vxlan0" }));
    cluster.insert(
        "images".into(),
        json!({
            "flannel": "registry.example/flannel:v0.28.9",
            "flannel-cni-plugin": "registry.example/flannel-cni-plugin:v1.9.1-flannel3",
            "flannel-windows": "registry.example/flannel:v0.28.9-hostprocess",
            "kube-proxy-windows": "registry.example/kube-proxy:v1.30.0-hostprocess"
        }),
    );
    cluster.insert("api-server".into(), json!("https://203.0.113.10:6443"));
    topology
}

/// The `cluster` block both topologies share, with this dataplane and
/// backend.
fn cluster(dataplane: &str, backend: Value) -> Value {
    json!({
        "name": "inj",
        "pod-network": "198.18.0.0/16",
        "service-network": "198.19.0.0/16",
        "cluster-dns": "198.19.0.10",
        "node-subnet-len": 24,
        "underlay-mtu": 1500,
        "kubernetes": "1.30",
        "dataplane": dataplane,
        "backend": backend
    })
}

/// Static vxlan on Linux nodes: netc's own vxlan device on a named
/// underlay interface, with a fixed MAC prefix.
fn static_linux() -> Value {
    json!({
        "cluster": cluster("static", json!({ "type": "vxlan", "vni": 4096, "port": 4789, "mac-prefix": "0E-2A" })),
        "segments": [ { "name": "lab", "prefix": "198.51.100.0/24", "gateway": "198.51.100.1" } ],
        "nodes": [
            { "name": "node-1", "os": "linux", "arch": "amd64", "address": "198.51.100.11", "interface": "eth0" },
            { "name": "node-2", "os": "linux", "arch": "amd64", "address": "198.51.100.12", "interface": "eth0" }
        ]
    })
}

/// A string setting: its topology, its JSON pointer, and a prefix that gets
/// the string past the setting's first syntax check, such as `https://`.
type Setting = (fn() -> Value, &'static str, &'static str);

const SETTINGS: &[Setting] = &[
    (mixed, "/cluster/name", ""),
    (mixed, "/cluster/api-server", "https://"),
    (mixed, "/cluster/images/flannel", "registry.example/f:"),
    (mixed, "/cluster/images/flannel-cni-plugin", "registry.example/c:"),
    (mixed, "/cluster/images/flannel-windows", "registry.example/f:"),
    (mixed, "/cluster/images/kube-proxy-windows", "registry.example/k:"),
    (mixed, "/cluster/windows/network-name", ""),
    (mixed, "/segments/0/name", ""),
    (mixed, "/nodes/1/name", ""),
    (mixed, "/nodes/2/name", ""),
    (mixed, "/nodes/1/interface", ""),
    (mixed, "/nodes/2/interface", ""),
    (mixed, "/agent/repo", "https://git.example/"),
    (mixed, "/agent/branch", ""),
    (mixed, "/agent/path", ""),
    (mixed, "/agent/image", "ghcr.io/example/netc:"),
    (mixed, "/agent/ssh-secret", ""),
    (mixed, "/agent/allowed-signers/0", "team@example.com "),
    (static_linux, "/nodes/0/interface", ""),
    (static_linux, "/cluster/backend/mac-prefix", ""),
];

/// A topology's artifacts, or `None` when netc rejects it.
fn compile(topology: &Value) -> Option<BTreeMap<String, Vec<u8>>> {
    let text = serde_json::to_string_pretty(topology).unwrap();
    let compiled = netc_compiler::compile(&SourceFile::new("t.json", text), &Lock::default());
    compiled.artifacts.map(|a| a.files)
}

/// A document's shape: its keys and nesting, with every scalar replaced by
/// its type.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

/// The shapes of an artifact tree's YAML and JSON files by path, with the
/// injected node name (if any) put back, so both trees name files alike.
fn shapes(
    files: &BTreeMap<String, Vec<u8>>,
    rename: Option<(&str, &str)>,
) -> Result<BTreeMap<String, Vec<Value>>, String> {
    let mut out = BTreeMap::new();
    for (path, bytes) in files {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("{path} is not UTF-8: {e}"))?;
        let documents: Vec<Value> = if path.ends_with(".yaml") {
            let mut documents = Vec::new();
            for document in yaml_serde::Deserializer::from_str(text) {
                let value = <Value as serde::Deserialize>::deserialize(document)
                    .map_err(|e| format!("{path} is not YAML any more: {e}"))?;
                if !value.is_null() {
                    documents.push(shape(&value));
                }
            }
            documents
        } else if path.ends_with(".json") || path.ends_with(".conf") || path.ends_with(".conflist") {
            vec![shape(
                &serde_json::from_str(text).map_err(|e| format!("{path} is not JSON any more: {e}"))?,
            )]
        } else {
            continue;
        };
        let key = match rename {
            Some((injected, original)) => {
                path.replacen(&format!("nodes/{injected}/"), &format!("nodes/{original}/"), 1)
            }
            None => path.clone(),
        };
        out.insert(key, documents);
    }
    Ok(out)
}

/// Every PowerShell script of a tree: `host.ps1`, the Windows driver's
/// apply and observe scripts for each Windows program, and the Windows
/// manifests' container scripts.
fn powershell_scripts(files: &BTreeMap<String, Vec<u8>>) -> Vec<(String, String)> {
    let mut scripts = Vec::new();
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(bytes).into_owned();
        if path.ends_with("/host.ps1") {
            scripts.push((path.clone(), text));
        } else if path.ends_with("/program.json") {
            let program: Program = serde_json::from_str(&text).expect("netc's program.json parses");
            if program.os != ProgramOs::Windows {
                continue;
            }
            let desired = windows::desired(&program).expect("a compiled Windows program expands");
            let owned = windows::WindowsInventory::new();
            let plan = windows::plan(&desired, &windows::WindowsObserved::default(), &owned);
            scripts.push((format!("{path}: apply script"), windows::powershell(&plan)));
            scripts.push((
                format!("{path}: observe script"),
                windows::observe_script(&desired, &owned),
            ));
        } else if path.ends_with(".yaml") {
            for (container, script) in manifest_scripts(&text) {
                scripts.push((format!("{path}: {container}"), script));
            }
        }
    }
    scripts
}

/// Write an artifact tree under `dir`.
fn write_tree(files: &BTreeMap<String, Vec<u8>>, dir: &Path) {
    for (path, bytes) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

#[cfg(unix)]
fn executable(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Stubs for every tool `host.sh` calls that would change or read the
/// host: `ip -o addr show` lists `$STUB_IFACE` carrying `$STUB_ADDR`,
/// `sysctl` reads 1, everything else succeeds silently.
#[cfg(unix)]
fn stub_tools(bin: &Path) {
    std::fs::create_dir_all(bin).unwrap();
    executable(
        &bin.join("ip"),
        r#"case " $* " in *" -o addr "*) printf '2: %s    inet %s/24 scope global x\\       valid_lft forever\n' "$STUB_IFACE" "$STUB_ADDR" ;; esac; exit 0"#,
    );
    executable(&bin.join("sysctl"), "echo 1");
    for tool in [
        "bridge",
        "iptables",
        "iptables-restore",
        "ip6tables",
        "ip6tables-restore",
        "modprobe",
        "jq",
    ] {
        executable(&bin.join(tool), "cat >/dev/null 2>&1 || true; exit 0");
    }
}

/// Whether any file or directory named `name` exists under `dir`.
fn exists_under(dir: &Path, name: &str) -> bool {
    std::fs::read_dir(dir).into_iter().flatten().flatten().any(|entry| {
        let path = entry.path();
        entry.file_name() == name || (path.is_dir() && !path.is_symlink() && exists_under(&path, name))
    })
}

/// Run every `host.sh` of a tree as root in a network namespace of its own
/// (`unshare --net`), with stubbed tools, once with the interface check
/// passing and once failing; the canary file must never appear.
#[cfg(unix)]
fn run_host_scripts(files: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    write_tree(files, &dir.join("out"));
    stub_tools(&dir.join("bin"));
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (file, bytes) in files.iter().filter(|(p, _)| p.ends_with("/program.json")) {
        let program: Program = serde_json::from_slice(bytes).expect("netc's program.json parses");
        if program.os != ProgramOs::Linux {
            continue;
        }
        let script = dir.join("out").join(file.replace("program.json", "host.sh"));
        let cni = dir.join("cni");
        std::fs::create_dir_all(&cni).unwrap();
        let mut check = ("eth0".to_string(), "198.51.100.11".to_string());
        for operation in &program.operations {
            match operation {
                Operation::CniPlugins { plugins, .. } => {
                    for plugin in plugins {
                        executable(&cni.join(plugin), "exit 0");
                    }
                }
                Operation::InterfaceAddress { interface, address } => check = (interface.clone(), address.clone()),
                _ => {}
            }
        }
        for interface in [check.0.as_str(), "other0"] {
            let output = Command::new("timeout")
                .args(["--kill-after=5", "20", "unshare", "--net", "bash"])
                .arg(&script)
                .current_dir(dir)
                .env("PATH", &path)
                .env("NETC_ROOT", dir.join("root"))
                .env("NETC_CNI_BIN", &cni)
                .env("STUB_IFACE", interface)
                .env("STUB_ADDR", &check.1)
                .output()
                .unwrap();
            if output.status.code() == Some(124) || output.status.code() == Some(137) {
                return Err(format!("{file}: host.sh did not finish in 20 s"));
            }
            if exists_under(dir, MARKER) {
                return Err(format!(
                    "{file}: running host.sh ran the canary (a file `{MARKER}` appeared); its stderr:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    Ok(())
}

/// Everything that must hold of a tree compiled with a hostile string;
/// `base` is the same topology's tree without it.
fn check_tree(
    files: &BTreeMap<String, Vec<u8>>,
    base: &BTreeMap<String, Vec<u8>>,
    rename: Option<(&str, &str)>,
    execute: bool,
) -> Result<(), String> {
    let want = shapes(base, None)?;
    let got = shapes(files, rename)?;
    for (path, documents) in &want {
        match got.get(path) {
            Some(found) if found == documents => {}
            Some(found) => return Err(format!("{path} changed shape:\nwas {documents:?}\nnow {found:?}")),
            None => return Err(format!("{path} is missing")),
        }
    }
    if got.len() != want.len() {
        return Err(format!("{} structured files instead of {}", got.len(), want.len()));
    }
    for (name, script) in powershell_scripts(files) {
        let errors = syntax_errors(&script);
        if !errors.is_empty() {
            return Err(format!("{name}: PowerShell syntax errors:\n{}", errors.join("\n")));
        }
        let exposed = outside_inert_parts(&script, MARKER);
        if !exposed.is_empty() {
            return Err(format!("{name}: `{MARKER}` outside a literal:\n{}", exposed.join("\n")));
        }
    }
    for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with("/host.sh")) {
        let output = Command::new("bash")
            .args(["-n", "-c"])
            .arg(String::from_utf8_lossy(bytes).as_ref())
            .output();
        match output {
            Ok(output) if output.status.success() => {}
            Ok(output) => return Err(format!("{path}: bash -n: {}", String::from_utf8_lossy(&output.stderr))),
            Err(e) => return Err(format!("bash: {e}")),
        }
    }
    #[cfg(unix)]
    if execute {
        run_host_scripts(files)?;
    }
    #[cfg(not(unix))]
    let _ = execute;
    Ok(())
}

/// Pieces that carry the canary, one word each (no whitespace), so that
/// strict settings such as interface names still let some through.
const CANARIES: &[&str] = &[
    "$(>ZQX)",
    "`>ZQX`",
    ";>ZQX",
    "|>ZQX",
    "&>ZQX",
    "'$(>ZQX)'",
    "\"$(>ZQX)\"",
];

fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![1 => prop::sample::select(CANARIES), 2 => prop::sample::select(PIECES)];
    prop::collection::vec(piece, 1..5).prop_map(|pieces| pieces.concat())
}

/// Put `value` at `pointer` in `topology`.
fn with(mut topology: Value, pointer: &str, value: &str) -> Value {
    *topology.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = Value::String(value.into());
    topology
}

fn check_setting(group: &[Setting]) {
    let execute = common::is_root() || !common::skip("running host.sh in a network namespace needs root");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (0..group.len(), hostile());
    let compiled = std::cell::Cell::new(0);
    let result = runner.run(&strategy, |(index, string)| {
        let (topology, pointer, prefix) = group[index];
        let base = compile(&topology()).expect("the base topology compiles");
        let value = format!("{prefix}{string}");
        let original = topology().pointer(pointer).unwrap().as_str().unwrap().to_string();
        let Some(files) = compile(&with(topology(), pointer, &value)) else {
            return Ok(());
        };
        compiled.set(compiled.get() + 1);
        let rename = pointer
            .ends_with("/name")
            .then_some((value.as_str(), original.as_str()));
        let rename = rename.filter(|_| pointer.starts_with("/nodes/"));
        check_tree(&files, &base, rename, execute)
            .map_err(|e| TestCaseError::fail(format!("{pointer} = {value:?}: {e}")))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("{} hostile topologies compiled and were checked", compiled.get());
}

#[test]
fn hostile_strings_in_cluster_and_image_settings_stay_quoted() {
    check_setting(&SETTINGS[..8]);
}

#[test]
fn hostile_strings_in_node_names_and_interfaces_stay_quoted() {
    check_setting(&SETTINGS[8..12]);
}

#[test]
fn hostile_strings_in_agent_settings_stay_quoted() {
    check_setting(&SETTINGS[12..18]);
}

#[test]
fn hostile_strings_in_static_dataplane_settings_stay_quoted() {
    check_setting(&SETTINGS[18..]);
}

/// The checks themselves see a breakout: a `host.sh` whose interface check
/// echoes the interface unquoted runs the canary, and an expandable
/// PowerShell string exposes the marker.
#[test]
fn the_checks_see_a_breakout() {
    let base = compile(&static_linux()).unwrap();
    let mut files = base.clone();
    let script = files.get_mut("nodes/node-1/host.sh").unwrap();
    script.extend_from_slice(b"\necho \"interface $(>ZQX)\" >&2\n");
    if common::is_root() || !common::skip("running host.sh in a network namespace needs root") {
        let error = check_tree(&files, &base, None, true).unwrap_err();
        assert!(error.contains("ran the canary"), "{error}");
    }
    assert!(!outside_inert_parts("throw \"no network $(ZQX)\"", MARKER).is_empty());
    assert!(outside_inert_parts("throw 'no network $(ZQX)' # ZQX", MARKER).is_empty());
    let mut files = base.clone();
    files.insert("manifests/extra.yaml".into(), b"a: 1\n".to_vec());
    let mut shifted = base.clone();
    shifted.insert("manifests/extra.yaml".into(), b"a: 1\nb: ZQX\n".to_vec());
    assert!(check_tree(&shifted, &files, None, false)
        .unwrap_err()
        .contains("changed shape"));
}
