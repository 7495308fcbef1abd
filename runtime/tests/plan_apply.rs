//! `netc plan` and `netc apply` end to end: the static-vxlan example's
//! node-1 applied into a network namespace of its own, files under a
//! temporary root, state in a temporary directory.
//!
//! - `apply_static_vxlan_into_a_namespace`: `apply` is refused as `nobody`
//!   (exit 2) and without the CNI plugins (exit 1), with nothing changed;
//!   then the files, the link MTU and protocol-211 routes are there, `plan`
//!   is empty, and a second apply changes nothing and sends the kernel
//!   nothing (no `ip monitor` event). Drift (a deleted route, a device MTU,
//!   a sysctl, an edited conflist) is planned as exactly four steps and
//!   repaired. A new program whose second step fails (an immutable file)
//!   has its first step undone, with the state and the last good program
//!   kept and still in force (`plan --last-good` is empty); once the file
//!   is writable the new program applies.
//! - `plan` without `--node` is a usage error, and of an unknown node a
//!   clean failure (exit 2).
//! - On the flannel dataplane a named interface must carry the node's
//!   address: `plan` reports it (exit 1), `apply` refuses it with nothing
//!   changed, and the right interface plans clean.
//!
//! Needs root; skipped with a printed reason otherwise, unless
//! `NETC_REQUIRE_ROOT_TESTS=1` (then it fails). Network safety: nothing is
//! created in the root namespace (the underlay veth pair is created directly
//! inside the namespace), only 198.18.0.0/15 and 198.51.100.0/24 are used,
//! sysctls and iptables rules are those of the test namespace, the namespace
//! has a unique name and is deleted by a guard, also when the test fails.
//! Kernel modules are global: `br_netfilter` is loaded if it is not already.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;
use common::{is_root, run, skip, text, NodeNamespace};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc")).args(args).output().unwrap()
}

#[test]
fn apply_static_vxlan_into_a_namespace() {
    if !is_root() && skip("not root") {
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() && skip("no `ip` command") {
        return;
    }
    // Under the target directory, not /tmp: the rollback case needs a file
    // system with `chattr +i` (tmpfs has none).
    let temp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = temp.path().join("out");
    let root = temp.path().join("root");
    let state = temp.path().join("state");
    let source = workspace().join("examples/static-vxlan.netc");
    let compiled = netc(&["compile", source.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(compiled.status.success(), "{}", text(&compiled));

    let ns = NodeNamespace::new("pa");
    let args = |command: &str, program: &[&str]| -> Vec<String> {
        [command, "--node", "node-1"]
            .iter()
            .chain(program)
            .chain(&[
                "--netns",
                &ns.0,
                "--root",
                root.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
            ])
            .map(|s| s.to_string())
            .collect()
    };
    let from_out = ["--from", out.to_str().unwrap()];
    let netc_args = |command: &str, program: &[&str]| {
        let args = args(command, program);
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
        .args(args("apply", &from_out));
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

    // The CNI plugins the conflist calls are missing under the root: plan
    // says so, apply refuses and changes nothing.
    let refused = netc_args("apply", &from_out);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("CNI plugin `") && stderr.contains("opt/cni/bin/bridge"),
        "{stderr}"
    );
    assert!(!root.join("etc").exists() && !state.exists(), "nothing written");
    assert!(!run(&["ip", "-n", &ns.0, "link"]).contains("flannel.4096"));
    let bin = root.join("opt/cni/bin");
    fs::create_dir_all(&bin).unwrap();
    for plugin in ["bridge", "host-local", "portmap"] {
        fs::write(bin.join(plugin), "#!/bin/sh\n").unwrap();
    }

    // First apply.
    let applied = netc_args("apply", &from_out);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    let conflist = root.join("etc/cni/net.d/10-flannel.conflist");
    assert!(conflist.is_file());
    assert!(root.join("run/flannel/subnet.env").is_file());
    assert!(state.join("inventory.json").is_file() && state.join("last-good.json").is_file());
    let link = run(&["ip", "-n", &ns.0, "-d", "link", "show", "flannel.4096"]);
    assert!(link.contains("mtu 1450") && link.contains("vxlan id 4096"), "{link}");
    let routes = run(&["ip", "-n", &ns.0, "route", "show", "proto", "211"]);
    for peer in ["198.18.1.0/24 via 198.18.1.0", "198.18.2.0/24 via 198.18.2.0"] {
        assert!(routes.contains(peer), "{routes}");
    }

    // Idempotence: plan is empty, and a second apply changes nothing and
    // sends the kernel nothing (`ip monitor` in the namespace sees no event).
    let plan = netc_args("plan", &from_out);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert_eq!(
        String::from_utf8_lossy(&plan.stdout),
        "Plan: 0 to create, 0 to update, 0 to recreate, 0 to delete.\n"
    );
    let monitor = Monitor::start(&ns.0);
    let again = netc_args("apply", &from_out);
    let events = monitor.stop();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("Applied: 0 created, 0 updated, 0 recreated, 0 deleted (0 netlink writes)."),
        "{}",
        text(&again)
    );
    assert_eq!(events, "", "a no-op apply changed something in the kernel");

    // Drift: a route gone, the device MTU changed, a sysctl flipped, the
    // conflist edited. The plan is exactly those four, apply repairs them.
    run(&["ip", "-n", &ns.0, "route", "del", "198.18.1.0/24"]);
    run(&["ip", "-n", &ns.0, "link", "set", "flannel.4096", "mtu", "1400"]);
    run(&["ip", "netns", "exec", &ns.0, "sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    let good = fs::read_to_string(&conflist).unwrap();
    fs::write(&conflist, "{}\n").unwrap();
    let drift = netc_args("plan", &from_out);
    assert_eq!(drift.status.code(), Some(0), "{}", text(&drift));
    let stdout = String::from_utf8_lossy(&drift.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].starts_with("~ sysctl net.ipv4.ip_forward"), "{stdout}");
    assert!(
        lines[1].starts_with("~ file /etc/cni/net.d/10-flannel.conflist"),
        "{stdout}"
    );
    assert!(lines[2].starts_with("~ vxlan flannel.4096"), "{stdout}");
    assert!(lines[3].starts_with("+ route 198.18.1.0/24 via 198.18.1.0"), "{stdout}");
    assert_eq!(lines[4], "Plan: 1 to create, 3 to update, 0 to recreate, 0 to delete.");
    let json = netc(
        &args("plan", &from_out)
            .iter()
            .map(String::as_str)
            .chain(["--format", "json"])
            .collect::<Vec<_>>(),
    );
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["steps"].as_array().unwrap().len(), 4);

    let restored = netc_args("apply", &from_out);
    assert_eq!(restored.status.code(), Some(0), "{}", text(&restored));
    assert_eq!(fs::read_to_string(&conflist).unwrap(), good);
    assert!(run(&["ip", "-n", &ns.0, "route", "show", "proto", "211"]).contains("198.18.1.0/24"));
    assert!(run(&["ip", "-n", &ns.0, "link", "show", "flannel.4096"]).contains("mtu 1450"));
    assert_eq!(
        run(&["ip", "netns", "exec", &ns.0, "sysctl", "-n", "net.ipv4.ip_forward"]).trim(),
        "1"
    );
    let clean = netc_args("plan", &from_out);
    assert!(String::from_utf8_lossy(&clean.stdout).starts_with("Plan: 0 to create"));

    rollback_when_a_step_fails(&netc_args, &source, temp.path(), &root, &state, &ns.0);
}

/// A new program (underlay MTU 1400) whose second step fails (`subnet.env`
/// made immutable): the first step (the conflist) is undone, the device
/// keeps its MTU, the inventory and the last good program are unchanged and
/// still in force (`plan --last-good` is empty); once the file is writable
/// the new program applies.
fn rollback_when_a_step_fails(
    netc_args: &dyn Fn(&str, &[&str]) -> Output,
    source: &Path,
    temp: &Path,
    root: &Path,
    state: &Path,
    ns: &str,
) {
    let topology = fs::read_to_string(source).unwrap();
    assert!(topology.contains("underlay-mtu     1500"));
    let lower = temp.join("lower-mtu.netc");
    fs::write(
        &lower,
        topology.replace("underlay-mtu     1500", "underlay-mtu     1400"),
    )
    .unwrap();
    fs::copy(source.with_extension("netc.lock"), temp.join("lower-mtu.netc.lock")).unwrap();
    let out = temp.join("out-lower-mtu");
    let compiled = netc(&["compile", lower.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(compiled.status.success(), "{}", text(&compiled));
    let from = ["--from", out.to_str().unwrap()];

    let conflist = root.join("etc/cni/net.d/10-flannel.conflist");
    let subnet_env = root.join("run/flannel/subnet.env");
    let before = [
        &conflist,
        &subnet_env,
        &state.join("inventory.json"),
        &state.join("last-good.json"),
    ]
    .map(|path| fs::read(path).unwrap());
    let plan = String::from_utf8_lossy(&netc_args("plan", &from).stdout).into_owned();
    assert!(
        plan.lines().next().unwrap().contains("10-flannel.conflist")
            && plan.lines().nth(1).unwrap().contains("subnet.env"),
        "the conflist is the first step, subnet.env the second:\n{plan}"
    );

    let _unlock = Immutable::set(&subnet_env);
    let failed = netc_args("apply", &from);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("undone: file /etc/cni/net.d/10-flannel.conflist")
            && stderr.contains("the host is as before this run"),
        "{stderr}"
    );
    let after = [
        &conflist,
        &subnet_env,
        &state.join("inventory.json"),
        &state.join("last-good.json"),
    ]
    .map(|path| fs::read(path).unwrap());
    assert!(before == after, "files and state are as before the failed apply");
    assert!(run(&["ip", "-n", ns, "link", "show", "flannel.4096"]).contains("mtu 1450"));
    let last_good = netc_args("plan", &["--last-good"]);
    assert_eq!(
        String::from_utf8_lossy(&last_good.stdout),
        "Plan: 0 to create, 0 to update, 0 to recreate, 0 to delete.\n",
        "{}",
        text(&last_good)
    );
    drop(_unlock);

    let applied = netc_args("apply", &from);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    assert!(run(&["ip", "-n", ns, "link", "show", "flannel.4096"]).contains("mtu 1350"));
    // Rolling back on purpose: the previous program, by its directory.
    let back = netc_args("plan", &["--last-good"]);
    assert!(
        String::from_utf8_lossy(&back.stdout).starts_with("Plan: 0 to create"),
        "{}",
        text(&back)
    );
}

/// `chattr +i` on a file until dropped: even root cannot replace it.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Immutable {
        run(&["chattr", "+i", path.to_str().unwrap()]);
        Immutable(path.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").args(["-i", self.0.to_str().unwrap()]).status();
    }
}

/// `ip monitor` inside a namespace, collecting every event until stopped.
struct Monitor(std::process::Child);

impl Monitor {
    fn start(ns: &str) -> Monitor {
        let child = Command::new("ip")
            .args(["-n", ns, "monitor", "link", "address", "route", "neigh"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Let it subscribe before anything happens.
        std::thread::sleep(Duration::from_millis(300));
        Monitor(child)
    }

    fn stop(mut self) -> String {
        std::thread::sleep(Duration::from_millis(300));
        let _ = self.0.kill();
        let mut events = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            let _ = stdout.read_to_string(&mut events);
        }
        let _ = self.0.wait();
        events
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// On the flannel dataplane a node's `interface` is a check: flanneld
/// advertises the interface carrying the node's address (the DaemonSet's
/// `--iface=$(NODE_IP)`), so the named interface must be that one. `plan`
/// reports a node whose address sits elsewhere (exit 1) and `apply`
/// refuses it with nothing changed; the right interface plans clean.
#[test]
fn a_named_interface_must_carry_the_node_address() {
    if !is_root() && skip("not root") {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let ns = NodeNamespace::new("if");
    let compile = |interface: &str| {
        let topology = fs::read_to_string(workspace().join("examples/static-vxlan.netc"))
            .unwrap()
            .replace("dataplane        static", "dataplane        flannel")
            .replace(
                "  address-start 198.51.100.11\n",
                &format!("  address-start 198.51.100.11\n  interface     {interface}\n"),
            );
        assert!(topology.contains("interface"));
        let source = temp.path().join(format!("{interface}.netc"));
        fs::write(&source, topology).unwrap();
        let out = temp.path().join(format!("out-{interface}"));
        let compiled = netc(&["compile", source.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert!(compiled.status.success(), "{}", text(&compiled));
        out
    };
    let on_node = |command: &str, out: &Path| {
        let root = temp.path().join("root");
        let state = temp.path().join("state");
        netc(&[
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
        ])
    };

    // under1 is up but carries no address; node-1's is on under0.
    let wrong = compile("under1");
    let planned = on_node("plan", &wrong);
    assert_eq!(planned.status.code(), Some(1), "{}", text(&planned));
    let message = String::from_utf8_lossy(&planned.stderr);
    assert!(
        message.contains("interface under1") && message.contains("it is on under0"),
        "{message}"
    );
    let applied = on_node("apply", &wrong);
    assert_eq!(applied.status.code(), Some(1), "{}", text(&applied));
    assert!(String::from_utf8_lossy(&applied.stderr).contains("nothing was changed"));
    assert!(!temp.path().join("state/inventory.json").exists(), "apply wrote state");

    let right = compile("under0");
    let planned = on_node("plan", &right);
    assert!(
        !String::from_utf8_lossy(&planned.stderr).contains("interface under0"),
        "{}",
        text(&planned)
    );
}
