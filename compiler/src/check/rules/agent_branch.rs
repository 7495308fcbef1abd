//! N0331: the `branch` of an `agent` block must be a name git allows for a
//! branch (`git check-ref-format --branch`). The agents fetch
//! `refs/heads/BRANCH`, and the name reaches each DaemonSet's `--branch`
//! argument, inside the Windows agent's PowerShell command line too: a name
//! git refuses would make every fetch fail, on every node, after deploy.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0331",
        name: "agent-branch",
        severity: Severity::Error,
        summary: "the agent's `branch` must be a branch name git allows (no spaces, control characters, `..`, `~^:?*[\\`, `@{`)",
        explanation: include_str!("../../../docs/codes/N0331.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let Some(agent) = &topology.agent else {
        return;
    };
    let branch = &agent.branch;
    let Some(problem) = problem(&branch.value) else {
        return;
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            branch.span,
            format!(
                "the agent's `branch` {:?} is not a branch name git allows",
                branch.value
            ),
        )
        .label(problem)
        .help("write the branch as git shows it, as in `branch \"main\"` or `branch \"release/1.30\"`")
        .note(
            "every node's agent fetches `refs/heads/BRANCH`; git refuses such a name (`git check-ref-format --branch`)",
        ),
    );
}

/// Why git refuses `branch` as a branch name (git-check-ref-format(1)),
/// or `None` when it takes it.
fn problem(branch: &str) -> Option<String> {
    if branch.is_empty() {
        return Some("is empty".into());
    }
    if let Some(problem) = super::control_character(branch) {
        return Some(problem);
    }
    if let Some(c) = branch.chars().find(|c| c.is_whitespace() || "~^:?*[\\".contains(*c)) {
        return Some(if c.is_whitespace() {
            "contains whitespace".into()
        } else {
            format!("contains `{c}`")
        });
    }
    for (pattern, what) in [("..", "`..`"), ("@{", "`@{`"), ("//", "`//`")] {
        if branch.contains(pattern) {
            return Some(format!("contains {what}"));
        }
    }
    if branch == "@" {
        return Some("is `@`, which git reads as HEAD".into());
    }
    if branch.starts_with('-') {
        return Some("starts with `-`".into());
    }
    if branch.starts_with('/') || branch.ends_with('/') {
        return Some("starts or ends with `/`".into());
    }
    if branch.ends_with('.') {
        return Some("ends with `.`".into());
    }
    if let Some(component) = branch.split('/').find(|c| c.starts_with('.') || c.ends_with(".lock")) {
        return Some(format!(
            "has the component `{component}`, which starts with `.` or ends with `.lock`"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn branch_names_git_takes_pass() {
        for branch in ["main", "release/1.30", "team-net_2", "v1.2.3", "a@b", "ünïcode"] {
            assert_eq!(problem(branch), None, "{branch}");
        }
    }

    #[test]
    fn branch_names_git_refuses_fail() {
        for branch in [
            "", "a b", "a\0b", "a\nb", "a..b", "a~1", "a^", "a:b", "a?", "a*", "a[b", "a\\b", "a@{1}", "@", "-x", "/a",
            "a/", "a//b", "a.", ".a", "a/.b", "a.lock", "a.lock/b", "$(>x)\t",
        ] {
            assert!(problem(branch).is_some(), "{branch:?}");
        }
    }

    #[test]
    fn the_rule_reports_the_written_branch() {
        let text = "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}\n\
             segment s {\n  prefix 10.1.0.0/24\n}\nnode a {\n  os linux\n  address 10.1.0.10\n}\n\
             agent {\n  repo \"https://git.example/net.git\"\n  branch \"a..b\"\n  path \"cluster.netc\"\n  image \"ghcr.io/example/netc:0.1.0\"\n}\n";
        assert_eq!(crate::check::rules::codes_of(text.to_string()), ["N0331"]);
    }
}
