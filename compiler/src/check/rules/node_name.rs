//! N0409: node names are Kubernetes node names, checked as DNS-1123 labels.

use std::collections::BTreeMap;

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity, Span};
use crate::model::{Node, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0409",
        name: "node-name",
        severity: Severity::Error,
        summary: "node names must be DNS-1123 labels: at most 63 of `a-z`, `0-9` and `-`",
        explanation: include_str!("../../../docs/codes/N0409.md"),
    },
    check,
};

const MAX_LEN: usize = 63;

fn allowed(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

/// Why `name` is not a DNS-1123 label, if it is not.
fn label_problem(name: &str) -> Option<String> {
    let length = name.chars().count();
    if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        return Some(match c {
            c if c.is_ascii_uppercase() => format!("contains the uppercase letter `{c}`"),
            ' ' => "contains a space".to_string(),
            c => format!("contains `{c}`"),
        });
    }
    if length > MAX_LEN {
        Some(format!("is {length} characters long; the limit is {MAX_LEN}"))
    } else if name.starts_with('-') {
        Some("starts with `-`".to_string())
    } else if name.ends_with('-') {
        Some("ends with `-`".to_string())
    } else {
        None
    }
}

/// `name` made into a label: lowercase, other characters as `-`, no `-` at
/// either end, at most `max` characters.
fn sanitize(name: &str, max: usize) -> String {
    let mapped: String = name
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if allowed(c) { c } else { '-' })
        .collect();
    let trimmed: String = mapped.trim_matches('-').chars().take(max).collect();
    trimmed.trim_end_matches('-').to_string()
}

const RULES: &str = "a node name has at most 63 characters, all lowercase letters, digits or `-`, and starts and ends with a letter or digit";

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    // Each range's last node has its longest name; the rest of the name is
    // the same for every node of the range.
    let mut last_of_range: BTreeMap<Span, &Node> = BTreeMap::new();
    for node in &topology.nodes {
        match &node.range {
            None => single(node, out),
            Some((_, index)) => {
                let last = last_of_range.entry(node.declared).or_insert(node);
                if last.range.as_ref().is_some_and(|(_, i)| i < index) {
                    *last = node;
                }
            }
        }
    }
    for node in last_of_range.values() {
        range(node, out);
    }
}

fn single(node: &Node, out: &mut Vec<Diagnostic>) {
    let name = &node.name.value;
    let Some(problem) = label_problem(name) else {
        return;
    };
    let fixed = sanitize(name, MAX_LEN);
    let help = if fixed.is_empty() {
        format!("{RULES}; rename the node")
    } else {
        format!("{RULES}; rename it, e.g. `node {fixed} {{`")
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            node.name.span,
            format!("node name `{name}` is not a valid Kubernetes node name"),
        )
        .label(format!("`{name}` {problem}"))
        .help(help),
    );
}

fn range(last: &Node, out: &mut Vec<Diagnostic>) {
    let Some((range, count)) = &last.range else {
        return;
    };
    let name = &last.name.value;
    let Some(problem) = label_problem(name) else {
        return;
    };
    // Room for `-` and the largest index.
    let room = MAX_LEN.saturating_sub(1 + count.to_string().len());
    let fixed = sanitize(range, room);
    let help = if fixed.is_empty() {
        format!("{RULES}; rename the range")
    } else {
        format!("{RULES}; rename the range, e.g. `nodes {fixed} count {count} {{`")
    };
    out.push(
        Diagnostic::error(
            RULE.info.code,
            last.name.span,
            format!("the nodes of range `{range}` do not get valid Kubernetes node names"),
        )
        .label(format!("`{name}` {problem}"))
        .help(help),
    );
}
