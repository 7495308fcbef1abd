//! Stage 3: the rules. Each rule is one file in [`rules`] holding a static
//! [`Rule`] (its code, severity, one-line summary and the markdown
//! explanation printed by `netc explain`) and the function that checks it.
//!
//! Invariant: rules only read the topology; they never change it, and they
//! run in a fixed order, so the same topology always yields the same
//! diagnostics.

pub mod rules;
mod util;

pub use util::*;

use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::Diagnostic;
use crate::model::Topology;

/// One interop or addressing rule.
pub struct Rule {
    pub info: CodeInfo,
    pub check: fn(&Topology, &mut Vec<Diagnostic>),
}

/// Run every rule over a topology.
pub fn run(topology: &Topology, diagnostics: &mut Vec<Diagnostic>) {
    for rule in rules::RULES {
        (rule.check)(topology, diagnostics);
    }
}
