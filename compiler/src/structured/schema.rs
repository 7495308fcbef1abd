//! A structured topology against `schemas/topology.schema.json`. Every
//! violation becomes an `N0109` diagnostic at the key or value it is about,
//! worded for a person: an unknown key gets "did you mean", a missing one
//! names its block, a bad value says what is expected there.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use super::locate::{child, Places};
use crate::diagnostic::{best_match, Diagnostic, Span};

const SCHEMA: &str = include_str!("../../../schemas/topology.schema.json");

fn schema() -> &'static (Value, Validator) {
    static COMPILED: OnceLock<(Value, Validator)> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema: Value = serde_json::from_str(SCHEMA).expect("schemas/topology.schema.json is JSON");
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schemas/topology.schema.json is a valid schema");
        (schema, validator)
    })
}

pub fn check(value: &Value, places: &Places) -> Vec<Diagnostic> {
    let (schema, validator) = schema();
    let mut diagnostics = Vec::new();
    for error in validator.iter_errors(value) {
        report(&error, schema, value, places, &mut diagnostics);
    }
    diagnostics
}

fn report(error: &ValidationError, schema: &Value, value: &Value, places: &Places, out: &mut Vec<Diagnostic>) {
    let pointer = error.instance_path().as_str();
    let place = places.find(pointer);
    let key = pointer
        .rsplit('/')
        .find(|segment| segment.parse::<usize>().is_err())
        .unwrap_or("");
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let what = what(pointer, value);
            // The allowed keys are the `properties` beside the failing
            // `additionalProperties` in the schema.
            let schema_path = error.schema_path().as_str();
            let parent = schema_path.strip_suffix("/additionalProperties").unwrap_or(schema_path);
            let allowed: Vec<&str> = schema
                .pointer(&format!("{parent}/properties"))
                .and_then(Value::as_object)
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            for name in unexpected {
                let help = match best_match(name, &allowed) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("{what} takes: {}", allowed.join(", ")),
                };
                out.push(
                    Diagnostic::error(
                        "N0109",
                        places.find(&child(pointer, name)).key,
                        format!("unknown key `{name}` in {what}"),
                    )
                    .label(format!("not a key of {what}"))
                    .help(help),
                );
            }
        }
        ValidationErrorKind::Required { property } => {
            let property = property.as_str().unwrap_or_default();
            let mut diagnostic = Diagnostic::error(
                "N0109",
                place.key,
                format!("{} has no `{property}`", what(pointer, value)),
            )
            .label(format!("`{property}` is required here"));
            diagnostic = diagnostic.help(match expected(property) {
                Some(expected) => format!("add `{property}`: {expected}"),
                None => format!("add `{property}`"),
            });
            out.push(diagnostic);
        }
        ValidationErrorKind::OneOfNotValid { context } => {
            // Report the errors of the one alternative of the right type
            // (`pod-network: 10.244.0.0` is a string, so not the list form).
            let collection = error.instance().is_object() || error.instance().is_array();
            let wrong_type = |e: &ValidationError| {
                e.instance_path().as_str() == pointer
                    && match e.kind() {
                        ValidationErrorKind::Type { .. } => true,
                        ValidationErrorKind::Enum { .. } | ValidationErrorKind::Constant { .. } => collection,
                        _ => false,
                    }
            };
            let same_type: Vec<_> = context.iter().filter(|branch| !branch.iter().any(wrong_type)).collect();
            match same_type.as_slice() {
                [branch] => branch.iter().for_each(|e| report(e, schema, value, places, out)),
                _ => out.push(invalid_value(
                    key,
                    value_span(place, error.instance()),
                    "matches none of the accepted forms".into(),
                    expected(key).map(|e| format!("write {e}")),
                )),
            }
        }
        ValidationErrorKind::Enum { options } => {
            let words: Vec<String> = options
                .as_array()
                .map(|o| {
                    o.iter()
                        .map(|w| w.as_str().map_or_else(|| w.to_string(), str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let written = error.instance().as_str().unwrap_or_default();
            let help = match (best_match(written, &words), expected(key)) {
                (Some(close), _) => format!("did you mean `{close}`?"),
                (None, Some(expected)) => format!("write {expected}"),
                (None, None) => format!("use one of: {}", words.join(", ")),
            };
            out.push(invalid_value(
                key,
                value_span(place, error.instance()),
                error.to_string(),
                Some(help),
            ));
        }
        // The schema's patterns are shape checks; the help says the form.
        ValidationErrorKind::Pattern { .. } => out.push(invalid_value(
            key,
            value_span(place, error.instance()),
            format!("{} is not in the expected form", error.instance()),
            expected(key).map(|e| format!("write {e}")),
        )),
        _ => out.push(invalid_value(
            key,
            value_span(place, error.instance()),
            error.to_string(),
            expected(key).map(|e| format!("write {e}")),
        )),
    }
}

/// Where to point for a bad value: the value when it is written after its
/// key, the key when the value is a block below it (or missing).
fn value_span(place: super::locate::Place, instance: &Value) -> Span {
    if place.value.start == place.value.end || instance.is_object() || instance.is_array() {
        place.key
    } else {
        place.value
    }
}

fn invalid_value(key: &str, span: Span, problem: String, help: Option<String>) -> Diagnostic {
    let message = match key {
        "" => "the topology is not a mapping".to_string(),
        key => format!("invalid value for `{key}`"),
    };
    let diagnostic = Diagnostic::error("N0109", span, message).label(problem);
    match help {
        Some(help) => diagnostic.help(help),
        None => diagnostic.help("`netc explain N0109` shows the topology's shape"),
    }
}

/// What a pointer names, for messages: "node `win-1`", "the cluster".
fn what(pointer: &str, value: &Value) -> String {
    let name = value
        .pointer(pointer)
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str);
    let kind = match pointer.rsplit('/').nth(1).unwrap_or("") {
        "segments" => "segment",
        "nodes" => "node",
        "node-ranges" => "node range",
        "tors" => "tor",
        "route" => "route",
        _ => match pointer.rsplit('/').next().unwrap_or("") {
            "" => return "the topology".to_string(),
            "windows" => return "the windows settings".to_string(),
            other => return format!("the {other}"),
        },
    };
    match name {
        Some(name) => format!("{kind} `{name}`"),
        None => format!("a {kind}"),
    }
}

/// What a key takes, in words, for help lines.
fn expected(key: &str) -> Option<&'static str> {
    Some(match key {
        "pod-network" | "service-network" | "pod-subnet" => {
            "a prefix such as `10.244.0.0/16`, or a list of two, one per address family"
        }
        "prefix" => "a prefix such as `10.127.130.0/24`",
        "cluster-dns" => "an address such as `10.96.0.10`, or a list of two, one per address family",
        "address" | "address-start" | "gateway" | "via" => {
            "an address such as `10.127.130.10`, without a prefix length"
        }
        "kubernetes" => {
            "the version as a quoted string, such as `\"1.30\"` (unquoted, YAML reads 1.30 as the number 1.3)"
        }
        "gbp" | "direct-routing" | "udp-encap" | "dsr" | "preserve-destination" | "session-affinity" => {
            "`true` or `false` (`on` and `off` work too)"
        }
        "backend" => "a backend type such as `tor`, or a mapping such as `{type: vxlan, vni: 4096, port: 4789}` (only vxlan and ipsec take settings)",
        "name" | "segment" | "interface" | "network-name" | "mac-prefix" | "ssh-secret" => "a name, as a non-empty string",
        "psk" => "the pre-shared key, a string of at least 96 characters",
        "esp-proposal" => "an ESP proposal such as `aes128gcm16-sha256-prfsha256-ecp256`, as a string",
        "count" | "vni" | "port" | "build" | "node-subnet-len" | "underlay-mtu" => "a whole number",
        "repo" => "the git URL every node's agent fetches, such as `https://git.example/net.git`",
        "branch" | "path" | "image" => "a non-empty string",
        "interval" => "the seconds between the agent's rounds, a whole number from 1 to 86400",
        "allowed-signers" => {
            "a list of allowed_signers lines, each a string such as `\"alice@example.com ssh-ed25519 AAAAC3Nz...\"`"
        }
        "agent" => "the agent's mapping, with `repo`, `path` and `image`",
        "route" => "a list of routes such as `{prefix: 10.244.200.0/24, via: 192.168.60.50}`",
        "cluster" => "the cluster's mapping, with `name`, `pod-network` and `service-network`",
        "os" => "`linux` or `windows`",
        _ => return None,
    })
}
