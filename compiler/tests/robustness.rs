//! Random and mutated inputs never panic the compiler or the formatter, and
//! every diagnostic span lies inside the source. The number of cases is
//! bounded, 256 per property (`PROPTEST_CASES` raises it for a longer local
//! run).

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment; the purity rule is for the library

use netc_test_support as common;

use common::*;
use netc_compiler::diagnostic::SourceFile;
use proptest::prelude::*;

fn seeds() -> Vec<String> {
    netc_files(&repo_root().join("examples"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

fn exercise(text: String) {
    let source = SourceFile::new("fuzz.netc", text);
    let analysis = netc_compiler::analyze(&source);
    for d in &analysis.diagnostics {
        assert!(d.primary.span.start <= d.primary.span.end);
        assert!(d.primary.span.end as usize <= source.text().len());
        let _ = netc_compiler::diagnostic::render::render(&source, d);
    }
    if let Ok(formatted) = netc_compiler::format(&source) {
        let again =
            netc_compiler::format(&SourceFile::new("again", formatted.clone())).expect("formatted output parses");
        assert_eq!(again, formatted);
    }
}

/// An edit applied to a seed file: replace the bytes in a range.
#[derive(Debug, Clone)]
struct Mutation {
    at: usize,
    delete: usize,
    insert: String,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let tokens = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("\"".to_string()),
        Just(",".to_string()),
        Just(";".to_string()),
        Just("#".to_string()),
        Just("\n".to_string()),
        Just("4294967296".to_string()),
        Just("/".to_string()),
        Just("::".to_string()),
        Just("é".to_string()),
        "[a-z0-9./:-]{0,12}",
        any::<String>(),
    ];
    (any::<usize>(), 0usize..16, tokens).prop_map(|(at, delete, insert)| Mutation { at, delete, insert })
}

fn apply(seed: &str, mutations: &[Mutation]) -> String {
    let mut text = seed.to_string();
    for m in mutations {
        let mut at = m.at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + m.delete).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.replace_range(at..end, &m.insert);
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        exercise(text);
    }

    #[test]
    fn mutated_examples_never_panic(seed in 0usize..64, mutations in prop::collection::vec(mutation(), 1..6)) {
        let seeds = seeds();
        let text = apply(&seeds[seed % seeds.len()], &mutations);
        exercise(text);
    }
}
