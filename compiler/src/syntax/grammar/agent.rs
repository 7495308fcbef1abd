//! The `agent { }` block: where netc's own agent DaemonSets fetch the
//! topology from, how often, the image they run and the keys that may sign
//! the commits they apply.

use std::collections::BTreeSet;

use super::{setting_keys, Lowering, SettingSpec};
use crate::diagnostic::{Diagnostic, Spanned};
use crate::syntax::ast::{AgentDecl, Document};
use crate::syntax::cst::Block;

/// The longest `interval` of an `agent` block, in seconds: a day. Longer
/// would leave drift uncorrected for days, and is more likely a typo.
pub const MAX_AGENT_INTERVAL: u64 = 86_400;

/// Every setting of an `agent` block.
const SETTINGS: &[SettingSpec<AgentDecl>] = &[
    SettingSpec {
        key: "repo",
        example: "repo \"https://git.example/net.git\"",
        parse: |lowering, s, example, agent| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the repository URL"));
            lowering.assign(&mut agent.repo, &s.key, value);
        },
    },
    SettingSpec {
        key: "branch",
        example: "branch \"main\"",
        parse: |lowering, s, example, agent| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the branch"));
            lowering.assign(&mut agent.branch, &s.key, value);
        },
    },
    SettingSpec {
        key: "path",
        example: "path \"cluster.netc\"",
        parse: |lowering, s, example, agent| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the topology's path"));
            lowering.assign(&mut agent.path, &s.key, value);
        },
    },
    SettingSpec {
        key: "image",
        example: "image \"ghcr.io/example/netc:0.1.0\"",
        parse: |lowering, s, example, agent| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the image"));
            lowering.assign(&mut agent.image, &s.key, value);
        },
    },
    SettingSpec {
        key: "interval",
        example: "interval 30",
        parse: |lowering, s, example, agent| {
            let v = &mut lowering.values;
            let value = v
                .single(s, example)
                .and_then(|a| v.number(a, 1..=MAX_AGENT_INTERVAL, "`interval` (seconds)", example))
                .map(|n| Spanned::new(n.value as u32, n.span));
            lowering.assign(&mut agent.interval, &s.key, value);
        },
    },
    // Repeatable: one setting per allowed_signers line, so each line keeps
    // its own span for N0326.
    SettingSpec {
        key: "allowed-signer",
        example: "allowed-signer \"alice@example.com ssh-ed25519 AAAAC3Nz...\"",
        parse: |lowering, s, example, agent| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the allowed_signers line"));
            agent.allowed_signers.extend(value);
        },
    },
    SettingSpec {
        key: "ssh-secret",
        example: "ssh-secret netc-git-ssh",
        parse: |lowering, s, example, agent| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the Secret's name"));
            lowering.assign(&mut agent.ssh_secret, &s.key, value);
        },
    },
];

/// The keys of an `agent` block, in the order help texts list them.
pub const AGENT_KEYS: &[&str] = &setting_keys::<{ SETTINGS.len() }, _>(SETTINGS);

impl Lowering<'_> {
    /// The top-level `agent { }`; a second one is reported, not read.
    pub(super) fn agent(&mut self, block: &Block, document: &mut Document) {
        self.no_labels(block, "agent {");
        let agent = self.agent_decl(block);
        if let Some(previous) = &document.agent {
            self.push(
                Diagnostic::error("N0106", block.keyword.span, "`agent` is set twice")
                    .label("second block")
                    .with_secondary(previous.header, "first set here")
                    .help("merge the two `agent` blocks: every node follows one repository"),
            );
        } else {
            document.agent = Some(agent);
        }
    }

    fn agent_decl(&mut self, block: &Block) -> AgentDecl {
        let mut agent = AgentDecl {
            attempted: BTreeSet::new(),
            header: block.header,
            repo: None,
            branch: None,
            path: None,
            image: None,
            interval: None,
            allowed_signers: Vec::new(),
            ssh_secret: None,
        };
        for s in self.settings_of(block, "agent") {
            agent.attempted.insert(s.key.text.clone());
            if let Some(meant) = self.read_setting(s, "agent", SETTINGS, &mut agent) {
                agent.attempted.insert(meant.to_string());
            }
        }
        agent
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{diagnostics, BASE};
    use crate::diagnostic::SourceFile;

    const AGENT: &str = "agent {\n  repo \"https://git.example/net.git\"\n  path \"c.netc\"\n  image \"netc:1\"\n}\n";

    #[test]
    fn a_complete_agent_block_is_clean_and_read_with_defaults() {
        assert_eq!(diagnostics(AGENT), vec![]);
        let topology = crate::topology_for_tests(&format!("{BASE}{AGENT}"));
        let agent = topology.agent.expect("the agent");
        assert_eq!(
            (
                agent.repo.value.as_str(),
                agent.path.value.as_str(),
                agent.image.value.as_str()
            ),
            ("https://git.example/net.git", "c.netc", "netc:1")
        );
        assert_eq!((agent.branch.value.as_str(), agent.branch.written), ("main", false));
        assert_eq!((agent.interval.value, agent.interval.written), (30, false));
    }

    #[test]
    fn a_second_agent_block_is_refused() {
        let found = diagnostics(&format!("{AGENT}{AGENT}"));
        assert_eq!(found, vec![("N0106", "`agent` is set twice".to_string())]);
    }

    #[test]
    fn the_block_takes_no_name_and_only_its_settings() {
        let named = AGENT.replace("agent {", "agent main {");
        assert_eq!(
            diagnostics(&named),
            vec![("N0107", "`agent` takes no name".to_string())]
        );
        let misspelt = AGENT.replace("image", "imgae");
        // The misspelt key is reported once, not also as missing.
        assert_eq!(
            diagnostics(&misspelt),
            vec![("N0104", "unknown setting `imgae` in `agent`".to_string())]
        );
        let nested = AGENT.replace("  path", "  node x {\n  }\n  path");
        assert_eq!(diagnostics(&nested)[0].0, "N0108");
    }

    #[test]
    fn interval_is_whole_seconds_from_1_to_a_day() {
        for (interval, code) in [
            ("1", None),
            ("86400", None),
            ("0", Some("N0105")),
            ("86401", Some("N0105")),
            ("30s", Some("N0105")),
        ] {
            let found = diagnostics(&AGENT.replace("  image", &format!("  interval {interval}\n  image")));
            assert_eq!(found.first().map(|d| d.0), code, "{interval}: {found:?}");
        }
    }

    #[test]
    fn allowed_signers_repeat_in_the_order_written_and_survive_formatting() {
        let signers = "  allowed-signer \"b@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOit/aR37pqqB3Wwes/Tzc+uvAMNAPaESiQFO0IQb3XO\"\n\
                       allowed-signer   \"a@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOit/aR37pqqB3Wwes/Tzc+uvAMNAPaESiQFO0IQb3XO\"\n";
        let text = format!("{BASE}{}", AGENT.replace("  image", &format!("{signers}  image")));
        assert_eq!(diagnostics(&text[BASE.len()..]), vec![]);
        let principals = |text: &str| -> Vec<String> {
            let agent = crate::topology_for_tests(text).agent.expect("the agent");
            agent
                .allowed_signers
                .iter()
                .map(|s| s.value[..13].to_string())
                .collect()
        };
        assert_eq!(principals(&text), ["b@example.com", "a@example.com"]);
        let formatted = crate::format(&SourceFile::new("t.netc", text.clone())).expect("formats");
        assert_eq!(principals(&formatted), ["b@example.com", "a@example.com"]);
        assert!(
            formatted.contains("  allowed-signer \"a@example.com ssh-ed25519 "),
            "{formatted}"
        );
        // Without a signer the agent requires none.
        let agent = crate::topology_for_tests(&format!("{BASE}{AGENT}"))
            .agent
            .expect("the agent");
        assert!(agent.allowed_signers.is_empty());
    }

    #[test]
    fn an_allowed_signer_is_one_quoted_line() {
        let unquoted = AGENT.replace("  image", "  allowed-signer a@example.com ssh-ed25519 AAAA\n  image");
        assert_eq!(
            diagnostics(&unquoted),
            vec![("N0107", "`allowed-signer` takes one value".to_string())]
        );
        let empty = AGENT.replace("  image", "  allowed-signer \"\"\n  image");
        assert_eq!(diagnostics(&empty)[0].0, "N0105");
        let misspelt = AGENT.replace("  image", "  allowed-signers \"x\"\n  image");
        assert_eq!(diagnostics(&misspelt)[0].0, "N0104");
    }

    #[test]
    fn an_agent_block_inside_the_cluster_is_misplaced_but_read() {
        // The agent block written, indented, before the cluster's closing
        // brace (at column 1 it would read as a forgotten `}`, N0103).
        let cluster_end = BASE.find("}\n").expect("the cluster block closes");
        let indented: String = AGENT.lines().map(|line| format!("  {line}\n")).collect();
        let text = format!("{}{indented}{}", &BASE[..cluster_end], &BASE[cluster_end..]);
        let analysis = crate::analyze(&SourceFile::new("t.netc", text));
        let codes: Vec<_> = analysis.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["N0108"]);
        assert!(analysis.topology.and_then(|t| t.agent).is_some());
    }
}
