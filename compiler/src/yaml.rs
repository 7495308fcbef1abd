//! The one module that touches the YAML library (`yaml_serde`, the YAML
//! organization's maintained fork of the deprecated `serde_yaml`), for both
//! directions: writing manifests as multi-document streams, and reading
//! topologies written in YAML. Swapping the library means editing this file
//! only.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A multi-document YAML stream: `comment` lines (each printed as `# line`),
/// then every document preceded by `---`, as in flannel's own manifest.
pub fn stream(comment: &[&str], documents: &[String]) -> String {
    let mut out = String::new();
    for line in comment {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str(&format!("# {line}\n"));
        }
    }
    for document in documents {
        out.push_str("---\n");
        out.push_str(document);
        if !document.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// One document. k8s-openapi's `Serialize` writes `apiVersion` and `kind`
/// first and skips unset (`None`) fields; multi-line strings become literal
/// blocks (`|`), so embedded JSON and scripts stay readable.
pub fn document(value: &impl Serialize) -> String {
    yaml_serde::to_string(value).expect("Kubernetes objects serialize to YAML")
}

/// Every document of a YAML stream as JSON values, for tests that check
/// facts in the emitted manifests. Panics on text that is not YAML: the
/// manifests are netc's own output.
pub fn parse_documents(text: &str) -> Vec<Value> {
    yaml_serde::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).expect("manifests are valid YAML"))
        .filter(|value| !value.is_null())
        .collect()
}

/// A YAML syntax error: the parser's message, and the 1-based line and
/// column it points at.
#[derive(Debug)]
pub struct YamlError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Read a YAML document into a JSON value (topologies use only strings,
/// numbers, booleans, lists and string-keyed mappings).
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

/// Every document of a YAML stream as JSON values (empty documents left
/// out), or the first syntax error: `netc deploy` reads manifests that may
/// have been edited by hand.
pub fn read_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    let mut documents = Vec::new();
    for document in yaml_serde::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|error| {
            let (line, column) = error.location().map_or((1, 1), |l| (l.line(), l.column()));
            YamlError {
                message: error.to_string(),
                line,
                column,
            }
        })?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stream_round_trips_and_keeps_multi_line_strings() {
        let first = document(&json!({"kind": "ConfigMap", "data": {"net-conf.json": "{\n  \"a\": 1\n}\n"}}));
        let second = document(&json!({"kind": "DaemonSet"}));
        let text = stream(&["generated", ""], &[first, second]);
        assert!(text.starts_with("# generated\n#\n---\n"), "{text}");
        assert!(text.contains("net-conf.json: |\n"), "{text}");
        let parsed = parse_documents(&text);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0]["data"]["net-conf.json"], "{\n  \"a\": 1\n}\n");
        assert_eq!(parsed[1]["kind"], "DaemonSet");
    }

    #[test]
    fn a_syntax_error_has_its_line() {
        let Err(error) = read("cluster:\n  name: a\n   bad: [\n") else {
            panic!("accepted broken YAML");
        };
        assert!(error.line >= 3, "line {}", error.line);
    }
}
