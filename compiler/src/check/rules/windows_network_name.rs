//! N0321: the Windows network name must match
//! `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`: it names the HNS network, flannel's
//! `Backend.Name`, the CNI `name`, kube-proxy's `--network-name` and the
//! source-VIP request, and is passed through PowerShell and command lines.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0321",
        name: "windows-network-name",
        severity: Severity::Error,
        summary: "the Windows network name must be 1 to 64 letters, digits, `.`, `_` or `-`",
        explanation: include_str!("../../../docs/codes/N0321.md"),
    },
    check,
};

const MAX_LEN: usize = 64;

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let name = &topology.cluster.windows.network_name;
    if !name.written {
        return;
    }
    let Some((message, label)) = problem(&name.value) else {
        return;
    };
    out.push(Diagnostic::error(RULE.info.code, name.span, message).label(label).help(
        "use letters, digits, `.`, `_` and `-`, starting with a letter or digit, \
                 as in `network-name flannel.4096`",
    ));
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The message and label for a name outside `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
fn problem(name: &str) -> Option<(String, String)> {
    if let Some(bad) = name.chars().find(|&c| !allowed(c)) {
        let shown = match bad {
            ' ' => "a space".to_string(),
            '\t' => "a tab".to_string(),
            c => format!("`{}`", c.escape_debug()),
        };
        let name = name.escape_debug();
        return Some((
            format!("the network name `{name}` contains {shown}, which netc does not allow"),
            "only letters, digits, `.`, `_` and `-` are allowed".to_string(),
        ));
    }
    let first = name.chars().next()?;
    if !first.is_ascii_alphanumeric() {
        return Some((
            format!("the network name `{name}` starts with `{first}`"),
            "must start with a letter or digit".to_string(),
        ));
    }
    let len = name.chars().count();
    if len > MAX_LEN {
        return Some((
            format!("the network name is {len} characters long, more than {MAX_LEN}"),
            format!("at most {MAX_LEN} characters"),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn accepts_the_safe_set_only() {
        assert!(problem("flannel.4096").is_none());
        assert!(problem("cbr0").is_none());
        assert!(problem("vxlan_0-a").is_none());
        assert!(problem(&"a".repeat(64)).is_none());
        assert!(problem(&"a".repeat(65)).is_some());
        assert!(problem("my net").is_some());
        assert!(problem("net;rm").is_some());
        assert!(problem("-net").is_some());
        assert!(problem(".net").is_some());
        assert!(problem("nét").is_some());
    }
}
