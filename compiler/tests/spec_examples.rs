//! The acceptance topologies in `examples/`: each valid one checks clean;
//! each one in `examples/invalid/` fails with the error its first line
//! names, and its full report is pinned in
//! `golden/examples/invalid/<name>.txt`. `syntax-errors.netc` reports
//! exactly its three broken lines, at the right columns.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment; the purity rule is for the library

use netc_test_support as common;

use common::*;
use netc_compiler::diagnostic::render;

#[test]
fn valid_examples_check_clean() {
    let files = netc_files(&repo_root().join("examples"));
    assert!(files.len() >= 5, "expected the spec examples in examples/");
    for path in files {
        let source = source(&path);
        let analysis = netc_compiler::analyze(&source);
        assert!(
            analysis.diagnostics.is_empty(),
            "{}",
            render::render_all(&source, &analysis.diagnostics)
        );
        assert!(analysis.topology.is_some_and(|t| !t.nodes.is_empty()));
    }
}

/// The expectation on an invalid example's first line: `# error: TEXT` (an
/// error whose message contains TEXT, ignoring a trailing parenthesis) or
/// `# errors: ...` (several errors, each on its own line).
#[test]
fn invalid_examples_fail_with_the_error_they_name() {
    let mut failures = Vec::new();
    let files = netc_files(&repo_root().join("examples/invalid"));
    assert!(files.len() >= 6, "expected the spec's invalid examples");
    for path in files {
        let source = source(&path);
        let analysis = netc_compiler::analyze(&source);
        let errors: Vec<_> = analysis.diagnostics.iter().filter(|d| d.is_error()).collect();
        let first = source.text().lines().next().unwrap_or_default();
        if let Some(expected) = first.strip_prefix("# error: ") {
            let wanted = expected.split(" (").next().unwrap().trim().to_lowercase();
            if !errors.iter().any(|d| d.message.to_lowercase().contains(&wanted)) {
                failures.push(format!("{}: no error says `{wanted}`", source.name()));
            }
        } else if first.starts_with("# errors: ") {
            let lines: Vec<usize> = errors
                .iter()
                .map(|d| source.line_col(d.primary.span.start).line)
                .collect();
            let mut distinct = lines.clone();
            distinct.dedup();
            if errors.len() < 2 || distinct.len() != lines.len() {
                failures.push(format!(
                    "{}: expected one error per broken line, got lines {lines:?}",
                    source.name()
                ));
            }
        } else {
            failures.push(format!("{}: first line names no expected error", source.name()));
        }
        let golden = repo_root()
            .join("golden/examples/invalid")
            .join(path.file_name().unwrap())
            .with_extension("txt");
        failures.extend(check_golden(
            &golden,
            &render::render_all(&source, &analysis.diagnostics),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn syntax_errors_example_reports_its_three_lines_with_columns() {
    let source = source(&repo_root().join("examples/invalid/syntax-errors.netc"));
    let analysis = netc_compiler::analyze(&source);
    let positions: Vec<(usize, usize)> = analysis
        .diagnostics
        .iter()
        .map(|d| {
            let at = source.line_col(d.primary.span.start);
            (at.line, at.column)
        })
        .collect();
    // `10.244.0.0/33`, `twenty-four` and `adress`, and nothing else.
    assert_eq!(positions, [(3, 20), (5, 20), (14, 3)]);
    assert!(analysis.diagnostics[2]
        .help
        .as_deref()
        .unwrap()
        .contains("did you mean `address`?"));
}
