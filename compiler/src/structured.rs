//! The YAML and JSON form of a topology (`topology.yaml`, `.yml`, `.json`):
//! the blocks and settings of `.netc` one to one, checked against
//! `schemas/topology.schema.json`, then read by the `.netc` grammar itself,
//! so that both forms share every value's reading, the model, the checks and
//! the emitters.
//!
//! Errors point at the YAML or JSON line: a syntax error at the parser's
//! position, a schema violation at the key or value its instance path names
//! ([`locate`]), and everything later at the value it is about, since every
//! word handed to the grammar carries the span of its YAML or JSON value.

mod locate;
mod locate_yaml;
mod lower;
mod schema;
mod yaml_lines;

use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::Document;
use crate::syntax::grammar;

/// The structured forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// The form a file name says: `.yaml` or `.yml`, `.json`, or `None`
    /// for anything else (read as `.netc`).
    pub fn of(file_name: &str) -> Option<Format> {
        let extension = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        }
    }
}

/// Read a structured topology into the document the `.netc` grammar makes.
/// With a syntax or schema error the document is empty (marked as having
/// tried a cluster, so the model adds no "no cluster" error of its own).
pub fn parse(text: &str, format: Format) -> (Document, Vec<Diagnostic>) {
    let failed = Document {
        cluster_attempted: true,
        ..Document::default()
    };
    let value = match format {
        Format::Yaml => crate::yaml::read(text).map_err(|e| (e.message, e.line, e.column)),
        Format::Json => serde_json::from_str(text).map_err(|e| (e.to_string(), e.line(), e.column())),
    };
    let value = match value {
        Ok(value) => value,
        Err((message, line, column)) => {
            let at = offset_of(text, line, column);
            let diagnostic = Diagnostic::error(
                "N0109",
                Span::new(at, at),
                format!("invalid {}: {}", format.name(), strip_positions(&message)),
            )
            .label(format!("the {} parser stopped here", format.name()))
            .help(format!(
                "fix the {} syntax; `netc explain N0109` shows the topology's shape",
                format.name()
            ));
            return (failed, vec![diagnostic]);
        }
    };
    let places = match format {
        Format::Yaml => locate::yaml(text),
        Format::Json => locate::json(text),
    };
    let problems = schema::check(&value, &places);
    if !problems.is_empty() {
        return (failed, problems);
    }
    let file = lower::to_cst(&value, &places);
    let mut diagnostics = Vec::new();
    let document = grammar::lower(&file, &mut diagnostics);
    (document, diagnostics)
}

/// The byte offset of a 1-based line and column (in characters), clamped to
/// the text.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start = match line {
        0 | 1 => 0,
        n => text.match_indices('\n').nth(n - 2).map_or(text.len(), |(i, _)| i + 1),
    };
    let rest = &text[line_start..];
    let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
    line_start
        + line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i)
}

/// Parser messages end in ` at line L column C` (libyaml's sometimes twice,
/// for the problem and its context); the diagnostic shows positions itself.
fn strip_positions(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(" at line ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + " at line ".len()..];
        let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let line_digits = digits(tail);
        match tail[line_digits..].strip_prefix(" column ") {
            Some(column) if line_digits > 0 => rest = &column[digits(column)..],
            _ => {
                out.push_str(" at line ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_comes_from_the_extension() {
        assert_eq!(Format::of("t.yaml"), Some(Format::Yaml));
        assert_eq!(Format::of("dir.v2/T.YML"), Some(Format::Yaml));
        assert_eq!(Format::of("t.json"), Some(Format::Json));
        assert_eq!(Format::of("t.netc"), None);
        assert_eq!(Format::of("yaml"), None);
    }

    #[test]
    fn positions_are_cut_from_messages() {
        assert_eq!(
            strip_positions(
                "did not find expected key at line 5 column 3, while parsing a block mapping at line 2 column 1"
            ),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(
            strip_positions("EOF while parsing a value at line 1 column 0"),
            "EOF while parsing a value"
        );
        assert_eq!(strip_positions("nothing to cut"), "nothing to cut");
    }

    #[test]
    fn offsets_follow_lines_and_characters() {
        let text = "ab\nçd\nef";
        assert_eq!(offset_of(text, 1, 1), 0);
        assert_eq!(offset_of(text, 2, 2), 5);
        assert_eq!(offset_of(text, 3, 9), text.len());
        assert_eq!(offset_of(text, 9, 1), text.len());
    }
}
