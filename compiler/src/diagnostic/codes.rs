//! The registry of diagnostic codes raised by the syntax and model stages.
//! Rule codes live with their rules in [`crate::check::rules`]; [`all`]
//! joins both. Explanations are markdown files in `compiler/docs/codes/`.
//!
//! Codes are stable: `N01xx` syntax, `N02xx` model, `N03xx` interop rules,
//! `N04xx` addressing rules, `N05xx` checks of netc's own output. A retired
//! code keeps its entry and its doc.

use super::Severity;

/// What `netc explain` and `netc rules` know about a code.
#[derive(Clone, Copy, Debug)]
pub struct CodeInfo {
    pub code: &'static str,
    /// A kebab-case name, stable like the code.
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    /// Markdown: what it means, why, an erroneous example, the fix, sources.
    pub explanation: &'static str,
}

macro_rules! code {
    ($code:literal, $name:literal, $summary:literal) => {
        CodeInfo {
            code: $code,
            name: $name,
            severity: Severity::Error,
            summary: $summary,
            explanation: include_str!(concat!("../../docs/codes/", $code, ".md")),
        }
    };
}

pub static STAGE_CODES: &[CodeInfo] = &[
    code!(
        "N0101",
        "unexpected-token",
        "a character where the grammar expects something else"
    ),
    code!(
        "N0102",
        "unterminated-string",
        "a quoted string without its closing quote"
    ),
    code!("N0103", "unclosed-block", "a `{` without its matching `}`"),
    code!("N0104", "unknown-keyword", "a block or setting name netc does not know"),
    code!("N0105", "invalid-value", "a value of the wrong kind or out of range"),
    code!("N0106", "duplicate-setting", "the same setting twice in one block"),
    code!(
        "N0107",
        "wrong-arity",
        "a setting or block header with too few or too many words"
    ),
    code!(
        "N0108",
        "misplaced-statement",
        "a setting or block where it cannot appear"
    ),
    code!(
        "N0109",
        "invalid-structured-topology",
        "a YAML or JSON topology that is malformed or does not fit the topology schema"
    ),
    code!("N0201", "missing-cluster", "the file has no `cluster` block"),
    code!(
        "N0202",
        "duplicate-cluster",
        "the file has more than one `cluster` block"
    ),
    code!("N0203", "missing-setting", "a required setting is missing"),
    code!("N0204", "duplicate-name", "two nodes, segments or ToRs share a name"),
    code!("N0205", "unknown-segment", "a ToR names a segment that does not exist"),
    code!(
        "N0206",
        "range-overflow",
        "a `nodes` range runs past the end of the address space"
    ),
    code!(
        "N0207",
        "invalid-lock-file",
        "the lock file beside the topology cannot be read"
    ),
    code!(
        "N0208",
        "lock-conflict",
        "a node's `pod-subnet` is locked to another node"
    ),
    code!(
        "N0501",
        "invalid-artifact",
        "netc produced an artifact its own schema rejects (a bug in netc)"
    ),
];

/// Every code: the stage codes, then the rules in order.
pub fn all() -> impl Iterator<Item = &'static CodeInfo> {
    STAGE_CODES
        .iter()
        .chain(crate::check::rules::RULES.iter().map(|r| &r.info))
}

/// Look a code up, case-insensitively (`n0301` works too).
pub fn find(code: &str) -> Option<&'static CodeInfo> {
    all().find(|info| info.code.eq_ignore_ascii_case(code) || info.name == code)
}
