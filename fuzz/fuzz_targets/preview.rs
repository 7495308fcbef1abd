//! `netc diff`'s preview of two arbitrary topologies (input: base, a NUL
//! byte, head), each compiled as `.netc`, rendered as text, as a pull
//! request comment within GitHub's limit, and as JSON. Oracles: a side
//! compared with itself has no changes; the comment keeps to its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netc_compiler::diagnostic::SourceFile;
use netc_compiler::model::Lock;
use netc_compiler::preview::render::{self, GITHUB_COMMENT_LIMIT as LIMIT};
use netc_compiler::preview::{self, Side};

fn side(compiled: &netc_compiler::Compilation) -> Side<'_> {
    Side {
        topology: compiled.topology.as_ref(),
        files: compiled.artifacts.as_ref().map(|a| &a.files),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (base, head) = text.split_once('\0').unwrap_or((text, ""));
    let base = netc_compiler::compile(&SourceFile::new("base.netc", base), &Lock::default());
    let head = netc_compiler::compile(&SourceFile::new("head.netc", head), &Lock::default());
    let context = render::Context {
        path: "topology.netc",
        base: "base",
        head: "head",
        head_report: "",
        head_errors: 0,
    };
    let changes = preview::preview(side(&base), side(&head));
    let _ = render::text(&changes, &context);
    let markdown = render::markdown(&changes, &context, LIMIT);
    assert!(
        markdown.chars().count() <= LIMIT,
        "the comment is {} characters",
        markdown.chars().count()
    );
    let _ = serde_json::to_string(&changes).expect("a preview serializes");
    assert!(
        !preview::preview(side(&head), side(&head)).has_changes(),
        "head differs from itself"
    );
});
