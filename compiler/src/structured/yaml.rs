//! The one place the topology reader touches the YAML library: YAML text to
//! a JSON value (every topology value is a string, number, boolean, list or
//! mapping with string keys), or the parser's message and position.
//!
//! netc has a second YAML call site, on the writing side
//! (`emit/manifests/yaml.rs`); the two could share one module.

use serde_json::Value;

/// A YAML syntax error: the parser's message, and the 1-based line and
/// column it points at.
pub struct YamlError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

pub fn read(text: &str) -> Result<Value, YamlError> {
    yaml_serde::from_str::<Value>(text).map_err(|error| {
        let (line, column) = error.location().map_or((1, 1), |l| (l.line(), l.column()));
        YamlError {
            message: error.to_string(),
            line,
            column,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syntax_error_has_its_line() {
        let Err(error) = read("cluster:\n  name: a\n   bad: [\n") else {
            panic!("accepted broken YAML");
        };
        assert!(error.line >= 3, "line {}", error.line);
    }
}
