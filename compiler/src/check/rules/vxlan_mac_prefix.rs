//! N0317: the vxlan `mac-prefix` must be two hex bytes, `XX-XX`.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0317",
        name: "vxlan-mac-prefix",
        severity: Severity::Error,
        summary: "the vxlan `mac-prefix` must be two hex bytes such as `0E-2A`",
        explanation: include_str!("../../../docs/codes/N0317.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let Some(vxlan) = &topology.cluster.backend.vxlan else {
        return;
    };
    let prefix = &vxlan.mac_prefix;
    if !prefix.written {
        return;
    }
    let Some(problem) = problem(&prefix.value) else {
        return;
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            prefix.span,
            format!("the MAC prefix `{}` is not of the form `XX-XX`", prefix.value),
        )
        .label(problem)
        .help("write two hex bytes separated by `-`, as in `mac-prefix \"0E-2A\"` (flannel's default)"),
    );
}

/// Why `prefix` is not `XX-XX` (two hex digits, `-`, two hex digits), if it is not.
fn problem(prefix: &str) -> Option<String> {
    let chars: Vec<char> = prefix.chars().collect();
    if chars.len() != 5 {
        return Some(format!("{} characters, expected 5", chars.len()));
    }
    if chars[2] != '-' {
        return Some("the third character must be `-`".to_string());
    }
    chars
        .iter()
        .enumerate()
        .find(|&(i, c)| i != 2 && !c.is_ascii_hexdigit())
        .map(|(_, c)| format!("`{c}` is not a hex digit"))
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn accepts_two_hex_bytes_only() {
        assert_eq!(problem("0E-2A"), None);
        assert_eq!(problem("0e-2a"), None);
        assert!(problem("0E:2A").is_some());
        assert!(problem("0E-2G").is_some());
        assert!(problem("0E2A").is_some());
        assert!(problem("0E-2A-").is_some());
        assert!(problem("é-2A").is_some());
    }
}
