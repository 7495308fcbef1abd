//! N0330: a node's `interface` must be a name its OS can have. It reaches
//! `ip link ... dev NAME` in `host.sh`, netlink and the `interface-address`
//! check on Linux, and `-AdapterName` in PowerShell on Windows: quoting
//! keeps it from breaking out of a script, and this rule keeps it from
//! being a name no interface can have (the Linux kernel's
//! `dev_valid_name`: 1 to 15 bytes, not `.` or `..`, no `/`, `:` or
//! whitespace; Windows adapter names: printable, at most 256 characters).

use std::collections::BTreeSet;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity, Span};
use crate::model::{Os, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0330",
        name: "interface-name",
        severity: Severity::Error,
        summary: "an `interface` must be a name the node's OS allows (Linux: 1 to 15 bytes, no `/`, `:` or whitespace)",
        explanation: include_str!("../../../docs/codes/N0330.md"),
    },
    check,
};

/// Linux's `IFNAMSIZ` minus the terminating NUL.
const LINUX_MAX_BYTES: usize = 15;
const WINDOWS_MAX_CHARS: usize = 256;

/// Why `name` cannot be an interface of `os`, if it cannot.
fn problem(name: &str, os: Os) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if let Some(problem) = super::control_character(name) {
        return Some(problem);
    }
    match os {
        Os::Linux => {
            if name.len() > LINUX_MAX_BYTES {
                Some(format!("is {} bytes long; Linux allows {LINUX_MAX_BYTES}", name.len()))
            } else if name == "." || name == ".." {
                Some(format!("is `{name}`, which Linux refuses"))
            } else {
                name.chars()
                    .find(|&c| c == '/' || c == ':' || c.is_whitespace())
                    .map(|c| match c {
                        c if c.is_whitespace() => "contains whitespace".to_string(),
                        c => format!("contains `{c}`"),
                    })
            }
        }
        Os::Windows => (name.chars().count() > WINDOWS_MAX_CHARS)
            .then(|| format!("is longer than the {WINDOWS_MAX_CHARS} characters of a Windows adapter name")),
    }
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    // A `nodes` range shares one `interface` setting: one diagnostic.
    let mut reported: BTreeSet<Span> = BTreeSet::new();
    for node in &topology.nodes {
        let Some(interface) = &node.interface else {
            continue;
        };
        let Some(problem) = problem(&interface.value, node.os.value) else {
            continue;
        };
        if !reported.insert(interface.span) {
            continue;
        }
        let (os, help) = match node.os.value {
            Os::Linux => (
                "Linux",
                "write the name `ip link` shows, such as `eth1` or `ens192` (1 to 15 bytes, no `/`, `:` or whitespace)",
            ),
            Os::Windows => (
                "Windows",
                "write the adapter's name as `Get-NetAdapter` shows it, such as `Ethernet 2`",
            ),
        };
        out.push(
            Diagnostic::error(
                RULE.info.code,
                interface.span,
                format!("`interface` {problem}, so no {os} interface can have it"),
            )
            .label(format!("not a {os} interface name"))
            .with_secondary(node.name.span, "on this node")
            .help(help),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::codes_of;
    use super::*;

    #[test]
    fn linux_names_follow_the_kernel() {
        for good in ["eth0", "ens192", "under0", "bond0.100", "a-b_c@d", "123456789012345"] {
            assert_eq!(problem(good, Os::Linux), None, "{good}");
        }
        for bad in [
            "",
            "1234567890123456",
            ".",
            "..",
            "eth/0",
            "eth:0",
            "eth 0",
            "eth\t0",
            "e\0",
            "e\n$(x)",
        ] {
            assert!(problem(bad, Os::Linux).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn windows_names_may_have_spaces_but_no_control_characters() {
        assert_eq!(problem("Ethernet 2", Os::Windows), None);
        assert_eq!(problem("vEthernet (cbr0)", Os::Windows), None);
        assert!(problem("Ethernet\r\nx", Os::Windows).is_some());
        assert!(problem(&"x".repeat(257), Os::Windows).is_some());
    }

    #[test]
    fn a_range_gets_one_diagnostic() {
        let text = "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}\n\
                    segment s {\n  prefix 10.0.0.0/24\n}\n\
                    nodes n count 3 {\n  os linux\n  address-start 10.0.0.10\n  interface \"eth 1\"\n}\n";
        assert_eq!(codes_of(text.to_string()), ["N0330"]);
    }
}
