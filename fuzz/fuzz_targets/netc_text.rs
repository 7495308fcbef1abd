//! `.netc` text through every stage as `netc compile` runs it: parse,
//! resolve, check, emit and schema-validate, then the diagnostics rendered
//! with the error limit. Oracles beyond "no panic": a compiled topology
//! has no error; compiling again with the lock it wrote gives the same
//! bytes; the lock round-trips; `netc fmt` output parses and is a fixpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netc_compiler::diagnostic::{render, SourceFile};
use netc_compiler::model::Lock;

fuzz_target!(|text: &str| {
    let source = SourceFile::new("fuzz.netc", text);
    let compiled = netc_compiler::compile(&source, &Lock::default());
    let _ = render::render_limited(&source, &compiled.diagnostics, 100);
    if let (Some(artifacts), Some(lock)) = (&compiled.artifacts, &compiled.lock) {
        assert!(!compiled.diagnostics.iter().any(|d| d.is_error()));
        let (parsed, problems) = Lock::parse(&lock.render());
        assert!(problems.is_empty(), "the lock netc wrote does not parse: {problems:?}");
        assert_eq!(parsed.render(), lock.render(), "the lock does not round-trip");
        let again = netc_compiler::compile(&source, &parsed);
        let files = again.artifacts.expect("compiles again with its own lock").files;
        assert!(files == artifacts.files, "its own lock changed the output");
    }
    if let Ok(formatted) = netc_compiler::format(&source) {
        let reformatted = netc_compiler::format(&SourceFile::new("fuzz.netc", formatted.clone()))
            .unwrap_or_else(|e| panic!("`netc fmt` wrote text that does not parse: {e:?}\n{formatted}"));
        assert_eq!(reformatted, formatted, "`netc fmt` is not idempotent");
    }
});
