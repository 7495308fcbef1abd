//! `netc plan` and `netc apply` end to end: the static-vxlan example's
//! node-1 applied into a network namespace of its own, files under a
//! temporary root, state in a temporary directory.
//!
//! Needs root; skipped with a printed reason otherwise, unless
//! `NETC_REQUIRE_ROOT_TESTS=1` (then it fails). Network safety: nothing is
//! created in the root namespace (the underlay veth pair is created directly
//! inside the namespace), only 198.18.0.0/15 and 198.51.100.0/24 are used,
//! sysctls and iptables rules are those of the test namespace, the namespace
//! has a unique name and is deleted by a guard, also when the test fails.
//! Kernel modules are global: `br_netfilter` is loaded if it is not already.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{is_root, run, skip};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc")).args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// One namespace with node-1's underlay address on a veth; deleted on drop.
struct Namespace(String);

impl Namespace {
    fn new() -> Namespace {
        let ns = Namespace(format!("netc-pa-{}", std::process::id()));
        run(&["ip", "netns", "add", &ns.0]);
        run(&[
            "ip", "link", "add", "under0", "netns", &ns.0, "type", "veth", "peer", "name", "under1", "netns", &ns.0,
        ]);
        run(&["ip", "-n", &ns.0, "addr", "add", "198.51.100.11/24", "dev", "under0"]);
        for dev in ["lo", "under0", "under1"] {
            run(&["ip", "-n", &ns.0, "link", "set", dev, "up"]);
        }
        ns
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn apply_static_vxlan_into_a_namespace() {
    if !is_root() && skip("not root") {
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() && skip("no `ip` command") {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("out");
    let root = temp.path().join("root");
    let state = temp.path().join("state");
    let source = workspace().join("examples/static-vxlan.netc");
    let compiled = netc(&["compile", source.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(compiled.status.success(), "{}", text(&compiled));

    let ns = Namespace::new();
    let args = |command: &'static str| -> Vec<String> {
        [
            command,
            "--node",
            "node-1",
            "--from",
            out.to_str().unwrap(),
            "--netns",
            &ns.0,
            "--root",
            root.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let netc_args = |command: &'static str| {
        let args = args(command);
        netc(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // Not root: refused before anything changes.
    let mut nobody = Command::new("setpriv");
    nobody
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            env!("CARGO_BIN_EXE_netc"),
        ])
        .args(args("apply"));
    if let Ok(refused) = nobody.output() {
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("must run as root"),
            "{}",
            text(&refused)
        );
        assert!(!root.exists() && !state.exists());
        assert!(!run(&["ip", "-n", &ns.0, "link"]).contains("flannel.4096"));
    }

    // First apply.
    let applied = netc_args("apply");
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    let conflist = root.join("etc/cni/net.d/10-flannel.conflist");
    assert!(conflist.is_file());
    assert!(root.join("run/flannel/subnet.env").is_file());
    assert!(state.join("inventory.json").is_file() && state.join("program.json").is_file());
    let link = run(&["ip", "-n", &ns.0, "-d", "link", "show", "flannel.4096"]);
    assert!(link.contains("mtu 1450") && link.contains("vxlan id 4096"), "{link}");
    let routes = run(&["ip", "-n", &ns.0, "route", "show", "proto", "211"]);
    for peer in ["198.18.1.0/24 via 198.18.1.0", "198.18.2.0/24 via 198.18.2.0"] {
        assert!(routes.contains(peer), "{routes}");
    }

    // Idempotence.
    let plan = netc_args("plan");
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert_eq!(
        String::from_utf8_lossy(&plan.stdout),
        "Plan: 0 to create, 0 to update, 0 to recreate, 0 to delete.\n"
    );
    let again = netc_args("apply");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("Applied: 0 created, 0 updated, 0 recreated, 0 deleted."));

    // Drift: a route gone and the conflist edited.
    run(&["ip", "-n", &ns.0, "route", "del", "198.18.1.0/24"]);
    let good = fs::read_to_string(&conflist).unwrap();
    fs::write(&conflist, "{}\n").unwrap();
    let drift = netc_args("plan");
    assert_eq!(drift.status.code(), Some(0), "{}", text(&drift));
    let stdout = String::from_utf8_lossy(&drift.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("~ file /etc/cni/net.d/10-flannel.conflist"),
        "{stdout}"
    );
    assert!(lines[1].starts_with("+ route 198.18.1.0/24 via 198.18.1.0"), "{stdout}");
    assert_eq!(lines[2], "Plan: 1 to create, 1 to update, 0 to recreate, 0 to delete.");
    let json = netc(
        &args("plan")
            .iter()
            .map(String::as_str)
            .chain(["--format", "json"])
            .collect::<Vec<_>>(),
    );
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["steps"].as_array().unwrap().len(), 2);

    let restored = netc_args("apply");
    assert_eq!(restored.status.code(), Some(0), "{}", text(&restored));
    assert_eq!(fs::read_to_string(&conflist).unwrap(), good);
    assert!(run(&["ip", "-n", &ns.0, "route", "show", "proto", "211"]).contains("198.18.1.0/24"));
    let clean = netc_args("plan");
    assert!(String::from_utf8_lossy(&clean.stdout).starts_with("Plan: 0 to create"));
}

#[test]
fn plan_needs_a_node() {
    let source = workspace().join("examples/static-vxlan.netc");
    let output = netc(&["plan", source.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--node"));
}

#[test]
fn plan_of_an_unknown_node_fails_cleanly() {
    let temp = tempfile::tempdir().unwrap();
    let output = netc(&[
        "plan",
        "--node",
        "nope",
        "--from",
        temp.path().to_str().unwrap(),
        "--state-dir",
        temp.path().join("state").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("program.json"));
}
