//! `netc check FILE...`: every diagnostic of every file, in the chosen format.

use std::path::PathBuf;

use crate::report;
use crate::{Format, Outcome};

pub fn run(paths: &[PathBuf], format: Format, deny_warnings: bool) -> Outcome {
    let mut outcome = Outcome::Clean;
    for path in paths {
        let Some(source) = super::read_or_report(path, &mut outcome) else {
            continue;
        };
        let lock = match super::compile::read_lock(path, format) {
            Ok(lock) => lock.unwrap_or_default(),
            Err(problem) => {
                outcome = outcome.max(problem);
                continue;
            }
        };
        let analysis = netc_compiler::analyze_source(&source, &lock);
        print!("{}", report::format(&source, &analysis.diagnostics, format));
        let failed = analysis.has_errors() || (deny_warnings && !analysis.diagnostics.is_empty());
        if failed {
            outcome = outcome.max(Outcome::Problems);
        } else if matches!(format, Format::Human) {
            let nodes = analysis.topology.as_ref().map_or(0, |t| t.nodes.len());
            let plural = if nodes == 1 { "" } else { "s" };
            eprintln!("ok: {} ({nodes} node{plural})", source.name());
        }
    }
    outcome
}
