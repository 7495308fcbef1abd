//! `netc fmt` on every example and golden input: formatting is idempotent,
//! keeps every comment, and yields the same topology.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment; the purity rule is for the library

mod common;

use common::*;
use netc_compiler::diagnostic::SourceFile;

fn all_inputs() -> Vec<std::path::PathBuf> {
    let root = repo_root();
    let mut files = netc_files(&root.join("examples"));
    for entry in std::fs::read_dir(root.join("golden/diagnostics")).unwrap() {
        files.extend(netc_files(&entry.unwrap().path()));
    }
    files
}

#[test]
fn formatting_is_idempotent_keeps_comments_and_meaning() {
    let mut checked = 0;
    for path in all_inputs() {
        let original = source(&path);
        let Ok(formatted) = netc_compiler::format(&original) else {
            continue; // inputs with syntax errors are refused, by design
        };
        let again = netc_compiler::format(&SourceFile::new("again", formatted.clone())).unwrap();
        assert_eq!(again, formatted, "{}: formatting is not idempotent", original.name());

        let comments = |text: &str| text.lines().filter(|l| l.contains('#')).count();
        assert_eq!(
            comments(original.text()),
            comments(&formatted),
            "{}: comments lost",
            original.name()
        );

        let reformatted = SourceFile::new(original.name(), formatted);
        assert_eq!(
            model_dump(&original),
            model_dump(&reformatted),
            "{}: meaning changed",
            original.name()
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} inputs were formatted");
}

#[test]
fn files_with_syntax_errors_are_refused() {
    let path = repo_root().join("examples/invalid/syntax-errors.netc");
    let errors = netc_compiler::format(&source(&path)).unwrap_err();
    assert_eq!(errors.len(), 3);
}
