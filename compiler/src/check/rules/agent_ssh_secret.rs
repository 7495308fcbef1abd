//! N0329: an `ssh://` repository needs the agent block's `ssh-secret`, and
//! only such a repository takes one. The agents run in pods, with no key
//! and no known_hosts of their own: without the Secret every fetch fails,
//! and a Secret beside an `https://` repository is never read.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0329",
        name: "agent-ssh-secret",
        severity: Severity::Error,
        summary:
            "an ssh:// agent repo needs `ssh-secret` (a Secret with the key and known_hosts), and only it takes one",
        explanation: include_str!("../../../docs/codes/N0329.md"),
    },
    check,
};

/// A Secret's name: a DNS-1123 subdomain.
fn valid_name(name: &str) -> bool {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    name.len() <= 253 && name.split('.').all(label_ok)
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let Some(agent) = &topology.agent else {
        return;
    };
    let ssh = agent.repo.value.to_ascii_lowercase().starts_with("ssh://");
    match (&agent.ssh_secret, ssh) {
        (None, true) => out.push(
            Diagnostic::error(
                RULE.info.code,
                agent.repo.span,
                "the agent's `repo` is an ssh:// URL, but the `agent` block names no `ssh-secret`",
            )
            .label("the agents have no key or known_hosts to fetch this with")
            .help("add `ssh-secret NAME` and create that Secret with the keys `ssh-privatekey` and `known_hosts` (`kubectl create secret generic NAME --from-file=ssh-privatekey=KEY --from-file=known_hosts=FILE`)"),
        ),
        (Some(secret), false) => out.push(
            Diagnostic::error(
                RULE.info.code,
                secret.span,
                format!("`ssh-secret {}` is set, but the agent's `repo` is not an ssh:// URL", secret.value),
            )
            .label("never read")
            .with_secondary(agent.repo.span, "fetched without ssh")
            .help("remove `ssh-secret`, or write the repository as `ssh://git@HOST/PATH`"),
        ),
        (Some(secret), true) if !valid_name(&secret.value) => out.push(
            Diagnostic::error(
                RULE.info.code,
                secret.span,
                format!("`{}` is not a Secret name", secret.value),
            )
            .label("not a DNS-1123 subdomain")
            .help("use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit, as in `netc-git-ssh`"),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::codes_of;

    fn topology(repo: &str, secret: Option<&str>) -> String {
        format!(
            "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}}\n\
             segment s {{\n  prefix 10.0.0.0/24\n}}\n\
             node a {{\n  os linux\n  address 10.0.0.10\n}}\n\
             agent {{\n  repo \"{repo}\"\n  path \"c.netc\"\n  image \"netc:1\"\n{}}}\n",
            secret.map(|s| format!("  ssh-secret {s}\n")).unwrap_or_default()
        )
    }

    #[test]
    fn ssh_needs_a_secret_and_only_ssh_takes_one() {
        assert_eq!(codes_of(topology("ssh://git@g.example/n.git", None)), ["N0329"]);
        assert!(codes_of(topology("ssh://git@g.example/n.git", Some("netc-git-ssh"))).is_empty());
        assert_eq!(
            codes_of(topology("https://g.example/n.git", Some("netc-git-ssh"))),
            ["N0329"]
        );
        assert!(codes_of(topology("https://g.example/n.git", None)).is_empty());
        assert_eq!(
            codes_of(topology("ssh://git@g.example/n.git", Some("\"Bad_Name\""))),
            ["N0329"]
        );
    }
}
