//! `netc graph FILE [--format mermaid|dot]`: draw the topology (segments,
//! nodes, pod subnets, ToR routes) on standard output.
//!
//! The graph shows allocated pod subnets, so it reads the lock file like
//! `check` does. Only a topology without errors is drawn: with errors the
//! diagnostics go to standard error and the exit code is 1, as for `check`.

use std::path::Path;

use clap::ValueEnum;

use crate::report;
use crate::{files, Format, Outcome};

/// The picture formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart (GitHub renders ```mermaid blocks).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

pub fn run(path: &Path, format: GraphFormat) -> Outcome {
    let source = match files::read_source(path) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::Failure;
        }
    };
    let lock = match super::compile::read_lock(path, Format::Human) {
        Ok(lock) => lock.unwrap_or_default(),
        Err(problem) => return problem,
    };
    let analysis = netc_compiler::analyze_with_lock(&source, &lock);
    // Standard output carries the graph, so diagnostics (warnings
    // included) go to standard error.
    eprint!("{}", report::format(&source, &analysis.diagnostics, Format::Human));
    let topology = match (&analysis.topology, analysis.has_errors()) {
        (Some(topology), false) => topology,
        _ => {
            eprintln!("error: `{}` has errors; no graph drawn", source.name());
            return Outcome::Problems;
        }
    };
    let text = match format {
        GraphFormat::Mermaid => netc_compiler::graph::mermaid(topology),
        GraphFormat::Dot => netc_compiler::graph::dot(topology),
    };
    print!("{text}");
    Outcome::Clean
}
