//! N0325: the `repo` of an `agent` block must be a URL with a scheme the
//! agent's git client fetches over (`https`, `http`, `ssh`, `git`, `file`).
//! The agents run in containers: a bare path, or scp's `host:path`
//! shorthand, would not mean what it means on the author's machine.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0325",
        name: "agent-repo-url",
        severity: Severity::Error,
        summary: "the agent's `repo` must be a git URL: https://, http://, ssh://, git:// or file://",
        explanation: include_str!("../../../docs/codes/N0325.md"),
    },
    check,
};

/// The schemes `netc agent --repo` fetches over (libgit2's transports).
pub const SCHEMES: &[&str] = &["https", "http", "ssh", "git", "file"];

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let Some(agent) = &topology.agent else {
        return;
    };
    let repo = &agent.repo;
    let Some(problem) = problem(&repo.value) else {
        return;
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            repo.span,
            format!("the agent's `repo` `{}` is not a git URL", repo.value),
        )
        .label(problem.label)
        .help(problem.help)
        .note("every node's agent fetches this URL from inside its own container"),
    );
}

struct Problem {
    label: &'static str,
    help: String,
}

/// What is wrong with `repo`, or `None` for a URL the agent can fetch.
fn problem(repo: &str) -> Option<Problem> {
    if repo.chars().any(char::is_control) {
        return Some(Problem {
            label: "contains a control character",
            help: "write the URL without control characters; percent-encode any in a path".to_string(),
        });
    }
    if repo.chars().any(char::is_whitespace) {
        return Some(Problem {
            label: "contains a space",
            help: "write the URL without spaces; percent-encode a space in a path as `%20`".to_string(),
        });
    }
    if let Some((scheme, rest)) = repo.split_once("://") {
        let known = SCHEMES.contains(&scheme.to_ascii_lowercase().as_str());
        if known && !rest.is_empty() && rest != "/" {
            return None;
        }
        if known {
            return Some(Problem {
                label: "the URL names no repository",
                help: format!("write the repository after `{scheme}://`, as in `https://git.example/net.git`"),
            });
        }
        return Some(Problem {
            label: "not a scheme the agent fetches over",
            help: format!(
                "use one of {}, as in `https://git.example/net.git`",
                SCHEMES
                    .iter()
                    .map(|s| format!("`{s}://`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if let Some(url) = scp_to_ssh(repo) {
        return Some(Problem {
            label: "scp-style `host:path` shorthand",
            help: format!("write it as an ssh URL: `{url}`"),
        });
    }
    Some(Problem {
        label: "a path, not a URL",
        help: format!(
            "the path would be read inside the agent's container: use the repository's URL, such as `https://git.example/net.git`, or `file:///host{}` for a repository on every node (the Linux agent sees the node's files under /host)",
            if repo.starts_with('/') { repo.to_string() } else { format!("/{repo}") }
        ),
    })
}

/// `user@host:path` (git's scp-like syntax) as `ssh://user@host/path`, or
/// `None` when `repo` is not in that form. Like git, a colon after a slash
/// (`./a:b`) makes it a path, and so does a Windows drive letter (`C:\`).
fn scp_to_ssh(repo: &str) -> Option<String> {
    let (host, path) = repo.split_once(':')?;
    if host.is_empty() || host.contains('/') || path.is_empty() || host.len() == 1 {
        return None;
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    Some(format!("ssh://{host}/{path}"))
}

#[cfg(test)]
mod tests {
    use super::{problem, scp_to_ssh};

    fn codes(repo: &str) -> Vec<&'static str> {
        let text = format!(
            "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}}\n\
             segment s {{\n  prefix 10.1.0.0/24\n}}\nnode a {{\n  os linux\n  address 10.1.0.10\n}}\n\
             agent {{\n  repo {repo}\n  path \"cluster.netc\"\n  image \"ghcr.io/example/netc:0.1.0\"\n}}\n"
        );
        crate::check::rules::codes_of(text)
    }

    #[test]
    fn every_fetchable_scheme_passes() {
        for repo in [
            "\"https://git.example/net.git\"",
            "\"http://git.example/net.git\"",
            "\"git://git.example/net.git\"",
            "\"file:///host/srv/net.git\"",
            "\"HTTPS://git.example/net.git\"",
            "https://git.example/net.git",
        ] {
            assert_eq!(codes(repo), Vec::<&str>::new(), "{repo}");
        }
        // An ssh:// URL is a git URL too; only its Secret is missing (N0329).
        assert_eq!(codes("\"ssh://git@git.example/org/net.git\""), ["N0329"]);
    }

    #[test]
    fn control_characters_fail() {
        for repo in [
            "https://git.example/a\0b.git",
            "https://git.example/a\nb.git",
            "https://git.example/\u{7f}",
        ] {
            assert_eq!(
                problem(repo).map(|p| p.label),
                Some("contains a control character"),
                "{repo:?}"
            );
        }
    }

    #[test]
    fn paths_shorthands_and_other_schemes_fail() {
        for repo in [
            "\"/srv/net.git\"",
            "\"net.git\"",
            "\"git@git.example:org/net.git\"",
            "\"ftp://git.example/net.git\"",
            "\"https://\"",
            "\"https://git.example/my net.git\"",
            "\"C:\\\\repos\\\\net\"",
        ] {
            assert_eq!(codes(repo), ["N0325"], "{repo}");
        }
    }

    #[test]
    fn the_help_gives_the_url_to_write() {
        assert_eq!(
            scp_to_ssh("git@github.com:org/net.git").as_deref(),
            Some("ssh://git@github.com/org/net.git")
        );
        assert_eq!(scp_to_ssh("./a:b"), None);
        assert_eq!(scp_to_ssh("C:\\repos"), None);
        let help = problem("/srv/net.git").unwrap().help;
        assert!(help.contains("`file:///host/srv/net.git`"), "{help}");
        let help = problem("git@host:net.git").unwrap().help;
        assert!(help.contains("`ssh://git@host/net.git`"), "{help}");
    }
}
