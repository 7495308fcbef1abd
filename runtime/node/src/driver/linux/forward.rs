//! The forward chain (`forward-accept`): a `filter` chain that accepts
//! forwarded traffic from and to the pod network, hooked into FORWARD, as
//! flanneld's `FLANNEL-FWD` (flannel v0.28.9,
//! `pkg/trafficmngr/iptables/iptables.go`, `forwardRules`). Without it a
//! node whose FORWARD policy is DROP (Docker, firewalld, ufw) silently drops
//! pod traffic.
//!
//! One chain per family: iptables holds the IPv4 networks, ip6tables the
//! IPv6 ones. Each is written as a whole with `*-restore --noflush` (the
//! rules of `host.sh`), so a write replaces whatever the chain held, and the
//! hook is appended to FORWARD like flanneld's. Observed with `-S`: a
//! network counts only when both its rules (`-s` and `-d`) are there; a
//! chain that is not hooked in, or has one direction only, is observed with
//! a marker so the plan repairs it.

use super::host::Host;
use crate::driver::Error;
use netc_plan::engine::Object;

/// The comment on every rule, as `host.sh` writes it.
const COMMENT: &str = "netc forward";
const FAMILIES: [(&str, bool); 2] = [("iptables", false), ("ip6tables", true)];

pub(super) fn read(host: &Host, chain: &str) -> Result<Option<Object>, Error> {
    let mut networks = Vec::new();
    let mut found = false;
    for (tool, _) in FAMILIES {
        let Some(rules) = list(host, tool, chain)? else {
            continue;
        };
        found = true;
        let mut sources = Vec::new();
        let mut destinations = Vec::new();
        for line in rules.lines().filter(|l| l.ends_with("-j ACCEPT")) {
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                match pair[0] {
                    "-s" => sources.push(pair[1].to_owned()),
                    "-d" => destinations.push(pair[1].to_owned()),
                    _ => {}
                }
            }
        }
        for source in &sources {
            if destinations.contains(source) {
                networks.push(source.clone());
            } else {
                networks.push(format!("{source} (source only)"));
            }
        }
        networks.extend(
            destinations
                .iter()
                .filter(|d| !sources.contains(d))
                .map(|d| format!("{d} (destination only)")),
        );
        if host.run(&mut hook(host, tool, "-C", chain)).is_err() {
            networks.push(format!("({tool} chain not hooked into FORWARD)"));
        }
    }
    Ok(found.then(|| Object::ForwardAccept {
        chain: chain.to_owned(),
        networks,
    }))
}

/// Writes each family's chain and hooks it in. `fresh`: neither family's
/// chain existed when the host was observed (a create), so there is
/// nothing to remove and no hook yet (see `Host::write_masquerade`).
pub(super) fn write(host: &Host, chain: &str, networks: &[String], fresh: bool) -> Result<(), Error> {
    for (tool, ipv6) in FAMILIES {
        let family: Vec<&String> = networks.iter().filter(|n| n.contains(':') == ipv6).collect();
        if family.is_empty() {
            // The family was dropped (dual-stack to single-stack).
            if !fresh {
                delete_family(host, tool, chain)?;
            }
            continue;
        }
        let mut rules = format!("*filter\n:{chain} - [0:0]\n");
        for network in family {
            for direction in ["-s", "-d"] {
                rules.push_str(&format!(
                    "-A {chain} {direction} {network} -m comment --comment \"{COMMENT}\" -j ACCEPT\n"
                ));
            }
        }
        rules.push_str("COMMIT\n");
        host.restore(&format!("{tool}-restore"), &rules)?;
        if fresh || host.run(&mut hook(host, tool, "-C", chain)).is_err() {
            host.run(&mut hook(host, tool, "-A", chain))?;
        }
    }
    Ok(())
}

pub(super) fn delete(host: &Host, chain: &str) -> Result<(), Error> {
    for (tool, _) in FAMILIES {
        delete_family(host, tool, chain)?;
    }
    Ok(())
}

fn delete_family(host: &Host, tool: &str, chain: &str) -> Result<(), Error> {
    let _ = host.run(&mut hook(host, tool, "-D", chain));
    if list(host, tool, chain)?.is_none() {
        return Ok(());
    }
    host.run(host.namespaced(tool).args(["-w", "-F", chain]))?;
    host.run(host.namespaced(tool).args(["-w", "-X", chain])).map(drop)
}

/// `TOOL -S CHAIN`: the chain's rules, or `None` when there is no such
/// chain (exit 1). Any other failure, such as not being root, is an error.
fn list(host: &Host, tool: &str, chain: &str) -> Result<Option<String>, Error> {
    let output = host.output(host.namespaced(tool).args(["-w", "-S", chain]), None)?;
    match output.status.code() {
        Some(0) => Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned())),
        Some(1) => Ok(None),
        _ => Err(Error(format!(
            "reading {tool} chain {chain}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// `TOOL ACTION FORWARD -m comment --comment "netc forward" -j CHAIN`.
fn hook(host: &Host, tool: &str, action: &str, chain: &str) -> std::process::Command {
    let mut command = host.namespaced(tool);
    command.args([
        "-w",
        action,
        "FORWARD",
        "-m",
        "comment",
        "--comment",
        COMMENT,
        "-j",
        chain,
    ]);
    command
}
