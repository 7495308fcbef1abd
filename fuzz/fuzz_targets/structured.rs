//! The YAML and JSON form of a topology (`.yaml`, `.yml`, `.json`) through
//! `netc compile`. The first byte picks the form, the rest is the file.
//! Oracle beyond "no panic": a compiled topology has no error, and the
//! diagnostics render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netc_compiler::diagnostic::{render, SourceFile};
use netc_compiler::model::Lock;

fuzz_target!(|data: &[u8]| {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let name = if form % 2 == 0 { "fuzz.yaml" } else { "fuzz.json" };
    let source = SourceFile::new(name, text);
    let compiled = netc_compiler::compile(&source, &Lock::default());
    let _ = render::render_limited(&source, &compiled.diagnostics, 100);
    if compiled.artifacts.is_some() {
        assert!(!compiled.diagnostics.iter().any(|d| d.is_error()));
    }
});
