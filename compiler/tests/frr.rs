//! Every `frr.conf` netc writes is accepted by FRR's own parser
//! (`vtysh --dryrun -f FILE` of FRR 8.4.4, exit 0 means valid), and a
//! deliberately broken copy is rejected, so the check is known to check.

#![allow(clippy::disallowed_methods)] // tests read fixtures, run processes and use the environment

use netc_test_support as common;

use std::path::Path;
use std::process::Command;

use common::*;
use netc_compiler::model::Lock;

/// Run vtysh's dry run on `text`; `(exit code, stderr)`.
fn dry_run(vtysh: &Path, dir: &Path, name: &str, text: &str) -> (Option<i32>, String) {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let output = Command::new(vtysh)
        .arg("--dryrun")
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", vtysh.display()));
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every example's ToR configs (name, text); the tor example must have some.
fn frr_confs() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for path in netc_files(&repo_root().join("examples")) {
        let source = source(&path);
        let artifacts = netc_compiler::compile(&source, &Lock::default())
            .artifacts
            .unwrap_or_else(|| panic!("{} does not compile", source.name()));
        for (file, bytes) in &artifacts.files {
            if file.ends_with("/frr.conf") {
                found.push((
                    format!("{}: {file}", source.name()),
                    String::from_utf8(bytes.clone()).unwrap(),
                ));
            }
        }
    }
    assert!(
        found
            .iter()
            .any(|(name, _)| name.contains("tor-routed.netc: tor/tor-a/frr.conf")),
        "examples/tor-routed.netc yields tor/tor-a/frr.conf: {:?}",
        found.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    found
}

#[test]
fn every_frr_conf_is_accepted_by_vtysh() {
    let confs = frr_confs();
    let Some(vtysh) = tool("NETC_VTYSH", "vtysh") else {
        return;
    };
    let dir = Scratch::new("frr-all");
    let mut failures = Vec::new();
    for (i, (name, text)) in confs.iter().enumerate() {
        assert!(
            text.contains("\nip route ") || text.contains("\nipv6 route "),
            "{name} routes nothing:\n{text}"
        );
        let (code, stderr) = dry_run(&vtysh, &dir.0, &format!("{i}.conf"), text);
        if code != Some(0) {
            failures.push(format!("{name}: vtysh exit {code:?}\n{stderr}\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vtysh_rejects_a_broken_route_line() {
    let (_, text) = frr_confs().into_iter().next().unwrap();
    let Some(vtysh) = tool("NETC_VTYSH", "vtysh") else {
        return;
    };
    let dir = Scratch::new("frr-broken");
    // The same file with one route's prefix made impossible (/33).
    let route = text.lines().find(|l| l.starts_with("ip route ")).unwrap();
    let (prefix, _) = route["ip route ".len()..].split_once(' ').unwrap();
    let (network, _) = prefix.split_once('/').unwrap();
    let broken = text.replacen(prefix, &format!("{network}/33"), 1);
    assert_ne!(broken, text);
    let (code, stderr) = dry_run(&vtysh, &dir.0, "broken.conf", &broken);
    assert_ne!(code, Some(0), "vtysh accepted a /33 route:\n{broken}");
    assert!(stderr.contains("/33"), "vtysh names the bad line: {stderr}");
    // And the unbroken file, from the same directory, passes.
    assert_eq!(dry_run(&vtysh, &dir.0, "good.conf", &text).0, Some(0));
}
