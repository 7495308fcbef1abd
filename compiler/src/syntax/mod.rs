//! Stage 1: text to typed syntax. [`parse`](parse::parse) builds the concrete
//! tree (recovering from errors), [`grammar::lower`] types it, and
//! [`fmt::format`] prints the concrete tree back in canonical layout.
//!
//! Invariant: this stage never fails; every problem is a diagnostic with a
//! code in `N01xx`, and what could be read is still returned.

pub mod ast;
pub mod cst;
pub mod fmt;
pub mod grammar;
pub mod parse;
mod values;

use crate::diagnostic::Diagnostic;

/// Parse and type a source text.
pub fn parse_document(text: &str) -> (cst::File, ast::Document, Vec<Diagnostic>) {
    let (file, mut diagnostics) = parse::parse(text);
    let document = grammar::lower(&file, &mut diagnostics);
    (file, document, diagnostics)
}
