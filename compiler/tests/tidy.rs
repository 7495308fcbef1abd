//! Consistency of the code registry and its docs: every code has an
//! explanation that names it in its title, with `## Example` and `## Fix`
//! sections (and, for rules, `## Source`); every doc belongs to a code;
//! codes and names are unique; summaries start in lowercase (a proper name
//! such as Windows aside) and have no trailing period. Each explanation's
//! example raises its code, and the README's rules table has every code's
//! row and its language reference names every keyword of the grammar.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment; the purity rule is for the library

use netc_test_support as common;

use std::collections::BTreeSet;

use common::*;
use netc_compiler::diagnostic::codes;

#[test]
fn codes_and_docs_match() {
    let mut codes_seen = BTreeSet::new();
    let mut names_seen = BTreeSet::new();
    for info in codes::all() {
        assert!(codes_seen.insert(info.code), "{} registered twice", info.code);
        assert!(names_seen.insert(info.name), "name {} used twice", info.name);
        let heading = info.explanation.lines().next().unwrap_or_default();
        assert!(
            heading.starts_with(&format!("# {}: ", info.code)),
            "{}: doc must start with `# {}: <title>`, found `{heading}`",
            info.code,
            info.code
        );
        for section in ["## Example", "## Fix"] {
            assert!(
                info.explanation.contains(section),
                "{}: doc lacks a `{section}` section",
                info.code
            );
        }
        if info.code.starts_with("N03") || info.code.starts_with("N04") {
            assert!(
                info.explanation.contains("## Source"),
                "{}: a rule's doc must cite its source",
                info.code
            );
        }
        let first = info.summary.chars().next().unwrap();
        assert!(
            !first.is_ascii_uppercase() || info.summary.starts_with("Windows"),
            "{}: summary starts lowercase",
            info.code
        );
        assert!(
            !info.summary.ends_with('.'),
            "{}: summary has no trailing period",
            info.code
        );
    }
    let docs = repo_root().join("compiler/docs/codes");
    for entry in std::fs::read_dir(docs).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let code = name.trim_end_matches(".md");
        assert!(
            codes_seen.contains(code),
            "docs/codes/{name} belongs to no registered code"
        );
    }
}

#[test]
fn readme_lists_every_code_and_documents_every_keyword() {
    use netc_compiler::syntax::grammar::*;
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for info in codes::all() {
        let row = format!(
            "| {} | {} | `{}` | {} |",
            info.code,
            info.severity.as_str(),
            info.name,
            info.summary
        );
        assert!(
            readme.contains(&row),
            "README's rules table lacks (or has a stale) row:\n{row}"
        );
    }
    let keywords = [
        TOP_LEVEL,
        CLUSTER_KEYS,
        VXLAN_KEYS,
        IPSEC_KEYS,
        WINDOWS_KEYS,
        IMAGES_KEYS,
        SEGMENT_KEYS,
        NODE_KEYS,
        RANGE_KEYS,
        TOR_KEYS,
        AGENT_KEYS,
    ];
    for key in keywords.iter().flat_map(|keys| keys.iter()) {
        assert!(
            readme.contains(&format!("`{key}`")),
            "README's language reference lacks `{key}`"
        );
    }
}

/// The first ```netc (or, for the structured form, ```yaml) block after
/// `## Example` in a code's explanation, with the file name to read it as.
fn example_of(explanation: &str) -> Option<(&'static str, String)> {
    let after = explanation.split("## Example").nth(1)?;
    let (name, fence) = match (after.find("```netc\n"), after.find("```yaml\n")) {
        (Some(netc), Some(yaml)) if yaml < netc => ("example.yaml", "```yaml\n"),
        (None, Some(_)) => ("example.yaml", "```yaml\n"),
        _ => ("example.netc", "```netc\n"),
    };
    let block = after.split(fence).nth(1)?;
    Some((name, block.split("```").next()?.to_string()))
}

#[test]
fn every_explanation_example_raises_its_code() {
    // These codes are about the lock file beside a topology; their examples
    // need that file, which a single snippet cannot carry (their goldens do).
    const NEED_A_LOCK_FILE: &[&str] = &["N0207", "N0208"];
    // These codes report bugs in netc's own output: no topology should raise
    // them, so their docs show a report instead of a topology.
    const CANNOT_BE_TRIGGERED: &[&str] = &["N0501"];
    let mut failures = Vec::new();
    let exempt = |code: &str| NEED_A_LOCK_FILE.contains(&code) || CANNOT_BE_TRIGGERED.contains(&code);
    for info in codes::all().filter(|info| !exempt(info.code)) {
        let Some((name, example)) = example_of(info.explanation) else {
            failures.push(format!("{}: no ```netc block under `## Example`", info.code));
            continue;
        };
        let source = netc_compiler::diagnostic::SourceFile::new(name, example);
        let analysis = netc_compiler::analyze_source(&source, &netc_compiler::model::Lock::default());
        if !analysis.diagnostics.iter().any(|d| d.code == info.code) {
            let raised: Vec<_> = analysis.diagnostics.iter().map(|d| d.code).collect();
            failures.push(format!("{}: its example raises {raised:?}", info.code));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
