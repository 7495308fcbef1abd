//! Every artifact netc writes is checked against its JSON Schema in
//! `schemas/` before it is returned: a mismatch is a bug in an emitter, and
//! it is better to write nothing than a file flanneld or a CNI plugin would
//! reject on a node.
//!
//! The schemas are embedded at build time (the compiler does no I/O) and
//! compiled once per process. `jsonschema` is built without its network
//! features, so a schema cannot pull anything remote.

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

use super::artifacts::Artifacts;

/// One schema and the artifacts it covers.
pub struct Entry {
    /// Artifact paths, `/`-separated; `*` matches exactly one path segment.
    pub pattern: &'static str,
    /// The schema's file name in `schemas/`, for messages and tests.
    pub file: &'static str,
    pub source: &'static str,
    /// Whether this entry applies to an artifact of `pattern` with this
    /// content; the first entry that matches and applies wins.
    pub applies: fn(&Value) -> bool,
}

macro_rules! schema {
    ($pattern:literal, $file:literal) => {
        schema!($pattern, $file, always)
    };
    ($pattern:literal, $file:literal, $applies:expr) => {
        Entry {
            pattern: $pattern,
            file: $file,
            source: include_str!(concat!("../../../schemas/", $file)),
            applies: $applies,
        }
    };
}

/// Which schema checks which artifact. Artifacts no entry matches (text
/// files such as `subnet.env`, YAML manifests) are checked elsewhere.
pub static TABLE: &[Entry] = &[
    schema!("index.json", "index.schema.json"),
    schema!("net-conf.json", "net-conf.schema.json"),
    schema!("nodes/*/10-flannel.conflist", "conflist.schema.json"),
    // A Windows cni.conf is in the form of its CNI API version: v2 carries
    // `apiVersion: 2` (in the delegate when flannel wraps the plugin).
    schema!("nodes/*/cni.conf", "cni-windows-v2.schema.json", is_cni_v2),
    schema!("nodes/*/cni.conf", "cni-windows-v1.schema.json"),
    schema!("peers.json", "peers.schema.json"),
    schema!("nodes/*/program.json", "program.schema.json"),
    schema!("tor/*/routes.json", "routes.schema.json"),
];

fn always(_: &Value) -> bool {
    true
}

fn is_cni_v2(conf: &Value) -> bool {
    let v2 = |v: &Value| v.get("apiVersion").and_then(Value::as_u64) == Some(2);
    v2(conf) || conf.get("delegate").is_some_and(v2)
}

/// The compiled schemas, index for index with [`TABLE`].
fn validators() -> &'static [Validator] {
    static COMPILED: OnceLock<Vec<Validator>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        TABLE
            .iter()
            .map(|entry| {
                let schema: Value = serde_json::from_str(entry.source)
                    .unwrap_or_else(|e| panic!("schemas/{} is not JSON: {e}", entry.file));
                jsonschema::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("schemas/{} is not a valid schema: {e}", entry.file))
            })
            .collect()
    })
}

/// Whether `path` matches `pattern`, segment by segment.
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut pattern = pattern.split('/');
    let mut path = path.split('/');
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p == "*" || p == s => {}
            _ => return false,
        }
    }
}

/// The entry that checks an artifact with this path and content, if any.
pub fn entry_for(path: &str, content: &Value) -> Option<usize> {
    TABLE
        .iter()
        .position(|entry| matches(entry.pattern, path) && (entry.applies)(content))
}

/// Every schema violation of every artifact, one message each, as
/// `path: instance_path: error` (the instance path is `/` for the root).
pub fn validate(artifacts: &Artifacts) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, bytes) in &artifacts.files {
        if !TABLE.iter().any(|entry| matches(entry.pattern, path)) {
            continue;
        }
        let content: Value = match serde_json::from_slice(bytes) {
            Ok(content) => content,
            Err(e) => {
                problems.push(format!("{path}: /: not JSON: {e}"));
                continue;
            }
        };
        let Some(index) = entry_for(path, &content) else {
            continue;
        };
        for error in validators()[index].iter_errors(&content) {
            let at = match error.instance_path().as_str() {
                "" => "/",
                at => at,
            };
            problems.push(format!("{path}: {at}: {error} ({})", TABLE[index].file));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_segments() {
        assert!(matches("nodes/*/cni.conf", "nodes/win-1/cni.conf"));
        assert!(!matches("nodes/*/cni.conf", "nodes/a/b/cni.conf"));
        assert!(!matches("nodes/*/cni.conf", "nodes/win-1/cni.conf.bak"));
        assert!(matches("index.json", "index.json"));
        assert!(!matches("index.json", "tor/index.json"));
    }

    #[test]
    fn every_schema_compiles() {
        assert_eq!(validators().len(), TABLE.len());
    }

    #[test]
    fn a_windows_conf_is_checked_in_the_form_of_its_api_version() {
        let v2 = serde_json::json!({"type": "flannel", "delegate": {"apiVersion": 2}});
        let v1 = serde_json::json!({"type": "flannel", "delegate": {}});
        assert_eq!(
            TABLE[entry_for("nodes/w/cni.conf", &v2).unwrap()].file,
            "cni-windows-v2.schema.json"
        );
        assert_eq!(
            TABLE[entry_for("nodes/w/cni.conf", &v1).unwrap()].file,
            "cni-windows-v1.schema.json"
        );
    }
}
